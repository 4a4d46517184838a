#!/usr/bin/env bats
# --status and --list, as text and as JSON: the payload bytes and messages
# queued, the processes attached, owner, mode, size, kept; damaged objects
# and hostile names are shown, escaped, without failing the listing.
# Looking needs read permission only.

# shellcheck disable=SC2154 # status, output, stderr, lines: from bats' run; OFF_* and such: from tests/layout

load helper

@test "--status: every field, payload bytes, singular and plural" {
	local c w f objs
	c=$(chan)
	shmw -m 0660 -s 64K -n "$c" x
	runs "$SHMREAD" --status -n "$c"
	[[ $status -eq 0 && -z $stderr ]]
	[[ ${lines[0]} == "name: $c" ]]
	[[ ${lines[1]} =~ ^objects:\ /dev/shm/shmrw\.$c(\ /dev/shm/sem\.shmrw\.$c\.[0-9a-f]{8}\.[rwds]){4}$ ]]
	[[ ${lines[2]} == "owner: $(id -un) (uid $(id -u))" ]]
	[[ ${lines[3]} == "mode: 0660" && ${lines[4]} == "capacity: 65536" ]]
	[[ ${lines[5]} == "kind: queue" ]]
	[[ ${lines[6]} == "kept: no" && ${lines[7]} == "state: live" ]]
	[[ ${lines[8]} == "queued: 2 bytes, 1 message" ]]
	[[ ${lines[9]} == "writers:" && ${lines[10]} == "readers:" && ${lines[11]} == "taps:" ]]
	[[ ${lines[12]} == "last message: 1" && ${lines[13]} == "write token: free" ]]
	[[ ${lines[14]} == "read token: free" && ${#lines[@]} -eq 15 ]]
	read -r -a objs <<<"${lines[1]#objects: }"
	for f in "${objs[@]}"; do
		[[ -e $f ]]
	done
	shmw -n "$c" ""
	[[ $(field "$c" queued) == "3 bytes, 2 messages" ]]
	shmr -n "$c" -c 2 >/dev/null
	stream_open "$c" 'open stream'
	w=$W
	wait_until has_bytes "$c"
	[[ $(field "$c" queued) == "11 bytes, 0 messages" && $(field "$c" writers) == "$w" ]]
	exec 4>&-
	expect_exit "$w" 0
	shmr -n "$c" >/dev/null
	assert_no_objects "$c"
}

@test "--status --json and --list --json: what a JSON parser reads" {
	local c r
	c=$(chan)
	shmw -k -n "$c" hello
	bg /dev/null /dev/null /dev/null "${SHMR[@]}" -n "$c" -c 2
	r=$BGPID
	wait_until has_queued "$c" 0
	runs "$SHMWRITE" --status --json -n "$c"
	[[ $status -eq 0 && -z $stderr ]]
	[[ $(json 'd["name"], d["owner"], d["uid"], d["mode"], d["size"], d["queued"], d["messages"], d["procs"], d["kept"], d["state"], d["writers"], d["readers"]' <<<"$output") == \
		"$c $(id -un) $(id -u) 0600 1048576 0 0 1 True live [] [$r]" ]]
	runs "$SHMREAD" --list --json
	[[ $status -eq 0 ]]
	[[ $(json "[x for x in d if x['name'] == '$c'][0]['kept'], len([x for x in d if x['name'] == '$c'])" <<<"$output") == "True 1" ]]
	shmw -n "$c" bye
	expect_exit "$r" 0
	shmr -r -n "$c"
	assert_no_objects "$c"
}

@test "--list: a header, one line a channel sorted by name, columns aligned; --no-headings" {
	local a b z
	a=$(chan a) b=$(chan b) z=$(chan z)
	shmw -n "$z" zzz
	shmw -s 8K -n "$a" aa
	shmw -k -m 0660 -n "$b" b
	shmr -n "$b" >/dev/null
	runs "$SHMREAD" --list
	[[ $status -eq 0 && -z $stderr ]]
	[[ ${lines[0]} =~ ^NAME\ +KIND\ +OWNER\ +MODE\ +SIZE\ +QUEUED\ +MESSAGES\ +PROCS\ +SUBS\ +LAG\ +KEPT\ +STATE$ ]]
	grep -E "^$a +queue +$(id -un) +0600 +8K +3 +1 +0 +- +- +no +live$" <<<"$output"
	grep -E "^$b +queue +$(id -un) +0660 +1M +0 +0 +0 +- +- +yes +live$" <<<"$output"
	grep -E "^$z +queue +$(id -un) +0600 +1M +4 +1 +0 +- +- +no +live$" <<<"$output"
	[[ $(grep -E "^$(chan_prefix)" <<<"$output" | cut -c1-${#a} | tr '\n' ' ') == "$a $b $z " ]]
	# aligned: KIND and OWNER start at the same place on the header and
	# our lines (others' may be anything: other tests run at the same time)
	[[ $(grep -E "^(NAME|$(chan_prefix))" <<<"$output" |
		awk '{ print index($0, " " $2 " ") }' | sort -u | wc -l) -eq 1 ]]
	[[ $(grep -E "^(NAME|$(chan_prefix))" <<<"$output" |
		awk '{ print index($0, " " $3 " ") }' | sort -u | wc -l) -eq 1 ]]
	runs "$SHMWRITE" --list --no-headings
	[[ $status -eq 0 && ${lines[0]} != NAME* ]]
	grep -E "^$a " <<<"$output"
	shmr -n "$a" >/dev/null
	shmr -n "$z" >/dev/null
	shmw -r -n "$b"
}

@test "--list shows damaged objects and hostile names escaped, and still exits 0" {
	local c evil
	c=$(chan)
	evil="/dev/shm/shmrw.$c"$'\n'"root 0600 1M 0 0 0 no live"$'\e[31m'
	printf 'junk' >"$evil"
	head -c 100000 /dev/urandom >"/dev/shm/shmrw.${c}x"
	shmw -n "${c}y" fine
	runs "$SHMREAD" --list
	[[ $status -eq 0 && -z $stderr ]]
	[[ $(grep -c "^$c" <<<"$output") -eq 3 ]]
	grep -E "^$c\\\\x0aroot\\\\x200600\\\\x201M.*\\\\x1b\\[31m +- +$(id -un) +0644 +- +- +- +- +- +- +- +damaged$" <<<"$output"
	grep -E "^${c}x +- +$(id -un) +0644 +- +- +- +- +- +- +- +damaged$" <<<"$output"
	grep -E "^${c}y .* live$" <<<"$output"
	[[ $output != *$'\e'* ]]
	runs "$SHMREAD" --list --json
	[[ $status -eq 0 ]]
	[[ $(json "[x['damage'] for x in d if x['name'].startswith('$c') and x['state'] == 'damaged']" <<<"$output") == \
		"[\"not a channel's name\", 'not a channel']" ]]
	rm -f "$evil" "/dev/shm/shmrw.${c}x"
	shmr -n "${c}y" >/dev/null
	assert_no_objects "${c}y"
}

@test "--status: a missing channel and a damaged one exit 1 with one line; nothing is created" {
	local c
	c=$(chan)
	runs "$SHMREAD" --status -n "$c"
	expect 1 "" "shmread: $c: no such channel"
	runs "$SHMWRITE" --status -n "$c"
	expect 1 "" "shmwrite: $c: no such channel"
	assert_no_objects "$c"
	head -c 100000 /dev/urandom >"/dev/shm/shmrw.$c"
	runs "$SHMREAD" --status -n "$c"
	expect 1 "" "shmread: $c: not a channel"
}

@test "looking needs read permission only: another user sees a 0666 channel, not a 0600 one" {
	local a b
	need_root
	a=$(chan a) b=$(chan b)
	shmw -m 0666 -n "$a" x
	shmw -n "$b" y
	runs as_nobody "$SHMREAD" --status -n "$a"
	[[ $status -eq 0 && ${lines[8]} == "queued: 2 bytes, 1 message" ]]
	runs as_nobody "$SHMREAD" --status -n "$b"
	expect 1 "" "shmread: $b: Permission denied"
	runs as_nobody "$SHMREAD" --list
	[[ $status -eq 0 ]]
	grep -E "^$a +queue +root +0666 +1M +2 +1 +0 +- +- +no +live$" <<<"$output"
	grep -E "^$b +\\? +root +0600 +\\? +\\? +\\? +\\? +\\? +\\? +\\? +unreadable$" <<<"$output"
	shmr -n "$a" >/dev/null
	shmr -n "$b" >/dev/null
}

@test "--list and --status into a full disk: exit 1 with a message" {
	runs sh -c '"$@" >/dev/full' sh "$SHMREAD" --list
	expect 1 "" "shmread: stdout: No space left on device"
}

@test "--status counts every process attached, whatever slots they hold" {
	local c p1 p2 p3
	c=$(chan)
	reader_bg "$c" has_readers "$c" 1
	p1=$BGPID
	reader_bg "$c" has_readers "$c" 2
	p2=$BGPID
	kill_wait KILL "$p1" 137
	wait_procs "$c" 1
	reader_bg "$c" has_readers "$c" 2
	p3=$BGPID
	[[ $(field "$c" readers | tr ' ' '\n' | sort -n | tr '\n' ' ') == "$(printf '%s\n' "$p2" "$p3" | sort -n | tr '\n' ' ')" ]]
	[[ $("$SHMREAD" --status --json -n "$c" | json 'd["procs"]') == 2 ]]
	shmr -r -n "$c"
}
