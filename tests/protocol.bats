#!/usr/bin/env bats
# The sentences of the protocol essay at the top of common.h, each made a
# test that would fail if the sentence were false.  Where timing decides,
# the injection points of the test build (tests/inject) stop a process at
# a named step; the test runs a competitor there, then lets it go on.
# Each test names the essay's section it holds to.

# shellcheck disable=SC2154 # status, output, stderr, lines: from bats' run; OFF_* and such: from tests/layout

load helper

# poke_u32_or NAME OFFSET BITS: set BITS in the 32-bit word at OFFSET
poke_u32_or() {
	local v
	v=$(od -An -tu4 -j "$2" -N 4 "/dev/shm/shmrw.$1" | tr -d ' ')
	poke "$1" "$2" V $((v | $3))
}

# slot_of NAME PID: the slot PID holds in NAME, and its id (epoch << 32 |
# slot + 1), as "SLOT ID"
slot_of() {
	local s e p
	for ((s = 0; s < NSLOT; s++)); do
		read -r e p < <(od -An -tu4 -td4 -j $((OFF_slot + s * SLOT_SIZE)) -N 8 "/dev/shm/shmrw.$1" | awk '{ print $1, $2 }')
		if [[ $p == "$2" ]]; then
			echo "$s $(((e << 32) | (s + 1)))"
			return 0
		fi
	done
	return 1
}

# ring_empty NAME: head == tail: everything published was consumed
ring_empty() {
	local h t
	h=$(od -An -tu8 -j "$OFF_head" -N 8 "/dev/shm/shmrw.$1" | tr -d ' ')
	t=$(od -An -tu8 -j "$OFF_tail" -N 8 "/dev/shm/shmrw.$1" | tr -d ' ')
	[[ -n $h && $h == "$t" ]]
}

# --- BELLS ----------------------------------------------------------------

# "A waiter sets its bit in asleep[bell] ... no system call is made when
# nobody sleeps": every bit is clear again once nobody waits.
@test "BELLS: asleep[] is all clear once every waiter is woken or gone: for data, room and both tokens" {
	local c r r2 w
	c=$(chan)
	shmw -k -s 4K -n "$c" first
	shmr -n "$c" >/dev/null
	nobody_asleep "$c"
	# a reader asleep for data, woken by a post
	bg /dev/null "$T/out" /dev/null "${SHMR[@]}" -n "$c"
	r=$BGPID
	wait_until asleep_on "$c" 2
	shmw -n "$c" data
	expect_exit "$r" 0
	nobody_asleep "$c"
	# a reader asleep for the read token behind one asleep for data
	reader_bg "$c" asleep_on "$c" 2
	r=$BGPID
	reader_bg "$c" asleep_on "$c" 0
	r2=$BGPID
	shmw -n "$c" one
	shmw -n "$c" two
	expect_exit "$r" 0
	expect_exit "$r2" 0
	nobody_asleep "$c"
	# a writer asleep for room, and one for the write token
	head -c 3000 /dev/zero | shmw -n "$c"
	bg /dev/null /dev/null /dev/null "${SHMW[@]}" -n "$c" "$(repeat y 2000)"
	w=$BGPID
	wait_until asleep_on "$c" 3
	bg /dev/null /dev/null /dev/null "${SHMW[@]}" -n "$c" after
	wait_until asleep_on "$c" 1
	shmr -n "$c" -c 3 >/dev/null
	expect_exit "$w" 0
	expect_exit "${PIDS[-1]}" 0
	nobody_asleep "$c"
	shmr -r -n "$c"
}

# --- STATES: attach and last out ---------------------------------------------

# dying_and_stopped NAME PID: NAME is DYING, and PID stopped at a point
dying_and_stopped() { [[ $(field "$1" state) == dying ]] && stopped "$2"; }
# stopped_or_queued PID NAME N: PID stopped, or N messages in NAME
stopped_or_queued() { stopped "$1" || has_queued "$2" "$3"; }

# chan_dying NAME POINT: a reader that finds NAME empty (-t 0) leaves as the
# last one out and stops at POINT (and, from leave.locked, again once it
# has probed the slots); its pid in A
chan_dying() {
	ibg /dev/null /dev/null "$T/aerr" "$2=stop,leave.probed=stop" shmread -t 0 -n "$1"
	A=$BGPID
	wait_stopped "$A"
}

# "A process attaches by taking its slot lock, then reading state; the
# last one sets DYING, then probes every slot lock: one of the two sees
# the other."  A newcomer that comes once DYING is set must see it and
# wait, never use a channel being removed: whether it sees DYING on
# opening, or only once it holds its slot lock (it looked before DYING,
# the last one out probed before it locked).
@test "STATES: a process that comes while the last one out is DYING waits, and its message is not lost" {
	local c how b
	for how in opening attaching; do
		c=$(chan "$how")
		if [[ $how == opening ]]; then
			chan_dying "$c" leave.dying
			ibg /dev/null /dev/null "$T/berr" "open.retry=stop" shmwrite -n "$c" kept
			b=$BGPID
		else
			chan_dying "$c" leave.locked
			ibg /dev/null /dev/null "$T/berr" "attach.begin=stop,open.retry=stop" shmwrite -n "$c" kept
			b=$BGPID
			wait_stopped "$b"		# it saw LIVE; no slot lock yet
			kill -CONT "$A"
			wait_until dying_and_stopped "$c" "$A"
			kill -CONT "$b"
		fi
		wait_until stopped_or_dead "$b"
		stopped "$b"		# it saw DYING: it waits
		[[ $(field "$c" state) == dying ]]
		kill -CONT "$A"
		wait_until stopped_or_dead "$A"
		! stopped "$A" || kill -CONT "$A"	# at leave.probed
		expect_exit "$A" 124
		kill -CONT "$b"
		expect_exit "$b" 0
		[[ ! -s $T/berr ]]
		gets "$c" kept
	done
}

# The other order: the newcomer attached (saw LIVE) after the last one out
# checked and before it set DYING: the probe must find it.
@test "STATES: the last one out probes the slots after DYING: a process that attached just before is found, the channel stays" {
	local c r
	c=$(chan)
	chan_dying "$c" leave.locked
	bg /dev/null "$T/out" "$T/rerr" "${SHMR[@]}" -t 10 -n "$c"
	r=$BGPID
	wait_reader "$c"
	kill -CONT "$A"
	wait_until stopped_or_dead "$A"
	if stopped "$A"; then		# it did not see the reader: wrong
		kill -CONT "$A"
		false
	fi
	expect_exit "$A" 124
	[[ $(field "$c" state) == live ]]
	shmw -n "$c" found
	took "$r" "$T/out" "$T/rerr" found "$c"
}

# --- THE NAME LOCK -----------------------------------------------------------

# "Nobody unlinks the segment's name without ... checking, under that lock,
# that it still leads there."
@test "THE NAME LOCK: a remover unlinks the name only if it still leads to the channel it looked at" {
	local c r
	c=$(chan)
	shmw -k -n "$c" kept
	ibg /dev/null /dev/null "$T/err" "unlink.seg=stop" shmread -r -n "$c"
	r=$BGPID
	wait_stopped "$r"
	mv "/dev/shm/shmrw.$c" "/dev/shm/shmrw.${c}-moved"
	printf 'not yours' >"/dev/shm/shmrw.$c"
	kill -CONT "$r"
	expect_exit "$r" 0
	[[ $(cat "/dev/shm/shmrw.$c") == "not yours" ]]
	rm "/dev/shm/shmrw.$c" "/dev/shm/shmrw.${c}-moved"
}

# -r against a name lock held by a live process: waits, or with -t says who
# holds it, 124.
@test "THE NAME LOCK: -r while a creator or a remover is stopped holding it: busy (pid), 124 with -t; done once it goes on" {
	local c p point
	for point in create.header remove.marked; do
		c=$(chan "$point")
		if [[ $point == create.header ]]; then
			ibg /dev/null /dev/null "$T/perr" "$point=stop" shmwrite -k -n "$c" made
		else
			shmw -k -n "$c" made
			ibg /dev/null /dev/null "$T/perr" "$point=stop" shmread -r -n "$c"
		fi
		p=$BGPID
		wait_stopped "$p"
		runs shmr -r -t 0.3 -n "$c"
		expect 124 "" "shmread: $c: busy: being created or removed (pid $p)"
		bg /dev/null /dev/null "$T/rerr" "${SHMR[@]}" -r -n "$c"
		kill -CONT "$p"
		expect_exit "$p" 0
		if [[ $point == create.header ]]; then
			expect_exit "$BGPID" 0
		else
			expect_exit "$BGPID" 1
			[[ $(cat "$T/rerr") == "shmread: $c: no such channel" ]]
		fi
		assert_no_objects "$c"
	done
}

# --- TOKENS ------------------------------------------------------------------

# "A token given back while someone sleeps for it becomes HANDOFF ... not
# for the one who gave it back and came straight back."  A gives the write
# token to B, asleep; B is stopped just as it wakes; A comes straight back
# for it: A must go to sleep, and B send before A's next line.
@test "TOKENS: a HANDOFF goes to the sleeper, not to the giver that comes straight back" {
	local c a b
	c=$(chan)
	mkfifo "$T/in"
	exec 4<>"$T/in"
	ibg "$T/in" /dev/null "$T/aerr" "token.taken=stop,sleep.set=stop" shmwrite -l -n "$c"
	a=$BGPID
	echo a1 >&4
	wait_stopped "$a"		# holding the write token
	ibg /dev/null /dev/null "$T/berr" "sleep.woken=stop" shmwrite -n "$c" b1
	b=$BGPID
	wait_until asleep_on "$c" 1
	echo a2 >&4			# A will come straight back for it
	kill -CONT "$a"
	wait_stopped "$b"		# woken by A's post, the token handed to it
	wait_until stopped_or_queued "$a" "$c" 2
	stopped "$a"			# A waits: asleep, not holding it
	has_queued "$c" 1
	kill -CONT "$b"
	expect_exit "$b" 0
	kill -CONT "$a"
	exec 4>&-
	expect_exit "$a" 0
	runs shmr -n "$c" -c 3
	expect 0 $'a1\nb1\na2' ""
	assert_no_objects "$c"
}

# "A token that holds the caller's own id while the caller does not hold
# it" is damage: a -w writer whose read token was scribbled with its id,
# its message marked TAKEN, still withdraws it by its -t; readers go on.
@test "TOKENS: a token scribbled with a waiter's own id is taken back: -w ends by its -t, readers go on" {
	local c w id tail
	c=$(chan)
	shmw -k -n "$c" zero
	shmr -n "$c" >/dev/null
	bg /dev/null /dev/null "$T/werr" "${SHMW[@]}" -w -t 1 -n "$c" job
	w=$BGPID
	wait_until has_queued "$c" 1
	read -r _ id < <(slot_of "$c" "$w")
	tail=$(od -An -tu8 -j "$OFF_tail" -N 8 "/dev/shm/shmrw.$c" | tr -d ' ')
	poke "$c" "$OFF_rtoken" Q "$id"
	poke_u32_or "$c" $((HDRSZ + tail % 1048576)) "$REC_TAKEN"
	expect_exit "$w" 124 5
	[[ ! -s $T/werr ]]
	runs shmr -t 0.5 -n "$c"
	expect 124 "" ""
	runs shmw -t 0 -n "$c" next
	expect 0 "" ""
	runs shmr -t 1 -n "$c"
	expect 0 next ""
	shmr -r -n "$c"
}

# --- STREAMS -----------------------------------------------------------------

# stream_begun NAME: a writer streaming from $T/in (fd 4), pid W, and a
# reader R1 writing it out into $T/out1, both past part1
stream_begun() {
	mkfifo "$T/in"
	exec 4<>"$T/in"
	bg "$T/in" /dev/null "$T/werr" "${SHMW[@]}" -n "$1"
	W=$BGPID
	bg /dev/null "$T/out1" "$T/r1err" "${SHMR[@]}" -n "$1"
	R1=$BGPID
	echo part1 >&4
	wait_until file_has "$T/out1" part1
}

# "A stream's writer stops ... when abandoned names its stream": set by a
# reader that leaves mid-stream in order (SIGTERM) while another waits, and
# by the next reader that finds what a killed one left.
@test "STREAMS: a reader leaves mid-stream in order while another waits: the writer is told, reader went away" {
	local c r2
	c=$(chan)
	stream_begun "$c"
	ibg /dev/null "$T/out2" "$T/r2err" "token.taken=stop" shmread -n "$c"
	r2=$BGPID
	wait_until asleep_on "$c" 0
	kill_wait TERM "$R1" 143
	wait_stopped "$r2"		# has the token; has not looked yet
	echo part2 >&4
	exec 4>&-
	expect_exit "$W" 1
	[[ $(cat "$T/werr") == "shmwrite: $c: reader went away" ]]
	kill -CONT "$r2"
	shmw -n "$c" next
	expect_exit "$r2" 0
	[[ $(cat "$T/out2") == next ]]
	assert_no_objects "$c"
}

@test "STREAMS: a reader killed mid-stream while another waits: the next one skips the rest and the writer is told" {
	local c r2
	c=$(chan)
	stream_begun "$c"
	bg /dev/null "$T/out2" "$T/r2err" "${SHMR[@]}" -n "$c"
	r2=$BGPID
	wait_until asleep_on "$c" 0
	kill_wait KILL "$R1" 137
	wait_until asleep_on "$c" 2	# took the token over; waits for data
	echo part2 >&4
	wait_until ring_empty "$c"	# skipped
	echo part3 >&4
	expect_exit "$W" 1
	exec 4>&-
	[[ $(cat "$T/werr") == "shmwrite: $c: reader went away" ]]
	shmw -n "$c" next
	expect_exit "$r2" 0
	[[ $(cat "$T/out2") == next ]]
	assert_no_objects "$c"
}

# --- RECORDS: message numbers ----------------------------------------------

# "the message number (never 0)": across the wrap, for every way a message
# is made.
@test "RECORDS: message numbers wrap past 0xffffffff to 1: operands, -l, -z, a stream and -w all arrive" {
	local c how w
	c=$(chan)
	shmw -k -s 8K -n "$c" first
	shmr -n "$c" >/dev/null
	head -c 20000 /dev/zero | tr '\0' s >"$T/stream"
	for how in operands lines nul stream wait; do
		poke "$c" "$OFF_seq" V 4294967295
		case $how in
		operands) shmw -n "$c" wrapped; shmw -n "$c" again; printf 'wrapped\nagain\n' ;;
		lines) printf 'l1\nl2\n' | shmw -l -n "$c"; printf 'l1\nl2\n' ;;
		nul) printf 'z1\0z2\0' | shmw -z -n "$c"; printf 'z1\0z2\0' ;;
		stream | wait)
			if [[ $how == stream ]]; then
				bg "$T/stream" /dev/null "$T/werr" "${SHMW[@]}" -n "$c"
				cat "$T/stream"
			else
				bg /dev/null /dev/null "$T/werr" "${SHMW[@]}" -w -n "$c" waited
				echo waited
			fi
			w=$BGPID
			wait_until has_bytes "$c"
			;;
		esac >"$T/want"
		shmr -t 0 -n "$c" -c "$(queued_msgs "$c" | sed 's/^0$/1/')" >"$T/got"
		cmp "$T/want" "$T/got"
		[[ $how != stream && $how != wait ]] || expect_exit "$w" 0
	done
	shmr -r -n "$c"
}

# --- BELLS: who may be a bell --------------------------------------------

# "It must be the segment owner's": a semaphore another user owns is not a
# bell of this channel.
@test "BELLS: a semaphore that another user owns is refused: not a channel" {
	local c d
	need_root
	c=$(chan)
	shmw -k -n "$c" x
	shmr -n "$c" >/dev/null
	d=$(objects "$c" | grep '\.d$')
	chown nobody "$d"
	runs shmr -t 0.5 -n "$c"
	expect 1 "" "shmread: $c: not a channel"
	chown root "$d"
	runs shmr -t 0.3 -n "$c"
	expect 124 "" ""
	shmr -r -n "$c"
}

# "the creator ... holds the name lock while it sizes it, writes the
# header, creates the bells and attaches; then LIVE, and it drops the
# lock": a process that comes meanwhile waits, and takes nothing for the
# remains of a dead creator.
@test "STATES: a process that comes while a live creator builds waits for it; the channel and its message stay" {
	local c a b
	c=$(chan)
	ibg /dev/null /dev/null "$T/aerr" "create.attached=stop" shmwrite -n "$c" first
	a=$BGPID
	wait_stopped "$a"
	ibg /dev/null "$T/out" "$T/berr" "open.retry=stop" shmread -t 5 -n "$c"
	b=$BGPID
	wait_until stopped_or_dead "$b"
	stopped "$b"
	kill -CONT "$a"
	expect_exit "$a" 0
	kill -CONT "$b"
	took "$b" "$T/out" "$T/berr" first "$c"
}

# HOW A MESSAGE TRAVELS: "A message that fits is published whole, by one
# store to head, after its LAST record was written": one that waits for
# room is not seen in part, and a writer killed then leaves nothing of it.
@test "HOW A MESSAGE TRAVELS: a message waiting for room is not published in part; its writer killed, nothing of it is seen" {
	local c w
	c=$(chan)
	head -c 3000 /dev/zero | tr '\0' a | shmw -s 4K -n "$c"
	bg /dev/null /dev/null /dev/null "${SHMW[@]}" -s 4K -n "$c" "$(repeat b 2000)"
	w=$BGPID
	wait_until asleep_on "$c" 3
	has_queued "$c" 1
	[[ $(queued_bytes "$c") == 3000 ]]
	kill_wait KILL "$w" 137
	wait_procs "$c" 0
	runs shmr -t 0 -n "$c"
	[[ $status -eq 0 && $output == "$(repeat a 3000)" && -z $stderr ]]
	gets "$c"
}

# SLOTS AND LIVENESS: "On attaching, it ... clears the slot's bits in
# asleep[] that a dead owner left."
@test "SLOTS AND LIVENESS: a process that takes a dead sleeper's slot clears the bits it left" {
	local c
	c=$(chan)
	shmw -k -n "$c" x
	shmr -n "$c" >/dev/null
	bg /dev/null /dev/null /dev/null "${SHMR[@]}" -n "$c"
	wait_until asleep_on "$c" 2
	kill_wait KILL "$BGPID" 137
	wait_procs "$c" 0
	asleep_on "$c" 2		# what the dead left
	shmw -n "$c" y			# takes its slot, and leaves
	nobody_asleep "$c"
	shmr -r -n "$c"
}
