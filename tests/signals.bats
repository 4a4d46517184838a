#!/usr/bin/env bats
# SIGINT, SIGTERM, SIGHUP and SIGPIPE: the tool leaves the channel in order
# and dies of the same signal (128+N); the channel goes on working.

# shellcheck disable=SC2154 # status, output, stderr, lines: from bats' run; OFF_* and such: from tests/layout

load helper

@test "INT, TERM, HUP to a waiting reader: 130, 143, 129; the channel works after" {
	local c s
	c=$(chan)
	for s in INT:130 TERM:143 HUP:129; do
		bg /dev/null "$T/out" "$T/err" "${SHMR[@]}" -n "$c"
		wait_reader "$c"
		kill_wait "${s%:*}" "$BGPID" "${s#*:}"
		[[ ! -s $T/out && ! -s $T/err ]]
		assert_no_objects "$c"
		shmw -n "$c" after
		runs shmr -n "$c"
		expect 0 after ""
	done
	assert_no_objects "$c"
}

@test "TERM to a writer streaming into a full ring: 143, the next message arrives whole" {
	local c
	c=$(chan)
	head -c 1000000 /dev/urandom >"$T/in"
	bg "$T/in" /dev/null "$T/err" "${SHMW[@]}" -s 4K -n "$c"
	wait_until has_bytes "$c"
	kill_wait TERM "$BGPID" 143
	[[ ! -s $T/err ]]
	shmw -n "$c" next
	runs shmr -n "$c"
	expect 0 next ""
	assert_no_objects "$c"
}

@test "TERM to a writer blocked reading its input: 143 at once" {
	local c
	c=$(chan)
	mkfifo "$T/fifo"
	bg "$T/fifo" /dev/null "$T/err" "${SHMW[@]}" -n "$c"
	exec 4>"$T/fifo"
	echo partial >&4
	wait_until has_bytes "$c"
	kill_wait TERM "$BGPID" 143
	exec 4>&-
	gets "$c"
}

@test "TERM to a reader blocked writing its output: 143 at once, the message stays" {
	local c
	c=$(chan)
	head -c 500000 /dev/urandom >"$T/in"
	shmw -n "$c" <"$T/in"
	mkfifo "$T/fifo"
	exec 4<>"$T/fifo"
	bg /dev/null "$T/fifo" "$T/err" "${SHMR[@]}" -n "$c"
	wait_reader "$c"
	kill_wait TERM "$BGPID" 143
	exec 4>&-
	[[ $(queued_msgs "$c") == 1 ]]
	shmr -n "$c" | cmp - "$T/in"
	assert_no_objects "$c"
}

@test "shmread | head -c1 on a stream: the reader dies of SIGPIPE, the writer says reader went away" {
	local c
	c=$(chan)
	head -c $((8 * 1024 * 1024)) /dev/urandom >"$T/in"
	bg "$T/in" /dev/null "$T/werr" "${SHMW[@]}" -s 64K -n "$c"
	runs bash -c 'set -o pipefail; "$@" | head -c1 >/dev/null' bash "${SHMR[@]}" -s 64K -n "$c"
	[[ $status -eq 141 && -z $stderr ]]
	expect_exit "$BGPID" 1
	[[ $(cat "$T/werr") == "shmwrite: $c: reader went away" ]]
	shmw -n "$c" next
	runs shmr -n "$c"
	expect 0 next ""
	assert_no_objects "$c"
}
