#!/usr/bin/env bats
# Sharing /dev/shm with other users: channels shared between users work and
# never jam; another user's channel is refused unless --any-owner; hard
# links, symlinks and other objects at a channel's name are refused and left
# alone; closed standard descriptors are refused before any channel is
# touched; creation is exclusive under races; a full /dev/shm leaves
# nothing behind.

# shellcheck disable=SC2154 # status, output, stderr, lines: from bats' run; OFF_* and such: from tests/layout

load helper

# In a user namespace that maps neither user (as_nobody_unmapped), both
# owners look alike: the tools think they may remove the channel, and
# only the kernel says no.
as_nobody_unmapped() { as_nobody unshare -U "$@"; }

@test "a channel shared by two users: the one who may not remove it leaves it live, and it goes on working; also where it cannot tell" {
	local c user why
	need_root
	for user in as_nobody as_nobody_unmapped; do
		why="Permission denied"
		if [[ $user == as_nobody_unmapped ]]; then
			as_nobody_unmapped "$SHMREAD" --help >/dev/null 2>&1 ||
				skip "cannot run the tools as another user in a user namespace"
			why="sem_unlink: Permission denied"
		fi
		c=$(chan "$user")
		shmw -m 0666 -n "$c" hi
		runs "$user" "$SHMREAD" --any-owner -n "$c"
		expect 0 hi ""
		assert_objects "$c"
		[[ $(field "$c" state) == stale ]]	# live, and nobody there
		runs "$user" "$SHMWRITE" --any-owner -t 0 -n "$c" again
		expect 0 "" ""
		runs "$user" "$SHMREAD" -r -n "$c"
		expect 1 "" "shmread: $c: $why"
		[[ $(field "$c" state) == live ]]	# live, and a message queued
		gets "$c" again
	done
}

@test "another user's channel is refused without --any-owner, used with it" {
	local c
	need_root
	c=$(chan)
	as_nobody "$SHMWRITE" -m 0666 -n "$c" hello
	runs shmr -t 0 -n "$c"
	expect 1 "" "shmread: $c: owned by nobody (use --any-owner)"
	runs shmw -t 0 -n "$c" x
	expect 1 "" "shmwrite: $c: owned by nobody (use --any-owner)"
	runs shmr --any-owner -t 0 -n "$c"
	expect 0 hello ""
	# root may remove it; as the last one out it does
	assert_no_objects "$c"
}

@test "hard links cannot alias a channel: an object with two names, or another channel's under this name, is refused" {
	local a b
	a=$(chan a) b=$(chan b)
	shmw -m 0666 -n "$a" private
	ln "/dev/shm/shmrw.$a" "/dev/shm/shmrw.$b"
	runs shmw -t 0 -n "$b" secret
	expect 1 "" "shmwrite: $b: has other names (hard links): refused"
	runs shmr -t 0 -n "$a"
	expect 1 "" "shmread: $a: has other names (hard links): refused"
	runs shmr -r -n "$b"
	expect 1 "" "shmread: $b: has other names (hard links): refused"
	rm "/dev/shm/shmrw.$a"
	runs shmw -t 0 -n "$b" secret
	expect 1 "" "shmwrite: $b: not a channel"
	runs shmr -r -n "$b"
	expect 1 "" "shmread: $b: not a channel"
	[[ $(field "$b" state) == "" ]]
	ln "/dev/shm/shmrw.$b" "/dev/shm/shmrw.$a"
	rm "/dev/shm/shmrw.$b"
	runs shmr -t 0 -n "$a"
	expect 0 private ""
	assert_no_objects "$a"
	assert_no_objects "$b"
}

@test "a symlink, a FIFO or a directory at the name: 1, one line, left alone, nothing created" {
	local c f p kind
	c=$(chan)
	f=/dev/shm/shmrw.$c
	echo target >"$T/target"
	for kind in symlink fifo dir; do
		case $kind in
		symlink) ln -s "$T/target" "$f" ;;
		fifo) mkfifo -m 600 "$f" ;;
		dir) mkdir -m 700 "$f" ;;
		esac
		for p in shmread shmwrite; do
			runs timeout 10 "$BIN/$p" -n "$c" -t 0.5
			[[ $status -eq 1 && $stderr == "$p: $c: "* && ${#stderr_lines[@]} -eq 1 ]]
		done
		[[ $kind != symlink || ($(cat "$T/target") == target && -L $f) ]]
		rm -rf "$f"
		[[ -z $(objects "$c") ]]
	done
}

@test "a closed standard input, output or error is refused before the channel is touched" {
	local c fd p
	c=$(chan)
	shmw -n "$c" kept
	for p in shmread shmwrite; do
		for fd in 0 1 2; do
			runs bash -c "exec $fd>&-; exec \"\$@\"" bash "$BIN/$p" -n "$c" -t 0 x
			[[ $status -eq 1 && -z $output ]]
			case $fd in
			0) [[ $stderr == "$p: standard input is closed" ]] ;;
			1) [[ $stderr == "$p: standard output is closed" ]] ;;
			2) [[ -z $stderr ]] ;;
			esac
		done
	done
	[[ $(queued_msgs "$c") == 1 ]]
	runs shmr -n "$c"
	expect 0 kept ""
	assert_no_objects "$c"
}

# ready_set: a new FIFO $T/go for processes to wait on; race PID...: once
# each waits in open() of it, open it, so that they all go at once, and
# see each end 0
ready_set() {
	rm -f "$T/go"
	mkfifo "$T/go"
}
race() {
	local p
	for p in "$@"; do
		wait_until grep -q wait_for_partner "/proc/$p/wchan"
	done
	exec 5<>"$T/go"
	for p in "$@"; do
		expect_exit "$p" 0
	done
	exec 5>&-
}

@test "10 pairs creating their channels at the same moment, and 4 processes racing for one: one capacity wins, all exchange" {
	local round k c
	local -a pids
	for round in 1 2 3; do
		ready_set
		pids=()
		for ((k = 1; k <= 10; k++)); do
			c=$(chan "$round-$k")
			bg "$T/go" /dev/null "$T/werr.$k" "${SHMW[@]}" -t 10 -n "$c" "pair $k"
			pids+=("$BGPID")
			bg "$T/go" "$T/out.$k" "$T/rerr.$k" "${SHMR[@]}" -t 10 -n "$c"
			pids+=("$BGPID")
		done
		race "${pids[@]}"
		for ((k = 1; k <= 10; k++)); do
			[[ $(cat "$T/out.$k") == "pair $k" && ! -s $T/werr.$k && ! -s $T/rerr.$k ]]
			assert_no_objects "$(chan "$round-$k")"
		done
		c=$(chan "s$round")
		ready_set
		pids=()
		for k in 1 2; do
			bg "$T/go" /dev/null "$T/werr.$k" "${SHMW[@]}" -t 10 -n "$c" -s "$((k * 4))K" "m$k"
			pids+=("$BGPID")
			bg "$T/go" "$T/out.$k" "$T/rerr.$k" "${SHMR[@]}" -t 10 -n "$c" -s "$((k * 4 + 8))K"
			pids+=("$BGPID")
		done
		race "${pids[@]}"
		[[ $(sort "$T/out.1" "$T/out.2" | tr '\n' ' ') == "m1 m2 " ]]
		run ! grep -hv 'exists with capacity [0-9]*; -s ignored$' "$T"/werr.[12] "$T"/rerr.[12]
		assert_no_objects "$c"
	done
}

@test "a full /dev/shm: 1, one line, nothing left behind, whichever object did not fit" {
	local size
	need_root
	unshare -m true 2>/dev/null || skip "cannot unshare the mount namespace"
	for size in 4k 12k 16k; do
		# shellcheck disable=SC2016 # for sh -c
		runs unshare -m sh -c 'mount -t tmpfs -o size="$1" tmpfs /dev/shm &&
			"$2" -s 4K -n full x; echo "rc=$?"; ls -A /dev/shm' sh "$size" "$SHMWRITE"
		echo "# size $size: $output / $stderr"
		[[ ${lines[0]} == rc=1 && ${#lines[@]} -eq 1 ]]
		[[ $stderr == "shmwrite: full: "*"No space left on device" ]]
	done
	# room for the channel, not for all that a stream puts in its ring
	# shellcheck disable=SC2016 # for sh -c
	runs unshare -m sh -c 'mount -t tmpfs -o size=200k tmpfs /dev/shm &&
		head -c 1000000 /dev/zero | "$1" -s 1M -n full; echo "rc=$?"; ls -A /dev/shm' sh "$SHMWRITE"
	[[ ${lines[0]} == rc=1 && ${#lines[@]} -eq 1 ]]
	[[ $stderr == "shmwrite: full: cannot allocate the segment: No space left on device" ]]
}

@test "a channel takes only the memory it has used: a 1G one holding a line is a few pages" {
	local c
	c=$(chan)
	shmw -s 1G -n "$c" small
	(($(stat -c '%b * %B' "/dev/shm/shmrw.$c") < 1024 * 1024))
	[[ $(field "$c" capacity) == 1073741824 ]]
	runs shmr -n "$c"
	expect 0 small ""
	assert_no_objects "$c"
}

@test "256 processes attached at most: one more is told so, and nothing else changes" {
	local c
	c=$(chan)
	shmw -k -n "$c" queued
	hold "$c" "$LK_SLOT" "$NSLOT"
	runs shmr -t 0 -n "$c"
	expect 1 "" "shmread: $c: too many processes attached (256)"
	runs shmw -t 0 -n "$c" x
	expect 1 "" "shmwrite: $c: too many processes attached (256)"
	kill_wait KILL "$HOLDER" 137
	wait_procs "$c" 0
	runs shmr -t 0 -n "$c"
	expect 0 queued ""
	shmr -r -n "$c"
}

# An OFD read lock needs only read permission, and would hold back those
# who use the channel: so no class may read it without writing it.
@test "a channel whose mode lets a class read it but not write it is refused, and shown damaged" {
	local c m
	c=$(chan)
	for m in 0644 0640 0604; do
		shmw -k -n "$c" kept
		chmod "$m" "/dev/shm/shmrw.$c"
		runs shmr -t 0 -n "$c"
		expect 1 "" "shmread: $c: not a channel"
		runs shmw -t 0 -n "$c" x
		expect 1 "" "shmwrite: $c: not a channel"
		runs "$SHMREAD" --status -n "$c"
		expect 1 "" "shmread: $c: not a channel"
		"$SHMREAD" --list | grep -E "^$c +- +$(id -un) +$m .* damaged$"
		chmod 0600 "/dev/shm/shmrw.$c"
		runs shmr -r -n "$c"
		expect 0 "" ""
		assert_no_objects "$c"
	done
}

# --status and --list look at what they opened, not at what lstat saw:
# a FIFO swapped in between is shown as damaged, never waited on.
@test "--status and --list never wait on a FIFO swapped in for the segment after they looked" {
	local c p how
	c=$(chan)
	for how in status list; do
		shmw -k -n "$c" kept
		if [[ $how == status ]]; then
			ibg /dev/null "$T/out" "$T/err" "look.open=stop" shmread --status -n "$c"
		else
			ibg /dev/null "$T/out" "$T/err" "look.open=stop" shmread --list
		fi
		p=$BGPID
		wait_stopped "$p"
		mv "/dev/shm/shmrw.$c" "$T/seg"
		mkfifo -m 0600 "/dev/shm/shmrw.$c"
		kill -CONT "$p"
		if [[ $how == status ]]; then
			expect_exit "$p" 1
			[[ $(cat "$T/err") == "shmread: $c: not a regular file" ]]
		else
			expect_exit "$p" 0
			grep -E "^$c .* damaged$" "$T/out"
		fi
		rm "/dev/shm/shmrw.$c"
		mv "$T/seg" "/dev/shm/shmrw.$c"
		shmr -r -n "$c"
		assert_no_objects "$c"
	done
}
