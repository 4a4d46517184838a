#!/usr/bin/env bats
# Operating channels: who uses one (--status), a live view (--watch),
# --list of some, --existing, stale channels and --prune, making a kept
# channel without a message (-k -c 0), -t inf.

# shellcheck disable=SC2154 # status, output, stderr, lines: from bats' run; OFF_* and such: from tests/layout

load helper

# says_waiting NAME WHAT: --status of NAME shows a reader waiting for WHAT
says_waiting() { "$SHMREAD" --status -n "$1" | grep -q "reader, waits for $2"; }

@test "--status tells each process attached: pid, user, role, what it waits for, its command; in JSON too" {
	local c r w
	c=$(chan)
	bg /dev/null /dev/null /dev/null "${SHMR[@]}" -f -n "$c"
	r=$BGPID
	wait_until asleep_on "$c" 2
	stream_open "$c" part
	w=$W
	wait_until says_waiting "$c" data
	runs "$SHMREAD" --status -n "$c"
	[[ $status -eq 0 ]]
	grep -qx "process: $r $(id -un) reader, waits for data: shmread -f -n $c" <<<"$output"
	grep -qx "process: $w $(id -un) writer, busy: shmwrite -n $c" <<<"$output"
	grep -qx "read token: $r" <<<"$output"
	grep -qx "write token: $w" <<<"$output"
	runs "$SHMREAD" --status --json -n "$c"
	[[ $(json "sorted((p['pid'], p['user'], p['role'], p['waits'], p['command']) for p in d['processes'])" <<<"$output") == \
		"$(python3 -c 'import sys; print(sorted([(int(sys.argv[1]), sys.argv[3], "reader", "data", "shmread -f -n " + sys.argv[4]), (int(sys.argv[2]), sys.argv[3], "writer", None, "shmwrite -n " + sys.argv[4])]))' "$r" "$w" "$(id -un)" "$c")" ]]
	exec 4>&-
	expect_exit "$w" 0
	kill_wait TERM "$r" 143
	assert_no_objects "$c"
}

@test "--status shows what a hostile slot says escaped, and names users by name" {
	local c r
	c=$(chan)
	shmw -k -n "$c" kept
	bg /dev/null /dev/null /dev/null "${SHMR[@]}" -f -n "$c"
	r=$BGPID
	wait_until has_reader "$c"
	# the reader's slot is slot 0 or 1: scribble both commands
	local k
	for k in 0 1; do
		{ printf 'evil\033[31m"\\\n'; head -c 48 /dev/zero; } | head -c 48 |
			dd of="/dev/shm/shmrw.$c" bs=1 seek=$((OFF_slot + k * SLOT_SIZE + SLOT_CMD)) conv=notrunc 2>/dev/null
	done
	runs "$SHMREAD" --status -n "$c"
	[[ $status -eq 0 && $output != *$'\033'* ]]
	grep -qF 'evil\x1b[31m\x22\x5c\x0a' <<<"$output"
	runs "$SHMREAD" --status --json -n "$c"
	[[ $(json "[p['command'] for p in d['processes']][0]" <<<"$output") == 'evil\x1b[31m\x22\x5c\x0a' ]]
	kill_wait TERM "$r" 143
	shmr -r -n "$c"
}

@test "--list NAME and shell patterns, or -n NAME: only those; a name that matches nothing is said, 1" {
	local a b
	a=$(chan a) b=$(chan b)
	shmw -n "$a" x
	shmw -n "$b" y
	runs "$SHMREAD" --list --no-headings "$a"
	expect 0 "$a queue $(id -un) 0600 1M 2 1 0 - - no live" ""
	runs "$SHMREAD" --list --no-headings -n "$b"
	[[ $status -eq 0 && ${#lines[@]} -eq 1 && ${lines[0]} == "$b "* ]]
	runs "$SHMREAD" --list --no-headings "$(chan_prefix)*"
	[[ $status -eq 0 && ${#lines[@]} -eq 2 && ${lines[0]} == "$a "* && ${lines[1]} == "$b "* ]]
	runs "$SHMREAD" --list --json "$(chan_prefix)"'[ab]'
	[[ $(json "[x['name'] for x in d]" <<<"$output") == "['$a', '$b']" ]]
	runs "$SHMREAD" --list --no-headings "$a" "$(chan missing)"
	[[ $status -eq 1 && ${lines[0]} == "$a "* && $stderr == "shmread: $(chan missing): no such channel" ]]
	runs "$SHMREAD" --list --no-headings "$(chan_prefix)nothing*"
	expect 0 "" ""
	shmr -n "$a" >/dev/null
	shmr -n "$b" >/dev/null
}

@test "--existing: a missing channel is 1 at once, no such channel, and nothing is created; an existing one is used" {
	local c p
	c=$(chan)
	for p in shmread shmwrite; do
		runs "$BIN/$p" -e -n "$c" x
		[[ $p == shmwrite ]] || runs "$BIN/$p" --existing -n "$c"
		expect 1 "" "$p: $c: no such channel"
		assert_no_objects "$c"
	done
	shmw -n "$c" here
	runs shmw -e -n "$c" more
	expect 0 "" ""
	runs shmr -e -c 2 -n "$c"
	expect 0 $'here\nmore' ""
	assert_no_objects "$c"
}

@test "a channel whose only reader was killed is stale; --prune removes stale channels only, each once, and says which" {
	local s k q u r
	s=$(chan stale) k=$(chan kept) q=$(chan queued) u=$(chan used)
	bg /dev/null /dev/null /dev/null "${SHMR[@]}" -n "$s"
	wait_until has_reader "$s"
	kill_wait KILL "$BGPID" 137
	wait_procs "$s" 0
	shmr -k -c 0 -n "$k"
	shmw -n "$q" waiting
	bg /dev/null /dev/null /dev/null "${SHMR[@]}" -f -n "$u"
	r=$BGPID
	wait_until has_reader "$u"
	runs "$SHMREAD" --list --no-headings "$(chan_prefix)*"
	grep -E "^$s .* stale$" <<<"$output"
	grep -E "^$k .* live$" <<<"$output"
	grep -E "^$q .* live$" <<<"$output"
	grep -E "^$u .* live$" <<<"$output"
	[[ $(field "$s" state) == stale ]]
	[[ $("$SHMREAD" --status --json -n "$s" | json 'd["state"]') == stale ]]
	runs "$SHMWRITE" --prune "$(chan_prefix)*"
	expect 0 "$s" ""
	assert_no_objects "$s"
	assert_objects "$k"
	assert_objects "$q"
	assert_objects "$u"
	runs "$SHMWRITE" --prune "$(chan_prefix)*"
	expect 0 "" ""
	kill_wait TERM "$r" 143
	shmr -r -n "$k"
	shmr -n "$q" >/dev/null
	assert_no_objects "$q"
	assert_no_objects "$u"
}

@test "--prune judges again under the name lock: a process that attaches after --list looked keeps its channel" {
	local s p
	s=$(chan)
	bg /dev/null /dev/null /dev/null "${SHMR[@]}" -n "$s"
	wait_until has_reader "$s"
	kill_wait KILL "$BGPID" 137
	wait_procs "$s" 0
	ibg /dev/null "$T/out" "$T/err" "prune.open=stop" shmread --prune "$s"
	p=$BGPID
	wait_stopped "$p"
	bg /dev/null /dev/null /dev/null "${SHMR[@]}" -n "$s"
	wait_until has_reader "$s"
	kill -CONT "$p"
	expect_exit "$p" 0
	[[ ! -s $T/out && ! -s $T/err ]]
	assert_objects "$s"
	shmw -n "$s" bye
}

@test "-k -c 0 makes a kept channel, with -m and -s, taking nothing: 0; without -k it is a usage error" {
	local c
	c=$(chan)
	runs shmr -k -c 0 -m 0660 -s 64K -n "$c"
	expect 0 "" ""
	assert_objects "$c"
	[[ $(field "$c" kept) == yes && $(field "$c" mode) == 0660 && $(field "$c" capacity) == 65536 ]]
	runs shmr -k -c 0 -n "$c"
	expect 0 "" ""
	shmw -n "$c" x
	runs shmr -n "$c"
	expect 0 x ""
	assert_objects "$c"
	shmr -r -n "$c"
	assert_no_objects "$c"
}

@test "-t inf waits for ever, as timeout(1) takes it; so do -t 1e1 and -t 0x1p-1" {
	local c r v
	c=$(chan)
	for v in 1e1 0x1p-1 ' 2'; do
		shmw -n "$c" -t "$v" "$v"
		runs shmr -n "$c" -t "$v"
		expect 0 "$v" ""
	done
	bg /dev/null "$T/out" "$T/err" "${SHMR[@]}" -t inf -n "$c"
	r=$BGPID
	wait_until asleep_on "$c" 2
	wait_until file_has /proc/"$r"/stat " S "
	shmw -t inf -n "$c" late
	expect_exit "$r" 0
	[[ $(cat "$T/out") == late ]]
	assert_no_objects "$c"
}

# frames FILE: the frames of --watch in FILE; has_frames FILE N: N at least
frames() { grep -c -- "--watch: " "$1"; }
has_frames() { (($(frames "$1") >= $2)); }

@test "--watch without a terminal: a frame per refresh, the channel and its processes; ends 0 on SIGTERM and SIGINT" {
	local c r w sig l
	c=$(chan)
	bg /dev/null /dev/null /dev/null "${SHMR[@]}" -f -n "$c"
	r=$BGPID
	wait_until has_reader "$c"
	for sig in TERM INT; do
		bg /dev/null "$T/watch" "$T/werr" "$SHMREAD" --watch=0.1 -n "$c"
		w=$BGPID
		wait_until has_frames "$T/watch" 3
		kill_wait "$sig" "$w" 0
		[[ ! -s $T/werr ]]
		grep -qE "^$c  queue $(id -un) 0600 1M live$" "$T/watch"
		# the command, cut to fit 80 columns: a prefix of it
		l=$(grep -E "^ +$r $(id -un) +reader +data +shmread -f -n " "$T/watch" | sed -n '1s/.* shmread -f -n //p')
		[[ -n $l && $c == "$l"* ]]
		grep -q "read token $r" "$T/watch"
		grep -qE '^  \[[#. ]{50}\] [0-9]+ of 1M in use$' "$T/watch"
		(($(awk '{ if (length($0) > 80) n++ } END { print n + 0 }' "$T/watch") == 0))
	done
	# all channels: ours among them
	bg /dev/null "$T/all" "$T/aerr" "$SHMWRITE" --watch=0.1
	w=$BGPID
	wait_until has_frames "$T/all" 2
	kill_wait TERM "$w" 0
	grep -qE "^$c  " "$T/all"
	kill_wait TERM "$r" 143
	assert_no_objects "$c"
}

@test "--watch on a terminal: redraws in place, ends 0 on q" {
	local c
	command -v script >/dev/null || skip "no script(1)"
	c=$(chan)
	shmw -k -n "$c" kept
	# script(1) gives it a terminal; q after the first frame ends it
	runs timeout 10 script -qec "$SHMREAD --watch=0.1 -n $c" /dev/null < <(sleep 0.5; printf q)
	[[ $status -eq 0 ]]
	[[ $output == *$'\033[H\033[J'* && $output == *"q to quit"* ]]
	shmr -r -n "$c"
}

@test "--watch survives hostile segments: it only reads, and frames go on" {
	local c w k
	c=$(chan)
	shmw -k -s 8K -n "$c" x
	bg /dev/null "$T/watch" "$T/werr" "$SHMREAD" --watch=0.05 -n "$c"
	w=$BGPID
	for ((k = 0; k < 200; k++)); do
		head -c 64 /dev/urandom | dd of="/dev/shm/shmrw.$c" bs=1 seek=$((RANDOM % (HDRSZ + 8192 - 64))) conv=notrunc 2>/dev/null
	done
	truncate -s 100 "/dev/shm/shmrw.$c"
	wait_until has_frames "$T/watch" $(($(frames "$T/watch") + 3))
	alive "$w"
	kill_wait TERM "$w" 0
	[[ ! -s $T/werr ]]
	rm -f "/dev/shm/shmrw.$c" "/dev/shm/sem.shmrw.$c".*
}

@test "--watch, --status and --list on a channel being built: shown building, never a crash" {
	local c p point
	for point in create.locked create.header; do
		c=$(chan "$point")
		ibg /dev/null /dev/null /dev/null "$point=stop" shmwrite -n "$c" x
		p=$BGPID
		wait_stopped "$p"
		bg /dev/null "$T/watch" "$T/werr" "$SHMREAD" --watch=0.05 -n "$c"
		wait_until has_frames "$T/watch" 2
		kill_wait TERM "$BGPID" 0
		grep -qE "^$c  - $(id -un) 0600 - building$" "$T/watch"
		[[ ! -s $T/werr ]]
		runs "$SHMREAD" --list --no-headings "$c"
		[[ $status -eq 0 && $output == "$c "*" building" ]]
		kill -CONT "$p"
		expect_exit "$p" 0
		shmr -n "$c" >/dev/null
	done
}
