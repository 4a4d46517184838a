#!/usr/bin/env bats
# -r/--remove, --status, --list.

# stderr_lines is set by bats' run --separate-stderr
# shellcheck disable=SC2154

load helper

setup() {
	T=$BATS_TEST_TMPDIR
}

@test "shmwrite -r removes all objects, queued messages too" {
	local c
	c=$(chan)
	shmw -n "$c" one
	shmw -n "$c" two
	assert_objects "$c"
	runs shmw -r -n "$c"
	[[ $status -eq 0 && -z $output && -z $stderr ]]
	assert_no_objects "$c"
}

@test "shmread --remove removes all objects" {
	local c
	c=$(chan)
	shmw -n "$c" one
	runs shmr --remove -n "$c"
	[[ $status -eq 0 && -z $output && -z $stderr ]]
	assert_no_objects "$c"
	# and it can be made again
	shmw -n "$c" again
	run shmr -n "$c"
	[[ $status -eq 0 && $output == again ]]
	assert_no_objects "$c"
}

@test "-r on a missing channel: exit 1, no such channel, nothing created" {
	local c
	c=$(chan)
	runs shmw -r -n "$c"
	[[ $status -eq 1 && -z $output ]]
	[[ $stderr == "shmwrite: $c: no such channel" ]]
	runs shmr -r -n "$c"
	[[ $status -eq 1 && -z $output ]]
	[[ $stderr == "shmread: $c: no such channel" ]]
	assert_no_objects "$c"
}

@test "a file that is not a channel: not a channel, exit 1, left untouched" {
	local c
	c=$(chan)
	head -c 8192 /dev/urandom >"/dev/shm/shmrw.$c"
	cp "/dev/shm/shmrw.$c" "$T/copy"
	runs shmw -r -n "$c"
	echo "stderr=[$stderr]"
	[[ $status -eq 1 && $stderr == "shmwrite: $c: not a channel" ]]
	cmp "$T/copy" "/dev/shm/shmrw.$c"
	runs shmr -r -n "$c"
	[[ $status -eq 1 && $stderr == "shmread: $c: not a channel" ]]
	cmp "$T/copy" "/dev/shm/shmrw.$c"
	runs shmw -t 1 -n "$c" hello
	echo "stderr=[$stderr]"
	[[ $status -eq 1 && $stderr == "shmwrite: $c: not a channel" ]]
	cmp "$T/copy" "/dev/shm/shmrw.$c"
	runs shmr -t 1 -n "$c"
	echo "stderr=[$stderr]"
	[[ $status -eq 1 && -z $output && $stderr == "shmread: $c: not a channel" ]]
	cmp "$T/copy" "/dev/shm/shmrw.$c"
	runs shmr --status -n "$c"
	echo "stderr=[$stderr]"
	[[ $status -eq 1 && $stderr == *"$c: not a channel" ]]
	cmp "$T/copy" "/dev/shm/shmrw.$c"
	[[ -z $(sem_objects "$c") ]]
	rm -f "/dev/shm/shmrw.$c"
}

@test "a blocked reader exits 1 within about 1 s after -r: channel removed" {
	local c r t0 dt
	c=$(chan)
	bg /dev/null "$T/out" "$T/err" "${SHMR[@]}" -n "$c"
	r=$BGPID
	wait_reader "$c"
	t0=$(now_ms)
	runs shmw -r -n "$c"
	[[ $status -eq 0 ]]
	expect_exit "$r" 1 5
	dt=$(($(now_ms) - t0))
	echo "reader took ${dt} ms; stderr: $(cat "$T/err")"
	((dt < 2500 * TMULT))
	[[ $(cat "$T/err") == "shmread: $c: channel removed" ]]
	[[ ! -s $T/out ]]
	assert_no_objects "$c"
}

@test "a blocked writer exits 1 after -r: channel removed" {
	local c w t0 dt
	c=$(chan)
	head -c 200000 /dev/urandom >"$T/in"
	bg "$T/in" /dev/null "$T/err" "${SHMW[@]}" -s 4K -n "$c"
	w=$BGPID
	wait_until has_bytes "$c"
	wait_writer "$c"
	t0=$(now_ms)
	shmr -r -n "$c"
	expect_exit "$w" 1 5
	dt=$(($(now_ms) - t0))
	echo "writer took ${dt} ms; stderr: $(cat "$T/err")"
	((dt < 2500 * TMULT))
	[[ $(cat "$T/err") == "shmwrite: $c: channel removed" ]]
	assert_no_objects "$c"
}

@test "--status: all fields" {
	local c r st
	c=$(chan)
	shmw -s 64K -m 0640 -n "$c" hello
	printf 'abc' | shmw -n "$c"
	runs shmr --status -n "$c"
	echo "$output"
	[[ $status -eq 0 && -z $stderr ]]
	st=$output
	grep -qxE "name: */?$c" <<<"$st"
	grep -qE '^objects: ' <<<"$st"
	local f
	while IFS= read -r f; do
		# each object appears in the output (as a path or a POSIX name)
		f=${f##*/}
		grep -qF "${f#sem.}" <<<"$st"
	done < <(objects "$c")
	grep -qE "^owner: .*($(id -u)|$(id -un))" <<<"$st"
	grep -qxE 'mode: *0?640' <<<"$st"
	grep -qxE 'capacity: *65536( bytes)?' <<<"$st"
	grep -qE '^queued: *[0-9]+ bytes?, *2 messages?$' <<<"$st"
	grep -qE '^writers:' <<<"$st"
	grep -qE '^readers:' <<<"$st"
	! grep -qE '^readers:.*[0-9]' <<<"$st" || false
	shmr -c 2 -n "$c" >/dev/null
	assert_no_objects "$c"
	# a waiting reader is listed by pid
	bg /dev/null /dev/null /dev/null "${SHMR[@]}" -n "$c"
	r=$BGPID
	wait_reader "$c"
	status_of "$c" | grep -E "^readers:.*\\b$r\\b"
	shmw -n "$c" x
	expect_exit "$r" 0
	assert_no_objects "$c"
}

@test "--status lists a waiting writer's pid" {
	local c w
	c=$(chan)
	bg /dev/null /dev/null /dev/null "${SHMW[@]}" -w -n "$c" waiting
	w=$BGPID
	wait_until has_queued "$c" 1
	status_of "$c" | grep -E "^writers:.*\\b$w\\b"
	shmr -n "$c" >/dev/null
	expect_exit "$w" 0
	assert_no_objects "$c"
}

@test "--status on a missing channel: exit 1, no such channel, creates nothing" {
	local c
	c=$(chan)
	runs shmr --status -n "$c"
	[[ $status -eq 1 && -z $output ]]
	[[ $stderr == "shmread: $c: no such channel" ]]
	assert_no_objects "$c"
}

@test "--list includes the channel: NAME CAPACITY QUEUED_BYTES QUEUED_MESSAGES" {
	local c1 c2 b
	c1=$(chan l1)
	c2=$(chan l2)
	shmw -s 64K -n "$c1" one
	shmw -n "$c1" two
	shmw -s 8K -n "$c2" three
	b=$(queued_bytes "$c1")
	runs shmr --list
	# other channels on the host (other tests, half made ones) are not ours
	# to judge: only ours must be listed without complaint
	[[ $status -eq 0 || $status -eq 1 ]]
	[[ $stderr != *"$c1"* && $stderr != *"$c2"* ]]
	grep -qxE "$c1 65536 $b 2" <<<"$output"
	grep -qxE "$c2 8192 [0-9]+ 1" <<<"$output"
	# every line has the 4 fields
	[[ $(grep -cvE '^[A-Za-z0-9._-]+ [0-9]+ [0-9]+ [0-9]+$' <<<"$output") -eq 0 ]]
	shmr -n "$c1" -c 2 >/dev/null
	shmr -n "$c2" >/dev/null
	run shmr --list
	! grep -qF "$c1 " <<<"$output" || false
	assert_no_objects "$c1"
	assert_no_objects "$c2"
}
