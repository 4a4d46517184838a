#!/bin/bash
# make bench: shmwrite and shmread against what they replace, each case in
# three placements - both ends on one CPU, one CPU each, the scheduler's
# choice - with the anchors measured side by side in the same run, runs
# interleaved, medians reported.  Ratio = anchor time / ours: above 1, ours
# is faster.  Every output is checked once, untimed.  It reports; it exits
# 0 whether or not the targets are met, and ends with "bench: N of M
# targets met".
#
# Environment: BENCH_SIZE (bulk bytes, default 256M), BENCH_RUNS (5),
# BENCH_LINES (5000000), BENCH_PINGS (10000 round trips), BENCH_CALLS
# (1000), BENCH_SWEEP (1 to run the capacity sweep, default 1).

# The cases are functions run through variables; the cats are the point.
# shellcheck disable=SC2317,SC2002

set -u
set -o pipefail
# the locale of the caller, for the per call case: printf and cat load its
# data at each start, as they do in the caller's scripts
CALLER_LOCALE=${LC_ALL:-${LANG:-C}}
export LC_ALL=C
cd "$(dirname "$0")/.." || exit 1

die() { printf 'bench: %s\n' "$*" >&2; exit 2; }
size() {
	[[ $1 =~ ^([0-9]+)([KMG]?)$ ]] || die "invalid size: '$1'"
	case ${BASH_REMATCH[2]} in
	K) echo $((BASH_REMATCH[1] << 10)) ;;
	M) echo $((BASH_REMATCH[1] << 20)) ;;
	G) echo $((BASH_REMATCH[1] << 30)) ;;
	*) echo "${BASH_REMATCH[1]}" ;;
	esac
}
SIZE=$(size "${BENCH_SIZE:-256M}")
RUNS=${BENCH_RUNS:-5}
LINES=${BENCH_LINES:-5000000}
PINGS=${BENCH_PINGS:-10000}
CALLS=${BENCH_CALLS:-1000}
SWEEP=${BENCH_SWEEP:-1}
MQ_LINES=$((LINES / 10))	# mq is slow: a tenth, its time scaled up
for v in RUNS LINES PINGS CALLS; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "invalid BENCH_$v: '${!v}'"
done

for b in shmwrite shmread tests/anchor; do
	[[ -x $b ]] || die "$b not found; run make bench"
done
ncpu=$(nproc)
((ncpu >= 2)) || echo "bench: one CPU here: the 'one CPU each' placement is the same as 'one CPU'"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/shmbench.XXXXXX") || die "mktemp failed"
# a snapshot of what is measured, so that a rebuild meanwhile changes nothing
cp shmwrite shmread tests/anchor "$tmp/" || die "cannot copy the binaries"
W=$tmp/shmwrite R=$tmp/shmread A=$tmp/anchor
C=bench-$$
pids=()
cleanup() {
	local p
	trap - EXIT INT TERM HUP
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null
	done
	wait 2>/dev/null
	"$R" -r -n "$C" 2>/dev/null
	rm -f "/dev/shm/$C".* "/dev/mqueue/$C" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# --- placements --------------------------------------------------------

# P0, P1: how the writing and the reading side are run
place() {
	case $1 in
	one) P0=(taskset -c 0) P1=(taskset -c 0) PM=(taskset -c 0) ;;
	each) P0=(taskset -c 0) P1=(taskset -c $((ncpu > 1))) PM=(taskset -c "0,$((ncpu > 1))") ;;
	any) P0=() P1=() PM=() ;;
	esac
}
PLACES=(one each any)
declare -A PLACE_NAME=([one]="both on one CPU" [each]="one CPU each" [any]="scheduler's choice")

# --- timing --------------------------------------------------------------

now() { local t=${EPOCHREALTIME/[.,]/}; echo "$t"; }

# median N...: of integers
median() { printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

# measure NAME FUNC...: run each FUNC RUNS times, interleaved; the median
# wall time (us) of each goes to TIME[NAME/FUNC].  A run that fails stops
# the bench.  FUNC_prep and FUNC_done, where defined, run before and after
# each run of FUNC, untimed (the subscribers that must be there before the
# writer starts, and their end).
declare -A TIME
measure() {
	local name=$1 f r t0
	shift
	declare -A all=()
	for ((r = 0; r < RUNS; r++)); do
		for f in "$@"; do
			if declare -F "${f}_prep" >/dev/null; then
				"${f}_prep" || die "$name: ${f}_prep failed"
			fi
			t0=$(now)
			"$f" || die "$name: $f failed"
			all[$f]+="$(($(now) - t0)) "
			if declare -F "${f}_done" >/dev/null; then
				"${f}_done" || die "$name: ${f}_done failed"
			fi
		done
	done
	for f in "$@"; do
		# shellcheck disable=SC2086 # the list of times
		TIME[$name/$f]=$(median ${all[$f]})
	done
}

ms() { awk -v a="$1" 'BEGIN { printf "%.1f", a / 1000 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a >= b) }'; }

# --- bulk ----------------------------------------------------------------

DATA=$tmp/data
head -c "$SIZE" /dev/urandom >"$DATA" || die "no data"

ours_bulk() { "${P0[@]}" "$W" -n "$C" "$@" <"$DATA" & "${P1[@]}" "$R" -n "$C" "$@" >/dev/null; local r=$?; wait $! && ((r == 0)); }
copy_bulk() { "${P0[@]}" cat "$DATA" >/dev/null; }
pipe_bulk() { "${P0[@]}" cat "$DATA" | "${P1[@]}" cat >/dev/null; }
mbuffer_bulk() { "${PM[@]}" mbuffer -q -m 1M <"$DATA" >/dev/null; }
lockstep_bulk() { "${P0[@]}" "$A" lockstep-write "/$C.ls" <"$DATA" & "${P1[@]}" "$A" lockstep-read "/$C.ls" >/dev/null; local r=$?; wait $! && ((r == 0)); }

# --- lines ---------------------------------------------------------------

ours_lines() { "${P0[@]}" seq "$LINES" | "${P0[@]}" "$W" -l -n "$C" & "${P1[@]}" "$R" -c "$LINES" -n "$C" >/dev/null; local r=$?; wait $! && ((r == 0)); }
pipe_lines() { "${P0[@]}" seq "$LINES" | "${P0[@]}" cat | "${P1[@]}" cat >/dev/null; }
mq_lines() { "${P0[@]}" seq "$MQ_LINES" | "${P0[@]}" "$A" mq-send "/$C.mq" & "${P1[@]}" "$A" mq-recv "/$C.mq" "$MQ_LINES" >/dev/null; local r=$?; wait $! && ((r == 0)); }

# --- broadcast -------------------------------------------------------------

# attached N: wait (10 s at most) until N processes of the channel sleep on
# data: its subscribers, taps or readers have stored their position and
# wait for the writer
attached() {
	local i s n
	for ((i = 0; i < 2000; i++)); do
		s=$("$R" --status --json -n "$C" 2>/dev/null) && {
			n=$(grep -o '"waits":"data"' <<<"$s" | wc -l)
			((n >= $1)) && return 0
		}
		sleep 0.005
	done
	printf 'bench: %s: %d of %d readers attached after 10 s\n' "$C" "${n:-0}" "$1" >&2
	return 1
}
# waitall PID...: each of them, 0 if all exited 0
waitall() { local p r=0; for p; do wait "$p" || r=1; done; return $r; }
# subs N ARG...: N shmread ARG... >/dev/null in the background, attached;
# their pids in SUBS (and pids, for the cleanup)
SUBS=()
subs() {
	local i n=$1
	shift
	SUBS=()
	for ((i = 0; i < n; i++)); do
		"${P1[@]}" "$R" -n "$C" "$@" >/dev/null 2>&1 & SUBS+=($!)
	done
	pids=("${SUBS[@]}")
	attached "$n"
}
# the writer of the broadcast cases, timed from its start to the end of the
# readers, which were attached (and asleep) before it started
bwrite() { "${P0[@]}" "$W" -n "$C" <"$1"; local r=$?; waitall "${SUBS[@]}" && ((r == 0)); }

# one subscriber against one queue reader, both there before the writer
sub_bulk_prep() { subs 1 -b; }
sub_bulk() { bwrite "$DATA"; }
queue_bulk_prep() { subs 1; }
queue_bulk() { bwrite "$DATA"; }

# four subscribers against cat f | tee >(cat) >(cat) >(cat) | cat, its
# three process substitutions as FIFOs, so that their cats are waited for
FAN=$((SIZE < 128 << 20 ? SIZE : 128 << 20))
FANDATA=$tmp/fan
head -c "$FAN" "$DATA" >"$FANDATA" || die "no data"
{ mkdir "$tmp/tee" && mkfifo "$tmp/tee/1" "$tmp/tee/2" "$tmp/tee/3"; } || die "mkfifo"
fan4_fan_prep() { subs 4 -b; }
fan4_fan() { bwrite "$FANDATA"; }
tee_fan() {
	local d=$tmp/tee i r
	SUBS=()
	for i in 1 2 3; do
		"${P1[@]}" cat "$d/$i" >/dev/null & SUBS+=($!)
	done
	"${P0[@]}" cat "$FANDATA" | "${P0[@]}" tee "$d/1" "$d/2" "$d/3" | "${P1[@]}" cat >/dev/null
	r=$?
	waitall "${SUBS[@]}" && ((r == 0))
}

# a writer past a stopped lossy subscriber, or a stopped tap, against the
# same writer alone on the same kind of channel: each made with -k before
# the run and removed after it
kept() { "$R" -k -c 0 -n "$C" "$@"; }
unkept() { "$R" -r -n "$C"; }
stop_them() { kill -STOP "${SUBS[@]}"; }
# end_them: the stopped readers end on SIGTERM, once continued
end_them() {
	kill -TERM "${SUBS[@]}" && kill -CONT "${SUBS[@]}" || return 1
	wait "${SUBS[@]}"
	pids=() SUBS=()
}
alone_lossy_prep() { kept --lossy; }
alone_lossy() { "${P0[@]}" "$W" -n "$C" <"$DATA"; }
alone_lossy_done() { unkept; }
stopped_lossy_prep() { kept --lossy && subs 1 -f && stop_them; }
stopped_lossy() { "${P0[@]}" "$W" -n "$C" <"$DATA"; }
stopped_lossy_done() { end_them; unkept; }
alone_tap_prep() { kept -b; }
alone_tap() { "${P0[@]}" "$W" -n "$C" <"$DATA"; }
alone_tap_done() { unkept; }
stopped_tap_prep() { kept -b && subs 1 --tap -f && stop_them; }
stopped_tap() { "${P0[@]}" "$W" -n "$C" <"$DATA"; }
stopped_tap_done() { end_them; unkept; }
# and on a queue: a writer and its reader, with a stopped tap or without
alone_qtap_prep() { kept; }
alone_qtap() { ours_bulk; }
alone_qtap_done() { unkept; }
stopped_qtap_prep() { kept && subs 1 --tap -f && stop_them; }
stopped_qtap() { ours_bulk; }
stopped_qtap_done() { end_them; unkept; }

# --- latency ---------------------------------------------------------------

# ping KIND: round trips through ours (shmwrite -l to shmread -f), through a
# subscriber (sub: shmwrite -l to shmread -b -f) or through a FIFO between
# two cats; "p50 p99" in us to LAT[KIND]
declare -A LAT
ping() {
	local d=$tmp/ping a b
	rm -rf "$d"
	{ mkdir "$d" && mkfifo "$d/a" "$d/b" "$d/c"; } || die "mkfifo"
	if [[ $1 == ours ]]; then
		"${P0[@]}" "$W" -l -n "$C" <"$d/a" & a=$!
		"${P1[@]}" "$R" -f -n "$C" >"$d/b" & b=$!
	elif [[ $1 == sub ]]; then
		# the subscriber first, attached before the writer starts;
		# its FIFO opened read-write, so that it does not wait for ping
		"${P1[@]}" "$R" -b -f -n "$C" 1<>"$d/b" & b=$!
		pids=("$b")
		attached 1 || die "ping sub: no subscriber"
		"${P0[@]}" "$W" -l -n "$C" <"$d/a" & a=$!
	else
		"${P0[@]}" cat <"$d/a" >"$d/c" & a=$!
		"${P1[@]}" cat <"$d/c" >"$d/b" & b=$!
	fi
	pids=("$a" "$b")
	LAT[$1]=$("${P0[@]}" "$A" ping "$PINGS" "$d/a" "$d/b") || die "ping $1 failed"
	kill "$b" 2>/dev/null
	wait "$a" "$b" 2>/dev/null
	pids=()
}

# --- checks, once, untimed --------------------------------------------------

# same OUT FUNC...: FUNC... writes what OUT holds
same() {
	local out=$1
	shift
	"$@" | cmp -s - "$out"
}
check() {
	place any
	seq "$LINES" >"$tmp/lines"
	same "$DATA" ours_bulk_out || die "ours: bulk output differs"
	same "$DATA" lockstep_out || die "lock-step pair: output differs"
	same "$DATA" mbuffer_out || die "mbuffer: output differs"
	same "$tmp/lines" ours_lines_out || die "ours: lines differ"
	same <(seq "$MQ_LINES") mq_lines_out || die "POSIX mq: lines differ"
	same "$DATA" sub_bulk_out || die "ours: a subscriber's bulk output differs"
	fan_check || die "ours: the output of one of four subscribers differs"
	tee_check || die "tee: the output of one of its cats differs"
	local k
	for k in lossy tap qtap; do
		stalled_check "$k" || die "ours: a writer past a stopped $k failed"
	done
	[[ -z $(find /dev/shm -name "*$C*") ]] || die "left in /dev/shm: $(find /dev/shm -name "*$C*")"
}
sub_bulk_out() {
	"$R" -b -n "$C" & SUBS=($!)
	attached 1 && "$W" -n "$C" <"$DATA" >/dev/null && waitall "${SUBS[@]}"
}
# fan_check: each of four subscribers writes out all of FANDATA
fan_check() {
	local i
	SUBS=()
	for ((i = 0; i < 4; i++)); do
		{ "$R" -b -n "$C" | cmp -s - "$FANDATA"; } & SUBS+=($!)
	done
	attached 4 && "$W" -n "$C" <"$FANDATA" && waitall "${SUBS[@]}"
}
tee_check() {
	local d=$tmp/tee i r
	SUBS=()
	for i in 1 2 3; do
		cmp -s "$d/$i" "$FANDATA" & SUBS+=($!)
	done
	cat "$FANDATA" | tee "$d/1" "$d/2" "$d/3" | cmp -s - "$FANDATA"
	r=$?
	waitall "${SUBS[@]}" && ((r == 0))
}
# stalled_check KIND: the writer passes its stopped reader (lossy, tap or
# qtap), which is still attached after it, and asleep on data
stalled_check() {
	local s n
	"stopped_$1_prep" && "stopped_$1" || return 1
	s=$("$R" --status --json -n "$C") || return 1
	n=$(grep -o '"waits":"data"' <<<"$s" | wc -l)
	"stopped_$1_done" && ((n == 1))
}
mbuffer_out() { mbuffer -q -m 1M <"$DATA"; }
ours_bulk_out() { "$W" -n "$C" <"$DATA" & "$R" -n "$C"; local r=$?; wait $! && ((r == 0)); }
lockstep_out() { "$A" lockstep-write "/$C.ls" <"$DATA" & "$A" lockstep-read "/$C.ls"; local r=$?; wait $! && ((r == 0)); }
ours_lines_out() { seq "$LINES" | "$W" -l -n "$C" & "$R" -c "$LINES" -n "$C"; local r=$?; wait $! && ((r == 0)); }
mq_lines_out() { seq "$MQ_LINES" | "$A" mq-send "/$C.mq" & "$A" mq-recv "/$C.mq" "$MQ_LINES"; local r=$?; wait $! && ((r == 0)); }

# --- per call ----------------------------------------------------------------

calls_ours() { local i; for ((i = 0; i < CALLS; i++)); do "$W" -n "$C" hello && "$R" -n "$C" >/dev/null || return 1; done; }
calls_file() { local i; for ((i = 0; i < CALLS; i++)); do /usr/bin/printf 'hello\n' >"$tmp/f" && cat "$tmp/f" >/dev/null || return 1; done; }

# --- the report ----------------------------------------------------------------

met=0 targets=0
target() { # DESC RATIO MIN
	targets=$((targets + 1))
	if ge "$2" "$3"; then
		met=$((met + 1))
		printf '  met:     %s: %s >= %s\n' "$1" "$2" "$3"
	else
		printf '  NOT MET: %s: %s < %s\n' "$1" "$2" "$3"
	fi
}

cat <<EOF
bench: $(uname -sr), $ncpu CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), load $(cut -d' ' -f1-3 /proc/loadavg)
bench: bulk $((SIZE >> 20)) MiB (four subscribers: $((FAN >> 20)) MiB), $LINES lines, $PINGS round trips, $CALLS calls; medians of $RUNS runs, interleaved
EOF
check

declare -A MIN
for p in "${PLACES[@]}"; do
	place "$p"
	measure "bulk $p" ours_bulk copy_bulk pipe_bulk mbuffer_bulk lockstep_bulk
	measure "lines $p" ours_lines pipe_lines mq_lines
	t=${TIME[lines $p/mq_lines]}
	TIME[lines $p/mq_lines]=$((t * LINES / MQ_LINES))
	ping ours
	ping fifo
	ping sub
	LAT[ours/$p]=${LAT[ours]} LAT[fifo/$p]=${LAT[fifo]} LAT[sub/$p]=${LAT[sub]}
	measure "sub $p" sub_bulk queue_bulk
	measure "fan $p" fan4_fan tee_fan
	measure "stall $p" alone_lossy stopped_lossy alone_tap stopped_tap alone_qtap stopped_qtap
done

# row CASE ANCHOR...: per placement, ours and each anchor with its ratio;
# the ratios also go to MIN[CASE ANCHOR PLACEMENT]
row() {
	local kind=$1 p o t r a
	shift
	for p in "${PLACES[@]}"; do
		o=${TIME[$kind $p/ours_$kind]}
		printf '  %-20s %8s' "${PLACE_NAME[$p]}" "$(ms "$o")"
		[[ $kind != lines ]] || printf ' %6s' "$(ratio "$LINES" "$o")"
		for a in "$@"; do
			t=${TIME[$kind $p/${a}_$kind]}
			r=$(ratio "$t" "$o")
			printf ' %8s %6s' "$(ms "$t")" "$r"
			MIN[$kind $a $p]=$r
		done
		printf '\n'
	done
}

printf '\nbulk: %s MiB, shmwrite <file, shmread >/dev/null (ms; ratio = anchor / ours)\n' $((SIZE >> 20))
printf '  %-20s %8s %8s %6s %8s %6s %8s %6s %8s %6s\n' placement ours "1 copy" ratio pipe ratio mbuffer ratio lockstep ratio
row bulk copy pipe mbuffer lockstep

printf '\nlines: seq %s | shmwrite -l, shmread -c %s (ms; M messages/s; POSIX mq: %s lines, time x %s)\n' "$LINES" "$LINES" "$MQ_LINES" $((LINES / MQ_LINES))
printf '  %-20s %8s %6s %8s %6s %8s %6s\n' placement ours 'M/s' pipe ratio 'POSIX mq' ratio
row lines pipe mq

printf '\nlatency: %s round trips of a short line, shmwrite -l to shmread -f, against a FIFO between two cats (us)\n' "$PINGS"
printf '  %-20s %8s %8s %8s %8s %8s %8s\n' placement 'ours p50' 'p99' 'FIFO p50' p99 'sub p50' p99
for p in "${PLACES[@]}"; do
	read -r o50 o99 <<<"${LAT[ours/$p]}"
	read -r f50 f99 <<<"${LAT[fifo/$p]}"
	read -r s50 s99 <<<"${LAT[sub/$p]}"
	printf '  %-20s %8s %8s %8s %8s %8s %8s\n' "${PLACE_NAME[$p]}" "$o50" "$o99" "$f50" "$f99" "$s50" "$s99"
	MIN[lat50 $p]=$(ratio "$f50" "$o50") MIN[lat99 $p]=$(ratio "$f99" "$o99")
	MIN[sub50 $p]=$(ratio "$o50" "$s50") MIN[sub99 $p]=$(ratio "$o99" "$s99")
done
printf '  (sub: shmwrite -l to one shmread -b -f, attached first: its ratios are against ours, the queue)\n'

# pair CASE OURS ANCHOR: per placement, ours, the anchor and their ratio,
# also in MIN[CASE PLACEMENT]
pair() {
	local p o t
	for p in "${PLACES[@]}"; do
		o=${TIME[$1 $p/$2]} t=${TIME[$1 $p/$3]}
		MIN[$1 $p]=$(ratio "$t" "$o")
		printf '  %-20s %8s %8s %6s\n' "${PLACE_NAME[$p]}" "$(ms "$o")" "$(ms "$t")" "${MIN[$1 $p]}"
	done
}
printf '\nbroadcast, one subscriber: %s MiB, shmwrite <file, shmread -b >/dev/null, against a queue reader (ms; attached before the writer starts, timed from its start)\n' $((SIZE >> 20))
printf '  %-20s %8s %8s %6s\n' placement subscr. queue ratio
pair sub sub_bulk queue_bulk
printf '\nbroadcast, four subscribers: %s MiB, against cat f | tee >(cat) >(cat) >(cat) | cat, all to /dev/null (ms)\n' $((FAN >> 20))
printf '  %-20s %8s %8s %6s\n' placement ours tee ratio
pair fan fan4_fan tee_fan
printf '\nstopped readers: %s MiB, shmwrite <file past a stopped reader, against the same writer alone on the same kind of channel (ms)\n' $((SIZE >> 20))
printf '  %-20s %8s %8s %6s %8s %8s %6s %8s %8s %6s\n' placement 'lossy s' alone ratio 'tap (b)' alone ratio 'tap (q)' alone ratio
for p in "${PLACES[@]}"; do
	printf '  %-20s' "${PLACE_NAME[$p]}"
	for k in lossy tap qtap; do
		o=${TIME[stall $p/stopped_$k]} t=${TIME[stall $p/alone_$k]}
		MIN[stall $k $p]=$(ratio "$t" "$o")
		printf ' %8s %8s %6s' "$(ms "$o")" "$(ms "$t")" "${MIN[stall $k $p]}"
	done
	printf '\n'
done
printf '  (lossy s: a stopped --lossy subscriber; tap (b): a stopped tap on a broadcast channel;\n   tap (q): a stopped tap on a queue, with its writer and reader timed)\n'

place any
LC_ALL=$CALLER_LOCALE measure calls calls_ours calls_file
measure "calls C" calls_ours calls_file
co=${TIME[calls/calls_ours]} cf=${TIME[calls/calls_file]}
printf '\nper call: %s x (shmwrite hello; shmread), against %s x (/usr/bin/printf >f; cat f)\n' "$CALLS" "$CALLS"
printf '  in the locale %s: ours %s ms, file %s ms, ratio %s\n' "$CALLER_LOCALE" "$(ms "$co")" "$(ms "$cf")" "$(ratio "$cf" "$co")"
printf '  in the locale C (printf and cat load no locale data): ratio %s\n' "$(ratio "${TIME[calls C/calls_file]}" "${TIME[calls C/calls_ours]}")"

# peak memory while the bulk data streams through, and with -l
rss() { /usr/bin/time -f %M -o "$tmp/rss.$1" "${@:2}"; }
printf '\npeak RSS (KiB; capacity 1024 KiB + 4096 KiB allowed)\n'
rss w "$W" -n "$C" <"$DATA" & rss r "$R" -n "$C" >/dev/null; wait $!
seq "$LINES" | rss l "$W" -l -n "$C" & "$R" -c "$LINES" -n "$C" >/dev/null; wait $!
read -r rs <"$tmp/rss.w"; read -r rl <"$tmp/rss.l"; read -r rw <"$tmp/rss.r"
printf '  shmwrite %s (stream), %s (-l); shmread %s\n' "$rs" "$rl" "$rw"

if [[ $SWEEP == 1 ]]; then
	printf '\ncapacity sweep: bulk, scheduler'"'"'s choice (ms)\n '
	place any
	for s in 4K 16K 64K 256K 1M 4M; do
		sweep() { ours_bulk -s "$s"; }
		measure "sweep $s" sweep
		printf ' %s %s' "$s" "$(ms "${TIME[sweep $s/sweep]}")"
	done
	printf '\n'
fi

printf '\ntargets\n'
for p in "${PLACES[@]}"; do
	n=${PLACE_NAME[$p]}
	if [[ $p == one ]]; then
		target "bulk vs one copy, $n" "${MIN[bulk copy $p]}" 0.7
	else
		target "bulk vs one copy, $n" "${MIN[bulk copy $p]}" 0.9
	fi
	target "bulk vs mbuffer, $n" "${MIN[bulk mbuffer $p]}" 1.0
	target "bulk vs lock-step 64 KiB pair, $n" "${MIN[bulk lockstep $p]}" 1.0
	target "lines vs seq | cat | cat, $n" "${MIN[lines pipe $p]}" 1.0
	target "lines vs POSIX mq, $n" "${MIN[lines mq $p]}" 100
	target "round trip p50 vs FIFOs, $n" "${MIN[lat50 $p]}" 1.0
	target "round trip p99 vs FIFOs, $n" "${MIN[lat99 $p]}" 1.0
	target "one subscriber, bulk vs a queue reader, $n" "${MIN[sub $p]}" 0.9
	target "four subscribers vs cat | tee x4, $n" "${MIN[fan $p]}" 4
	target "writer past a stopped lossy subscriber vs alone, $n" "${MIN[stall lossy $p]}" 0.95
	target "writer past a stopped tap (broadcast) vs alone, $n" "${MIN[stall tap $p]}" 0.95
	target "writer and reader past a stopped tap (queue) vs alone, $n" "${MIN[stall qtap $p]}" 0.95
	target "round trip p50 through a subscriber vs a queue reader, $n" "${MIN[sub50 $p]}" 1.0
	target "round trip p99 through a subscriber vs a queue reader, $n" "${MIN[sub99 $p]}" 1.0
done
target "per call vs the file hand-off, locale $CALLER_LOCALE" "$(ratio "$cf" "$co")" 1.1
for m in "$rs" "$rl" "$rw"; do
	target "peak RSS within capacity + 4 MiB (KiB under 5120: 5120 / RSS)" "$(ratio 5120 "$m")" 1.0
done
printf 'bench: %d of %d targets met\n' "$met" "$targets"
