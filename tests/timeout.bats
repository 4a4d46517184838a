#!/usr/bin/env bats
# -t bounds each wait for something to begin - a message, a token, room in
# the ring, the channel - and expiry is exit 124, silent, as timeout(1).

# shellcheck disable=SC2154 # status, output, stderr, lines: from bats' run; OFF_* and such: from tests/layout

load helper

@test "shmread -t 0: a message if one is there, else 124 at once, silent; nothing left" {
	local c
	c=$(chan)
	gets "$c"
	shmw -n "$c" there
	gets "$c" there
}

@test "shmread -t 0.3 on an empty channel: 124; -v says why" {
	local c
	c=$(chan)
	runs shmr -t 0.3 -n "$c"
	expect 124 "" ""
	runs shmr -v -t 0.3 -n "$c"
	[[ $status -eq 124 && -z $output && $stderr == *"timed out waiting for a message"* ]]
	assert_no_objects "$c"
}

@test "shmread -t while another reader holds the read token: 124" {
	local c r
	c=$(chan)
	bg /dev/null /dev/null /dev/null "${SHMR[@]}" -n "$c"
	r=$BGPID
	wait_reader "$c"
	runs shmr -v -t 0.2 -n "$c"
	[[ $status -eq 124 && $stderr == *"timed out waiting for the read token"* ]]
	shmw -n "$c" x
	expect_exit "$r" 0
	assert_no_objects "$c"
}

@test "a writer to a full ring: -t 0.2 gives 124 and the message was not sent; with room, -t 0 succeeds" {
	local c
	c=$(chan)
	head -c 3000 /dev/zero | shmw -s 4K -n "$c"
	runs shmw -t 0.2 -n "$c" "$(head -c 2000 /dev/zero | tr '\0' y)"
	expect 124 "" ""
	[[ $(queued_msgs "$c") == 1 ]]
	runs shmw -t 0 -n "$c" small
	expect 0 "" ""
	shmr -n "$c" -c 2 | cmp - <(head -c 3000 /dev/zero; echo small)
	assert_no_objects "$c"
}

@test "a writer waiting for the write token: -t 0.2 gives 124" {
	local c w
	c=$(chan)
	mkfifo "$T/fifo"
	bg "$T/fifo" /dev/null /dev/null "${SHMW[@]}" -n "$c"
	w=$BGPID
	exec 4>"$T/fifo"
	wait_writer "$c"
	runs shmw -v -t 0.2 -n "$c" other
	[[ $status -eq 124 && $stderr == *"timed out waiting for the write token"* ]]
	exec 4>&-
	expect_exit "$w" 0
	runs shmr -n "$c"
	expect 0 "" ""
	assert_no_objects "$c"
}
