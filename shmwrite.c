/*
 * shmwrite - put messages into a shared memory channel
 */
#define SHMRW_IMPLEMENTATION
#define SHMRW_TOOLS
#include "common.h"

#define INBUF		((size_t)64 * 1024)	/* -l and -z read this much at once */
#define CHUNK_MIN	((size_t)16 * 1024)	/* a stream reads at least this ... */
#define CHUNK_DIV	4		/* ... or a quarter of the ring */

static const struct tool shmwrite = {
	"shmwrite",
	"usage: shmwrite [-bekvw] [-l | -z] [-m mode] [-n name] [-s size] "
	"[-t duration]\n"
	"                [--any-owner] [--lossy] [message ...]\n"
	"       shmwrite -r [-v] [-n name] [-t duration]\n"
	"       shmwrite --status [--json] [-n name]\n"
	"       shmwrite --list [--json | --no-headings] [-n name] [name ...]\n"
	"       shmwrite --prune [-v] [-n name] [name ...]\n"
	"       shmwrite --watch[=duration] [-n name]\n",

	"Put a message into a shared memory channel: the operands, joined by\n"
	"spaces, with a newline; or each line of standard input (-l, -z); or\n"
	"all of standard input, as a stream.  shmread(1) takes it out.\n"
	"\n"
	"  -l, --lines          each line of standard input is a message\n"
	"  -w, --wait           return when a reader has taken the message;\n"
	"                       withdraw it if none began before the timeout;\n"
	"                       on a queue channel only\n"
	"  -z, --null           each NUL-terminated record is a message\n"
	HELP_COMMON
	"\n"
	"Exit status: 0 sent (-w: taken), 1 error, 2 usage, 124 timed out\n"
	"(nothing sent, or -w: withdrawn), 128+N killed by signal N.\n"
};

/* Read standard input into iov; 0 at its end. */
static size_t
input(struct iovec *iov, int n)
{
	ssize_t r;

	while ((r = readv(STDIN_FILENO, iov, n)) == -1) {
		if (errno == EFAULT)
			tool_fail(CH_ETRUNC);
		if (sig_caught)
			tool_fail(CH_EINTR);
		if (errno != EINTR) {
			ch_close(&ch);
			err(1, "stdin");
		}
	}
	return (size_t)r;
}

static void
must(int st)
{
	if (st != CH_OK)
		tool_fail(st);
}

/* The operands, joined by spaces, with a newline: as echo(1) would. */
static void
send_args(int argc, char *argv[], int sync)
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
	must(ch_wbegin(&ch));
	if (sync) {
		must(ch_msg_begin(&ch, 0, 1));
		must(ch_write(&ch, buf, len));
		must(ch_msg_end(&ch));
	} else
		must(ch_send(&ch, buf, len));
	must(ch_wend(&ch));
	free(buf);
}

/* Standard input to its end as one message, read straight into the ring. */
static void
send_stream(int sync)
{
	size_t chunk = ch.cap / CHUNK_DIV, room;
	struct iovec iov[2];
	int niov;

	if (chunk < CHUNK_MIN)
		chunk = CHUNK_MIN < ch.cap / 2 ? CHUNK_MIN : ch.cap / 2;
	must(ch_wbegin(&ch));
	must(ch_msg_begin(&ch, 1, sync));
	for (;;) {
		must(ch_reserve(&ch, 1, chunk, iov, &niov, &room));
		if ((room = input(iov, niov)) == 0)
			break;
		ch_add(&ch, room);
		must(ch_publish(&ch));
	}
	must(ch_msg_end(&ch));
	must(ch_wend(&ch));
}

/*
 * A record still being read is kept outside the ring, in carry, so that
 * the write token is taken only once a record is complete: a slow line
 * holds nobody up.  One too long for the ring (a whole message of at
 * most cap - 4 RECSZ) goes into the ring as it comes, as a stream, and
 * holds the token until its end.
 */
struct carry {
	char *buf;
	size_t len, max;
	int open;		/* the record is in the ring, as a stream */
};

/* Keep [p, p + n) for later; 0 if that would be more than the ring holds. */
static int
carry_add(struct carry *k, const char *p, size_t n)
{
	size_t lim = (size_t)(ch.cap - 4 * RECSZ), want;
	char *nb;

	if (k->len + n > lim)
		return 0;
	if (k->len + n > k->max) {
		for (want = k->max ? k->max : 4096; want < k->len + n; want *= 2)
			;
		if ((nb = realloc(k->buf, want)) == NULL)
			err(1, NULL);
		k->buf = nb;
		k->max = want;
	}
	memcpy(k->buf + k->len, p, n);
	k->len += n;
	return 1;
}

/* Keep the start of a record, [p, p + n): carried, or in the ring. */
static void
carry_keep(struct carry *k, const char *p, size_t n)
{
	if (!k->open && carry_add(k, p, n))
		return;
	if (!k->open) {				/* too long to carry */
		must(ch_wbegin(&ch));
		must(ch_msg_begin(&ch, 0, 0));
		must(ch_write(&ch, k->buf, k->len));
		k->len = 0;
		k->open = 1;
	}
	must(ch_write(&ch, p, n));
	must(ch_publish(&ch));
}

/* The rest of a record begun earlier, from [p, p + n): how much it took. */
static size_t
carry_rest(struct carry *k, const char *p, size_t n, int delim)
{
	const char *end = memchr(p, delim, n);
	size_t len = end == NULL ? n : (size_t)(end + 1 - p);

	if (end == NULL || !k->open)
		carry_keep(k, p, len);
	else
		must(ch_write(&ch, p, len));
	if (end != NULL && k->open) {
		must(ch_msg_end(&ch));
		k->open = 0;
	}
	return len;
}

/* Whole records from [p, p + n), each a message: how much was taken. */
static size_t
send_whole(const char *p, size_t n, int delim)
{
	const char *q = p, *end;

	while (q < p + n) {
		if ((q += ch_send_records(&ch, q, (size_t)(p + n - q),
		    delim)) == p + n)
			break;
		if ((end = memchr(q, delim, (size_t)(p + n - q))) == NULL)
			break;
		must(ch_send(&ch, q, (size_t)(end + 1 - q)));
		q = end + 1;
	}
	return (size_t)(q - p);
}

/*
 * Each record of standard input that ends in delim, delim included, as a
 * message; a last one without it as it is.  What was read at once is
 * published at once, and the write token is given back whenever no
 * record is half sent.  Memory stays within the ring and INBUF.
 */
static void
send_records(int delim)
{
	static char buf[INBUF + CH_SLACK];
	struct iovec iov = { buf, INBUF };
	struct carry k = { NULL, 0, 0, 0 };
	size_t n, off;

	while ((n = input(&iov, 1)) > 0) {
		off = k.len > 0 || k.open ? carry_rest(&k, buf, n, delim) : 0;
		if (k.open || (k.len > 0 && k.buf[k.len - 1] != delim))
			continue;		/* the record goes on */
		must(ch_wbegin(&ch));
		if (k.len > 0)
			must(ch_send(&ch, k.buf, k.len));
		k.len = 0;
		off += send_whole(buf + off, n - off, delim);
		must(ch_wend(&ch));
		if (off < n)
			carry_keep(&k, buf + off, n - off);
	}
	if (k.open || k.len > 0) {
		must(ch_wbegin(&ch));
		must(k.open ? ch_msg_end(&ch) : ch_send(&ch, k.buf, k.len));
		must(ch_wend(&ch));
	}
	free(k.buf);
}

/* -l and -z go with no operands and no -w. */
static void
check_options(const struct opts *o, int argc, int delim, int wflag)
{
	if (opt_check(o, argc))
		tool_usage();
	if (opt_given(o, 'l') && opt_given(o, 'z')) {
		warnx("-l and -z exclude each other");
		tool_usage();
	}
	if (delim != -1 && (argc > 0 || wflag)) {
		warnx("%s cannot be used with %s", delim ? "-l" : "-z",
		    wflag ? "-w" : "operands");
		tool_usage();
	}
	if (wflag && o->mk.kind != 0) {
		warnx("-w cannot be used with %s", opt_given(o, 'b') ? "-b" :
		    "--lossy");
		tool_usage();
	}
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		LONGOPTS_COMMON,
		{ "lines",	no_argument,		NULL, 'l' },
		{ "null",	no_argument,		NULL, 'z' },
		{ "wait",	no_argument,		NULL, 'w' },
		{ NULL,		0,			NULL, 0 }
	};
	struct opts o;
	int opt, delim = -1, wflag = 0;

	tool_init(&o, &shmwrite, argc, argv);
	while ((opt = getopt_long(argc, argv, ":behklm:n:rs:t:Vvwz", longopts,
	    NULL)) != -1) {
		opt_note(&o, opt);
		switch (opt) {
		case 'l':
			delim = '\n';
			break;
		case 'w':
			wflag = 1;
			break;
		case 'z':
			delim = '\0';
			break;
		default:
			opt_other(&o, opt, argv);
		}
	}
	argc -= optind;
	argv += optind;
	check_options(&o, argc, delim, wflag);
	o.mk.queue = wflag;
	if (o.action != ACT_RUN)
		return tool_act(&o, argc, argv);

	tool_open(&o, 'w');
	if (argc > 0)
		send_args(argc, argv, wflag);
	else if (delim != -1)
		send_records(delim);
	else
		send_stream(wflag);
	if (wflag)
		must(ch_sync(&ch));
	tool_close();
	return 0;
}
