#!/usr/bin/env bats
# Streams: a stdin message far larger than the capacity, and live streaming
# (the reader sees data as it arrives).

load helper

setup() {
	T=$BATS_TEST_TMPDIR
}

@test "100 MiB of random data through a 64K channel" {
	local c w mib=100
	# valgrind is ~50 times slower
	[[ ${SHM_VALGRIND:-0} == 1 ]] && mib=8
	c=$(chan)
	head -c $((mib * 1024 * 1024)) /dev/urandom >"$T/in"
	bg "$T/in" /dev/null "$T/werr" "${SHMW[@]}" -s 64K -n "$c"
	w=$BGPID
	runs bash -c '"$@" | sha256sum' sh "${SHMR[@]}" -s 64K -n "$c"
	echo "reader stderr=[$stderr]"
	[[ $status -eq 0 && -z $stderr ]]
	expect_exit "$w" 0 60
	[[ ! -s $T/werr ]]
	[[ $output == "$(sha256sum <"$T/in")" ]]
	rm -f "$T/in"
	assert_no_objects "$c"
}

@test "stream larger than the capacity, reader starts first" {
	local c r
	c=$(chan)
	head -c $((3 * 1024 * 1024 + 17)) /dev/urandom >"$T/in"
	bg /dev/null "$T/out" "$T/rerr" "${SHMR[@]}" -n "$c" -s 4K
	r=$BGPID
	wait_reader "$c"
	shmw -t $((10 * TMULT)) -n "$c" <"$T/in"
	expect_exit "$r" 0 30
	[[ ! -s $T/rerr ]]
	cmp "$T/in" "$T/out"
	assert_no_objects "$c"
}

@test "live streaming: the reader outputs the first line before the writer's input ends" {
	local c w r
	c=$(chan)
	mkfifo "$T/fifo"
	bg /dev/null "$T/out" "$T/rerr" "${SHMR[@]}" -n "$c" -s 64K
	r=$BGPID
	wait_reader "$c"
	# the writer opens the fifo in its child: blocks until we open it below
	bg "$T/fifo" /dev/null "$T/werr" "${SHMW[@]}" -n "$c"
	w=$BGPID
	exec 4<>"$T/fifo"
	echo first >&4
	wait_until file_has "$T/out" first
	# the message is not complete yet: both are still running
	alive "$w"
	alive "$r"
	printf 'first\n' | cmp - "$T/out"
	echo second >&4
	wait_until file_has "$T/out" second
	alive "$r"
	printf 'third, no newline' >&4
	exec 4>&-
	expect_exit "$w" 0
	expect_exit "$r" 0
	[[ ! -s $T/werr && ! -s $T/rerr ]]
	printf 'first\nsecond\nthird, no newline' | cmp - "$T/out"
	assert_no_objects "$c"
}

@test "live streaming: writer fed by a pipeline, reader sees data before it ends" {
	local c w r
	c=$(chan)
	bg /dev/null "$T/out" "$T/rerr" "${SHMR[@]}" -n "$c"
	r=$BGPID
	wait_reader "$c"
	# the pipeline's first part waits for a signal file before its second line
	{
		echo first
		n=0
		until [[ -e $T/go ]] || ((n > 2000 * TMULT)); do
			sleep 0.01
			n=$((n + 1))
		done
		echo second
	} 3>&- | "${SHMW[@]}" -n "$c" 3>&- &
	w=$!
	PIDS+=("$w")
	wait_until file_has "$T/out" first
	alive "$r"
	touch "$T/go"
	expect_exit "$w" 0
	expect_exit "$r" 0
	printf 'first\nsecond\n' | cmp - "$T/out"
	assert_no_objects "$c"
}

@test "stream followed by operand messages keeps order" {
	local c w
	c=$(chan)
	head -c 300000 /dev/urandom >"$T/in"
	bg "$T/in" /dev/null /dev/null "${SHMW[@]}" -n "$c" -s 16K
	w=$BGPID
	wait_until has_bytes "$c"
	# this one waits for the stream to finish (write token)
	bg /dev/null /dev/null /dev/null "${SHMW[@]}" -n "$c" after
	local w2=$BGPID
	shmr -n "$c" >"$T/out"
	cmp "$T/in" "$T/out"
	expect_exit "$w" 0
	run shmr -n "$c"
	[[ $status -eq 0 && $output == after ]]
	expect_exit "$w2" 0
	assert_no_objects "$c"
}
