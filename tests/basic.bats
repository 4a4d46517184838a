#!/usr/bin/env bats
# Basic message exchange: operand, stdin and -l messages, mailbox, order,
# -c, -w, -m, -s, write errors, no leftovers.

load helper

setup() {
	T=$BATS_TEST_TMPDIR
}

@test "operand message: operands joined by single spaces plus newline (echo)" {
	local c
	c=$(chan)
	shmw -n "$c" hello 'big  world' '' end
	shmr -n "$c" >"$T/out"
	printf 'hello big  world  end\n' | cmp - "$T/out"
	assert_no_objects "$c"
}

@test "single operand, /NAME is the same channel as NAME" {
	local c
	c=$(chan)
	shmw -n "/$c" hi
	assert_objects "$c"
	runs shmr -n "$c"
	[[ $status -eq 0 && $output == hi && -z $stderr ]]
	assert_no_objects "$c"
}

@test "long options --name, --count" {
	local c
	c=$(chan)
	shmw --name "$c" one
	shmw --name="$c" two
	shmr --name "$c" --count 2 >"$T/out"
	printf 'one\ntwo\n' | cmp - "$T/out"
	assert_no_objects "$c"
}

@test "stdin message is byte exact: NULs, no newline added" {
	local c
	c=$(chan)
	printf 'a\0b\0\0\nc\n\n\0tail' >"$T/in"
	shmw -n "$c" <"$T/in"
	shmr -n "$c" >"$T/out"
	cmp "$T/in" "$T/out"
	printf 'no newline' | shmw -n "$c"
	shmr -n "$c" >"$T/out"
	printf 'no newline' | cmp - "$T/out"
	assert_no_objects "$c"
}

@test "empty stdin is one empty message" {
	local c
	c=$(chan)
	shmw -n "$c" </dev/null
	[[ $(queued_msgs "$c") == 1 ]]
	shmw -n "$c" after
	[[ $(queued_msgs "$c") == 2 ]]
	runs shmr -n "$c"
	[[ $status -eq 0 && -z $output && -z $stderr ]]
	runs shmr -n "$c"
	[[ $status -eq 0 && $output == after ]]
	assert_no_objects "$c"
}

@test "binary round trip of 1 MiB + 1 of random data (writer first, default size)" {
	local c
	c=$(chan)
	head -c $((1024 * 1024 + 1)) /dev/urandom >"$T/in"
	bg "$T/in" /dev/null "$T/err" "${SHMW[@]}" -n "$c"
	local w=$BGPID
	shmr -n "$c" >"$T/out"
	expect_exit "$w" 0
	[[ ! -s $T/err ]]
	[[ $(sha256sum <"$T/in") == "$(sha256sum <"$T/out")" ]]
	assert_no_objects "$c"
}

@test "binary message smaller than the capacity: writer returns before any reader" {
	local c
	c=$(chan)
	head -c 100000 /dev/urandom >"$T/in"
	shmw -s 1M -n "$c" <"$T/in"
	[[ $(queued_msgs "$c") == 1 ]]
	shmr -n "$c" >"$T/out"
	cmp "$T/in" "$T/out"
	assert_no_objects "$c"
}

@test "reader started first waits, then receives" {
	local c r
	c=$(chan)
	bg /dev/null "$T/out" "$T/err" "${SHMR[@]}" -n "$c"
	r=$BGPID
	wait_reader "$c"
	alive "$r"
	[[ ! -s $T/out ]]
	shmw -n "$c" 'late message'
	expect_exit "$r" 0
	[[ $(cat "$T/out") == 'late message' ]]
	[[ ! -s $T/err ]]
	assert_no_objects "$c"
}

@test "mailbox: writer exits before the reader starts" {
	local c
	c=$(chan)
	runs shmw -n "$c" kept
	[[ $status -eq 0 && -z $output && -z $stderr ]]
	assert_objects "$c"
	[[ $(queued_msgs "$c") == 1 ]]
	runs shmr -n "$c"
	[[ $status -eq 0 && $output == kept && -z $stderr ]]
	assert_no_objects "$c"
}

@test "FIFO order of many messages" {
	local c i n=50
	[[ ${SHM_VALGRIND:-0} == 1 ]] && n=15
	c=$(chan)
	for ((i = 1; i <= n; i++)); do
		shmw -n "$c" "message $i"
	done
	[[ $(queued_msgs "$c") == "$n" ]]
	shmr -n "$c" -c "$n" >"$T/out"
	for ((i = 1; i <= n; i++)); do
		echo "message $i"
	done | cmp - "$T/out"
	assert_no_objects "$c"
}

@test "-c N takes exactly N messages, concatenated" {
	local c
	c=$(chan)
	shmw -n "$c" one
	printf 'two' | shmw -n "$c"
	shmw -n "$c" three
	shmr -n "$c" -c 2 >"$T/out"
	printf 'one\ntwo' | cmp - "$T/out"
	[[ $(queued_msgs "$c") == 1 ]]
	shmr -n "$c" -c 1 >"$T/out"
	printf 'three\n' | cmp - "$T/out"
	assert_no_objects "$c"
}

@test "-l: every line is its own message, final line without newline as is" {
	local c
	c=$(chan)
	printf 'one\ntwo\n\nlast' | shmw -l -n "$c"
	[[ $(queued_msgs "$c") == 4 ]]
	shmr -n "$c" >"$T/1"
	shmr -n "$c" >"$T/2"
	shmr -n "$c" >"$T/3"
	shmr -n "$c" >"$T/4"
	printf 'one\n' | cmp - "$T/1"
	printf 'two\n' | cmp - "$T/2"
	printf '\n' | cmp - "$T/3"
	printf 'last' | cmp - "$T/4"
	assert_no_objects "$c"
}

@test "-l with lines containing NULs, --lines" {
	local c
	c=$(chan)
	printf 'a\0b\nc\0\n' | shmw --lines -n "$c"
	[[ $(queued_msgs "$c") == 2 ]]
	shmr -n "$c" >"$T/1"
	printf 'a\0b\n' | cmp - "$T/1"
	shmr -n "$c" >"$T/2"
	printf 'c\0\n' | cmp - "$T/2"
	assert_no_objects "$c"
}

@test "-l with empty input sends nothing" {
	local c
	c=$(chan)
	shmw -l -n "$c" </dev/null
	run shmr -t 0 -n "$c"
	[[ $status -eq 124 && -z $output ]]
	assert_no_objects "$c"
}

@test "-w returns only after the reader took the message" {
	local c w
	c=$(chan)
	bg /dev/null /dev/null "$T/err" "${SHMW[@]}" -w -n "$c" waited
	w=$BGPID
	wait_until has_queued "$c" 1
	alive "$w"
	runs shmr -n "$c"
	[[ $status -eq 0 && $output == waited ]]
	expect_exit "$w" 0 5
	[[ ! -s $T/err ]]
	assert_no_objects "$c"
}

@test "-w with stdin message" {
	local c w
	c=$(chan)
	printf 'from stdin' >"$T/in"
	bg "$T/in" /dev/null "$T/err" "${SHMW[@]}" --wait -n "$c"
	w=$BGPID
	wait_until has_queued "$c" 1
	alive "$w"
	shmr -n "$c" >"$T/out"
	cmp "$T/in" "$T/out"
	expect_exit "$w" 0 5
	assert_no_objects "$c"
}

# modes_of NAME: the octal modes of the five objects, one a line
modes_of() {
	objects "$1" | xargs stat -c %a
}

@test "-m gives the exact mode under umask 000 and 077, all five objects" {
	local c1 c2 c3 c4
	c1=$(chan m1)
	c2=$(chan m2)
	c3=$(chan m3)
	c4=$(chan m4)
	(umask 000 && shmw -m 0640 -n "$c1" x)
	(umask 077 && shmw -m 0666 -n "$c2" x)
	(umask 000 && shmw -n "$c3" x)
	(umask 077 && shmw -m 604 -n "$c4" x)
	assert_objects "$c1"
	assert_objects "$c2"
	assert_objects "$c3"
	assert_objects "$c4"
	[[ $(modes_of "$c1" | sort -u) == 640 ]]
	[[ $(modes_of "$c2" | sort -u) == 666 ]]
	[[ $(modes_of "$c3" | sort -u) == 600 ]]
	[[ $(modes_of "$c4" | sort -u) == 604 ]]
	[[ $(modes_of "$c1" | wc -l) -eq 5 ]]
	status_of "$c1" | grep -E '^mode: *0?640$'
	local c
	for c in "$c1" "$c2" "$c3" "$c4"; do
		shmr -n "$c" >/dev/null
		assert_no_objects "$c"
	done
}

@test "shmread -m: a reader that creates the channel sets the mode" {
	local c r
	c=$(chan)
	umask 077
	bg /dev/null "$T/out" "$T/err" "${SHMR[@]}" -m 0660 -n "$c"
	r=$BGPID
	umask 022
	wait_reader "$c"
	[[ $(modes_of "$c" | sort -u) == 660 ]]
	shmw -n "$c" x
	expect_exit "$r" 0
	assert_no_objects "$c"
}

@test "-m matters only on creation" {
	local c
	c=$(chan)
	shmw -m 0640 -n "$c" one
	shmw -m 0666 -n "$c" two
	[[ $(modes_of "$c" | sort -u) == 640 ]]
	shmr -c 2 -n "$c" >/dev/null
	assert_no_objects "$c"
}

@test "-s capacity is rounded up to the page size and shown by --status" {
	local c1 c2 c3 c4
	c1=$(chan s1)
	c2=$(chan s2)
	c3=$(chan s3)
	c4=$(chan s4)
	shmw -s 5000 -n "$c1" x
	shmw -s 64k -n "$c2" x
	shmw -s 4K -n "$c3" x
	shmw -s 1m -n "$c4" x
	status_of "$c1" | grep -E "^capacity: *$(((5000 + PAGESIZE - 1) / PAGESIZE * PAGESIZE))( bytes)?$"
	status_of "$c2" | grep -E "^capacity: *65536( bytes)?$"
	status_of "$c3" | grep -E "^capacity: *$(((4096 + PAGESIZE - 1) / PAGESIZE * PAGESIZE))( bytes)?$"
	status_of "$c4" | grep -E "^capacity: *1048576( bytes)?$"
	"$SHMREAD" --list | grep -E "^$c2 65536 [0-9]+ 1$"
	local c
	for c in "$c1" "$c2" "$c3" "$c4"; do
		shmr -n "$c" >/dev/null
		assert_no_objects "$c"
	done
}

@test "-s 1G is accepted" {
	local c
	c=$(chan)
	shmw -s 1G -n "$c" big
	status_of "$c" | grep -E '^capacity: *1073741824( bytes)?$'
	shmr -n "$c" >/dev/null
	assert_no_objects "$c"
}

@test "existing channel with another capacity: one warning line, -s ignored" {
	local c
	c=$(chan)
	runs shmw -s 64K -n "$c" one
	[[ $status -eq 0 && -z $stderr ]]
	runs shmw -s 64K -n "$c" two
	[[ $status -eq 0 && -z $stderr ]]
	runs shmw -s 128K -n "$c" three
	echo "stderr=[$stderr]"
	[[ $status -eq 0 ]]
	[[ $stderr == "shmwrite: $c: exists with capacity 65536; -s ignored" ]]
	status_of "$c" | grep -E '^capacity: *65536( bytes)?$'
	runs shmr -s 8K -n "$c"
	echo "stderr=[$stderr]"
	[[ $status -eq 0 && $output == one ]]
	[[ $stderr == "shmread: $c: exists with capacity 65536; -s ignored" ]]
	runs shmr -n "$c" -c 2
	[[ $status -eq 0 && -z $stderr ]]
	assert_no_objects "$c"
}

# read into /dev/full
read_to_full() {
	shmr -n "$1" >/dev/full
}

@test "shmread >/dev/full: exit 1, write error, message still there" {
	local c
	c=$(chan)
	shmw -n "$c" precious
	runs read_to_full "$c"
	echo "stderr=[$stderr]"
	[[ $status -eq 1 ]]
	[[ $stderr == 'shmread: write error: No space left on device' ]]
	[[ $(queued_msgs "$c") == 1 ]]
	runs shmr -n "$c"
	[[ $status -eq 0 && $output == precious && -z $stderr ]]
	assert_no_objects "$c"
}

@test "no leftovers after ordinary exchanges" {
	local c r
	c=$(chan)
	shmw -n "$c" a
	shmr -n "$c" >/dev/null
	assert_no_objects "$c"
	bg /dev/null /dev/null /dev/null "${SHMR[@]}" -n "$c"
	r=$BGPID
	wait_reader "$c"
	shmw -n "$c" b
	expect_exit "$r" 0
	assert_no_objects "$c"
	printf 'x\ny\n' | shmw -l -n "$c"
	shmr -c 2 -n "$c" >/dev/null
	assert_no_objects "$c"
}

@test "a 200-character name works" {
	local c
	c=$(chan)
	c=$c$(repeat y $((200 - ${#c})))
	[[ ${#c} -eq 200 ]]
	shmw -n "$c" long
	assert_objects "$c"
	run shmr -n "$c"
	[[ $status -eq 0 && $output == long ]]
	assert_no_objects "$c"
}

@test "-v narrates on stderr, every line prefixed" {
	local c
	c=$(chan)
	runs shmw -v -n "$c" talk
	[[ $status -eq 0 && -n $stderr ]]
	all_lines_start 'shmwrite: ' "$stderr"
	runs shmr --verbose -n "$c"
	[[ $status -eq 0 && $output == talk && -n $stderr ]]
	all_lines_start 'shmread: ' "$stderr"
	assert_no_objects "$c"
}
