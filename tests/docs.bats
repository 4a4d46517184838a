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

# tour: the README's tour section
tour() { awk '/^## A one-minute tour/ { on = 1; next } /^## / { on = 0 } on' "$TOP/README.md"; }
# term N WORD: the command of the tour's termN$ line that has WORD
term() { tour | sed -n "s/^    term$1\\$ //p" | grep -e "$2" | sed 's/ *#.*//'; }

# The tour's names (inbox, jobs, news ...) may be anyone's: its lines run in
# a mount namespace with a /dev/shm of their own.
@test "README: every line of the tour runs as written, and does what it says" {
	need_root
	unshare -m true 2>/dev/null || skip "cannot unshare the mount namespace"
	mkdir "$T/tour"
	head -c 3000000 /dev/urandom >"$T/tour/big.iso"
	: >"$T/tour/app.log"
	tour | sed -n 's/^    \$ //p' >"$T/lines"
	[[ $(wc -l <"$T/lines") -ge 10 ]]
	term 1 demo >"$T/t1" && term 3 demo >"$T/t3" && term 2 demo >"$T/t2"
	term 1 log >"$T/l1" && term 2 log >"$T/l2"
	# shellcheck disable=SC2016 # for the namespace's shell
	runs unshare -m bash -c '
		set -u
		mount -t tmpfs tmpfs /dev/shm || exit 99
		cd "$1/tour" && PATH=$2:$PATH
		n=0
		while IFS= read -r line; do
			n=$((n + 1))
			timeout 20 bash -c "$line" >"out.$n" 2>"err.$n" </dev/null || { echo "line $n failed: $line"; cat "err.$n"; exit 1; }
		done <"$1/lines"
		cmp big.iso copy.iso || exit 2
		grep -q "^\\./big.iso$" out.3 || exit 3
		timeout 20 bash -c "$(cat "$1/t1")" >t1.out 2>t1.err & t1=$!
		until grep -q "waiting for a message" t1.err; do sleep 0.05; done
		timeout 1 bash -c "$(cat "$1/t3")" >t3.out; [[ $? == 124 ]] || exit 4
		grep -q "^demo " t3.out || exit 5
		timeout 20 bash -c "$(cat "$1/t2")" 2>t2.err || exit 6
		wait "$t1" || exit 7
		[[ $(cat t1.out) == "hello world" ]] || exit 8
		echo "all is well" >>app.log
		echo "an ERROR here" >>app.log
		setsid bash -c "$(cat "$1/l1")" & l1=$!
		setsid bash -c "$(cat "$1/l2")" >l2.out & l2=$!
		# once the reader took both lines and waits for more, end it: grep
		# then flushes what it found
		until shmread --status -n log 2>/dev/null | grep -q "^last message: 2$" &&
		    shmread --status -n log | grep -q "^queued: 0 bytes" &&
		    shmread --status -n log | grep -q "reader, waits for data"; do
			sleep 0.02
		done
		kill -- "-$l1" 2>/dev/null
		pkill -TERM -g "$l2" -x shmread
		wait
		[[ $(cat l2.out) == "an ERROR here" ]] || exit 9
		echo tour done
	' tour "$T" "$BIN"
	[[ $status -eq 0 && ${lines[-1]} == "tour done" ]]
}

# bcast: the README's section on broadcast channels
bcast() { awk '/^## Broadcast channels and taps/ { on = 1; next } /^## / { on = 0 } on' "$TOP/README.md"; }

# The section's three terminals, with a file of our own for the system log
# (which CI may not have): each subscriber gets every line.
@test "README: the broadcast example's readers each get every line" {
	need_root
	unshare -m true 2>/dev/null || skip "cannot unshare the mount namespace"
	local n
	for n in 1 2 3; do
		bcast | sed -n "s/^    term$n\\$ //p" >"$T/b$n"
		[[ $(wc -l <"$T/b$n") -eq 1 ]]
	done
	grep -q -- '-b ' "$T/b1" && grep -q /var/log/syslog "$T/b1"
	sed -i 's|/var/log/syslog|syslog|' "$T/b1"
	mkdir "$T/bcast"
	: >"$T/bcast/syslog"
	# shellcheck disable=SC2016 # for the namespace's shell
	runs unshare -m bash -c '
		set -u
		mount -t tmpfs tmpfs /dev/shm || exit 99
		cd "$1/bcast" && PATH=$2:$PATH
		setsid bash -c "$(cat "$1/b1")" & w=$!
		setsid bash -c "$(cat "$1/b2")" >b2.out & r2=$!
		setsid bash -c "$(cat "$1/b3")" >b3.out & r3=$!
		until shmread --status -n log 2>/dev/null | grep -qE "^subscribers: [0-9]+ [0-9]+$"; do
			sleep 0.02
		done
		seq 2000 | sed "s/^/line /" >>syslog
		echo "an ERROR here" >>syslog
		# once both subscribers wrote out all 2001 lines, end them: grep
		# and wc then print what they found
		until shmread --status -n log | grep -q "^last message: 2001$" &&
		    [[ $(shmread --status -n log | grep -c "subscriber, waits for data, at [0-9]*, lag 0 bytes") == 2 ]]; do
			sleep 0.02
		done
		kill -- "-$w" 2>/dev/null
		pkill -TERM -g "$r2" -x shmread
		pkill -TERM -g "$r3" -x shmread
		wait
		[[ $(cat b2.out) == "an ERROR here" ]] || exit 2
		[[ $(tr -d " " <b3.out) == 2001 ]] || exit 3
		[[ -z $(ls /dev/shm) ]] || exit 4
		echo broadcast done
	' bcast "$T" "$BIN"
	[[ $status -eq 0 && ${lines[-1]} == "broadcast done" ]]
}
