#!/usr/bin/env bats
# Messages: operands, standard input, -l and -z records; a mailbox, in
# order, -c; creation with -m, -s and -k; a failed write loses nothing;
# nothing is left behind; -v tells each step.

# shellcheck disable=SC2154 # status, output, stderr, lines: from bats' run; OFF_* and such: from tests/layout

load helper

@test "operands: joined by single spaces, a newline added, as echo(1) does" {
	local c
	c=$(chan)
	shmw -n "$c" hello 'big  world' '' end
	shmr -n "$c" >"$T/out"
	printf 'hello big  world  end\n' | cmp - "$T/out"
	assert_no_objects "$c"
}

@test "/NAME is NAME; --name and --count; a 200-character name" {
	local c long
	c=$(chan)
	long=$c$(repeat y $((200 - ${#c})))
	shmw -n "/$c" one
	shmw --name="$c" two
	runs shmr --name "$c" --count 2
	expect 0 $'one\ntwo' ""
	shmw -n "$long" long
	assert_objects "$long"
	runs shmr -n "$long"
	expect 0 long ""
	assert_no_objects "$c"
	assert_no_objects "$long"
}

@test "standard input is one message, byte for byte: NULs kept, nothing added, empty is a message" {
	local c
	c=$(chan)
	printf 'a\0b\0\0\nc\n\n\0tail' >"$T/in"
	shmw -n "$c" <"$T/in"
	shmw -n "$c" </dev/null
	shmw -n "$c" after
	[[ $(queued_msgs "$c") == 3 ]]
	shmr -n "$c" >"$T/out"
	cmp "$T/in" "$T/out"
	runs shmr -n "$c"
	expect 0 "" ""
	runs shmr -n "$c"
	expect 0 after ""
	assert_no_objects "$c"
}

@test "a message smaller than the ring is queued whole: the writer returns before any reader" {
	local c
	c=$(chan)
	head -c 100000 /dev/urandom >"$T/in"
	shmw -s 128K -n "$c" <"$T/in"
	[[ $(queued_msgs "$c") == 1 && $(queued_bytes "$c") == 100000 ]]
	shmr -n "$c" >"$T/out"
	cmp "$T/in" "$T/out"
	assert_no_objects "$c"
}

@test "a reader started first waits, then takes the message" {
	local c r
	c=$(chan)
	bg /dev/null "$T/out" "$T/err" "${SHMR[@]}" -n "$c"
	r=$BGPID
	wait_reader "$c"
	[[ ! -s $T/out ]]
	shmw -n "$c" 'late message'
	expect_exit "$r" 0
	[[ $(cat "$T/out") == 'late message' && ! -s $T/err ]]
	assert_no_objects "$c"
}

@test "a mailbox: in order, -c N takes N, what is left stays" {
	local c i n=50
	[[ ${SHM_VALGRIND:-0} == 0 ]] || n=10
	c=$(chan)
	for ((i = 1; i <= n; i++)); do
		shmw -n "$c" "message $i"
	done
	printf 'no newline' | shmw -n "$c"
	[[ $(queued_msgs "$c") == $((n + 1)) ]]
	shmr -n "$c" -c "$n" >"$T/out"
	for ((i = 1; i <= n; i++)); do
		echo "message $i"
	done | cmp - "$T/out"
	[[ $(queued_msgs "$c") == 1 ]]
	runs shmr -n "$c" -c 1
	expect 0 "no newline" ""
	assert_no_objects "$c"
}

@test "-c N past a batch: 10,000 short lines queued, -c 10000 takes each, in order" {
	local c
	c=$(chan)
	seq 10000 | shmw -l -k -n "$c"
	shmr -c 10000 -n "$c" | cmp - <(seq 10000)
	[[ $(queued_msgs "$c") == 0 ]]
	runs shmr -r -n "$c"
	expect 0 "" ""
	assert_no_objects "$c"
}

# split_as OPT INPUT RECORD...: INPUT (a printf format) through shmwrite
# OPT arrives as the RECORDs (printf formats), a message each, and nothing
# more
split_as() {
	local c r opt=$1 in=$2
	shift 2
	c=$(chan)
	# shellcheck disable=SC2059 # the formats are the point
	printf "$in" | shmw "$opt" -n "$c"
	[[ $# -eq 0 || $(queued_msgs "$c") == "$#" ]]
	for r in "$@"; do
		# shellcheck disable=SC2059
		shmr -t 0 -n "$c" | cmp - <(printf "$r")
	done
	gets "$c"
}

@test "-l: each line a message, newline kept; NULs are data; a last line without newline as it is" {
	split_as -l 'one\ntwo\n\na\0b\nlast' 'one\n' 'two\n' '\n' 'a\0b\n' last
	split_as --lines ''
}

@test "-z: each NUL-terminated record a message, NUL kept; newlines are data; ready for xargs -0" {
	local c
	split_as -z 'one\0two\nlines\0\0last' 'one\0' 'two\nlines\0' '\0' last
	c=$(chan)
	mkdir "$T/d"
	touch "$T/d/a b" "$T/d/c"$'\n'"d" "$T/d/e"
	find "$T/d" -type f -print0 | shmw --null -n "$c"
	shmr -n "$c" -c 3 | xargs -0 -n 1 basename | sort >"$T/names"
	printf 'a b\nc\nd\ne\n' | cmp - "$T/names"
	assert_no_objects "$c"
}

# drained FD: nothing is left to read in the FIFO open on FD
drained() {
	python3 -c 'import fcntl, struct, sys, termios
sys.exit(struct.unpack("i", fcntl.ioctl(int(sys.argv[1]), termios.FIONREAD, bytes(4)))[0] != 0)' "$1"
}

@test "-l across reads: a line split by the pipe arrives whole, and holds no other writer up while its rest is awaited" {
	local c
	c=$(chan)
	mkfifo "$T/in"
	exec 4<>"$T/in"
	bg "$T/in" /dev/null "$T/werr" "${SHMW[@]}" -l -n "$c"
	printf 'first half' >&4
	wait_until drained 4
	runs shmw -t 0 -n "$c" other
	expect 0 "" ""
	printf ' second half\nnext\nlast' >&4
	exec 4>&-
	expect_exit "$BGPID" 0
	[[ ! -s $T/werr ]]
	runs shmr -n "$c" -c 4
	expect 0 $'other\nfirst half second half\nnext\nlast' ""
	assert_no_objects "$c"
}

# modes_of NAME: the modes of the five objects, sorted and unique
modes_of() { objects "$1" | xargs stat -c %a | sort -u; }

@test "-m: the exact mode for all five objects whatever the umask, whoever creates; only on creation" {
	local c m um i=0
	for um in 000 077; do
		for m in '' 666 660 777 0606; do
			i=$((i + 1))
			c=$(chan "w$i")
			(umask "$um" && shmw -n "$c" ${m:+-m "$m"} x)
			assert_objects "$c"
			[[ $(modes_of "$c") == "$(printf '%o' "0${m:-600}")" ]]
			runs shmw -n "$c" -m 0700 y
			expect 0 "" "shmwrite: $c: exists with mode $(printf '%04o' "0${m:-600}"); -m ignored"
			[[ $(modes_of "$c") == "$(printf '%o' "0${m:-600}")" ]]
			shmr -n "$c" -c 2 >/dev/null
			assert_no_objects "$c"
			c=$(chan "r$i")
			(umask "$um" && exec "${SHMR[@]}" -n "$c" ${m:+-m "$m"} -t 10 >/dev/null) &
			PIDS+=("$!")
			wait_until assert_objects "$c"
			[[ $(modes_of "$c") == "$(printf '%o' "0${m:-600}")" ]]
			shmw -n "$c" x
			wait "${PIDS[-1]}"
			forget_pid "${PIDS[-1]}"
			assert_no_objects "$c"
		done
	done
}

@test "-s: the capacity is rounded up to a power of two; an existing channel keeps its own, with one warning" {
	local c s want
	while read -r s want; do
		c=$(chan "$s")
		shmw -s "$s" -n "$c" x
		[[ $(field "$c" capacity) == "$want" ]]
		shmr -n "$c" >/dev/null
	done <<'EOF'
4096 4096
4097 8192
5000 8192
4K 4096
12k 16384
64K 65536
1m 1048576
1G 1073741824
EOF
	c=$(chan)
	shmw -s 64K -n "$c" one
	runs shmw -s 64K -n "$c" two
	expect 0 "" ""
	runs shmw -s 128K -n "$c" three
	expect 0 "" "shmwrite: $c: exists with capacity 65536; -s ignored"
	runs shmr -s 8K -n "$c" -c 3
	expect 0 $'one\ntwo\nthree' "shmread: $c: exists with capacity 65536; -s ignored"
	assert_no_objects "$c"
}

@test "-k: a kept channel stays when empty, until -r; only on creation, with one warning" {
	local c
	c=$(chan)
	shmw -n "$c" zero
	runs shmw -k -n "$c" ignored
	expect 0 "" "shmwrite: $c: exists, not kept; -k ignored"
	runs shmr -n "$c" -c 2
	expect 0 $'zero\nignored' ""
	assert_no_objects "$c"
	shmw -k -n "$c" one
	[[ $(field "$c" kept) == yes ]]
	runs shmw -k -n "$c" still
	expect 0 "" ""
	runs shmr -n "$c" -c 2
	expect 0 $'one\nstill' ""
	assert_objects "$c"
	runs shmr -n "$c" -t 0
	expect 124 "" ""
	assert_objects "$c"
	shmw -r -n "$c"
	assert_no_objects "$c"
	shmw -n "$c" two
	[[ $(field "$c" kept) == no ]]
	shmr -n "$c" >/dev/null
	assert_no_objects "$c"
}

@test "a failed write loses nothing: shmread >/dev/full exits 1, the message stays" {
	local c
	c=$(chan)
	shmw -n "$c" precious
	runs sh -c '"$@" >/dev/full' sh "${SHMR[@]}" -n "$c"
	expect 1 "" "shmread: write error: No space left on device"
	[[ $(queued_msgs "$c") == 1 ]]
	runs shmr -n "$c"
	expect 0 precious ""
	assert_no_objects "$c"
}

# stamped LINE: HH:MM:SS.mmm and a pid, as -v stamps each line
STAMP='\[[0-2][0-9]:[0-5][0-9]:[0-6][0-9]\.[0-9]{3} [0-9]+\]'

@test "-v tells a two-terminal exchange: each line stamped with the time of day and the pid; the wait, the wake-up, the write-out, the removal; about 30 lines" {
	local c r
	c=$(chan)
	bg /dev/null "$T/out" "$T/rerr" "${SHMR[@]}" -v -n "$c"
	r=$BGPID
	wait_until grep -qE "still waiting for a message: 2\.[0-9] s" "$T/rerr"
	runs shmw -v -n "$c" talk
	[[ $status -eq 0 && -z $output ]]
	expect_exit "$r" 0
	[[ $(cat "$T/out") == talk ]]
	run ! grep -vE "^shmread: $STAMP " "$T/rerr"
	run ! grep -vE "^shmwrite: $STAMP " <<<"$stderr"
	grep -qE "^shmread: \[[0-9:.]+ $r\] " "$T/rerr"
	grep -q "shm_open /shmrw.$c: no channel yet: creating it" "$T/rerr"
	grep -q "took the read token" "$T/rerr"
	grep -q "asleep on shmrw.$c.[0-9a-f]*.d, waiting for a message" "$T/rerr"
	grep -qE "still waiting for a message: 1\.[0-9] s" "$T/rerr"
	grep -q "wrote out 5 bytes: tail 16" "$T/rerr"
	grep -q "gave back the read token" "$T/rerr"
	# whichever leaves last removes the channel, and tells it
	grep -q "last one out, nothing queued: DYING" "$T/rerr" <(echo "$stderr")
	grep -q "sem_unlink /shmrw.$c.[0-9a-f]*.d" "$T/rerr" <(echo "$stderr")
	grep -q "/shmrw.$c: removed" "$T/rerr" <(echo "$stderr")
	grep -q "shm_open /shmrw.$c: opened" <<<"$stderr"
	grep -q "took the write token" <<<"$stderr"
	grep -q "published 16 bytes: head 16" <<<"$stderr"
	# the reader slept, and was woken by the post; or, between two
	# slices, it was not asleep, and found the message with no post; or
	# its slice ended as the post came (slow under valgrind), and it found
	# the message before it slept again
	if grep -qE "sem_post /shmrw.$c.[0-9a-f]+.d: wakes 1" <<<"$stderr"; then
		grep -qE "woken by a post, after [2-9]\.[0-9] s" "$T/rerr" ||
			[[ $(grep -c "asleep on shmrw.$c.[0-9a-f]*.d" "$T/rerr") -eq 1 &&
				$(tail -1 "$T/out") == talk ]]
	else
		grep -q "nobody asleep on shmrw.$c.[0-9a-f]*.d: no post" <<<"$stderr"
	fi
	echo "# $(wc -l <"$T/rerr") + ${#stderr_lines[@]} lines"
	(($(wc -l <"$T/rerr") + ${#stderr_lines[@]} <= 32))
	# the two line up: the writer's first stamp is after the reader's first
	[[ $(grep -oE '[0-9:]{8}\.[0-9]{3}' "$T/rerr" | head -1) < $(grep -oE '[0-9:]{8}\.[0-9]{3}' <<<"$stderr" | head -1) ]]
	runs shmw -v -n "$c" alone
	grep -q "nobody asleep on shmrw.$c.[0-9a-f]*.d: no post" <<<"$stderr"
	shmr -n "$c" >/dev/null
	assert_no_objects "$c"
}

@test "-v of a writer waiting for room says so; shmread -f -t ends 0 once it took messages and then none came" {
	local c w
	c=$(chan)
	seq 2000 >"$T/in"
	bg "$T/in" /dev/null "$T/werr" "${SHMW[@]}" -v -l -s 4K -n "$c"
	w=$BGPID
	wait_until file_has "$T/werr" "waiting for room in the ring"
	grep -qE "asleep on shmrw.$c.[0-9a-f]+.s, waiting for room in the ring" "$T/werr"
	runs shmr -f -t 1 -n "$c"
	[[ $status -eq 0 && ${#lines[@]} -eq 2000 && -z $stderr ]]
	expect_exit "$w" 0
	assert_no_objects "$c"
	runs shmr -f -t 0.2 -n "$c"
	expect 124 "" ""
	shmw -n "$c" one
	runs shmr -c 2 -t 0.2 -n "$c"
	expect 124 one ""
	assert_no_objects "$c"
}

@test "-v sums up a long stream once a second instead of telling every step" {
	local c
	c=$(chan)
	head -c 200000000 /dev/zero >"$T/in"
	bg "$T/in" /dev/null "$T/werr" "${SHMW[@]}" -v -s 64K -n "$c"
	shmr -v -s 64K -n "$c" -t 10 2>"$T/rerr" | cmp - "$T/in"
	expect_exit "$BGPID" 0 60
	[[ $(grep -c "wrote out" "$T/rerr") -le 10 ]]
	[[ $(wc -l <"$T/werr") -lt 200 ]]
	if (($(grep -c published "$T/werr") >= 10)); then
		grep -qE "in the last second, also: [0-9]+ publishes" "$T/werr"
	fi
	assert_no_objects "$c"
}

# follow_head FIRST NAME: after the shell command FIRST, shmread -f into
# head -n 1, in the background; what head printed, then the statuses
# (shmread's, head's), in $T/out
follow_head() {
	# shellcheck disable=SC2016 # for bash -c
	bg /dev/null "$T/out" "$T/err" bash -c "$1"'; "$1" -f -n "$2" | head -n 1; echo "${PIPESTATUS[*]}"' bash "$SHMREAD" "$2"
}

@test "-f into a pipe whose reader left ends as a write there would, without waiting for another message" {
	local c
	c=$(chan)
	shmw -n "$c" one
	follow_head ":" "$c"
	expect_exit "$BGPID" 0
	[[ $(cat "$T/out") == $'one\n141 0' && ! -s $T/err ]]
	assert_no_objects "$c"
	shmw -n "$c" one
	follow_head "trap '' PIPE" "$c"
	expect_exit "$BGPID" 0
	[[ $(cat "$T/out") == $'one\n1 0' ]]
	[[ $(cat "$T/err") == "shmread: write error: Broken pipe" ]]
	assert_no_objects "$c"
}

@test "a message written into a pipe counts as delivered: shmread -c 10 | head -n 3 takes all ten" {
	local c k
	c=$(chan)
	for ((k = 1; k <= 10; k++)); do
		shmw -n "$c" "m$k"
	done
	runs bash -c '"$@" | head -n 3' bash "${SHMR[@]}" -c 10 -n "$c"
	expect 0 $'m1\nm2\nm3' ""
	assert_no_objects "$c"	# nothing left queued: gone
}
