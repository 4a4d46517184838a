#!/usr/bin/env bats
# Broadcast channels (-b), lossy ones (--lossy) and taps (--tap): every
# subscriber gets every message, whole and in order, from the time its
# position was stored; the writer waits for the slowest live subscriber, or
# never (--lossy, a tap); a lapped reader says what it missed, exact, and
# ends 3; retained messages never keep a channel; hostile positions never
# make a writer write outside the ring or wait for the dead; --status and
# --list show each subscriber's position and lag.

# shellcheck disable=SC2154 # status, output, stderr: from bats' run; OFF_*: tests/layout
# shellcheck disable=SC2030,SC2031 # status, output: bats' run, in each test

load helper

# subscribers N NAME ARGS...: N shmread -b ARGS... -n NAME in the
# background, their outputs in $T/s1.out ..., pids in SUBS; once each has
# stored its position (it sleeps for data)
subscribers() {
	local k
	SUBS=()
	for ((k = 1; k <= $1; k++)); do
		bg /dev/null "$T/s$k.out" "$T/s$k.err" "${SHMR[@]}" -b "${@:3}" -n "$2"
		SUBS+=("$BGPID")
		wait_waiting "$2" subscriber "$k"
	done
}

# lossy_sub NAME: a lossy subscriber of NAME (made 4K), -f -t 1, its output
# in $T/s.out and $T/s.err, its pid in s; once it waits for data
lossy_sub() {
	bg /dev/null "$T/s.out" "$T/s.err" "${SHMR[@]}" --lossy -s 4K -f -t 1 -n "$1"
	s=$BGPID
	wait_waiting "$1" subscriber 1
}

# squeeze TEXT: TEXT with each run of blanks one space
squeeze() { tr -s ' ' <<<"$1"; }

# all_match FILE PATTERN: every line of FILE matches PATTERN (an ERE) whole
all_match() { ! grep -Evx -- "$2" "$1"; }

@test "three subscribers each get every line of 20,000 and every byte of a 30 MB stream through a 64 KiB ring" {
	local c s k
	c=$(chan)
	seq 20000 >"$T/lines"
	head -c $((30 * 1000 * 1000)) /dev/urandom >"$T/stream"
	cat "$T/lines" "$T/stream" >"$T/want"
	subscribers 3 "$c" -s 64K -c 20001
	runs shmw -l -t $((60 * TMULT)) -n "$c" <"$T/lines"
	expect 0 "" ""
	runs shmw -t $((60 * TMULT)) -n "$c" <"$T/stream"
	expect 0 "" ""
	for k in 1 2 3; do
		s=${SUBS[k - 1]}
		expect_exit "$s" 0 60
		[[ ! -s $T/s$k.err ]]
		[[ $(cksum <"$T/s$k.out") == "$(cksum <"$T/want")" ]]
	done
	assert_no_objects "$c"
}

@test "a late subscriber sees only what came after it attached (asleep, or stopped at subscribe)" {
	local c a b s
	c=$(chan)
	subscribers 1 "$c" -f
	a=${SUBS[0]}
	runs shmw -n "$c" one
	expect 0 "" ""
	wait_until file_has "$T/s1.out" one
	# late: it sleeps for data, or has just stored its position (and is
	# stopped there) when the next message comes
	bg /dev/null "$T/b.out" "$T/b.err" "${SHMR[@]}" -c 1 -n "$c"
	b=$BGPID
	wait_waiting "$c" subscriber 2
	ibg /dev/null "$T/i.out" "$T/i.err" subscribe=stop shmread -c 1 -n "$c"
	s=$BGPID
	wait_stopped "$s"
	runs shmw -n "$c" two
	expect 0 "" ""
	kill -CONT "$s"
	expect_exit "$b" 0
	expect_exit "$s" 0
	[[ $(<"$T/b.out") == two && $(<"$T/i.out") == two ]]
	[[ ! -s $T/b.err && ! -s $T/i.err ]]
	wait_until file_has "$T/s1.out" two
	[[ $(<"$T/s1.out") == $'one\ntwo' ]]
	kill_wait TERM "$a" 143
	assert_no_objects "$c"
}

@test "a subscriber passed by between its look at head and storing its position looks again: it starts where the writer is" {
	local c s
	c=$(chan)
	runs shmr -b -k -c 0 -s 4K -n "$c"
	expect 0 "" ""
	ibg /dev/null "$T/s.out" "$T/s.err" subscribe.look=stop shmread -c 1 -n "$c"
	s=$BGPID
	wait_stopped "$s"
	# nobody holds the writer: it overwrites the ring where the head it saw was
	seq 3000 | shmw -l -n "$c"
	kill -CONT "$s"
	wait_waiting "$c" subscriber 1
	runs shmw -n "$c" after
	expect 0 "" ""
	expect_exit "$s" 0
	[[ $(<"$T/s.out") == after && ! -s $T/s.err ]]
	runs shmr -r -n "$c"
	assert_no_objects "$c"
}

# "one that joins in the middle of a stream starts at the next message"
@test "a subscriber that joins in the middle of a stream starts at the next message" {
	local c s1 s2 w
	c=$(chan)
	head -c 150000 /dev/urandom >"$T/stream"
	bg /dev/null "$T/s1.out" "$T/s1.err" "${SHMR[@]}" -b -s 4K -c 2 -n "$c"
	s1=$BGPID
	wait_waiting "$c" subscriber 1
	mkfifo "$T/in"
	bg "$T/in" /dev/null "$T/w.err" "${SHMW[@]}" -n "$c"
	w=$BGPID
	exec 9>"$T/in"	# bg closes it in what it starts: EOF comes
	head -c 100000 "$T/stream" >&9
	wait_until test -s "$T/s1.out"
	# the stream goes on: its writer waits for more input, s1 for more data
	wait_waiting "$c" subscriber 1
	bg /dev/null "$T/s2.out" "$T/s2.err" "${SHMR[@]}" -c 1 -n "$c"
	s2=$BGPID
	wait_waiting "$c" subscriber 2
	tail -c +100001 "$T/stream" >&9
	exec 9>&-
	expect_exit "$w" 0
	runs shmw -n "$c" next
	expect 0 "" ""
	expect_exit "$s1" 0
	expect_exit "$s2" 0
	cmp "$T/s1.out" <(cat "$T/stream"; echo next)
	[[ $(<"$T/s2.out") == next && ! -s $T/s1.err && ! -s $T/s2.err && ! -s $T/w.err ]]
	assert_no_objects "$c"
}

# "A subscriber whose output fails ends as -f does today; nothing changes
# for the others."
@test "a subscriber whose output fails ends as on a queue: 1, write error; the others get every message, and the writer goes on" {
	local c f s w
	c=$(chan)
	seq 20000 >"$T/in"	# 109 KB through the 4K ring
	bg /dev/null /dev/full "$T/f.err" "${SHMR[@]}" -b -s 4K -f -n "$c"
	f=$BGPID
	wait_waiting "$c" subscriber 1
	bg /dev/null "$T/s.out" "$T/s.err" "${SHMR[@]}" -c 20000 -n "$c"
	s=$BGPID
	wait_waiting "$c" subscriber 2
	runs shmw -l -n "$c" <"$T/in"
	expect 0 "" ""
	expect_exit "$f" 1
	[[ $(<"$T/f.err") == "shmread: write error: No space left on device" ]]
	expect_exit "$s" 0
	cmp "$T/s.out" "$T/in"
	[[ ! -s $T/s.err ]]
	assert_no_objects "$c"
}

# "Subscribing and tapping take read and write permission, as using a queue
# does"; --any-owner and -m work as on queues.
@test "another user's broadcast channel: subscribing and tapping as on a queue, refused without --any-owner or permission" {
	local c d s how
	need_root
	c=$(chan) d=$(chan open)
	as_nobody "$SHMWRITE" -b -k -n "$c" held
	as_nobody "$SHMWRITE" -b -k -m 0666 -n "$d" held
	for how in -b --tap; do
		runs shmr "$how" -t 0 -n "$c"
		expect 1 "" "shmread: $c: owned by nobody (use --any-owner)"
		runs setpriv --reuid=daemon --regid=daemon --clear-groups "$SHMREAD" "$how" --any-owner -t 0 -n "$c"
		expect 1 "" "shmread: $c: Permission denied"
	done
	bg /dev/null "$T/s.out" "$T/s.err" setpriv --reuid=daemon --regid=daemon --clear-groups "$SHMREAD" --any-owner -c 1 -n "$d"
	s=$BGPID
	wait_waiting "$d" subscriber 1
	[[ $(field "$d" subscribers) == "$s" ]]
	runs as_nobody "$SHMWRITE" -n "$d" new
	expect 0 "" ""
	expect_exit "$s" 0
	[[ $(<"$T/s.out") == new && ! -s $T/s.err ]]
	runs as_nobody "$SHMREAD" -r -n "$c"
	expect 0 "" ""
	runs as_nobody "$SHMREAD" -r -n "$d"
	expect 0 "" ""
	assert_no_objects "$c"
	assert_no_objects "$d"
}

@test "a writer with no subscriber, or whose subscribers have all left, never waits: the oldest records are overwritten" {
	local c s
	c=$(chan)
	seq 100000 >"$T/in"	# 600 KB through a 4K ring
	runs shmw -b -s 4K -l -t $((10 * TMULT)) -n "$c" <"$T/in"
	expect 0 "" ""
	assert_no_objects "$c"
	# kept: it holds the last ones; a subscriber takes one, and leaves
	runs shmw -b -k -s 4K -l -t $((10 * TMULT)) -n "$c" <"$T/in"
	expect 0 "" ""
	[[ $(field "$c" kind) == broadcast ]]
	subscribers 1 "$c" -c 1
	s=${SUBS[0]}
	runs shmw -n "$c" 1
	expect 0 "" ""
	expect_exit "$s" 0
	[[ $(<"$T/s1.out") == 1 ]]
	# gone: it holds nobody, not even for a moment (-t 0)
	runs shmw -l -t 0 -n "$c" <"$T/in"
	expect 0 "" ""
	runs shmr -r -n "$c"
	expect 0 "" ""
	assert_no_objects "$c"
}

# "Leaving, a subscriber clears its bit in hold[]": its slot keeps its role
# and position, the writer (in another slot) is not held by them even for
# the moment it takes to find the process gone; -v would say it waits.
@test "a subscriber that leaves holds the writer back no more: the writer never waits for room after it" {
	local c s w fd
	c=$(chan)
	subscribers 1 "$c" -s 4K -c 1
	s=${SUBS[0]}
	mkfifo "$T/in"
	bg "$T/in" /dev/null "$T/w.err" "${SHMW[@]}" -v -l -n "$c"
	w=$BGPID
	exec {fd}>"$T/in"
	echo 1 >&"$fd"
	expect_exit "$s" 0
	[[ $(<"$T/s1.out") == 1 ]]
	seq 100000 >&"$fd"	# 600 KB through the 4K ring
	exec {fd}>&-
	expect_exit "$w" 0
	[[ $(grep -c "waiting for room" "$T/w.err") == 0 ]]
	assert_no_objects "$c"
}

@test "SIGKILL of a stopped subscriber that the writer waits for releases the writer; SIGSTOP holds it" {
	local c s w
	c=$(chan)
	seq 100000 >"$T/in"
	subscribers 2 "$c" -s 4K -f
	kill -STOP "${SUBS[0]}" "${SUBS[1]}"
	# stopped, it holds the writer: -t ends it, 124
	runs shmw -l -t 1 -n "$c" <"$T/in"
	[[ $status -eq 124 ]]
	bg "$T/in" /dev/null "$T/w.err" "${SHMW[@]}" -l -t $((20 * TMULT)) -n "$c"
	w=$BGPID
	wait_until asleep_on "$c" 3
	kill -KILL "${SUBS[0]}"
	expect_exit "${SUBS[0]}" 137
	# one stopped still holds it
	wait_until asleep_on "$c" 3
	alive "$w"
	kill -KILL "${SUBS[1]}"
	expect_exit "${SUBS[1]}" 137
	expect_exit "$w" 0 $((20 * TMULT))
	[[ ! -s $T/w.err ]]
	assert_no_objects "$c"
}

@test "a subscriber killed while busy, not asleep, releases the writer too" {
	local c s w
	c=$(chan)
	runs shmr -b -k -c 0 -s 4K -n "$c"
	expect 0 "" ""
	# stopped once its position is stored: waited for, and not asleep
	ibg /dev/null /dev/null /dev/null subscribe=stop shmread -f -n "$c"
	s=$BGPID
	wait_stopped "$s"
	seq 3000 >"$T/in"
	bg "$T/in" /dev/null "$T/w.err" "${SHMW[@]}" -l -t $((20 * TMULT)) -n "$c"
	w=$BGPID
	wait_until asleep_on "$c" 3
	run ! asleep_on "$c" 2
	kill -KILL "$s"
	expect_exit "$s" 137
	expect_exit "$w" 0 $((20 * TMULT))
	[[ ! -s $T/w.err ]]
	runs shmr -r -n "$c"
	assert_no_objects "$c"
}

# oldest_race SPEC: a kept broadcast channel of 4K holds 1 to 250; a -l
# writer of 251 to 1000 (its injection SPEC) stops as it is about to move
# tail, having seen no subscriber (overwrite); a --from-oldest subscriber
# stops having taken the oldest record as its start (subscribe).  Sets c,
# w and s.
oldest_race() {
	c=$(chan)
	seq 250 | shmw -b -k -l -s 4K -n "$c"
	seq 251 1000 >"$T/in"
	ibg "$T/in" /dev/null "$T/w.err" "$1" shmwrite -l -t $((20 * TMULT)) -n "$c"
	w=$BGPID
	wait_stopped "$w"
	ibg /dev/null "$T/s.out" "$T/s.err" subscribe=stop shmread --from-oldest -f -t 1 -n "$c"
	s=$BGPID
	wait_stopped "$s"
}

# oldest_race_ends: once the writer sleeps for room (on SPACE), the
# subscriber goes on; both end well, and it got every line, 1 to 1000
oldest_race_ends() {
	wait_until asleep_on "$c" 3
	kill -CONT "$s"
	expect_exit "$w" 0 $((20 * TMULT))
	expect_exit "$s" 0
	diff "$T/s.out" <(seq 1000)
	[[ ! -s $T/w.err && ! -s $T/s.err ]]
	runs shmr -r -n "$c"
	assert_no_objects "$c"
}

@test "a subscriber placed at the oldest record just as the writer moves tail past it is waited for, and gets all" {
	local c s w
	oldest_race overwrite=stop
	# it looks again once it has moved tail [P1], and waits for the subscriber
	kill -CONT "$w"
	oldest_race_ends
}

@test "a writer that comes after one killed as it moved tail past a subscriber at the oldest record waits for that subscriber" {
	local c s w
	oldest_race overwrite=stop,overwrite.said=kill
	# it moves tail and over past the subscriber, and dies before it looks again
	kill -CONT "$w"
	expect_exit "$w" 137
	bg "$T/in" /dev/null "$T/w.err" "${SHMW[@]}" -l -t $((20 * TMULT)) -n "$c"
	w=$BGPID
	oldest_race_ends
}

@test "--lossy: a stopped subscriber never holds the writer" {
	local c s
	c=$(chan)
	seq 100000 >"$T/in"
	bg /dev/null /dev/null "$T/s.err" "${SHMR[@]}" --lossy -s 4K -f -n "$c"
	s=$BGPID
	wait_waiting "$c" subscriber 1
	[[ $(field "$c" kind) == "broadcast, lossy" ]]
	kill -STOP "$s"
	runs shmw -l -t 1 -n "$c" <"$T/in"
	expect 0 "" ""
	kill -KILL "$s"
	expect_exit "$s" 137
	runs shmr --prune "$c"
	expect 0 "$c" ""
	assert_no_objects "$c"
}

# lapped_stopped [SEQ]: a lossy subscriber, stopped after message 1, is
# lapped by 1000 more through the 4K ring; with SEQ, message 1's number (the
# writer's next number poked: the others may wrap past 0xffffffff, to 1).
# It says exactly how many it missed, goes on at the oldest held, ends 3.
lapped_stopped() {
	local c s n=1000 got k first
	c=$(chan)
	lossy_sub "$c"
	[[ -z $1 ]] || poke "$c" "$OFF_seq" V "$1"
	runs shmw -n "$c" 1
	expect 0 "" ""
	wait_until file_has "$T/s.out" 1
	wait_waiting "$c" subscriber 1
	kill -STOP "$s"
	# messages 2 .. n+1 through the 4K ring: it is lapped
	seq 2 $((n + 1)) | shmw -l -n "$c"
	kill -CONT "$s"
	runs shmw -n "$c" last
	expect 0 "" ""
	expect_exit "$s" 3
	[[ $(head -1 "$T/s.out") == 1 && $(tail -1 "$T/s.out") == last ]]
	got=$(wc -l <"$T/s.out")
	k=$(sed -n "s/^shmread: $c: missed \\([0-9]*\\) messages\$/\\1/p" "$T/s.err")
	[[ -n $k && $(wc -l <"$T/s.err") -eq 1 ]]
	((got + k == n + 2))
	# what it got between: the newest of them, in order
	first=$((n + 2 - (got - 2)))
	diff <(sed '1d;$d' "$T/s.out") <(seq "$first" $((n + 1)))
	assert_no_objects "$c"
}

@test "a lossy subscriber lapped while stopped: it says exactly how many it missed, goes on at the oldest held, ends 3" {
	lapped_stopped ""
}

# "0 is never one": the count across the wrap of message numbers skips it
@test "a lossy subscriber lapped while stopped as message numbers wrap past 0xffffffff: the count is exact all the same" {
	lapped_stopped $((0xffffffff - 500))
}

# lapped_first NAME ARGS...: a lossy reader (shmread ARGS... -n NAME -f,
# stopped once it took its place) is lapped before its first message by
# 1000 lines (seq 1001 2000) through the 4K ring, goes on, gets "last";
# what it got and what it says it missed add up to all there was after
# its place: the lines 1001 to 2000 and "last", and FROM - 1 before them.
lapped_first() {
	local c=$1 s got k
	ibg /dev/null "$T/l.out" "$T/l.err" subscribe=stop shmread "${@:2}" -f -t 1 -n "$c"
	s=$BGPID
	wait_stopped "$s"
	seq 1001 2000 | shmw -l -n "$c"
	kill -CONT "$s"
	wait_until file_has "$T/l.out" 2000
	runs shmw -n "$c" last
	expect 0 "" ""
	expect_exit "$s" 3
	got=$(wc -l <"$T/l.out")
	k=$(sed -n "s/^shmread: $c: missed \\([0-9]*\\) messages\$/\\1/p" "$T/l.err")
	[[ -n $k && $(wc -l <"$T/l.err") -eq 1 && $(tail -1 "$T/l.out") == last ]]
	((got + k == 2000 - LAPPED_FROM + 2))
}

@test "a lossy reader lapped before its first message counts exactly: on a new channel, and from the oldest record held" {
	local c q r
	c=$(chan) q=$(chan q)
	runs shmr --lossy -k -c 0 -s 4K -n "$c"
	expect 0 "" ""
	LAPPED_FROM=1001 lapped_first "$c"
	runs shmr -r -n "$c"
	assert_no_objects "$c"
	# with --from-oldest: from the oldest message the ring holds
	seq 1000 | shmw --lossy -k -l -s 4K -n "$c"
	LAPPED_FROM=$(shmr --tap --from-oldest -c 1 -t 0 -n "$c") lapped_first "$c" --from-oldest
	runs shmr -r -n "$c"
	assert_no_objects "$c"
	# a tap on a new queue whose reader takes every message
	bg /dev/null /dev/null /dev/null "${SHMR[@]}" -f -s 4K -n "$q"
	r=$BGPID
	wait_reader "$q"
	LAPPED_FROM=1001 lapped_first "$q" --tap
	kill_wait TERM "$r" 143
	assert_no_objects "$q"
}

@test "a tap on a queue (it made it) sees every message that the readers take, and they take them all the same" {
	local c r t
	c=$(chan)
	bg /dev/null "$T/t.out" "$T/t.err" "${SHMR[@]}" --tap -c 1000 -n "$c"
	t=$BGPID
	wait_waiting "$c" tap 1
	[[ $(field "$c" taps) == "$t" && $(field "$c" kind) == queue ]]
	bg /dev/null "$T/r.out" "$T/r.err" "${SHMR[@]}" -c 1000 -n "$c"
	r=$BGPID
	wait_reader "$c"
	seq 1000 | shmw -l -n "$c"
	expect_exit "$r" 0
	expect_exit "$t" 0
	diff "$T/r.out" <(seq 1000)
	diff "$T/t.out" <(seq 1000)
	[[ ! -s $T/r.err && ! -s $T/t.err ]]
	assert_no_objects "$c"
}

# A tap only looks: a stream that the queue's reader leaves, which its
# writer then ends, is one the tap missed, not a failure of its own.
@test "a tap of a queue whose reader leaves a stream: message truncated (reader went away), counted missed; it goes on" {
	local c t r
	c=$(chan)
	runs shmr -k -c 0 -s 64K -n "$c"
	expect 0 "" ""
	bg /dev/null "$T/t.out" "$T/t.err" "${SHMR[@]}" --tap -c 1 -n "$c"
	t=$BGPID
	wait_waiting "$c" tap 1
	bg /dev/null "$T/r.out" "$T/r.err" "${SHMR[@]}" -c 1 -n "$c"
	r=$BGPID
	wait_reader "$c"
	stream_open "$c" part1
	wait_until file_has "$T/r.out" part1
	wait_until file_has "$T/t.out" part1
	kill_wait TERM "$r" 143		# it leaves in the middle
	printf more >&4			# the writer finds it gone
	exec 4>&-
	expect_exit "$W" 1
	runs shmw -n "$c" next
	expect 0 "" ""
	expect_exit "$t" 3
	[[ $(<"$T/t.out") =~ ^part1(more)?next$ ]]
	[[ $(<"$T/t.err") == "shmread: $c: message truncated (reader went away)"$'\n'"shmread: $c: missed 1 message" ]]
	runs shmr -r -n "$c"
	assert_no_objects "$c"
}

# A lossy reader lapped into the middle of a stream misses that stream: it
# says so at once, not only when a message after it comes.
@test "a lossy subscriber lapped into the middle of a stream, nothing after it: it says what it missed, ends 3" {
	local c s
	c=$(chan)
	lossy_sub "$c"
	kill -STOP "$s"
	seq 10 | shmw -l -n "$c"
	head -c 20000 /dev/zero | shmw -n "$c"	# message 11, over the ring
	kill -CONT "$s"
	expect_exit "$s" 3
	[[ ! -s $T/s.out && $(<"$T/s.err") == "shmread: $c: missed 11 messages" ]]
	assert_no_objects "$c"
}

# "A tap never sets TAKEN and never satisfies a -w": the tap has written the
# message out, and it is not marked taken; the -w writer waits on for a
# reader, who gets it.
# shellcheck disable=SC2154 # HDRSZ, REC_TAKEN: from tests/layout
@test "a tap shows a -w message but never takes it: the writer waits on for a reader" {
	local c t w tail
	c=$(chan)
	bg /dev/null "$T/t.out" "$T/t.err" "${SHMR[@]}" --tap -c 1 -n "$c"
	t=$BGPID
	wait_waiting "$c" tap 1
	tail=$(u64 "$c" "$OFF_tail")
	bg /dev/null /dev/null "$T/w.err" "${SHMW[@]}" -w -n "$c" job
	w=$BGPID
	expect_exit "$t" 0
	[[ $(cat "$T/t.out") == job && ! -s $T/t.err ]]
	((($(od -An -tu4 -j $((HDRSZ + tail % 1048576)) -N 4 "/dev/shm/shmrw.$c") & REC_TAKEN) == 0))
	kill -0 "$w"
	runs shmr -t 0 -n "$c"
	expect 0 job ""
	expect_exit "$w" 0
	[[ ! -s $T/w.err ]]
	assert_no_objects "$c"
}

@test "a tap that reads a stream while a queue's reader writes it out leaves it to the reader" {
	local c r t w
	c=$(chan)
	head -c 300000 /dev/urandom >"$T/big"
	runs shmr -k -c 0 -s 64K -n "$c"
	expect 0 "" ""
	bg /dev/null "$T/t.out" "$T/t.err" "${SHMR[@]}" --tap -c 1 -n "$c"
	t=$BGPID
	wait_waiting "$c" tap 1
	kill -STOP "$t"
	ibg /dev/null "$T/r.out" "$T/r.err" rin.set=stop shmread -c 1 -n "$c"
	r=$BGPID
	bg "$T/big" /dev/null "$T/w.err" "${SHMW[@]}" -n "$c"
	w=$BGPID
	wait_stopped "$r"
	# the tap comes to the stream's FIRST record while rin names it
	kill -CONT "$t"
	wait_until test -s "$T/t.out"
	kill -CONT "$r"
	expect_exit "$w" 0
	expect_exit "$r" 0
	cmp "$T/r.out" "$T/big"
	[[ ! -s $T/w.err && ! -s $T/r.err ]]
	# the tap: the stream whole, or lapped by the writer once the reader went on
	kill -TERM "$t" 2>/dev/null || true
	wait_exit "$t"
	[[ $WRC == 0 || $WRC == 143 ]]
	runs shmr -r -n "$c"
	assert_no_objects "$c"
}

# copying_lapped PRE N MORE: a lossy subscriber of a 4K ring holding lines 1
# to PRE (a record a line: 8 + 24 bytes, 128 to the ring) takes the next N,
# which wrap around the ring: it copies to the end of the ring and stops
# (lossy.copying); MORE lines come meanwhile, and it goes on.  Whatever of
# its copy the writer overwrote, no line is torn or out of order, and what
# it got and says it missed add up to all there was after PRE.
copying_lapped() {
	local c s k pre=$1 all=$(($1 + $2 + $3))
	c=$(chan)
	runs shmr --lossy -k -c 0 -s 4K -n "$c"
	expect 0 "" ""
	printf '%020d\n' $(seq "$all") >"$T/lines"
	head -n "$pre" "$T/lines" | shmw -l -n "$c"
	ibg /dev/null "$T/s.out" "$T/s.err" lossy.copying=stop shmread -f -t 1 -n "$c"
	s=$BGPID
	wait_waiting "$c" subscriber 1
	sed -n "$((pre + 1)),$((pre + $2))p" "$T/lines" | shmw -l -n "$c"
	wait_stopped "$s"
	sed -n "$((pre + $2 + 1)),\$p" "$T/lines" | shmw -l -n "$c"
	kill -CONT "$s"
	runs shmw -n "$c" last
	expect 0 "" ""
	expect_exit "$s" 3
	[[ $(tail -n 1 "$T/s.out") == last ]]
	sed '$d' "$T/s.out" >"$T/got"
	all_match "$T/got" '[0-9]{20}'
	sort -c -u -n "$T/got"
	comm -23 "$T/got" "$T/lines" | cmp - /dev/null
	k=$(sed -n "s/^shmread: $c: missed \\([0-9]*\\) messages\$/\\1/p" "$T/s.err")
	[[ -n $k && $(wc -l <"$T/s.err") -eq 1 ]]
	(($(wc -l <"$T/s.out") + k == all - pre + 1))
	runs shmr -r -n "$c"
	assert_no_objects "$c"
}

@test "a lossy subscriber stopped in the middle of a copy (lossy.copying) while the writer laps it keeps none of it: no line torn or out of order, the count exact" {
	# 101 to 130 (28 copied, 2 after the wrap), then 870 more: lapped whole
	copying_lapped 100 30 870
}

# Its copy checked against over exactly: over has passed the start of the
# copy by less than half the ring, and the writer overwrote the lines
# after the wrap that it had not copied yet.
@test "a lossy subscriber stopped in the middle of a copy just past the wrap, lapped by a little: no line out of order, the count exact" {
	# 127 and 128 copied; 129 to 160 after the wrap; 106 more overwrite 129..
	copying_lapped 126 34 106
}

# tap_lapped_in_copy NAME: a tap of NAME that stopped after it copied a
# batch (lossy.copied, its second batch) is lapped by the writer, then goes
# on: every line it writes out is whole, it says what it missed, ends 3
tap_lapped_in_copy() {
	local c=$1 t line x k
	x=$(repeat x 40)
	ibg /dev/null "$T/t.out" "$T/t.err" lossy.copied@2=stop shmread --tap -f -t 1 -n "$c"
	t=$BGPID
	wait_waiting "$c" tap 1
	runs shmw -n "$c" "first-$x"
	expect 0 "" ""
	wait_until file_has "$T/t.out" first
	# its second batch: copied, not yet checked
	for ((line = 2; line <= 11; line++)); do echo "$line-$x"; done | shmw -l -n "$c"
	wait_stopped "$t"
	for ((line = 12; line <= 1011; line++)); do echo "$line-$x"; done | shmw -l -n "$c"
	kill -CONT "$t"
	runs shmw -n "$c" "last-$x"
	expect 0 "" ""
	expect_exit "$t" 3
	all_match "$T/t.out" "(first|[0-9]+|last)-$x"
	[[ $(head -1 "$T/t.out") == "first-$x" && $(tail -1 "$T/t.out") == "last-$x" ]]
	grep -qx "shmread: $c: missed [0-9]* messages" "$T/t.err"
	[[ $(wc -l <"$T/t.err") -eq 1 ]]
	# exact: what it got and what it says it missed make all 1012: first, 2 to 1011, last
	k=$(sed -n 's/.*missed \([0-9]*\) messages$/\1/p' "$T/t.err")
	(($(wc -l <"$T/t.out") + k == 1012))
}

@test "a tap stopped after a copy while the writer laps it (lossy.copied) writes out no torn message, and says what it missed" {
	local c r
	c=$(chan)
	# a queue, whose reader takes everything at once
	bg /dev/null /dev/null "$T/r.err" "${SHMR[@]}" -s 4K -f -n "$c"
	r=$BGPID
	wait_reader "$c"
	tap_lapped_in_copy "$c"
	kill_wait TERM "$r" 143
	assert_no_objects "$c"
	# a broadcast channel with no subscriber: the writer never waits
	runs shmw -b -k -s 4K -n "$c" "kept"
	expect 0 "" ""
	tap_lapped_in_copy "$c"
	runs shmr -r -n "$c"
	expect 0 "" ""
	assert_no_objects "$c"
}

@test "a lossy subscriber lapped in the middle of a stream: message truncated (lapped), counted missed; it goes on at the next message" {
	local c s
	c=$(chan)
	lossy_sub "$c"
	stream_open "$c" part1
	wait_until file_has "$T/s.out" part1
	wait_waiting "$c" subscriber 1
	kill -STOP "$s"
	repeat "$(repeat y 100)" 200 >&4	# 20 KB through the 4K ring
	wait_until head_past "$c" 20000	# all of it published, over it
	kill -CONT "$s"
	exec 4>&-
	expect_exit "$W" 0
	runs shmw -n "$c" last
	expect 0 "" ""
	expect_exit "$s" 3
	[[ $(<"$T/s.out") == part1last ]]
	[[ $(<"$T/s.err") == "shmread: $c: message truncated (lapped)"$'\n'"shmread: $c: missed 1 message" ]]
	assert_no_objects "$c"
}

# head_past NAME BYTES: head of NAME is past BYTES
head_past() { (($(u64 "$1" "$OFF_head") > $2)); }

# poke_pos NAME PID VALUE: PID's position in NAME becomes VALUE
poke_pos() {
	local i
	i=$(slot_of "$1" "$2")
	poke "$1" $((OFF_slot + i * SLOT_SIZE + SLOT_POS)) 'Q<' "$3"
}

@test "hostile positions: a garbage position is not believed, a false one is said again by its subscriber, and the hold bits of empty slots hold nobody: the writer finishes within its -t" {
	local c s v head
	c=$(chan)
	seq 20000 >"$T/in"	# 100 KB through a 4K ring
	subscribers 1 "$c" -s 4K -f
	s=${SUBS[0]}
	runs shmw -n "$c" m1
	expect 0 "" ""
	wait_until file_has "$T/s1.out" m1
	wait_waiting "$c" subscriber 1
	kill -STOP "$s"
	# stopped, alive: positions that cannot be one are not believed
	for v in max odd head+1 far; do
		head=$(u64 "$c" "$OFF_head")
		case $v in
		max) v=18446744073709551615 ;;
		head+1) v=$((head + 1)) ;;
		odd) v=$((head - 3)) ;;
		far) v=$((head + (1 << 40))) ;;
		esac
		poke_pos "$c" "$s" "$v"
		runs shmw -l -t $((10 * TMULT)) -n "$c" <"$T/in"
		expect 0 "" ""
	done
	# one just ahead, which head soon reaches: then it is believed, but
	# it is a dead process's, and holds nobody
	poke_pos "$c" "$s" $(($(u64 "$c" "$OFF_head") + 8))
	kill -KILL "$s"
	expect_exit "$s" 137
	runs shmw -l -t $((10 * TMULT)) -n "$c" <"$T/in"
	expect 0 "" ""
	assert_no_objects "$c"
	# alive and waiting, a plausible position almost a ring behind: it
	# says its own again within a slice, and gets every line
	subscribers 1 "$c" -s 4K -f
	s=${SUBS[0]}
	seq 1000 | shmw -l -n "$c"	# head past the ring's size
	wait_until file_has "$T/s1.out" 1000
	wait_waiting "$c" subscriber 1
	poke_pos "$c" "$s" $(($(u64 "$c" "$OFF_head") + 8 - 4096))
	runs shmw -l -t $((10 * TMULT)) -n "$c" <"$T/in"
	expect 0 "" ""
	wait_until file_has "$T/s1.out" 20000
	cmp "$T/s1.out" <(seq 1000; cat "$T/in")
	kill_wait TERM "$s" 143
	assert_no_objects "$c"
	# every hold bit set: of slots nobody holds, and of no subscriber
	subscribers 1 "$c" -s 4K -f
	s=${SUBS[0]}
	kill -STOP "$s"
	poke_pos "$c" "$s" 18446744073709551615
	for v in 0 1 2 3; do
		poke "$c" $((OFF_hold + v * 8)) 'Q<' 18446744073709551615
	done
	runs shmw -l -t $((10 * TMULT)) -n "$c" <"$T/in"
	expect 0 "" ""
	kill -KILL "$s"
	expect_exit "$s" 137
	runs shmr -r -n "$c"
	expect 0 "" ""
	assert_no_objects "$c"
}

@test "-b on a queue, --lossy on a broadcast channel that is not lossy, -w on a broadcast channel: 1, said" {
	local c b
	c=$(chan) b=$(chan b)
	runs shmw -n "$c" queued
	expect 0 "" ""
	runs shmr -b -t 0 -n "$c"
	expect 1 "" "shmread: $c: not a broadcast channel"
	runs shmw -b -n "$c" more
	expect 1 "" "shmwrite: $c: not a broadcast channel"
	runs shmr --lossy -t 0 -n "$c"
	expect 1 "" "shmread: $c: not a lossy channel"
	runs shmr --from-oldest -t 0 -n "$c"
	expect 1 "" "shmread: $c: not a broadcast channel"
	gets "$c" queued
	runs shmw -b -k -s 4K -n "$b" held
	expect 0 "" ""
	runs shmr --lossy -t 0 -n "$b"
	expect 1 "" "shmread: $b: not a lossy channel"
	runs shmw --lossy -n "$b" more
	expect 1 "" "shmwrite: $b: not a lossy channel"
	runs shmw -w -t 0 -n "$b" more
	expect 1 "" "shmwrite: $b: -w needs a queue channel"
	[[ $(field "$b" queued) == "5 bytes, 1 message" ]]
	runs shmr -r -n "$b"
	expect 0 "" ""
	assert_no_objects "$b"
}

# usage2 PROG FIRST ARGS...: PROG ARGS is a usage error: 2, FIRST then the
# usage on stderr, nothing created
usage2() {
	local prog=$1 first=$2 c
	shift 2
	c=$(chan)
	runs "$BIN/$prog" -n "$c" "$@"
	[[ $status -eq 2 && -z $output ]]
	[[ ${stderr_lines[0]} == "$prog: $first" && ${stderr_lines[1]} == "usage: $prog "* ]]
	assert_no_objects "$c"
}

@test "usage: --tap with -b, --lossy, -k, -m, -s; -w with -b or --lossy" {
	usage2 shmread "--tap cannot be used with -b" --tap -b
	usage2 shmread "--tap cannot be used with --lossy" --tap --lossy
	usage2 shmread "--tap cannot be used with -k" --tap -k
	usage2 shmread "--tap cannot be used with -m" --tap -m 0600
	usage2 shmread "--tap cannot be used with -s" --tap -s 8K
	usage2 shmwrite "-w cannot be used with -b" -w -b hi
	usage2 shmwrite "-w cannot be used with --lossy" -w --lossy hi
}

@test "--from-oldest: recent history on a kept broadcast channel, and on a queue with --tap (taking nothing)" {
	local c q
	c=$(chan) q=$(chan q)
	seq 5 | shmw -b -k -l -n "$c"
	runs shmr -t 0 -n "$c"
	expect 124 "" ""
	runs shmr --from-oldest -c 5 -t 0 -n "$c"
	expect 0 "$(seq 5)" ""
	runs shmr --tap --from-oldest -c 5 -t 0 -n "$c"
	expect 0 "$(seq 5)" ""
	runs shmr -r -n "$c"
	expect 0 "" ""
	assert_no_objects "$c"
	seq 3 | shmw -l -n "$q"
	runs shmr --tap --from-oldest -c 3 -t 0 -n "$q"
	expect 0 "$(seq 3)" ""
	runs shmr -c 3 -t 0 -n "$q"
	expect 0 "$(seq 3)" ""
	assert_no_objects "$q"
}

@test "retained messages never keep a broadcast channel; -k does; a subscriber last out removes it" {
	local c s
	c=$(chan)
	runs shmw -b -n "$c" gone
	expect 0 "" ""
	assert_no_objects "$c"
	runs shmw -b -k -n "$c" kept
	expect 0 "" ""
	assert_objects "$c"
	[[ $(field "$c" kept) == yes && $(queued_msgs "$c") == 1 ]]
	runs shmr -r -n "$c"
	expect 0 "" ""
	assert_no_objects "$c"
	subscribers 1 "$c" -c 2
	s=${SUBS[0]}
	printf 'a\nb\nc\n' | shmw -l -n "$c"
	expect_exit "$s" 0
	[[ $(<"$T/s1.out") == $'a\nb' ]]
	assert_no_objects "$c"
}

@test "a broadcast channel whose processes were all killed, messages held: stale, and --prune removes it" {
	local c s
	c=$(chan)
	subscribers 1 "$c" -f
	s=${SUBS[0]}
	runs shmw -n "$c" held
	expect 0 "" ""
	wait_until file_has "$T/s1.out" held
	kill_wait KILL "$s" 137
	wait_procs "$c" 0
	[[ $(field "$c" state) == stale* ]]
	runs shmr --list --no-headings -n "$c"
	[[ $status -eq 0 && $output == *" stale" ]]
	runs shmr --prune "$c"
	expect 0 "$c" ""
	assert_no_objects "$c"
}

# lag_of NAME PID: "lag B bytes, M messages" of PID, as --status says
lag_of() { status_of "$1" | sed -n "s/^process: $2 .*, \(lag [0-9]* bytes, [0-9]* messages*\):.*/\1/p"; }

# The rest of a stream begun before a reader's place is what it has still
# to write out: --status counts it, on a queue as for a subscriber.
@test "--status: a reader stopped in the middle of a stream lags by the rest of it (queued, or its lag)" {
	local c kind r b
	for kind in queue broadcast; do
		c=$(chan "$kind")
		b=()
		[[ $kind == queue ]] || b=(-b)
		bg /dev/null "$T/r.out" /dev/null "${SHMR[@]}" "${b[@]}" -s 64K -c 1 -n "$c"
		r=$BGPID
		if [[ $kind == queue ]]; then wait_reader "$c"; else wait_waiting "$c" subscriber 1; fi
		stream_open "$c" part1
		wait_until file_has "$T/r.out" part1
		kill -STOP "$r"
		printf %s "$(repeat x 1000)" >&4	# one write: one record
		wait_until head_past "$c" 1000
		if [[ $kind == queue ]]; then
			[[ $(field "$c" queued) == "1000 bytes, 0 messages" ]]
		else
			[[ $(lag_of "$c" "$r") == "lag 1000 bytes, 0 messages" ]]
		fi
		exec 4>&-		# its end, LAST, comes too
		expect_exit "$W" 0
		if [[ $kind == queue ]]; then
			[[ $(field "$c" queued) == "1000 bytes, 0 messages" ]]
		else
			[[ $(lag_of "$c" "$r") == "lag 1000 bytes, 0 messages" ]]
		fi
		kill -CONT "$r"
		expect_exit "$r" 0
		[[ $(<"$T/r.out") == "part1$(repeat x 1000)" ]]
		rm -f "$T/in" "$T/r.out"
		assert_no_objects "$c"
	done
}

@test "--status, --status --json and --list: the kind, each subscriber's and tap's position and lag, the largest lag" {
	local c q s1 s2 t j
	c=$(chan) q=$(chan q)
	subscribers 2 "$c" -f
	s1=${SUBS[0]} s2=${SUBS[1]}
	bg /dev/null "$T/t.out" /dev/null "${SHMR[@]}" --tap -f -n "$c"
	t=$BGPID
	wait_waiting "$c" tap 1
	# the tap lags most, but holds nobody back: the largest lag is s1's
	kill -STOP "$t"
	printf 'a\n' | shmw -l -n "$c"
	wait_until file_has "$T/s1.out" a
	wait_until file_has "$T/s2.out" a
	wait_waiting "$c" subscriber 2
	kill -STOP "$s1"
	printf 'b\nc\n' | shmw -l -n "$c"
	wait_until file_has "$T/s2.out" c
	wait_waiting "$c" subscriber 2
	runs status_of "$c"
	[[ $output == *$'\nkind: broadcast\n'* && $output == *$'\nsubscribers: '"$s1 $s2"$'\n'* ]]
	[[ $output == *$'\ntaps: '"$t"$'\n'* && $output != *'read token'* && $output != *$'\nreaders:'* ]]
	[[ $output == *$'\nprocess: '"$s1"' '*' subscriber, waits for data, at 16, lag 4 bytes, 2 messages: '* ]]
	[[ $output == *$'\nprocess: '"$s2"' '*' subscriber, waits for data, at 48, lag 0 bytes, 0 messages: '* ]]
	[[ $output == *$'\nprocess: '"$t"' '*' tap, waits for data, at 0, lag 6 bytes, 3 messages: '* ]]
	j=$("$SHMREAD" --status --json -n "$c")
	[[ $(json 'd["kind"], d["lossy"], d["subscriber_count"], d["max_lag"], d["subscribers"], d["taps"], "read_token" in d' <<<"$j") == "broadcast False 2 4 [$s1, $s2] [$t] False" ]]
	[[ $(json '[(p["pid"], p["role"], p["position"], p["lag_bytes"], p["lag_messages"]) for p in d["processes"]]' <<<"$j") == "[($s1, 'subscriber', 16, 4, 2), ($s2, 'subscriber', 48, 0, 0), ($t, 'tap', 0, 6, 3)]" ]]
	runs "$SHMREAD" --list --no-headings -n "$c"
	[[ $status -eq 0 && $(squeeze "$output") == "$c broadcast "*" 6 3 3 2 4 no live" ]]
	j=$("$SHMREAD" --list --json -n "$c")
	[[ $(json '[(x["kind"], x["lossy"], x["subscriber_count"], x["max_lag"]) for x in d]' <<<"$j") == "[('broadcast', False, 2, 4)]" ]]
	# a queue: no subscribers, no lag
	runs shmw -n "$q" hi
	runs "$SHMREAD" --list --no-headings -n "$q"
	[[ $(squeeze "$output") == "$q queue "*" - - no live" ]]
	[[ $(field "$q" kind) == queue ]]
	[[ $("$SHMREAD" --status --json -n "$q" | json 'd["kind"], d["lossy"], d["processes"]') == "queue False []" ]]
	gets "$q" hi
	kill -CONT "$s1" "$t"
	wait_until file_has "$T/s1.out" c
	wait_until file_has "$T/t.out" c
	kill_wait TERM "$s1" 143
	kill_wait TERM "$s2" 143
	kill_wait TERM "$t" 143
	assert_no_objects "$c"
}
