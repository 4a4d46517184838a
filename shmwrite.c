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
	"usage: shmwrite [-kvw] [-l | -z] [-m mode] [-n name] [-s size] "
	"[-t duration]\n"
	"                [--any-owner] [message ...]\n"
	"       shmwrite -r [-v] [-n name] [-t duration]\n"
	"       shmwrite --status [--json] [-n name]\n"
	"       shmwrite --list [--json | --no-headings]\n",

	"Put a message into a shared memory channel: the operands, joined by\n"
	"spaces, with a newline; or each line of standard input (-l, -z); or\n"
	"all of standard input, as a stream.  shmread(1) takes it out.\n"
	"\n"
	"  -l, --lines          each line of standard input is a message\n"
	"  -w, --wait           return when a reader has taken the message;\n"
	"                       withdraw it if none began before the timeout\n"
	"  -z, --null           each NUL-terminated record is a message\n"
	HELP_COMMON
	"\n"
	"Exit status: 0 sent (-w: taken), 1 error, 2 tool_usage, 124 timed out\n"
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
w_check(int st)
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
	w_check(ch_wbegin(&ch));
	if (sync) {
		w_check(ch_msg_begin(&ch, 0, 1));
		w_check(ch_write(&ch, buf, len));
		w_check(ch_msg_end(&ch));
	} else
		w_check(ch_send(&ch, buf, len));
	w_check(ch_wend(&ch));
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
	w_check(ch_wbegin(&ch));
	w_check(ch_msg_begin(&ch, 1, sync));
	for (;;) {
		w_check(ch_reserve(&ch, 1, chunk, iov, &niov, &room));
		if ((room = input(iov, niov)) == 0)
			break;
		ch_add(&ch, room);
		w_check(ch_publish(&ch));
	}
	w_check(ch_msg_end(&ch));
	w_check(ch_wend(&ch));
}

/*
 * A record still being read is kept outside the ring, in carry, so that
 * the write token is taken only once a record is complete: a slow line
 * holds nobody up.  One too long for the ring (a whole message of at
 * most cap - 4 RECSZ) goes into the ring as it comes, as a stream.
 */
struct carry {
	char *buf;
	size_t len, max;
};

/* Keep [p, p + n) for later; 0 if that would be more than the ring holds. */
static int
carry_add(struct carry *k, const char *p, size_t n)
{
	size_t lim = ch.cap - 4 * 8, want;
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
	struct carry k = { NULL, 0, 0 };
	size_t n;
	char *p, *end;
	int open = 0;		/* a record too long to carry is in the ring */

	while ((n = input(&iov, 1)) > 0) {
		p = buf;
		if (k.len > 0 || open) {
			end = memchr(p, delim, n);
			end = end == NULL ? buf + n : end + 1;
			if (!open && carry_add(&k, p, (size_t)(end - p))) {
				p = end;
				if (end[-1] != delim)
					continue;	/* still incomplete */
			} else if (!open) {
				w_check(ch_wbegin(&ch));	/* too long: a stream */
				w_check(ch_msg_begin(&ch, 0, 0));
				w_check(ch_write(&ch, k.buf, k.len));
				k.len = 0;
				open = 1;
			}
			if (open) {
				w_check(ch_write(&ch, p, (size_t)(end - p)));
				p = end;
				if (end[-1] != delim) {
					w_check(ch_publish(&ch));
					continue;
				}
				w_check(ch_msg_end(&ch));
				open = 0;
			}
		}
		w_check(ch_wbegin(&ch));
		if (k.len > 0) {
			w_check(ch_send(&ch, k.buf, k.len));
			k.len = 0;
		}
		while (p < buf + n) {
			if ((p += ch_send_records(&ch, p, (size_t)(buf + n - p),
			    delim)) == buf + n)
				break;
			if ((end = memchr(p, delim, (size_t)(buf + n - p))) == NULL)
				break;
			w_check(ch_send(&ch, p, (size_t)(end + 1 - p)));
			p = end + 1;
		}
		w_check(ch_wend(&ch));
		if (p < buf + n && !carry_add(&k, p, (size_t)(buf + n - p))) {
			w_check(ch_wbegin(&ch));	/* too long to carry: */
			w_check(ch_msg_begin(&ch, 0, 0));	/* a stream */
			w_check(ch_write(&ch, p, (size_t)(buf + n - p)));
			open = 1;
		}
	}
	if (open || k.len > 0) {
		w_check(ch_wbegin(&ch));
		if (!open)
			w_check(ch_send(&ch, k.buf, k.len));
		else
			w_check(ch_msg_end(&ch));
		w_check(ch_wend(&ch));
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

	tool_init(&o, &shmwrite);
	while ((opt = getopt_long(argc, argv, ":hklm:n:rs:t:Vvwz", longopts,
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
	if (o.action != ACT_RUN)
		return tool_act(&o);

	tool_open(&o, 'w');
	if (argc > 0)
		send_args(argc, argv, wflag);
	else if (delim != -1)
		send_records(delim);
	else
		send_stream(wflag);
	if (wflag)
		w_check(ch_sync(&ch));
	tool_close();
	return 0;
}
