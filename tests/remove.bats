#!/usr/bin/env bats
# -r removes a channel, queued messages too; whoever waits on it leaves at
# once with "channel removed".  What is not a channel, or not ours to
# remove, is left as it is.

# shellcheck disable=SC2154 # status, output, stderr, lines: from bats' run; OFF_* and such: from tests/layout

load helper

@test "-r from either tool removes all five objects, queued messages too" {
	local c p
	c=$(chan)
	for p in shmwrite shmread; do
		shmw -n "$c" queued
		assert_objects "$c"
		runs "$BIN/$p" -r -n "$c"
		expect 0 "" ""
		assert_no_objects "$c"
	done
}

@test "-r on a missing channel: 1, no such channel, nothing created" {
	local c
	c=$(chan)
	runs shmw -r -n "$c"
	expect 1 "" "shmwrite: $c: no such channel"
	assert_no_objects "$c"
}

@test "-r on what is not a channel: 1, not a channel, left untouched" {
	local c f
	c=$(chan)
	f=/dev/shm/shmrw.$c
	head -c 10000 /dev/urandom >"$f"
	cp "$f" "$T/before"
	runs shmr -r -n "$c"
	expect 1 "" "shmread: $c: not a channel"
	cmp "$f" "$T/before"
	rm -f "$f"
	mkdir "$f"
	runs shmr -r -n "$c"
	expect 1 "" "shmread: $c: not a channel"
	[[ -d $f ]]
	rmdir "$f"
}

# removed_under NAME PID...: -r NAME; each PID leaves at once, 1, with
# "channel removed"; nothing is left
removed_under() {
	local p
	runs shmw -r -n "$1"
	expect 0 "" ""
	for p in "${@:2}"; do
		expect_exit "$p" 1 3
		[[ $(cat "${BGERR[$p]}") == *": $1: channel removed" ]]
	done
	assert_no_objects "$1"
}

@test "-r wakes everyone waiting, who leaves at once with channel removed" {
	local c pids
	c=$(chan)
	# writers: one waiting for room, one for the write token
	head -c 100000 /dev/zero >"$T/in"
	bg "$T/in" /dev/null "$T/err.w1" "${SHMW[@]}" -s 4K -n "$c"
	pids=("$BGPID")
	wait_until has_bytes "$c"
	bg /dev/null /dev/null "$T/err.w2" "${SHMW[@]}" -n "$c" x
	pids+=("$BGPID")
	wait_until has_writers "$c" 2
	removed_under "$c" "${pids[@]}"
	# readers: one waiting for a message, one for the read token
	bg /dev/null /dev/null "$T/err.r1" "${SHMR[@]}" -n "$c"
	pids=("$BGPID")
	wait_reader "$c"
	bg /dev/null /dev/null "$T/err.r2" "${SHMR[@]}" -n "$c"
	pids+=("$BGPID")
	wait_until has_readers "$c" 2
	removed_under "$c" "${pids[@]}"
	# a -w writer waiting for its message to be taken
	bg /dev/null /dev/null "$T/err.s" "${SHMW[@]}" -w -n "$c" x
	wait_until has_queued "$c" 1
	removed_under "$c" "$BGPID"
}

@test "-r of another user's channel: 1, Permission denied, the channel intact and usable" {
	local c
	need_root
	c=$(chan)
	shmw -m 0666 -n "$c" one
	runs as_nobody "$SHMWRITE" -r -n "$c"
	expect 1 "" "shmwrite: $c: Permission denied"
	assert_objects "$c"
	runs as_nobody "$SHMWRITE" --any-owner -n "$c" two
	expect 0 "" ""
	runs shmr -n "$c" -c 2
	expect 0 $'one\ntwo' ""
	assert_no_objects "$c"
}

@test "-r stops a reader busy with a backlog, which never waits: it leaves at the next batch" {
	local c r n
	c=$(chan)
	seq 200000 | shmw -l -s 4M -n "$c"
	mkfifo "$T/fifo"
	exec 4<>"$T/fifo"
	bg /dev/null "$T/fifo" "$T/err" "${SHMR[@]}" -f -n "$c"
	r=$BGPID
	wait_reader "$c"
	runs shmw -r -n "$c"
	expect 0 "" ""
	exec 5<"$T/fifo" 4>&-
	n=$(wc -l <&5)
	exec 5<&-
	expect_exit "$r" 1 3
	[[ $(cat "$T/err") == "shmread: $c: channel removed" ]]
	echo "# the reader wrote $n lines of 200000"
	((n < 200000))
}
