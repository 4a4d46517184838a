#!/usr/bin/env bats
# -w: shmwrite returns once a reader has taken the message.  It gives the
# write token back first, so other writers go on.  If no reader has begun
# taking the message when the wait runs out or a signal comes, the message
# is withdrawn: 124 (or 128+N) means "not delivered", and nobody gets it.
# Once a live reader has begun, a signal ends -w at once, and the reader
# delivers the message all the same.

# shellcheck disable=SC2154,SC2030,SC2031 # status, output, stderr; w, set by waits(): bats runs each test in a subshell of its own

load helper

# waits IN MESSAGE...: a -w writer of MESSAGE (or of IN), its pid in w,
# once its message is queued
waits() {
	bg "$1" /dev/null "$T/err" "${SHMW[@]}" -w -n "$c" "${@:2}"
	w=$BGPID
	wait_until has_queued "$c" 1
}

@test "-w returns when a reader has taken the message: operands and standard input" {
	local c w src
	c=$(chan)
	printf 'from stdin' >"$T/in"
	for src in args stdin; do
		if [[ $src == args ]]; then
			waits /dev/null waited
		else
			waits "$T/in"
		fi
		alive "$w"
		shmr -n "$c" >"$T/out"
		expect_exit "$w" 0
		[[ ! -s $T/err ]]
	done
	[[ $(cat "$T/out") == 'from stdin' ]]
	assert_no_objects "$c"
}

@test "-w gives the write token back while it waits: other writers go on" {
	local c w
	c=$(chan)
	waits /dev/null first
	runs shmw -t 0 -n "$c" second
	expect 0 "" ""
	alive "$w"
	runs shmr -n "$c" -c 2
	expect 0 $'first\nsecond' ""
	expect_exit "$w" 0
	assert_no_objects "$c"
}

@test "-w -t with no reader: 124, the message withdrawn, nobody gets it" {
	local c src
	c=$(chan)
	shmw -n "$c" before
	for src in args stdin; do
		if [[ $src == args ]]; then
			runs shmw -w -t 0.2 -n "$c" withdrawn
		else
			runs shmw -w -t 0.2 -n "$c" <<<"withdrawn too"
		fi
		expect 124 "" ""
	done
	shmw -n "$c" after
	runs shmr -n "$c" -c 2
	expect 0 $'before\nafter' ""
	gets "$c"
}

# [S]: of TAKEN and ABORT, the first to be set wins.  A reader that has
# found the message but not yet marked it taken (stopped at claim) loses it
# to the writer's withdrawal, and goes on to the next.
@test "-w: a reader about to take the message when it is withdrawn (stopped at claim) never delivers it" {
	local c w r
	c=$(chan)
	shmw -n "$c" before
	bg /dev/null /dev/null "$T/werr" "${SHMW[@]}" -w -n "$c" withdrawn
	w=$BGPID
	wait_until has_queued "$c" 2
	runs shmr -n "$c"
	expect 0 before ""
	ibg /dev/null "$T/r.out" "$T/r.err" claim=stop shmread -c 1 -n "$c"
	r=$BGPID
	wait_stopped "$r"
	kill_wait TERM "$w" 143		# interrupted, -w withdraws it
	kill -CONT "$r"
	runs shmw -n "$c" after
	expect 0 "" ""
	expect_exit "$r" 0
	[[ $(<"$T/r.out") == after && ! -s $T/r.err ]]
	assert_no_objects "$c"
}

@test "-w: a reader that has begun taking the message is waited for, past the timeout; a signal ends -w, the reader delivers it" {
	local c w r how
	head -c 200000 /dev/urandom >"$T/in"
	for how in waited signalled; do
		c=$(chan "$how")
		rm -f "$T/fifo" "$T/werr"
		mkfifo "$T/fifo"
		# the reader takes it and blocks writing it into a FIFO nobody reads yet
		exec 4<>"$T/fifo"
		bg /dev/null "$T/fifo" "$T/rerr" "${SHMR[@]}" -n "$c"
		r=$BGPID
		wait_reader "$c"
		bg "$T/in" /dev/null "$T/werr" "${SHMW[@]}" -v -w -t 0.3 -n "$c"
		w=$BGPID
		wait_until file_has "$T/werr" "a reader is writing it out: waiting"
		alive "$w"
		[[ $how == waited ]] || kill_wait INT "$w" 130
		head -c 200000 <&4 >"$T/out"
		exec 4>&-
		expect_exit "$r" 0
		[[ $how == signalled ]] || expect_exit "$w" 0
		cmp "$T/in" "$T/out"
		assert_no_objects "$c"
	done
}

@test "-w interrupted: dies of the signal, the message withdrawn" {
	local c w
	c=$(chan)
	waits /dev/null never
	kill_wait INT "$w" 130
	[[ ! -s $T/err ]]
	gets "$c"
}

# out_blocks: a reader's output, a FIFO that nobody reads (fd 4 keeps it open)
out_blocks() {
	mkfifo "$T/fifo"
	exec 4<>"$T/fifo"
}

@test "-w: a reader killed while writing a message out cannot finish: once the time is up, -w withdraws it, 124" {
	local c r w m
	c=$(chan)
	m=$(head -c 100000 /dev/zero | tr '\0' x)
	out_blocks
	bg /dev/null "$T/fifo" /dev/null "${SHMR[@]}" -n "$c"
	r=$BGPID
	wait_reader "$c"
	bg /dev/null /dev/null "$T/werr" "${SHMW[@]}" -v -w -t 0.3 -n "$c" "$m"
	w=$BGPID
	wait_until file_has "$T/werr" "a reader is writing it out: waiting"
	kill_wait KILL "$r" 137
	exec 4>&-
	expect_exit "$w" 124 3
	grep -q "withdrew message 1: no reader is writing it out" "$T/werr"
	gets "$c"
}

@test "-w: a reader whose output failed gave the message up: once the time is up, -w withdraws it, 124" {
	local c w
	c=$(chan)
	# -t long enough for a reader under valgrind to start and take it
	bg /dev/null /dev/null "$T/err" "${SHMW[@]}" -w -t $((2 * TMULT)) -n "$c" hello
	w=$BGPID
	wait_until has_queued "$c" 1
	runs sh -c '"$@" >/dev/full' sh "${SHMR[@]}" -t $((5 * TMULT)) -n "$c"
	expect 1 "" "shmread: write error: No space left on device"
	expect_exit "$w" 124 5
	gets "$c"
}

# The read token is handed to a sleeping reader, which is stopped, then
# killed: nobody is left to take the handoff but -w.
@test "-w: a reader gave the message up and the read token to a sleeper that died: -w withdraws it, 124" {
	local c r1 r2 w
	c=$(chan)
	bg /dev/null /dev/full "$T/r1err" "${SHMR[@]}" -v -n "$c"
	r1=$BGPID
	wait_until file_has "$T/r1err" "took the read token"
	bg /dev/null /dev/null "$T/r2err" "${SHMR[@]}" -v -n "$c"
	r2=$BGPID
	wait_until file_has "$T/r2err" "waiting for the read token"
	kill -STOP "$r2"
	bg /dev/null /dev/null "$T/werr" "${SHMW[@]}" -v -w -t 1 -n "$c" hello
	w=$BGPID
	expect_exit "$r1" 1
	grep -q "gave the read token to a sleeper" "$T/r1err"
	kill_wait KILL "$r2" 137
	expect_exit "$w" 124 5
	grep -q "withdrew message 1: no reader is writing it out" "$T/werr"
	gets "$c"
}

# The writer's input ends only once the reader, which began the stream, is
# dead: so it was a stream for the reader too, and was written out in part.
@test "-w: a reader killed while writing a stream out drops the rest; -w exits 1, reader went away" {
	local c r w
	c=$(chan)
	out_blocks
	mkfifo "$T/in"
	exec 5<>"$T/in"
	bg /dev/null "$T/fifo" "$T/rerr" "${SHMR[@]}" -v -n "$c"
	r=$BGPID
	wait_reader "$c"
	bg "$T/in" /dev/null "$T/werr" "${SHMW[@]}" -v -w -t 0.3 -n "$c"
	w=$BGPID
	head -c 200000 /dev/urandom >&5
	wait_until file_has "$T/rerr" "message 1 is a stream: out as it comes"
	kill_wait KILL "$r" 137
	exec 4>&- 5>&-
	expect_exit "$w" 1 3
	[[ $(grep -v '\] ' "$T/werr") == "shmwrite: $c: reader went away" ]]
	gets "$c"
}

# STREAMS: rin names the stream until its end is written out, not only
# batched: a reader killed between the two (at rin.clear) is one whose
# writer is told at once, not once another reader comes.
@test "-w: a reader killed once it wrote a stream's end out, before it said so: -w exits 1, reader went away, at once" {
	local c r w
	c=$(chan)
	mkfifo "$T/in"
	exec 5<>"$T/in"
	ibg /dev/null /dev/null "$T/rerr" rin.clear=kill shmread -v -n "$c"
	r=$BGPID
	wait_reader "$c"
	bg "$T/in" /dev/null "$T/werr" "${SHMW[@]}" -w -n "$c"
	w=$BGPID
	printf part1 >&5
	wait_until file_has "$T/rerr" "message 1 is a stream: out as it comes"
	printf part2 >&5
	exec 5>&-
	expect_exit "$r" 137
	expect_exit "$w" 1
	[[ $(<"$T/werr") == "shmwrite: $c: reader went away" ]]
	gets "$c"
}

@test "-w: a writer killed while it waits leaves its message, delivered as any other" {
	local c w
	c=$(chan)
	waits /dev/null orphan
	kill_wait KILL "$w" 137
	gets "$c" orphan
}
