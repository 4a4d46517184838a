#!/usr/bin/env bats
# SIGKILL at each step - creating, waiting, in the middle of a stream,
# removing - leaves nothing that holds up the others for more than about a
# second, and the channel goes on working.  A process killed but not yet
# reaped (a zombie) is as dead as one that is gone.

# shellcheck disable=SC2154 # status, output, stderr, lines: from bats' run; OFF_* and such: from tests/layout

load helper

# start_killable UNREAPED IN OUT ERR CMD...: bg, or bg_unreaped if UNREAPED
start_killable() {
	if [[ $1 == unreaped ]]; then
		bg_unreaped "${@:2}"
	else
		bg "${@:2}"
	fi
}

# killed PID UNREAPED: SIGKILL it, and see it dead (a zombie if UNREAPED),
# its locks dropped
killed() {
	kill -KILL "$1"
	if [[ $2 == unreaped ]]; then
		wait_until dead "$1"
		[[ -e /proc/$1 ]]
	else
		expect_exit "$1" 137
	fi
	wait_until gone "$1"
}

# gone PID: the kernel has dropped what it held (its fds are closed)
gone() { [[ -z $(ls "/proc/$1/fd" 2>/dev/null) ]]; }

# next_intact NAME [SECONDS]: a reader, then a writer (-t SECONDS: 0, at
# once, unless said) exchange a message; nothing is left after
next_intact() {
	local r
	bg /dev/null "$T/next.out" "$T/next.err" "${SHMR[@]}" -t 5 -n "$1"
	r=$BGPID
	wait_reader "$1"
	runs shmw -t "${2:-0}" -n "$1" next
	expect 0 "" ""
	expect_exit "$r" 0
	[[ $(cat "$T/next.out") == next && ! -s $T/next.err ]]
	assert_no_objects "$1"
}

@test "a writer killed in the middle of a stream: its reader exits 1, truncated, having written only what came" {
	local c w r k
	for k in reaped unreaped; do
		c=$(chan "$k")
		mkfifo "$T/fifo.$k"
		exec 4<>"$T/fifo.$k"
		bg /dev/null "$T/out" "$T/rerr" "${SHMR[@]}" -n "$c"
		r=$BGPID
		wait_reader "$c"
		start_killable "$k" "$T/fifo.$k" /dev/null /dev/null "${SHMW[@]}" -n "$c"
		w=$BGPID
		printf 'part1\n' >&4
		wait_until file_has "$T/out" part1
		killed "$w" "$k"
		expect_exit "$r" 1 3
		exec 4>&-
		[[ $(cat "$T/rerr") == "shmread: $c: message truncated (writer went away)" ]]
		printf 'part1\n' | cmp - "$T/out"
		next_intact "$c"
	done
}

# Whether a writer comes first (and ends it with ABORT) or not, the next
# reader delivers such a stream as far as it came, then says so.
@test "a writer killed in the middle of a stream with no reader: the next writer goes on at once; the next reader gets what came, truncated" {
	local c w k first
	for k in reaped unreaped; do
		for first in writer reader; do
			c=$(chan "$k-$first")
			mkfifo "$T/fifo.$k.$first"
			exec 4<>"$T/fifo.$k.$first"
			start_killable "$k" "$T/fifo.$k.$first" /dev/null /dev/null "${SHMW[@]}" -n "$c"
			w=$BGPID
			printf 'partial' >&4
			wait_until has_bytes "$c"
			killed "$w" "$k"
			exec 4>&-
			if [[ $first == writer ]]; then
				runs shmw -t 0 -n "$c" next
				expect 0 "" ""
			fi
			runs shmr -t 0 -n "$c"
			expect 1 partial "shmread: $c: message truncated (writer went away)"
			[[ $first == writer ]] || through "$c"
			[[ $first == reader ]] || gets "$c" next
		done
	done
}

@test "a reader killed in the middle of a stream: its writer exits 1, reader went away; the rest is skipped" {
	local c w r k
	for k in reaped unreaped; do
		c=$(chan "$k")
		head -c $((8 * 1024 * 1024)) /dev/urandom >"$T/in"
		mkfifo "$T/pipe.$k"
		exec 5<>"$T/pipe.$k"
		bg "$T/in" /dev/null "$T/werr" "${SHMW[@]}" -s 64K -n "$c"
		w=$BGPID
		start_killable "$k" /dev/null "$T/pipe.$k" /dev/null "${SHMR[@]}" -s 64K -n "$c"
		r=$BGPID
		head -c 1000 <&5 | cmp - <(head -c 1000 "$T/in")
		killed "$r" "$k"
		expect_exit "$w" 1 3
		exec 5>&-
		[[ $(cat "$T/werr") == "shmwrite: $c: reader went away" ]]
		next_intact "$c" 5	# once a reader skips what the dead left
	done
}

@test "a reader killed while a slow stream trickles in: the writer, never short of room, still learns it" {
	local c w r
	c=$(chan)
	mkfifo "$T/fifo"
	bg "$T/fifo" /dev/null "$T/werr" "${SHMW[@]}" -n "$c"
	w=$BGPID
	exec 4>"$T/fifo"
	bg /dev/null "$T/out" /dev/null "${SHMR[@]}" -n "$c"
	r=$BGPID
	printf 'first\n' >&4
	wait_until file_has "$T/out" first
	killed "$r" reaped
	printf 'more\n' >&4
	expect_exit "$w" 1 3
	exec 4>&-
	[[ $(cat "$T/werr") == "shmwrite: $c: reader went away" ]]
	next_intact "$c"
}

# Killed asleep: a reader waiting for a message or for the read token, a
# writer waiting for the write token or for room.  After each, -t 0 works
# at once, again and again: no token is handed to the dead for good.
@test "processes killed asleep leave nothing that blocks: -t 0 works after each" {
	local c k r w
	c=$(chan)
	for k in 1 2; do
		bg /dev/null /dev/null /dev/null "${SHMR[@]}" -n "$c"
		wait_reader "$c"
		r=$BGPID
		bg /dev/null /dev/null /dev/null "${SHMR[@]}" -n "$c"
		wait_until has_readers "$c" 2
		killed "$BGPID" reaped
		killed "$r" reaped
	done
	for k in 1 2 3; do
		shmw -t 0 -n "$c" "m$k"
		runs shmr -t 0 -n "$c"
		expect 0 "m$k" ""
	done
	# a writer waiting for room for a whole message, one for the token
	head -c 3000 /dev/zero | shmw -s 4K -n "$c"
	bg /dev/null /dev/null /dev/null "${SHMW[@]}" -n "$c" "$(repeat y 2000)"
	w=$BGPID
	wait_writer "$c"
	bg /dev/null /dev/null /dev/null "${SHMW[@]}" -n "$c" second
	wait_until has_writers "$c" 2
	killed "$BGPID" reaped
	killed "$w" reaped
	for k in 1 2 3; do
		shmw -t 0 -n "$c" "w$k"
	done
	shmr -t 0 -n "$c" -c 4 | cmp - <(head -c 3000 /dev/zero; printf 'w1\nw2\nw3\n')
	next_intact "$c"
}

@test "a creator killed while it sizes and allocates the segment: the next process rebuilds the channel at once; a file size limit is an error" {
	local c d n
	c=$(chan)
	# a file size limit is an error to tell, not a death: nothing is left
	runs bash -c 'ulimit -f 1000; exec "$@"' bash "$SHMWRITE" -n "$c" hello
	expect 1 "" "shmwrite: $c: cannot allocate the segment: File too large"
	assert_no_objects "$c"
	for d in 0.001 0.003 0.01 0.03 0.1; do
		timeout -s KILL "$d" "$SHMWRITE" -s 512M -n "$c" hi || true
		runs shmw -t 0 -n "$c" after
		expect 0 "" ""
		n=$(queued_msgs "$c")
		runs shmr -t 0 -n "$c" -c "$n"
		[[ $status == 0 && ($output == after || ($n == 2 && $output == $'hi\nafter')) ]]
		assert_no_objects "$c"
	done
}

@test "what a dead creator leaves - empty, sized, header only - is taken for remains and rebuilt; -r removes it too" {
	local c
	c=$(chan)
	for how in empty sized header; do
		case $how in
		empty) : >"/dev/shm/shmrw.$c" ;;
		sized) truncate -s $((HDRSZ + 1048576)) "/dev/shm/shmrw.$c" ;;
		header)
			shmw -k -n "$c" x
			shmr -n "$c" >/dev/null
			poke "$c" "$OFF_state" V "$ST_BUILDING"
			;;
		esac
		next_intact "$c"
		[[ $how == header ]] || : >"/dev/shm/shmrw.$c"
		[[ $how == header ]] || { shmr -r -n "$c"; assert_no_objects "$c"; }
	done
}

# In the sticky /dev/shm another user may not unlink root's remains: it
# says so, and leaves them to their owner.
@test "what a dead creator leaves of a shared channel: another user is told, one line; the owner repairs it" {
	local c how
	need_root
	for how in empty sized; do
		c=$(chan "$how")
		: >"/dev/shm/shmrw.$c"
		[[ $how == empty ]] || truncate -s $((HDRSZ + 1048576)) "/dev/shm/shmrw.$c"
		chmod 0666 "/dev/shm/shmrw.$c"
		runs as_nobody "$SHMWRITE" -t 1 -n "$c" "from nobody"
		expect 1 "" "shmwrite: $c: left half-built by a process that died"
		next_intact "$c"
	done
}

@test "a live creator is waited for; once it dies, the next process goes on" {
	local c
	c=$(chan)
	: >"/dev/shm/shmrw.$c"
	hold "$c" "$LK_NAME"
	runs shmw -t 0.3 -n "$c" x
	expect 124 "" ""
	bg /dev/null /dev/null "$T/err" "${SHMW[@]}" -n "$c" x
	kill -KILL "$HOLDER"
	expect_exit "$BGPID" 0 3
	gets "$c" x
}

@test "a last process out killed while removing (DYING), or -r killed half-way (REMOVED): the next one repairs" {
	local c
	c=$(chan)
	shmw -n "$c" kept
	poke "$c" "$OFF_state" V "$ST_DYING"
	gets "$c" kept
	shmw -n "$c" gone
	poke "$c" "$OFF_state" V "$ST_REMOVED"
	next_intact "$c"
	shmw -n "$c" gone
	poke "$c" "$OFF_state" V "$ST_REMOVED"
	runs shmr -r -n "$c"
	expect 0 "" ""
	assert_no_objects "$c"
}
