#!/usr/bin/env bats
# Liveness comes from the kernel's locks, not from pids or /proc: a live
# process in another pid or time namespace is never taken for dead, and one
# that dies there is known dead at once.

# shellcheck disable=SC2154 # status, output, stderr, lines: from bats' run; OFF_* and such: from tests/layout

load helper

# in_ns KIND: the unshare(1) options for a namespace of that kind
in_ns() {
	case $1 in
	time) echo "-T --boottime 1000 -f --kill-child" ;;
	pid) echo "-p -f --kill-child" ;;
	pid-proc) echo "-p -f --mount-proc --kill-child" ;;
	esac
}

# stream_from KIND NAME: a writer in a namespace of KIND, streaming from
# $T/fifo (fd 4 writes to it); its unshare's pid in BGPID
stream_from() {
	local -a ns
	read -r -a ns <<<"$(in_ns "$1")"
	unshare "${ns[@]}" true 2>/dev/null || skip "cannot unshare: ${ns[*]}"
	rm -f "$T/fifo"
	mkfifo "$T/fifo"
	bg "$T/fifo" /dev/null "$T/werr" unshare "${ns[@]}" "$SHMWRITE" -n "$2"
	exec 4>"$T/fifo"
}

@test "a live writer in another namespace keeps its token: nobody takes it, nothing is lost, the channel stays" {
	local c k w
	for k in time pid pid-proc; do
		c=$(chan "$k")
		stream_from "$k" "$c"
		w=$BGPID
		echo part1 >&4
		wait_until has_bytes "$c"
		runs shmw -t 0.5 -n "$c" other
		expect 124 "" ""
		bg /dev/null "$T/out" "$T/rerr" "${SHMR[@]}" -n "$c"
		wait_until file_has "$T/out" part1
		last_part "$c" "$BGPID" "$w"
	done
}

@test "a writer killed in another namespace is dead at once: its token is taken over, its reader told" {
	local c k r w
	for k in time pid pid-proc; do
		c=$(chan "$k")
		stream_from "$k" "$c"
		w=$BGPID
		echo part1 >&4
		bg /dev/null "$T/out" "$T/rerr" "${SHMR[@]}" -n "$c"
		r=$BGPID
		wait_until file_has "$T/out" part1
		kill_wait KILL "$w" 137
		expect_exit "$r" 1 3
		[[ $(cat "$T/rerr") == "shmread: $c: message truncated (writer went away)" ]]
		exec 4>&-
		through "$c"
	done
}
