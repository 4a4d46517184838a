/*
 * shmread - take messages out of a shared memory channel
 */
#define SHMRW_IMPLEMENTATION
#define SHMRW_TOOLS
#include "common.h"

static const struct tool shmread = {
	"shmread",
	"usage: shmread [-bekv] [-c count | -f] [-m mode] [-n name] [-s size] "
	"[-t duration]\n"
	"               [--any-owner] [--from-oldest] [--lossy]\n"
	"       shmread --tap [-ev] [-c count | -f] [-n name] [-t duration]\n"
	"               [--any-owner] [--from-oldest]\n"
	"       shmread -r [-v] [-n name] [-t duration]\n"
	"       shmread --status [--json] [-n name]\n"
	"       shmread --list [--json | --no-headings] [-n name] [name ...]\n"
	"       shmread --prune [-v] [-n name] [name ...]\n"
	"       shmread --watch[=duration] [-n name]\n",

	"Take the oldest message out of a shared memory channel and write it\n"
	"to standard output; wait for one if there is none.  shmwrite(1) puts\n"
	"messages in.  On a broadcast channel, get the next message published:\n"
	"each reader gets every one.\n"
	"\n"
	"  -c, --count=N        take N messages, one after the other (1); 0, with\n"
	"                       -k: make the channel, take none\n"
	"  -f, --follow         take messages until killed, nobody reads them,\n"
	"                       or (with -t) none came for that long\n"
	"      --from-oldest    start at the oldest message the ring holds (-b,\n"
	"                       unless with --tap)\n"
	"      --tap            show the messages published from now on, taking\n"
	"                       none and holding nobody back; lossy\n"
	HELP_COMMON
	"\n"
	"Exit status: 0 taken (-f -t: some, then none for that long), 1 error,\n"
	"2 usage, 3 missed messages (lossy), 124 timed out (none taken),\n"
	"128+N killed by signal N.\n"
};

static struct ch_batch batch;
static long taken;		/* messages written out whole */
static long missed;		/* lossy: messages overwritten before we read them */

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
		taken += done;
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
	long left = count;
	int st;

	while (left != 0) {
		st = ch_next(&ch, &batch, left < 0 ? BATCH_REC : left);
		if (st == CH_EOUTPUT) {
			errno = EPIPE;		/* as a write would have told */
			output_failed();
		}
		if (st == CH_ETIMEDOUT && ((count < 0 && taken > 0) || missed))
			return;		/* -f -t: took some, then none came */
		if (st != CH_OK)
			tool_fail(st);
		if (batch.truncated)
			warnx("%s: message truncated (%s)", ch.name,
			    batch.truncated == TR_LAPPED ? "lapped" :
			    "reader went away");
		if (batch.missed > 0)
			warnx("%s: missed %ld message%s", ch.name, batch.missed,
			    batch.missed > 1 ? "s" : "");
		missed += batch.missed + (batch.truncated != 0);
		put_out(&batch, &left);
	}
}

/* A count: a decimal number; 0 (with -k) makes the channel, and takes none. */
static long
parse_count(const char *s)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(s, &end, 10);
	if (end == s || *end != '\0' || errno != 0 || n < 0 ||
	    !isdigit((unsigned char)*s)) {
		warnx("invalid count: '%s'", s);
		tool_usage();
	}
	return n;
}

/*
 * --tap makes nothing of its own: a missing channel is made a queue, as
 * shmread makes it.  --from-oldest without it subscribes (-b).
 */
static void
check_tap(struct opts *o, int role)
{
	static const int mine[] = { 'b', OPT_LOSSY, 'k', 'm', 's' };
	size_t i;

	for (i = 0; role == 't' && i < sizeof(mine) / sizeof(mine[0]); i++)
		if (opt_given(o, mine[i])) {
			warnx("--tap cannot be used with %s", opt_name_of(mine[i]));
			tool_usage();
		}
	if (role != 't' && o->mk.oldest)
		o->mk.kind |= SEG_BCAST;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		LONGOPTS_COMMON,
		{ "count",	required_argument,	NULL, 'c' },
		{ "follow",	no_argument,		NULL, 'f' },
		{ "from-oldest", no_argument,		NULL, OPT_OLDEST },
		{ "tap",	no_argument,		NULL, OPT_TAP },
		{ NULL,		0,			NULL, 0 }
	};
	struct opts o;
	long count = 1;
	int opt, role = 'r';

	tool_init(&o, &shmread, argc, argv);
	while ((opt = getopt_long(argc, argv, ":bc:efhkm:n:rs:t:Vv", longopts,
	    NULL)) != -1) {
		opt_note(&o, opt);
		switch (opt) {
		case 'c':
			count = parse_count(optarg);
			break;
		case 'f':
			count = -1;
			break;
		case OPT_OLDEST:
			o.mk.oldest = 1;
			break;
		case OPT_TAP:
			role = 't';
			break;
		default:
			opt_other(&o, opt, argv);
		}
	}
	argc -= optind;
	argv += optind;
	if (opt_check(&o, argc))
		tool_usage();
	if (o.action == ACT_RUN && argc > 0) {
		warnx("unexpected operand: '%s'", argv[0]);
		tool_usage();
	}
	if (opt_given(&o, 'c') && opt_given(&o, 'f')) {
		warnx("-c and -f exclude each other");
		tool_usage();
	}
	if (count == 0 && !o.mk.keep) {
		warnx("-c 0 needs -k: an empty channel would be removed at once");
		tool_usage();
	}
	check_tap(&o, role);
	if (o.action != ACT_RUN)
		return tool_act(&o, argc, argv);

	tool_open(&o, role);
	ch.watch_fd = STDOUT_FILENO;
	take(count);
	tool_close();
	return missed > 0 ? 3 : 0;
}
