#!/usr/bin/env bats
# -t SECONDS: expiry exits 124 silently; a message that timed out before
# any of it was committed was not sent.

load helper

setup() {
	T=$BATS_TEST_TMPDIR
}

@test "shmread -t 0 on an empty channel: 124 at once, silent, nothing left" {
	local c t0 dt
	c=$(chan)
	t0=$(now_ms)
	runs shmr -t 0 -n "$c"
	dt=$(($(now_ms) - t0))
	echo "status=$status took ${dt} ms stderr=[$stderr]"
	[[ $status -eq 124 && -z $output && -z $stderr ]]
	((dt < 1000 * TMULT))
	assert_no_objects "$c"
}

@test "shmread -t 0.2: 124 after about 0.2 s" {
	local c t0 dt
	c=$(chan)
	t0=$(now_ms)
	runs shmr -t 0.2 -n "$c"
	dt=$(($(now_ms) - t0))
	echo "status=$status took ${dt} ms stderr=[$stderr]"
	[[ $status -eq 124 && -z $output && -z $stderr ]]
	((dt >= 190 && dt < 3000 * TMULT))
	assert_no_objects "$c"
}

@test "shmread --timeout 1 while another process keeps the channel" {
	local c r t0 dt
	c=$(chan)
	bg /dev/null /dev/null /dev/null "${SHMR[@]}" -n "$c"
	r=$BGPID
	wait_reader "$c"
	t0=$(now_ms)
	runs shmr --timeout 1 -n "$c"
	dt=$(($(now_ms) - t0))
	echo "status=$status took ${dt} ms stderr=[$stderr]"
	[[ $status -eq 124 && -z $output && -z $stderr ]]
	((dt >= 990 && dt < 4000 * TMULT))
	alive "$r"
	shmw -n "$c" x
	expect_exit "$r" 0
	assert_no_objects "$c"
}

@test "-v narrates the expiry" {
	local c
	c=$(chan)
	runs shmr -v -t 0 -n "$c"
	[[ $status -eq 124 && -z $output && -n $stderr ]]
	all_lines_start 'shmread: ' "$stderr"
	assert_no_objects "$c"
}

@test "shmread -t 0 with a message there succeeds" {
	local c
	c=$(chan)
	shmw -n "$c" ready
	runs shmr -t 0 -n "$c"
	[[ $status -eq 0 && $output == ready && -z $stderr ]]
	assert_no_objects "$c"
}

@test "writer to a full channel with -t 0.2: 124, the message was not sent" {
	local c i n=0 rc msg t0 dt
	c=$(chan)
	msg=$(repeat m 200)
	# fill the 4K channel with whole messages until one does not fit
	for ((i = 1; i <= 100; i++)); do
		rc=0
		shmw -s 4K -t 0 -n "$c" "$i $msg" || rc=$?
		[[ $rc -eq 0 ]] || break
		n=$i
	done
	echo "sent $n messages, then status $rc"
	[[ $rc -eq 124 ]]
	((n >= 1 && n < 100))
	[[ $(queued_msgs "$c") == "$n" ]]
	t0=$(now_ms)
	runs shmw -t 0.2 -n "$c" "late $msg"
	dt=$(($(now_ms) - t0))
	echo "status=$status took ${dt} ms stderr=[$stderr]"
	[[ $status -eq 124 && -z $stderr ]]
	((dt >= 190 && dt < 3000 * TMULT))
	[[ $(queued_msgs "$c") == "$n" ]]
	# exactly the n whole messages are there, nothing else
	shmr -t 0 -c "$n" -n "$c" >"$T/out"
	for ((i = 1; i <= n; i++)); do
		echo "$i $msg"
	done | cmp - "$T/out"
	run shmr -t 0 -n "$c"
	[[ $status -eq 124 && -z $output ]]
	assert_no_objects "$c"
}

@test "-t 0 with room: the writer succeeds" {
	local c
	c=$(chan)
	runs shmw -t 0 -n "$c" fits
	[[ $status -eq 0 && -z $stderr ]]
	run shmr -t 0 -n "$c"
	[[ $status -eq 0 && $output == fits ]]
	assert_no_objects "$c"
}

@test "shmwrite -w -t 0.2 with no reader: 124, the message stays queued" {
	local c
	c=$(chan)
	runs shmw -w -t 0.2 -n "$c" unread
	[[ $status -eq 124 && -z $stderr ]]
	[[ $(queued_msgs "$c") == 1 ]]
	run shmr -t 0 -n "$c"
	[[ $status -eq 0 && $output == unread ]]
	assert_no_objects "$c"
}
