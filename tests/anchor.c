/*
 * anchor - what make bench measures the tools against
 *
 *   anchor lockstep-write NAME < in     a textbook shared memory pair: one
 *   anchor lockstep-read NAME > out     64 KiB buffer, two semaphores, the
 *                                       sides taking turns (as in TLPI)
 *   anchor mq-send NAME < lines         each line a POSIX message queue
 *   anchor mq-recv NAME COUNT > out     message, COUNT of them taken
 *   anchor ping COUNT OUT IN            COUNT round trips of a short line,
 *                                       out through OUT and back through
 *                                       IN; prints p50 and p99 in us
 *
 * The sides meet on NAME, which the writer creates and the reader removes.
 */
#include <sys/mman.h>
#include <sys/stat.h>

#include <err.h>
#include <fcntl.h>
#include <mqueue.h>
#include <semaphore.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BUF	(64 * 1024)
#define MSGMAX	64		/* the line messages the bench sends */

struct pair {
	volatile int ready;	/* the semaphores are set up */
	sem_t full, empty;
	size_t len;		/* 0: the end */
	char buf[BUF];
};

/* The writer makes the pair; the reader waits until it is ready. */
static struct pair *
pair_map(const char *name, int create)
{
	struct timespec nap = { 0, 100000 };
	struct pair *p;
	int fd;

	while ((fd = shm_open(name, O_RDWR | (create ? O_CREAT | O_EXCL : 0),
	    0600)) == -1 && !create)
		(void)nanosleep(&nap, NULL);
	if (fd == -1 || (create && ftruncate(fd, sizeof(*p)) == -1))
		err(1, "%s", name);
	while (!create && lseek(fd, 0, SEEK_END) < (off_t)sizeof(*p))
		(void)nanosleep(&nap, NULL);
	p = mmap(NULL, sizeof(*p), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		err(1, "mmap");
	(void)close(fd);
	if (create && (sem_init(&p->full, 1, 0) == -1 ||
	    sem_init(&p->empty, 1, 1) == -1))
		err(1, "sem_init");
	if (create)
		__atomic_store_n(&p->ready, 1, __ATOMIC_RELEASE);
	while (!__atomic_load_n(&p->ready, __ATOMIC_ACQUIRE))
		(void)nanosleep(&nap, NULL);
	return p;
}

static void
writeall(int fd, const char *p, size_t n)
{
	ssize_t w;

	for (; n > 0; p += w, n -= (size_t)w)
		if ((w = write(fd, p, n)) == -1)
			err(1, "write");
}

static void
lockstep_write(const char *name)
{
	struct pair *p = pair_map(name, 1);
	ssize_t n;

	do {
		if (sem_wait(&p->empty) == -1)
			err(1, "sem_wait");
		if ((n = read(STDIN_FILENO, p->buf, BUF)) == -1)
			err(1, "read");
		p->len = (size_t)n;
		(void)sem_post(&p->full);
	} while (n > 0);
}

static void
lockstep_read(const char *name)
{
	struct pair *p = pair_map(name, 0);

	for (;;) {
		if (sem_wait(&p->full) == -1)
			err(1, "sem_wait");
		if (p->len == 0)
			break;
		writeall(STDOUT_FILENO, p->buf, p->len);
		(void)sem_post(&p->empty);
	}
	(void)shm_unlink(name);
}

static void
mq_send_lines(const char *name)
{
	struct mq_attr a = { .mq_maxmsg = 10, .mq_msgsize = MSGMAX };
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	mqd_t q;

	if ((q = mq_open(name, O_WRONLY | O_CREAT | O_EXCL, 0600, &a)) == -1)
		err(1, "mq_open %s", name);
	while ((n = getline(&line, &cap, stdin)) > 0)
		if (mq_send(q, line, (size_t)n < MSGMAX ? (size_t)n : MSGMAX,
		    0) == -1)
			err(1, "mq_send");
	free(line);
}

static void
mq_recv_lines(const char *name, long count)
{
	static char out[BUF];
	size_t have = 0;
	ssize_t n;
	mqd_t q;

	while ((q = mq_open(name, O_RDONLY)) == -1)
		;
	for (; count > 0; count--) {
		if (have + MSGMAX > sizeof(out)) {
			writeall(STDOUT_FILENO, out, have);
			have = 0;
		}
		if ((n = mq_receive(q, out + have, MSGMAX, NULL)) == -1)
			err(1, "mq_receive");
		have += (size_t)n;
	}
	writeall(STDOUT_FILENO, out, have);
	(void)mq_unlink(name);
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
now_us(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* count round trips of a line out through out and back through in */
static void
ping(long count, const char *out, const char *in)
{
	double *t, t0;
	char line[32], back[32];
	int ofd, ifd, n;
	size_t got;
	ssize_t r;
	long i;

	if ((t = calloc((size_t)count, sizeof(*t))) == NULL)
		err(1, NULL);
	if ((ofd = open(out, O_WRONLY)) == -1 || (ifd = open(in, O_RDONLY)) == -1)
		err(1, "open");
	for (i = 0; i < count; i++) {
		n = snprintf(line, sizeof(line), "ping %ld\n", i);
		t0 = now_us();
		writeall(ofd, line, (size_t)n);
		for (got = 0; got < (size_t)n; got += (size_t)r)
			if ((r = read(ifd, back + got, (size_t)n - got)) <= 0)
				errx(1, "no answer to ping %ld", i);
		t[i] = now_us() - t0;
		if (memcmp(line, back, (size_t)n) != 0)
			errx(1, "ping %ld came back wrong", i);
	}
	qsort(t, (size_t)count, sizeof(*t), cmp_double);
	printf("%.1f %.1f\n", t[count / 2], t[count * 99 / 100]);
	free(t);
}

int
main(int argc, char *argv[])
{
	if (argc == 3 && strcmp(argv[1], "lockstep-write") == 0)
		lockstep_write(argv[2]);
	else if (argc == 3 && strcmp(argv[1], "lockstep-read") == 0)
		lockstep_read(argv[2]);
	else if (argc == 3 && strcmp(argv[1], "mq-send") == 0)
		mq_send_lines(argv[2]);
	else if (argc == 4 && strcmp(argv[1], "mq-recv") == 0)
		mq_recv_lines(argv[2], atol(argv[3]));
	else if (argc == 5 && strcmp(argv[1], "ping") == 0)
		ping(atol(argv[2]), argv[3], argv[4]);
	else {
		fputs("usage: anchor lockstep-write|lockstep-read NAME\n"
		    "       anchor mq-send NAME | mq-recv NAME COUNT\n"
		    "       anchor ping COUNT OUT IN\n", stderr);
		return 2;
	}
	return 0;
}
