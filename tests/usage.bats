#!/usr/bin/env bats
# The command line: a usage error is one line `prog: what: 'value'` and the
# usage on stderr, exit 2, nothing created; --help, -V; durations as
# timeout(1) takes them; options that cannot apply together are refused.

# shellcheck disable=SC2154 # status, output, stderr, lines: from bats' run

load helper

# usage_error PROG FIRST ARGS...: PROG ARGS exits 2 with an empty stdout,
# FIRST as its first stderr line, the usage lines after it, and creates
# nothing
usage_error() {
	local prog=$1 first=$2 c
	shift 2
	c=$(chan)
	runs "$BIN/$prog" "$@"
	[[ $status -eq 2 && -z $output ]]
	[[ ${stderr_lines[0]} == "$first" ]]
	[[ ${stderr_lines[1]} == "usage: $prog "* ]]
	assert_no_objects "$c"
}

both() {
	usage_error shmwrite "shmwrite: $1" -n "$(chan)" "${@:2}"
	usage_error shmread "shmread: $1" -n "$(chan)" "${@:2}"
}

@test "bad option values: invalid what: 'value', for both tools" {
	local v long why
	long=$(chan)$(repeat x 201)
	for v in "" / a/b 'a b' a@x /a/b "$long"; do
		why="letters, digits, '.', '_' and '-' only"
		[[ $v != "" && $v != / ]] || why=empty
		[[ $v != "$long" ]] || why="longer than 200 bytes"
		usage_error shmwrite "shmwrite: invalid name: '$v': $why" -n "$v" hello
		usage_error shmread "shmread: invalid name: '$v': $why" -n "$v"
	done
	for v in 0 4095 2G 1025M; do
		both "invalid size: '$v': from 4K to 1G" -s "$v"
	done
	for v in 3X 1T -1 -4K K '' 1.5M 4KK ' 4K'; do
		both "invalid size: '$v': a number of bytes, with K, M or G" -s "$v"
	done
	for v in 999 8 abc 01000 '' -1 0x1ff 0778 ' 7'; do
		both "invalid mode: '$v'" -m "$v"
	done
	for v in 0 0400 0200 066 0477; do
		both "invalid mode: '$v': the owner needs read and write (0600)" -m "$v"
	done
	for v in 0644 0640 0620 0602 0604 0664 0646 0764; do
		both "invalid mode: '$v': each of group and others needs read and write, or neither" -m "$v"
	done
	for v in -1 abc nan NaN '' 1x 1ss -0.5 . s 1.2.3 1S 1e -inf; do
		both "invalid duration: '$v'" -t "$v"
	done
	for v in -0 -3 x '' 1x ' 1' +2 99999999999999999999; do
		usage_error shmread "shmread: invalid count: '$v'" -c "$v"
	done
}

@test "unknown options and missing arguments" {
	both "unknown option: '-Z'" -Z
	both "unknown option: '--bogus'" --bogus
	both "option takes no argument: '--keep=1'" --keep=1
	usage_error shmwrite "shmwrite: unknown option: '-c'" -c 2
	usage_error shmread "shmread: unknown option: '-l'" -l
	both "option requires an argument: '-n'" -n
	both "option requires an argument: '--size'" --size
}

@test "options that cannot apply together" {
	local t
	while IFS='|' read -r t args; do
		read -r -a a <<<"$args"
		usage_error "${t%% *}" "${t%% *}: ${t#* }" "${a[@]}"
	done <<'EOF'
shmwrite -l and -z exclude each other|-l -z
shmwrite -l cannot be used with operands|-l hi
shmwrite -z cannot be used with -w|-z -w
shmwrite -l cannot be used with -w|-l -w
shmwrite -s cannot be used with -r|-r -s 8K
shmwrite -l cannot be used with -r|-r -l
shmwrite -w cannot be used with --status|--status -w
shmwrite operands cannot be used with --status|--status hi
shmwrite --json cannot be used with sending or taking messages|--json hi
shmwrite -r, --status, --list, --prune and --watch exclude each other|-r --status
shmread -r, --status, --list, --prune and --watch exclude each other|--list --prune
shmread -c 0 needs -k: an empty channel would be removed at once|-c 0
shmwrite --json cannot be used with --prune|--prune --json
shmread -t cannot be used with --watch|--watch -t 1
shmread invalid interval: '0'|--watch=0
shmread -c and -f exclude each other|-c 2 -f
shmread -k cannot be used with -r|-r -k
shmread -t cannot be used with --list|--list -t 1
shmread --no-headings cannot be used with --status|--status --no-headings
shmread --no-headings cannot be used with --json|--list --json --no-headings
shmwrite --no-headings cannot be used with --json|--list --no-headings --json
shmread --any-owner cannot be used with --status|--status --any-owner
shmread -f cannot be used with -r|-r -f
shmread unexpected operand: 'extra'|extra
EOF
}

@test "--help: usage and every option, on stdout, exit 0; usage errors show the same usage" {
	local p o help
	for p in shmwrite shmread; do
		runs "$BIN/$p" --help
		[[ $status -eq 0 && -z $stderr && ${lines[0]} == "usage: $p "* ]]
		help=$output
		runs "$BIN/$p" -h
		[[ $status -eq 0 && $output == "$help" ]]
		for o in any-owner existing help json keep list mode name no-headings prune remove size status timeout verbose version watch; do
			grep -qE -- "--$o( |=|\\[)" <<<"$help"
		done
		runs "$BIN/$p" --bogus
		[[ $(sed 1d <<<"$stderr") == "$(sed -n '/^usage:/,/^[^ u]/p' <<<"$help" | sed '$d')" ]]
	done
	for o in l:lines w:wait z:null; do
		"$SHMWRITE" --help | grep -qE -- "^  -${o%:*}, --${o#*:} "
	done
	for o in c:count f:follow; do
		"$SHMREAD" --help | grep -qE -- "^  -${o%:*}, --${o#*:}"
	done
}

@test "-V, --version: the name and version on stdout, exit 0" {
	local p o
	for p in shmwrite shmread; do
		for o in -V --version; do
			runs "$BIN/$p" "$o"
			[[ $status -eq 0 && -z $stderr && $output =~ ^$p\ [0-9]+\.[0-9]+$ ]]
		done
	done
}

@test "durations as timeout(1) takes them: seconds, or with s, m, h or d" {
	local c v
	c=$(chan)
	for v in 0 0.5 .5 5. 1s 0.01m 2m 1h 1d 1000000000 3.25s; do
		shmw -n "$c" -t "$v" "$v"
		runs shmr -n "$c" -t "$v"
		expect 0 "$v" ""
	done
	runs shmr -n "$c" --timeout=0.2s
	expect 124 "" ""
	assert_no_objects "$c"
}

# the option letters and long options in stdin, one a line, sorted
options_in() {
	grep -oE '(^|[[ |])--?[A-Za-z][A-Za-z-]*' | sed 's/^[[ |]//' |
		while IFS= read -r t; do
			if [[ $t == --* ]]; then
				printf '%s\n' "$t"
			else
				grep -o . <<<"${t#-}" | sed 's/^/-/'
			fi
		done | sort -u
}

@test "the usage lists the options of the SYNOPSIS of the man page, no more" {
	local p syn use
	for p in shmwrite shmread; do
		syn=$(groff -mandoc -Tascii -rLL=250n -P-cbou "$TOP/man/$p.1" |
			awk '/^[A-Z]/ { on = ($0 == "SYNOPSIS"); next } on' | options_in)
		use=$("$BIN/$p" --help | sed -n '/^usage:/,/^[^ u]/p' | options_in)
		echo "$p: SYNOPSIS $(tr '\n' ' ' <<<"$syn"), usage $(tr '\n' ' ' <<<"$use")"
		[[ -n $syn && $syn == "$use" ]]
	done
}
