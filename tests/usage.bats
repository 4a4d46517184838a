#!/usr/bin/env bats
# Command-line parsing: bad usage exits 2 with `prog: what: why` and the
# usage lines on stderr and creates nothing; -h and -V.

# stderr_lines is set by bats' run --separate-stderr
# shellcheck disable=SC2154

load helper

W_USAGE1='usage: shmwrite [-lvw] [-m mode] [-n name] [-s size] [-t seconds] [message ...]'
W_USAGE2='shmwrite -r [-n name]'
R_USAGE1='usage: shmread [-fv] [-c count] [-m mode] [-n name] [-s size] [-t seconds]'
R_USAGE2='shmread -r [-n name]'
R_USAGE3='shmread --status [-n name]'
R_USAGE4='shmread --list'

# usage_error PROG FIRST ARGS...: run PROG (shmwrite|shmread) with ARGS and
# check exit 2, an empty stdout, a first stderr line starting with FIRST, and
# a `usage:` line after it.
usage_error() {
	local prog=$1 first=$2
	shift 2
	local cmd=("${SHMW[@]}")
	[[ $prog == shmread ]] && cmd=("${SHMR[@]}")
	echo "# $prog $*"
	run --separate-stderr "${cmd[@]}" "$@"
	echo "status=$status"
	echo "stdout=[$output]"
	echo "stderr=[$stderr]"
	[[ $status -eq 2 ]]
	[[ -z $output ]]
	[[ ${stderr_lines[0]} == "$first"* ]]
	[[ ${stderr_lines[0]} == "$prog: "* ]]
	# `prog: what: why` is one line; the usage lines follow it
	local i found=0
	for ((i = 1; i < ${#stderr_lines[@]}; i++)); do
		[[ ${stderr_lines[i]} == usage:* ]] && found=1
	done
	[[ $found -eq 1 ]]
}

# both tools, same option and value
both_usage_error() {
	local what=$1
	shift
	local c
	c=$(chan)
	usage_error shmwrite "shmwrite: $what" -n "$c" "$@"
	assert_no_objects "$c"
	usage_error shmread "shmread: $what" -n "$c" "$@"
	assert_no_objects "$c"
}

bad_names() {
	local c long
	c=$(chan)
	long=$c$(repeat x $((201 - ${#c})))
	[[ ${#long} -eq 201 ]]
	printf '%s\n' "" "/" "$c/b" "$c b" "$c@x" "/$c/x" "$long"
}

@test "bad names: exit 2, invalid name, nothing created" {
	local c n
	c=$(chan)
	while IFS= read -r n; do
		usage_error shmwrite "shmwrite: invalid name: '" -n "$n" hello
		usage_error shmread "shmread: invalid name: '" -n "$n"
		usage_error shmwrite "shmwrite: invalid name: '" -r -n "$n"
		usage_error shmread "shmread: invalid name: '" -r -n "$n"
		usage_error shmread "shmread: invalid name: '" --status -n "$n"
		assert_no_objects "$c"
	done < <(bad_names)
	# the spec's examples, exactly
	usage_error shmread "shmread: invalid name: 'a/b'" -n a/b
	[[ ${stderr_lines[0]} == "shmread: invalid name: 'a/b'" ]]
	usage_error shmwrite "shmwrite: invalid name: 'a b'" -n 'a b' hello
	usage_error shmwrite "shmwrite: invalid name: ''" -n '' hello
	assert_no_objects "$c"
}

@test "bad sizes: exit 2, invalid size, nothing created" {
	local s
	for s in 0 3X 1T 4095 2G 1025M -1 -4K K '' 1.5M 4KK; do
		both_usage_error "invalid size: '$s'" -s "$s"
	done
	usage_error shmwrite "shmwrite: invalid size: '3X'" -s 3X hello
	[[ ${stderr_lines[0]} == "shmwrite: invalid size: '3X'" ]]
}

@test "bad modes: exit 2, invalid mode, nothing created" {
	local m
	for m in 999 8 abc 01000 '' -1 0x1ff 0778; do
		both_usage_error "invalid mode: '$m'" -m "$m"
	done
	usage_error shmwrite "shmwrite: invalid mode: '999'" -m 999 hello
	[[ ${stderr_lines[0]} == "shmwrite: invalid mode: '999'" ]]
}

@test "bad timeouts: exit 2, invalid timeout, nothing created" {
	local t
	for t in -1 abc 1e999 nan '' 1x -0.5; do
		both_usage_error "invalid timeout: '$t'" -t "$t"
	done
	usage_error shmread "shmread: invalid timeout: '-1'" -t -1
	[[ ${stderr_lines[0]} == "shmread: invalid timeout: '-1'" ]]
}

@test "bad counts: exit 2, invalid count, nothing created" {
	local c n
	c=$(chan)
	for n in 0 -3 x '' 1x; do
		usage_error shmread "shmread: invalid count: '$n'" -n "$c" -c "$n"
		assert_no_objects "$c"
	done
	usage_error shmread "shmread: invalid count: '0'" -n "$c" -c 0
	[[ ${stderr_lines[0]} == "shmread: invalid count: '0'" ]]
	usage_error shmread "shmread: invalid count: '0'" -n "$c" --count=0
	assert_no_objects "$c"
}

@test "unknown options and missing arguments: exit 2" {
	local c
	c=$(chan)
	usage_error shmwrite "shmwrite: " -n "$c" -Z hello
	usage_error shmwrite "shmwrite: " -n "$c" --bogus hello
	usage_error shmread "shmread: " -n "$c" -Z
	usage_error shmread "shmread: " -n "$c" --bogus
	usage_error shmwrite "shmwrite: " -n "$c" -l -f
	usage_error shmread "shmread: " -n "$c" -l
	usage_error shmread "shmread: " -n "$c" -w
	usage_error shmwrite "shmwrite: " --status -n "$c"
	usage_error shmwrite "shmwrite: " --list
	usage_error shmwrite "shmwrite: " -n
	usage_error shmread "shmread: " -n
	usage_error shmread "shmread: " -n "$c" -c
	usage_error shmwrite "shmwrite: " -n "$c" -s
	usage_error shmwrite "shmwrite: " -n "$c" -t
	assert_no_objects "$c"
}

@test "shmwrite -l with operands: exit 2" {
	local c
	c=$(chan)
	usage_error shmwrite "shmwrite: " -l -n "$c" hello
	usage_error shmwrite "shmwrite: " --lines -n "$c" hello world
	assert_no_objects "$c"
}

@test "shmread -c with -f: exit 2" {
	local c
	c=$(chan)
	usage_error shmread "shmread: " -c 2 -f -n "$c"
	usage_error shmread "shmread: " --follow --count 3 -n "$c"
	assert_no_objects "$c"
}

@test "shmread with operands: exit 2" {
	local c
	c=$(chan)
	usage_error shmread "shmread: " -n "$c" extra
	assert_no_objects "$c"
}

# squeeze runs of blanks and trim
norm() { tr -s ' \t' '  ' | sed 's/^ //; s/ $//'; }

@test "shmwrite -h / --help: usage on stdout, exit 0" {
	local opt
	for opt in -h --help; do
		run --separate-stderr "${SHMW[@]}" "$opt"
		echo "$output"
		[[ $status -eq 0 ]]
		[[ -z $stderr ]]
		norm <<<"$output" | grep -qxF "$W_USAGE1"
		norm <<<"$output" | grep -qxF "$W_USAGE2"
	done
}

@test "shmread -h / --help: usage on stdout, exit 0" {
	local opt u
	for opt in -h --help; do
		run --separate-stderr "${SHMR[@]}" "$opt"
		echo "$output"
		[[ $status -eq 0 ]]
		[[ -z $stderr ]]
		for u in "$R_USAGE1" "$R_USAGE2" "$R_USAGE3" "$R_USAGE4"; do
			norm <<<"$output" | grep -qxF "$u"
		done
	done
}

@test "usage lines after a usage error are the ones -h prints" {
	local c help l i
	c=$(chan)
	help=$("${SHMW[@]}" -h | norm)
	usage_error shmwrite "shmwrite: invalid size: '3X'" -n "$c" -s 3X hi
	for ((i = 1; i < ${#stderr_lines[@]}; i++)); do
		l=$(norm <<<"${stderr_lines[i]}")
		[[ -z $l ]] && continue
		grep -qxF -- "$l" <<<"$help"
	done
	help=$("${SHMR[@]}" -h | norm)
	usage_error shmread "shmread: invalid count: 'x'" -n "$c" -c x
	for ((i = 1; i < ${#stderr_lines[@]}; i++)); do
		l=$(norm <<<"${stderr_lines[i]}")
		[[ -z $l ]] && continue
		grep -qxF -- "$l" <<<"$help"
	done
	assert_no_objects "$c"
}

# synopsis_of MANPAGE: the SYNOPSIS section, rendered as plain text
synopsis_of() {
	{
		if command -v mandoc >/dev/null; then
			mandoc -T ascii -O width=250 "$1"
		else
			groff -mandoc -T ascii -rLL=250n -P -cbou "$1"
		fi
	} | sed 's/.\x08//g' | awk '/^[A-Z]/ { on = ($0 == "SYNOPSIS"); next } on'
}

# options_in: the option letters (-x, also from clusters like -lvw) and long
# options (--word) that stand after a blank or '[' in stdin, one a line.
options_in() {
	grep -oE '(^|[[ ])--?[A-Za-z][A-Za-z-]*' |
		sed 's/^[[ ]//' |
		while IFS= read -r t; do
			if [[ $t == --* ]]; then
				printf '%s\n' "$t"
			else
				t=${t#-}
				while [[ -n $t ]]; do
					printf -- '-%s\n' "${t:0:1}"
					t=${t:1}
				done
			fi
		done | sort -u
}

@test "-h options match the SYNOPSIS of the man pages" {
	local p man help syn
	for p in shmwrite shmread; do
		man=$TOP/man/$p.1
		[[ -f $man ]] || skip "man/$p.1 missing"
		syn=$(synopsis_of "$man" | options_in)
		if [[ $p == shmwrite ]]; then
			help=$("${SHMW[@]}" -h | grep -E "^ *(usage: *)?$p" | options_in)
		else
			help=$("${SHMR[@]}" -h | grep -E "^ *(usage: *)?$p" | options_in)
		fi
		echo "$p synopsis: $(echo "$syn" | tr '\n' ' ')"
		echo "$p -h:       $(echo "$help" | tr '\n' ' ')"
		[[ -n $syn ]]
		[[ $syn == "$help" ]]
	done
}

@test "-V / --version: prog VERSION on stdout, exit 0" {
	local opt
	for opt in -V --version; do
		run --separate-stderr "${SHMW[@]}" "$opt"
		echo "$output"
		[[ $status -eq 0 && -z $stderr && ${#lines[@]} -eq 1 ]]
		[[ $output =~ ^shmwrite\ [0-9][^\ ]*$ ]]
		run --separate-stderr "${SHMR[@]}" "$opt"
		echo "$output"
		[[ $status -eq 0 && -z $stderr && ${#lines[@]} -eq 1 ]]
		[[ $output =~ ^shmread\ [0-9][^\ ]*$ ]]
	done
}
