/*
 * shmread - take messages from a shared memory channel
 */
#include <sys/wait.h>

#include <pwd.h>

#include "common.h"

#define NREC	4096		/* records written out per batch, at most */
#define STAGE	(64UL * 1024)	/* small messages are gathered here */
#define SMALL	256

static const char usage_text[] =
    "usage: shmread [-fv] [-c count] [-m mode] [-n name] [-s size] "
    "[-t seconds]\n"
    "       shmread -r [-n name]\n"
    "       shmread --status [-n name]\n"
    "       shmread --list\n";

/*
 * A batch: what one writev() puts out, and the places up to which the
 * ring may be consumed once that many bytes are out.
 */
struct batch {
	struct iovec iov[2 * NREC];
	int niov, nrec;
	size_t bytes;
	char stage[STAGE];
	size_t staged;
	struct cut {
		uint64_t pos;	/* consume up to here ... */
		size_t bytes;	/* ... once this much is written */
		int done;	/* messages completed there */
	} cut[NREC];
	int ncut;
};

static struct batch b;
static int holding;		/* we hold the read token */
static uint32_t cur;		/* the stream we are in, or 0 */

/*
 * Open an existing channel read-only, for --status and --list.  One that
 * is being built or removed is waited for if patient, else -1 (EAGAIN).
 */
static int
chan_peek(struct ch *ch, const char *name, int patient)
{
	int64_t start = now_ms();

	names(ch, name, 0);
	for (;;) {
		if ((ch->fd = shm_open(ch->shm, O_RDONLY | O_NOFOLLOW, 0)) == -1)
			return -1;
		if (validate(ch, PROT_READ) == 0)
			return 0;
		unmap(ch);
		if (!patient) {
			errno = EAGAIN;
			return -1;
		}
		if (now_ms() - start > 2000)
			errx(1, "%s: channel never became ready", name);
		(void)usleep(1000);
	}
}

static void
usage(void)
{
	fputs(usage_text, stderr);
	exit(2);
}

static void
add(const void *p, size_t len)
{
	char *to = b.stage + b.staged;
	struct iovec *last = b.niov > 0 ? &b.iov[b.niov - 1] : NULL;

	b.bytes += len;
	if (len > SMALL || b.staged + len > STAGE) {
		b.iov[b.niov++] = (struct iovec){ (void *)(uintptr_t)p, len };
		return;
	}
	memcpy(to, p, len);
	b.staged += len;
	if (last != NULL && (char *)last->iov_base + last->iov_len == to)
		last->iov_len += len;
	else
		b.iov[b.niov++] = (struct iovec){ to, len };
}

static void
add_rec(uint64_t pos, const struct rec *r)
{
	struct iovec iov[2];
	int i, n = ring_iov(&chan, pos + RECSZ, r->len, iov);

	b.nrec++;
	for (i = 0; i < n; i++)
		add(iov[i].iov_base, iov[i].iov_len);
}

/* Records skipped in a row make one cut, however many they are. */
static void
cut(uint64_t pos, int done)
{
	struct cut *last = b.ncut > 0 ? &b.cut[b.ncut - 1] : NULL;

	if (last != NULL && last->bytes == b.bytes) {
		last->pos = pos;
		last->done += done;
	} else
		b.cut[b.ncut++] = (struct cut){ pos, b.bytes, done };
}

/*
 * Find where the message whose FIRST record is at pos ends.  Returns the
 * position after its LAST record, or 0 if that is not queued yet.
 */
static uint64_t
msg_end(uint64_t pos, uint64_t head, int *aborted, int *nrec)
{
	uint64_t sz;
	uint32_t seq = 0;
	struct rec r;

	for (*nrec = 1; pos != head; pos += sz, ++*nrec) {
		if ((sz = rec_get(&chan, pos, head, &r)) == 0 ||
		    (seq != 0 && (r.seq != seq || (r.flags & REC_FIRST))))
			corrupt(&chan);
		seq = r.seq;
		if (r.flags & REC_LAST) {
			*aborted = (r.flags & REC_ABORT) != 0;
			return pos + sz;
		}
	}
	return 0;
}

static int
data_ready(struct ch *ch, void *arg, int how)
{
	uint64_t w, tail, head;
	uint32_t open;

	(void)arg;
	if (!ring_span(ch, &tail, &head))
		corrupt(ch);
	if (head != tail)
		return 1;
	if (cur == 0 || !(how & LATE))
		return 0;
	/* In a stream: its writer must still be there to finish it. */
	open = atomic_load(&ch->h->wopen);
	w = atomic_load(&ch->h->wtoken);
	if (open == cur && alive(w))
		return 0;
	if (atomic_load(&ch->h->head) != head)
		return 1;
	errx(1, "%s: message truncated (writer went away)", ch->name);
}

/*
 * Fill the batch from the records queued at tail: whole messages, the
 * queued part of a stream, and remains to skip.  Returns 1 if the stream
 * we are in was aborted.
 */
static int
fill(long want)
{
	uint64_t tail, head, pos, end, sz;
	int aborted, began, i, nrec, done = 0;
	struct rec r;

	if (!ring_span(&chan, &tail, &head))
		corrupt(&chan);
	for (pos = tail; pos != head && b.nrec < NREC && b.ncut < NREC &&
	    done < want; pos += sz) {
		if ((sz = rec_get(&chan, pos, head, &r)) == 0)
			corrupt(&chan);
		began = 0;
		if (cur == 0 && (!(r.flags & REC_FIRST) ||
		    r.seq == atomic_load(&chan.h->rin))) {
			/* the remains of a stream whose reader left */
			atomic_store(&chan.h->abandoned, r.seq);
			if (r.flags & REC_LAST)
				atomic_store(&chan.h->rin, 0);
			cut(pos + sz, 0);
			continue;
		}
		if (cur == 0 && (r.flags & REC_LAST) && !(r.flags & REC_ABORT)) {
			add_rec(pos, &r);	/* the common case: one record */
			cut(pos + sz, 1);
			done++;
			continue;
		}
		if (cur == 0) {
			end = msg_end(pos, head, &aborted, &nrec);
			if (end != 0 && aborted) {
				vlog("skipping aborted message %llu",
				    (unsigned long long)r.seq);
				sz = end - pos;
				cut(end, 0);
				continue;
			}
			if (end != 0 && b.nrec + nrec <= NREC) {
				/* again, as the headers may have changed */
				for (i = 1; add_rec(pos, &r), i < nrec; i++) {
					pos += sz;
					if ((sz = rec_get(&chan, pos, head, &r)) == 0
					    || (r.flags & REC_FIRST))
						corrupt(&chan);
				}
				if (pos + sz != end)
					corrupt(&chan);
				cut(end, 1);
				done++;
				continue;
			}
			if (b.ncut > 0)
				break;
			cur = r.seq;	/* a stream: out as it comes */
			atomic_store(&chan.h->rin, cur);
			began = 1;
		}
		if (r.seq != cur || (!began && (r.flags & REC_FIRST)))
			corrupt(&chan);
		if (r.flags & REC_ABORT) {
			atomic_store(&chan.h->rin, 0);
			cut(pos + sz, 0);
			return 1;
		}
		add_rec(pos, &r);
		cut(pos + sz, (r.flags & REC_LAST) != 0);
		if (r.flags & REC_LAST) {
			atomic_store(&chan.h->rin, 0);
			cur = 0;
			done++;
		}
	}
	return 0;
}

/* Free the ring up to the last cut that is out. */
static int
consume(int from, size_t out, long *done)
{
	int i;

	for (i = from; i < b.ncut && b.cut[i].bytes <= out; i++)
		*done += b.cut[i].done;
	if (i > from) {
		atomic_store(&chan.h->tail, b.cut[i - 1].pos);
		ring_bell(&chan, SPACE);
		vlog("wrote %zu bytes, consumed up to %llu", out,
		    (unsigned long long)b.cut[i - 1].pos);
	}
	return i;
}

/*
 * Write the batch out, freeing the ring as it goes out, so that a writer
 * can refill it while a slow pipe takes the rest.  Returns the messages
 * done.
 */
static long
flush(void)
{
	struct iovec *iov = b.iov;
	int n = b.niov, next = 0;
	size_t out = 0;
	long done = 0;
	ssize_t w;

	while ((next = consume(next, out, &done)), n > 0) {
		if ((w = io(1, STDOUT_FILENO, iov, n < IOV_MAX ? n : IOV_MAX))
		    == -1) {
			if (errno == EINTR && !caught)
				continue;
			if (errno == EPIPE && !pipe_ignored)
				caught = SIGPIPE;
			check_signal();
			err(1, "write error");
		}
		out += (size_t)w;
		for (; n > 0 && (size_t)w >= iov->iov_len; iov++, n--)
			w -= (ssize_t)iov->iov_len;
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
	b.niov = b.ncut = b.nrec = 0;
	b.bytes = b.staged = 0;
	return done;
}

static void
leave(void)
{
	if (!holding || broken)
		return;
	if (cur != 0)	/* tell its writer to stop */
		atomic_store(&chan.h->abandoned, cur);
	holding = 0;
	token_give(&chan, READERS);
}

/* Take count messages, or for ever if count < 0. */
static void
take_messages(long count)
{
	int aborted;

	while (count != 0) {
		if (!holding) {
			token_take(&chan, READERS);
			holding = 1;
		}
		await(&chan, DATA, data_ready, NULL, cur != 0 ?
		    "the rest of the message" : "a message");
		aborted = fill(count < 0 ? NREC : count);
		count -= flush();
		if (aborted) {
			cur = 0;
			errx(1, "%s: message truncated (writer went away)",
			    chan.name);
		}
		/* Between messages, let other readers have a turn. */
		if (cur == 0 && atomic_load(&chan.h->sleepers[READERS]) > 0) {
			holding = 0;
			token_give(&chan, READERS);
		}
	}
}

static void
print_pids(const struct ch *ch, const char *label, uint32_t role)
{
	uint64_t id;
	int i;

	printf("%s:", label);
	for (i = 0; i < NSLOT; i++) {
		id = atomic_load(&ch->h->slot[i].id);
		if (atomic_load(&ch->h->slot[i].role) == role && alive(id))
			printf(" %u", (unsigned)(id & 0xffffffffU));
	}
	putchar('\n');
}

/* Bytes and messages queued, from a scan that no reader disturbed. */
static void
queued(const struct ch *ch, uint64_t *bytes, long *msgs)
{
	uint64_t tail, head;
	int i;

	for (i = 0; i < 100; i++) {
		if (!ring_span(ch, &tail, &head))
			continue;
		*bytes = head - tail;
		*msgs = ring_count(ch, tail, head);
		if (atomic_load(&ch->h->tail) == tail && *msgs >= 0)
			return;
	}
	corrupt(ch);
}

static void
status(const char *name)
{
	struct ch *ch = &chan;
	struct passwd *pw;
	struct stat st;
	uint64_t bytes;
	long msgs;
	int i;

	if (chan_peek(ch, name, 1) == -1)
		errx(1, "%s: %s", name, errno == ENOENT ? "no such channel" :
		    strerror(errno));
	if (fstat(ch->fd, &st) == -1)
		err(1, "%s: fstat", name);
	queued(ch, &bytes, &msgs);
	pw = getpwuid(st.st_uid);
	printf("name: %s\n", name);
	printf("objects: " SHMDIR "%s", ch->shm + 1);
	for (i = 0; i < NBELL; i++)
		printf(" " SHMDIR "sem.%s", ch->sem[i] + 1);
	putchar('\n');
	printf("owner: %s (uid %u)\n", pw != NULL ? pw->pw_name : "?",
	    (unsigned)st.st_uid);
	printf("mode: %04o\n", (unsigned)(st.st_mode & 07777));
	printf("capacity: %llu\n", (unsigned long long)ch->cap);
	printf("queued: %llu bytes, %ld messages\n",
	    (unsigned long long)bytes, msgs);
	print_pids(ch, "writers", 'w');
	print_pids(ch, "readers", 'r');
	unmap(ch);
}

/*
 * One line for a channel: one being built or gone is not listed, one we
 * may not read is listed without its numbers.
 */
static void
list_one(const char *name)
{
	uint64_t bytes;
	long msgs;

	any_owner = 1;		/* only looked at */
	if (chan_peek(&chan, name, 0) == 0) {
		queued(&chan, &bytes, &msgs);
		printf("%s %llu %llu %ld\n", name,
		    (unsigned long long)chan.cap, (unsigned long long)bytes,
		    msgs);
	} else if (errno == EACCES)
		printf("%s ? ? ?\n", name);
	else if (errno != ENOENT && errno != EAGAIN)
		err(1, "%s", name);
	exit(fflush(stdout) == 0 ? 0 : 1);
}

/* Each channel is looked at by a child, so a bad one costs only its line. */
static int
list(void)
{
	struct dirent *d;
	int rc = 0, st;
	DIR *dir;
	pid_t pid;

	if ((dir = opendir(SHMDIR)) == NULL)
		err(1, "%s", SHMDIR);
	while ((d = readdir(dir)) != NULL) {
		if (strncmp(d->d_name, PREFIX, strlen(PREFIX)) != 0)
			continue;
		(void)fflush(stdout);
		if ((pid = fork()) == -1)
			err(1, "fork");
		if (pid == 0)
			list_one(d->d_name + strlen(PREFIX));
		if (waitpid(pid, &st, 0) == -1 || st != 0)
			rc = 1;
	}
	(void)closedir(dir);
	return rc;
}

int
main(int argc, char *argv[])
{
	enum { OPT_ANY = 256, OPT_LIST, OPT_STATUS };
	static const struct option longopts[] = {
		{ "any-owner",	no_argument,		NULL, OPT_ANY },
		{ "count",	required_argument,	NULL, 'c' },
		{ "follow",	no_argument,		NULL, 'f' },
		{ "help",	no_argument,		NULL, 'h' },
		{ "list",	no_argument,		NULL, OPT_LIST },
		{ "mode",	required_argument,	NULL, 'm' },
		{ "name",	required_argument,	NULL, 'n' },
		{ "remove",	no_argument,		NULL, 'r' },
		{ "size",	required_argument,	NULL, 's' },
		{ "status",	no_argument,		NULL, OPT_STATUS },
		{ "timeout",	required_argument,	NULL, 't' },
		{ "version",	no_argument,		NULL, 'V' },
		{ "verbose",	no_argument,		NULL, 'v' },
		{ NULL,		0,			NULL, 0 }
	};
	const char *name = DEFAULT_NAME;
	uint64_t cap = DEFAULT_CAP;
	int ch, cflag = 0, fflag = 0, lflag = 0, rflag = 0, sflag = 0;
	int statflag = 0, rc = 0;
	long count = 1;
	mode_t mode = 0600;
	char *end;

	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":c:fhm:n:rs:t:Vv", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case OPT_ANY:
			any_owner = 1;
			break;
		case 'c':
			errno = 0;
			count = strtol(optarg, &end, 10);
			if (end == optarg || *end != '\0' || errno != 0 ||
			    count < 1)
				badarg("count", optarg);
			cflag = 1;
			break;
		case 'f':
			fflag = 1;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return fclose(stdout) == 0 ? 0 : 1;
		case OPT_LIST:
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
		case OPT_STATUS:
			statflag = 1;
			break;
		case 't':
			timeout = parse_seconds(optarg);
			break;
		case 'V':
			puts("shmread " VERSION);
			return fclose(stdout) == 0 ? 0 : 1;
		case 'v':
			verbose = 1;
			break;
		default:
			badopt(ch, argv[optind - 1]);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc > 0) {
		warnx("unexpected operand: '%s'", argv[0]);
		usage();
	}
	if (cflag && fflag) {
		warnx("-c and -f exclude each other");
		usage();
	}
	if (lflag + rflag + statflag > 1) {
		warnx("--list, --remove and --status exclude each other");
		usage();
	}

	(void)signal(SIGBUS, on_sigbus);
	if (rflag)
		chan_remove(name);
	else if (statflag)
		status(name);
	else if (lflag)
		rc = list();
	else {
		catch_signals();
		(void)chan_open(name, 'r', cap, sflag, mode);
		if (atexit(leave) != 0)
			err(1, "atexit");
		take_messages(fflag ? -1 : count);
	}
	if (fclose(stdout) != 0)
		err(1, "stdout");
	return rc;
}
