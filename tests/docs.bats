#!/usr/bin/env bats
# The manuals tell the truth: every message the tools can print is in the
# DIAGNOSTICS of the manual of each tool that prints it, and the manuals
# carry the version the tools print.

# shellcheck disable=SC2154 # status, output, stderr, lines: from bats' run; OFF_* and such: from tests/layout

load helper

# messages SKIP FILE...: the literal parts (4 characters or more, split at
# the conversions) of every string given to err(), errx(), warn() and
# warnx(), of the reasons ch_why() gives (but for status SKIP, which the
# tool cannot meet) and of the system calls sys() names
messages() {
	local skip=$1
	shift
	SKIP=$skip perl -0777 -ne '
		while (/\b(?:errx?|warnx?)\s*\((.*?)\);/gs) {
			my $args = $1;
			print "$1\n" while $args =~ /"((?:[^"\\]|\\.)*)"/g;
		}
		while (/\[(CH_E\w+)\]\s*=\s*"((?:[^"\\]|\\.)*)"/g) {
			print "$2\n" if $1 ne $ENV{SKIP};
		}
		print "$1\n" while /\bsys\(c, "([^"]*)"\)/g;
	' "$@" | perl -ne 'chomp; print "$_\n" for grep { length >= 4 } map { s/^\W+|\W+$//gr } split /%[-\d.]*l*[a-z]/' | sort -u
}

# diagnostics MAN: the DIAGNOSTICS section, as one line of plain text
diagnostics() {
	groff -mandoc -Tascii -P-cbou -rLL=1000n -rHY=0 "$1" |
		awk '/^[A-Z]/ { on = ($0 == "DIAGNOSTICS"); next } on' | tr -s ' \n' '  '
}

@test "DIAGNOSTICS names every message each tool can print" {
	local p m text skip missing=0
	for p in shmwrite shmread; do
		text=$(diagnostics "$TOP/man/$p.1")
		[[ -n $text ]]
		skip=CH_EWRITER
		[[ $p == shmwrite ]] || skip=CH_EREADER
		while IFS= read -r m; do
			if [[ $text != *"$m"* ]]; then
				echo "man/$p.1 lacks: $m"
				missing=1
			fi
		done < <(messages "$skip" "$TOP/$p.c" "$TOP/common.h")
	done
	((missing == 0))
	# and the extraction finds what it should
	messages - "$TOP/common.h" | grep -qx "message truncated (writer went away"
	messages - "$TOP/common.h" | grep -qx "reader went away"
	[[ $(messages - "$TOP/shmwrite.c" "$TOP/shmread.c" "$TOP/common.h" | wc -l) -gt 30 ]]
}

@test "the manuals carry the version the tools print" {
	local p v
	for p in shmwrite shmread; do
		v=$("$BIN/$p" -V)
		grep -qx "\\.Os shmrw ${v#* }" "$TOP/man/$p.1"
	done
}
