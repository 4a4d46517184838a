/*
 * common.h - the channel protocol of shmwrite(1) and shmread(1), and what
 * the two tools share: a single-file library in three blocks.
 *
 *   1. THE CONTRACT, always: this essay, the wire format (struct seg, its
 *      offsets pinned by SEG_AT), the public statuses (enum ch_status),
 *      the handle (struct chan) and the prototypes (ch_*).  No code.
 *   2. THE PROTOCOL, with SHMRW_IMPLEMENTATION defined: the ch_* functions
 *      and their helpers, in the order of this essay, each section headed
 *      by the name of the paragraph it implements.  It never prints, never
 *      exits and reads no tool state; what can fail returns a status.
 *   3. WHAT THE TOOLS SHARE, with SHMRW_TOOLS defined: options, signals,
 *      messages and exit statuses, -v, -r, --status and --list.
 * Each tool defines both and includes this file once; tests/layout.c
 * includes the contract alone.  README.md and the man pages summarise
 * this essay; it is the one reference.
 *
 * OBJECTS.  A channel NAME is five objects in /dev/shm: the segment
 * shmrw.NAME (shm_open "/shmrw.NAME") and four named semaphores, the
 * bells, sem.shmrw.NAME.GEN.b for b in r, w, d, s.  GEN is a random
 * number the creator writes in the header, so that the bells of a channel
 * being removed and of a new one under the same name are never confused.
 * Using a channel takes read and write permission on all five; looking at
 * it (--status, --list) takes read permission on the segment.  Each class
 * of users may read and write a channel, or neither: whoever could read it
 * but not write it could still hold locks on it (see SLOTS AND LIVENESS)
 * and stop those who use it.
 *
 * THE SEGMENT is one header page (struct seg) and a ring of cap bytes, a
 * power of two from 4K to 1G.  head and tail count the bytes ever
 * published and ever consumed; position p lives at ring[p & (cap - 1)],
 * and head - tail bytes are queued (held, on a broadcast channel, which
 * nobody consumes: see BROADCAST).  A writer never lets head - tail pass
 * cap - RECSZ: the last RECSZ bytes stay free so that an ABORT record can
 * always be written (see CRASHES).  The ring's pages are allocated as the
 * writers first get to them, ALLOC_STEP at a time, with posix_fallocate(3),
 * and alloc says how far: a full /dev/shm is an error a writer can report,
 * never a SIGBUS, and a channel costs only the memory it has used.
 *
 * RECORDS.  The ring holds records: an 8-byte header, then len bytes of
 * data padded to 8, so that a header never wraps (data may).  The header
 * is one 64-bit word, seq << 32 | flags | len: the message number (never
 * 0), and len (at most REC_LENMAX) with five flags above it.  A message is
 * its records from the one marked FIRST to the one marked LAST, all with
 * its seq.  ABORT on a LAST record: the message was cut short (see
 * CRASHES).  SYNC on a FIRST record: its writer waits to hear that it was
 * taken (-w).  The reader that takes it sets TAKEN, and a writer that gives
 * up withdraws it by setting ABORT on that FIRST record instead, both by
 * compare-and-swap [S] on its header word, so exactly one of them wins.  A
 * message already TAKEN is withdrawn only by a writer that holds the read
 * token: then no reader is writing it out (its taker died, or gave it up
 * when its output failed).  A message whose FIRST record carries ABORT is
 * dropped whole.
 *
 * HOW A MESSAGE TRAVELS.
 *  1. A writer takes the write token (wtoken) and builds messages in the
 *     free part of the ring: records beyond head, which nobody reads.  A
 *     message that fits is published whole, by one store to head, after
 *     its LAST record was written; one that can never fit, and every
 *     stream (shmwrite's standard input), is published as it comes, and
 *     its number is kept in wopen meanwhile.
 *  2. A reader takes the read token (rtoken) and looks at the records from
 *     tail to head.  A whole message is written out and only then
 *     consumed, by one store to tail, so that a failed write loses
 *     nothing.  A stream is written out and consumed as it comes; its
 *     number is kept in rin meanwhile.
 *  3. On a broadcast channel each reader reads from a position of its
 *     own, and nothing is consumed (see BROADCAST).
 *
 * WHO WRITES WHAT.  The creator writes the identity fields - magic,
 * version, gen, cap, flags and name - before the state becomes LIVE;
 * nobody writes them afterwards.  Only the wtoken holder writes head, seq,
 * wopen, alloc, over and the ring beyond head, and on a broadcast channel
 * tail.  Only the rtoken holder writes a queue's tail and rin.  Readers
 * write abandoned, and so does the writer that hands a number out again
 * (see STREAMS).  A writer waiting with -w changes the header word of
 * its own SYNC record, and to withdraw one already TAKEN it takes rtoken
 * for a moment (see RECORDS); a reader changes the header word of a SYNC
 * record it takes.  The holder of the name lock writes state and namepid
 * (see STATES).  Each process writes
 * its own slot - a subscriber's or a tap's position too - and its own
 * bits in asleep[] and hold[]; the bits a dead process left are cleared
 * by whoever finds them (see SLOTS AND LIVENESS).
 *
 * PUBLICATION, each store paired by name with the load that it serves:
 *  [W1] the writer's store-release of head, after the records below it,
 *       pairs with [R1], the reader's load-acquire of head before it reads
 *       them: a reader never sees a record that was not complete.
 *  [R2] the reader's store-release of tail, after it read or wrote out
 *       the bytes below it, pairs with [W2], the writer's load-acquire of
 *       tail before it overwrites them.
 *  [B1] the fence a process issues after changing a condition, before it
 *       looks who sleeps, pairs with [B2], the fence a sleeper issues after
 *       setting its bit in asleep[], before it looks at the condition once
 *       more: either the sleeper sees the change, or the changer sees the
 *       sleeper and posts its bell.  The tokens and asleep[] are changed
 *       with seq_cst operations, so a compare-and-swap of a token orders as
 *       the fence does: tok_give() looks at the sleepers right after the
 *       one that frees the token.  No wake-up is lost for a
 *       condition that rings a bell (head, tail, the tokens, the state);
 *       setting abandoned rings none: its writer sees it when it next
 *       publishes, or after a slice.  No system call is made when nobody
 *       sleeps.
 *  [R3] a subscriber's store-release of its position, after it wrote out
 *       the bytes below it, pairs with [W3], the writer's load-acquire of
 *       the positions before it overwrites them, as [R2] with [W2].
 *  [P1] the fence a broadcast writer issues after publishing head, and
 *       after moving over, before it looks at the positions, pairs with
 *       [P2], the fence a subscriber issues after storing its position,
 *       before it looks at head (or over) again: either the writer sees
 *       the position, or the subscriber sees what the writer had done.
 *  [L1] the writer's store-release of over, then a fence, before it
 *       writes anything that overwrites the bytes below over, pairs with
 *       [L2], the fence a lossy reader issues after it copied bytes out of
 *       the ring, before it loads over: if over has not passed the start
 *       of the copy, nothing in it was overwritten, as in a seqlock.
 *
 * SLOTS AND LIVENESS.  A process attached to a channel holds slot i: an
 * open file description lock (F_OFD_SETLK) on byte LK_SLOT + i of the
 * segment, taken when it attaches and dropped by the kernel when it closes
 * the segment or dies, in whatever pid or time namespace.  On attaching,
 * it bumps the slot's epoch, clears the slot's bits in asleep[] that a
 * dead owner left, and writes its pid and role there.  It is known by its
 * id, epoch << 32 | (i + 1), and is alive while the lock of slot i is held
 * (F_OFD_GETLK) and the epoch there is still its own: a recycled pid can
 * never pass for a live process.  An id in a process's own slot is never
 * another live process to it: a token that names it while it does not
 * hold it was scribbled, and it takes the token back.  Whoever finds the
 * bits of a dead process in asleep[] takes that slot's lock for a moment
 * to clear them (slot_reap(): it neither keeps the slot nor bumps its
 * epoch).
 *
 * BELLS.  One kind of waiter a bell: READERS and WRITERS, processes waiting
 * for the read or write token; DATA (head moved), the rtoken holder
 * waiting for data; SPACE (tail moved), the wtoken holder waiting for room
 * and -w writers waiting for their message to be taken.  Before sleeping,
 * a waiter looks again a few times (SPIN_TRIES), yielding the CPU in
 * between.  Then it sets its bit in asleep[bell], looks once more [B2] and
 * sleeps on the bell for at most SLICE_NS.  After a slice it looks for dead
 * peers, for a removed or truncated segment, and at its deadline.  A bell
 * must be the segment owner's and have one name, as the segment.  A post
 * wakes whoever takes it first; so that the readers of a broadcast
 * channel, all asleep on DATA, do not take each other's, one about to
 * sleep lets those run first that were posted for and have data to read,
 * one woken with nothing to read passes its post on to them, and a writer
 * about to wait for one of them posts again (bell_defer(), w_kick()).
 *
 * TOKENS.  wtoken and rtoken hold 0 (free), a holder's id, or HANDOFF.
 * They are taken by compare-and-swap.  A writer keeps wtoken for a whole
 * message (with -l, for the lines it has read whole at once); a reader
 * keeps rtoken while it takes messages, and gives it back between two
 * messages when another reader sleeps for it.  A token given back while a
 * live process sleeps for it becomes HANDOFF, and its bell is posted.
 * HANDOFF is for a waiter woken by a post or by the end of a slice: not
 * for the one who gave it back and came straight back, which may take it
 * only once it has slept a slice itself, or once no live process sleeps
 * for it.  A bell is one semaphore for all who sleep on it, and a post may
 * wake another waiter than the one it was meant for, which then waits for
 * its slice to end.  So waiters are not served in order, and nothing
 * bounds how many turns one of several waiters may lose; but a giver
 * cannot keep a token from those who wait for it.  Whether the holder of a
 * token is gone - dead, us (see SLOTS AND LIVENESS), or a HANDOFF that no
 * live process sleeps for - is judged in one place, tok_gone().
 *
 * THE NAME LOCK, on byte LK_NAME, is held by whoever builds, removes or
 * takes back the channel, and it writes its pid in namepid while it does
 * (-r tells who keeps a channel busy).  Nobody unlinks the segment's name
 * without holding the name lock of the object that the name leads to and
 * checking, under that lock, that it still leads there: so nobody ever
 * unlinks a channel other than the one it looked at.
 *
 * STATES of the segment:
 *   BUILDING  the creator made the object (O_CREAT | O_EXCL) and holds the
 *             name lock while it sizes it, writes the header, creates the
 *             bells and attaches; then LIVE, and it drops the lock.
 *   LIVE      in use.
 *   DYING     the last process to leave, holding the name lock, checks
 *             that nobody else is attached and nothing is queued (what a
 *             broadcast channel holds counts for nothing), and sets
 *             DYING; then it probes every slot lock again, and either sets
 *             REMOVED and unlinks the five objects, or finds someone and
 *             goes back to LIVE.  A process attaches by taking its slot
 *             lock, then reading state: the kernel orders the lock
 *             operations, so of the two one sees the other.
 *   REMOVED   set before anything is unlinked, by whoever removes the
 *             channel: -r, the last one out, or the repair of what a dead
 *             remover left.  Attached processes leave with "channel
 *             removed".
 * A channel made with -k (KEEP) is never removed for being empty, and a
 * process that may not unlink the channel (another user's, in the sticky
 * /dev/shm) never starts removing it.
 *
 * STREAMS.  wopen holds the number of the stream being written, rin the
 * number of the stream being written out, abandoned the number of a
 * stream that its reader gave up.  A writer sets wopen before it publishes
 * a stream's first record and clears it after the last.  A reader sets rin
 * when it begins a stream and clears it once the stream's end is written
 * out: until then, if the reader dies, the stream was not all delivered.
 * A stream's writer stops ("reader went away", as EPIPE would) when
 * abandoned names its stream, or when rin names it and the rtoken holder
 * died.  abandoned is set by a reader that leaves a stream it began, and by
 * any reader that finds at tail what was left of one - records with no
 * FIRST, or a FIRST whose number is rin - and skips it.  A writer clears
 * abandoned when it hands that number out again, 2^32 messages later.
 *
 * BROADCAST.  A channel made with -b (flags BCAST) has no takers.  Each
 * of its readers, a subscriber, reads from its own position, pos in its
 * slot, up to head, what every other subscriber reads too; it takes no
 * token and writes neither TAKEN, rin nor abandoned.  Nothing is
 * consumed: tail is the writer's, the oldest record not yet overwritten,
 * and what lies from tail to head is held, for whoever is behind and for
 * --from-oldest; it keeps nobody waiting and no channel in being.
 *  - A subscriber that the writer waits for (BCAST without LOSSY) sets
 *    its bit in hold[] and stores its position, head as it saw it, then
 *    looks at head again [P2], until the two agree.  From then on it gets
 *    every message whose FIRST record is at or after its position, in
 *    order, each whole, a stream as it comes; the rest of a stream it met
 *    in the middle is skipped.  After writing out it stores its position
 *    [R3] and rings SPACE.  With --from-oldest it starts at over, the
 *    oldest record held, and looks at over again instead of head.
 *  - The writer, short of room, looks at the positions in hold[] [P1]
 *    [W3], and moves tail over whole records, never past the oldest of
 *    them nor past head: with nobody to wait for, it never waits, and the
 *    oldest records are overwritten.  It moves tail a little further than
 *    it needs (cap / 8), so that this is seldom done.  It stores over as
 *    tail, before it writes anything that overwrites what is below [L1],
 *    then looks at the positions once more [P1], for a subscriber that
 *    took the oldest record as its start meanwhile, and does not write
 *    past what that one has not read.  Short of room still, it waits on
 *    SPACE.  A position is untrusted input: one above head, more than a
 *    ring below it, or not 8-aligned is not believed; so a hostile one
 *    never makes the writer write outside the room it has, a bit in
 *    hold[] whose slot's lock is free is cleared once the writer is late
 *    (slot_reap()), and a subscriber that waits says its position and its
 *    bit again each slice (r_own_place()): a false but plausible position
 *    holds the writer back a slice at most.  So a subscriber that dies
 *    holds the writer back for a slice or two; one that is stopped holds
 *    it back for as long as it is stopped, as a stopped reader of tee(1)
 *    holds tee.
 *  - A lossy subscriber (every subscriber of a channel made with --lossy:
 *    flags LOSSY) and a tap (shmread --tap, on either kind) hold nobody
 *    back: they set no bit in hold[], and the writer may overwrite what
 *    they have not read yet.  So they copy what they read out of the ring
 *    and keep the copy only if over, loaded after the copy [L2], has not
 *    passed its start; else, and whenever over has passed their position,
 *    they were lapped.  They start again at over, at its next FIRST; a
 *    stream they were writing out ends there, cut short; and the message
 *    numbers between the last one they saw and the next one they deliver,
 *    or the stream they land in the middle of, are what they missed, told
 *    to the tool at once.  Nothing torn is delivered.
 *    Before its first message a reader counts from the one before the
 *    record at its place, or from seq if its place was head: a writer may
 *    have numbered messages then that it published after, the one case
 *    where the count is short.  On a queue, over is the tail the writer
 *    last looked at: a tap shows what readers take, as long as it is not
 *    overwritten; a stream it writes out that ends in ABORT while
 *    abandoned names it was left by its reader, not by its writer: the
 *    tap missed it, as if lapped, and goes on.
 *  - Leaving, a subscriber clears its bit in hold[] and rings SPACE.
 *
 * CRASHES: what a dead process leaves, and who repairs it.
 *  - A creator: BUILDING with the name lock free.  The next process to
 *    open the name takes the lock and unlinks what was made; one that may
 *    not unlink it (another user's, in the sticky /dev/shm) can only say
 *    so (left half-built) until the owner or root comes.
 *  - A writer: wtoken held by the dead.  The next writer takes it over
 *    and, if wopen names a stream, ends it with an ABORT record (there is
 *    always room for one).  A reader of that stream does not wait for the
 *    next writer: after a slice with head still and the wtoken holder
 *    dead, it stops.  A reader that comes to such a stream only later
 *    writes it out as far as it came, and stops the same way: "message
 *    truncated (writer went away)".  Nothing the writer had not published
 *    is seen.
 *  - A reader: rtoken held by the dead.  The next reader takes it over.  A
 *    whole message that it was writing out is still queued (at least
 *    once).  The rest of a stream that it was writing out is skipped by
 *    whichever reader finds it at tail (see STREAMS).
 *  - A sleeper: its bit in asleep[] costs a spurious post until someone
 *    clears it (see SLOTS AND LIVENESS).  A HANDOFF meant for it is taken
 *    after a slice, or at once if no live process sleeps.
 *  - A remover: DYING or REMOVED with the name lock free.  The next
 *    process takes the lock, and removes the channel or takes it back.
 *  - A -w writer: its SYNC message stays and is delivered as any other.
 *  - A subscriber: its bit in hold[], cleared by the writer once it is
 *    late (see BROADCAST), or by the next owner of its slot.
 *  - A broadcast writer that moved tail but not over: the next writer
 *    stores over as tail before it writes.
 * So a process killed at any point holds up the others for about a second
 * at most: a few slices.  A process that is stopped (SIGSTOP) holds what it
 * holds - a token, a stream, the name lock - for as long as it is stopped,
 * as a stopped reader of a pipe does; the others' -t bounds their wait.
 *
 * UNTRUSTED INPUT.  Anyone who may write a channel may write anything in
 * it.  Every object is judged by one validator, obj_inspect(), from the
 * descriptor opened: type, links, owner, mode, size and header; cap
 * against the size.  Every index, token and record header is copied to a
 * local and checked before it is used, a subscriber's position too;
 * alloc is believed only as far as the object's blocks go; a run of
 * small messages is consumed by the lengths the reader took, not read
 * again; a lossy reader reads only within the ring, and a copy that does
 * not add up is judged by over first.  --status and --list open
 * without blocking and only read the segment, with pread(2), so a hostile
 * one cannot crash or hang them; names found in /dev/shm pass the same
 * rules as -n.
 *
 * WHAT IT NEEDS.  Linux and glibc: POSIX shared memory and named
 * semaphores in /dev/shm, whose files are written here as sem_init(3) lays
 * a semaphore out and under glibc's "sem." names (so that a creator killed
 * half-way leaves no temporary file behind); sem_clockwait (glibc 2.30),
 * F_OFD_SETLK (Linux 3.15), getrandom (glibc 2.25), SEEK_HOLE on tmpfs.
 * It builds with glibc 2.30 or later; built with 2.34 or later, where the
 * semaphore calls moved into libc, the binaries need 2.34.
 */
#ifndef SHMRW_H
#define SHMRW_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE		/* F_OFD_SETLK, sem_clockwait, getrandom */
#endif
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include <ctype.h>
#include <dirent.h>
#include <err.h>
#include <fnmatch.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <pwd.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

/* ==== 1. THE CONTRACT ================================================ */


/* ---- the wire format ----------------------------------------------- */

#define SEG_MAGIC	"shmrw\0\r\n"
#define SEG_VERSION	4		/* bumped on every change of layout */
#define SEG_HDRSZ	36864		/* the header's pages; the ring follows */
#define SEG_KEEP	1U		/* flags: kept when empty (-k) */
#define SEG_BCAST	2U		/* a broadcast channel (-b) */
#define SEG_LOSSY	4U		/* ... whose writer never waits (--lossy) */
#define NSLOT		256		/* processes attached at once */
#define NAME_LEN	200		/* "sem.shmrw." NAME ".GEN.b" < NAME_MAX */
#define NAME_PREFIX	"shmrw."
#define SHM_DIR		"/dev/shm/"
#define MIN_CAP		((uint64_t)4096)
#define MAX_CAP		((uint64_t)1 << 30)
#define ALLOC_STEP	((uint64_t)64 * 1024)	/* the ring is allocated so */

enum { ST_BUILDING, ST_LIVE, ST_DYING, ST_REMOVED };
enum { BELL_READERS, BELL_WRITERS, BELL_DATA, BELL_SPACE, NBELL };
#define BELL_LETTERS	"rwds"		/* the bells' names end in these */

#define LK_NAME		0		/* lock offsets in the segment */
#define LK_SLOT		1		/* ... slot i: LK_SLOT + i */

#define TOKEN_FREE	((uint64_t)0)
#define TOKEN_HANDOFF	((uint64_t)1 << 63)	/* ids stay below */
#define EPOCH_MASK	0x7fffffffU

#define RECSZ		((uint64_t)8)
#define REC_LENMAX	((1U << 27) - 1)
#define REC_FIRST	(1U << 27)
#define REC_LAST	(1U << 28)
#define REC_ABORT	(1U << 29)
#define REC_SYNC	(1U << 30)
#define REC_TAKEN	(1U << 31)
#define REC_PAD(n)	(((uint64_t)(n) + 7) & ~(uint64_t)7)
#define REC_HDR(seq, flags, len) \
	((uint64_t)(seq) << 32 | (uint32_t)(flags) | (uint32_t)(len))

#define CMD_LEN		104		/* of a command line, as a slot keeps it */
struct slot {
	_Atomic uint32_t epoch;		/* bumped by each new owner */
	_Atomic int32_t pid;		/* in its own pid namespace: shown */
	_Atomic uint32_t role;		/* 'r', 'w', 's' or 't' */
	_Atomic uint32_t uid;		/* its user: shown */
	_Atomic uint64_t pos;		/* a subscriber's or tap's (BROADCAST) */
	char cmd[CMD_LEN];		/* its command line, cut short: shown */
};

/*
 * The header.  What the writer changes as it goes and what the
 * reader does live on cache lines of their own, so that neither side
 * slows the other down.
 */
struct seg {
	char magic[8];
	uint32_t version;
	uint32_t gen;			/* names the bells */
	uint64_t cap;
	uint32_t flags;			/* SEG_KEEP */
	_Atomic uint32_t state;
	_Atomic uint64_t wtoken, rtoken;
	_Atomic int32_t namepid;	/* the name lock's holder, if it says */

	_Alignas(64) _Atomic uint64_t head;
	_Atomic uint32_t seq;		/* the last message number used */
	_Atomic uint32_t wopen;		/* the stream being written, or 0 */
	_Atomic uint64_t alloc;		/* ring bytes allocated, from 0 */
	_Atomic uint64_t over;		/* the writer overwrites below this */

	_Alignas(64) _Atomic uint64_t tail;
	_Atomic uint32_t rin;		/* the stream being written out */
	_Atomic uint32_t abandoned;	/* a stream its reader gave up */

	_Alignas(64) _Atomic uint64_t asleep[NBELL][NSLOT / 64];
	_Atomic uint64_t hold[NSLOT / 64];	/* subscribers waited for */

	char name[NAME_LEN + 8];	/* NUL-terminated: the channel's */
	_Alignas(64) struct slot slot[NSLOT];
};

/* The layout is the protocol: any change here bumps SEG_VERSION. */
#define SEG_AT(field, off) \
	_Static_assert(offsetof(struct seg, field) == (off), #field " moved")
SEG_AT(magic, 0);
SEG_AT(version, 8);
SEG_AT(gen, 12);
SEG_AT(cap, 16);
SEG_AT(flags, 24);
SEG_AT(state, 28);
SEG_AT(wtoken, 32);
SEG_AT(rtoken, 40);
SEG_AT(namepid, 48);
SEG_AT(head, 64);
SEG_AT(seq, 72);
SEG_AT(wopen, 76);
SEG_AT(alloc, 80);
SEG_AT(over, 88);
SEG_AT(tail, 128);
SEG_AT(rin, 136);
SEG_AT(abandoned, 140);
SEG_AT(asleep, 192);
SEG_AT(hold, 320);
SEG_AT(name, 352);
SEG_AT(slot, 576);
_Static_assert(sizeof(struct slot) == 128, "slot size changed");
_Static_assert(sizeof(struct seg) <= SEG_HDRSZ, "header larger than its pages");
_Static_assert(SEG_HDRSZ % 4096 == 0, "the ring must start on a page");
_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "need lock-free 64-bit atomics");

/* ---- the interface: a handle, statuses and prototypes ------------- */

enum ch_status {
	CH_OK,
	CH_ESYS,	/* a system call failed: see errnum and what */
	CH_ETIMEDOUT,	/* a wait ran out (-t) */
	CH_EINTR,	/* a signal was caught: see ch_caught */
	CH_ENOENT,	/* no such channel */
	CH_ENOTCHAN,	/* the object is not a channel */
	CH_ELINKED,	/* the object has other names (hard links) */
	CH_EFOREIGN,	/* owned by another user (see any_owner) */
	CH_ECORRUPT,	/* what the segment holds does not add up */
	CH_ETRUNC,	/* the segment is shorter than it says */
	CH_EREMOVED,	/* removed while in use */
	CH_EFULL,	/* NSLOT processes are attached already */
	CH_EDEAD,	/* left half-built by a process that died */
	CH_EWRITER,	/* the stream we write out lost its writer */
	CH_EREADER,	/* the stream we write lost its reader */
	CH_EOUTPUT,	/* nobody reads the output any more (watch_fd) */
	CH_EBUSY,	/* a live process builds or removes it (see namepid) */
	CH_EINUSE,	/* not stale: attached, queued, kept, or not LIVE */
	CH_ENOTBCAST,	/* -b: the channel is a queue */
	CH_ENOTLOSSY,	/* --lossy: the channel is not lossy */
	CH_ENOTQUEUE	/* -w: the channel is a broadcast channel */
};

/* What -v narrates: notes, and events that come fast and get summed up. */
enum { EV_NOTE, EV_PUBLISH, EV_CONSUME, EV_POST, EV_NOPOST, EV_SPIN,
	EV_SLEEP, EV_WAKE, EV_SLICE, EV_N };

/* How a channel is made if it does not exist, and whom to trust. */
struct ch_make {
	uint64_t cap;
	mode_t mode;
	int keep;		/* -k */
	int any_owner;		/* --any-owner */
	int existing;		/* -e: open it only if it exists */
	unsigned kind;		/* SEG_BCAST, SEG_LOSSY: made so, or refused */
	int queue;		/* -w: refuse a broadcast channel */
	int oldest;		/* --from-oldest: a subscriber or tap starts
				   at the oldest record held */
	const char *cmd;	/* what we are, for our slot (--status) */
};

/* A writer's place in the ring (NONE: no such thing). */
struct ch_writer {
	int holding;		/* we hold the write token */
	int stream;		/* the message is published as it comes */
	uint64_t pos;		/* end of the records we closed */
	uint64_t head;		/* what we published */
	uint64_t tail;		/* tail as last seen: room is at least this */
	uint64_t alloc;		/* ring bytes allocated, as we know */
	uint64_t msg;		/* the message being built starts here */
	uint64_t rec;		/* the open record's header is here */
	uint32_t len;		/* data in the open record */
	uint32_t seq;		/* the message being built */
	uint32_t flags;		/* for its next record: FIRST, SYNC */
	int64_t looked;		/* when we last looked at a stream's reader */
	uint64_t first_pos, first_hdr;	/* the last SYNC record, for -w */
	uint64_t btail;		/* broadcast: tail, as we moved it */
};

/* How a reader reads (see BROADCAST). */
enum { R_QUEUE, R_SUB, R_LOSSY };

struct ch_reader {
	int mode;		/* R_QUEUE: takes; R_SUB: waited for; R_LOSSY:
				   a lossy subscriber, or a tap */
	int holding;		/* we hold the read token */
	uint32_t cur;		/* the stream we are in, or 0 */
	uint64_t pos;		/* R_SUB, R_LOSSY: where we read */
	uint32_t last;		/* ... the last message number seen */
	int gap;		/* ... lapped: count the gap at the next FIRST */
	int lost;		/* ... and a stream cut short, then */
};

/* A process's handle on a channel. */
struct chan {
	char name[NAME_LEN + 1];
	char shm[sizeof("/" NAME_PREFIX) + NAME_LEN];
	char sem[NBELL][sizeof("/" NAME_PREFIX) + NAME_LEN + 12];
	int fd;
	struct seg *seg;
	unsigned char *ring;
	uint64_t cap;
	unsigned flags;		/* the channel's: SEG_BCAST, SEG_LOSSY */
	uid_t uid;		/* the segment's owner */
	sem_t *bell[NBELL];
	int slot;		/* ours, or -1 */
	uint64_t id;		/* epoch << 32 | slot + 1 */
	int created;		/* we made it */
	int broken;		/* not to be touched again */
	pid_t busy_pid;		/* -r: who holds the name lock (0: unknown) */
	struct ch_writer w;
	struct ch_reader r;
	/* the last error: the call that failed (or NULL), and its errno */
	const char *what;
	int errnum;
	/*
	 * Settings, kept by ch_open() and ch_remove(), all off when zero: the
	 * longest wait (< 0: none); a flag that ends every wait and busy loop
	 * with CH_EINTR once it is set (the tool's signal handler sets it); a
	 * descriptor whose reader's leaving ends a wait (> 0: shmread's
	 * output); the tool's narrator (-v).
	 */
	int64_t timeout_ns;
	volatile sig_atomic_t *stop;
	int watch_fd;
	void (*narrate)(int ev, uint64_t n, const char *fmt, va_list ap);
};

/*
 * Bytes past the end that small copies may touch: readable after what
 * ch_send_records() is given, writable after a batch's stage.
 */
#define CH_SLACK	16
#define CUT_RUN		1	/* the messages are small, of one record: on a
				   write cut short, walk them one by one */
#define CUT_END		2	/* the stream being written out ends there */

/*
 * A reader's batch: what one writev() of the tool puts out.  Small
 * payloads are gathered in stage; cut[] says up to where the ring may be
 * consumed once that many bytes are out.
 */
#define BATCH_REC	4096	/* records a batch, at most */
#define BATCH_STAGE	(64 * 1024)
#define BATCH_SMALL	256	/* payloads up to this go through stage */
enum { TR_LAPPED = 1, TR_READER };	/* why a lossy reader's stream ends */
struct ch_batch {
	struct iovec iov[2 * BATCH_REC];
	int niov;
	size_t bytes;
	char stage[BATCH_STAGE + CH_SLACK];
	size_t staged;
	struct ch_cut {
		uint64_t pos;	/* consume up to here ... */
		size_t bytes;	/* ... once this much is out */
		int done;	/* messages completed there */
		int how;	/* CUT_RUN, CUT_END */
		int first;	/* CUT_RUN: its lengths from runlen[first] */
	} cut[BATCH_REC];
	uint16_t runlen[BATCH_REC];	/* of the small messages, in order */
	int ncut, nrec, used, nrun;
	uint64_t wpos;		/* how far the cut in use was walked */
	size_t wbytes;
	int wdone;
	int aborted;		/* the stream we write out ends cut short */
	uint32_t last;		/* the last message number taken */
	long missed;		/* R_LOSSY: messages missed before these */
	int truncated;		/* R_LOSSY: the stream being written out
				   ends here, cut short: TR_* */
	char *copy;		/* R_LOSSY: payloads copied out of the ring */
	size_t ncopy;
};

/* What --status and --list show of a channel. */
struct ch_info {
	uid_t uid;
	mode_t mode;
	int state;		/* ST_*, or -1: damaged */
	const char *damage;	/* why it is, if so */
	int readable;		/* we could read the segment */
	uint64_t cap;
	int keep;
	unsigned kind;		/* SEG_BCAST, SEG_LOSSY */
	int subs;		/* subscribers attached */
	uint64_t maxlag;	/* ... the largest lag, payload bytes */
	uint64_t bytes;		/* payload bytes queued */
	long msgs;		/* messages queued, whole */
	uint32_t gen;
	uint64_t head, tail;	/* as read, with ... */
	uint32_t seq;		/* ... the last message number */
	uint64_t alloc;
	int stale;		/* LIVE, nobody attached, nothing queued, not kept */
	pid_t wholder, rholder;	/* the tokens' holders: 0 free, -1 HANDOFF,
				   -2 one that is gone */
	int procs;
	struct ch_proc {
		pid_t pid;
		uid_t uid;
		char role;	/* 'r', 'w', 's' or 't', as it said */
		int bell;	/* asleep on this bell, or -1 */
		uint64_t pos;	/* 's', 't': where it reads, as it said */
		uint64_t lag;	/* ... payload bytes it has still to read */
		long lagmsgs;	/* ... whole messages (-1: cannot tell) */
		char cmd[CMD_LEN + 1];	/* as it said: to be escaped */
	} proc[NSLOT];
};

/*
 * The interface: the tools' only door into the protocol.  Defined with
 * external linkage below, as a single-file library is, so that what a
 * tool does not use draws no warning.
 */
#define CH_API	extern

/* Opening and leaving. */
CH_API int ch_open(struct chan *, const char *name, int role,
    const struct ch_make *);
CH_API void ch_close(struct chan *);
CH_API int ch_remove(struct chan *, const char *name);
CH_API int ch_prune(struct chan *, const char *name);
CH_API int ch_look(const char *name, struct ch_info *);
CH_API int ch_valid_name(const char *, size_t);
CH_API int ch_mode_ok(mode_t);

/* Writing: begin, build messages, publish, end; -w waits with sync. */
CH_API int ch_wbegin(struct chan *);
CH_API int ch_msg_begin(struct chan *, int stream, int sync);
CH_API int ch_reserve(struct chan *, size_t min, size_t max,
    struct iovec iov[2], int *niov, size_t *room);
CH_API void ch_add(struct chan *, size_t n);
CH_API int ch_write(struct chan *, const void *, size_t);
CH_API int ch_send(struct chan *, const void *, size_t);
CH_API size_t ch_send_records(struct chan *, const char *, size_t, int delim);
CH_API int ch_msg_end(struct chan *);
CH_API int ch_publish(struct chan *);
CH_API int ch_wend(struct chan *);
CH_API int ch_sync(struct chan *);

/* Reading: the next batch, and what of it went out. */
CH_API int ch_next(struct chan *, struct ch_batch *, long want);
CH_API int ch_consume(struct chan *, struct ch_batch *, size_t out,
    long *done);

#endif /* SHMRW_H */

/* ==== 2. THE PROTOCOL ================================================ */
#ifdef SHMRW_IMPLEMENTATION

/* Statuses that never leave this block: the loops here act on them. */
enum {
	CH_AGAIN = 64,	/* not yet: look again */
	CH_RETRY	/* repaired what the dead left: look again now */
};

#define NONE		UINT64_MAX	/* no such position */
#define SLICE_NS	100000000LL	/* longest blind sleep: bounds recovery */
#define NAP_NS		1000000LL	/* between two looks at a busy name */
#define LATE_NS		10000000LL	/* a stream's writer looks at its reader */
#define SPIN_TRIES	64		/* looks before a sleep ... */
#define SPIN_PAUSES	16		/* ... the first after a pause, then yields */

typedef int ready_fn(struct chan *, void *, int how);

/*
 * Injection points, in the test build only (cc -DSHM_INJECT; make check
 * builds it in tests/inject): a test stops, kills or delays a process at
 * a named step of the protocol, runs a competitor, and lets it go on.
 * SHMRW_INJECT is a list of POINT[@HIT]=ACTION, comma-separated: at the
 * HIT-th pass (default 1) through POINT, ACTION: stop (SIGSTOP: the test
 * sends SIGCONT), kill (SIGKILL), or a number: sleep that many ms.  A
 * POINT of * matches every point.  In any other build INJECT() is nothing.
 */
#ifdef SHM_INJECT
static void
inject(const char *point)
{
	static struct { char point[40], action[16]; long hit, seen; } spec[16];
	static int nspec = -1;
	const char *env, *p;
	char item[64];
	int i, n;

	if (nspec < 0) {
		nspec = 0;
		for (p = (env = getenv("SHMRW_INJECT")) ? env : ""; *p != '\0' &&
		    nspec < 16; p += n + (p[n] == ',')) {
			n = (int)strcspn(p, ",");
			(void)snprintf(item, sizeof(item), "%.*s", n, p);
			spec[nspec].hit = 1;
			if (sscanf(item, "%39[^@=]@%ld=%15s", spec[nspec].point,
			    &spec[nspec].hit, spec[nspec].action) == 3 ||
			    sscanf(item, "%39[^@=]=%15s", spec[nspec].point,
			    spec[nspec].action) == 2)
				nspec++;
		}
	}
	for (i = 0; i < nspec; i++) {
		if (strcmp(spec[i].point, point) != 0 &&
		    strcmp(spec[i].point, "*") != 0)
			continue;
		if (++spec[i].seen != spec[i].hit)
			continue;
		if (strcmp(spec[i].action, "stop") == 0)
			(void)raise(SIGSTOP);
		else if (strcmp(spec[i].action, "kill") == 0)
			(void)raise(SIGKILL);
		else {
			struct timespec ts = { 0, atol(spec[i].action) % 1000 *
			    1000000L };

			ts.tv_sec = atol(spec[i].action) / 1000;
			(void)nanosleep(&ts, NULL);
		}
	}
}
#define INJECT(point)	inject(point)
#else
#define INJECT(point)	((void)0)
#endif

/* A few cycles' wait that tells the CPU we are spinning. */
static inline void
t_pause(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}
enum { HOW_LATE = 1, HOW_STALE = 2, HOW_WOKEN = 4 };

/* A wait, as bell_await() keeps it for bell_doze() and for -v. */
struct wait {
	int bell;
	const char *what;	/* what we wait for, as -v says it */
	int64_t start;		/* when the wait began */
	int slept;		/* slices slept on the bell so far */
	int how;		/* how ready() is asked next (HOW_*) */
};

struct rec {
	uint64_t hdr;
	uint32_t len, flags, seq;
};

static int64_t
t_now(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t
t_deadline(const struct chan *c)
{
	return c->timeout_ns < 0 ? -1 : t_now() + c->timeout_ns;
}

static void
trace(const struct chan *c, int ev, uint64_t n, const char *fmt, ...)
{
	va_list ap;

	if (c->narrate == NULL)
		return;
	va_start(ap, fmt);
	c->narrate(ev, n, fmt, ap);
	va_end(ap);
}

/* Has the tool asked us to stop (a signal)? */
static int
ch_stopped(const struct chan *c)
{
	return c->stop != NULL && *c->stop != 0;
}

/* A system call failed: keep what and errno for the tool to tell. */
static int
e_sys(struct chan *c, const char *what)
{
	c->errnum = errno;
	c->what = what;
	return CH_ESYS;
}

/* The segment cannot be trusted any more: leave it alone from now on. */
static int
e_corrupt(struct chan *c)
{
	c->broken = 1;
	return CH_ECORRUPT;
}

static void
t_nap(int64_t ns)
{
	struct timespec ts = { (time_t)(ns / 1000000000), (long)(ns % 1000000000) };

	(void)nanosleep(&ts, NULL);
}

/* ==== OBJECTS ========================================================= */
/* See OBJECTS, and UNTRUSTED INPUT: names, the one validator, mapping. */


int
ch_valid_name(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > NAME_LEN)
		return 0;
	for (i = 0; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && strchr("._-", s[i]) == NULL)
			return 0;
	return 1;
}

static void
obj_names(struct chan *c, uint32_t gen)
{
	int i;

	(void)snprintf(c->shm, sizeof(c->shm), "/" NAME_PREFIX "%s", c->name);
	for (i = 0; i < NBELL; i++)
		(void)snprintf(c->sem[i], sizeof(c->sem[i]), "/" NAME_PREFIX
		    "%s.%08x.%c", c->name, (unsigned)gen, BELL_LETTERS[i]);
}

/* The path in /dev/shm of the segment (sem 0) or of a bell (sem 1). */
static void
obj_path(char *buf, size_t n, const char *obj, int sem)
{
	(void)snprintf(buf, n, SHM_DIR "%s%s", sem ? "sem." : "", obj + 1);
}

static void
obj_init(struct chan *c, const char *name)
{
	memset(c, 0, offsetof(struct chan, timeout_ns));
	(void)snprintf(c->name, sizeof(c->name), "%s", name);
	c->fd = -1;
	c->slot = -1;
	obj_names(c, 0);
}

/*
 * A descriptor of ours never takes the number 0, 1 or 2: what a tool
 * writes to its standard output must not land in a channel.
 */
static int
obj_fd(int fd)
{
	int nfd;

	if (fd < 0 || fd > STDERR_FILENO)
		return fd;
	nfd = fcntl(fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
	(void)close(fd);
	return nfd;
}

/*
 * shm_open() failed: was it for something at the name that is not a
 * regular file (glibc says EINVAL for a directory, the kernel ELOOP for a
 * symlink)?
 */
static int
obj_open_failed(struct chan *c)
{
	char path[sizeof(SHM_DIR) + sizeof(c->shm)];
	struct stat st;
	int e = errno;

	obj_path(path, sizeof(path), c->shm, 0);
	if (e != ENOENT && lstat(path, &st) == 0 && !S_ISREG(st.st_mode))
		return CH_ENOTCHAN;
	errno = e;
	return e == ENOENT ? CH_ENOENT : e_sys(c, NULL);
}

/* May we unlink it?  In the sticky /dev/shm: if it is ours, or we are root. */
static int
obj_may_unlink(const struct chan *c)
{
	return c->uid == geteuid() || geteuid() == 0;
}

/* With the name lock held: unlink the segment if the name still leads to it. */
static int
obj_unlink_seg(struct chan *c)
{
	char path[sizeof(SHM_DIR) + sizeof(c->shm)];
	struct stat fst, nst;

	obj_path(path, sizeof(path), c->shm, 0);
	INJECT("unlink.seg");
	if (fstat(c->fd, &fst) == 0 && lstat(path, &nst) == 0 &&
	    fst.st_ino == nst.st_ino && fst.st_dev == nst.st_dev) {
		trace(c, EV_NOTE, 0, "shm_unlink %s", c->shm);
		if (shm_unlink(c->shm) == -1 && errno != ENOENT)
			return e_sys(c, "shm_unlink");
	}
	return CH_OK;
}

/*
 * With the name lock held: unlink the bells, then the segment (a bell
 * is looked for only through its segment).  obj_may_unlink() can be wrong -
 * in a user namespace, say - so a failure is told; if the first unlink
 * fails, nothing is gone and *intact says so.
 */
static int
obj_unlink_all(struct chan *c, int *intact)
{
	int i, r = CH_OK;

	*intact = 0;
	for (i = 0; i < NBELL; i++) {
		INJECT("unlink.sem");
		if (sem_unlink(c->sem[i]) == 0)
			trace(c, EV_NOTE, 0, "sem_unlink %s", c->sem[i]);
		else if (errno != ENOENT && r == CH_OK) {
			r = e_sys(c, "sem_unlink");
			if (i == 0) {
				*intact = 1;
				return r;
			}
		}
	}
	return obj_unlink_seg(c) != CH_OK ? CH_ESYS : r;
}

static void
seg_unmap(struct chan *c)
{
	int i;

	for (i = 0; i < NBELL; i++) {
		if (c->bell[i] != NULL)
			(void)sem_close(c->bell[i]);
		c->bell[i] = NULL;
	}
	if (c->seg != NULL)
		(void)munmap(c->seg, SEG_HDRSZ + c->cap);
	if (c->fd != -1)
		(void)close(c->fd);	/* drops our locks */
	c->seg = NULL;
	c->ring = NULL;
	c->fd = -1;
	c->slot = -1;
}

/*
 * May a channel have this mode?  Each class - owner, group, others - may
 * read and write it, or neither: whoever could only read it could hold
 * locks on it (an OFD read lock needs no more) and stop those who use it.
 */
int
ch_mode_ok(mode_t mode)
{
	int k;

	if ((mode & 0600) != 0600)
		return 0;
	for (k = 0; k < 9; k += 3)
		if (((mode >> k) & 4) != ((mode >> k) & 2) << 1)
			return 0;
	return 1;
}

/*
 * What an object at a channel's name is, judged from an open descriptor:
 * the one validator, for those who use, remove, repair or look at it.
 */
enum {
	OBJ_ODD,	/* not a regular file */
	OBJ_LINKED,	/* it has other names (hard links) */
	OBJ_GONE,	/* removed since it was opened */
	OBJ_NOTCHAN,	/* what it holds is not a channel of this name */
	OBJ_BUILDING,	/* what a creator made so far: empty, zeros, or our
			   header still BUILDING (see CRASHES) */
	OBJ_CHANNEL	/* a channel: cap, state, gen and flags are read */
};
struct obj {
	uid_t uid;
	mode_t mode;
	uint64_t cap;
	uint32_t state, gen, flags;
};

static int
obj_judge(int fd, const char *name, struct obj *o, struct seg *hp)
{
	struct seg *const h = hp;
	struct stat st;
	size_t i;

	memset(o, 0, sizeof(*o));
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode))
		return OBJ_ODD;
	o->uid = st.st_uid;
	o->mode = st.st_mode & 07777;
	if (st.st_nlink != 1)
		return st.st_nlink == 0 ? OBJ_GONE : OBJ_LINKED;
	if (st.st_size == 0)
		return OBJ_BUILDING;
	if (pread(fd, h, sizeof(*h), 0) != (ssize_t)sizeof(*h))
		return OBJ_NOTCHAN;
	for (i = 0; i < sizeof(*h) && ((const char *)h)[i] == 0; i++)
		;
	if (memchr(h->name, '\0', sizeof(h->name)) == NULL)
		return OBJ_NOTCHAN;
	o->gen = h->gen;
	o->state = atomic_load(&h->state);
	if (i == sizeof(*h) || (memcmp(h->magic, SEG_MAGIC, sizeof(h->magic)) ==
	    0 && o->state == ST_BUILDING && (h->name[0] == '\0' ||
	    strcmp(h->name, name) == 0)))
		return OBJ_BUILDING;
	o->cap = (uint64_t)st.st_size - SEG_HDRSZ;
	o->flags = h->flags;
	if ((uint64_t)st.st_size < SEG_HDRSZ + MIN_CAP || o->cap > MAX_CAP ||
	    (o->cap & (o->cap - 1)) != 0 || h->cap != o->cap ||
	    memcmp(h->magic, SEG_MAGIC, sizeof(h->magic)) != 0 ||
	    h->version != SEG_VERSION || strcmp(h->name, name) != 0 ||
	    o->state > ST_REMOVED || !ch_mode_ok(o->mode))
		return OBJ_NOTCHAN;
	return OBJ_CHANNEL;
}

/* obj_judge(), for those who need not see the header themselves. */
static int
obj_inspect(int fd, const char *name, struct obj *o)
{
	struct seg h;

	return obj_judge(fd, name, o, &h);
}

static int
seg_map(struct chan *c, uint64_t cap, int prot)
{
	void *p = mmap(NULL, SEG_HDRSZ + cap, prot, MAP_SHARED, c->fd, 0);

	if (p == MAP_FAILED)
		return e_sys(c, "mmap");
	c->seg = p;
	c->ring = (unsigned char *)p + SEG_HDRSZ;
	c->cap = cap;
	return CH_OK;
}

/* ==== THE SEGMENT, RECORDS ============================================ */
/* The ring and the records in it. */


static int
ring_iov(const struct chan *c, uint64_t pos, uint64_t len, struct iovec *iov)
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

static void
ring_copy(const struct chan *c, uint64_t pos, const void *src, uint64_t len)
{
	struct iovec iov[2];
	int i, n = ring_iov(c, pos, len, iov);

	for (i = 0; i < n; i++) {
		memcpy(iov[i].iov_base, src, iov[i].iov_len);
		src = (const char *)src + iov[i].iov_len;
	}
}

/* The header word of the record at pos (8-aligned: it never wraps). */
static _Atomic uint64_t *
rec_word(const struct chan *c, uint64_t pos)
{
	return (_Atomic uint64_t *)(void *)(c->ring + (pos & (c->cap - 1)));
}

/*
 * Decode a record header found room bytes below head.  Returns the size
 * of the record in the ring, or 0 if no record can look like that.
 */
static uint64_t
rec_check(uint64_t hdr, uint64_t room, struct rec *r)
{
	r->hdr = hdr;
	r->len = (uint32_t)hdr & REC_LENMAX;
	r->flags = (uint32_t)hdr & ~REC_LENMAX;
	r->seq = (uint32_t)(hdr >> 32);
	if (r->seq == 0 || room < RECSZ || REC_PAD(r->len) > room - RECSZ ||
	    ((r->flags & REC_SYNC) && !(r->flags & REC_FIRST)) ||
	    ((r->flags & REC_TAKEN) && !(r->flags & REC_SYNC)) ||
	    ((r->flags & REC_ABORT) && !(r->flags & (REC_LAST | REC_SYNC))))
		return 0;
	return RECSZ + REC_PAD(r->len);
}

static uint64_t
rec_get(const struct chan *c, uint64_t pos, uint64_t head, struct rec *r)
{
	if (pos % 8 != 0 || head - pos > c->cap)
		return 0;
	return rec_check(atomic_load_explicit(rec_word(c, pos),
	    memory_order_relaxed), head - pos, r);
}

/* How to read a record header: from the mapping, or with pread. */
typedef int hdr_fn(void *ctx, uint64_t pos, uint64_t *hdr);

/*
 * What a reader would deliver from the records in [tail, head): whole
 * messages, and the payload bytes of those, of a stream still open, and
 * of the rest of one begun before tail (a reader in its middle writes it
 * out).  -1 if the records do not add up.
 */
static int
ring_sum(hdr_fn *get, void *ctx, uint64_t tail, uint64_t head, uint64_t cap,
    uint64_t *bytes, long *msgs)
{
	uint64_t pos, sz, hdr, mb = 0;
	uint32_t in = 0;
	int drop = 0, rest = 0;
	struct rec r;

	*bytes = 0;
	*msgs = 0;
	if (head - tail > cap || tail % 8 != 0 || head % 8 != 0)
		return -1;
	for (pos = tail; pos != head; pos += sz) {
		if (get(ctx, pos, &hdr) != 0 ||
		    (sz = rec_check(hdr, head - pos, &r)) == 0)
			return -1;
		if (r.flags & REC_FIRST) {
			if (in != 0)
				return -1;
			in = r.seq;
			mb = 0;
			drop = (r.flags & REC_ABORT) != 0;	/* withdrawn */
		} else if (pos == tail) {
			in = r.seq;
			rest = 1;
		} else if (in != 0 && r.seq != in)
			return -1;
		mb += r.len;
		if ((r.flags & REC_LAST) && in != 0) {
			if (rest)
				*bytes += mb;	/* out, cut or not: not whole */
			else if (!drop && !(r.flags & REC_ABORT)) {
				++*msgs;
				*bytes += mb;
			}
			in = 0;
			rest = 0;
		}
	}
	if (in != 0 && !drop)
		*bytes += mb;
	return 0;
}

static int
ring_hdr_mapped(void *ctx, uint64_t pos, uint64_t *hdr)
{
	*hdr = atomic_load_explicit(rec_word(ctx, pos), memory_order_relaxed);
	return 0;
}

/*
 * No whole message is queued: the channel may go.  What a broadcast
 * channel holds keeps nobody waiting: it may go whatever it holds.
 */
static int
ring_nothing_queued(struct chan *c)
{
	uint64_t bytes;
	long msgs;

	return (c->seg->flags & SEG_BCAST) || (ring_sum(ring_hdr_mapped, c,
	    atomic_load(&c->seg->tail), atomic_load(&c->seg->head), c->cap,
	    &bytes, &msgs) == 0 && msgs == 0);
}

/* ==== SLOTS AND LIVENESS ============================================== */
/* Locks, slots, and who is alive. */


/*
 * An open file description lock on [off, off + len) of the segment.  For
 * F_OFD_GETLK: the offset of the first lock that another description
 * holds there, or -1 if there is none.
 */
static off_t
lk_op(int fd, int cmd, short type, off_t off, off_t len)
{
	struct flock fl = { .l_type = type, .l_whence = SEEK_SET,
		.l_start = off, .l_len = len };

	if (fcntl(fd, cmd, &fl) == -1)
		return cmd == F_OFD_GETLK ? off : -2;	/* cannot tell: held */
	if (cmd != F_OFD_GETLK)
		return 0;
	return fl.l_type == F_UNLCK ? -1 : fl.l_start;
}

static int
lk_try(int fd, off_t off)
{
	return lk_op(fd, F_OFD_SETLK, F_WRLCK, off, 1) == 0 ? 0 : -1;
}

static void
lk_drop(int fd, off_t off)
{
	(void)lk_op(fd, F_OFD_SETLK, F_UNLCK, off, 1);
}

/* Does another process hold a lock in [off, off + len)? */
static int
lk_held(int fd, off_t off, off_t len)
{
	return lk_op(fd, F_OFD_GETLK, F_WRLCK, off, len) != -1;
}


static int
slot_alive(const struct chan *c, int s)
{
	return s == c->slot || lk_held(c->fd, LK_SLOT + s, 1);
}

/*
 * Is another process known by id attached?  Garbage is not, and neither
 * is an id in our own slot: a token that names us while we do not hold
 * it was scribbled, and is taken back rather than waited for.
 */
static int
slot_id_alive(const struct chan *c, uint64_t id)
{
	uint32_t s = (uint32_t)id;

	if (id == TOKEN_FREE || id >= TOKEN_HANDOFF || s < 1 || s > NSLOT ||
	    (int)s - 1 == c->slot)
		return 0;
	return (id >> 32) == atomic_load(&c->seg->slot[s - 1].epoch) &&
	    lk_held(c->fd, LK_SLOT + (off_t)s - 1, 1);
}

/*
 * With the lock of slot s held: clear what its last owner left, asleep
 * and waited for (see BROADCAST).
 */
static void
slot_clear_bits(struct chan *c, int s)
{
	uint64_t bit = (uint64_t)1 << (s % 64);
	int b;

	for (b = 0; b < NBELL; b++)
		atomic_fetch_and(&c->seg->asleep[b][s / 64], ~bit);
	atomic_fetch_and(&c->seg->hold[s / 64], ~bit);
}

/* A dead process's bits in asleep[] and hold[], cleared under its lock. */
static void
slot_reap(struct chan *c, int s)
{
	if (s == c->slot || lk_try(c->fd, LK_SLOT + s) != 0)
		return;
	trace(c, EV_NOTE, 0, "slot %d: its process died: clearing its bits", s);
	slot_clear_bits(c, s);
	lk_drop(c->fd, LK_SLOT + s);
}

/* ==== BELLS =========================================================== */
/* Waiting without a system call when nobody sleeps: [B1], [B2]. */


/*
 * The semaphore of bell b, opened the first time it is needed: most
 * processes never sleep nor post.  It must be the segment owner's and have
 * one name, as the segment.  NULL if not, with the reason in *st.
 */
static sem_t *
bell_sem(struct chan *c, int b, int *st)
{
	char path[sizeof(SHM_DIR) + sizeof(c->sem[0]) + 4];
	struct stat sb;

	if (c->bell[b] != NULL)
		return c->bell[b];
	obj_path(path, sizeof(path), c->sem[b], 1);
	if (lstat(path, &sb) == 0 && (!S_ISREG(sb.st_mode) ||
	    sb.st_nlink != 1 || sb.st_uid != c->uid)) {
		*st = CH_ENOTCHAN;
		return NULL;
	}
	if ((c->bell[b] = sem_open(c->sem[b], 0)) == SEM_FAILED) {
		c->bell[b] = NULL;
		if (errno != ENOENT)
			*st = e_sys(c, "sem_open");
		else
			*st = atomic_load(&c->seg->state) == ST_LIVE ?
			    CH_ENOTCHAN : CH_EREMOVED;
		return NULL;
	}
	trace(c, EV_NOTE, 0, "sem_open %s: opened", c->sem[b]);
	return c->bell[b];
}

static int
bell_nasleep(const struct chan *c, int bell)
{
	int i, n = 0;

	for (i = 0; i < NSLOT / 64; i++)
		n += __builtin_popcountll(atomic_load(&c->seg->asleep[bell][i]));
	return n;
}

/*
 * Does a live process other than us sleep on bell - with data to read, if
 * needy (on DATA: a subscriber's or tap's position says, a queue's reader
 * reads from tail)?  The dead are reaped.
 */
static int
bell_live_sleeper(struct chan *c, int bell, int needy)
{
	uint64_t head = needy ? atomic_load(&c->seg->head) : 0, bits, p;
	int i, s;

	for (i = 0; i < NSLOT / 64; i++) {
		bits = atomic_load(&c->seg->asleep[bell][i]);
		for (; bits != 0; bits &= bits - 1) {
			s = i * 64 + __builtin_ctzll(bits);
			if (s == c->slot)
				continue;
			if (needy && ((p = atomic_load(&c->seg->slot[s].pos)) ==
			    NONE ? head == atomic_load(&c->seg->tail) : p >= head))
				continue;
			if (slot_alive(c, s))
				return 1;
			slot_reap(c, s);
		}
	}
	return 0;
}

static void
bell_post(struct chan *c, int b, int n)
{
	sem_t *s;
	int st;

	if ((s = bell_sem(c, b, &st)) == NULL)
		return;		/* its sleepers wake at the end of a slice */
	trace(c, EV_POST, (uint64_t)n, "sem_post %s: wakes %d", c->sem[b], n);
	while (n-- > 0)
		(void)sem_post(s);
}

/*
 * We changed what the sleepers on bell wait for: wake each of them that
 * is not woken yet.  Nobody asleep, no system call.
 */
static void
bell_ring(struct chan *c, int b)
{
	sem_t *s;
	int n, v, st;

	atomic_thread_fence(memory_order_seq_cst);	/* [B1] */
	if ((n = bell_nasleep(c, b)) == 0) {
		trace(c, EV_NOPOST, 0, "nobody asleep on %s: no post",
		    c->sem[b] + 1);
		return;
	}
	if ((s = bell_sem(c, b, &st)) != NULL && sem_getvalue(s, &v) == 0 && v > 0)
		n -= v;			/* woken already, not yet running */
	if (n > 0)
		bell_post(c, b, n);
}

/*
 * Before sleeping, look again a few times, giving up the CPU in between:
 * the other side is often about to say yes, and a sleep costs both sides
 * a system call.  Yielding rather than spinning in place lets the other
 * side run when both share a CPU; when it has one of its own, a yield
 * returns at once and this is a short spin.
 */
static int
bell_spin(struct chan *c, ready_fn *ready, void *arg)
{
	int i, st = CH_AGAIN;

	for (i = 0; i < SPIN_TRIES && st == CH_AGAIN; i++) {
		if (i < SPIN_PAUSES)
			t_pause();
		else
			(void)sched_yield();
		st = ready(c, arg, 0);
	}
	if (st != CH_AGAIN)
		trace(c, EV_SPIN, (uint64_t)i, "ready after %d looks: no sleep", i);
	return st;
}

/*
 * Nobody will read our standard output: the far end of its pipe or socket
 * is closed.  So `shmread -f | head -1` ends when head does, not at the
 * next message, as a write would end it.
 */
static int
bell_out_gone(int fd)
{
	struct pollfd p = { fd, 0, 0 };

	return poll(&p, 1, 0) == 1 && (p.revents & (POLLERR | POLLHUP));
}

/*
 * One semaphore serves all who sleep on a bell, and a post wakes whoever
 * takes it first.  Readers of a broadcast channel all sleep on DATA: one
 * that is done and sleeps again at once would take the posts meant for
 * those woken but not yet running, which would sleep out their slice -
 * and the writer, waiting for them, as long.  So a reader about to sleep
 * while posts are pending and another sleeper has data to read lets it
 * run first, a few times; one woken by a post with nothing to read
 * passes the post on to such a sleeper.  A post left by a sleeper that
 * went away is taken as any other.
 */
static int
bell_defer(struct chan *c, struct wait *w, sem_t *s, ready_fn *ready,
    void *arg)
{
	int i, v, st = CH_AGAIN;

	for (i = 0; w->bell == BELL_DATA && i < SPIN_TRIES && st == CH_AGAIN &&
	    sem_getvalue(s, &v) == 0 && v > 0 &&
	    bell_live_sleeper(c, BELL_DATA, 1); i++) {
		(void)sched_yield();
		st = ready(c, arg, 0);
	}
	return st;
}

static int
bell_pass(struct chan *c, struct wait *w, sem_t *s, ready_fn *ready,
    void *arg)
{
	int st = ready(c, arg, HOW_WOKEN);

	if (st != CH_AGAIN || w->bell != BELL_DATA ||
	    !bell_live_sleeper(c, BELL_DATA, 1))
		return st;
	trace(c, EV_POST, 1, "sem_post %s: not ours, passed on",
	    c->sem[w->bell]);
	(void)sem_post(s);
	(void)sched_yield();
	return CH_AGAIN;
}

/*
 * Sleep on bell until a post or until, once we are seen asleep, unless
 * ready() says yes by then.  How we woke goes to *how.
 */
static int
bell_doze(struct chan *c, struct wait *w, ready_fn *ready, void *arg,
    int64_t until)
{
	_Atomic uint64_t *word = &c->seg->asleep[w->bell][c->slot / 64];
	uint64_t bit = (uint64_t)1 << (c->slot % 64);
	struct timespec ts = { (time_t)(until / 1000000000),
		(long)(until % 1000000000) };
	sem_t *s;
	int st;

	if ((s = bell_sem(c, w->bell, &st)) == NULL)
		return st;
	atomic_fetch_or(word, bit);
	INJECT("sleep.set");
	atomic_thread_fence(memory_order_seq_cst);	/* [B2] */
	if ((st = ready(c, arg, 0)) == CH_AGAIN)
		st = bell_defer(c, w, s, ready, arg);
	if (st == CH_AGAIN) {
		if (!w->slept++)
			trace(c, EV_SLEEP, 0, "asleep on %s, waiting for %s",
			    c->sem[w->bell] + 1, w->what);
		if (sem_clockwait(s, CLOCK_MONOTONIC, &ts) == 0) {
			w->how = HOW_WOKEN;
			trace(c, EV_WAKE, 0, "woken by a post, after %.1f s",
			    (double)(t_now() - w->start) / 1e9);
			st = bell_pass(c, w, s, ready, arg);
		} else if (errno == ETIMEDOUT) {
			w->how = HOW_LATE | HOW_STALE;
			trace(c, EV_SLICE, (uint64_t)(t_now() - w->start),
			    "still waiting for %s: %.1f s", w->what,
			    (double)(t_now() - w->start) / 1e9);
		} else if (errno != EINTR)
			st = e_sys(c, "sem_clockwait");
		INJECT("sleep.woken");
	}
	atomic_fetch_and(word, ~bit);
	return st;
}

/*
 * A process busy with data, which never waits, looks at this once a batch:
 * -r and signals stop it as they stop a waiting one.
 */
static int
bell_busy(struct chan *c)
{
	if (ch_stopped(c))
		return CH_EINTR;
	if (atomic_load_explicit(&c->seg->state, memory_order_relaxed) ==
	    ST_REMOVED)
		return CH_EREMOVED;
	return CH_OK;
}

/* After a slice: has the segment been removed or truncated under us? */
static int
seg_check(struct chan *c)
{
	struct stat st;

	if (fstat(c->fd, &st) == -1)
		return e_sys(c, "fstat");
	if (st.st_nlink == 0)
		return CH_EREMOVED;
	if ((uint64_t)st.st_size != SEG_HDRSZ + c->cap) {
		c->broken = 1;
		return CH_ETRUNC;
	}
	return CH_OK;
}

/*
 * Wait on bell until ready() says so, or an error, the deadline (< 0:
 * none) or a signal.  ready() is told how it is asked: LATE when it
 * should look for dead peers (at first if how says so, then after every
 * slice), STALE when a whole slice went by, WOKEN after a post.
 */
static int
bell_await(struct chan *c, int bell, ready_fn *ready, void *arg, int how,
    int64_t deadline_ns, const char *what)
{
	struct wait w = { bell, what, t_now(), 0, how };
	int64_t now, until;
	int st, spun = 0;

	for (;;) {
		if ((st = ready(c, arg, w.how)) != CH_AGAIN)
			return st;
		if (ch_stopped(c))
			return CH_EINTR;
		if (atomic_load(&c->seg->state) == ST_REMOVED)
			return CH_EREMOVED;
		if ((w.how & HOW_LATE) && (st = seg_check(c)) != CH_OK)
			return st;
		if ((w.how & HOW_LATE) && c->watch_fd > 0 &&
		    bell_out_gone(c->watch_fd)) {
			trace(c, EV_NOTE, 0, "nobody reads our output any more");
			return CH_EOUTPUT;
		}
		now = t_now();
		if (deadline_ns >= 0 && now >= deadline_ns) {
			trace(c, EV_NOTE, 0, "timed out waiting for %s", what);
			return CH_ETIMEDOUT;
		}
		if (!spun++ && (st = bell_spin(c, ready, arg)) != CH_AGAIN)
			return st;
		until = now + SLICE_NS;
		if (deadline_ns >= 0 && deadline_ns < until)
			until = deadline_ns;
		w.how = 0;
		if ((st = bell_doze(c, &w, ready, arg, until)) != CH_AGAIN)
			return st;
	}
}

/* ==== TOKENS ========================================================== */


struct take {
	int bell;
	int tookover;		/* from a dead holder */
};

static _Atomic uint64_t *
tok_word(struct chan *c, int bell)
{
	return bell == BELL_WRITERS ? &c->seg->wtoken : &c->seg->rtoken;
}

/*
 * Has a token that holds held no holder left to wait for: a dead one, or
 * us (see slot_id_alive()), or a HANDOFF that no live process sleeps for any
 * more?  The one judgement of it, for takers and for w_withdraw().
 */
static int
tok_gone(struct chan *c, int bell, uint64_t held)
{
	if (held == TOKEN_HANDOFF)
		return !bell_live_sleeper(c, bell, 0);
	return !slot_id_alive(c, held);
}

/*
 * A HANDOFF is for a waiter that a post or a slice woke, not for whoever
 * gave the token back and came straight back: unless no live process
 * sleeps for it any more.
 */
static int
tok_ready(struct chan *c, void *arg, int how)
{
	struct take *t = arg;
	_Atomic uint64_t *tok = tok_word(c, t->bell);
	uint64_t held = TOKEN_FREE;

	if (atomic_compare_exchange_strong(tok, &held, c->id))
		return CH_OK;
	if (!(held == TOKEN_HANDOFF && (how & (HOW_WOKEN | HOW_STALE))) &&
	    (!(how & HOW_LATE) || !tok_gone(c, t->bell, held)))
		return CH_AGAIN;
	if (!atomic_compare_exchange_strong(tok, &held, c->id))
		return CH_AGAIN;
	t->tookover = held != TOKEN_HANDOFF;
	return CH_OK;
}

static int
tok_take(struct chan *c, int bell, int *tookover)
{
	struct take t = { bell, 0 };
	const char *which = bell == BELL_WRITERS ? "write" : "read";
	int st;

	st = bell_await(c, bell, tok_ready, &t, HOW_LATE, t_deadline(c),
	    bell == BELL_WRITERS ? "the write token" : "the read token");
	if (st == CH_OK) {
		trace(c, EV_NOTE, 0, "took the %s token%s", which,
		    t.tookover ? " from a process that died" : "");
		INJECT("token.taken");
	}
	if (tookover != NULL)
		*tookover = t.tookover;
	return st;
}

/* Give the token back; to a sleeper, if one waits for it. */
static void
tok_give(struct chan *c, int bell)
{
	_Atomic uint64_t *tok = tok_word(c, bell);
	uint64_t held = c->id;

	if (!atomic_compare_exchange_strong(tok, &held, TOKEN_FREE))
		return;		/* not ours any more: hostile write */
	held = TOKEN_FREE;
	if (bell_nasleep(c, bell) > 0 && bell_live_sleeper(c, bell, 0) &&
	    atomic_compare_exchange_strong(tok, &held, TOKEN_HANDOFF)) {
		trace(c, EV_NOTE, 0, "gave the %s token to a sleeper",
		    bell == BELL_WRITERS ? "write" : "read");
		bell_post(c, bell, 1);
		INJECT("token.handoff");
	} else {
		trace(c, EV_NOTE, 0, "gave back the %s token",
		    bell == BELL_WRITERS ? "write" : "read");
		INJECT("token.given");
	}
}

/* ==== THE NAME LOCK, STATES =========================================== */
/* Opening, creating, attaching, leaving, removing; CRASHES of
   creators and removers. */


/* With the name lock held, as nothing was unlinked: LIVE again. */
static void
life_take_back(struct chan *c)
{
	atomic_store(&c->seg->namepid, 0);
	atomic_store(&c->seg->state, ST_LIVE);
	trace(c, EV_NOTE, 0, "%s: cannot remove it: taking the channel back",
	    c->shm);
}

/*
 * With the name lock held: remove what a creator (building) or a remover
 * that died left.  A remover's DYING becomes REMOVED first, so that a
 * death now is finished too.  CH_RETRY: look again.
 */
static int
life_clear(struct chan *c, int building, uint32_t gen)
{
	int intact;

	trace(c, EV_NOTE, 0, "%s: its %s died: removing what it left", c->shm,
	    building ? "creator" : "remover");
	obj_names(c, gen);
	if (!building)
		atomic_store(&c->seg->state, ST_REMOVED);
	if (obj_unlink_all(c, &intact) == CH_OK)
		return CH_RETRY;
	if (!intact || building)
		return CH_ESYS;
	life_take_back(c);
	return CH_RETRY;
}

/*
 * The channel is not LIVE.  If the process that put it in that state has
 * died - its name lock is free - finish or undo what it did: take back
 * what a last process out was about to remove, remove what a creator or
 * a remover left.  Then look again.
 */
static int
life_settle(struct chan *c)
{
	uint32_t dying = ST_DYING;
	struct obj o;
	int k, r = CH_RETRY;

	if (lk_try(c->fd, LK_NAME) != 0)
		return CH_AGAIN;		/* its owner is at work */
	k = obj_inspect(c->fd, c->name, &o);	/* as of now, under the lock */
	if (k == OBJ_GONE || (k == OBJ_CHANNEL && (c->seg == NULL ||
	    o.state == ST_LIVE))) {
		lk_drop(c->fd, LK_NAME);
		return CH_RETRY;	/* gone, or done meanwhile: look again */
	}
	if (k != OBJ_BUILDING && k != OBJ_CHANNEL)
		r = CH_ENOTCHAN;
	else if (o.state == ST_DYING && (!obj_may_unlink(c) ||
	    !ring_nothing_queued(c) || lk_held(c->fd, LK_SLOT, NSLOT))) {
		if (atomic_compare_exchange_strong(&c->seg->state, &dying,
		    ST_LIVE))
			trace(c, EV_NOTE, 0, "%s: the last process out died: "
			    "taking the channel back", c->shm);
	} else if (!obj_may_unlink(c))
		r = k == OBJ_BUILDING ? CH_EDEAD : CH_EREMOVED;
	else
		r = life_clear(c, k == OBJ_BUILDING, o.gen);
	lk_drop(c->fd, LK_NAME);
	return r;
}

/*
 * Take a free slot: its lock is ours until we close the segment or die.
 * Then see whether the channel is still LIVE (see STATES).
 */
static int
life_attach(struct chan *c, int role, const struct ch_make *mk)
{
	struct slot *sl;
	uint32_t epoch;
	int s;

	INJECT("attach.begin");
	for (s = 0; s < NSLOT && lk_try(c->fd, LK_SLOT + s) != 0; s++)
		;
	if (s == NSLOT)
		return CH_EFULL;
	INJECT("attach.slot");
	sl = &c->seg->slot[s];
	slot_clear_bits(c, s);		/* what a dead owner left */
	epoch = (atomic_load(&sl->epoch) + 1) & EPOCH_MASK;
	atomic_store(&sl->epoch, epoch);
	atomic_store(&sl->pid, (int32_t)getpid());
	atomic_store(&sl->pos, NONE);
	atomic_store(&sl->role, (uint32_t)(role == 'r' && (c->flags &
	    SEG_BCAST) ? 's' : role));
	atomic_store(&sl->uid, (uint32_t)geteuid());
	memset(sl->cmd, 0, sizeof(sl->cmd));
	if (mk->cmd != NULL)
		memcpy(sl->cmd, mk->cmd, strnlen(mk->cmd, sizeof(sl->cmd) - 1));
	c->slot = s;
	c->id = (uint64_t)epoch << 32 | (uint32_t)(s + 1);
	atomic_thread_fence(memory_order_seq_cst);	/* see STATES */
	if (c->created || atomic_load(&c->seg->state) == ST_LIVE) {
		trace(c, EV_NOTE, 0, "attached in slot %d", s);
		return CH_OK;
	}
	atomic_store(&sl->pid, 0);
	lk_drop(c->fd, LK_SLOT + s);
	c->slot = -1;
	return CH_AGAIN;
}

/*
 * Map an existing object after checking that it is a channel, and attach
 * to it.  CH_AGAIN while it is built or removed.
 */
static int
life_join(struct chan *c, int role, const struct ch_make *mk)
{
	struct obj o;
	int k = obj_inspect(c->fd, c->name, &o), r;

	c->uid = o.uid;
	if (k == OBJ_ODD)
		return CH_ENOTCHAN;
	if (k == OBJ_LINKED)
		return CH_ELINKED;
	if (k == OBJ_GONE)
		return CH_AGAIN;		/* removed since we opened it */
	if (o.uid != geteuid() && o.uid != 0 && !mk->any_owner)
		return CH_EFOREIGN;
	if (k == OBJ_NOTCHAN)
		return CH_ENOTCHAN;
	if (k == OBJ_BUILDING)
		return life_settle(c);
	c->flags = o.flags & (SEG_BCAST | SEG_LOSSY);
	if ((mk->kind & SEG_LOSSY) && !(c->flags & SEG_LOSSY))
		return CH_ENOTLOSSY;
	if ((mk->kind & SEG_BCAST) && !(c->flags & SEG_BCAST))
		return CH_ENOTBCAST;
	if (mk->queue && (c->flags & SEG_BCAST))
		return CH_ENOTQUEUE;
	if ((r = seg_map(c, o.cap, PROT_READ | PROT_WRITE)) != CH_OK)
		return r;
	if (o.state != ST_LIVE)
		return life_settle(c);
	obj_names(c, o.gen);
	return life_attach(c, role, mk);
}

/*
 * Create the bells, exclusively, with exactly mode.  The files are made
 * here, as sem_open(3) would make them but under their own names: glibc's
 * sem_open(O_CREAT) builds each under a temporary name first, which a
 * creator killed at the wrong moment would leave in /dev/shm for good.
 * What a killed creator leaves here bears the channel's name, and goes
 * with its remains (see CRASHES).  They are opened when first needed.
 */
static int
life_bells(struct chan *c, mode_t mode)
{
	char path[sizeof(SHM_DIR) + sizeof(c->sem[0]) + 4];
	sem_t sem;
	ssize_t n;
	int i, fd, st = CH_OK;

	memset(&sem, 0, sizeof(sem));		/* its padding too */
	if (sem_init(&sem, 1, 0) == -1)
		return e_sys(c, "sem_init");
	for (i = 0; i < NBELL && st == CH_OK; i++) {
		obj_path(path, sizeof(path), c->sem[i], 1);
		fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW |
		    O_CLOEXEC, 0600);
		if (fd != -1 && fchmod(fd, mode) == -1) {	/* exactly */
			(void)close(fd);
			fd = -1;
		}
		n = fd == -1 ? -1 : write(fd, &sem, sizeof(sem));
		if (n >= 0 && n != (ssize_t)sizeof(sem))
			errno = ENOSPC;			/* a short write */
		if (n != (ssize_t)sizeof(sem))
			st = e_sys(c, "cannot create a semaphore");
		if (fd != -1)
			(void)close(fd);
	}
	if (st != CH_OK)
		return st;
	trace(c, EV_NOTE, 0, "created the semaphores %s.%08x.[%s], mode %04o",
	    c->shm, (unsigned)c->seg->gen, BELL_LETTERS, (unsigned)mode);
	return CH_OK;
}

/*
 * Write the header of a channel being built: the identity fields (see
 * WHO WRITES WHAT), BUILDING all along (it is 0).  namepid comes last:
 * until the magic is there, what a creator killed here leaves must look
 * like its remains, all zeros (see obj_inspect()).
 */
static void
life_header(struct chan *c, const struct ch_make *mk)
{
	uint32_t gen;

	if (getrandom(&gen, sizeof(gen), 0) != sizeof(gen))
		gen = (uint32_t)getpid() ^ (uint32_t)t_now();
	memcpy(c->seg->magic, SEG_MAGIC, sizeof(c->seg->magic));
	c->seg->version = SEG_VERSION;
	c->seg->gen = gen;
	c->seg->cap = mk->cap;
	c->flags = mk->kind & SEG_LOSSY ? SEG_BCAST | SEG_LOSSY : mk->kind &
	    SEG_BCAST;
	c->seg->flags = (mk->keep ? SEG_KEEP : 0) | c->flags;
	c->seg->alloc = c->w.alloc;
	memcpy(c->seg->name, c->name, strlen(c->name) + 1);
	atomic_store(&c->seg->namepid, (int32_t)getpid());
	obj_names(c, gen);
}

/*
 * We created the object: build the channel under the name lock.  If we
 * cannot have the lock, someone took our empty object for the remains of
 * a creator that died, and removes it: start again.
 */
static int
life_build(struct chan *c, int role, const struct ch_make *mk)
{
	struct stat st;
	const char *what;
	int e, intact, r;

	if (lk_try(c->fd, LK_NAME) != 0 || fstat(c->fd, &st) == -1 ||
	    st.st_nlink == 0)
		return CH_AGAIN;
	INJECT("create.locked");
	c->uid = st.st_uid;
	c->w.alloc = mk->cap < ALLOC_STEP ? mk->cap : ALLOC_STEP;
	if (ftruncate(c->fd, (off_t)(SEG_HDRSZ + mk->cap)) == -1)
		r = e_sys(c, "cannot allocate the segment");
	else if ((e = posix_fallocate(c->fd, 0, (off_t)(SEG_HDRSZ +
	    c->w.alloc))) != 0) {
		errno = e;
		r = e_sys(c, "cannot allocate the segment");
	} else if ((r = seg_map(c, mk->cap, PROT_READ | PROT_WRITE)) == CH_OK) {
		INJECT("create.sized");
		life_header(c, mk);
		INJECT("create.header");
		if ((r = life_bells(c, mk->mode)) == CH_OK) {
			INJECT("create.bells");
			r = life_attach(c, role, mk);
		}
	}
	if (r != CH_OK) {
		e = c->errnum;
		what = c->what;
		(void)obj_unlink_all(c, &intact);
		lk_drop(c->fd, LK_NAME);
		c->errnum = e;		/* the first failure is what we tell */
		c->what = what;
		return r;
	}
	INJECT("create.attached");
	atomic_store(&c->seg->state, ST_LIVE);
	atomic_store(&c->seg->namepid, 0);
	lk_drop(c->fd, LK_NAME);
	trace(c, EV_NOTE, 0, "built %s: %llu bytes, mode %04o%s: LIVE", c->shm,
	    (unsigned long long)mk->cap, (unsigned)mk->mode,
	    mk->keep ? ", kept when empty" : "");
	return CH_OK;
}

/* Open the object at the name, or create it if there is none. */
static int
life_open_once(struct chan *c, int role, const struct ch_make *mk)
{
	c->created = 0;
	c->fd = obj_fd(shm_open(c->shm, O_RDWR | O_NOFOLLOW, 0));
	if (c->fd != -1) {
		trace(c, EV_NOTE, 0, "shm_open %s: opened", c->shm);
		return life_join(c, role, mk);
	}
	if (errno != ENOENT || mk->existing)
		return obj_open_failed(c);
	trace(c, EV_NOTE, 0, "shm_open %s: no channel yet: creating it", c->shm);
	c->fd = obj_fd(shm_open(c->shm, O_RDWR | O_CREAT | O_EXCL |
	    O_NOFOLLOW, 0600));
	if (c->fd == -1)
		return errno == EEXIST ? CH_AGAIN : e_sys(c, NULL);
	c->created = 1;
	INJECT("create.made");
	if (fchmod(c->fd, mk->mode) == -1) {	/* exactly, whatever the umask */
		(void)shm_unlink(c->shm);	/* nobody has it: it is empty */
		return e_sys(c, "fchmod");
	}
	return life_build(c, role, mk);
}

typedef int once_fn(struct chan *, int role, const struct ch_make *);

/*
 * Do once() until it is done: again after a nap while someone else builds
 * or removes the channel (CH_AGAIN), at once after a repair (CH_RETRY).
 * Building takes microseconds, so the naps start at NAP_NS; they grow to
 * a slice, for a holder of the name lock that is stopped holds it for as
 * long as it is.  The kernel drops a dead builder's locks a little after
 * its parent could reap it: whatever the timeout, look for a slice.
 */
static int
life_retry(struct chan *c, once_fn *once, int role, const struct ch_make *mk)
{
	int64_t start = t_now(), end = t_deadline(c), ns = NAP_NS, now;
	int r;

	while ((r = once(c, role, mk)) == CH_AGAIN || r == CH_RETRY) {
		seg_unmap(c);
		INJECT("open.retry");
		if (ch_stopped(c))
			return CH_EINTR;
		if (r == CH_RETRY)
			continue;
		now = t_now();
		if (end >= 0 && now >= end && now - start >= SLICE_NS)
			return CH_ETIMEDOUT;
		t_nap(end >= 0 && end - now < ns && end > now ? end - now : ns);
		ns = ns * 2 < SLICE_NS ? ns * 2 : SLICE_NS;
	}
	if (r != CH_OK)
		seg_unmap(c);
	return r;
}

static void r_begin(struct chan *, int);

/*
 * Open channel name for role 'r', 'w' or 't' (a tap), creating it if it
 * does not exist, and attach to it.  A channel that someone builds or
 * removes at the same moment is waited for, within the timeout.  A
 * reader of a broadcast channel, and a tap, take their place there.
 */
int
ch_open(struct chan *c, const char *name, int role, const struct ch_make *mk)
{
	int st;

	obj_init(c, name);
	if ((st = life_retry(c, life_open_once, role, mk)) == CH_OK &&
	    role != 'w' && ((c->flags & SEG_BCAST) || role == 't'))
		r_begin(c, mk->oldest);
	return st;
}


static void w_abort(struct chan *);

/*
 * With the name lock held: remove the channel.  Marked REMOVED first, so
 * that if we die half-way, whoever comes next finishes (see life_settle()).
 */
static int
life_remove_all(struct chan *c, int wake)
{
	int b, intact, r;

	atomic_store(&c->seg->namepid, (int32_t)getpid());
	atomic_store(&c->seg->state, ST_REMOVED);
	trace(c, EV_NOTE, 0, "%s: REMOVED", c->shm);
	INJECT("remove.marked");
	for (b = 0; wake && b < NBELL; b++)
		bell_ring(c, b);
	if ((r = obj_unlink_all(c, &intact)) != CH_OK && intact)
		life_take_back(c);
	else if (r == CH_OK)
		trace(c, EV_NOTE, 0, "%s: removed", c->shm);
	return r;
}

/*
 * Leave: give up our slot first, so that of two processes leaving at once
 * the later one sees nobody left.  If nobody else is attached, nothing is
 * queued, the channel is not kept and we may unlink it, remove it (see
 * STATES: DYING).
 */
static void
life_last_out(struct chan *c)
{
	uint32_t live = ST_LIVE;

	atomic_store(&c->seg->slot[c->slot].pid, 0);
	lk_drop(c->fd, LK_SLOT + c->slot);
	c->slot = -1;
	INJECT("leave.slot");
	if ((c->seg->flags & SEG_KEEP) || !obj_may_unlink(c) ||
	    lk_held(c->fd, LK_SLOT, NSLOT) || !ring_nothing_queued(c) ||
	    lk_try(c->fd, LK_NAME) != 0)
		return;
	INJECT("leave.locked");
	if (atomic_compare_exchange_strong(&c->seg->state, &live, ST_DYING)) {
		atomic_store(&c->seg->namepid, (int32_t)getpid());
		atomic_thread_fence(memory_order_seq_cst);	/* see STATES */
		trace(c, EV_NOTE, 0, "last one out, nothing queued: DYING");
		INJECT("leave.dying");
		if (!lk_held(c->fd, LK_SLOT, NSLOT) && ring_nothing_queued(c)) {
			INJECT("leave.probed");
			trace(c, EV_NOTE, 0, "nobody came: removing the channel");
			(void)life_remove_all(c, 0);
		} else {
			trace(c, EV_NOTE, 0, "someone came: LIVE again");
			atomic_store(&c->seg->namepid, 0);
			atomic_store(&c->seg->state, ST_LIVE);
		}
	}
	lk_drop(c->fd, LK_NAME);
}

/*
 * Leave the channel as a process that could do no more: a stream we were
 * writing ends in ABORT, one we were writing out is abandoned, tokens go
 * back, and the last one out removes the channel.  Never fails.
 */
void
ch_close(struct chan *c)
{
	if (c->seg != NULL && c->slot >= 0 && !c->broken) {
		if (c->w.holding) {
			w_abort(c);
			c->w.holding = 0;
			tok_give(c, BELL_WRITERS);
		}
		if (c->r.holding) {
			uint32_t open = atomic_load(&c->seg->rin);

			if (open != 0) {	/* not all out: tell its writer */
				atomic_store(&c->seg->abandoned, open);
				INJECT("abandoned.set");
			}
			c->r.holding = 0;
			tok_give(c, BELL_READERS);
		}
		if (c->r.mode == R_SUB) {	/* waited for no more */
			atomic_fetch_and(&c->seg->hold[c->slot / 64],
			    ~((uint64_t)1 << (c->slot % 64)));
			bell_ring(c, BELL_SPACE);
		}
		life_last_out(c);
	}
	seg_unmap(c);
}

/*
 * For -r and --prune: open the object at the name, check that we may
 * unlink it, take its name lock, and judge it again under the lock, into
 * *o and *k.  CH_OK with the lock held.  CH_AGAIN while someone else
 * builds or removes the channel; the pid it recorded, if it did, goes to
 * busy_pid.
 */
static int
life_lock_name(struct chan *c, struct obj *o, int *k)
{
	int32_t pid;

	c->fd = obj_fd(shm_open(c->shm, O_RDWR | O_NOFOLLOW, 0));
	if (c->fd == -1)
		return obj_open_failed(c);
	*k = obj_inspect(c->fd, c->name, o);
	c->uid = o->uid;
	if (*k == OBJ_ODD || *k == OBJ_LINKED || *k == OBJ_GONE)
		return *k == OBJ_ODD ? CH_ENOTCHAN : *k == OBJ_LINKED ?
		    CH_ELINKED : CH_AGAIN;
	if (!obj_may_unlink(c)) {
		errno = EACCES;
		return e_sys(c, NULL);
	}
	if (lk_try(c->fd, LK_NAME) != 0) {
		c->busy_pid = pread(c->fd, &pid, sizeof(pid), offsetof(struct
		    seg, namepid)) == (ssize_t)sizeof(pid) && pid > 0 ? pid : 0;
		return CH_AGAIN;
	}
	*k = obj_inspect(c->fd, c->name, o);
	return CH_OK;
}

/* -r, once: see life_lock_name(). */
static int
life_remove_once(struct chan *c, int role, const struct ch_make *mk)
{
	struct obj o;
	int k, intact, r;

	(void)role;
	(void)mk;
	if ((r = life_lock_name(c, &o, &k)) != CH_OK)
		return r;
	INJECT("remove.locked");
	if (k == OBJ_CHANNEL && (r = seg_map(c, o.cap, PROT_READ |
	    PROT_WRITE)) == CH_OK) {
		obj_names(c, o.gen);
		r = life_remove_all(c, 1);	/* waking the sleepers */
	} else if (k == OBJ_BUILDING) {
		trace(c, EV_NOTE, 0, "%s: what a creator that died left",
		    c->shm);
		obj_names(c, o.gen);
		r = obj_unlink_all(c, &intact);
	} else
		r = k == OBJ_CHANNEL ? r : k == OBJ_GONE ? CH_AGAIN :
		    CH_ENOTCHAN;
	lk_drop(c->fd, LK_NAME);
	return r;
}

/* once() on channel name, for -r and --prune: they attach to nothing. */
static int
life_named(struct chan *c, const char *name, once_fn *once)
{
	int r;

	obj_init(c, name);
	c->busy_pid = -1;
	r = life_retry(c, once, 0, NULL);
	seg_unmap(c);
	return r;
}

/*
 * -r: mark the channel removed, wake everyone waiting on it so that they
 * see that at once, and unlink its objects.  Another user's channel, or
 * an object that is not a channel, is left as it is.
 */
int
ch_remove(struct chan *c, const char *name)
{
	int r = life_named(c, name, life_remove_once);

	return r == CH_ETIMEDOUT && c->busy_pid != -1 ? CH_EBUSY : r;
}

/*
 * --prune, once: remove the channel if it is stale - LIVE, not kept, with
 * nobody attached and no whole message queued: what its last one out would
 * have removed, had it not died - judged again under its name lock.
 */
static int
life_prune_once(struct chan *c, int role, const struct ch_make *mk)
{
	struct obj o;
	int k, r;

	(void)role;
	(void)mk;
	INJECT("prune.open");
	if ((r = life_lock_name(c, &o, &k)) != CH_OK)
		return r == CH_AGAIN ? CH_EINUSE : r;
	if (k == OBJ_CHANNEL && o.state == ST_LIVE && !(o.flags & SEG_KEEP) &&
	    !lk_held(c->fd, LK_SLOT, NSLOT) && seg_map(c, o.cap, PROT_READ |
	    PROT_WRITE) == CH_OK && ring_nothing_queued(c)) {
		trace(c, EV_NOTE, 0, "%s: stale: removing it", c->shm);
		obj_names(c, o.gen);
		r = life_remove_all(c, 0);
	} else
		r = k == OBJ_GONE ? CH_ENOENT : CH_EINUSE;
	lk_drop(c->fd, LK_NAME);
	return r;
}

/* --prune: remove channel name if it is stale (CH_EINUSE if not). */
int
ch_prune(struct chan *c, const char *name)
{
	return life_named(c, name, life_prune_once);
}

/* ==== HOW A MESSAGE TRAVELS, 1: WRITING =============================== */
/* With STREAMS, RECORDS (SYNC, -w), [W1], [W2]. */


/* Where data added now goes: after the open record's, or a new header. */
static uint64_t
w_end(const struct chan *c)
{
	return c->w.rec == NONE ? c->w.pos + RECSZ : c->w.rec + RECSZ +
	    c->w.len;
}

/*
 * How far we may write: a ring's length past the tail we last saw, RECSZ
 * kept, and no further than what is allocated, RECSZ kept there too.
 */
static uint64_t
w_lim(const struct chan *c)
{
	uint64_t lim = c->w.tail + c->cap - RECSZ, a = c->w.alloc;

	if (a < c->cap && (a < RECSZ ? 0 : a - RECSZ) < lim)
		lim = a < RECSZ ? 0 : a - RECSZ;
	return lim;
}

/* Room for more data, as far as we know. */
static int64_t
w_room(const struct chan *c)
{
	return (int64_t)(w_lim(c) - w_end(c));
}

/*
 * How much of the ring is allocated, as alloc says, but no more than the
 * object's blocks hold: a hostile alloc must not make us write into pages
 * never allocated, where a full /dev/shm is a SIGBUS (see THE SEGMENT).
 */
static uint64_t
w_allocated(struct chan *c)
{
	uint64_t alloc = atomic_load_explicit(&c->seg->alloc,
	    memory_order_relaxed), have;
	struct stat st;

	if (alloc <= c->w.alloc)
		return alloc;		/* as far as we saw it before: no look */
	if (fstat(c->fd, &st) == -1 || (uint64_t)st.st_blocks * 512 < SEG_HDRSZ)
		return 0;
	have = (uint64_t)st.st_blocks * 512 - SEG_HDRSZ;
	if (have < alloc)
		alloc = have;
	return alloc < c->cap ? alloc & ~(RECSZ - 1) : c->cap;
}

/* Allocate ALLOC_STEP more of the ring (see THE SEGMENT). */
static int
w_grow(struct chan *c)
{
	uint64_t to = c->w.alloc + ALLOC_STEP < c->cap ? c->w.alloc +
	    ALLOC_STEP : c->cap;
	int e;

	if ((e = posix_fallocate(c->fd, (off_t)(SEG_HDRSZ + c->w.alloc),
	    (off_t)(to - c->w.alloc))) != 0) {
		errno = e;
		return e_sys(c, "cannot allocate the segment");
	}
	trace(c, EV_NOTE, 0, "fallocate: %llu more bytes of the ring",
	    (unsigned long long)(to - c->w.alloc));
	c->w.alloc = to;
	atomic_store_explicit(&c->seg->alloc, to, memory_order_relaxed);
	return CH_OK;
}

/*
 * We may overwrite what is below tail from now on: say so in over, before
 * we do [L1], for the subscribers and taps that read without holding us
 * back (see BROADCAST).
 */
static void
w_overwrite(struct chan *c, uint64_t tail)
{
	atomic_store_explicit(&c->seg->over, tail, memory_order_release);
	atomic_thread_fence(memory_order_seq_cst);	/* [L1] */
}

/*
 * Broadcast: the oldest position of the live subscribers that we wait
 * for, or head if none is older [W3].  A position that cannot be one is
 * not believed; a slot whose process died is cleared once we are late.
 */
static uint64_t
w_hold(struct chan *c, int late)
{
	uint64_t hold = c->w.head, bits, p;
	int i, s;

	if (c->flags & SEG_LOSSY)
		return hold;
	for (i = 0; i < NSLOT / 64; i++) {
		bits = atomic_load(&c->seg->hold[i]);
		for (; bits != 0; bits &= bits - 1) {
			s = i * 64 + __builtin_ctzll(bits);
			if (late && !slot_alive(c, s)) {
				slot_reap(c, s);
				continue;
			}
			p = atomic_load_explicit(&c->seg->slot[s].pos,
			    memory_order_acquire);	/* [W3] */
			if (s != c->slot && p <= c->w.head &&
			    atomic_load(&c->seg->slot[s].role) == 's' &&
			    c->w.head - p <= c->cap && p % 8 == 0 && p < hold)
				hold = p;
		}
	}
	return hold;
}

/*
 * Broadcast, about to wait for room, or late: a reader that sleeps on
 * DATA with data to read may have lost its post (see bell_defer()).  Post
 * once more if none is pending, rather than both of us sleep a slice.
 */
static void
w_kick(struct chan *c)
{
	sem_t *s;
	int v, st;

	if (bell_live_sleeper(c, BELL_DATA, 1) &&
	    (s = bell_sem(c, BELL_DATA, &st)) != NULL &&
	    sem_getvalue(s, &v) == 0 && v == 0)
		bell_post(c, BELL_DATA, 1);
}

/*
 * Broadcast: room for need more bytes, if the subscribers we wait for
 * leave it.  tail is moved over whole records, a little further than
 * need asks so that this is seldom done, never past a subscriber we wait
 * for nor past head, and said in over before anything below is written.
 * Then the positions are looked at once more, for a subscriber that took
 * the oldest record as its start meanwhile [P1].
 */
static int
w_see_subs(struct chan *c, uint64_t need, int late)
{
	struct ch_writer *w = &c->w;
	uint64_t want = w_end(c) + need + RECSZ, hold, t, sz;
	struct rec r;

	if (want - w->tail <= c->cap)
		return CH_OK;
	want += c->cap / 8 - c->cap;
	atomic_thread_fence(memory_order_seq_cst);	/* [P1] */
	hold = w_hold(c, late);
	if (want > hold)
		want = hold;
	for (t = w->btail; t < want; t += sz)
		if ((sz = rec_get(c, t, w->head, &r)) == 0)
			return e_corrupt(c);
	if (t != w->btail) {
		INJECT("overwrite");
		atomic_store_explicit(&c->seg->tail, t, memory_order_relaxed);
		w_overwrite(c, t);			/* [L1], [P1] */
		INJECT("overwrite.said");
		w->btail = t;
		hold = w_hold(c, 0);
	}
	w->tail = t < hold ? t : hold;
	return CH_OK;
}

/*
 * Look at tail again [W2]: the bytes below it are the reader's no more.
 * Broadcast: at the subscribers, for room for need bytes.
 */
static int
w_see_tail(struct chan *c, uint64_t need, int late)
{
	uint64_t tail;

	if (c->flags & SEG_BCAST)
		return w_see_subs(c, need, late);
	tail = atomic_load_explicit(&c->seg->tail,
	    memory_order_acquire);			/* [W2] */
	if (c->w.head - tail > c->cap || tail % 8 != 0)
		return e_corrupt(c);
	if (tail != c->w.tail)
		w_overwrite(c, tail);
	c->w.tail = tail;
	return CH_OK;
}

/*
 * A stream's writer stops when its reader went away (see STREAMS); so does
 * a -w writer whose stream (sync) its reader gave up.
 */
static int
w_reader_there(struct chan *c, int late, int sync)
{
	uint32_t seq = c->w.seq;

	if ((!c->w.stream && !sync) || (c->flags & SEG_BCAST))
		return CH_OK;
	if (atomic_load(&c->seg->abandoned) == seq ||
	    (late && atomic_load(&c->seg->rin) == seq &&
	    !slot_id_alive(c, atomic_load(&c->seg->rtoken))))
		return CH_EREADER;
	return CH_OK;
}

/*
 * Write the header of a record of len bytes at pos: the one place that
 * does.  A SYNC one is remembered, for -w to withdraw.  Returns where the
 * next record goes.
 */
static inline uint64_t
w_put(struct chan *c, uint64_t pos, uint32_t seq, uint32_t flags,
    uint32_t len)
{
	uint64_t hdr = REC_HDR(seq, flags, len);

	atomic_store_explicit(rec_word(c, pos), hdr, memory_order_relaxed);
	if (flags & REC_SYNC) {
		c->w.first_pos = pos;
		c->w.first_hdr = hdr;
	}
	return pos + RECSZ + REC_PAD(len);
}

/* Close the open record; with last, the message ends there. */
static void
w_close_rec(struct chan *c, int last)
{
	struct ch_writer *w = &c->w;

	if (w->rec == NONE) {
		if (!last)
			return;
		w->rec = w->pos;	/* an empty LAST record */
	}
	w->pos = w_put(c, w->rec, w->seq, w->flags | (last ? REC_LAST : 0),
	    w->len);
	w->rec = NONE;
	w->len = 0;
	w->flags = 0;
}

static int w_publish(struct chan *);

/* From now on the message is published as it comes (see STREAMS). */
static void
w_become_stream(struct chan *c)
{
	c->w.stream = 1;
	atomic_store(&c->seg->wopen, c->w.seq);
	INJECT("stream.begin");
}

static int
w_space_ready(struct chan *c, void *arg, int how)
{
	int64_t min = (int64_t)*(size_t *)arg;
	int st;

	if ((st = w_reader_there(c, how & HOW_LATE, 0)) != CH_OK)
		return st;
	if (w_room(c) >= min)
		return CH_OK;
	if ((how & HOW_LATE) && (c->flags & SEG_BCAST))
		w_kick(c);
	if ((st = w_see_tail(c, (uint64_t)min, how & HOW_LATE)) != CH_OK)
		return st;
	return w_room(c) >= min ? CH_OK : CH_AGAIN;
}

/*
 * Not enough room for min bytes: look at tail again; then publish what is
 * complete, for the reader cannot free what it cannot see, and wait.  A
 * message too large for even an empty ring becomes a stream.
 */
static int
w_make_room(struct chan *c, size_t min)
{
	struct ch_writer *w = &c->w;
	int st;

	if ((st = w_see_tail(c, min, 0)) != CH_OK || w_room(c) >= (int64_t)min)
		return st;
	if (w->alloc < c->cap && w_end(c) + min + RECSZ > w->alloc)
		return w_grow(c);
	if (!w->stream && w->msg != NONE &&
	    w_end(c) + min - w->msg > c->cap - RECSZ) {
		trace(c, EV_NOTE, 0, "message %u is larger than the ring: "
		    "sending it as a stream", w->seq);
		w_become_stream(c);
	}
	if ((st = w_publish(c)) != CH_OK)
		return st;
	if (c->flags & SEG_BCAST)
		w_kick(c);
	return bell_await(c, BELL_SPACE, w_space_ready, &min, 0, t_deadline(c),
	    c->flags & SEG_BCAST ? "room: the slowest subscriber to read on" :
	    "room in the ring");
}

/*
 * Room for at least min and at most max more bytes of the message being
 * built, as iovecs into the ring: write there, then ch_add().
 */
int
ch_reserve(struct chan *c, size_t min, size_t max, struct iovec iov[2],
    int *niov, size_t *room)
{
	struct ch_writer *w = &c->w;
	int64_t n;
	int st;

	if (w->rec != NONE && w->len + min > REC_LENMAX)
		w_close_rec(c, 0);
	while ((n = w_room(c)) < (int64_t)min)
		if ((st = w_make_room(c, min)) != CH_OK)
			return st;
	if ((uint64_t)n > REC_LENMAX - w->len)
		n = REC_LENMAX - w->len;
	if ((uint64_t)n > max)
		n = (int64_t)max;
	*room = (size_t)n;
	*niov = ring_iov(c, w_end(c), (uint64_t)n, iov);
	return CH_OK;
}

void
ch_add(struct chan *c, size_t n)
{
	if (n == 0)
		return;
	if (c->w.rec == NONE)
		c->w.rec = c->w.pos;
	c->w.len += (uint32_t)n;
}

int
ch_write(struct chan *c, const void *p, size_t n)
{
	struct iovec iov[2];
	size_t room;
	int i, niov, st;

	while (n > 0) {
		if ((st = ch_reserve(c, 1, n, iov, &niov, &room)) != CH_OK)
			return st;
		for (i = 0; i < niov; i++) {
			memcpy(iov[i].iov_base, p, iov[i].iov_len);
			p = (const char *)p + iov[i].iov_len;
		}
		ch_add(c, room);
		n -= room;
	}
	return CH_OK;
}

/*
 * Only the token holder numbers messages: no need for a locked add.  The
 * numbers wrap: if abandoned still names this one, it names a stream of
 * 2^32 messages ago, as nothing with this number is published yet.
 */
static uint32_t
w_next_seq(struct chan *c)
{
	uint32_t seq = atomic_load_explicit(&c->seg->seq,
	    memory_order_relaxed) + 1, old;

	seq += seq == 0;
	atomic_store_explicit(&c->seg->seq, seq, memory_order_relaxed);
	old = seq;
	(void)atomic_compare_exchange_strong(&c->seg->abandoned, &old, 0);
	return seq;
}

/* Begin a message: a stream is published as it comes; sync: for -w. */
int
ch_msg_begin(struct chan *c, int stream, int sync)
{
	struct ch_writer *w = &c->w;

	w->seq = w_next_seq(c);
	w->msg = w->pos;
	w->flags = REC_FIRST | (sync ? REC_SYNC : 0);
	w->stream = 0;
	if (stream)
		w_become_stream(c);
	return CH_OK;
}

int
ch_msg_end(struct chan *c)
{
	struct ch_writer *w = &c->w;
	struct iovec iov[2];
	size_t room;
	int niov, st = CH_OK;

	if (w->rec == NONE &&		/* room for an empty LAST record */
	    (st = ch_reserve(c, 0, 0, iov, &niov, &room)) != CH_OK)
		return st;
	if (w->stream)
		INJECT("stream.end");
	w_close_rec(c, 1);
	w->msg = NONE;
	if (w->stream) {
		st = w_publish(c);
		atomic_store(&c->seg->wopen, 0);
		w->stream = 0;
	}
	return st;
}

/* A whole message from p; one that fits a record and the room: at once. */
int
ch_send(struct chan *c, const void *p, size_t n)
{
	struct ch_writer *w = &c->w;
	int st;

	if (w->msg == NONE && w->rec == NONE && n <= REC_LENMAX &&
	    w_room(c) >= (int64_t)n) {
		w->seq = w_next_seq(c);
		ring_copy(c, w->pos + RECSZ, p, n);
		w->pos = w_put(c, w->pos, w->seq, REC_FIRST | REC_LAST,
		    (uint32_t)n);
		return CH_OK;
	}
	if ((st = ch_msg_begin(c, 0, 0)) != CH_OK ||
	    (st = ch_write(c, p, n)) != CH_OK)
		return st;
	return ch_msg_end(c);
}

/* The first delim in [p, end), or NULL: a word at a time, reading past end. */
static const char *
w_find_byte(const char *p, const char *end, int delim)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	const uint64_t ones = 0x0101010101010101ULL, pat = ones * (uint8_t)delim;
	uint64_t v;

	for (; p < end; p += 8) {
		memcpy(&v, p, 8);
		v ^= pat;		/* the byte sought becomes 0 */
		if ((v = (v - ones) & ~v & ones << 7) != 0) {
			p += __builtin_ctzll(v) >> 3;	/* the first 0 */
			return p < end ? p : NULL;
		}
	}
	return NULL;
#else
	return memchr(p, delim, (size_t)(end - p));
#endif
}

/*
 * The fast path of -l and -z: of [p, p + n), the records that end in delim
 * become messages of one record each, as many as the room we know of
 * holds, in one go.  CH_SLACK bytes after p + n must be readable.  Returns
 * the bytes taken; the rest is for ch_send() and ch_write(), which wait
 * for room and wrap around the ring.
 */
size_t
ch_send_records(struct chan *c, const char *p, size_t n, int delim)
{
	struct ch_writer *w = &c->w;
	uint64_t pos = w->pos, lim = w_lim(c), wrap = (pos | (c->cap - 1)) + 1;
	uint64_t stop = lim < wrap ? lim : wrap;
	uint32_t seq = atomic_load_explicit(&c->seg->seq, memory_order_relaxed);
	const char *q = p, *end = p + n, *nl;
	unsigned char *at;
	size_t len;

	if (w->msg != NONE || w->rec != NONE || pos > lim)
		return 0;
	/* records end by stop: before the room we know of, and the wrap */
	while ((nl = w_find_byte(q, end, delim)) != NULL) {
		len = (size_t)(nl + 1 - q);
		if (RECSZ + REC_PAD(len) > stop - pos)
			break;
		at = c->ring + (pos & (c->cap - 1)) + RECSZ;
		if (len <= CH_SLACK && RECSZ + CH_SLACK <= stop - pos)
			memcpy(at, q, CH_SLACK);	/* into free room */
		else
			memcpy(at, q, len);
		seq = seq == UINT32_MAX ? 1 : seq + 1;	/* never 0 */
		pos = w_put(c, pos, seq, REC_FIRST | REC_LAST, (uint32_t)len);
		q = nl + 1;
	}
	if (q != p) {
		atomic_store_explicit(&c->seg->seq, seq, memory_order_relaxed);
		w->seq = seq;
		w->pos = pos;
	}
	return (size_t)(q - p);
}

/*
 * Publish what is ready [W1]: every whole message, and all of a stream.
 * A stream's writer looks at its reader each time, and whether it still
 * lives every LATE_NS.
 */
static int
w_publish(struct chan *c)
{
	struct ch_writer *w = &c->w;
	uint64_t to;
	int64_t now;

	if (w->stream)
		w_close_rec(c, 0);
	to = w->stream || w->msg == NONE ? w->pos : w->msg;
	if (to != w->head) {
		INJECT("publish");
		atomic_store_explicit(&c->seg->head, to,
		    memory_order_release);		/* [W1] */
		trace(c, EV_PUBLISH, to - w->head, "published %llu bytes: "
		    "head %llu", (unsigned long long)(to - w->head),
		    (unsigned long long)to);
		w->head = to;
		bell_ring(c, BELL_DATA);
	}
	if (!w->stream)
		return CH_OK;
	if ((now = t_now()) - w->looked < LATE_NS)
		return w_reader_there(c, 0, 0);
	w->looked = now;
	return w_reader_there(c, 1, 0);
}

/* w_publish(), for a tool busy with data: -r and signals stop it here. */
int
ch_publish(struct chan *c)
{
	int st = bell_busy(c);

	return st != CH_OK ? st : w_publish(c);
}

/*
 * End message seq, published in part, with an ABORT record (see CRASHES:
 * there is always room for one) and publish it.  The one place that does.
 */
static void
w_put_abort(struct chan *c, uint32_t seq)
{
	c->w.pos = w_put(c, c->w.pos, seq, REC_LAST | REC_ABORT, 0);
	(void)w_publish(c);
	atomic_store(&c->seg->wopen, 0);
}

/*
 * Where the last writer left tail.  Broadcast: tail is ours to move; the
 * subscribers we wait for are looked at now [P1], for one may have taken
 * the oldest record as its start while the last writer moved tail past it.
 */
static int
w_begin_tail(struct chan *c)
{
	struct ch_writer *w = &c->w;
	uint64_t hold;

	if (!(c->flags & SEG_BCAST))
		return w_see_tail(c, 0, 0);
	w->btail = atomic_load(&c->seg->tail);
	if (w->head - w->btail > c->cap || w->btail % 8 != 0)
		return CH_ECORRUPT;
	if (atomic_load(&c->seg->over) != w->btail)
		w_overwrite(c, w->btail);	/* [L1], then [P1] */
	atomic_thread_fence(memory_order_seq_cst);	/* [P1] */
	hold = w_hold(c, 0);
	w->tail = w->btail < hold ? w->btail : hold;
	return CH_OK;
}

/*
 * Take the write token.  If its holder died in the middle of a stream,
 * end that stream with an ABORT record, for which there is always room.
 */
int
ch_wbegin(struct chan *c)
{
	struct ch_writer *w = &c->w;
	uint32_t dead;
	int over, st;

	if (w->holding)
		return CH_OK;
	if ((st = tok_take(c, BELL_WRITERS, &over)) != CH_OK)
		return st;
	w->holding = 1;
	w->pos = w->head = atomic_load(&c->seg->head);
	w->alloc = w_allocated(c);
	w->msg = w->rec = NONE;
	w->stream = 0;
	w->flags = 0;
	w->tail = w->btail = atomic_load(&c->seg->over);
	/* below a full allocation, nothing was ever written past alloc */
	if (w->pos % 8 != 0 || (w->alloc < c->cap && w->pos >= w->alloc) ||
	    w_begin_tail(c) != CH_OK)
		return e_corrupt(c);
	if (!over || (dead = atomic_load(&c->seg->wopen)) == 0)
		return CH_OK;
	trace(c, EV_NOTE, 0, "the writer of message %u died: ending it with "
	    "ABORT", dead);
	if (w->pos + RECSZ - w->tail > c->cap)
		return e_corrupt(c);
	w_put_abort(c, dead);
	return CH_OK;
}

/* Drop the message being built; one published in part ends in ABORT. */
static void
w_abort(struct chan *c)
{
	struct ch_writer *w = &c->w;
	int published = w->stream && w->head > w->msg;

	if (w->msg == NONE)
		return;
	w->rec = w->msg = NONE;
	w->pos = w->head;	/* what is not published never was */
	w->stream = 0;
	if (published) {
		trace(c, EV_NOTE, 0, "ending message %u with ABORT", w->seq);
		w_put_abort(c, w->seq);
	}
	atomic_store(&c->seg->wopen, 0);
}

/* Publish everything, and give the write token back. */
int
ch_wend(struct chan *c)
{
	int st = w_publish(c);

	c->w.holding = 0;
	tok_give(c, BELL_WRITERS);
	return st;
}

/* Taken: consumed past its end, unless it was a stream its reader left. */
static int
w_taken_ready(struct chan *c, void *arg, int how)
{
	int st = w_reader_there(c, how & HOW_LATE, 1);

	(void)arg;
	if (st != CH_OK)
		return st;
	return (int64_t)(atomic_load_explicit(&c->seg->tail,
	    memory_order_acquire) - c->w.pos) >= 0 ? CH_OK : CH_AGAIN;
}

/*
 * Holding the read token, no reader is writing anything out: withdraw the
 * message whose FIRST record is at first_pos, if it is still ours.  One
 * consumed in part was a stream whose taker is gone (see STREAMS); one
 * that is no longer ours was scribbled over.
 */
static int
w_withdraw_held(struct chan *c)
{
	struct ch_writer *w = &c->w;
	_Atomic uint64_t *word = rec_word(c, w->first_pos);
	uint64_t hdr = atomic_load(word);

	if ((int64_t)(atomic_load(&c->seg->tail) - w->first_pos) > 0)
		return CH_EREADER;
	if ((uint32_t)(hdr >> 32) != w->seq || !(hdr & REC_SYNC))
		return e_corrupt(c);
	if (hdr & REC_ABORT)
		return CH_OK;		/* withdrawn already */
	return atomic_compare_exchange_strong(word, &hdr, hdr | REC_ABORT) ?
	    CH_OK : CH_AGAIN;
}

/*
 * -w gave up waiting: withdraw the message (see RECORDS: SYNC).  Untaken,
 * it is withdrawn at once.  Taken, it may be withdrawn only if no live
 * reader is writing it out: a reader does that holding the read token, so
 * we take the token (free, from the dead, or handed to a sleeper that is
 * gone) and look.  CH_OK: withdrawn;
 * CH_AGAIN: a live reader is at it; CH_EREADER... as w_taken_ready().
 */
static int
w_withdraw(struct chan *c)
{
	struct ch_writer *w = &c->w;
	_Atomic uint64_t *word = rec_word(c, w->first_pos);
	uint64_t hdr = w->first_hdr, held;
	int st;

	INJECT("withdraw");
	if ((int64_t)(atomic_load(&c->seg->tail) - w->first_pos) <= 0 &&
	    atomic_compare_exchange_strong(word, &hdr, hdr | REC_ABORT))
		return CH_OK;		/* [S] before any reader took it */
	held = atomic_load(&c->seg->rtoken);
	if (held != TOKEN_FREE && !tok_gone(c, BELL_READERS, held))
		return CH_AGAIN;	/* a live reader may be writing it out */
	if (!atomic_compare_exchange_strong(&c->seg->rtoken, &held, c->id))
		return CH_AGAIN;
	INJECT("withdraw.token");
	st = w_withdraw_held(c);
	tok_give(c, BELL_READERS);
	return st;
}

/*
 * -w: wait until the last message sent has been taken.  If the wait runs
 * out or a signal comes first, withdraw it; unless a live reader is
 * writing it out, whose end is then waited for.
 */
int
ch_sync(struct chan *c)
{
	int st, gave_up;

	st = bell_await(c, BELL_SPACE, w_taken_ready, NULL, 0, t_deadline(c),
	    "a reader to take the message");
	while (st == CH_ETIMEDOUT || st == CH_EINTR) {
		gave_up = st;
		if ((st = w_reader_there(c, 1, 1)) != CH_OK)
			return st;	/* began writing it out, then died */
		if ((st = w_withdraw(c)) == CH_OK) {
			trace(c, EV_NOTE, 0, "withdrew message %u: no reader is "
			    "writing it out", c->w.seq);
			return gave_up;
		}
		if (st != CH_AGAIN)
			return st;
		trace(c, EV_NOTE, 0, "a reader is writing it out: waiting");
		if (gave_up == CH_EINTR)
			return gave_up;
		st = bell_await(c, BELL_SPACE, w_taken_ready, NULL, 0, t_now() +
		    SLICE_NS, "the reader to finish");
	}
	return st;
}

/* ==== HOW A MESSAGE TRAVELS, 2: READING =============================== */
/* With STREAMS, RECORDS (SYNC, TAKEN), [R1], [R2]. */


/*
 * Where we read from - tail, or a subscriber's own position - and head
 * [R1], checked: tail <= head <= tail + cap.
 */
static int
r_span(struct chan *c, uint64_t *tail, uint64_t *head)
{
	*head = atomic_load_explicit(&c->seg->head,
	    memory_order_acquire);			/* [R1] */
	*tail = c->r.mode != R_QUEUE ? c->r.pos :
	    atomic_load_explicit(&c->seg->tail, memory_order_relaxed);
	if (*head - *tail > c->cap || *tail % 8 != 0 || *head % 8 != 0)
		return e_corrupt(c);
	return CH_OK;
}

/*
 * A subscriber's position and its bit in hold[] are its own to write,
 * but anyone who may write the channel may scribble them: one that waits
 * says them again each slice, so that a plausible but false position
 * holds the writer back for a slice at most [R3].
 */
static void
r_own_place(struct chan *c)
{
	_Atomic uint64_t *p = &c->seg->slot[c->slot].pos;
	_Atomic uint64_t *h = &c->seg->hold[c->slot / 64];
	uint64_t bit = (uint64_t)1 << (c->slot % 64);

	if (atomic_load_explicit(p, memory_order_relaxed) == c->r.pos &&
	    (atomic_load(h) & bit))
		return;
	trace(c, EV_NOTE, 0, "our position was changed: %llu again",
	    (unsigned long long)c->r.pos);
	atomic_fetch_or(h, bit);
	atomic_store_explicit(p, c->r.pos, memory_order_release);
	bell_ring(c, BELL_SPACE);
}

/*
 * Is there data?  In a stream, its writer must still be there to finish
 * it: else, once what it published is out, the stream is cut short.
 */
static int
r_data_ready(struct chan *c, void *arg, int how)
{
	uint64_t tail, head;
	int st;

	(void)arg;
	if (c->r.mode == R_LOSSY) {	/* lapped or not, see r_fill() */
		tail = c->r.pos;
		head = atomic_load_explicit(&c->seg->head, memory_order_acquire);
	} else if ((st = r_span(c, &tail, &head)) != CH_OK)
		return st;
	if (head != tail)
		return CH_OK;
	if (c->r.mode == R_SUB && (how & HOW_LATE))
		r_own_place(c);
	if (c->r.cur == 0 || !(how & HOW_LATE))
		return CH_AGAIN;
	if (atomic_load(&c->seg->wopen) == c->r.cur &&
	    slot_id_alive(c, atomic_load(&c->seg->wtoken)))
		return CH_AGAIN;
	if (atomic_load(&c->seg->head) != head)
		return CH_OK;
	return CH_EWRITER;
}

/* len more bytes are in the stage, after what was staged: out they go. */
static void
b_staged(struct ch_batch *b, size_t len)
{
	char *to = b->stage + b->staged;
	struct iovec *last = b->niov > 0 ? &b->iov[b->niov - 1] : NULL;

	b->bytes += len;
	b->staged += len;
	if (last != NULL && (char *)last->iov_base + last->iov_len == to)
		last->iov_len += len;
	else
		b->iov[b->niov++] = (struct iovec){ to, len };
}

/*
 * Payloads: small ones are gathered in stage, the others go as they are;
 * for a reader that the writer may overwrite, copied out (see BROADCAST).
 */
static void
b_add(struct ch_batch *b, const void *p, size_t len)
{
	if (b->copy != NULL && (len > BATCH_SMALL ||
	    b->staged + len > BATCH_STAGE)) {
		memcpy(b->copy + b->ncopy, p, len);
		p = b->copy + b->ncopy;
		b->ncopy += len;
	}
	if (len > BATCH_SMALL || b->staged + len > BATCH_STAGE) {
		b->bytes += len;
		b->iov[b->niov++] = (struct iovec){ (void *)(uintptr_t)p, len };
		return;
	}
	memcpy(b->stage + b->staged, p, len);
	b_staged(b, len);
}

static void
b_rec(struct chan *c, struct ch_batch *b, uint64_t pos, const struct rec *r)
{
	struct iovec iov[2];
	int i, n = ring_iov(c, pos + RECSZ, r->len, iov);

	b->nrec++;
	for (i = 0; i < n; i++)
		b_add(b, iov[i].iov_base, iov[i].iov_len);
}

/* Records skipped in a row make one cut, however many they are. */
static void
b_cut(struct ch_batch *b, uint64_t pos, int done)
{
	struct ch_cut *last = b->ncut > 0 ? &b->cut[b->ncut - 1] : NULL;

	if (last != NULL && last->bytes == b->bytes && last->how == 0) {
		last->pos = pos;
		last->done += done;
	} else
		b->cut[b->ncut++] = (struct ch_cut){ .pos = pos, .bytes = b->bytes,
		    .done = done };
}

/* The stream being written out ends at pos: rin is cleared when it is out. */
static void
b_cut_end(struct ch_batch *b, uint64_t pos, int done)
{
	b->cut[b->ncut++] = (struct ch_cut){ .pos = pos, .bytes = b->bytes,
	    .done = done, .how = CUT_END };
}

/*
 * Where does the message whose FIRST record is at pos end?  *end: after
 * its LAST record, or 0 if that is not published yet.  *aborted: ABORTED
 * if withdrawn (ABORT on FIRST), CUT if cut short (ABORT on LAST).
 */
enum { ABORTED = 1, CUT = 2 };
static int
r_msg_span(struct chan *c, uint64_t pos, uint64_t head, uint64_t *end,
    int *aborted, int *nrec)
{
	uint64_t sz;
	uint32_t seq = 0;
	struct rec r;

	*end = 0;
	for (*nrec = 1; pos != head; pos += sz, ++*nrec) {
		if ((sz = rec_get(c, pos, head, &r)) == 0 ||
		    (seq != 0 && (r.seq != seq || (r.flags & REC_FIRST))))
			return e_corrupt(c);
		if (seq == 0)
			*aborted = (r.flags & REC_ABORT) ? ABORTED : 0;
		seq = r.seq;
		if (r.flags & REC_LAST) {
			*aborted |= (r.flags & REC_ABORT) ? CUT : 0;
			*end = pos + sz;
			break;
		}
	}
	return CH_OK;
}

/*
 * A SYNC message is taken before any of it goes out (see RECORDS): 0 if
 * its writer withdrew it first.  A subscriber or a tap takes nothing.
 */
static int
r_claim(struct chan *c, uint64_t pos, const struct rec *r)
{
	uint64_t hdr = r->hdr;

	if (!(hdr & REC_SYNC) || c->r.mode != R_QUEUE)
		return !(hdr & REC_SYNC) || !(hdr & REC_ABORT);
	INJECT("claim");	/* its writer may withdraw it yet */
	while (!(hdr & (REC_TAKEN | REC_ABORT)))
		if (atomic_compare_exchange_strong(rec_word(c, pos), &hdr,
		    hdr | REC_TAKEN)) {
			trace(c, EV_NOTE, 0, "took message %u: its writer waits "
			    "for that (-w)", r->seq);
			return 1;
		}
	return !(hdr & REC_ABORT);
}

/*
 * The message numbers strictly between last and next, that a lapped
 * reader missed; 0 is never one (see RECORDS): it is last only before
 * the first message.
 */
static uint32_t
r_gap(uint32_t last, uint32_t next)
{
	if (next == last)
		return 0;
	return next - last - 1 - (next < last);
}

/*
 * The first record after a lap, or a cut stream, is of message seq: what
 * was missed since the last one seen is told with this batch; and seq too,
 * unless it is whole or that last one.
 */
static void
r_count_gap(struct chan *c, struct ch_batch *b, uint32_t seq, int whole)
{
	b->missed += c->r.lost + r_gap(c->r.last, seq) +
	    (!whole && seq != c->r.last);
	c->r.gap = c->r.lost = 0;
	b->last = seq;
}

/* A record of the stream we are in. */
static int
r_in_stream(struct chan *c, struct ch_batch *b, uint64_t pos, uint64_t sz,
    const struct rec *r, long *done)
{
	if (r->seq != c->r.cur)
		return e_corrupt(c);
	if (r->flags & REC_ABORT) {
		b_cut_end(b, pos + sz, 0);
		c->r.cur = 0;
		if (c->r.mode == R_LOSSY &&
		    atomic_load(&c->seg->abandoned) == r->seq) {
			/* a tap of a queue whose reader left it: one missed */
			b->truncated = TR_READER;
			c->r.lost = c->r.gap = 1;
			c->r.last = r->seq;
		} else
			b->aborted = 1;
		return CH_AGAIN;
	}
	b_rec(c, b, pos, r);
	if (r->flags & REC_LAST) {
		b_cut_end(b, pos + sz, 1);
		c->r.cur = 0;
		++*done;
	} else
		b_cut(b, pos + sz, 0);
	return CH_OK;
}

/*
 * The message whose FIRST record is at pos: whole, it goes into the batch
 * (or is skipped, if aborted or withdrawn); still being written, it is a
 * stream, which goes out as it comes.  *sz becomes its size so far.
 */
static int
r_take_msg(struct chan *c, struct ch_batch *b, uint64_t pos, uint64_t head,
    const struct rec *r, uint64_t *sz, long *done)
{
	uint64_t end, p;
	int aborted = 0, i, nrec, st;
	struct rec x = *r;

	if (c->r.gap)			/* the first message after a lap */
		r_count_gap(c, b, r->seq, 1);
	b->last = r->seq;
	if ((r->flags & (REC_LAST | REC_ABORT | REC_SYNC)) == REC_LAST) {
		b_rec(c, b, pos, r);	/* the common case: one record */
		b_cut(b, pos + *sz, 1);
		++*done;
		return CH_OK;
	}
	if ((st = r_msg_span(c, pos, head, &end, &aborted, &nrec)) != CH_OK)
		return st;
	if (end != 0 && ((aborted & ABORTED) || !r_claim(c, pos, r))) {
		trace(c, EV_NOTE, 0, "skipping message %u: withdrawn", r->seq);
		b_cut(b, end, 0);
		*sz = end - pos;
		return CH_OK;
	}
	/* cut short, its writer gone: delivered as far as it came, a stream */
	if (end != 0 && !aborted && b->nrec + nrec <= BATCH_REC) {
		for (p = pos, i = 0; i < nrec; i++, p += *sz) {
			if ((*sz = rec_get(c, p, head, &x)) == 0 ||
			    x.seq != r->seq || (i > 0 && (x.flags & REC_FIRST)))
				return e_corrupt(c);	/* changed under us */
			b_rec(c, b, p, &x);
		}
		b_cut(b, end, 1);
		++*done;
		*sz = end - pos;
		return p == end ? CH_OK : e_corrupt(c);
	}
	if (b->ncut > 0)
		return CH_AGAIN;	/* what is before it goes out first */
	if (!r_claim(c, pos, r))
		return CH_AGAIN;	/* withdrawn once ended: skipped next */
	c->r.cur = r->seq;
	if (c->r.mode == R_QUEUE) {
		atomic_store(&c->seg->rin, c->r.cur);
		INJECT("rin.set");
	}
	trace(c, EV_NOTE, 0, "message %u is a stream: out as it comes", r->seq);
	return r_in_stream(c, b, pos, *sz, r, done);
}

/*
 * The common case, in a tight loop: messages of one small record, one
 * after the other, copied to the stage (a little more is copied when
 * that is quicker: only bytes below head are read).  Returns where it
 * stopped.
 */
static uint64_t
r_take_small(struct chan *c, struct ch_batch *b, uint64_t pos, uint64_t head,
    long want, long *done)
{
	uint32_t rin = c->r.mode != R_QUEUE ? 0 :
	    atomic_load_explicit(&c->seg->rin, memory_order_relaxed);
	uint64_t wrap = (pos | (c->cap - 1)) + 1, hdr, took = 0;
	const unsigned char *at = c->ring + (pos & (c->cap - 1)), *from = at;
	const unsigned char *stop = at + ((head < wrap ? head : wrap) - pos);
	char *start = b->stage + b->staged, *to = start;
	char *full = b->stage + BATCH_STAGE;
	long n = want - *done, k;
	size_t len, sz;

	if (n > BATCH_REC - b->nrun)	/* runlen[] holds that many */
		n = BATCH_REC - b->nrun;

	for (k = 0; k < n; k++) {
		if (at == stop)
			break;
		hdr = atomic_load_explicit((const _Atomic uint64_t *)(const
		    void *)at, memory_order_relaxed);
		len = (uint32_t)hdr & REC_LENMAX;
		sz = RECSZ + REC_PAD(len);
		if (((uint32_t)hdr & ~REC_LENMAX) != (REC_FIRST | REC_LAST) ||
		    (hdr >> 32) == 0 || (hdr >> 32) == rin || len > BATCH_SMALL ||
		    sz > (size_t)(stop - at) || len > (size_t)(full - to))
			break;
		if (len <= CH_SLACK && RECSZ + CH_SLACK <= (size_t)(stop - at))
			memcpy(to, at + RECSZ, CH_SLACK);
		else
			memcpy(to, at + RECSZ, len);
		b->runlen[b->nrun + k] = (uint16_t)len;
		took = hdr;
		to += len;
		at += sz;
	}
	if (k == 0)
		return pos;
	b->last = (uint32_t)(took >> 32);
	*done += k;
	b_staged(b, (size_t)(to - start));
	b->cut[b->ncut++] = (struct ch_cut){ pos + (uint64_t)(at - from),
	    b->bytes, (int)k, CUT_RUN, b->nrun };
	b->nrun += (int)k;
	return pos + (uint64_t)(at - from);
}

/* Fill the batch with what is queued at tail, want messages at most. */
static int
r_fill(struct chan *c, struct ch_batch *b, long want)
{
	uint64_t tail, head, pos, sz, next;
	long done = 0;
	struct rec r;
	int st = CH_OK;

	if ((st = r_span(c, &tail, &head)) != CH_OK)
		return st;
	b->wpos = tail;
	for (pos = tail; st == CH_OK && pos != head && b->nrec < BATCH_REC &&
	    b->ncut < BATCH_REC && done < want; pos += sz) {
		if (c->r.mode == R_LOSSY && pos != tail)
			INJECT("lossy.copying");	/* in the middle of a copy */
		if (c->r.cur == 0 && !c->r.gap &&
		    (next = r_take_small(c, b, pos, head, want, &done)) != pos) {
			sz = next - pos;
			if (b->staged + BATCH_SMALL > BATCH_STAGE)
				break;		/* the stage is full: write out */
			continue;
		}
		if ((sz = rec_get(c, pos, head, &r)) == 0)
			return e_corrupt(c);
		if (c->r.cur != 0) {
			st = r_in_stream(c, b, pos, sz, &r, &done);
		} else if (!(r.flags & REC_FIRST) && c->r.mode != R_QUEUE) {
			if (c->r.gap)	/* lapped into it: missed */
				r_count_gap(c, b, r.seq, 0);
			b_cut(b, pos + sz, 0);	/* joined after its FIRST */
		} else if (!(r.flags & REC_FIRST) || (c->r.mode == R_QUEUE &&
		    r.seq == atomic_load(&c->seg->rin))) {
			/* the remains of a stream whose reader left */
			atomic_store(&c->seg->abandoned, r.seq);
			INJECT("abandoned.set");
			if (r.flags & REC_LAST)
				b_cut_end(b, pos + sz, 0);
			else
				b_cut(b, pos + sz, 0);
		} else
			st = r_take_msg(c, b, pos, head, &r, &sz, &done);
	}
	return st == CH_AGAIN ? CH_OK : st;
}

/*
 * A lossy reader whose position the writer may have overwritten - over
 * passed it - starts again at over, the oldest record held, at its next
 * FIRST; the stream it was writing out ends there, cut short.
 */
static int
r_lap(struct chan *c, struct ch_batch *b)
{
	_Atomic uint64_t *o = &c->seg->over;
	uint64_t over, head;
	int i = 0;

	do {		/* head as it was while over was: never a ring apart */
		over = atomic_load_explicit(o, memory_order_acquire);
		head = atomic_load(&c->seg->head);
	} while (atomic_load(o) != over && ++i < SPIN_TRIES);
	if ((int64_t)(over - c->r.pos) <= 0)
		return CH_OK;
	if (over % 8 != 0 || over > head || head - over > c->cap)
		return e_corrupt(c);
	if (c->r.cur != 0) {
		b->truncated = TR_LAPPED;
		c->r.lost = 1;
		c->r.last = c->r.cur;
		c->r.cur = 0;
	}
	trace(c, EV_NOTE, 0, "lapped: %llu bytes overwritten before we read "
	    "them: going on at %llu", (unsigned long long)(over - c->r.pos),
	    (unsigned long long)over);
	c->r.gap = 1;
	c->r.pos = over;
	atomic_store_explicit(&c->seg->slot[c->slot].pos, over,
	    memory_order_relaxed);
	return CH_OK;
}

/*
 * A lossy reader's batch: what r_fill() copied is kept only if the writer
 * did not begin to overwrite it meanwhile [L2], as a seqlock's reader
 * does; else it is dropped, and we start again where the writer left us.
 */
static int
r_fill_lossy(struct chan *c, struct ch_batch *b, long want)
{
	struct ch_reader was;
	long gone;
	int st, broken = c->broken, cut;

	if ((st = r_lap(c, b)) != CH_OK)
		return st;
	was = c->r;
	gone = b->missed;
	cut = b->truncated;
	st = r_fill(c, b, want);
	INJECT("lossy.copied");
	atomic_thread_fence(memory_order_acquire);	/* [L2] */
	if ((int64_t)(atomic_load_explicit(&c->seg->over,
	    memory_order_relaxed) - was.pos) <= 0)
		return st;
	b->niov = b->ncut = b->nrec = b->nrun = 0;
	b->bytes = b->staged = b->ncopy = 0;
	b->aborted = 0;
	b->missed = gone;
	b->truncated = cut;
	b->last = 0;
	c->r = was;
	c->broken = broken;
	return r_lap(c, b);
}

/*
 * The number of the last message before position p, for a lapped reader
 * to count its gap from: the last one handed out, if p is head; else one
 * before the message whose FIRST record is at p, or that of the stream
 * that p is in the middle of.
 */
static uint32_t
r_before(struct chan *c, uint64_t p)
{
	uint64_t head = atomic_load_explicit(&c->seg->head,
	    memory_order_acquire);
	struct rec r;

	if (p == head || rec_get(c, p, head, &r) == 0)
		return atomic_load(&c->seg->seq);
	return (r.flags & REC_FIRST) ? r.seq - 1 : r.seq;
}

/*
 * A subscriber or a tap takes its place, at head or, with oldest, at over:
 * the oldest record held.  One that the writer waits for says so in
 * hold[] and stores its position, then looks again [P2]: until what it
 * stored is what it sees, it may have been passed by (see BROADCAST).
 */
static void
r_begin(struct chan *c, int oldest)
{
	struct slot *sl = &c->seg->slot[c->slot];
	_Atomic uint64_t *from = oldest ? &c->seg->over : &c->seg->head;
	uint64_t p, q = atomic_load(from);

	c->r.mode = !(c->flags & SEG_BCAST) || (c->flags & SEG_LOSSY) ||
	    atomic_load(&sl->role) == 't' ? R_LOSSY : R_SUB;
	do {
		p = q;
		INJECT("subscribe.look");
		atomic_store(&sl->pos, p);
		if (c->r.mode == R_SUB)
			atomic_fetch_or(&c->seg->hold[c->slot / 64],
			    (uint64_t)1 << (c->slot % 64));
		atomic_thread_fence(memory_order_seq_cst);	/* [P2] */
		c->r.last = r_before(c, p);
		atomic_thread_fence(memory_order_acquire);	/* [L2], too */
		q = atomic_load(from);
	} while ((c->r.mode == R_SUB || oldest) && q != p);
	c->r.pos = p;
	INJECT("subscribe");
	trace(c, EV_NOTE, 0, "%s at %llu%s", c->r.mode == R_SUB ? "subscribed"
	    : "reading, lossy,", (unsigned long long)p,
	    c->r.mode == R_SUB ? ": the writer waits for us" : "");
}

/*
 * A queue's reader holds the read token; another that sleeps for it gets
 * a turn between two messages.
 */
static int
r_token(struct chan *c)
{
	struct ch_reader *rd = &c->r;
	int st;

	if (rd->holding && rd->cur == 0 && bell_nasleep(c, BELL_READERS) > 0) {
		rd->holding = 0;
		tok_give(c, BELL_READERS);
	}
	if (!rd->holding) {
		if ((st = tok_take(c, BELL_READERS, NULL)) != CH_OK)
			return st;
		rd->holding = 1;
		rd->cur = 0;
	}
	return CH_OK;
}

/*
 * The next batch: up to want messages (and the queued part of a stream).
 * The timeout bounds the wait for a message to begin, not for the rest
 * of a stream: that is bounded by its writer's life.  A subscriber or a
 * tap reads at its own position, and needs no token.
 */
int
ch_next(struct chan *c, struct ch_batch *b, long want)
{
	struct ch_reader *rd = &c->r;
	int st;

	b->niov = b->ncut = b->nrec = b->used = b->aborted = b->wdone = 0;
	b->nrun = 0;
	b->bytes = b->staged = b->wbytes = b->ncopy = 0;
	b->missed = b->truncated = 0;
	b->last = 0;
	if ((st = bell_busy(c)) != CH_OK)
		return st;
	if (rd->mode == R_LOSSY && b->copy == NULL &&
	    (b->copy = malloc(c->cap)) == NULL)
		return e_sys(c, "malloc");
	if (rd->mode == R_QUEUE && (st = r_token(c)) != CH_OK)
		return st;
	if (rd->cur != 0)
		st = bell_await(c, BELL_DATA, r_data_ready, NULL, 0, -1,
		    "the rest of the message");
	else
		st = bell_await(c, BELL_DATA, r_data_ready, NULL, 0, t_deadline(c),
		    "a message");
	if (st != CH_OK)
		return st;
	st = rd->mode == R_LOSSY ? r_fill_lossy(c, b, want) : r_fill(c, b, want);
	if (b->last != 0)
		rd->last = b->last;
	return st;
}

/*
 * Of a run of small messages that a write cut short, those wholly out:
 * walk their lengths, as the batch took them, from where the walk stopped.
 */
static void
r_walk_run(struct ch_batch *b, const struct ch_cut *k, size_t out,
    long *done)
{
	size_t len;

	while (b->wdone < k->done) {
		len = b->runlen[k->first + b->wdone];
		if (b->wbytes + len > out)
			break;
		b->wpos += RECSZ + REC_PAD(len);
		b->wbytes += len;
		b->wdone++;
		++*done;
	}
}

/*
 * out bytes of the batch are written out: consume the ring up to there
 * [R2], and count the messages completed in *done.  CH_EWRITER once a
 * stream that was cut short has gone out as far as it came.
 */
int
ch_consume(struct chan *c, struct ch_batch *b, size_t out, long *done)
{
	uint64_t from = b->wpos;
	struct ch_cut *k;

	for (; b->used < b->ncut; b->used++) {
		k = &b->cut[b->used];
		if (k->bytes > out) {
			if (k->how & CUT_RUN)
				r_walk_run(b, k, out, done);
			break;
		}
		*done += k->done - b->wdone;
		b->wpos = k->pos;
		b->wbytes = k->bytes;
		b->wdone = 0;
		if ((k->how & CUT_END) && c->r.mode == R_QUEUE) {
			INJECT("rin.clear");	/* out to its end: see STREAMS */
			atomic_store(&c->seg->rin, 0);
		}
	}
	if (b->wpos != from && c->r.mode != R_QUEUE) {
		c->r.pos = b->wpos;
		atomic_store_explicit(&c->seg->slot[c->slot].pos, b->wpos,
		    memory_order_release);		/* [R3] */
		if (c->r.mode == R_SUB)
			bell_ring(c, BELL_SPACE);
	} else if (b->wpos != from) {
		INJECT("consume");
		atomic_store_explicit(&c->seg->tail, b->wpos,
		    memory_order_release);		/* [R2] */
		trace(c, EV_CONSUME, out, "wrote out %zu bytes: tail %llu", out,
		    (unsigned long long)b->wpos);
		bell_ring(c, BELL_SPACE);
	}
	return b->aborted && b->used == b->ncut ? CH_EWRITER : CH_OK;
}

/* ==== LOOKING ========================================================= */
/* --status and --list: UNTRUSTED INPUT, read with pread only. */


/* A window on the ring, read with pread: never a SIGBUS. */
struct view {
	int fd;
	uint64_t cap, base;
	size_t have;
	unsigned char buf[64 * 1024];
};

static int
look_hdr(void *ctx, uint64_t pos, uint64_t *hdr)
{
	struct view *v = ctx;
	uint64_t off = pos & (v->cap - 1);
	size_t want = sizeof(v->buf) < v->cap - off ? sizeof(v->buf) :
	    (size_t)(v->cap - off);
	ssize_t n;

	if (off < v->base || off + RECSZ > v->base + v->have) {
		n = pread(v->fd, v->buf, want, (off_t)(SEG_HDRSZ + off));
		if (n < (ssize_t)RECSZ)
			return -1;
		v->base = off;
		v->have = (size_t)n;
	}
	memcpy(hdr, v->buf + (off - v->base), RECSZ);
	return 0;
}

/*
 * The processes attached: the slots whose locks are held, each probed (the
 * kernel tells of one lock in a range, not the lowest), as each describes
 * itself, and the bell each sleeps on.  What a slot says is anyone's
 * scribble: it is shown escaped, never believed.
 */
static void
look_procs(int fd, const struct seg *h, struct ch_info *in)
{
	struct ch_proc *p;
	int s, b;

	for (s = 0; s < NSLOT; s++) {
		if (!lk_held(fd, LK_SLOT + s, 1))
			continue;
		p = &in->proc[in->procs++];
		p->pid = (pid_t)atomic_load(&h->slot[s].pid);
		p->uid = (uid_t)atomic_load(&h->slot[s].uid);
		p->role = (char)atomic_load(&h->slot[s].role);
		p->pos = atomic_load(&h->slot[s].pos);
		p->lagmsgs = -1;
		memcpy(p->cmd, h->slot[s].cmd, CMD_LEN);
		p->cmd[CMD_LEN] = '\0';
		p->bell = -1;
		for (b = 0; b < NBELL; b++)
			if (atomic_load(&h->asleep[b][s / 64]) >> (s % 64) & 1)
				p->bell = b;
	}
}

/* Who holds a token: a pid; 0 free, -1 HANDOFF, -2 one that is gone. */
static pid_t
look_holder(int fd, const struct seg *h, uint64_t id)
{
	uint32_t s = (uint32_t)id;

	if (id == TOKEN_FREE || id == TOKEN_HANDOFF)
		return id == TOKEN_FREE ? 0 : -1;
	if (id > TOKEN_HANDOFF || s < 1 || s > NSLOT ||
	    (id >> 32) != atomic_load(&h->slot[s - 1].epoch) ||
	    !lk_held(fd, LK_SLOT + (off_t)s - 1, 1))
		return -2;
	return (pid_t)atomic_load(&h->slot[s - 1].pid);
}

/*
 * Queued bytes and messages, from a scan of the ring.  A reader may
 * consume meanwhile, and a writer then overwrite what was consumed: a scan
 * that fails while tail moves is made again from the new tail; one that
 * succeeds is a snapshot, good enough.  A scan that fails with tail still
 * is a damaged ring.
 */
static int
look_queue(int fd, struct seg *h, struct ch_info *in)
{
	struct view *v = malloc(sizeof(*v));
	uint64_t tail, now;
	int i, r = -1;

	if (v == NULL)
		return -1;
	v->fd = fd;
	v->cap = in->cap;
	for (i = 0; i < 100; i++) {
		v->have = 0;
		if (pread(fd, h, sizeof(*h), 0) != (ssize_t)sizeof(*h))
			return -1;
		tail = atomic_load(&h->tail);
		if (ring_sum(look_hdr, v, tail, atomic_load(&h->head), in->cap,
		    &in->bytes, &in->msgs) == 0) {
			r = 0;
			break;
		}
		if (pread(fd, &now, sizeof(now), offsetof(struct seg, tail)) !=
		    (ssize_t)sizeof(now) || now == tail)
			break;
	}
	free(v);
	return r;
}

/*
 * What each subscriber and tap has still to read: payload bytes and whole
 * messages from its position to head, as a reader would deliver them.  A
 * position that the writer passed (a lossy one, lapped) is shown as what
 * separates it from head, in ring bytes; one that cannot be, as nothing.
 */
static void
look_lags(int fd, const struct seg *h, struct ch_info *in)
{
	struct view *v = malloc(sizeof(*v));
	uint64_t head = atomic_load(&h->head), over = atomic_load(&h->over);
	struct ch_proc *p;
	int i;

	for (i = 0; i < in->procs; i++) {
		p = &in->proc[i];
		if (p->role != 's' && p->role != 't')
			continue;
		in->subs += p->role == 's';
		if (p->pos > head || p->pos % 8 != 0) {
			p->pos = NONE;		/* not yet placed, or garbage */
			continue;
		}
		p->lag = head - p->pos;
		if (v != NULL && (int64_t)(over - p->pos) <= 0) {
			v->fd = fd;
			v->cap = in->cap;
			v->base = v->have = 0;
			if (ring_sum(look_hdr, v, p->pos, head, in->cap,
			    &p->lag, &p->lagmsgs) != 0) {
				p->lag = head - p->pos;
				p->lagmsgs = -1;
			}
		}
		if (p->role == 's' && p->lag > in->maxlag)
			in->maxlag = p->lag;
	}
	free(v);
}

static void
look_seg(int fd, const char *name, struct ch_info *in)
{
	struct obj o;
	struct seg h;
	int k = obj_judge(fd, name, &o, &h);

	in->state = -1;
	if (k != OBJ_ODD) {		/* what was opened: its owner and mode */
		in->uid = o.uid;
		in->mode = o.mode;
	}
	switch (k) {
	case OBJ_CHANNEL:
		break;
	case OBJ_BUILDING:
		if (lk_held(fd, LK_NAME, 1))
			in->state = ST_BUILDING;
		else
			in->damage = "left half-built by a process that died";
		return;
	case OBJ_ODD:
		in->damage = "not a regular file";
		return;
	case OBJ_LINKED:
		in->damage = "has other names (hard links)";
		return;
	default:
		in->damage = "not a channel";
		return;
	}
	in->cap = o.cap;
	in->gen = o.gen;
	in->keep = (o.flags & SEG_KEEP) != 0;
	in->kind = o.flags & (SEG_BCAST | SEG_LOSSY);
	in->state = (int)o.state;
	look_procs(fd, &h, in);
	in->wholder = look_holder(fd, &h, atomic_load(&h.wtoken));
	in->rholder = look_holder(fd, &h, atomic_load(&h.rtoken));
	in->seq = atomic_load(&h.seq);
	in->alloc = atomic_load(&h.alloc);
	if (look_queue(fd, &h, in) != 0) {
		in->state = -1;
		in->damage = "corrupt channel";
		return;
	}
	in->head = atomic_load(&h.head);
	in->tail = atomic_load(&h.tail);
	look_lags(fd, &h, in);
	in->stale = in->state == ST_LIVE && in->procs == 0 && !in->keep &&
	    (in->msgs == 0 || (in->kind & SEG_BCAST));
}

/*
 * What --status and --list show of channel name: CH_OK with in filled
 * (in->state -1 and in->damage for what is not a channel), CH_ENOENT, or
 * CH_ESYS (errno).  Only read permission is needed; without it, in tells
 * only the owner and mode.
 */
int
ch_look(const char *name, struct ch_info *in)
{
	char path[sizeof(SHM_DIR NAME_PREFIX) + NAME_LEN];
	struct stat st;
	int fd;

	memset(in, 0, sizeof(*in));
	in->state = -1;
	(void)snprintf(path, sizeof(path), SHM_DIR NAME_PREFIX "%s", name);
	if (lstat(path, &st) == -1)
		return errno == ENOENT ? CH_ENOENT : CH_ESYS;
	in->uid = st.st_uid;
	in->mode = st.st_mode & 07777;
	if (!S_ISREG(st.st_mode) || st.st_nlink > 1) {
		in->damage = st.st_nlink > 1 ? "has other names (hard links)" :
		    "not a regular file";
		return CH_OK;
	}
	/* never blocks on a FIFO swapped in since: what was opened counts */
	INJECT("look.open");
	fd = obj_fd(open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_NOCTTY | O_CLOEXEC));
	if (fd == -1)
		return errno == EACCES ? CH_OK : errno == ENOENT ? CH_ENOENT :
		    CH_ESYS;
	in->readable = 1;
	look_seg(fd, name, in);
	(void)close(fd);
	return CH_OK;
}

#endif /* SHMRW_IMPLEMENTATION */

/* ==== 3. WHAT THE TOOLS SHARE ========================================= */
#ifdef SHMRW_TOOLS

/* Set by the signal handler; a handle's stop points here (see sig_catch). */
static volatile sig_atomic_t sig_caught;

#define VERSION		"4.0"	/* the tools'; the manuals' .Os says it too */
#define DEFAULT_NAME	"default"
#define DEFAULT_CAP	((uint64_t)1 << 20)
#define DEFAULT_MODE	0600
#define HOT_LINES	10	/* fast events told a second; the rest summed */

enum { ACT_RUN, ACT_REMOVE, ACT_STATUS, ACT_LIST, ACT_PRUNE, ACT_WATCH };
#define A_RUN		(1U << ACT_RUN)	/* the actions an option goes with */
#define A_REMOVE	(1U << ACT_REMOVE)
#define A_STATUS	(1U << ACT_STATUS)
#define A_LIST		(1U << ACT_LIST)
#define A_PRUNE		(1U << ACT_PRUNE)
#define A_WATCH		(1U << ACT_WATCH)
/* Long options without a letter. */
enum { OPT_ANY = 256, OPT_JSON, OPT_LIST, OPT_LOSSY, OPT_NOHEAD, OPT_OLDEST,
	OPT_PRUNE, OPT_STATUS, OPT_TAP, OPT_WATCH };

#define LONGOPTS_COMMON \
	{ "any-owner",	no_argument,		NULL, OPT_ANY }, \
	{ "broadcast",	no_argument,		NULL, 'b' }, \
	{ "existing",	no_argument,		NULL, 'e' }, \
	{ "help",	no_argument,		NULL, 'h' }, \
	{ "json",	no_argument,		NULL, OPT_JSON }, \
	{ "keep",	no_argument,		NULL, 'k' }, \
	{ "list",	no_argument,		NULL, OPT_LIST }, \
	{ "lossy",	no_argument,		NULL, OPT_LOSSY }, \
	{ "mode",	required_argument,	NULL, 'm' }, \
	{ "name",	required_argument,	NULL, 'n' }, \
	{ "no-headings", no_argument,		NULL, OPT_NOHEAD }, \
	{ "prune",	no_argument,		NULL, OPT_PRUNE }, \
	{ "remove",	no_argument,		NULL, 'r' }, \
	{ "size",	required_argument,	NULL, 's' }, \
	{ "status",	no_argument,		NULL, OPT_STATUS }, \
	{ "timeout",	required_argument,	NULL, 't' }, \
	{ "verbose",	no_argument,		NULL, 'v' }, \
	{ "version",	no_argument,		NULL, 'V' }, \
	{ "watch",	optional_argument,	NULL, OPT_WATCH }

#define HELP_COMMON \
"      --any-owner      use a channel that another user owns\n" \
"  -b, --broadcast      a channel created now is a broadcast channel: each\n" \
"                       reader gets every message; refuse a queue\n" \
"  -e, --existing       use the channel only if it exists; else exit 1\n" \
"  -h, --help           print this help and exit\n" \
"      --json           with --status or --list: print JSON\n" \
"  -k, --keep           a channel created now stays when empty, until -r\n" \
"      --list [NAME...] list the channels on this host (or those named,\n" \
"                       or matching shell patterns) and exit\n" \
"      --lossy          -b, and its writer never waits: a reader that\n" \
"                       falls a ring behind misses messages (exit 3)\n" \
"  -m, --mode=MODE      permissions of a channel created now (0600)\n" \
"  -n, --name=NAME      the channel's name (default: default)\n" \
"      --no-headings    with --list: no header line\n" \
"      --prune [NAME...]\n" \
"                       remove the stale channels (nobody attached,\n" \
"                       nothing queued, not kept); print their names\n" \
"  -r, --remove         remove the channel, queued messages too, and exit\n" \
"  -s, --size=SIZE      capacity of a channel created now: 4K to 1G (1M)\n" \
"      --status         describe the channel and exit\n" \
"  -t, --timeout=DUR    wait at most DUR (seconds, or with s, m, h, d;\n" \
"                       inf: for ever), as timeout(1) takes it\n" \
"  -V, --version        print the version and exit\n" \
"  -v, --verbose        tell each step on standard error\n" \
"      --watch[=DUR]    show the channel (-n) or all of them, live, every\n" \
"                       DUR (0.5 s); q, Ctrl-C or SIGTERM ends it\n"

/* What the tool says of itself. */
struct tool {
	const char *name, *usage, *help;
};

struct opts {
	const char *name;
	struct ch_make mk;
	int64_t timeout_ns;	/* < 0: none */
	int action;
	int verbose, json, headings;
	int64_t every_ns;	/* --watch: between two frames */
	int given[32], ngiven;	/* the options, in the order given */
};

static const struct tool *tool;	/* the one running */
static struct chan ch;		/* the channel this process uses */
static int64_t t0_ns;		/* when we started, for -v */
static timer_t sig_timer;
static int pipe_ignored;	/* by our caller: then EPIPE is an error */
static char bus_msg[NAME_LEN + 64];

/* --- parsing ----------------------------------------------------------- */

#define STR_(x)	#x
#define STR(x)	STR_(x)

/* The name, or NULL and why not. */
static const char *
opt_name(const char *s, const char **why)
{
	const char *n = s[0] == '/' ? s + 1 : s;
	size_t len = strlen(n);

	if (ch_valid_name(n, len))
		return n;
	*why = len == 0 ? "empty" : len > NAME_LEN ? "longer than "
	    STR(NAME_LEN) " bytes" : "letters, digits, '.', '_' and '-' only";
	return NULL;
}

/*
 * 4K to 1G, with K, M or G (powers of 1024); rounded up to a power of 2.
 * Or -1, and why not.
 */
static int
opt_size(const char *s, uint64_t *cap, const char **why)
{
	unsigned long long v, mul = 1;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	*why = "a number of bytes, with K, M or G";
	if (end == s || errno != 0 || !isdigit((unsigned char)s[0]))
		return -1;
	if (*end != '\0' && end[1] == '\0' && strchr("kKmMgG", *end) != NULL)
		mul = (unsigned long long)1 << (10 * (1 + (strchr("kmg",
		    tolower((unsigned char)*end)) - "kmg")));
	else if (*end != '\0')
		return -1;
	*why = "from 4K to 1G";
	if (v > MAX_CAP / mul || v * mul < MIN_CAP)
		return -1;
	for (*cap = MIN_CAP; *cap < v * mul; *cap <<= 1)
		;
	return 0;
}

/* A mode the owner can use, and so remove, the channel with. */
static int
opt_mode(const char *s, mode_t *mode, const char **why)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 8);
	if (end == s || *end != '\0' || errno != 0 || v > 0777 ||
	    !isdigit((unsigned char)s[0]))
		return -1;
	if ((v & 0600) != 0600) {
		*why = "the owner needs read and write (0600)";
		return -1;
	}
	if (!ch_mode_ok((mode_t)v)) {
		*why = "each of group and others needs read and write, or "
		    "neither";
		return -1;
	}
	*mode = (mode_t)v;
	return 0;
}

/*
 * As timeout(1) takes it: a number of seconds as strtod(3) reads it, inf
 * (for ever) included, or of minutes, hours or days with m, h or d.
 */
static int
opt_duration(const char *s, int64_t *ns)
{
	static const char units[] = "smhd";
	static const double secs[] = { 1, 60, 3600, 86400 };
	const char *u;
	double v;
	char *end;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || (errno != 0 && errno != ERANGE) || isnan(v) || v < 0)
		return -1;
	if (*end != '\0' && (end[1] != '\0' || (u = strchr(units, *end)) ==
	    NULL))
		return -1;
	if (*end != '\0')
		v *= secs[u - units];
	*ns = v > 1e9 ? -1 : (int64_t)(v * 1e9 + 0.5);	/* 31 years: for ever */
	return 0;
}

/*
 * An option both tools take: 0 when it is in o now, 1 when its argument is
 * bad (said on stderr: the tool prints its usage), -1 when it is not one.
 */
static int
opt_common(struct opts *o, int opt, const char *arg)
{
	const char *what = NULL, *why = NULL;

	switch (opt) {
	case OPT_ANY:	o->mk.any_owner = 1; break;
	case 'b':	o->mk.kind |= SEG_BCAST; break;
	case 'e':	o->mk.existing = 1; break;
	case OPT_JSON:	o->json = 1; break;
	case 'k':	o->mk.keep = 1; break;
	case OPT_LIST:	o->action = ACT_LIST; break;
	case OPT_LOSSY:	o->mk.kind |= SEG_BCAST | SEG_LOSSY; break;
	case 'm':	what = opt_mode(arg, &o->mk.mode, &why) ? "mode" : NULL;
			break;
	case 'n':	what = (o->name = opt_name(arg, &why)) ? NULL : "name";
			break;
	case OPT_NOHEAD: o->headings = 0; break;
	case OPT_PRUNE:	o->action = ACT_PRUNE; break;
	case 'r':	o->action = ACT_REMOVE; break;
	case 's':	what = opt_size(arg, &o->mk.cap, &why) ? "size" : NULL;
			break;
	case OPT_STATUS: o->action = ACT_STATUS; break;
	case 't':	what = opt_duration(arg, &o->timeout_ns) ? "duration" :
			    NULL; break;
	case 'v':	o->verbose = 1; break;
	case OPT_WATCH:	o->action = ACT_WATCH;
			what = arg != NULL && (opt_duration(arg, &o->every_ns) ||
			    o->every_ns <= 0) ? "interval" : NULL;
			break;
	default:	return -1;
	}
	if (what == NULL)
		return 0;
	if (why != NULL)
		warnx("invalid %s: '%s': %s", what, arg, why);
	else
		warnx("invalid %s: '%s'", what, arg);
	return 1;
}

/* The short usage, on stderr: exit 2. */
static void
tool_usage(void)
{
	fputs(tool->usage, stderr);
	exit(2);
}

/* getopt_long(), told to be quiet, returned ':' or '?'. */
static void
opt_bad(int opt, const char *arg)
{
	if (strncmp(arg, "--", 2) != 0)
		warnx("%s: '-%c'", opt == ':' ? "option requires an argument" :
		    "unknown option", optopt);
	else if (opt == ':')
		warnx("option requires an argument: '%s'", arg);
	else
		warnx("%s: '%s'", optopt != 0 ? "option takes no argument" :
		    "unknown option", arg);
}

/* Each option: its name in messages, and the actions it goes with. */
static const struct optdef {
	int opt;
	const char *name;
	unsigned acts;
} optdefs[] = {
	{ OPT_ANY, "--any-owner", A_RUN },
	{ 'b', "-b", A_RUN },
	{ 'e', "-e", A_RUN },
	{ 'c', "-c", A_RUN },
	{ 'f', "-f", A_RUN },
	{ OPT_OLDEST, "--from-oldest", A_RUN },
	{ OPT_JSON, "--json", A_STATUS | A_LIST },
	{ 'k', "-k", A_RUN },
	{ 'l', "-l", A_RUN },
	{ OPT_LIST, "--list", A_LIST },
	{ OPT_LOSSY, "--lossy", A_RUN },
	{ 'm', "-m", A_RUN },
	{ 'n', "-n", A_RUN | A_REMOVE | A_STATUS | A_LIST | A_PRUNE |
	    A_WATCH },
	{ OPT_NOHEAD, "--no-headings", A_LIST },
	{ OPT_PRUNE, "--prune", A_PRUNE },
	{ 'r', "-r", A_REMOVE },
	{ 's', "-s", A_RUN },
	{ OPT_STATUS, "--status", A_STATUS },
	{ OPT_TAP, "--tap", A_RUN },
	{ 't', "-t", A_RUN | A_REMOVE },
	{ 'v', "-v", A_RUN | A_REMOVE | A_PRUNE },
	{ OPT_WATCH, "--watch", A_WATCH },
	{ 'w', "-w", A_RUN },
	{ 'z', "-z", A_RUN },
};

/* An option's name, as messages give it. */
static const char *
opt_name_of(int opt)
{
	size_t k;

	for (k = 0; k < sizeof(optdefs) / sizeof(optdefs[0]); k++)
		if (optdefs[k].opt == opt)
			return optdefs[k].name;
	return "?";
}

/* Was opt given? */
static int
opt_given(const struct opts *o, int opt)
{
	int i;

	for (i = 0; i < o->ngiven && o->given[i] != opt; i++)
		;
	return i < o->ngiven;
}

/* Note that opt was given (-h and -V end at once; repeats count once). */
static void
opt_note(struct opts *o, int opt)
{
	if (!opt_given(o, opt) && o->ngiven < (int)(sizeof(o->given) /
	    sizeof(o->given[0])))
		o->given[o->ngiven++] = opt;
}

/*
 * An option that getopt_long() returned and that is not the tool's own:
 * -h and -V (which end here), a shared one, or a usage error.  Every
 * option goes into o->given.
 */
static void
opt_other(struct opts *o, int opt, char *const argv[])
{
	switch (opt) {
	case 'h':
		fputs(tool->usage, stdout);
		fputs(tool->help, stdout);
		exit(fclose(stdout) == 0 ? 0 : 1);
	case 'V':
		printf("%s %s\n", tool->name, VERSION);
		exit(fclose(stdout) == 0 ? 0 : 1);
	case ':':
	case '?':
		opt_bad(opt, argv[optind - 1]);
		tool_usage();
	}
	if (opt_common(o, opt, optarg) != 0)
		tool_usage();
}

/*
 * The options given that cannot go together, said on stderr: 1; or 0.
 * Of those that cannot go with the action, the first given is named.
 */
static int
opt_check(const struct opts *o, int argc)
{
	static const char *const names[] = { "sending or taking messages",
		"-r", "--status", "--list", "--prune", "--watch" };
	size_t k;
	int i;

	if (opt_given(o, 'r') + opt_given(o, OPT_STATUS) +
	    opt_given(o, OPT_LIST) + opt_given(o, OPT_PRUNE) +
	    opt_given(o, OPT_WATCH) > 1) {
		warnx("-r, --status, --list, --prune and --watch exclude each "
		    "other");
		return 1;
	}
	if (o->action != ACT_RUN && o->action != ACT_LIST &&
	    o->action != ACT_PRUNE && argc > 0) {
		warnx("operands cannot be used with %s", names[o->action]);
		return 1;
	}
	if (o->json && !o->headings) {
		warnx("--no-headings cannot be used with --json");
		return 1;
	}
	for (i = 0; i < o->ngiven; i++)
		for (k = 0; k < sizeof(optdefs) / sizeof(optdefs[0]); k++)
			if (optdefs[k].opt == o->given[i] &&
			    !(optdefs[k].acts & 1U << o->action)) {
				warnx("%s cannot be used with %s",
				    opt_name_of(o->given[i]), names[o->action]);
				return 1;
			}
	return 0;
}

/* --- narration (-v) ---------------------------------------------------- */

/*
 * Each step that changes something is told, stamped with the time of day
 * and the pid, so that two terminals line up.  Two kinds are summed up
 * instead: the slices of an idle wait ("still waiting", once a second),
 * and the steps of a busy process past HOT_LINES a second, for as long as
 * they keep coming that fast.
 */
static const char *const ev_names[EV_N][2] = {	/* one, more */
	{ NULL, NULL }, { "publish", "publishes" },
	{ "write-out", "write-outs" }, { "post", "posts" },
	{ "post skipped (nobody asleep)", "posts skipped (nobody asleep)" },
	{ "wait met by a look", "waits met by a look" },
	{ "sleep", "sleeps" }, { "wake-up by a post", "wake-ups by a post" },
	{ NULL, NULL }
};
static struct {
	int64_t sec;
	int shown, quiet;	/* told this second; only summing up */
	long n[EV_N];
	uint64_t bytes[EV_N];
	int64_t waited;		/* whole seconds of the idle wait told */
} hot;

static void
narr_tell(const char *fmt, ...)
{
	char line[512];
	struct timespec ts;
	struct tm tm;
	va_list ap;
	int n;

	(void)clock_gettime(CLOCK_REALTIME, &ts);
	(void)localtime_r(&ts.tv_sec, &tm);
	n = snprintf(line, sizeof(line), "%s: [%02d:%02d:%02d.%03ld %d] ",
	    program_invocation_short_name, tm.tm_hour, tm.tm_min, tm.tm_sec,
	    ts.tv_nsec / 1000000, (int)getpid());
	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	(void)write(STDERR_FILENO, line, (size_t)n);
}

/* What -v did not tell one by one, summed up; 0 if nothing. */
static int
narr_summary(void)
{
	char sum[400];
	uint64_t bytes;
	int e, n = 0;

	for (e = 1; e < EV_N; e++)
		if (hot.n[e] != 0 && n < (int)sizeof(sum) - 80)
			n += snprintf(sum + n, sizeof(sum) - (size_t)n, "%s%ld "
			    "%s", n ? ", " : "", hot.n[e],
			    ev_names[e][hot.n[e] != 1]);
	bytes = hot.bytes[EV_PUBLISH] + hot.bytes[EV_CONSUME];
	if (bytes != 0)
		(void)snprintf(sum + n, sizeof(sum) - (size_t)n, "; %llu "
		    "byte%s", (unsigned long long)bytes, bytes == 1 ? "" : "s");
	if (n > 0)
		narr_tell("in the last second, also: %s", sum);
	memset(hot.n, 0, sizeof(hot.n));
	memset(hot.bytes, 0, sizeof(hot.bytes));
	return n > 0;
}

/* The protocol's narrator (struct chan: narrate): see above. */
static void
narr_event(int ev, uint64_t n, const char *fmt, va_list ap)
{
	int64_t sec = (t_now() - t0_ns) / 1000000000;
	char msg[400];

	if (ev == EV_SLICE) {		/* an idle wait: once a second */
		if ((int64_t)(n / 1000000000) <= hot.waited)
			return;
		hot.waited = (int64_t)(n / 1000000000);
	} else if (sec != hot.sec) {
		hot.quiet = narr_summary() && sec == hot.sec + 1;
		hot.sec = sec;
		hot.shown = 0;
	}
	if (ev == EV_SLEEP)
		hot.waited = 0;		/* a new wait */
	if (ev != EV_NOTE && ev != EV_SLICE && (hot.quiet ||
	    hot.shown >= HOT_LINES)) {
		hot.n[ev]++;
		hot.bytes[ev] += ev == EV_PUBLISH || ev == EV_CONSUME ? n : 0;
		return;
	}
	hot.shown += ev != EV_NOTE && ev != EV_SLICE;
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	narr_tell("%s", msg);
}

/* --- signals ----------------------------------------------------------- */

/*
 * INT, TERM and HUP set sig_caught, which every wait and every loop of the
 * tools looks at; the tool then leaves the channel in order and dies of
 * the same signal.  A signal that comes after a loop looked and before it
 * blocks in a system call would go unseen until that call returns: so the
 * handler also starts a timer that sends SIGALRM every 10 ms, whose empty
 * handler interrupts any call that blocks from then on (no SA_RESTART).
 */
static void
sig_on(int sig)
{
	static const struct itimerspec tick = { { 0, 10000000 },
		{ 0, 10000000 } };

	if (sig_caught == 0) {
		sig_caught = sig;
		(void)timer_settime(sig_timer, 0, &tick, NULL);
	}
}

static void
sig_alarm(int sig)
{
	(void)sig;
}

static void
sig_bus(int sig)
{
	(void)sig;
	(void)write(STDERR_FILENO, bus_msg, strlen(bus_msg));
	_exit(1);
}

static void
sig_catch(void)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP };
	struct sigevent ev = { .sigev_notify = SIGEV_SIGNAL,
		.sigev_signo = SIGALRM };
	struct sigaction sa, old;
	size_t i;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = sig_alarm;
	(void)sigaction(SIGALRM, &sa, NULL);
	if (timer_create(CLOCK_MONOTONIC, &ev, &sig_timer) == -1)
		err(1, "timer_create");
	sa.sa_handler = sig_on;
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if (sigaction(sigs[i], NULL, &old) == 0 &&
		    old.sa_handler != SIG_IGN)
			(void)sigaction(sigs[i], &sa, NULL);
	pipe_ignored = signal(SIGPIPE, SIG_IGN) == SIG_IGN;
	/* a file size limit (ulimit -f): an error to tell, EFBIG, not a death */
	(void)signal(SIGXFSZ, SIG_IGN);
}

static void
sig_die(void)
{
	int sig = sig_caught;
	sigset_t set;

	(void)signal(sig, SIG_DFL);
	sigemptyset(&set);
	sigaddset(&set, sig);
	(void)sigprocmask(SIG_UNBLOCK, &set, NULL);
	(void)raise(sig);
	_exit(128 + sig);	/* cppcheck-suppress unreachableCode */
}

/* --- starting and ending ----------------------------------------------- */

/*
 * Before anything else: a closed standard descriptor is an error, said
 * before any channel is touched.  /dev/null takes its number first, so
 * that nothing meant for it lands elsewhere.
 */
static void
tool_init(struct opts *o, const struct tool *t, int argc, char *argv[])
{
	static const char *const what[] = { "standard input",
		"standard output", "standard error" };
	static char cmd[CMD_LEN];
	int fd, closed = -1, i;
	size_t n = 0;

	for (fd = 0; fd <= STDERR_FILENO; fd++)
		if (fcntl(fd, F_GETFD) == -1 && errno == EBADF) {
			if (closed == -1)
				closed = fd;
			(void)open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
		}
	if (closed != -1)
		errx(1, "%s is closed", what[closed]);
	t0_ns = t_now();
	tool = t;
	memset(o, 0, sizeof(*o));
	o->name = DEFAULT_NAME;
	o->mk.cap = DEFAULT_CAP;
	o->mk.mode = DEFAULT_MODE;
	o->timeout_ns = -1;
	o->every_ns = 500000000;
	o->headings = 1;
	for (i = 0; i < argc && n + 1 < sizeof(cmd); i++)	/* for our slot */
		n += (size_t)snprintf(cmd + n, sizeof(cmd) - n, "%s%s",
		    i ? " " : "", i ? argv[i] : t->name);
	o->mk.cmd = cmd;
	opterr = 0;
	(void)signal(SIGBUS, sig_bus);
}

static const char *show_owner(uid_t);

static const char *
tool_why(const struct chan *c, int st)
{
	static const char *const why[] = {
		[CH_ENOENT] = "no such channel",
		[CH_ENOTCHAN] = "not a channel",
		[CH_ELINKED] = "has other names (hard links): refused",
		[CH_EFOREIGN] = "owned by %s (use --any-owner)",
		[CH_ECORRUPT] = "corrupt channel",
		[CH_ETRUNC] = "channel truncated",
		[CH_EREMOVED] = "channel removed",
		[CH_EFULL] = "too many processes attached (%d)",
		[CH_EDEAD] = "left half-built by a process that died",
		[CH_EWRITER] = "message truncated (writer went away)",
		[CH_EREADER] = "reader went away",
		[CH_EBUSY] = "busy: being created or removed",
		[CH_ENOTBCAST] = "not a broadcast channel",
		[CH_ENOTLOSSY] = "not a lossy channel",
		[CH_ENOTQUEUE] = "-w needs a queue channel",
	};
	static char buf[300];
	int n = snprintf(buf, sizeof(buf), "%s: ", c->name);

	if (st == CH_ESYS && c->what != NULL)
		(void)snprintf(buf + n, sizeof(buf) - (size_t)n, "%s: %s",
		    c->what, strerror(c->errnum));
	else if (st == CH_ESYS)
		(void)snprintf(buf + n, sizeof(buf) - (size_t)n, "%s",
		    strerror(c->errnum));
	else if (st == CH_EBUSY && c->busy_pid > 0)
		(void)snprintf(buf + n, sizeof(buf) - (size_t)n, "%s (pid %d)",
		    why[st], (int)c->busy_pid);
	else if (st == CH_EFOREIGN)	/* the user by name, where there is one */
		(void)snprintf(buf + n, sizeof(buf) - (size_t)n, why[st],
		    show_owner(c->uid));
	else		/* cppcheck-suppress wrongPrintfScanfArgNum */
		(void)snprintf(buf + n, sizeof(buf) - (size_t)n, why[st], NSLOT);
	return buf;
}

/* Leave the channel, then end as the manual says for st. */
static void
tool_fail(int st)
{
	ch_close(&ch);
	if (ch.narrate != NULL)
		(void)narr_summary();
	if (st == CH_EINTR)
		sig_die();
	if (st == CH_ETIMEDOUT)
		exit(124);
	if (st == CH_EBUSY) {
		warnx("%s", tool_why(&ch, st));
		exit(124);
	}
	errx(1, "%s", tool_why(&ch, st));
}

/* -k, -m and -s matter only to a creator: tell one who is not. */
static void
tool_warn_ignored(const struct opts *o)
{
	struct stat st;

	if (opt_given(o, 's') && ch.cap != o->mk.cap)
		warnx("%s: exists with capacity %llu; -s ignored", ch.name,
		    (unsigned long long)ch.cap);
	if (opt_given(o, 'm') && fstat(ch.fd, &st) == 0 &&
	    (st.st_mode & 0777) != o->mk.mode)
		warnx("%s: exists with mode %04o; -m ignored", ch.name,
		    (unsigned)(st.st_mode & 0777));
	if (o->mk.keep && !(ch.seg->flags & SEG_KEEP))
		warnx("%s: exists, not kept; -k ignored", ch.name);
}

/* Open the channel for role 'r', 'w' or 't', as the options say. */
static void
tool_open(const struct opts *o, int role)
{
	int st;

	sig_catch();
	ch.timeout_ns = o->timeout_ns;
	ch.stop = &sig_caught;
	ch.narrate = o->verbose ? narr_event : NULL;
	if ((st = ch_open(&ch, o->name, role, &o->mk)) != CH_OK)
		tool_fail(st);
	(void)snprintf(bus_msg, sizeof(bus_msg), "%s: %s: channel truncated\n",
	    program_invocation_short_name, ch.name);
	if (!ch.created)
		tool_warn_ignored(o);
}

static void
tool_close(void)
{
	ch_close(&ch);
	if (ch.narrate != NULL)
		(void)narr_summary();
	if (fclose(stdout) != 0)
		err(1, "stdout");
}

/* --- -r, --status, --list ---------------------------------------------- */

struct row {
	char *name;		/* as found: for sorting */
	char shown[4 * (NAME_MAX + 1)];	/* escaped */
	struct ch_info in;
};

/* A name from /dev/shm, safe to print: others' bytes as \xHH. */
static void
show_escape(const char *s, char *out, size_t n, int spaces)
{
	size_t i = 0;

	for (; *s != '\0' && i + 5 < n; s++)
		if ((isgraph((unsigned char)*s) || (spaces && *s == ' ')) &&
		    *s != '\\' && *s != '"')
			out[i++] = *s;
		else
			i += (size_t)snprintf(out + i, n - i, "\\x%02x",
			    (unsigned char)*s);
	out[i] = '\0';
}

/* A string shown with show_escape(), in JSON: only its backslashes. */
static void
show_json_str(const char *s)
{
	for (; *s != '\0'; s++)
		printf(*s == '\\' ? "\\\\" : "%c", *s);
}
static const char *
show_state(const struct ch_info *in)
{
	static const char *const names[] = { "building", "live", "dying",
		"removed" };

	if (!in->readable)
		return in->damage != NULL ? "damaged" : "unreadable";
	if (in->state < 0)
		return "damaged";
	return in->stale ? "stale" : names[in->state];
}
static const char *
show_owner(uid_t uid)
{
	static char buf[32];
	struct passwd *pw = getpwuid(uid);

	if (pw != NULL)
		return pw->pw_name;
	(void)snprintf(buf, sizeof(buf), "%u", (unsigned)uid);
	return buf;
}

/* A capacity, a power of two from 4K to 1G, as -s takes it. */
static const char *
show_size(uint64_t cap)
{
	static char buf[16];

	(void)snprintf(buf, sizeof(buf), "%llu%c", (unsigned long long)(cap >=
	    (1 << 30) ? cap >> 30 : cap >= (1 << 20) ? cap >> 20 : cap >> 10),
	    cap >= (1 << 30) ? 'G' : cap >= (1 << 20) ? 'M' : 'K');
	return buf;
}

static void
show_json_field(const char *key, const char *val, int quote)
{
	printf(",\"%s\":%s%s%s", key, quote ? "\"" : "", val, quote ? "\"" :
	    "");
}

/* The pids of the writers (role 'w') or of the readers, for --status. */
static void
show_pids(const struct ch_info *in, char role, int json)
{
	int i, n = 0;

	for (i = 0; i < in->procs; i++)
		if (in->proc[i].role == role)
			printf("%s%d", json ? (n++ ? "," : "") : " ",
			    (int)in->proc[i].pid);
}

/* What a process waits for, by its bell; NULL if it is not asleep. */
static const char *
show_bell(int bell)
{
	static const char *const names[] = { "the read token",
		"the write token", "data", "room or a taker" };

	return bell >= 0 && bell < NBELL ? names[bell] : NULL;
}

static const char *
show_role(char role)
{
	return role == 'w' ? "writer" : role == 'r' ? "reader" : role == 's' ?
	    "subscriber" : role == 't' ? "tap" : "?";
}

/* The kind of a channel, as --list and --watch show it. */
static const char *
show_kind(const struct ch_info *in)
{
	return !(in->kind & SEG_BCAST) ? "queue" : in->kind & SEG_LOSSY ?
	    "lossy" : "broadcast";
}

/* Where a subscriber or tap is, and what it has still to read. */
static const char *
show_lag(const struct ch_proc *p)
{
	static char buf[96];

	if (p->role != 's' && p->role != 't')
		return "";
	if (p->pos == NONE)
		return ", not placed yet";
	(void)snprintf(buf, sizeof(buf), ", at %llu, lag %llu byte%s",
	    (unsigned long long)p->pos, (unsigned long long)p->lag,
	    p->lag == 1 ? "" : "s");
	if (p->lagmsgs >= 0)
		(void)snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf),
		    ", %ld message%s", p->lagmsgs, p->lagmsgs == 1 ? "" : "s");
	return buf;
}

/* A token's holder, as --status and --watch show it. */
static const char *
show_holder(pid_t pid)
{
	static char buf[16];

	if (pid <= 0)
		return pid == 0 ? "free" : pid == -1 ? "handed off" : "gone";
	(void)snprintf(buf, sizeof(buf), "%d", (int)pid);
	return buf;
}

/* A subscriber's or tap's position and lag, as JSON fields. */
static void
show_json_lag(const struct ch_proc *p)
{
	if ((p->role != 's' && p->role != 't') || p->pos == NONE) {
		printf("\"position\":null,\"lag_bytes\":null,"
		    "\"lag_messages\":null,");
		return;
	}
	printf("\"position\":%llu,\"lag_bytes\":%llu,\"lag_messages\":",
	    (unsigned long long)p->pos, (unsigned long long)p->lag);
	if (p->lagmsgs >= 0)
		printf("%ld,", p->lagmsgs);
	else
		printf("null,");
}

/* The processes attached, as JSON objects. */
static void
show_json_procs(const struct ch_info *in)
{
	char cmd[4 * CMD_LEN + 1];
	const char *b;
	int i;

	printf(",\"processes\":[");
	for (i = 0; i < in->procs; i++) {
		show_escape(in->proc[i].cmd, cmd, sizeof(cmd), 1);
		b = show_bell(in->proc[i].bell);
		printf("%s{\"pid\":%d,\"user\":\"%s\",\"uid\":%u,\"role\":"
		    "\"%s\",\"waits\":%s%s%s,", i ? "," : "",
		    (int)in->proc[i].pid, show_owner(in->proc[i].uid),
		    (unsigned)in->proc[i].uid, show_role(in->proc[i].role),
		    b ? "\"" : "", b ? b : "null", b ? "\"" : "");
		show_json_lag(&in->proc[i]);
		printf("\"command\":\"");
		show_json_str(cmd);
		printf("\"}");
	}
	printf("]");
}

/* One channel as a JSON object; with its pids for --status. */
static void
show_json(const char *shown, const struct ch_info *in, int pids)
{
	char num[32];

	printf("{\"name\":\"");
	show_json_str(shown);
	printf("\"");
	show_json_field("owner", show_owner(in->uid), 1);
	(void)snprintf(num, sizeof(num), "%u", (unsigned)in->uid);
	show_json_field("uid", num, 0);
	(void)snprintf(num, sizeof(num), "%04o", (unsigned)in->mode);
	show_json_field("mode", num, 1);
	show_json_field("state", show_state(in), 1);
	if (in->damage != NULL)
		show_json_field("damage", in->damage, 1);
	if (!in->readable || in->state < 0)
		printf(",\"kind\":null,\"lossy\":null,\"size\":null,"
		    "\"queued\":null,\"messages\":null,\"procs\":null,"
		    "\"subscriber_count\":null,\"max_lag\":null,\"kept\":null");
	else
		printf(",\"kind\":\"%s\",\"lossy\":%s,\"size\":%llu,"
		    "\"queued\":%llu,\"messages\":%ld,\"procs\":%d,"
		    "\"subscriber_count\":%d,\"max_lag\":%llu,\"kept\":%s",
		    in->kind & SEG_BCAST ? "broadcast" : "queue",
		    in->kind & SEG_LOSSY ? "true" : "false",
		    (unsigned long long)in->cap, (unsigned long long)in->bytes,
		    in->msgs, in->procs, in->subs,
		    (unsigned long long)in->maxlag, in->keep ? "true" : "false");
	if (pids && in->readable && in->state >= 0) {
		printf(",\"last_message\":%u", (unsigned)in->seq);
		printf(",\"write_token\":\"%s\"", show_holder(in->wholder));
		if (!(in->kind & SEG_BCAST))
			printf(",\"read_token\":\"%s\"",
			    show_holder(in->rholder));
		printf(",\"writers\":[");
		show_pids(in, 'w', 1);
		printf("],\"readers\":[");
		show_pids(in, 'r', 1);
		printf("],\"subscribers\":[");
		show_pids(in, 's', 1);
		printf("],\"taps\":[");
		show_pids(in, 't', 1);
		printf("]");
		show_json_procs(in);
	}
	printf("}");
}

static void
show_status_text(const char *name, const struct ch_info *in)
{
	char cmd[4 * CMD_LEN + 1];
	const char *b;
	int i;

	printf("name: %s\nobjects: " SHM_DIR NAME_PREFIX "%s", name, name);
	for (i = 0; i < NBELL; i++)
		printf(" " SHM_DIR "sem." NAME_PREFIX "%s.%08x.%c", name,
		    (unsigned)in->gen, BELL_LETTERS[i]);
	printf("\nowner: %s (uid %u)\nmode: %04o\ncapacity: %llu\nkind: %s%s\n"
	    "kept: %s\nstate: %s\nqueued: %llu byte%s, %ld message%s\nwriters:",
	    show_owner(in->uid), (unsigned)in->uid, (unsigned)in->mode,
	    (unsigned long long)in->cap, in->kind & SEG_BCAST ? "broadcast" :
	    "queue", in->kind & SEG_LOSSY ? ", lossy" : "",
	    in->keep ? "yes" : "no", show_state(in),
	    (unsigned long long)in->bytes, in->bytes == 1 ? "" : "s", in->msgs,
	    in->msgs == 1 ? "" : "s");
	show_pids(in, 'w', 0);
	printf("\n%s:", in->kind & SEG_BCAST ? "subscribers" : "readers");
	show_pids(in, in->kind & SEG_BCAST ? 's' : 'r', 0);
	printf("\ntaps:");
	show_pids(in, 't', 0);
	printf("\nlast message: %u\n", (unsigned)in->seq);
	printf("write token: %s\n", show_holder(in->wholder));
	if (!(in->kind & SEG_BCAST))
		printf("read token: %s\n", show_holder(in->rholder));
	for (i = 0; i < in->procs; i++) {
		show_escape(in->proc[i].cmd, cmd, sizeof(cmd), 1);
		b = show_bell(in->proc[i].bell);
		printf("process: %d %s %s, %s%s%s: %s\n", (int)in->proc[i].pid,
		    show_owner(in->proc[i].uid), show_role(in->proc[i].role),
		    b ? "waits for " : "busy", b ? b : "",
		    show_lag(&in->proc[i]), cmd);
	}
}

/* --status: only read permission is needed, and no --any-owner. */
static int
act_status(const struct opts *o)
{
	struct ch_info in;
	int st = ch_look(o->name, &in);

	if (st == CH_ENOENT)
		errx(1, "%s: no such channel", o->name);
	if (st != CH_OK)
		err(1, "%s", o->name);
	if (!in.readable && in.damage == NULL)
		errx(1, "%s: %s", o->name, strerror(EACCES));
	if (in.damage != NULL)
		errx(1, "%s: %s", o->name, in.damage);
	if (o->json) {
		show_json(o->name, &in, 1);
		printf("\n");
	} else
		show_status_text(o->name, &in);
	return 0;
}

/* A row of --list for the object fname (shmrw.*); 0 if it is gone. */
static int
list_row(struct row *r, const char *fname)
{
	const char *name = fname + strlen(NAME_PREFIX);
	char path[sizeof(SHM_DIR) + NAME_MAX];
	struct stat st;
	int s;

	show_escape(name, r->shown, sizeof(r->shown), 0);
	if (ch_valid_name(name, strlen(name))) {
		if ((s = ch_look(name, &r->in)) == CH_ESYS)
			r->in.damage = strerror(errno);
		if (s == CH_ENOENT)
			return 0;
	} else {
		memset(&r->in, 0, sizeof(r->in));
		r->in.state = -1;
		r->in.damage = "not a channel's name";
		(void)snprintf(path, sizeof(path), SHM_DIR "%s", fname);
		if (lstat(path, &st) == -1)
			return 0;
		r->in.uid = st.st_uid;
		r->in.mode = st.st_mode & 07777;
	}
	if ((r->name = strdup(fname)) == NULL)	/* for sorting */
		err(1, NULL);
	return 1;
}

static int
list_cmp(const void *a, const void *b)
{
	return strcmp(((const struct row *)a)->name,
	    ((const struct row *)b)->name);
}

#define NCOL	12
static const char *const col_head[NCOL] = { "NAME", "KIND", "OWNER", "MODE",
	"SIZE", "QUEUED", "MESSAGES", "PROCS", "SUBS", "LAG", "KEPT", "STATE" };
static const char col_left[NCOL] = { 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1 };

static void
list_cells(const struct row *r, char cell[NCOL][32])
{
	const struct ch_info *in = &r->in;
	int known = in->readable && in->state >= 0 && in->cap > 0, i;

	for (i = 1; i < NCOL - 1; i++)	/* unknown, or no such thing */
		(void)snprintf(cell[i], 32, "%s", in->damage == NULL &&
		    !in->readable ? "?" : "-");
	(void)snprintf(cell[2], 32, "%s", show_owner(in->uid));
	(void)snprintf(cell[3], 32, "%04o", (unsigned)in->mode);
	(void)snprintf(cell[11], 32, "%s", show_state(in));
	if (!known)
		return;
	(void)snprintf(cell[1], 32, "%s", show_kind(in));
	(void)snprintf(cell[4], 32, "%s", show_size(in->cap));
	(void)snprintf(cell[5], 32, "%llu", (unsigned long long)in->bytes);
	(void)snprintf(cell[6], 32, "%ld", in->msgs);
	(void)snprintf(cell[7], 32, "%d", in->procs);
	if (in->kind & SEG_BCAST) {
		(void)snprintf(cell[8], 32, "%d", in->subs);
		(void)snprintf(cell[9], 32, "%llu",
		    (unsigned long long)in->maxlag);
	}
	(void)snprintf(cell[10], 32, "%s", in->keep ? "yes" : "no");
}

/* Aligned like lsipc(1): text to the left, numbers to the right. */
static void
list_text(const struct row *rows, size_t n, int headings)
{
	char cell[NCOL][32];
	int w[NCOL], i, len;
	size_t k;

	for (i = 0; i < NCOL; i++)
		w[i] = headings ? (int)strlen(col_head[i]) : 0;
	for (k = 0; k < n; k++) {
		list_cells(&rows[k], cell);
		for (i = 0; i < NCOL; i++) {
			len = (int)strlen(i == 0 ? rows[k].shown : cell[i]);
			w[i] = len > w[i] ? len : w[i];
		}
	}
	for (k = headings ? 0 : 1; k <= n; k++) {
		if (k > 0)
			list_cells(&rows[k - 1], cell);
		for (i = 0; i < NCOL; i++) {
			const char *v = k == 0 ? col_head[i] : i == 0 ?
			    rows[k - 1].shown : cell[i];

			if (i == NCOL - 1)
				printf("%s\n", v);
			else
				printf("%*s ", col_left[i] ? -w[i] : w[i], v);
		}
	}
}

/*
 * Is the object fname (shmrw.*) among those asked for: the names or shell
 * patterns given (each found marked in seen), or all if none?
 */
static int
list_wanted(const char *fname, int argc, char *argv[], char *seen)
{
	const char *name = fname + strlen(NAME_PREFIX);
	int i, yes = argc == 0;

	for (i = 0; i < argc; i++)
		if (fnmatch(argv[i], name, 0) == 0)
			yes = seen[i] = 1;
	return yes;
}

/*
 * The objects asked for, each looked at, sorted by name; a name asked for
 * that matches none is said on stderr (*missing).
 */
static struct row *
list_gather(int argc, char *argv[], size_t *np, int *missing, int quiet)
{
	struct row *rows = NULL, *more;
	struct dirent *d;
	size_t n = 0, max = 0;
	char *seen;
	DIR *dir;
	int i;

	if ((dir = opendir(SHM_DIR)) == NULL)
		err(1, "%s", SHM_DIR);
	if ((seen = calloc((size_t)argc + 1, 1)) == NULL)
		err(1, NULL);
	while ((d = readdir(dir)) != NULL) {
		if (strncmp(d->d_name, NAME_PREFIX, strlen(NAME_PREFIX)) != 0 ||
		    !list_wanted(d->d_name, argc, argv, seen))
			continue;
		if (n == max) {
			max = max ? 2 * max : 16;
			if ((more = realloc(rows, max * sizeof(*rows))) == NULL)
				err(1, NULL);
			rows = more;
		}
		n += (size_t)list_row(&rows[n], d->d_name);
	}
	(void)closedir(dir);
	for (*missing = 0, i = 0; i < argc; i++)
		if (!seen[i] && strpbrk(argv[i], "*?[") == NULL) {
			if (!quiet)
				warnx("%s: no such channel", argv[i]);
			*missing = 1;
		}
	free(seen);
	if (n > 0)
		qsort(rows, n, sizeof(*rows), list_cmp);
	*np = n;
	return rows;
}

static void
list_free(struct row *rows, size_t n)
{
	while (n-- > 0)
		free(rows[n].name);
	free(rows);
}

/* --list [NAME...]: the channels on the host, damaged objects too. */
static int
act_list(const struct opts *o, int argc, char *argv[])
{
	struct row *rows;
	size_t n, k;
	int missing;

	rows = list_gather(argc, argv, &n, &missing, 0);
	if (o->json) {
		for (printf("["), k = 0; k < n; k++) {
			printf(k > 0 ? ",\n" : "\n");
			show_json(rows[k].shown, &rows[k].in, 0);
		}
		printf("%s]\n", n > 0 ? "\n" : "");
	} else
		list_text(rows, n, o->headings);
	list_free(rows, n);
	return missing;
}

/*
 * --prune [NAME...]: remove each stale channel the caller may remove, of
 * those asked for; each is judged again under its name lock.  Prints the
 * name of each removed.
 */
static int
act_prune(int argc, char *argv[])
{
	struct row *rows;
	size_t n, k;
	int missing, st, bad = 0;

	rows = list_gather(argc, argv, &n, &missing, 0);
	for (k = 0; k < n; k++) {
		if (!rows[k].in.stale)
			continue;
		st = ch_prune(&ch, rows[k].name + strlen(NAME_PREFIX));
		if (st == CH_OK)
			printf("%s\n", rows[k].shown);
		else if (st != CH_EINUSE && st != CH_ENOENT &&
		    (st != CH_ESYS || ch.errnum != EACCES)) {
			warnx("%s", tool_why(&ch, st));
			bad = 1;
		}
	}
	list_free(rows, n);
	return missing | bad;
}

/* --- --watch --------------------------------------------------------- */

#define BAR_W		50	/* the ring's bar, in columns */

/* What the last frame saw of a channel, for the rates of this one. */
struct seen {
	char name[NAME_MAX + 1];
	int64_t at;
	uint64_t head, tail;
	uint32_t seq;
	long msgs;
};

static struct seen *watch_seen;
static size_t watch_nseen;

/*
 * The ring as a bar: # in use (records, headers and all), . allocated and
 * free, blank not allocated yet.
 */
static void
watch_bar(const struct ch_info *in)
{
	char bar[BAR_W + 1];
	uint64_t q = in->head - in->tail, a = in->alloc < in->cap ? in->alloc :
	    in->cap;
	int i, nq = (int)(q > in->cap ? BAR_W : q * BAR_W / in->cap);
	int na = (int)(a * BAR_W / in->cap);

	for (i = 0; i < BAR_W; i++)
		bar[i] = i < nq ? '#' : i < na ? '.' : ' ';
	bar[BAR_W] = '\0';
	printf("  [%s] %llu of %s in use\n", bar, (unsigned long long)q,
	    show_size(in->cap));
}

/* A rate, short: 950, 12.3k, 4.1M; with a unit, bytes: 3.2 MiB. */
static const char *
watch_rate(double v, const char *unit)
{
	static char buf[32];
	const char *k = *unit ? "KMG" : "kMG";
	double base = *unit ? 1024 : 1000;
	int i = -1;

	for (; v >= base && i < 2; i++)
		v /= base;
	if (v < 0)
		v = 0;
	if (i < 0)
		(void)snprintf(buf, sizeof(buf), "%.0f%s%s", v, *unit ? " " : "",
		    unit);
	else
		(void)snprintf(buf, sizeof(buf), "%.1f%s%c%s%s", v, *unit ? " " :
		    "", k[i], *unit ? "i" : "", unit);
	return buf;
}

/* Messages and bytes a second, in and out, since the last frame. */
static void
watch_rates(const char *name, const struct ch_info *in, int64_t now)
{
	struct seen *p = NULL, *more;
	double dt;
	size_t k;

	for (k = 0; k < watch_nseen && p == NULL; k++)
		if (strcmp(watch_seen[k].name, name) == 0)
			p = &watch_seen[k];
	if (p != NULL && (dt = (double)(now - p->at) / 1e9) > 0) {
		printf("  in %s msg/s", watch_rate((double)(uint32_t)(in->seq -
		    p->seq) / dt, ""));
		printf(" %s/s", watch_rate((double)(in->head - p->head) / dt,
		    "B"));
		printf(", out %s msg/s", watch_rate((double)((long)(uint32_t)
		    (in->seq - p->seq) - (in->msgs - p->msgs)) / dt, ""));
		printf(" %s/s\n", watch_rate((double)(in->tail - p->tail) / dt,
		    "B"));
	}
	if (p == NULL) {
		if ((more = realloc(watch_seen, (watch_nseen + 1) *
		    sizeof(*more))) == NULL)
			err(1, NULL);
		watch_seen = more;
		p = &watch_seen[watch_nseen++];
		(void)snprintf(p->name, sizeof(p->name), "%s", name);
	}
	*p = (struct seen){ .at = now, .head = in->head, .tail = in->tail,
	    .seq = in->seq, .msgs = in->msgs };
	(void)snprintf(p->name, sizeof(p->name), "%s", name);
}

/* One channel of a frame: the ring, the tokens, the processes. */
static void
watch_one(const struct row *r, int64_t now)
{
	const struct ch_info *in = &r->in;
	char cmd[4 * CMD_LEN + 1];
	const char *b;
	int i;

	printf("%s  %s %s %04o %s %s\n", r->shown, in->readable &&
	    in->state >= 0 && in->cap > 0 ? show_kind(in) : "-",
	    show_owner(in->uid), (unsigned)in->mode, in->readable &&
	    in->state >= 0 && in->cap > 0 ? show_size(in->cap) : "-",
	    show_state(in));
	if (!in->readable || in->state < 0 || in->cap == 0) {
		if (in->damage != NULL)
			printf("  %s\n", in->damage);
		return;		/* unreadable, damaged, or being built */
	}
	watch_bar(in);
	printf("  queued %llu byte%s, %ld message%s; head %llu, tail %llu, last "
	    "number %u\n", (unsigned long long)in->bytes, in->bytes == 1 ? "" :
	    "s", in->msgs, in->msgs == 1 ? "" : "s",
	    (unsigned long long)in->head, (unsigned long long)in->tail,
	    (unsigned)in->seq);
	printf("  write token %s", show_holder(in->wholder));
	if (in->kind & SEG_BCAST)
		printf(", %d subscriber%s\n", in->subs, in->subs == 1 ? "" : "s");
	else
		printf(", read token %s\n", show_holder(in->rholder));
	watch_rates(r->name, in, now);
	for (i = 0; i < in->procs; i++) {
		show_escape(in->proc[i].cmd, cmd, sizeof(cmd), 1);
		b = show_bell(in->proc[i].bell);
		printf("  %7d %-8.8s %-10s %-16.16s %.32s\n",
		    (int)in->proc[i].pid, show_owner(in->proc[i].uid),
		    show_role(in->proc[i].role), b ? b : "busy", cmd);
		if (in->proc[i].role == 's' || in->proc[i].role == 't')
			printf("  %7s %s\n", "", show_lag(&in->proc[i]) + 2);
	}
}

/* A frame: the channel of -n, or all of them. */
static void
watch_frame(const struct opts *o, int tty)
{
	char *one[1];
	struct row *rows;
	time_t t = time(NULL);
	struct tm tm;
	size_t n, k;
	int missing;

	one[0] = (char *)(uintptr_t)o->name;
	rows = list_gather(opt_given(o, 'n'), one, &n, &missing, 1);
	(void)localtime_r(&t, &tm);
	printf("%s%s --watch: %02d:%02d:%02d, %zu channel%s%s\n", tty ?
	    "\033[H\033[J" : "", tool->name, tm.tm_hour, tm.tm_min, tm.tm_sec,
	    n, n == 1 ? "" : "s", tty ? "; q to quit" : "");
	for (k = 0; k < n; k++) {
		printf("\n");
		watch_one(&rows[k], t_now());
	}
	if (missing)		/* -n NAME: it may come yet */
		printf("\n%s: no such channel, yet\n", o->name);
	if (!tty)
		printf("\n");
	list_free(rows, n);
	if (fflush(stdout) == EOF)
		err(1, "stdout");
}

/*
 * --watch: a frame every o->every_ns, in place on a terminal, one after
 * the other elsewhere (as top -b).  Only reads, as --status does; ends
 * with 0 on q (on a terminal), SIGINT, SIGTERM or SIGHUP.
 */
static int
act_watch(const struct opts *o)
{
	struct termios old, raw;
	struct pollfd p = { STDIN_FILENO, POLLIN, 0 };
	int tty = isatty(STDOUT_FILENO), keys = tty &&
	    tcgetattr(STDIN_FILENO, &old) == 0;
	char c;

	sig_catch();
	if (keys) {
		raw = old;
		raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
		raw.c_cc[VMIN] = 1;
		raw.c_cc[VTIME] = 0;
		(void)tcsetattr(STDIN_FILENO, TCSANOW, &raw);
	}
	while (!sig_caught) {
		watch_frame(o, tty);
		if (poll(&p, keys, (int)(o->every_ns / 1000000)) == 1 &&
		    read(STDIN_FILENO, &c, 1) == 1 && (c == 'q' || c == 'Q'))
			break;
	}
	if (keys)
		(void)tcsetattr(STDIN_FILENO, TCSANOW, &old);
	free(watch_seen);
	return 0;
}

/* -r, --status, --list, --prune or --watch, then exit. */
static int
tool_act(const struct opts *o, int argc, char *argv[])
{
	int st = 0;

	ch.narrate = o->verbose ? narr_event : NULL;
	ch.timeout_ns = o->timeout_ns;
	ch.stop = &sig_caught;
	if (o->action == ACT_REMOVE) {
		sig_catch();
		if ((st = ch_remove(&ch, o->name)) != CH_OK)
			tool_fail(st);
	} else if (o->action == ACT_STATUS)
		st = act_status(o);
	else if (o->action == ACT_WATCH)
		st = act_watch(o);
	else {
		if (opt_given(o, 'n')) {	/* -n NAME: one NAME */
			argv = (char **)&o->name;
			argc = 1;
		}
		st = o->action == ACT_LIST ? act_list(o, argc, argv) :
		    act_prune(argc, argv);
	}
	if (fclose(stdout) != 0)
		err(1, "stdout");
	return st;
}
#endif /* SHMRW_TOOLS */
