/*
 * shmread - take messages out of a shared memory channel
 */
#define SHMRW_IMPLEMENTATION
#define SHMRW_TOOLS
#include "common.h"

static const struct tool shmread = {
	"shmread",
	"usage: shmread [-kv] [-c count | -f] [-m mode] [-n name] [-s size] "
	"[-t duration]\n"
	"               [--any-owner]\n"
	"       shmread -r [-v] [-n name] [-t duration]\n"
	"       shmread --status [--json] [-n name]\n"
	"       shmread --list [--json | --no-headings]\n",

	"Take the oldest message out of a shared memory channel and write it\n"
	"to standard output; wait for one if there is none.  shmwrite(1) puts\n"
	"messages in.\n"
	"\n"
	"  -c, --count=N        take N messages, one after the other (1)\n"
	"  -f, --follow         take messages until killed, or nobody reads them\n"
	HELP_COMMON
	"\n"
	"Exit status: 0 taken, 1 error, 2 tool_usage, 124 timed out, 128+N killed\n"
	"by signal N.\n"
};

static struct ch_batch batch;

/* A write error: the messages not written out whole stay queued. */
static void
output_failed(void)
{
	int e = errno;

	if (e == EPIPE && !pipe_ignored)
		sig_caught = SIGPIPE;
	if (sig_caught)
		tool_fail(CH_EINTR);
	if (e == EFAULT)
		tool_fail(CH_ETRUNC);
	ch_close(&ch);
	errno = e;
	err(1, "write error");
}

/*
 * Write the batch out, freeing the ring as it goes, so that a writer can
 * refill it while a slow pipe takes the rest.  Counts the messages done.
 */
static void
put_out(struct ch_batch *b, long *count)
{
	struct iovec *iov = b->iov;
	int n = b->niov, st;
	size_t out = 0;
	long done;
	ssize_t w;

	for (;;) {
		done = 0;
		st = ch_consume(&ch, b, out, &done);
		*count -= *count > 0 ? done : 0;
		if (st != CH_OK)
			tool_fail(st);
		if (n == 0)
			return;
		if ((w = writev(STDOUT_FILENO, iov, n < IOV_MAX ? n : IOV_MAX))
		    == -1) {
			if (errno == EINTR && !sig_caught)
				continue;
			output_failed();
		}
		out += (size_t)w;
		for (; n > 0 && (size_t)w >= iov->iov_len; iov++, n--)
			w -= (ssize_t)iov->iov_len;
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
}

/* Take count messages, or for ever if count < 0. */
static void
take(long count)
{
	int st;

	while (count != 0) {
		st = ch_next(&ch, &batch, count < 0 ? BATCH_REC : count);
		if (st == CH_EOUTPUT) {
			errno = EPIPE;		/* as a write would have told */
			output_failed();
		}
		if (st != CH_OK)
			tool_fail(st);
		put_out(&batch, &count);
	}
}

/* A count: a decimal number from 1. */
static long
parse_count(const char *s)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(s, &end, 10);
	if (end == s || *end != '\0' || errno != 0 || n < 1 ||
	    !isdigit((unsigned char)*s)) {
		warnx("invalid count: '%s'", s);
		tool_usage();
	}
	return n;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		LONGOPTS_COMMON,
		{ "count",	required_argument,	NULL, 'c' },
		{ "follow",	no_argument,		NULL, 'f' },
		{ NULL,		0,			NULL, 0 }
	};
	struct opts o;
	long count = 1;
	int opt;

	tool_init(&o, &shmread);
	while ((opt = getopt_long(argc, argv, ":c:fhkm:n:rs:t:Vv", longopts,
	    NULL)) != -1) {
		opt_note(&o, opt);
		switch (opt) {
		case 'c':
			count = parse_count(optarg);
			break;
		case 'f':
			count = -1;
			break;
		default:
			opt_other(&o, opt, argv);
		}
	}
	argc -= optind;
	argv += optind;
	if (opt_check(&o, argc))
		tool_usage();
	if (argc > 0) {
		warnx("unexpected operand: '%s'", argv[0]);
		tool_usage();
	}
	if (opt_given(&o, 'c') && opt_given(&o, 'f')) {
		warnx("-c and -f exclude each other");
		tool_usage();
	}
	if (o.action != ACT_RUN)
		return tool_act(&o);

	tool_open(&o, 'r');
	ch.watch_fd = STDOUT_FILENO;
	take(count);
	tool_close();
	return 0;
}
