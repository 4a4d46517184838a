# shellcheck shell=bash
# The one helper of the suite; every .bats file does `load helper`.
#
# - SHMWRITE, SHMREAD: the binaries (the top of the tree, or SHMBIN: make
#   check-sanitize's).  SHMW, SHMR: arrays to run them with; under
#   SHM_VALGRIND=1 through valgrind.  shmw, shmr: functions around them.
# - chan SUFFIX: a channel name of this test's own (file, test number, $$).
# - bg starts a process and remembers its pid; teardown ends only those
#   pids and removes only this test's channels.
# - Waits are for events (wait_until CMD), bounded; time limits scale with
#   TMULT (sanitizers and valgrind are slow).
# - The segment's layout comes from tests/layout (OFF_* and the like).

bats_require_minimum_version 1.5.0
# bats 1.8's run() sets a global i: loops around it use other names.

TOP=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
BIN=${SHMBIN:-$TOP}
SHMWRITE=$BIN/shmwrite
SHMREAD=$BIN/shmread
SHMW=("$SHMWRITE")
SHMR=("$SHMREAD")
TMULT=${TMULT:-1}
# the test build, with injection points (make check-sanitize's is both)
IBIN=${SHMIBIN:-$TOP/tests/inject}
IWRITE=$IBIN/shmwrite
IREAD=$IBIN/shmread
if [[ ${SHM_VALGRIND:-0} == 1 ]]; then
	VG=(valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite)
	SHMW=("${VG[@]}" "$SHMWRITE")
	SHMR=("${VG[@]}" "$SHMREAD")
	TMULT=5
fi
# No test may hang the suite: bats ends a test (and its children) after this.
# shellcheck disable=SC2034 # read by bats
: "${BATS_TEST_TIMEOUT:=$((240 * TMULT))}"
[[ -x $TOP/tests/layout ]] || make -s -C "$TOP" tests/layout >&2
[[ -x $IWRITE && -x $IREAD ]] || make -s -C "$TOP" tests/inject/shmwrite tests/inject/shmread >&2
eval "$("$TOP/tests/layout")"

setup() {
	T=$BATS_TEST_TMPDIR
}

teardown() {
	cleanup_pids
	cleanup_channels
}

shmw() { "${SHMW[@]}" "$@"; }
shmr() { "${SHMR[@]}" "$@"; }

# runs CMD...: bats' run, stderr apart; what it did is shown if the test fails
runs() {
	run --separate-stderr "$@"
	# shellcheck disable=SC2154 # set by run
	printf '# %s\n#   -> status %s, stdout [%s], stderr [%s]\n' "$*" "$status" "$output" "$stderr"
}

# expect STATUS OUT ERR: the last runs ended so, exactly
expect() {
	# shellcheck disable=SC2154 # set by run
	[[ $status == "$1" && $output == "$2" && $stderr == "$3" ]]
}

# gets NAME [MESSAGE]: shmread -t 0 takes MESSAGE, or with none finds
# nothing (124); either way nothing is left of the channel after
gets() {
	runs shmr -t 0 -n "$1"
	if [[ $# -eq 1 ]]; then
		expect 124 "" ""
	else
		expect 0 "$2" ""
	fi
	assert_no_objects "$1"
}

# through NAME: a message goes through at once (-t 0); nothing is left
through() {
	runs shmw -t 0 -n "$1" next
	expect 0 "" ""
	gets "$1" next
}

# last_part NAME READER WRITER: part2 goes into the stream that WRITER
# reads from fd 4, and its input ends: both end 0, saying nothing, READER
# wrote out part1 and part2 into $T/out, and nothing is left
last_part() {
	echo part2 >&4
	exec 4>&-
	expect_exit "$2" 0
	expect_exit "$3" 0
	printf 'part1\npart2\n' | cmp - "$T/out"
	[[ ! -s $T/werr && ! -s $T/rerr ]]
	assert_no_objects "$1"
}

# --- channels -----------------------------------------------------------

# chan [SUFFIX]: a channel name for this test.  The '-' after the pid keeps
# test 1 from matching test 11.
chan_prefix() {
	local f=${BATS_TEST_FILENAME##*/}
	printf 'bt-%s-%s-%s-' "${f%.bats}" "$BATS_TEST_NUMBER" "$$"
}
chan() { printf '%s%s' "$(chan_prefix)" "${1:-a}"; }

# objects NAME: the objects of channel NAME that exist, one path a line
objects() {
	local f
	for f in "/dev/shm/shmrw.$1" "/dev/shm/sem.shmrw.$1".????????.[rwds]; do
		[[ ! -e $f ]] || printf '%s\n' "$f"
	done
}

assert_no_objects() {
	local left
	left=$(objects "$1")
	[[ -z $left ]] || { printf 'objects left of %s:\n%s\n' "$1" "$left" >&2; return 1; }
}

# assert_objects NAME: the segment and its four bells, one of each
assert_objects() {
	local b
	[[ $(objects "$1" | wc -l) -eq 5 && -e /dev/shm/shmrw.$1 ]] || { objects "$1" >&2; return 1; }
	for b in r w d s; do
		[[ $(objects "$1" | grep -c "\\.$b\$") -eq 1 ]]
	done
}

# status_of NAME: --status of NAME (the plain binary: quick)
status_of() { "$SHMREAD" --status -n "$1" 2>/dev/null; }

# field NAME KEY: the value of KEY in --status of NAME
field() { status_of "$1" | sed -n "s/^$2: //p"; }

queued_msgs() { field "$1" queued | sed -n 's/.*, \([0-9]*\) messages*$/\1/p'; }
queued_bytes() { field "$1" queued | sed -n 's/^\([0-9]*\) bytes*,.*/\1/p'; }
has_queued() { [[ $(queued_msgs "$1") == "$2" ]]; }
has_bytes() { local b; b=$(queued_bytes "$1"); [[ -n $b && $b -gt 0 ]]; }
has_reader() { [[ $(field "$1" readers) =~ [0-9] ]]; }
has_writer() { [[ $(field "$1" writers) =~ [0-9] ]]; }
# has_readers NAME N, has_writers NAME N: exactly N of them attached
has_readers() { [[ $(field "$1" readers | wc -w) -eq $2 ]]; }
has_writers() { [[ $(field "$1" writers | wc -w) -eq $2 ]]; }
wait_reader() { wait_until has_reader "$1"; }
wait_writer() { wait_until has_writer "$1"; }

# json EXPR < JSON: EXPR (python, over `d`) of what a real JSON parser read
json() { python3 -c 'import json, sys; d = json.load(sys.stdin); print('"$1"')'; }

# wait_procs NAME N: until N processes are attached to NAME (the kernel
# drops a dead one's locks a little after it can be reaped)
has_procs() { [[ $("$SHMREAD" --status --json -n "$1" 2>/dev/null | json 'd["procs"]') == "$2" ]]; }
wait_procs() { wait_until has_procs "$1" "$2"; }

# poke NAME OFFSET FORMAT VALUE: write VALUE (perl pack FORMAT) into the
# segment of NAME at OFFSET: a hostile or broken process's doing
poke() {
	perl -e 'open(my $f, "+<", $ARGV[0]) or die "$ARGV[0]: $!";
		seek($f, $ARGV[1], 0); print $f pack($ARGV[2], $ARGV[3]);' \
		"/dev/shm/shmrw.$1" "$2" "$3" "$4"
}

# --- processes ----------------------------------------------------------

# reader_bg NAME CMD...: a reader of NAME in the background, its pid in
# BGPID, once CMD... is true (what the reader is to be seen doing)
reader_bg() {
	bg /dev/null /dev/null /dev/null "${SHMR[@]}" -n "$1"
	wait_until "${@:2}"
}

# took PID OUT ERR TEXT NAME: the reader PID ended 0 having written TEXT
# into OUT and nothing into ERR; nothing is left of NAME
took() {
	expect_exit "$1" 0
	[[ $(cat "$2") == "$4" && ! -s $3 ]]
	assert_no_objects "$5"
}

# stream_open NAME TEXT: a writer of a stream into NAME, from $T/in (fd 4
# writes to it, TEXT first), its pid in W; once it is attached
# shellcheck disable=SC2034 # W: for the caller
stream_open() {
	mkfifo "$T/in"
	bg "$T/in" /dev/null /dev/null "${SHMW[@]}" -n "$1"
	W=$BGPID
	exec 4>"$T/in"
	printf '%s' "$2" >&4
	wait_until has_writer "$1"
}

PIDS=()       # started by this test and not yet reaped
GPIDS=()      # grandchildren: see bg_unreaped
declare -gA BGERR=()

# bg IN OUT ERR CMD...: start CMD (a binary, not a function, so that $! is
# its pid) in the background; its pid goes to BGPID and onto PIDS.  INT,
# QUIT and PIPE are reset to default (bash makes background commands ignore
# the first two); fds 3-9 (bats' and the test's) are not inherited.
bg() {
	local in=$1 out=$2 err=$3
	shift 3
	env --default-signal=INT,QUIT,PIPE "$@" <"$in" >"$out" 2>"$err" \
		3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&- &
	BGPID=$!
	PIDS+=("$BGPID")
	BGERR[$BGPID]=$err
}

# bgfn IN OUT ERR FUNC ARGS...: a shell function in the background, like bg
bgfn() {
	local in=$1 out=$2 err=$3
	shift 3
	"$@" <"$in" >"$out" 2>"$err" 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&- &
	BGPID=$!
	PIDS+=("$BGPID")
}

# bg_unreaped IN OUT ERR CMD...: like bg, but CMD's parent never reaps it,
# so once dead it stays a zombie.  CMD's pid goes to BGPID and onto GPIDS.
bg_unreaped() {
	local pidf
	pidf=$(mktemp "$T/pid.XXXXXX")
	# shellcheck disable=SC2016 # for sh -c
	bg "$1" "$2" "$3" sh -c 'exec 9<&0; "$@" <&9 9<&- & echo $! >"$0"; exec sleep 3600 <&- 9<&-' "$pidf" "${@:4}"
	wait_until test -s "$pidf"
	BGPID=$(cat "$pidf")
	GPIDS+=("$BGPID")
}

now_ms() { local t=${EPOCHREALTIME/[.,]/}; printf '%s' "$((t / 1000))"; }

# alive PID: it runs (a zombie does not)
alive() {
	local s
	s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	s=${s##*) }
	[[ ${s%% *} != [ZX] ]]
}
dead() { ! alive "$1"; }

# wait_for SECONDS CMD...: poll CMD every 10 ms until it succeeds; fail
# after SECONDS (x TMULT).  wait_until CMD...: the same, 10 s.
wait_for() {
	local limit=$(($1 * 1000 * TMULT)) start
	shift
	start=$(now_ms)
	until "$@"; do
		if (($(now_ms) - start > limit)); then
			echo "timed out after $((limit / 1000)) s waiting for: $*" >&2
			return 1
		fi
		sleep 0.01
	done
}
wait_until() { wait_for 10 "$@"; }

forget_pid() {
	local p rest=()
	for p in "${PIDS[@]}"; do
		[[ $p == "$1" ]] || rest+=("$p")
	done
	PIDS=("${rest[@]}")
}

# wait_exit PID [SECONDS]: wait (10 s x TMULT at most) for a pid started
# with bg to end; its status goes to WRC.  Fails (and kills it) on expiry.
wait_exit() {
	WRC=
	if ! wait_for "${2:-10}" dead "$1"; then
		kill -KILL "$1" 2>/dev/null || true
		wait "$1" 2>/dev/null || true
		forget_pid "$1"
		return 1
	fi
	WRC=0
	wait "$1" || WRC=$?
	forget_pid "$1"
}

# expect_exit PID STATUS [SECONDS]: wait_exit, and check the status
expect_exit() {
	if ! wait_exit "$1" "${3:-10}" || [[ $WRC -ne $2 ]]; then
		echo "pid $1 exited ${WRC:-(not)}, expected $2; its stderr:" >&2
		cat "${BGERR[$1]:-/dev/null}" >&2
		return 1
	fi
}

# kill_wait SIG PID STATUS: send SIG and see PID end with STATUS
kill_wait() {
	kill -"$1" "$2"
	expect_exit "$2" "$3"
}

cleanup_pids() {
	local p n
	for p in "${GPIDS[@]}"; do
		kill -KILL "$p" 2>/dev/null || true
	done
	GPIDS=()
	for p in "${PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null || true
	done
	for p in "${PIDS[@]}"; do
		for ((n = 0; n < 300; n++)); do
			alive "$p" || break
			sleep 0.01
		done
		kill -KILL "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	PIDS=()
}

# cleanup_channels: remove this test's channels (names start with
# chan_prefix): the proper way, then exactly their paths
cleanup_channels() {
	local prefix f
	prefix=$(chan_prefix)
	for f in "/dev/shm/shmrw.$prefix"*; do
		[[ ! -f $f ]] || "$SHMREAD" -r -n "${f#/dev/shm/shmrw.}" >/dev/null 2>&1 || true
	done
	rm -rf "/dev/shm/shmrw.$prefix"* "/dev/shm/sem.shmrw.$prefix"*
}

# --- odds and ends ------------------------------------------------------

file_has() { grep -qF -- "$2" "$1" 2>/dev/null; }

# repeat STRING N: STRING N times
repeat() {
	local i
	for ((i = 0; i < $2; i++)); do
		printf '%s' "$1"
	done
}

# as_nobody CMD...: run CMD as another user (tests that need one are root)
as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }
need_root() { [[ $(id -u) == 0 ]] || skip "needs root (to be another user)"; }

# hold NAME OFFSET [COUNT]: start a process that holds the lock on COUNT
# (1) bytes from OFFSET of the segment of NAME, as a live creator, remover
# or attached process does; its pid goes to HOLDER.  Ending it frees them.
hold() {
	rm -f "$T/held"
	python3 -c 'import fcntl, os, struct, sys, time
fd = os.open(sys.argv[1], os.O_RDWR)
fcntl.fcntl(fd, fcntl.F_OFD_SETLK, struct.pack("hhxxxxqqixxxx", fcntl.F_WRLCK, 0, int(sys.argv[2]), int(sys.argv[3]), 0))
open(sys.argv[4], "w").close()
time.sleep(3600)' "/dev/shm/shmrw.$1" "$2" "${3:-1}" "$T/held" 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&- &
	HOLDER=$!
	PIDS+=("$HOLDER")
	wait_until test -e "$T/held"
}

# --- injection points (see common.h: INJECT) -----------------------------

# ibg IN OUT ERR SPEC PROG ARGS...: PROG (shmwrite or shmread) of the test
# build in the background, as bg, with SHMRW_INJECT=SPEC
ibg() {
	local in=$1 out=$2 err=$3 spec=$4 prog=$5
	shift 5
	bg "$in" "$out" "$err" SHMRW_INJECT="$spec" "$IBIN/$prog" "$@"
}

# stopped PID: it stopped itself (SIGSTOP) at an injection point
stopped() {
	local s
	s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	s=${s##*) }
	[[ ${s%% *} == T ]]
}
wait_stopped() { wait_until stopped "$1"; }

# stopped_or_dead PID: it stopped, or it ended (a mutant may run on)
stopped_or_dead() { stopped "$1" || dead "$1"; }

# asleep_bits NAME: the words of asleep[] of NAME, in hex, on one line
# shellcheck disable=SC2154 # OFF_asleep: from tests/layout
asleep_bits() {
	od -An -tx8 -v -j "$OFF_asleep" -N $((4 * NSLOT / 8)) "/dev/shm/shmrw.$1" | tr -s ' \n' ' '
}
# nobody_asleep NAME: every bit of asleep[] of NAME is clear
nobody_asleep() { [[ $(asleep_bits "$1" | tr -d ' 0') == "" ]]; }
# asleep_on NAME BELL: someone's bit is set for BELL (0 r, 1 w, 2 d, 3 s)
asleep_on() {
	local w
	w=$(od -An -tx8 -v -j $((OFF_asleep + $2 * NSLOT / 8)) -N $((NSLOT / 8)) "/dev/shm/shmrw.$1" | tr -d ' \n0')
	[[ -n $w ]]
}

# --- broadcast channels -----------------------------------------------------

# waiting NAME ROLE N: N processes of ROLE (subscriber, tap, reader...)
# sleep for data on NAME, as --status tells: a subscriber or tap has
# stored its position by then
nwaiting() { status_of "$1" | grep -c "^process: [0-9]* [^ ]* $2, waits for data"; }
waiting() { [[ $(nwaiting "$1" "$2") -eq $3 ]]; }
wait_waiting() { wait_until waiting "$@"; }

# slot_of NAME PID: the slot that PID holds in NAME
# shellcheck disable=SC2154 # OFF_slot, SLOT_SIZE: from tests/layout
slot_of() {
	local i=0 p
	while read -r p; do
		[[ $p == "$2" ]] && { echo "$i"; return 0; }
		i=$((i + 1))
	done < <(od -An -td4 -v -w"$SLOT_SIZE" -j "$((OFF_slot + 4))" -N $((NSLOT * SLOT_SIZE)) \
		"/dev/shm/shmrw.$1" | awk '{ print $1 }')
	return 1
}

# u64 NAME OFFSET: the 64-bit word at OFFSET of the segment of NAME
u64() { od -An -tu8 -j "$2" -N 8 "/dev/shm/shmrw.$1" | tr -d ' '; }
