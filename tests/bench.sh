#!/bin/bash
# Benchmark shmwrite/shmread against pipes and cat.  Run by `make bench`
# from the top of the tree, after ./shmwrite and ./shmread are built.
#
# Environment:
#   BENCH_SIZE        size of the random test file (default 1G; K, M, G
#                     suffixes are powers of 1024)
#   BENCH_RUNS        timed runs per case and side (default 5)
#   BENCH_SWEEP_SIZE  file size for the capacity sweep (default 256M, at
#                     most BENCH_SIZE)
#   BENCH_SWEEP_RUNS  runs per capacity in the sweep (default 3)
#   BENCH_LINES       lines for the -l case (default 5000000)
#   BENCH_CALLS       iterations of the one-message-per-call case (1000)
#   BENCH_TIMEOUT     -t given to every shmwrite/shmread run (default 60),
#                     so that a failing peer cannot hang the benchmark
#
# Each case runs ours and the baseline alternately, BENCH_RUNS times each,
# and compares the medians: ratio = baseline / ours, so above 1 means ours
# is faster.  Output is checked in one separate, untimed run per case.
# This is a report: it exits 0 whether or not the bars are met, and ends
# with the line "bench: N of M bars met".  Times are wall clock from
# $EPOCHREALTIME (microseconds); on a busy machine they are noisy.

# The cases are functions called through variables and traps, and the
# baselines' "useless" cats are the point.
# shellcheck disable=SC2317,SC2002

set -u
set -o pipefail
export LC_ALL=C

cd "$(dirname "$0")/.." || exit 1
W=./shmwrite
R=./shmread
GNUTIME=/usr/bin/time

die() { printf 'bench: %s\n' "$*" >&2; exit 2; }

for b in "$W" "$R"; do
	[ -x "$b" ] || die "$b not found; run make first"
done

# "256M" -> 268435456; empty output if malformed.
parse_size() {
	local v=$1 n mul=1
	[[ $v =~ ^([0-9]+)([kKmMgG]?)$ ]] || return 1
	n=$((10#${BASH_REMATCH[1]}))
	case ${BASH_REMATCH[2]} in
	[kK]) mul=1024 ;;
	[mM]) mul=$((1024 * 1024)) ;;
	[gG]) mul=$((1024 * 1024 * 1024)) ;;
	esac
	((n > 0)) || return 1
	printf '%s\n' $((n * mul))
}

posint() { [[ $1 =~ ^[0-9]+$ ]] && (($1 > 0)); }

SIZE_ARG=${BENCH_SIZE:-1G}
RUNS=${BENCH_RUNS:-5}
SWEEP_ARG=${BENCH_SWEEP_SIZE:-256M}
SWEEP_RUNS=${BENCH_SWEEP_RUNS:-3}
LINES=${BENCH_LINES:-5000000}
CALLS=${BENCH_CALLS:-1000}
TIMEOUT=${BENCH_TIMEOUT:-60}
SIZE=$(parse_size "$SIZE_ARG") || die "invalid BENCH_SIZE: '$SIZE_ARG'"
SWEEP=$(parse_size "$SWEEP_ARG") || die "invalid BENCH_SWEEP_SIZE: '$SWEEP_ARG'"
posint "$RUNS" || die "invalid BENCH_RUNS: '$RUNS'"
posint "$SWEEP_RUNS" || die "invalid BENCH_SWEEP_RUNS: '$SWEEP_RUNS'"
posint "$LINES" || die "invalid BENCH_LINES: '$LINES'"
posint "$CALLS" || die "invalid BENCH_CALLS: '$CALLS'"
posint "$TIMEOUT" || die "invalid BENCH_TIMEOUT: '$TIMEOUT'"
((SWEEP <= SIZE)) || SWEEP=$SIZE

# --- cleanup ----------------------------------------------------------

tmp=
pids=()
chans=()
prefix=bench$$
cleanup() {
	local p c
	trap - EXIT INT TERM HUP
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null
	done
	for c in "${chans[@]}"; do
		"$R" -r -n "$c" 2>/dev/null
	done
	wait 2>/dev/null
	[ -n "$tmp" ] && rm -rf "$tmp"
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM
trap 'cleanup; exit 129' HUP

tmp=$(mktemp -d "${TMPDIR:-/tmp}/shmbench.XXXXXX") || die "mktemp failed"
# A snapshot of the binaries, so that a rebuild during the run (make clean,
# a sanitizer build) cannot change or remove what is measured.
cp "$W" "$R" "$tmp/" || die "cannot copy the binaries"
W=$tmp/shmwrite
R=$tmp/shmread
DATA=$tmp/data
SWEEPDATA=$tmp/data.sweep

# A channel name of our own; remembered so that cleanup can remove it.
chan() {
	CH=$prefix-$1
	chans+=("$CH")
}

# Anything of ours left in /dev/shm after a case is a bug in the tools:
# count it, say so, and remove it.
leftovers=0
check_left() {
	local f c found=()
	for f in /dev/shm/shmrw."$prefix"-* /dev/shm/sem.shmrw."$prefix"-*; do
		[ -e "$f" ] && found+=("${f#/dev/shm/}")
	done
	((${#found[@]} == 0)) && return 0
	leftovers=$((leftovers + ${#found[@]}))
	printf '  LEFT IN /dev/shm after %s: %s\n' "$1" "${found[*]}"
	for c in "${chans[@]}"; do
		"$R" -r -n "$c" 2>/dev/null
	done
	for f in "${found[@]}"; do
		rm -f "/dev/shm/$f" 2>/dev/null
	done
	return 1
}

# --- numbers ----------------------------------------------------------

# Median of integers.
median() {
	printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 }
	    END { if (NR % 2) print a[(NR + 1) / 2];
		  else printf "%d\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

# Microseconds as seconds.
secs() { printf '%d.%03d' $(($1 / 1000000)) $(($1 / 1000 % 1000)); }

# Run "$@", set T to its wall time in microseconds; returns its status.
T=0
timed() {
	local t0 t1 rc
	t0=${EPOCHREALTIME//[!0-9]/}
	"$@"
	rc=$?
	t1=${EPOCHREALTIME//[!0-9]/}
	T=$((t1 - t0))
	return "$rc"
}

# Standard input to "SIZE SHA256".
digest() {
	local fifo=$tmp/fifo n sp
	rm -f "$fifo"
	mkfifo "$fifo" || return 1
	sha256sum <"$fifo" >"$tmp/sha" &
	sp=$!
	n=$(tee "$fifo" | wc -c) || { wait "$sp"; return 1; }
	wait "$sp" || return 1
	printf '%s %s\n' "$n" "$(cut -d' ' -f1 <"$tmp/sha")"
}

# --- the cases ----------------------------------------------------------

# Both tools at once; extra arguments (-s SIZE) go to both.
ours_bulk() {
	local c=$1 wp rp a b
	shift
	"$W" "$@" -t "$TIMEOUT" -n "$c" <"$DATA" &
	wp=$!
	"$R" "$@" -t "$TIMEOUT" -n "$c" >/dev/null &
	rp=$!
	pids=("$wp" "$rp")
	wait "$wp"
	a=$?
	wait "$rp"
	b=$?
	pids=()
	((a == 0 && b == 0))
}
base_pipe() { cat "$DATA" | cat >/dev/null; }
base_cat() { cat "$DATA" >/dev/null; }

ours_pipes() {
	local c=$1 wp rp a b
	cat "$DATA" | "$W" -t "$TIMEOUT" -n "$c" &
	wp=$!
	("$R" -t "$TIMEOUT" -n "$c" | cat >/dev/null) &
	rp=$!
	pids=("$wp" "$rp")
	wait "$wp"
	a=$?
	wait "$rp"
	b=$?
	pids=()
	((a == 0 && b == 0))
}
base_pipes() { cat "$DATA" | cat | cat >/dev/null; }

ours_lines() {
	local c=$1 wp rp a b
	seq 1 "$LINES" | "$W" -l -t "$TIMEOUT" -n "$c" &
	wp=$!
	"$R" -t "$TIMEOUT" -n "$c" -c "$LINES" >/dev/null &
	rp=$!
	pids=("$wp" "$rp")
	wait "$wp"
	a=$?
	wait "$rp"
	b=$?
	pids=()
	((a == 0 && b == 0))
}
base_lines() { seq 1 "$LINES" | cat | cat >/dev/null; }

ours_calls() {
	local c=$1 i bad=0
	for ((i = 0; i < CALLS; i++)); do
		"$W" -t "$TIMEOUT" -n "$c" hello || bad=1
		"$R" -t "$TIMEOUT" -n "$c" || bad=1
	done
	return "$bad"
}
base_calls() {
	local f=$tmp/msg i
	for ((i = 0; i < CALLS; i++)); do
		/usr/bin/printf 'hello\n' >"$f"
		cat "$f"
	done
}

# The untimed runs that check the output: each prints "SIZE SHA256".
verify_bulk() {
	local c=$1 wp out
	"$W" -t "$TIMEOUT" -n "$c" <"$DATA" &
	wp=$!
	pids=("$wp")
	out=$("$R" -t "$TIMEOUT" -n "$c" | digest) || out="reader failed"
	wait "$wp" || out="$out; writer failed"
	pids=()
	printf '%s\n' "$out"
}
verify_pipes() {
	local c=$1 wp out
	cat "$DATA" | "$W" -t "$TIMEOUT" -n "$c" &
	wp=$!
	pids=("$wp")
	out=$("$R" -t "$TIMEOUT" -n "$c" | cat | digest) || out="reader failed"
	wait "$wp" || out="$out; writer failed"
	pids=()
	printf '%s\n' "$out"
}
verify_lines() {
	local c=$1 wp out
	seq 1 "$LINES" | "$W" -l -t "$TIMEOUT" -n "$c" &
	wp=$!
	pids=("$wp")
	out=$("$R" -t "$TIMEOUT" -n "$c" -c "$LINES" | digest) || out="reader failed"
	wait "$wp" || out="$out; writer failed"
	pids=()
	printf '%s\n' "$out"
}
verify_calls() {
	local out
	out=$(ours_calls "$1" | digest) || out="a call failed"
	printf '%s\n' "$out"
}

# --- the report ---------------------------------------------------------

rows=()
met=0
bars=0

# row CASE OURS_US BASE_US MIN_RATIO BAR_TEXT OK_SO_FAR NOTE
row() {
	local name=$1 o=$2 b=$3 min=$4 bartext=$5 ok=$6 note=$7 ratio res
	ratio=$(awk -v b="$b" -v o="$o" 'BEGIN { printf "%.2f", (o > 0 ? b / o : 0) }')
	if [ "$ok" = 1 ] && awk -v b="$b" -v o="$o" -v m="$min" \
	    'BEGIN { exit !(o > 0 && b / o >= m) }'; then
		res=PASS
		met=$((met + 1))
	else
		res=FAIL
	fi
	bars=$((bars + 1))
	rows+=("$(printf '%-22s %9s %9s %7s  %-16s %-4s %s' "$name" \
	    "$(secs "$o")" "$(secs "$b")" "$ratio" "$bartext" "$res" "$note")")
}

# run_case NAME MIN BARTEXT OURS BASE VERIFY WANT
# OURS/BASE are functions; OURS and VERIFY get a channel name.  VERIFY's
# output must equal WANT ("" = no check).
run_case() {
	local name=$1 min=$2 bartext=$3 ours=$4 base=$5 verify=$6 want=$7
	local i o=() b=() ok=1 note="" got
	chan "${name//[!a-z]/}"
	printf '%s:\n' "$name"
	if [ -n "$verify" ]; then
		got=$("$verify" "$CH")
		if [ "$got" != "$want" ]; then
			ok=0
			note="output differs"
			printf '  verify: FAILED: got %s, want %s\n' "$got" "$want"
		else
			printf '  verify: ok (%s)\n' "$got"
		fi
		check_left "$name (verify)" || { ok=0; note="left objects"; }
	fi
	for ((i = 1; i <= RUNS; i++)); do
		if ! timed "$ours" "$CH" >/dev/null; then
			ok=0
			note="ours failed"
		fi
		o+=("$T")
		timed "$base" >/dev/null || note="baseline failed"
		b+=("$T")
	done
	check_left "$name" || { ok=0; note="left objects"; }
	printf '  ours: '
	for i in "${o[@]}"; do printf ' %s' "$(secs "$i")"; done
	printf '\n  base: '
	for i in "${b[@]}"; do printf ' %s' "$(secs "$i")"; done
	printf '\n'
	row "$name" "$(median "${o[@]}")" "$(median "${b[@]}")" "$min" \
	    "$bartext" "$ok" "$note"
}

# Peak RSS (KiB) of each tool while the whole file streams through, on a
# channel of the default capacity (read back with --status).
memory() {
	local c wp rp cap="" i rw rr lim
	chan mem
	c=$CH
	printf 'memory:\n'
	if ! command -v "$GNUTIME" >/dev/null; then
		printf '  skipped: install the time package (GNU time, %s)\n' \
		    "$GNUTIME"
		rows+=("memory                 skipped: install the time package")
		return
	fi
	"$GNUTIME" -f %M -o "$tmp/rss.r" "$R" -t "$TIMEOUT" -n "$c" >/dev/null &
	rp=$!
	pids=("$rp")
	for ((i = 0; i < 500 && ${#cap} == 0; i++)); do
		cap=$("$R" --status -n "$c" 2>/dev/null |
		    sed -n 's/^capacity: //p')
		[ -n "$cap" ] || sleep 0.01
	done
	if [ -z "$cap" ]; then
		printf '  the reader never created %s\n' "$c"
		rows+=("memory                 FAIL: the channel never appeared")
		bars=$((bars + 2))
		return
	fi
	"$GNUTIME" -f %M -o "$tmp/rss.w" "$W" -t "$TIMEOUT" -n "$c" <"$DATA" &
	wp=$!
	pids=("$wp" "$rp")
	wait "$wp"
	wait "$rp"
	pids=()
	check_left memory
	rw=$(tail -n 1 "$tmp/rss.w")
	rr=$(tail -n 1 "$tmp/rss.r")
	lim=$((cap / 1024 + 4096))
	printf '  capacity %s bytes; peak RSS shmwrite %s KiB, shmread %s KiB\n' \
	    "$cap" "$rw" "$rr"
	for i in shmwrite:"$rw" shmread:"$rr"; do
		bars=$((bars + 1))
		if [[ ${i#*:} =~ ^[0-9]+$ ]] && ((${i#*:} <= lim)); then
			met=$((met + 1))
			rows+=("$(printf '%-22s %9s %9s %7s  %-16s %-4s' \
			    "memory ${i%%:*}" "${i#*:}K" - - "<= ${lim}K" PASS)")
		else
			rows+=("$(printf '%-22s %9s %9s %7s  %-16s %-4s' \
			    "memory ${i%%:*}" "${i#*:}K" - - "<= ${lim}K" FAIL)")
		fi
	done
}

# Median bulk time per capacity, on a smaller file.
sweep() {
	local s i t o b bm
	printf 'capacity sweep: bulk case, %s MiB file, median of %s runs\n' \
	    $((SWEEP / 1048576)) "$SWEEP_RUNS"
	b=()
	for ((i = 0; i < SWEEP_RUNS; i++)); do
		DATA=$SWEEPDATA timed base_pipe
		b+=("$T")
	done
	bm=$(median "${b[@]}")
	printf '  %-8s %9s %9s %9s\n' "-s" "median s" "MiB/s" "cat|cat/x"
	for s in 64K 256K 1M 4M 16M; do
		chan "s$s"
		o=()
		for ((i = 0; i < SWEEP_RUNS; i++)); do
			DATA=$SWEEPDATA timed ours_bulk "$CH" -s "$s" ||
			    printf '  -s %s: run %s failed\n' "$s" "$i"
			o+=("$T")
		done
		check_left "sweep -s $s"
		t=$(median "${o[@]}")
		printf '  %-8s %9s %9s %9s\n' "$s" "$(secs "$t")" \
		    "$(awk -v n="$SWEEP" -v t="$t" \
			'BEGIN { printf "%.0f", n / 1048576 / (t / 1e6) }')" \
		    "$(awk -v b="$bm" -v t="$t" 'BEGIN { printf "%.2f", b / t }')"
	done
	printf '  (cat | cat: %s s)\n' "$(secs "$bm")"
}

# --- main -----------------------------------------------------------------

printf 'shmwrite/shmread benchmark\n'
printf 'machine: %s cpus, %s, Linux %s\n' "$(nproc)" \
    "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)" \
    "$(uname -r)"
printf 'version: %s' "$("$W" -V)"
if command -v git >/dev/null && c=$(git rev-parse --short HEAD 2>/dev/null); then
	printf ' (commit %s)' "$c"
fi
printf '\n'
if grep -q -e __asan_init -e __ubsan_handle "$W" "$R"; then
	printf 'WARNING: the binaries are sanitizer builds; the times mean little\n'
fi
printf 'load average at start: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
printf 'reproduce: BENCH_SIZE=%s BENCH_RUNS=%s BENCH_SWEEP_SIZE=%s BENCH_SWEEP_RUNS=%s make bench\n' \
    "$SIZE_ARG" "$RUNS" "$SWEEP_ARG" "$SWEEP_RUNS"
printf 'ratio = baseline median / ours median (above 1: ours faster)\n\n'

t0=$SECONDS
head -c "$SIZE" /dev/urandom >"$DATA" || die "cannot write the test file"
if ((SWEEP == SIZE)); then
	SWEEPDATA=$DATA
else
	head -c "$SWEEP" "$DATA" >"$SWEEPDATA" ||
	    die "cannot write the sweep file"
fi
want_data=$(digest <"$DATA")
want_lines=$(seq 1 "$LINES" | digest)
want_calls=$(yes hello | head -n "$CALLS" | digest)
cat "$DATA" >/dev/null		# warm the page cache
printf 'test file: %s bytes of random data (%s s to make and checksum)\n\n' \
    "$SIZE" $((SECONDS - t0))

sweep
printf '\n'
mib=$((SIZE / 1048576))
run_case "bulk ${mib}M" 3 ">= 3" ours_bulk base_pipe verify_bulk "$want_data"
run_case "near copy limit" 0.7 ">= 0.7" ours_bulk base_cat verify_bulk \
    "$want_data"
run_case "pipes at both ends" 1 ">= 1" ours_pipes base_pipes verify_pipes \
    "$want_data"
run_case "lines ($LINES)" 0.5 ">= 0.5" ours_lines base_lines verify_lines \
    "$want_lines"
run_case "one msg/call ($CALLS)" 0.8333 ">= 0.83 (1/1.2)" ours_calls \
    base_calls verify_calls "$want_calls"
memory

printf '\ncases (median of %s runs; ours vs baseline; every shmwrite/shmread gets -t %s):\n' \
    "$RUNS" "$TIMEOUT"
printf '  bulk: shmwrite <file & shmread >/dev/null  vs  cat file | cat >/dev/null\n'
printf '  near copy limit: the same  vs  cat file >/dev/null\n'
printf '  pipes: cat file | shmwrite & shmread | cat >/dev/null  vs  cat file | cat | cat >/dev/null\n'
printf '  lines: seq | shmwrite -l & shmread -c N >/dev/null  vs  seq | cat | cat >/dev/null\n'
printf '  one msg/call: shmwrite hello; shmread  vs  printf hello >f; cat f\n\n'
printf '%-22s %9s %9s %7s  %-16s %-4s %s\n' case "ours s" "base s" ratio bar result note
for r in "${rows[@]}"; do
	printf '%s\n' "$r"
done
printf '\nload average at end: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
if ((leftovers > 0)); then
	printf 'objects left in /dev/shm: %s (removed; see above)\n' "$leftovers"
else
	printf 'objects left in /dev/shm: none\n'
fi
printf 'bench: %s of %s bars met\n' "$met" "$bars"
exit 0
