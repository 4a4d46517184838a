# shellcheck shell=bash
# Common helpers for the shmwrite/shmread bats suite.  Every .bats file does
# `load helper`.
#
# - SHMWRITE, SHMREAD: absolute paths of the binaries at the repo top level.
# - SHMW, SHMR: arrays to run them with; under SHM_VALGRIND=1 they go through
#   valgrind.  shmw/shmr are functions around them (for `run` and plain calls);
#   `bg` starts one in the background and remembers its pid.
# - chan SUFFIX: a channel name unique to this test (file, test number, $$).
# - teardown kills only the pids this test started and removes only this
#   test's channels.

bats_require_minimum_version 1.5.0

TOP=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
# where the binaries are: the top of the tree, or make check-sanitize's own
BIN=${SHMBIN:-$TOP}
SHMWRITE=$BIN/shmwrite
SHMREAD=$BIN/shmread
SHMW=("$SHMWRITE")
SHMR=("$SHMREAD")
# Time limits are multiplied by this: sanitizers and valgrind are slow
# (make check-sanitize sets TMULT).
TMULT=${TMULT:-1}
if [[ ${SHM_VALGRIND:-0} == 1 ]]; then
	VG=(valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite)
	SHMW=("${VG[@]}" "$SHMWRITE")
	SHMR=("${VG[@]}" "$SHMREAD")
	TMULT=5
fi
# shellcheck disable=SC2034 # used by the .bats files
PAGESIZE=$(getconf PAGESIZE)
# No test may hang the suite: bats kills a test (and its children) after this.
# shellcheck disable=SC2034 # read by bats
: "${BATS_TEST_TIMEOUT:=$((240 * TMULT))}"

# pids started by this test and not yet reaped
PIDS=()
# their stderr files, by pid
declare -gA BGERR=()

shmw() { "${SHMW[@]}" "$@"; }
shmr() { "${SHMR[@]}" "$@"; }

# Per-test channel name prefix: file name, test number, pid of the test shell.
# The trailing '-' keeps test 1 from matching test 11.
chan_prefix() {
	local f=${BATS_TEST_FILENAME##*/}
	printf 'bt-%s-%s-%s-' "${f%.bats}" "$BATS_TEST_NUMBER" "$$"
}

# chan [SUFFIX]: a channel name for this test.
chan() {
	printf '%s%s' "$(chan_prefix)" "${1:-a}"
}

# objects NAME: the objects of channel NAME that exist, one path a line.
objects() {
	local f
	for f in "/dev/shm/shmrw.$1" "/dev/shm/sem.shmrw.$1".????????.[rwds]; do
		if [[ -e $f ]]; then
			printf '%s\n' "$f"
		fi
	done
}

# sem_objects NAME: just the four semaphores.
sem_objects() {
	objects "$1" | grep '/sem\.' || true
}

assert_no_objects() {
	local left
	left=$(objects "$1")
	if [[ -n $left ]]; then
		printf 'leftover objects of channel %s:\n%s\n' "$1" "$left" >&2
		return 1
	fi
}

# assert_objects NAME: the shm segment and the four semaphores exist.
assert_objects() {
	local n b
	n=$(objects "$1" | wc -l)
	if [[ $n -ne 5 ]]; then
		printf 'channel %s: expected 5 objects, found %s:\n' "$1" "$n" >&2
		objects "$1" >&2
		return 1
	fi
	[[ -e /dev/shm/shmrw.$1 ]]
	for b in r w d s; do
		[[ $(objects "$1" | grep -c "/sem\\.shmrw\\..*\\.$b\$") -eq 1 ]]
	done
}

# bg IN OUT ERR CMD...: start CMD (a binary or the expansion of SHMW/SHMR,
# not a function, so that $! is its pid) in the background with the given
# redirections; the pid goes to BGPID and onto PIDS.  SIGINT, SIGQUIT and
# SIGPIPE are reset to default (bash makes background commands ignore the
# first two); fds 3-9 (bats' and the test's own) are not inherited.
bg() {
	local in=$1 out=$2 err=$3
	shift 3
	env --default-signal=INT,QUIT,PIPE "$@" <"$in" >"$out" 2>"$err" \
		3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&- &
	BGPID=$!
	PIDS+=("$BGPID")
	BGERR[$BGPID]=$err
}

# bg_unreaped IN OUT ERR CMD...: like bg, but CMD's parent is a process that
# never reaps it (sh that execs sleep), so once CMD dies it stays a zombie.
# CMD's pid goes to BGPID (and onto GPIDS), its parent's onto PIDS.
GPIDS=()
bg_unreaped() {
	local in=$1 out=$2 err=$3 pidf
	shift 3
	pidf=$(mktemp "$BATS_TEST_TMPDIR/pid.XXXXXX")
	# shellcheck disable=SC2016 # for sh -c
	bg "$in" "$out" "$err" sh -c \
		'exec 9<&0; "$@" <&9 9<&- & echo $! >"$0"; exec sleep 3600 <&- 9<&-' "$pidf" "$@"
	wait_until test -s "$pidf"
	BGPID=$(cat "$pidf")
	GPIDS+=("$BGPID")
}

# now_ms: monotonic-enough wall clock in milliseconds.
now_ms() {
	local t=${EPOCHREALTIME/[.,]/}
	printf '%s' "$((t / 1000))"
}

# alive PID: true while PID runs (not a zombie, not gone).
alive() {
	local s
	s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	s=${s##*) }
	[[ ${s%% *} != Z && ${s%% *} != X ]]
}

# dead PID: PID has ended (a zombie counts as dead).
dead() { ! alive "$1"; }

# wait_exit PID [SECONDS]: wait (bounded, default 10 s x TMULT) for a pid
# started with bg to end; its exit status goes to WRC.  Fails (and kills it)
# when it does not end in time.
wait_exit() {
	local pid=$1 limit=$((${2:-10} * 1000 * TMULT)) start
	WRC=
	start=$(now_ms)
	while alive "$pid"; do
		if (($(now_ms) - start > limit)); then
			echo "pid $pid still running after $((limit / 1000)) s" >&2
			kill -KILL "$pid" 2>/dev/null || true
			wait "$pid" 2>/dev/null || true
			forget_pid "$pid"
			return 1
		fi
		sleep 0.01
	done
	WRC=0
	wait "$pid" || WRC=$?
	forget_pid "$pid"
}

forget_pid() {
	local p rest=()
	for p in "${PIDS[@]}"; do
		[[ $p == "$1" ]] || rest+=("$p")
	done
	PIDS=("${rest[@]}")
}

# expect_exit PID STATUS [SECONDS]: wait_exit and check the status.
expect_exit() {
	local err=${BGERR[$1]:-}
	if ! wait_exit "$1" "${3:-10}" || [[ $WRC -ne $2 ]]; then
		[[ -n ${WRC:-} ]] && echo "pid $1 exited $WRC, expected $2" >&2
		if [[ -f $err ]]; then
			echo "its stderr:" >&2
			cat "$err" >&2
		fi
		return 1
	fi
}

# wait_until CMD...: poll CMD every 10 ms until it succeeds; fail after
# 10 s (x TMULT).
wait_until() {
	local limit=$((10000 * TMULT)) start
	start=$(now_ms)
	until "$@"; do
		if (($(now_ms) - start > limit)); then
			echo "timed out waiting for: $*" >&2
			return 1
		fi
		sleep 0.01
	done
}

# status_of NAME: the --status output (raw binary: fast, no valgrind).
status_of() {
	"$SHMREAD" --status -n "$1" 2>/dev/null
}

has_reader() { status_of "$1" | grep -q '^readers:.*[0-9]'; }
has_writer() { status_of "$1" | grep -q '^writers:.*[0-9]'; }

# wait_reader NAME / wait_writer NAME: until --status lists a reader/writer pid.
wait_reader() { wait_until has_reader "$1"; }
wait_writer() { wait_until has_writer "$1"; }

# queued_msgs NAME / queued_bytes NAME: from `queued: B bytes, M messages`.
queued_msgs() {
	status_of "$1" | sed -n 's/^queued: *\([0-9]*\) bytes\{0,1\}, *\([0-9]*\) messages\{0,1\}.*/\2/p'
}
queued_bytes() {
	status_of "$1" | sed -n 's/^queued: *\([0-9]*\) bytes\{0,1\}.*/\1/p'
}

# has_queued NAME N: exactly N messages queued.
has_queued() { [[ $(queued_msgs "$1") == "$2" ]]; }
# has_bytes NAME: some bytes queued.
has_bytes() { local b; b=$(queued_bytes "$1"); [[ -n $b && $b -gt 0 ]]; }

# file_has FILE TEXT: FILE contains TEXT (fixed string).
file_has() { grep -qF -- "$2" "$1" 2>/dev/null; }

# read_next NAME OUT: read the next whole message of NAME into OUT, skipping
# (at most 3) messages that end "truncated" because their writer died.
read_next() {
	local i rc
	for i in 1 2 3; do
		rc=0
		"${SHMR[@]}" -t "$((5 * TMULT))" -n "$1" >"$2" 2>"$BATS_TEST_TMPDIR/read_next.err" || rc=$?
		if [[ $rc -eq 0 ]]; then
			return 0
		fi
		if [[ $rc -ne 1 ]] || ! grep -q 'truncated' "$BATS_TEST_TMPDIR/read_next.err"; then
			echo "read_next: shmread exited $rc (try $i):" >&2
			cat "$BATS_TEST_TMPDIR/read_next.err" >&2
			return 1
		fi
	done
	return 1
}

cleanup_pids() {
	local p n
	# grandchildren first, while their parents keep their pids from reuse
	for p in "${GPIDS[@]}"; do
		kill -KILL "$p" 2>/dev/null || true
	done
	GPIDS=()
	for p in "${PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null || true
	done
	for p in "${PIDS[@]}"; do
		n=0
		while alive "$p" && ((n < 300)); do
			sleep 0.01
			n=$((n + 1))
		done
		kill -KILL "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	PIDS=()
}

# cleanup_channels: remove every channel of this test (names start with
# chan_prefix), first the proper way, then exactly its object paths.
cleanup_channels() {
	local prefix f name
	prefix=$(chan_prefix)
	for f in "/dev/shm/shmrw.$prefix"*; do
		[[ -e $f ]] || continue
		name=${f#/dev/shm/shmrw.}
		"$SHMREAD" -r -n "$name" >/dev/null 2>&1 || true
	done
	rm -f "/dev/shm/shmrw.$prefix"* "/dev/shm/sem.shmrw.$prefix"*
}

teardown() {
	cleanup_pids
	cleanup_channels
}

# repeat STRING N: STRING N times
repeat() {
	local i
	for ((i = 0; i < $2; i++)); do
		printf '%s' "$1"
	done
}

# all_lines_start PREFIX TEXT: every line of TEXT starts with PREFIX
all_lines_start() {
	local l
	while IFS= read -r l; do
		if [[ $l != "$1"* ]]; then
			echo "line not starting with '$1': $l" >&2
			return 1
		fi
	done <<<"$2"
}

# has_lines FILE N: FILE has exactly N lines
has_lines() { [[ $(wc -l <"$1") -eq $2 ]]; }

# runs CMD...: bats' run with stderr apart, and the result shown when the
# test fails
runs() {
	run --separate-stderr "$@"
	# shellcheck disable=SC2154 # set by run
	printf '# %s\n#   -> status %s, stdout [%s], stderr [%s]\n' "$*" "$status" "$output" "$stderr"
}
