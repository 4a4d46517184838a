#!/usr/bin/env bats
# SIGINT/SIGTERM/SIGHUP/SIGPIPE: the tool cleans up and dies by the same
# signal (exit 128+N); the channel stays usable.

load helper

setup() {
	T=$BATS_TEST_TMPDIR
}

# signal_waiting_reader SIG NUM
signal_waiting_reader() {
	local c r
	c=$(chan)
	bg /dev/null "$T/out" "$T/err" "${SHMR[@]}" -n "$c"
	r=$BGPID
	wait_reader "$c"
	kill "-$1" "$r"
	expect_exit "$r" $((128 + $2)) 5
	[[ ! -s $T/out ]]
	# consistent afterwards: a following write and read work
	shmw -t 5 -n "$c" after
	runs shmr -t 5 -n "$c"
	[[ $status -eq 0 && $output == after && -z $stderr ]]
	assert_no_objects "$c"
}

@test "SIGTERM to a waiting reader: exit 143, channel fine" {
	signal_waiting_reader TERM 15
}

@test "SIGINT to a waiting reader: exit 130, channel fine" {
	signal_waiting_reader INT 2
}

@test "SIGHUP to a waiting reader: exit 129, channel fine" {
	signal_waiting_reader HUP 1
}

@test "SIGTERM to a reader that left, mailbox kept" {
	local c r
	c=$(chan)
	bg /dev/null /dev/null /dev/null "${SHMR[@]}" -n "$c"
	r=$BGPID
	wait_reader "$c"
	kill -TERM "$r"
	expect_exit "$r" 143 5
	# the reader was the only process: nothing queued, channel gone
	assert_no_objects "$c"
}

@test "SIGTERM to a writer streaming into a full channel: exit 143, channel fine" {
	local c w
	c=$(chan)
	head -c 1000000 /dev/urandom >"$T/in"
	bg "$T/in" /dev/null "$T/err" "${SHMW[@]}" -s 4K -n "$c"
	w=$BGPID
	wait_until has_bytes "$c"
	wait_writer "$c"
	kill -TERM "$w"
	expect_exit "$w" 143 5
	shmw -t 5 -n "$c" after
	# the first message may be the cut one (the reader says truncated)
	read_next "$c" "$T/out"
	printf 'after\n' | cmp - "$T/out"
	assert_no_objects "$c"
}

@test "SIGINT to a writer waiting with -w: exit 130" {
	local c w
	c=$(chan)
	bg /dev/null /dev/null "$T/err" "${SHMW[@]}" -w -n "$c" waiting
	w=$BGPID
	wait_until has_queued "$c" 1
	kill -INT "$w"
	expect_exit "$w" 130 5
	shmw -n "$c" after
	read_next "$c" "$T/out"
	if [[ $(cat "$T/out") == waiting ]]; then
		read_next "$c" "$T/out"
	fi
	printf 'after\n' | cmp - "$T/out"
	assert_no_objects "$c"
}

@test "shmread | head -c1 on a big stream: reader dies of SIGPIPE, writer: reader went away" {
	local c w rc
	c=$(chan)
	head -c $((8 * 1024 * 1024)) /dev/urandom >"$T/in"
	bg "$T/in" /dev/null "$T/err" "${SHMW[@]}" -s 64K -n "$c"
	w=$BGPID
	env --default-signal=PIPE "${SHMR[@]}" -s 64K -n "$c" 2>"$T/rerr" | head -c1 >"$T/one"
	rc=${PIPESTATUS[0]}
	echo "reader exit $rc: $(cat "$T/rerr")"
	[[ $rc -eq 141 ]]
	head -c1 "$T/in" | cmp - "$T/one"
	expect_exit "$w" 1 5
	echo "writer: $(cat "$T/err")"
	[[ $(cat "$T/err") == "shmwrite: $c: reader went away" ]]
	# the rest of that message was discarded; the next one is intact
	shmw -n "$c" next
	runs shmr -t 5 -n "$c"
	[[ $status -eq 0 && $output == next && -z $stderr ]]
	assert_no_objects "$c"
}
