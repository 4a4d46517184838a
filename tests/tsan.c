/*
 * tsan - the memory ordering of the protocol, under ThreadSanitizer
 *
 *	tests/tsan [name]
 *
 * A writer and a reader move NMSG messages through channel name (by
 * default tsan-PID), a ring of CAP bytes that wraps a thousand times:
 * small ones, which the reader gathers in its stage; larger ones, which
 * it hands out as iovecs into the ring; whole messages too long for the
 * ring, which travel as streams; and streams built in the ring piece by
 * piece.  Each byte is a function of its message's number and offset, so
 * the reader checks every byte, the order and the count.
 *
 * The two sides are threads of this process, each with its own handle -
 * its own descriptor, so its own OFD locks and slot - but on ONE mapping
 * of the segment: ThreadSanitizer cannot see a race between two mappings
 * of one object.  The writer writes the ring's bytes and the reader reads
 * them, over and over, so if [W1]/[R1] or [R2]/[W2] (see PUBLICATION in
 * common.h) were not there, ThreadSanitizer would see the reader read what
 * the writer had not published, or the writer overwrite what the reader
 * had not consumed.  (It does: weaken any of the four to relaxed.)
 *
 * Then the same messages go through a broadcast channel of the same name,
 * made anew (-b, the default policy: the writer waits for the slowest
 * subscriber), to two subscribers, each a thread with its own handle on
 * the one mapping: each gets every message, every byte checked; the
 * writer overwrites only what both subscribers' positions [R3]/[W3] gave
 * back, and a subscriber reads only what [W1]/[R1] published.
 *
 * Exit 0: all arrived intact, and nothing is left of the channel; 1 and a
 * line on standard error saying what went wrong; 2: usage.  The channel
 * is removed whatever happens.
 */
#define SHMRW_IMPLEMENTATION
#include "../common.h"

#include <pthread.h>

#define CAP		((size_t)4096)	/* the smallest ring: most wraps */
#define NMSG		4000
#define PIECE_MAX	3000		/* the reader "writes out" at most this */
#define STUCK_S		60		/* both done by then, or it is a hang */

/* What a thread needs, and how it ended. */
struct side {
	struct chan c;
	const char *name;
	pthread_t t;
	int st;			/* the first failure: a ch_ status, ... */
	char why[160];		/* ... or what the reader found wrong */
	long msgs;		/* messages sent or counted by ch_consume() */
	uint64_t bytes;		/* payload bytes sent or checked */
	struct ch_batch *b;	/* a reader's: large, not on its stack */
	unsigned char piece[PIECE_MAX];
};

static uint32_t
mix(uint32_t x)
{
	x ^= x >> 16;
	x *= 0x7feb352dU;
	x ^= x >> 15;
	x *= 0x846ca68bU;
	return x ^ (x >> 16);
}

/* Byte j of message i, for both sides: a byte out of place shows. */
static unsigned char
byte_at(uint32_t i, size_t j)
{
	return (unsigned char)mix(i * 0x9e3779b9U + (uint32_t)j);
}

/* How long message i is, and so how it travels. */
static size_t
msg_len(uint32_t i)
{
	uint32_t h = mix(i);

	switch (i % 16) {
	case 5:				/* a stream, often past the ring */
		return 1 + h % (3 * CAP);
	case 11:			/* whole, but longer than the ring */
		return CAP + h % (2 * CAP);
	case 2:
	case 8:				/* out as iovecs into the ring */
		return BATCH_SMALL + 1 + h % 2048;
	default:			/* through the reader's stage */
		return 1 + h % BATCH_SMALL;
	}
}

static int
is_stream(uint32_t i)
{
	return i % 16 == 5;
}

/*
 * The removal that ends the run on a failure: the other side's waits,
 * which have no timeout, end with "channel removed".
 */
static void
stop(const char *name)
{
	struct chan c;

	memset(&c, 0, sizeof(c));
	c.timeout_ns = 1000000000;
	(void)ch_remove(&c, name);
}

static void *
failed(struct side *s, int st)
{
	s->st = st;
	stop(s->name);
	return NULL;
}

/* Message i as a stream, written straight into the ring in pieces. */
static int
send_stream(struct chan *c, uint32_t i, size_t len)
{
	struct iovec iov[2];
	unsigned char *p, *end;
	size_t j, want, room;
	int k, niov, st;

	if ((st = ch_msg_begin(c, 1, 0)) != CH_OK)
		return st;
	for (j = 0; j < len; ) {
		want = 1 + mix(i ^ (uint32_t)j) % 1500;
		if (want > len - j)
			want = len - j;
		if ((st = ch_reserve(c, 1, want, iov, &niov, &room)) != CH_OK)
			return st;
		ch_add(c, room);
		for (k = 0; k < niov; k++)
			for (p = iov[k].iov_base, end = p + iov[k].iov_len;
			    p < end; p++)
				*p = byte_at(i, j++);
		if ((st = ch_publish(c)) != CH_OK)
			return st;
	}
	return ch_msg_end(c);
}

/*
 * The writer takes the write token for a few messages at a time and gives
 * it back, which publishes what the ring did not make it publish before.
 */
static void *
writer(void *arg)
{
	static unsigned char buf[3 * CAP];
	struct side *s = arg;
	struct chan *c = &s->c;
	uint32_t i = 0, n;
	size_t j, len;
	int st;

	while (i < NMSG) {
		if ((st = ch_wbegin(c)) != CH_OK)
			return failed(s, st);
		for (n = 1 + mix(i) % 8; n > 0 && i < NMSG; n--, i++) {
			len = msg_len(i);
			if (is_stream(i))
				st = send_stream(c, i, len);
			else {
				for (j = 0; j < len; j++)
					buf[j] = byte_at(i, j);
				st = ch_send(c, buf, len);
			}
			if (st != CH_OK)
				return failed(s, st);
			s->msgs++;
			s->bytes += len;
		}
		if ((st = ch_wend(c)) != CH_OK)
			return failed(s, st);
	}
	return NULL;
}

/* Copy n bytes of the batch from *iov, *off on into to, as writev would. */
static void
copy_out(const struct ch_batch *b, int *iov, size_t *off, unsigned char *to,
    size_t n)
{
	size_t k;

	for (; n > 0; n -= k, to += k) {
		k = b->iov[*iov].iov_len - *off;
		if (k > n)
			k = n;
		memcpy(to, (const char *)b->iov[*iov].iov_base + *off, k);
		if ((*off += k) == b->iov[*iov].iov_len) {
			++*iov;
			*off = 0;
		}
	}
}

/*
 * The reader "writes out" each batch in short pieces, as a slow pipe
 * takes it, and consumes after each piece, as shmread does: the ring is
 * freed a little at a time, partway through runs of small messages too.
 * Each byte is checked against what message i must hold at offset j.
 */
static void *
reader(void *arg)
{
	struct side *s = arg;
	struct ch_batch *b = s->b;
	unsigned char *piece = s->piece;
	struct chan *c = &s->c;
	uint32_t i = 0;			/* the message being checked ... */
	size_t j = 0, len = msg_len(0);	/* ... its offset, its length */
	size_t out, n, k;
	size_t off;
	long done, calls = 0;
	int iov, st;

	while (s->msgs < NMSG) {
		if ((st = ch_next(c, b, BATCH_REC)) != CH_OK)
			return failed(s, st);
		out = off = 0;
		iov = 0;
		for (;;) {
			done = 0;
			if ((st = ch_consume(c, b, out, &done)) != CH_OK)
				return failed(s, st);
			s->msgs += done;
			if (s->msgs > (long)i) {
				(void)snprintf(s->why, sizeof(s->why), "%ld "
				    "messages counted, only %u came whole",
				    s->msgs, i);
				return failed(s, CH_OK);
			}
			if (out == b->bytes)
				break;
			n = 1 + mix((uint32_t)++calls) % PIECE_MAX;
			if (n > b->bytes - out)
				n = b->bytes - out;
			copy_out(b, &iov, &off, piece, n);
			for (k = 0; k < n; k++) {
				if (i == NMSG) {
					(void)snprintf(s->why, sizeof(s->why),
					    "bytes after the last message");
					return failed(s, CH_OK);
				}
				if (piece[k] != byte_at(i, j)) {
					(void)snprintf(s->why, sizeof(s->why),
					    "message %u, byte %zu of %zu: 0x%02x"
					    ", not 0x%02x", i, j, len, piece[k],
					    byte_at(i, j));
					return failed(s, CH_OK);
				}
				if (++j == len && ++i < NMSG) {
					j = 0;
					len = msg_len(i);
				}
			}
			s->bytes += n;
			out += n;
		}
	}
	return NULL;
}

/* Is anything of channel name left in /dev/shm? */
static int
left(const char *name)
{
	char seg[NAME_MAX + 1], sem[NAME_MAX + 1];
	struct dirent *e;
	size_t n;
	DIR *d;
	int found = 0;

	(void)snprintf(seg, sizeof(seg), NAME_PREFIX "%s", name);
	n = (size_t)snprintf(sem, sizeof(sem), "sem." NAME_PREFIX "%s.", name);
	if ((d = opendir(SHM_DIR)) == NULL)
		return 0;
	while ((e = readdir(d)) != NULL)	/* the bells: name.GEN.b */
		if (strcmp(e->d_name, seg) == 0 || (strncmp(e->d_name, sem,
		    n) == 0 && strlen(e->d_name) == n + 8 + 2))
			found = 1;
	(void)closedir(d);
	return found;
}

/* Join t by until; past it, end the run (its waits end) and join. */
static int
join_by(pthread_t t, const struct timespec *until, const char *name)
{
	if (pthread_timedjoin_np(t, NULL, until) == 0)
		return 0;
	stop(name);
	(void)pthread_join(t, NULL);
	return 1;
}

/* A status as a line: the tools' wording is theirs, not the protocol's. */
static const char *
why(const struct chan *c, int st)
{
	static char buf[200];

	if (st == CH_ESYS)
		(void)snprintf(buf, sizeof(buf), "%s: %s", c->what != NULL ?
		    c->what : "system call", strerror(c->errnum));
	else
		(void)snprintf(buf, sizeof(buf), "status %d (enum ch_status)",
		    st);
	return buf;
}

/*
 * Open the writer's handle, then the readers' (a queue's reader, or
 * subscribers: kind SEG_BCAST), and give them all one mapping.
 */
static void
open_all(struct side *w, struct side *r, int nr, const char *name,
    unsigned kind)
{
	struct ch_make mk = { .cap = CAP, .mode = 0600, .kind = kind };
	int i, st;

	/* ch_init() clears a handle up to timeout_ns: these stay */
	w->c.timeout_ns = -1;
	w->name = name;
	if ((st = ch_open(&w->c, name, 'w', &mk)) != CH_OK)
		errx(1, "writer: %s", why(&w->c, st));
	if (!w->c.created)
		errx(1, "%s: exists already: not ours to use", name);
	for (i = 0; i < nr; i++) {
		r[i].c.timeout_ns = -1;
		r[i].name = name;
		if ((r[i].b = calloc(1, sizeof(*r[i].b))) == NULL)
			err(1, "calloc");
		/* a subscriber stores its position in ch_open (own mapping) */
		if ((st = ch_open(&r[i].c, name, 'r', &mk)) != CH_OK) {
			stop(name);
			errx(1, "reader: %s", why(&r[i].c, st));
		}
		/* one mapping for all: the reader's own goes, for the writer's */
		(void)munmap(r[i].c.seg, SEG_HDRSZ + r[i].c.cap);
		r[i].c.seg = w->c.seg;
		r[i].c.ring = w->c.ring;
	}
}

/* A reader gets a mapping of its own back, for ch_close to undo. */
static void
own_mapping(struct side *r)
{
	void *p = mmap(NULL, SEG_HDRSZ + r->c.cap, PROT_READ | PROT_WRITE,
	    MAP_SHARED, r->c.fd, 0);

	r->c.seg = p == MAP_FAILED ? NULL : p;
	r->c.ring = p == MAP_FAILED ? NULL : (unsigned char *)p + SEG_HDRSZ;
}

/* How a reader and the writer ended: 0 if all arrived intact, else 1. */
static int
judge(const struct side *w, const struct side *r, const char *who)
{
	int bad = 0;

	if (r->st != CH_OK)
		warnx("%s: %s", who, why(&r->c, r->st));
	else if (r->why[0] != '\0')
		warnx("%s: %s", who, r->why);
	bad |= r->st != CH_OK || r->why[0] != '\0' || w->st != CH_OK;
	if (!bad && (r->msgs != NMSG || r->bytes != w->bytes)) {
		warnx("%s: %ld messages, %llu bytes came of %ld, %llu", who,
		    r->msgs, (unsigned long long)r->bytes, w->msgs,
		    (unsigned long long)w->bytes);
		bad = 1;
	}
	return bad;
}

/*
 * One run: the writer and nr readers (subscribers, if kind is SEG_BCAST)
 * as threads; 0 if all arrived intact and nothing is left of the channel.
 */
static int
run(const char *name, unsigned kind, int nr, const char *what)
{
	static const char *who[] = { "reader", "subscriber 1", "subscriber 2" };
	struct side *w, *r;
	struct timespec until;
	int e, i, bad = 0, late = 0;

	if ((w = calloc(1, sizeof(*w))) == NULL ||
	    (r = calloc((size_t)nr, sizeof(*r))) == NULL)
		err(1, "calloc");
	open_all(w, r, nr, name, kind);
	if ((e = pthread_create(&w->t, NULL, writer, w)) != 0) {
		stop(name);
		errno = e;
		err(1, "pthread_create");
	}
	for (i = 0; i < nr; i++)
		if ((e = pthread_create(&r[i].t, NULL, reader, &r[i])) != 0) {
			stop(name);	/* the others end: removed */
			errno = e;
			err(1, "pthread_create");
		}
	(void)clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += STUCK_S;
	for (i = 0; i < nr; i++)
		late |= join_by(r[i].t, &until, name);
	late |= join_by(w->t, &until, name);
	if (late) {
		warnx("%s: %s: still at it after %d s: stopped", name, what,
		    STUCK_S);
		bad = 1;
	}
	if (w->st != CH_OK)
		warnx("%s: writer: %s", what, why(&w->c, w->st));
	for (i = 0; i < nr; i++) {
		own_mapping(&r[i]);
		bad |= judge(w, &r[i], kind ? who[1 + i] : who[0]);
	}
	/* the last one out removes the channel: nothing may be left */
	for (i = 0; i < nr; i++)
		ch_close(&r[i].c);
	ch_close(&w->c);
	if (left(name)) {
		if (!bad)
			warnx("%s: %s: left in " SHM_DIR " after all closed",
			    name, what);
		bad = 1;
		stop(name);
	}
	if (!bad)
		printf("%s: %ld messages, %llu bytes through a %zu-byte ring "
		    "to %d: intact\n", what, w->msgs,
		    (unsigned long long)w->bytes, CAP, nr);
	for (i = 0; i < nr; i++) {
		free(r[i].b->copy);
		free(r[i].b);
	}
	free(r);
	free(w);
	return bad;
}

int
main(int argc, char *argv[])
{
	char def[32];
	const char *name = def;
	int bad;

	if (argc > 2) {
		fprintf(stderr, "usage: tsan [name]\n");
		return 2;
	}
	if (argc == 2)
		name = argv[1];
	else
		(void)snprintf(def, sizeof(def), "tsan-%ld", (long)getpid());
	if (!ch_valid_name(name, strlen(name)))
		errx(2, "%s: not a channel name", name);
	bad = run(name, 0, 1, "queue");
	if (!bad)
		bad = run(name, SEG_BCAST, 2, "broadcast");
	return bad;
}
