#!/usr/bin/env bats
# Streams: standard input of any size goes through the ring byte for byte,
# and the reader sees it as it comes; -t never cuts a stream short; a line
# longer than the ring travels as a stream; memory stays bounded.

# shellcheck disable=SC2154 # status, output, stderr, lines: from bats' run; OFF_* and such: from tests/layout

load helper

@test "100 MiB of random data through a 64K ring, and 10 MiB through a 4K one" {
	local c s n
	[[ ${SHM_VALGRIND:-0} == 0 ]] || skip "too slow under valgrind"
	for s in 64K:100 4K:10; do
		n=${s#*:}
		c=$(chan "${s%:*}")
		head -c $((n * 1024 * 1024)) /dev/urandom >"$T/in"
		bg "$T/in" /dev/null "$T/werr" "${SHMW[@]}" -n "$c" -s "${s%:*}"
		shmr -n "$c" -s "${s%:*}" >"$T/out"
		expect_exit "$BGPID" 0 60
		cmp "$T/in" "$T/out"
		[[ ! -s $T/werr ]]
		assert_no_objects "$c"
	done
}

@test "a stream larger than the ring, the reader first" {
	local c r
	c=$(chan)
	head -c $((1024 * 1024 + 1)) /dev/urandom >"$T/in"
	bg /dev/null "$T/out" "$T/rerr" "${SHMR[@]}" -n "$c"
	r=$BGPID
	wait_reader "$c"
	runs shmw -n "$c" <"$T/in"
	expect 0 "" ""
	expect_exit "$r" 0
	cmp "$T/in" "$T/out"
	assert_no_objects "$c"
}

@test "live: the reader writes out each part as it comes, before the writer's input ends" {
	local c w r part
	c=$(chan)
	mkfifo "$T/fifo"
	bg /dev/null "$T/out" "$T/rerr" "${SHMR[@]}" -n "$c"
	r=$BGPID
	wait_reader "$c"
	bg "$T/fifo" /dev/null "$T/werr" "${SHMW[@]}" -n "$c"
	w=$BGPID
	exec 4>"$T/fifo"
	for part in first second; do
		echo "$part" >&4
		wait_until file_has "$T/out" "$part"
		alive "$w"
		alive "$r"
	done
	printf 'third, no newline' >&4
	exec 4>&-
	expect_exit "$w" 0
	expect_exit "$r" 0
	printf 'first\nsecond\nthird, no newline' | cmp - "$T/out"
	[[ ! -s $T/werr && ! -s $T/rerr ]]
	assert_no_objects "$c"
}

@test "-t 0 never cuts a stream: a reader that began one follows it to its end" {
	local c w
	c=$(chan)
	mkfifo "$T/fifo"
	bg "$T/fifo" /dev/null "$T/werr" "${SHMW[@]}" -n "$c"
	w=$BGPID
	exec 4>"$T/fifo"
	echo part1 >&4
	wait_until has_bytes "$c"
	bg /dev/null "$T/out" "$T/rerr" "${SHMR[@]}" -t 0 -n "$c"
	wait_until file_has "$T/out" part1
	alive "$BGPID"
	last_part "$c" "$BGPID" "$w"
}

@test "a stream and the messages after it keep their order" {
	local c w w2
	c=$(chan)
	head -c 300000 /dev/urandom >"$T/in"
	bg "$T/in" /dev/null /dev/null "${SHMW[@]}" -n "$c" -s 16K
	w=$BGPID
	wait_until has_bytes "$c"
	bg /dev/null /dev/null /dev/null "${SHMW[@]}" -n "$c" after
	w2=$BGPID
	wait_until has_writer "$c"
	shmr -n "$c" >"$T/out"
	cmp "$T/in" "$T/out"
	runs shmr -n "$c"
	expect 0 after ""
	expect_exit "$w" 0
	expect_exit "$w2" 0
	assert_no_objects "$c"
}

# abandoned keeps the number of the last stream whose reader gave it up;
# message numbers wrap after 2^32, so a new message may get that number.
@test "a number given up long ago stops no new message that gets it: -w, and a stream" {
	local c w
	c=$(chan)
	head -c 300000 /dev/urandom >"$T/in"
	shmw -k -s 16K -n "$c" first
	shmr -n "$c" >/dev/null
	poke "$c" "$OFF_abandoned" L 2
	bg /dev/null /dev/null "$T/werr" "${SHMW[@]}" -w -n "$c" second
	w=$BGPID
	runs shmr -n "$c"
	expect 0 second ""
	expect_exit "$w" 0
	poke "$c" "$OFF_abandoned" L 3
	bg "$T/in" /dev/null "$T/werr" "${SHMW[@]}" -n "$c"
	w=$BGPID
	shmr -n "$c" >"$T/out"
	cmp "$T/in" "$T/out"
	expect_exit "$w" 0
	[[ ! -s $T/werr ]]
	shmr -r -n "$c"
	assert_no_objects "$c"
}

# line: a 200 MB line, and a short one; zeros: 300 MB of them
line() { head -c 200000000 /dev/zero | tr '\0' x; printf '\nshort\n'; }
zeros() { head -c 300000000 /dev/zero; }

hwm() { sed -n 's/^VmHWM: *\([0-9]*\) kB$/\1/p' "/proc/$1/status"; }
wrote() { (($(sed -n 's/^wchar: //p' "/proc/$1/io") >= $2)); }

# bounded N BYTES GEN ARGS...: GEN (N messages, BYTES bytes) through a
# writer (ARGS); once the reader has written it all out, and while both
# still run, the peak memory of each is within the ring (1M) + 4 MiB
bounded() {
	local n=$1 bytes=$2 gen=$3 c w r m
	shift 3
	[[ -z ${SHMBIN:-} && ${SHM_VALGRIND:-0} == 0 ]] || skip "memory is not ours to measure under sanitizers"
	c=$(chan)
	mkfifo "$T/in" "$T/out"
	bg "$T/in" /dev/null "$T/werr" "$SHMWRITE" -n "$c" "$@"
	w=$BGPID
	bg /dev/null "$T/out" "$T/rerr" "$SHMREAD" -n "$c" -c $((n + 1))
	r=$BGPID
	cmp "$T/out" <("$gen") >"$T/cmp" 2>&1 &
	PIDS+=("$!")
	exec 4>"$T/in"
	"$gen" >&4
	wait_for 60 wrote "$r" "$bytes"
	for m in "$(hwm "$w")" "$(hwm "$r")"; do
		echo "# peak RSS $m KiB"
		[[ -n $m ]] && ((m <= 1024 + 4096))
	done
	exec 4>&-
	expect_exit "$w" 0
	kill_wait TERM "$r" 143
	wait "${PIDS[-1]}"
	[[ ! -s $T/cmp && ! -s $T/werr && ! -s $T/rerr ]]
	assert_no_objects "$c"
}

@test "-l: a 200 MB line, far longer than the ring, arrives whole; memory stays within the ring + 4 MiB" {
	bounded 2 200000007 line -l
}

@test "a 300 MB stream: memory stays within the ring + 4 MiB" {
	bounded 1 300000000 zeros
}
