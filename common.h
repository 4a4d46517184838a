/*
 * common.h - the shmwrite/shmread channel protocol.
 *
 * A channel NAME is five objects: the shared memory object /shmrw.NAME
 * and four named semaphores /shmrw.NAME.GEN.X, the bells (see enum
 * below).  GEN is chosen by the creator and kept in the header, so a
 * channel that is being removed and one that is being created under the
 * same name never share a semaphore.
 *
 * The shared memory object is one header page (struct chan) followed by a
 * ring of cap bytes, a power of two.  head and tail count bytes ever
 * committed and ever consumed; head - tail bytes are queued.  The ring
 * holds records: an 8-byte header and len bytes of data, padded to 8
 * bytes so that a header never wraps.  A message is the records from one
 * marked FIRST to one marked LAST; a message that fits is committed whole.
 *
 * How a message travels:
 *  1. The writer takes the write token (wtoken) and keeps it for the whole
 *     message, so messages never interleave.  It writes records into the
 *     free part of the ring - a stream is read() straight into it - and
 *     only then publishes them by advancing head.  Bytes beyond head are
 *     never looked at, so a reader never sees uncommitted data.
 *  2. The reader takes the read token (rtoken) and looks ahead for the end
 *     of the message.  When the whole message is queued it writes it out
 *     and only then advances tail: a failed write loses nothing.  When it
 *     is still being written (a stream) it writes out and consumes it as
 *     it comes, as a pipe would.
 *
 * Who may touch what: only the wtoken holder writes head, seq, wopen and
 * the free part of the ring; only the rtoken holder writes tail and rin.
 * Anyone may set abandoned, state and reaper, and claim a slot.
 *
 * Sleeping: a waiter counts itself in sleepers[bell], checks its
 * condition once more and sleeps on the bell; whoever changes the
 * condition posts the bell only when someone sleeps there.  Both sides
 * are sequentially consistent, so either the waiter sees the change or
 * the poster sees the waiter: no wake-up is lost, and no system call is
 * made when nobody sleeps.  Each bell has one kind of waiter, so a post
 * always wakes someone who can use it.  Every sleep is a slice of at most
 * SLICE_MS on the monotonic clock; after a slice a waiter checks its
 * deadline, whether the channel was removed, and whether the holder it
 * waits for still lives.
 *
 * Crashes: tokens hold an owner word, pid and process start time, so a
 * recycled pid never passes for a dead holder.  A dead holder's token is
 * taken over with compare-and-swap.  A writer that takes over closes the
 * dead writer's open message with an ABORT record.  A reader that starts
 * writing out a stream says so in rin; a reader that finds the remains of
 * a stream whose reader left (rin, or records without their FIRST) skips
 * them and sets abandoned, which tells that stream's writer to stop
 * ("reader went away"), as does the death of the reader named in rin.
 * The last process to leave removes the channel if nothing is queued;
 * see detach().
 *
 * Everything in the segment may have been written by a hostile or broken
 * process: cap is checked against the object's size, and every index and
 * record header is copied to a local and checked before it is used.
 */
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include <ctype.h>
#include <dirent.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <semaphore.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_NAME	"default"
#define DEFAULT_CAP	(1024UL * 1024)
#define MIN_CAP		4096
#define MAX_CAP		(1024UL * 1024 * 1024)
#define NAME_LEN	200	/* "sem.shmrw." NAME ".GEN.r" fits NAME_MAX */
#define PREFIX		"shmrw."
#define SHMDIR		"/dev/shm/"

#define MAGIC		"shmrw\0\r\n"
#define VERSION_NUM	1
#define HDRSZ		4096	/* header page; the ring follows */
#define NSLOT		200	/* processes attached at once */
#define SLICE_MS	100	/* longest blind sleep; bounds recovery */
#define SPIN_NS		50000	/* how long to ask before sleeping */

enum { LIVE = 1, DYING, REMOVED };	/* state; 0 while being built */
/*
 * The bells: readers and writers waiting for their token, the reader that
 * holds it waiting for data, the writer that holds it waiting for space.
 * One kind of waiter a bell, so that a wake-up always finds a taker.
 */
enum { READERS, WRITERS, DATA, SPACE, NBELL };
#define BELLS		"rwds"		/* their names' last letters */
#define HANDOFF		((uint64_t)1 << 32)	/* a token for a waiter */

/*
 * In the ring a record header is two 32-bit words: the length of the data
 * that follows, with the flags in its top bits, and the message number.
 */
#define RECSZ		((uint64_t)8)
#define LENMAX		((1U << 29) - 1)	/* data in one record */
#define PAD(n)		(((uint64_t)(n) + 7) & ~(uint64_t)7)
#define REC_FIRST	(1U << 29)
#define REC_LAST	(1U << 30)
#define REC_ABORT	(1U << 31)

struct rec {
	uint32_t len;
	uint32_t flags;
	uint32_t seq;		/* message number, never 0 */
};

struct slot {
	_Atomic uint64_t id;	/* owner word of an attached process */
	_Atomic uint32_t role;	/* 'r' or 'w' */
	uint32_t pad;
};

/*
 * Fields that the writer changes as it goes, and those the reader does,
 * live on cache lines of their own: neither side slows the other down.
 */
#define LINE	_Alignas(64)
struct chan {
	char magic[8];
	uint32_t version;
	uint32_t gen;
	uint64_t cap;
	_Atomic uint64_t creator;
	_Atomic uint32_t state;
	_Atomic uint64_t reaper;	/* who is removing it, or 0 */
	_Atomic uint64_t wtoken, rtoken;

	LINE _Atomic uint64_t head;
	_Atomic uint32_t seq;		/* last message number used */
	_Atomic uint32_t wopen;		/* message being written, or 0 */

	LINE _Atomic uint64_t tail;
	_Atomic uint32_t rin;		/* stream being written out */

	LINE _Atomic uint32_t sleepers[NBELL];
	_Atomic uint32_t abandoned;	/* message its reader gave up */

	LINE struct slot slot[NSLOT];
};
_Static_assert(sizeof(struct chan) <= HDRSZ, "header larger than a page");
_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "need lock-free 64-bit atomics");

struct ch {
	const char *name;
	char shm[sizeof(PREFIX) + NAME_LEN + 1];
	char sem[NBELL][sizeof(PREFIX) + NAME_LEN + 12];
	int fd;
	struct chan *h;
	unsigned char *ring;
	uint64_t cap;
	sem_t *bell[NBELL];
	int slot;		/* ours, or -1 */
	int created;
};

/* Options both tools share. */
static int verbose;
static int any_owner;
static double timeout = -1;	/* seconds; < 0 waits for ever */

static uint64_t me;		/* our owner word */
static struct ch chan = { .fd = -1, .slot = -1 };
static volatile sig_atomic_t caught;
static int pipe_ignored;		/* by our caller: then EPIPE is an error */
static volatile sig_atomic_t in_io;
static sigjmp_buf iojmp;
static char busmsg[sizeof(PREFIX) + NAME_LEN + 64];

static int broken;		/* the channel is not to be touched again */

static void usage(void);

/* The channel cannot be trusted any more: say why and leave it alone. */
static void
fail(const struct ch *c, const char *why)
{
	broken = 1;
	errx(1, "%s: %s", c->name, why);
}

static void
vlog(const char *fmt, ...)
{
	va_list ap;

	if (!verbose)
		return;
	va_start(ap, fmt);
	vwarnx(fmt, ap);
	va_end(ap);
}

/* --- processes ------------------------------------------------------ */

/*
 * The owner word of a live process: its pid, and in the high half the low
 * 32 bits of its start time, so that a recycled pid does not match.  0 if
 * the process is gone or a zombie; UNKNOWN if it exists but its start time
 * cannot be read (say, /proc mounted with hidepid, or no file descriptor
 * left): better to wait for it than to take what it holds.
 */
#define UNKNOWN		UINT64_MAX

static uint64_t
proc_id(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long start = 0;
	ssize_t n;
	int fd, i;

	(void)snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return kill(pid, 0) == -1 && errno == ESRCH ? 0 : UNKNOWN;
	n = read(fd, buf, sizeof(buf) - 1);
	(void)close(fd);
	if (n <= 0)
		return n == 0 || errno == ESRCH ? 0 : UNKNOWN;
	buf[n] = '\0';
	if ((p = strrchr(buf, ')')) == NULL || p[1] != ' ')
		return UNKNOWN;
	p += 2;
	if (*p == 'Z' || *p == 'X')
		return 0;
	for (i = 0; i < 19 && p != NULL; i++)	/* to field 22, starttime */
		if ((p = strchr(p, ' ')) != NULL)
			p++;
	if (p == NULL || sscanf(p, "%llu", &start) != 1)
		return UNKNOWN;
	return (uint64_t)(start & 0xffffffffU) << 32 | (uint32_t)pid;
}

static int
alive(uint64_t id)
{
	pid_t pid = (pid_t)(id & 0x7fffffff);
	uint64_t now;

	if (id == 0 || pid <= 0 || (id & 0xffffffffU) != (uint32_t)pid)
		return 0;
	now = proc_id(pid);
	return now == id || now == UNKNOWN;
}

/* --- parsing -------------------------------------------------------- */

/* getopt_long(), told to be quiet, returned ':' or '?'. */
static void
badopt(int ch, const char *arg)
{
	if (strncmp(arg, "--", 2) != 0)
		warnx("%s: '-%c'", ch == ':' ? "option requires an argument" :
		    "unknown option", optopt);
	else if (ch == ':')
		warnx("option requires an argument: '%s'", arg);
	else
		warnx("%s: '%s'", optopt != 0 ? "option takes no argument" :
		    "unknown option", arg);
	usage();
}

static void
badarg(const char *what, const char *arg)
{
	warnx("invalid %s: '%s'", what, arg);
	usage();
}

static const char *
parse_name(const char *s)
{
	const char *p, *n = s[0] == '/' ? s + 1 : s;

	for (p = n; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && strchr("._-", *p) == NULL)
			break;
	if (*p != '\0' || p == n || p - n > NAME_LEN)
		badarg("name", s);
	return n;
}

static uint64_t
parse_size(const char *s)
{
	unsigned long long v, mul = 1;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (end == s || errno != 0 || !isdigit((unsigned char)s[0]))
		badarg("size", s);
	switch (*end) {
	case 'g': case 'G': mul <<= 10; /* FALLTHROUGH */
	case 'm': case 'M': mul <<= 10; /* FALLTHROUGH */
	case 'k': case 'K': mul <<= 10; end++; /* FALLTHROUGH */
	case '\0': break;
	default: badarg("size", s);
	}
	if (*end != '\0' || v > MAX_CAP / mul || v * mul < MIN_CAP)
		badarg("size", s);
	for (v *= mul, mul = MIN_CAP; mul < v; mul <<= 1)
		;
	return mul;		/* a power of two: offsets are a mask away */
}

static mode_t
parse_mode(const char *s)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 8);
	if (end == s || *end != '\0' || errno != 0 || v > 0777 ||
	    !isdigit((unsigned char)s[0]))
		badarg("mode", s);
	return (mode_t)v;
}

static double
parse_seconds(const char *s)
{
	double v;
	char *end;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || *end != '\0' || errno != 0 || !isfinite(v) ||
	    v < 0 || v > 1e9 || !(isdigit((unsigned char)s[0]) || s[0] == '.'))
		badarg("timeout", s);
	return v;
}

/* --- time and signals ----------------------------------------------- */

static int64_t
now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
on_signal(int sig)
{
	caught = sig;
	if (in_io) {
		in_io = 0;
		siglongjmp(iojmp, 1);
	}
}

static void
on_sigbus(int sig)
{
	(void)sig;
	(void)write(STDERR_FILENO, busmsg, strlen(busmsg));
	_exit(1);
}

/*
 * INT, TERM and HUP interrupt waits and reads (no SA_RESTART); the tool
 * then leaves the channel consistent and dies of the same signal.  A
 * broken pipe shows up as EPIPE and is treated the same way.  Signals the
 * caller ignored stay ignored, as for any well-behaved filter.
 */
static void
catch_signals(void)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP };
	struct sigaction sa, old;
	size_t i;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_signal;
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if (sigaction(sigs[i], NULL, &old) == 0 &&
		    old.sa_handler != SIG_IGN)
			(void)sigaction(sigs[i], &sa, NULL);
	pipe_ignored = signal(SIGPIPE, SIG_IGN) == SIG_IGN;
	(void)signal(SIGBUS, on_sigbus);
}

/* Leave through the exit handlers, then die of the signal. */
static void
check_signal(void)
{
	if (caught)
		exit(128 + caught);
}

static void
die_of_signal(void)
{
	int sig = caught;
	sigset_t set;

	if (sig == 0)
		return;
	(void)signal(sig, SIG_DFL);
	sigemptyset(&set);
	sigaddset(&set, sig);
	(void)sigprocmask(SIG_UNBLOCK, &set, NULL);	/* see io() */
	(void)raise(sig);
}

/*
 * readv() or writev() that a signal always interrupts: one that arrives
 * after caught was looked at and before the call blocks would otherwise
 * wait for input that may never come.  The handler jumps back here; its
 * signal stays blocked until die_of_signal().  Bytes moved by a call that
 * was interrupted just as it returned are not counted: the channel sees
 * them as never read, or never written out.
 */
static ssize_t
io(int out, int fd, const struct iovec *iov, int n)
{
	ssize_t r;

	if (sigsetjmp(iojmp, 0) != 0) {
		errno = EINTR;
		return -1;
	}
	in_io = 1;
	if (caught) {
		in_io = 0;
		errno = EINTR;
		return -1;
	}
	r = out ? writev(fd, iov, n) : readv(fd, iov, n);
	in_io = 0;
	if (r == -1 && errno == EFAULT)	/* the kernel's SIGBUS */
		fail(&chan, "channel truncated");
	return r;
}

/* --- the ring ------------------------------------------------------- */

static int
ring_iov(const struct ch *c, uint64_t pos, uint64_t len, struct iovec *iov)
{
	uint64_t off = pos & (c->cap - 1), first = c->cap - off;

	iov[0].iov_base = c->ring + off;
	if (len <= first) {
		iov[0].iov_len = len;
		return 1;
	}
	iov[0].iov_len = first;
	iov[1].iov_base = c->ring;
	iov[1].iov_len = len - first;
	return 2;
}

/*
 * Copy the record at pos (below head) to r and check it.  Returns its
 * size in the ring, or 0 if it is not a record that can be there.
 */
static uint64_t
rec_get(const struct ch *c, uint64_t pos, uint64_t head, struct rec *r)
{
	uint64_t room = head - pos;
	uint32_t w[2];

	if (pos % 8 != 0 || room < RECSZ || room > c->cap)
		return 0;
	memcpy(w, c->ring + (pos & (c->cap - 1)), RECSZ);
	r->len = w[0] & LENMAX;
	r->flags = w[0] & ~LENMAX;
	r->seq = w[1];
	if (r->seq == 0 || ((r->flags & REC_ABORT) && !(r->flags & REC_LAST)) ||
	    PAD(r->len) > room - RECSZ)
		return 0;
	return RECSZ + PAD(r->len);
}

/* tail and head, checked: tail <= head <= tail + cap. */
static int
ring_span(const struct ch *c, uint64_t *tail, uint64_t *head)
{
	*tail = atomic_load(&c->h->tail);
	*head = atomic_load(&c->h->head);
	return *head - *tail <= c->cap && *tail % 8 == 0 && *head % 8 == 0;
}

/*
 * Messages queued between tail and head that a reader would deliver:
 * complete and not aborted.  -1 if the records do not add up.
 */
static long
ring_count(const struct ch *c, uint64_t tail, uint64_t head)
{
	uint64_t pos, sz;
	uint32_t in = 0;
	struct rec r;
	long n = 0;

	for (pos = tail; pos != head; pos += sz) {
		if ((sz = rec_get(c, pos, head, &r)) == 0)
			return -1;
		if (r.flags & REC_FIRST) {
			if (in != 0)
				return -1;
			in = r.seq;
		} else if (in != 0 && r.seq != in)
			return -1;
		if ((r.flags & REC_LAST) && in != 0) {
			n += !(r.flags & REC_ABORT);
			in = 0;
		}
	}
	return n;
}

static void
corrupt(const struct ch *c)
{
	fail(c, "corrupt channel");
}

/* --- bells and waiting ---------------------------------------------- */

typedef int ready_fn(struct ch *, void *, int how);

static void
post(const struct ch *c, int bell)
{
	vlog("sem_post %s", c->sem[bell]);
	(void)sem_post(c->bell[bell]);
}

/* Wake the one that sleeps on bell, if it does and is not woken yet. */
static void
ring_bell(const struct ch *c, int bell)
{
	int v;

	if (atomic_load(&c->h->sleepers[bell]) != 0 &&
	    sem_getvalue(c->bell[bell], &v) == 0 && v <= 0)
		post(c, bell);
}

/*
 * Before going to sleep, keep asking for a few microseconds: the other
 * side, running on another CPU, is often about to say yes, and a sleep
 * costs both sides a system call.
 */
static int
spin(struct ch *c, ready_fn *ready, void *arg)
{
	static long ncpu;
	struct timespec t0, t;
	int64_t ns;

	if (ncpu == 0)
		ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	if (ncpu < 2)
		return 0;
	(void)clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
#if defined(__x86_64__) || defined(__i386__)
		__builtin_ia32_pause();
#endif
		if (ready(c, arg, 0))
			return 1;
		(void)clock_gettime(CLOCK_MONOTONIC, &t);
		ns = (t.tv_sec - t0.tv_sec) * 1000000000LL + t.tv_nsec -
		    t0.tv_nsec;
	} while (ns < SPIN_NS);
	return 0;
}

enum { LATE = 1, STALE = 2, WOKEN = 4 };

/*
 * Wait on a bell until ready() says so.  ready() is told how it is
 * called: LATE when it should look for dead peers (first, and then every
 * SLICE_MS), STALE when a whole slice went by, WOKEN after a post.
 * Returns only when ready; exits 124 on timeout, 1 when the channel is
 * removed, 128+N on a signal.
 */
static void
await(struct ch *c, int bell, ready_fn *ready, void *arg, const char *what)
{
	int64_t t, deadline = -1, checked = now_ms();
	int how = LATE, said = 0;
	struct timespec ts;
	struct stat st;

	if (timeout >= 0)
		deadline = checked + (int64_t)(timeout * 1000 + 0.5);
	for (;;) {
		if (ready(c, arg, how))
			return;
		check_signal();
		if (atomic_load(&c->h->state) == REMOVED ||
		    ((how & LATE) && fstat(c->fd, &st) == 0 &&
		    st.st_nlink == 0))
			fail(c, "channel removed");
		if ((how & LATE) && fstat(c->fd, &st) == 0 &&
		    (uint64_t)st.st_size != HDRSZ + c->cap)
			fail(c, "channel truncated");
		t = now_ms();
		if (deadline >= 0 && t >= deadline) {
			vlog("timed out waiting for %s", what);
			exit(124);
		}
		if (!said++)
			vlog("sem_clockwait %s: waiting for %s", c->sem[bell],
			    what);
		if (t - checked >= SLICE_MS) {
			checked = t;
			how = LATE | STALE;
			continue;
		}
		if (spin(c, ready, arg))
			return;
		t += SLICE_MS;
		if (deadline >= 0 && deadline < t)
			t = deadline;
		ts.tv_sec = t / 1000;
		ts.tv_nsec = t % 1000 * 1000000;
		atomic_fetch_add(&c->h->sleepers[bell], 1);
		if (ready(c, arg, 0)) {		/* it may take something */
			atomic_fetch_sub(&c->h->sleepers[bell], 1);
			return;
		}
		how = sem_clockwait(c->bell[bell], CLOCK_MONOTONIC, &ts) == 0 ?
		    WOKEN : 0;
		atomic_fetch_sub(&c->h->sleepers[bell], 1);
	}
}

/* --- tokens --------------------------------------------------------- */

struct take {
	_Atomic uint64_t *token;
	int tookover;
};

/*
 * A token handed off is for the waiter that was woken for it, not for
 * its last holder coming straight back: so nobody starves.  If that
 * waiter died, anyone may take it after a slice.
 */
static int
token_ready(struct ch *c, void *arg, int how)
{
	struct take *t = arg;
	uint64_t held = 0;

	(void)c;
	if (atomic_compare_exchange_strong(t->token, &held, me))
		return 1;
	if (held == HANDOFF)
		return (how & (WOKEN | STALE)) &&
		    atomic_compare_exchange_strong(t->token, &held, me);
	if ((how & LATE) && !alive(held) &&
	    atomic_compare_exchange_strong(t->token, &held, me)) {
		t->tookover = 1;
		return 1;
	}
	return 0;
}

static _Atomic uint64_t *
token(struct ch *c, int side)
{
	return side == WRITERS ? &c->h->wtoken : &c->h->rtoken;
}

/* Returns 1 if the token was taken over from a dead holder. */
static int
token_take(struct ch *c, int side)
{
	struct take t = { token(c, side), 0 };

	await(c, side, token_ready, &t,
	    side == WRITERS ? "the write token" : "the read token");
	vlog("took the %s token%s", side == WRITERS ? "write" : "read",
	    t.tookover ? " from a dead holder" : "");
	return t.tookover;
}

static void
token_give(struct ch *c, int side)
{
	uint64_t held = me;

	if (!atomic_compare_exchange_strong(token(c, side), &held, 0))
		return;		/* someone took it, thinking us dead */
	vlog("gave back the %s token", side == WRITERS ? "write" : "read");
	held = 0;
	if (atomic_load(&c->h->sleepers[side]) != 0 &&
	    atomic_compare_exchange_strong(token(c, side), &held, HANDOFF))
		post(c, side);
}

/* --- opening, attaching, leaving ------------------------------------ */

static void
names(struct ch *c, const char *name, uint32_t gen)
{
	int i;

	c->name = name;
	(void)snprintf(busmsg, sizeof(busmsg), "%s: %s: channel truncated\n",
	    program_invocation_short_name, name);
	(void)snprintf(c->shm, sizeof(c->shm), "/" PREFIX "%s", name);
	for (i = 0; i < NBELL; i++)
		(void)snprintf(c->sem[i], sizeof(c->sem[i]), "/" PREFIX
		    "%s.%08x.%c", name, (unsigned)gen, BELLS[i]);
}

/* The owner rule: see SECURITY in shmread(1). */
static void
check_object(const struct ch *c, const struct stat *st)
{
	if (!S_ISREG(st->st_mode))
		errx(1, "%s: not a channel", c->name);
	if (st->st_uid != geteuid() && st->st_uid != 0 && !any_owner)
		errx(1, "%s: owned by uid %u (use --any-owner)", c->name,
		    (unsigned)st->st_uid);
}

static void
unmap(struct ch *c)
{
	int i;

	for (i = 0; i < NBELL; i++) {
		if (c->bell[i] != NULL && c->bell[i] != SEM_FAILED)
			(void)sem_close(c->bell[i]);
		c->bell[i] = NULL;
	}
	if (c->h != NULL)
		(void)munmap(c->h, HDRSZ + c->cap);
	if (c->fd != -1)
		(void)close(c->fd);
	c->h = NULL;
	c->fd = -1;
}

static void
unlink_sems(struct ch *c, int n)
{
	while (n-- > 0) {
		vlog("sem_unlink %s", c->sem[n]);
		(void)sem_unlink(c->sem[n]);
	}
}

static void
unlink_all(struct ch *c)
{
	vlog("shm_unlink %s", c->shm);
	(void)shm_unlink(c->shm);	/* first: then the name is free */
	unlink_sems(c, NBELL);
}

static void
create(struct ch *c, uint64_t cap, mode_t mode)
{
	uint32_t gen;
	int i, e;

	if ((e = posix_fallocate(c->fd, 0, (off_t)(HDRSZ + cap))) != 0) {
		(void)shm_unlink(c->shm);
		errno = e;
		err(1, "%s: cannot allocate %llu bytes", c->name,
		    (unsigned long long)(HDRSZ + cap));
	}
	c->h = mmap(NULL, HDRSZ + cap, PROT_READ | PROT_WRITE, MAP_SHARED,
	    c->fd, 0);
	if (c->h == MAP_FAILED) {
		e = errno;
		(void)shm_unlink(c->shm);
		errno = e;
		err(1, "%s: mmap", c->name);
	}
	c->cap = cap;
	c->ring = (unsigned char *)c->h + HDRSZ;
	if (getrandom(&gen, sizeof(gen), 0) != sizeof(gen))
		gen = (uint32_t)(me ^ (uint64_t)now_ms());
	memcpy(c->h->magic, MAGIC, sizeof(c->h->magic));
	c->h->version = VERSION_NUM;
	c->h->gen = gen;
	c->h->cap = cap;
	atomic_store(&c->h->creator, me);
	names(c, c->name, gen);
	for (i = 0; i < NBELL; i++) {
		c->bell[i] = sem_open(c->sem[i], O_CREAT | O_EXCL, mode, 0);
		if (c->bell[i] == SEM_FAILED) {
			e = errno;
			c->bell[i] = NULL;
			(void)shm_unlink(c->shm);
			unlink_sems(c, i);
			errno = e;
			err(1, "%s: sem_open %s", c->name, c->sem[i]);
		}
		vlog("sem_open %s: created", c->sem[i]);
	}
	vlog("created %s: %llu bytes, mode %04o", c->shm,
	    (unsigned long long)cap, (unsigned)mode);
	c->created = 1;
}

/*
 * Map an existing object after checking that it is a channel.  Returns 0,
 * or -1 if it is still being built (or torn down): try again.
 */
static int
validate(struct ch *c, int prot)
{
	struct chan hd;
	struct stat st;
	uint32_t state;

	if (fstat(c->fd, &st) == -1)
		err(1, "%s: fstat", c->name);
	check_object(c, &st);
	if (st.st_size == 0)		/* still being created */
		return -1;
	if ((uint64_t)st.st_size < HDRSZ + MIN_CAP ||
	    (uint64_t)st.st_size > HDRSZ + MAX_CAP)
		errx(1, "%s: not a channel", c->name);
	c->cap = (uint64_t)st.st_size - HDRSZ;
	c->h = mmap(NULL, (size_t)st.st_size, prot, MAP_SHARED, c->fd, 0);
	if (c->h == MAP_FAILED) {
		c->h = NULL;
		err(1, "%s: mmap", c->name);
	}
	c->ring = (unsigned char *)c->h + HDRSZ;
	if ((state = atomic_load(&c->h->state)) == 0)
		return -1;
	memcpy(&hd, c->h, offsetof(struct chan, creator));
	if (memcmp(hd.magic, MAGIC, sizeof(hd.magic)) != 0 ||
	    hd.version != VERSION_NUM || state > REMOVED)
		errx(1, "%s: not a channel", c->name);
	if (hd.cap != c->cap || (hd.cap & (hd.cap - 1)) != 0)
		corrupt(c);
	names(c, c->name, hd.gen);
	vlog("mmap %s: %llu + %llu bytes", c->shm,
	    (unsigned long long)HDRSZ, (unsigned long long)c->cap);
	return state == LIVE ? 0 : -1;
}

static void
open_bells(struct ch *c)
{
	char path[sizeof(SHMDIR) + sizeof(c->sem[0]) + 4];
	struct stat st;
	int i;

	for (i = 0; i < NBELL; i++) {
		(void)snprintf(path, sizeof(path), SHMDIR "sem.%s",
		    c->sem[i] + 1);
		if (lstat(path, &st) == 0)
			check_object(c, &st);
		if ((c->bell[i] = sem_open(c->sem[i], 0)) == SEM_FAILED) {
			c->bell[i] = NULL;
			if (errno == ENOENT &&
			    atomic_load(&c->h->state) != LIVE)
				return;
			err(1, "%s: sem_open %s", c->name, c->sem[i]);
		}
	}
}

static int
others_alive(struct ch *c)
{
	uint64_t id;
	int i, n = 0;

	for (i = 0; i < NSLOT; i++) {
		id = atomic_load(&c->h->slot[i].id);
		if (id == 0 || i == c->slot)
			continue;
		if (alive(id))
			n++;
		else	/* clear the slot of a process that died */
			atomic_compare_exchange_strong(&c->h->slot[i].id, &id,
			    0);
	}
	return n;
}

/*
 * Leave the channel, and remove it if we were the last one there and no
 * message waits.  Dying blocks new arrivals: a process attaches by
 * claiming a slot and then checking state, the last one leaves by setting
 * state and then checking the slots; with both orders sequentially
 * consistent, one of them sees the other.
 */
static int
nothing_queued(const struct ch *c)
{
	uint64_t tail, head;

	return ring_span(c, &tail, &head) && ring_count(c, tail, head) == 0;
}

static void
detach(void)
{
	struct ch *c = &chan;
	uint64_t none = 0, r;
	uint32_t live = LIVE;

	if (c->h != NULL && c->slot >= 0 && !broken) {
		atomic_store(&c->h->slot[c->slot].id, 0);
		c->slot = -1;
		vlog("leaving %s", c->shm);
		if ((r = atomic_load(&c->h->reaper)) != 0 && !alive(r))
			atomic_compare_exchange_strong(&c->h->reaper, &r, 0);
		if (others_alive(c) == 0 && nothing_queued(c) &&
		    atomic_compare_exchange_strong(&c->h->reaper, &none, me)) {
			/* Look again: someone may have come, written, gone. */
			if (atomic_compare_exchange_strong(&c->h->state, &live,
			    DYING)) {
				if (others_alive(c) == 0 && nothing_queued(c))
					unlink_all(c);
				else
					atomic_store(&c->h->state, LIVE);
			}
			atomic_store(&c->h->reaper, 0);
		}
	}
	unmap(c);
	die_of_signal();
}

/* A free slot, or the slot of a process that died; -1 if none. */
static int
claim(struct ch *c)
{
	uint64_t id;
	int i;

	for (i = 0; i < NSLOT; i++) {
		id = 0;
		if (atomic_compare_exchange_strong(&c->h->slot[i].id, &id, me))
			return i;
	}
	for (i = 0; i < NSLOT; i++) {
		id = atomic_load(&c->h->slot[i].id);
		if (!alive(id) &&
		    atomic_compare_exchange_strong(&c->h->slot[i].id, &id, me))
			return i;
	}
	return -1;
}

/*
 * The channel is not ready.  If the last process that left died while
 * removing it, take it back; if its creator died, or it was marked
 * removed, finish it off, making sure the name still is this object.
 */
static void
settle(struct ch *c)
{
	uint64_t r = atomic_load(&c->h->reaper);
	char path[sizeof(SHMDIR) + sizeof(c->shm)];
	struct stat fst, nst;

	if (atomic_load(&c->h->state) == DYING && r != 0 && !alive(r) &&
	    atomic_compare_exchange_strong(&c->h->reaper, &r, me)) {
		vlog("%s: taking it back from a process that died", c->shm);
		atomic_store(&c->h->state, LIVE);
		atomic_store(&c->h->reaper, 0);
		return;
	}
	(void)snprintf(path, sizeof(path), SHMDIR "%s", c->shm + 1);
	r = atomic_load(&c->h->creator);
	if (atomic_load(&c->h->state) == 0 && r != 0 && !alive(r) &&
	    memcmp(c->h->magic, MAGIC, sizeof(c->h->magic)) == 0) {
		vlog("%s: its creator died", c->shm);
		names(c, c->name, c->h->gen);
	} else if (atomic_load(&c->h->state) != REMOVED)
		return;
	if (fstat(c->fd, &fst) == 0 && stat(path, &nst) == 0 &&
	    fst.st_ino == nst.st_ino && fst.st_dev == nst.st_dev)
		unlink_all(c);
}

/* Returns 0, or -1 if the channel is going away: open it again. */
static int
attach(struct ch *c, int role)
{
	if ((c->slot = claim(c)) == -1)
		errx(1, "%s: too many processes attached (%d)", c->name,
		    NSLOT);
	atomic_store(&c->h->slot[c->slot].role, (uint32_t)role);
	if (c->created)
		atomic_store(&c->h->state, LIVE);
	if (atomic_load(&c->h->state) == LIVE)
		return 0;
	atomic_store(&c->h->slot[c->slot].id, 0);
	c->slot = -1;
	return -1;
}

static void
init_me(void)
{
	if ((me = proc_id(getpid())) == 0 || me == UNKNOWN)
		errx(1, "cannot read /proc/%d/stat", (int)getpid());
}

/*
 * Open channel name for role 'r' or 'w', creating it with cap and mode if
 * it does not exist, and attach to it.  Someone else creating, building or
 * tearing down the channel at the same moment makes us retry for a
 * bounded time.
 */
static struct ch *
chan_open(const char *name, int role, uint64_t cap, int setcap, mode_t mode)
{
	struct ch *c = &chan;
	int64_t start = now_ms(), waited;
	mode_t mask;

	init_me();
	names(c, name, 0);
	for (;;) {
		c->fd = shm_open(c->shm, O_RDWR | O_NOFOLLOW, 0);
		vlog("shm_open %s: %s", c->shm, c->fd != -1 ? "opened" :
		    strerror(errno));
		if (c->fd == -1 && errno == ENOENT) {
			mask = umask(0);	/* the mode, exactly */
			c->fd = shm_open(c->shm, O_RDWR | O_CREAT | O_EXCL |
			    O_NOFOLLOW, mode);
			if (c->fd != -1)
				create(c, cap, mode);
			(void)umask(mask);
			if (c->fd == -1 && errno == EEXIST)
				continue;
		}
		if (c->fd == -1)
			err(1, "%s: shm_open %s", name, c->shm);
		if (c->created) {	/* attached before anyone can see it */
			if (attach(c, role) == 0)
				break;
		} else if (validate(c, PROT_READ | PROT_WRITE) == 0) {
			open_bells(c);
			if (c->bell[NBELL - 1] != NULL && attach(c, role) == 0)
				break;
		}
		waited = now_ms() - start;
		if (c->h != NULL && waited > SLICE_MS)
			settle(c);
		unmap(c);
		c->created = 0;
		if (timeout >= 0 && waited > SLICE_MS &&
		    waited >= timeout * 1000) {
			vlog("timed out waiting for the channel");
			exit(124);
		}
		if (waited > 2000)
			errx(1, "%s: channel never became ready (remove it "
			    "with -r)", name);
		(void)usleep(1000);
	}
	if (!c->created && setcap && c->cap != cap)
		warnx("%s: exists with capacity %llu; -s ignored", name,
		    (unsigned long long)c->cap);
	if (atexit(detach) != 0)
		err(1, "atexit");
	return c;
}

/*
 * A creation that died before it finished: remove what it made, if it
 * got as far as our header or no further than an empty object.
 */
static void
remove_stale(struct ch *c)
{
	static const char zero[sizeof(struct chan)];
	struct stat st;
	struct chan *h;

	if ((c->fd = shm_open(c->shm, O_RDONLY | O_NOFOLLOW, 0)) == -1 ||
	    fstat(c->fd, &st) == -1)
		err(1, "%s: %s", c->name, c->shm);
	if (st.st_size >= HDRSZ) {
		h = mmap(NULL, HDRSZ, PROT_READ, MAP_SHARED, c->fd, 0);
		if (h == MAP_FAILED)
			err(1, "%s: mmap", c->name);
		if (memcmp(h->magic, MAGIC, sizeof(h->magic)) == 0)
			names(c, c->name, h->gen);
		else if (memcmp(h, zero, sizeof(zero)) != 0)
			errx(1, "%s: not a channel", c->name);
		(void)munmap(h, HDRSZ);
	} else if (st.st_size != 0)
		errx(1, "%s: not a channel", c->name);
	vlog("%s: a creation that never finished", c->shm);
	unlink_all(c);
	unmap(c);
}

/*
 * -r: mark the channel removed, wake everyone waiting on it so they see
 * that at once, and unlink its objects.
 */
static void
chan_remove(const char *name)
{
	struct ch *c = &chan;
	int64_t start = now_ms();
	int i, n;

	names(c, name, 0);
	for (;;) {
		c->fd = shm_open(c->shm, O_RDWR | O_NOFOLLOW, 0);
		if (c->fd == -1 && errno == ENOENT)
			errx(1, "%s: no such channel", name);
		if (c->fd == -1)
			err(1, "%s: shm_open %s", name, c->shm);
		if (validate(c, PROT_READ | PROT_WRITE) == 0 ||
		    (c->h != NULL && atomic_load(&c->h->state) != 0))
			break;
		unmap(c);
		if (now_ms() - start > 2000) {
			remove_stale(c);
			return;
		}
		(void)usleep(1000);
	}
	atomic_store(&c->h->state, REMOVED);
	open_bells(c);
	for (i = 0; i < NBELL; i++) {
		n = (int)atomic_load(&c->h->sleepers[i]);
		for (n = n > NSLOT ? NSLOT : n; c->bell[i] != NULL && n-- > 0;)
			(void)sem_post(c->bell[i]);
	}
	unlink_all(c);
	unmap(c);
}
