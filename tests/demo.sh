#!/bin/sh
# A short tour of shmwrite and shmread on the default channel.
# Run by `make demo` from the top of the tree, after ./shmwrite and
# ./shmread are built.  Exits 0 if everything arrived intact and nothing
# was left behind in /dev/shm.

set -u

W=./shmwrite
R=./shmread
SIZE=20000000	# bytes of random data to stream

say() { printf '%s\n' "$*"; }
fail() { printf 'demo: %s\n' "$*" >&2; exit 1; }

for b in "$W" "$R"; do
	[ -x "$b" ] || fail "$b not found; run make first"
done
if "$R" --status >/dev/null 2>&1; then
	fail "the default channel exists already (see $R --status; $R -r removes it)"
fi

tmp=
rpid=
wpid=
cleanup() {
	if [ -n "$rpid" ]; then kill "$rpid" 2>/dev/null; fi
	if [ -n "$wpid" ]; then kill "$wpid" 2>/dev/null; fi
	if [ -n "$tmp" ]; then rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM
tmp=$(mktemp -d "${TMPDIR:-/tmp}/shmrw-demo.XXXXXX") || exit 1

# is_reader PID: does `shmread --status` list PID among the readers?
is_reader() {
	"$R" --status 2>/dev/null | awk -v pid="$1" '
		$1 == "readers:" {
			sub(/^readers:/, "")
			n = split($0, p, /[ ,]+/)
			for (i = 1; i <= n; i++)
				if (p[i] == pid)
					found = 1
		}
		END { exit !found }'
}

say "1. Start a reader in the background: $R &"
"$R" >"$tmp/hello" &
rpid=$!
i=0
until is_reader "$rpid"; do
	kill -0 "$rpid" 2>/dev/null || fail "the reader exited early"
	i=$((i + 1))
	[ "$i" -le 100 ] || fail "the reader does not show in $R --status"
	sleep 0.05
done
say "   it is waiting: $R --status lists it among the readers (pid $rpid)"

say "2. Send a message: $W hello from shmwrite"
"$W" hello from shmwrite || fail "shmwrite failed"
wait "$rpid"
rc=$?
rpid=
say "   the reader exited $rc after printing:"
sed 's/^/   | /' "$tmp/hello"
[ "$rc" -eq 0 ] || fail "shmread exited $rc"
[ "$(cat "$tmp/hello")" = "hello from shmwrite" ] || fail "wrong message"

say "3. Stream $SIZE bytes of random data, far more than the ring holds:"
say "   $W < file &   $R > copy"
head -c "$SIZE" /dev/urandom >"$tmp/file" || fail "cannot make the file"
"$W" <"$tmp/file" &
wpid=$!
"$R" >"$tmp/copy"
rrc=$?
wait "$wpid"
wrc=$?
wpid=
[ "$wrc" -eq 0 ] || fail "shmwrite exited $wrc"
[ "$rrc" -eq 0 ] || fail "shmread exited $rrc"
sent=$(sha256sum <"$tmp/file" | cut -d ' ' -f 1)
got=$(sha256sum <"$tmp/copy" | cut -d ' ' -f 1)
say "   sha256 sent:     $sent"
say "   sha256 received: $got"
if [ "$sent" = "$got" ]; then
	say "   match"
else
	say "   MISMATCH"
	exit 1
fi

say "4. Both sides have left, so the channel is gone: ls /dev/shm | grep shmrw.default"
# shellcheck disable=SC2010 # names are ours and plain; ls is what we show
left=$(ls /dev/shm | grep -E '^(sem\.)?shmrw\.default(\.[0-9a-fA-F]{8}\.[rwds])?$')
if [ -n "$left" ]; then
	say "$left" | sed 's/^/   | /'
	fail "objects left in /dev/shm"
fi
say "   nothing left in /dev/shm"
