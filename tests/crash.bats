#!/usr/bin/env bats
# SIGKILL (no cleanup possible): the others notice within about a second
# and the channel works afterwards.

load helper

setup() {
	T=$BATS_TEST_TMPDIR
}

@test "writer SIGKILLed mid-stream: reader exits 1 truncated, next message intact" {
	local c w r t0 dt
	c=$(chan)
	mkfifo "$T/fifo"
	bg /dev/null "$T/out" "$T/rerr" "${SHMR[@]}" -n "$c" -s 64K
	r=$BGPID
	wait_reader "$c"
	bg "$T/fifo" /dev/null "$T/werr" "${SHMW[@]}" -n "$c"
	w=$BGPID
	exec 4<>"$T/fifo"
	printf 'part1\n' >&4
	wait_until file_has "$T/out" part1
	alive "$r"
	kill -KILL "$w"
	t0=$(now_ms)
	expect_exit "$w" 137
	exec 4>&-
	expect_exit "$r" 1 5
	dt=$(($(now_ms) - t0))
	echo "reader took ${dt} ms: $(cat "$T/rerr")"
	((dt < 3000 * TMULT))
	[[ $(cat "$T/rerr") == "shmread: $c: message truncated (writer went away)" ]]
	# the reader never outputs more than was committed
	printf 'part1\n' | cmp - "$T/out"
	shmw -t 5 -n "$c" next
	read_next "$c" "$T/out"
	printf 'next\n' | cmp - "$T/out"
	assert_no_objects "$c"
}

@test "writer SIGKILLed mid-stream, no reader: a new writer takes over within about 1 s" {
	local c w t0 dt
	c=$(chan)
	mkfifo "$T/fifo"
	bg "$T/fifo" /dev/null "$T/werr" "${SHMW[@]}" -s 64K -n "$c"
	w=$BGPID
	exec 4<>"$T/fifo"
	printf 'partial' >&4
	wait_until has_bytes "$c"
	kill -KILL "$w"
	expect_exit "$w" 137
	exec 4>&-
	t0=$(now_ms)
	runs shmw -t 5 -n "$c" next
	dt=$(($(now_ms) - t0))
	echo "status=$status took ${dt} ms stderr=[$stderr]"
	[[ $status -eq 0 && -z $stderr ]]
	((dt < 3000 * TMULT))
	read_next "$c" "$T/out"
	printf 'next\n' | cmp - "$T/out"
	assert_no_objects "$c"
}

@test "reader SIGKILLed mid-stream: writer exits 1 reader went away, next message intact" {
	local c w r t0 dt
	c=$(chan)
	head -c $((8 * 1024 * 1024)) /dev/urandom >"$T/in"
	mkfifo "$T/pipe"
	# we hold the pipe open read-write and read only a little of it, so the
	# reader blocks in its output with the stream half done
	exec 5<>"$T/pipe"
	bg "$T/in" /dev/null "$T/werr" "${SHMW[@]}" -s 64K -n "$c"
	w=$BGPID
	bg /dev/null "$T/pipe" "$T/rerr" "${SHMR[@]}" -s 64K -n "$c"
	r=$BGPID
	timeout $((10 * TMULT)) head -c 1000 <&5 >"$T/first"
	head -c 1000 "$T/in" | cmp - "$T/first"
	alive "$w"
	kill -KILL "$r"
	t0=$(now_ms)
	expect_exit "$r" 137
	expect_exit "$w" 1 5
	dt=$(($(now_ms) - t0))
	echo "writer took ${dt} ms: $(cat "$T/werr")"
	((dt < 3000 * TMULT))
	[[ $(cat "$T/werr") == "shmwrite: $c: reader went away" ]]
	exec 5>&-
	# the rest of the stream was discarded
	shmw -t 5 -n "$c" next
	runs shmr -t 5 -n "$c"
	echo "status=$status stderr=[$stderr]"
	[[ $status -eq 0 && $output == next && -z $stderr ]]
	assert_no_objects "$c"
}

@test "waiting reader SIGKILLed: a new reader gets the next message within about 1 s" {
	local c r r2 t0 dt
	c=$(chan)
	bg /dev/null /dev/null /dev/null "${SHMR[@]}" -n "$c"
	r=$BGPID
	wait_reader "$c"
	kill -KILL "$r"
	expect_exit "$r" 137
	bg /dev/null "$T/out" "$T/rerr" "${SHMR[@]}" -n "$c"
	r2=$BGPID
	t0=$(now_ms)
	shmw -t 5 -n "$c" next
	expect_exit "$r2" 0 5
	dt=$(($(now_ms) - t0))
	echo "new reader took ${dt} ms: $(cat "$T/rerr")"
	((dt < 2500 * TMULT))
	printf 'next\n' | cmp - "$T/out"
	[[ ! -s $T/rerr ]]
	assert_no_objects "$c"
}

@test "waiting reader SIGKILLed, then a writer alone: mailbox works" {
	local c r
	c=$(chan)
	bg /dev/null /dev/null /dev/null "${SHMR[@]}" -n "$c"
	r=$BGPID
	wait_reader "$c"
	kill -KILL "$r"
	expect_exit "$r" 137
	runs shmw -t 5 -n "$c" kept
	[[ $status -eq 0 && -z $stderr ]]
	[[ $(queued_msgs "$c") == 1 ]]
	runs shmr -t 5 -n "$c"
	[[ $status -eq 0 && $output == kept && -z $stderr ]]
	assert_no_objects "$c"
}

# A killed process whose parent has not reaped it yet (a zombie) is dead all
# the same.

@test "reader SIGKILLed mid-stream, not yet reaped: writer exits 1 reader went away" {
	local c w r t0 dt
	c=$(chan)
	head -c $((8 * 1024 * 1024)) /dev/urandom >"$T/in"
	mkfifo "$T/pipe"
	exec 5<>"$T/pipe"
	bg "$T/in" /dev/null "$T/werr" "${SHMW[@]}" -s 64K -n "$c"
	w=$BGPID
	bg_unreaped /dev/null "$T/pipe" "$T/rerr" "${SHMR[@]}" -s 64K -n "$c"
	r=$BGPID
	timeout $((10 * TMULT)) head -c 1000 <&5 >/dev/null
	kill -KILL "$r"
	t0=$(now_ms)
	# the reader is a zombie now: dead, but its pid and /proc entry remain
	wait_until dead "$r"
	[[ -e /proc/$r ]]
	expect_exit "$w" 1 5
	dt=$(($(now_ms) - t0))
	echo "writer took ${dt} ms: $(cat "$T/werr")"
	((dt < 3000 * TMULT))
	[[ $(cat "$T/werr") == "shmwrite: $c: reader went away" ]]
	exec 5>&-
	shmw -t 5 -n "$c" next
	runs shmr -t 5 -n "$c"
	[[ $status -eq 0 && $output == next && -z $stderr ]]
	assert_no_objects "$c"
}

@test "writer SIGKILLed mid-stream, not yet reaped: reader exits 1 truncated" {
	local c w r t0 dt
	c=$(chan)
	mkfifo "$T/fifo"
	bg /dev/null "$T/out" "$T/rerr" "${SHMR[@]}" -n "$c"
	r=$BGPID
	wait_reader "$c"
	exec 4<>"$T/fifo"
	bg_unreaped "$T/fifo" /dev/null "$T/werr" "${SHMW[@]}" -n "$c"
	w=$BGPID
	printf 'part1\n' >&4
	wait_until file_has "$T/out" part1
	kill -KILL "$w"
	t0=$(now_ms)
	wait_until dead "$w"
	[[ -e /proc/$w ]]
	expect_exit "$r" 1 5
	dt=$(($(now_ms) - t0))
	echo "reader took ${dt} ms: $(cat "$T/rerr")"
	((dt < 3000 * TMULT))
	[[ $(cat "$T/rerr") == "shmread: $c: message truncated (writer went away)" ]]
	exec 4>&-
	shmw -t 5 -n "$c" next
	read_next "$c" "$T/out"
	printf 'next\n' | cmp - "$T/out"
	assert_no_objects "$c"
}

@test "waiting reader SIGKILLed, not yet reaped: a new reader gets the next message" {
	local c r r2 t0 dt
	c=$(chan)
	bg_unreaped /dev/null /dev/null /dev/null "${SHMR[@]}" -n "$c"
	r=$BGPID
	wait_reader "$c"
	kill -KILL "$r"
	wait_until dead "$r"
	bg /dev/null "$T/out" "$T/rerr" "${SHMR[@]}" -n "$c"
	r2=$BGPID
	t0=$(now_ms)
	shmw -t 5 -n "$c" next
	expect_exit "$r2" 0 5
	dt=$(($(now_ms) - t0))
	echo "new reader took ${dt} ms: $(cat "$T/rerr")"
	((dt < 2500 * TMULT))
	printf 'next\n' | cmp - "$T/out"
	assert_no_objects "$c"
}

@test "reader SIGKILLed while a slow stream trickles in: the writer, never short of room, still exits 1 reader went away" {
	local c w r
	c=$(chan)
	mkfifo "$T/fifo"
	exec 4<>"$T/fifo"
	bg "$T/fifo" /dev/null "$T/werr" "${SHMW[@]}" -n "$c"
	w=$BGPID
	bg /dev/null "$T/out" "$T/rerr" "${SHMR[@]}" -n "$c"
	r=$BGPID
	printf 'first\n' >&4
	wait_until file_has "$T/out" first
	kill -KILL "$r"
	expect_exit "$r" 137
	# the ring has room for all of it: only the writer's own check can tell
	printf 'more\n' >&4
	expect_exit "$w" 1 5
	[[ $(cat "$T/werr") == "shmwrite: $c: reader went away" ]]
	exec 4>&-
	shmw -n "$c" next
	run --separate-stderr shmr -t 5 -n "$c"
	echo "status=$status output=[$output] stderr=[$stderr]"
	[[ $status -eq 0 && $output == next && -z $stderr ]]
	assert_no_objects "$c"
}
