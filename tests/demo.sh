#!/bin/sh
# A short tour of shmwrite and shmread, run by `make demo` from the top of
# the tree once ./shmwrite and ./shmread are built.  Exits 0 if everything
# arrived intact and nothing was left behind in /dev/shm.

set -u

W=./shmwrite
R=./shmread
C=demo-$$		# a channel of our own
SIZE=20000000		# bytes of random data to stream

say() { printf '%s\n' "$*"; }
fail() { printf 'demo: %s\n' "$*" >&2; exit 1; }
indent() { sed 's/^/   | /' "$@"; }

for b in "$W" "$R"; do
	[ -x "$b" ] || fail "$b not found; run make first"
done

tmp='' rpid='' wpid=''
cleanup() {
	[ -z "$rpid" ] || kill "$rpid" 2>/dev/null
	[ -z "$wpid" ] || kill "$wpid" 2>/dev/null
	"$R" -r -n "$C" 2>/dev/null
	[ -z "$tmp" ] || rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM
tmp=$(mktemp -d "${TMPDIR:-/tmp}/shmrw-demo.XXXXXX") || exit 1

# waiting PID: does --status list PID among the readers?
waiting() {
	"$R" --status -n "$C" 2>/dev/null | grep -q "^readers:.* $1\$"
}

say "1. A reader waits, telling each step (-v): $R -v -n $C &"
"$R" -v -n "$C" >"$tmp/hello" 2>"$tmp/reader" &
rpid=$!
i=0
until waiting "$rpid"; do
	kill -0 "$rpid" 2>/dev/null || fail "the reader exited early"
	i=$((i + 1))
	[ "$i" -le 200 ] || fail "the reader does not show in $R --status"
	sleep 0.05
done
say "2. A third terminal watches the channel: $R --watch -n $C (two frames)"
"$R" --watch=0.2 -n "$C" >"$tmp/watch" 2>&1 &
watcher=$!
i=0
until [ "$(grep -c -- '--watch: ' "$tmp/watch")" -ge 2 ]; do
	i=$((i + 1))
	[ "$i" -le 200 ] || fail "--watch shows no frames"
	sleep 0.05
done
kill -TERM "$watcher"
wait "$watcher" || fail "--watch did not end with 0 on SIGTERM"
indent "$tmp/watch"
say "3. A writer sends a message, telling each step: $W -v -n $C hello"
"$W" -v -n "$C" hello 2>"$tmp/writer" || fail "shmwrite failed"
wait "$rpid" || fail "shmread failed"
rpid=
say "   the writer said:"
indent "$tmp/writer"
say "   the reader said, and printed [$(cat "$tmp/hello")]:"
indent "$tmp/reader"
[ "$(cat "$tmp/hello")" = hello ] || fail "wrong message"

say "4. Stream $SIZE random bytes through the 1 MiB ring: $W -n $C < file &  $R -n $C > copy"
head -c "$SIZE" /dev/urandom >"$tmp/file" || fail "cannot make the file"
"$W" -n "$C" <"$tmp/file" &
wpid=$!
"$R" -n "$C" >"$tmp/copy" || fail "shmread failed"
wait "$wpid" || fail "shmwrite failed"
wpid=
sent=$(sha256sum <"$tmp/file" | cut -d ' ' -f 1)
got=$(sha256sum <"$tmp/copy" | cut -d ' ' -f 1)
say "   sha256 sent:     $sent"
say "   sha256 received: $got"
[ "$sent" = "$got" ] || fail "the copy differs"

say "5. Two messages wait in the channel, a mailbox: $R --list"
{ "$W" -n "$C" one && "$W" -n "$C" two; } || fail "shmwrite failed"
"$R" --list | grep -E "^(NAME|$C) " | indent
say "   $R -c 2 -n $C prints:"
"$R" -c 2 -n "$C" | indent

say "6. The last one out removed the channel: ls /dev/shm | grep $C"
# shellcheck disable=SC2010 # names are ours and plain; ls is what we show
left=$(ls /dev/shm | grep -F "shmrw.$C")
[ -z "$left" ] || { say "$left" | indent; fail "objects left in /dev/shm"; }
say "   nothing left"
