/*
 * shmwrite - write a message or a stream to a shared memory channel
 */
#include "common.h"

#define CHUNK_DIV	4	/* a stream commits at most cap/4 at a time */

static const char usage_text[] =
    "usage: shmwrite [-lvw] [-m mode] [-n name] [-s size] [-t seconds] "
    "[message ...]\n"
    "       shmwrite -r [-n name]\n";

static int holding;		/* we hold the write token */
static uint64_t wpos;		/* where our next record goes */
static uint64_t wtail;		/* tail as we last saw it */
static uint32_t mseq;		/* the stream we are writing, or 0 */

static void
ring_put(uint64_t pos, const void *src, uint64_t len)
{
	struct iovec iov[2];
	int i, n = ring_iov(&chan, pos, len, iov);

	for (i = 0; i < n; i++) {
		memcpy(iov[i].iov_base, src, iov[i].iov_len);
		src = (const char *)src + iov[i].iov_len;
	}
}

static void
usage(void)
{
	fputs(usage_text, stderr);
	exit(2);
}

static void
commit(void)
{
	vlog("commit: head %llu -> %llu",
	    (unsigned long long)atomic_load(&chan.h->head),
	    (unsigned long long)wpos);
	atomic_store(&chan.h->head, wpos);
	ring_bell(&chan, DATA);
}

static void
rec_put(uint32_t seq, uint32_t flags, const void *data, uint64_t len)
{
	uint32_t w[2] = { (uint32_t)len | flags, seq };

	ring_put(wpos, w, RECSZ);
	if (data != NULL)
		ring_put(wpos + RECSZ, data, len);
	wpos += RECSZ + PAD(len);
}

/*
 * A pipe says EPIPE when its reader has gone: so do we, when the reader
 * that was printing our stream gave it up or died.  The death is looked
 * for only when late, as it costs a read of /proc.
 */
static void
check_reader(const struct ch *ch, int late)
{
	if (mseq != 0 && (atomic_load(&ch->h->abandoned) == mseq ||
	    (late && atomic_load(&ch->h->rin) == mseq &&
	    !alive(atomic_load(&ch->h->rtoken)))))
		errx(1, "%s: reader went away", ch->name);
}

/*
 * Is there room for need bytes?  tail only grows, so the tail we last saw
 * promises at least that much room; the reader's cache line is read only
 * when that is not enough.
 */
static int
space_ready(struct ch *ch, void *arg, int how)
{
	uint64_t need = *(uint64_t *)arg, tail;

	check_reader(ch, how & LATE);
	if (ch->cap - (wpos - wtail) >= need)
		return 1;
	tail = atomic_load(&ch->h->tail);
	if (wpos - tail > ch->cap || tail % 8 != 0)
		corrupt(ch);
	wtail = tail;
	return ch->cap - (wpos - tail) >= need;
}

/*
 * Wait for need bytes of free space; returns the free space.  Records
 * not yet committed are committed first, or the reader could not free
 * anything.
 */
static uint64_t
wait_space(uint64_t need)
{
	if (!space_ready(&chan, &need, 0)) {
		if (atomic_load(&chan.h->head) != wpos)
			commit();
		await(&chan, SPACE, space_ready, &need, "free space");
	}
	return chan.cap - (wpos - wtail);
}

/*
 * Take the write token.  If its holder died in the middle of a message,
 * end that message with an ABORT record so that its reader stops.
 */
static void
take(void)
{
	uint32_t dead;

	if (holding)
		return;
	dead = token_take(&chan, WRITERS) ? atomic_load(&chan.h->wopen) : 0;
	holding = 1;
	if (!ring_span(&chan, &wtail, &wpos))
		corrupt(&chan);
	if (dead != 0) {
		vlog("ending message %llu of a dead writer",
		    (unsigned long long)dead);
		wait_space(RECSZ);
		rec_put(dead, REC_LAST | REC_ABORT, NULL, 0);
		commit();
		atomic_store(&chan.h->wopen, 0);
	}
}

static void
give(void)
{
	if (atomic_load(&chan.h->head) != wpos)
		commit();
	holding = 0;
	token_give(&chan, WRITERS);
}

/* Only the token holder counts messages: no need for a locked add. */
static uint32_t
next_seq(void)
{
	uint32_t seq = atomic_load_explicit(&chan.h->seq,
	    memory_order_relaxed) + 1;

	seq += seq == 0;
	atomic_store_explicit(&chan.h->seq, seq, memory_order_relaxed);
	return seq;
}

static void
stream_begin(void)
{
	mseq = next_seq();
	atomic_store(&chan.h->wopen, mseq);
}

static void
stream_end(void)
{
	commit();
	atomic_store(&chan.h->wopen, 0);
	mseq = 0;
}

/* On the way out, never leave a stream open or the token held. */
static void
leave(void)
{
	if (!holding || broken)
		return;
	if (mseq != 0) {
		vlog("aborting message %llu", (unsigned long long)mseq);
		rec_put(mseq, REC_LAST | REC_ABORT, NULL, 0);
		stream_end();
	}
	give();
}

/*
 * Queue len bytes at p as one message.  One that fits is committed whole
 * or not at all; a larger one streams through.  Room for one empty record
 * is always kept, so that a stream can always be ended, even by someone
 * else.
 */
static void
send_buf(const char *p, uint64_t len)
{
	uint64_t n, room, need = len + (len / LENMAX + 2) * (RECSZ + 8);
	uint32_t first = REC_FIRST, last, seq;
	int whole = need <= chan.cap;

	if (whole)
		wait_space(need);
	else
		stream_begin();
	seq = whole ? next_seq() : mseq;
	do {
		if (!whole)
			room = wait_space(2 * RECSZ + 8) - 2 * RECSZ;
		else
			room = LENMAX;
		last = len <= room && len <= LENMAX ? REC_LAST : 0;
		n = last ? len : room < LENMAX ? room : LENMAX;
		rec_put(seq, first | last, p, n);
		if (!whole)
			commit();
		first = 0;
		p += n;
		len -= n;
	} while (!last);
	if (!whole)
		stream_end();
}

/* Read standard input into iov; 0 at its end. */
static size_t
input(struct iovec *iov, int n)
{
	ssize_t r;

	while ((r = io(0, STDIN_FILENO, iov, n)) == -1) {
		if (errno != EINTR)
			err(1, "stdin");
		check_signal();
	}
	return (size_t)r;
}

/* Standard input to EOF as one message, read straight into the ring. */
static void
send_stream(void)
{
	uint64_t room, max = chan.cap / CHUNK_DIV;
	uint32_t first = REC_FIRST;
	int64_t checked = now_ms(), t;
	struct iovec iov[2];
	size_t n;

	take();
	stream_begin();
	for (;;) {
		room = wait_space(2 * RECSZ + 8) - 2 * RECSZ;
		t = now_ms();
		n = input(iov, ring_iov(&chan, wpos + RECSZ,
		    room < max ? room : max, iov));
		/*
		 * Input that trickles in (the read blocked) is worth a look
		 * at the reader each time, a flood only every few ms.
		 */
		if (now_ms() - t >= 1 || t - checked >= 10) {
			check_reader(&chan, 1);
			checked = t;
		}
		if (n == 0)
			break;
		rec_put(mseq, first, NULL, n);
		commit();
		first = 0;
		check_reader(&chan, 0);
	}
	check_reader(&chan, 1);
	rec_put(mseq, first | REC_LAST, NULL, 0);
	stream_end();
	give();
}

/*
 * Lines are gathered here as records and go into the ring in one copy: a
 * few large stores to lines the reader has cached cost far less than
 * many small ones.
 */
static char stage[64 * 1024];
static size_t staged;

static void
stage_flush(void)
{
	if (staged == 0)
		return;
	wait_space(staged + RECSZ);
	ring_put(wpos, stage, staged);
	wpos += staged;
	staged = 0;
}

static void
send_line(const char *p, size_t len)
{
	size_t sz = RECSZ + PAD(len), max = chan.cap / 4;
	uint32_t w[2];

	if (max > sizeof(stage))
		max = sizeof(stage);
	if (staged + sz > max)
		stage_flush();
	if (sz > max) {
		send_buf(p, len);
		return;
	}
	w[0] = (uint32_t)len | REC_FIRST | REC_LAST;
	w[1] = next_seq();
	memcpy(stage + staged, w, RECSZ);
	memcpy(stage + staged + RECSZ, p, len);
	staged += sz;
}

/* Each line of standard input as a message, committed as soon as read. */
static void
send_lines(void)
{
	size_t size = 65536, len = 0, n;
	char *buf, *p, *nl, *bigger;
	struct iovec iov;

	if ((buf = malloc(size)) == NULL)
		err(1, NULL);
	for (;;) {
		if (len == size) {
			if ((bigger = realloc(buf, size *= 2)) == NULL)
				err(1, NULL);
			buf = bigger;
		}
		iov.iov_base = buf + len;
		iov.iov_len = size - len;
		if ((n = input(&iov, 1)) == 0)
			break;
		p = buf;
		nl = memchr(buf + len, '\n', n);
		len += n;
		if (nl == NULL)
			continue;
		take();
		do {
			send_line(p, (size_t)(nl + 1 - p));
			p = nl + 1;
		} while ((nl = memchr(p, '\n', (size_t)(buf + len - p))) != NULL);
		stage_flush();
		give();
		len = (size_t)(buf + len - p);
		memmove(buf, p, len);
	}
	if (len > 0) {
		take();
		send_buf(buf, len);
		give();
	}
	free(buf);
}

static void
send_args(int argc, char *argv[])
{
	size_t len = 0;
	char *buf, *p;
	int i;

	for (i = 0; i < argc; i++)
		len += strlen(argv[i]) + 1;
	if ((p = buf = malloc(len)) == NULL)
		err(1, NULL);
	for (i = 0; i < argc; i++) {
		p = stpcpy(p, argv[i]);
		*p++ = i + 1 < argc ? ' ' : '\n';
	}
	take();
	send_buf(buf, len);
	give();
	free(buf);
}

static int
drained(struct ch *ch, void *arg, int how)
{
	(void)how;
	return (int64_t)(atomic_load(&ch->h->tail) - *(uint64_t *)arg) >= 0;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "any-owner",	no_argument,		NULL, 'A' },
		{ "help",	no_argument,		NULL, 'h' },
		{ "lines",	no_argument,		NULL, 'l' },
		{ "mode",	required_argument,	NULL, 'm' },
		{ "name",	required_argument,	NULL, 'n' },
		{ "remove",	no_argument,		NULL, 'r' },
		{ "size",	required_argument,	NULL, 's' },
		{ "timeout",	required_argument,	NULL, 't' },
		{ "version",	no_argument,		NULL, 'V' },
		{ "verbose",	no_argument,		NULL, 'v' },
		{ "wait",	no_argument,		NULL, 'w' },
		{ NULL,		0,			NULL, 0 }
	};
	const char *name = DEFAULT_NAME;
	uint64_t cap = DEFAULT_CAP, end;
	int ch, lflag = 0, rflag = 0, sflag = 0, wflag = 0;
	mode_t mode = 0600;

	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":hlm:n:rs:t:Vvw", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'A':
			any_owner = 1;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return fclose(stdout) == 0 ? 0 : 1;
		case 'l':
			lflag = 1;
			break;
		case 'm':
			mode = parse_mode(optarg);
			break;
		case 'n':
			name = parse_name(optarg);
			break;
		case 'r':
			rflag = 1;
			break;
		case 's':
			cap = parse_size(optarg);
			sflag = 1;
			break;
		case 't':
			timeout = parse_seconds(optarg);
			break;
		case 'V':
			puts("shmwrite " VERSION);
			return fclose(stdout) == 0 ? 0 : 1;
		case 'v':
			verbose = 1;
			break;
		case 'w':
			wflag = 1;
			break;
		default:
			badopt(ch, argv[optind - 1]);
		}
	}
	argc -= optind;
	argv += optind;
	if ((lflag || rflag) && argc > 0) {
		warnx("%s takes no operands", lflag ? "-l" : "-r");
		usage();
	}

	(void)signal(SIGBUS, on_sigbus);
	if (rflag) {
		chan_remove(name);
		return 0;
	}
	catch_signals();
	(void)chan_open(name, 'w', cap, sflag, mode);
	if (atexit(leave) != 0)
		err(1, "atexit");
	if (argc > 0)
		send_args(argc, argv);
	else if (lflag)
		send_lines();
	else
		send_stream();
	if (wflag) {	/* the token's holder is the one who may wait */
		end = wpos;
		take();
		await(&chan, SPACE, drained, &end, "readers to take it all");
		give();
	}
	return 0;
}
