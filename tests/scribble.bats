#!/usr/bin/env bats
# Hostile changes to a segment while it is in use.  In each round, writers
# (-l, a stream, operands, -w with operands and with a stream) and readers
# (-f, -c, --status) work on a small channel of the round's own, each again
# and again, while a scribbler - one perl process, seeded - writes odd,
# plausible or random values into the header's fields, the asleep words
# and the slots, and random bytes and records into the ring, thousands of
# times over a few seconds; it often puts back what was there a moment
# later, and between bursts it may make the channel usable again.  Then it
# stops, the loops start no more runs, and every run must end: none by a
# signal (no SIGSEGV, SIGBUS, and no sanitizer report: they abort here),
# none killed by the timeout net, each 0, 1, 3 or 124 (3: flags scribbled
# to a lossy broadcast channel, its reader missed messages), and on 1
# exactly one line on stderr, `prog: ...`, after what a lossy reader tells
# of messages it missed.  Nothing is promised about the data.  At
# the end -r removes the channel, and nothing of it is left in /dev/shm.
#
# A round's seed is printed; FUZZ_SEED=N runs just one round with seed N
# (what the scribbler does is the seed's; how it meets the tools, timing's).
# FUZZ_MS: how long the scribbler scribbles (3000 ms); FUZZ_ROUNDS: how
# many rounds there are (8 at most).  A failure shows the scribbler's last
# writes before the run that failed ended.

# shellcheck disable=SC2154 # status, output, stderr, lines: from bats' run; OFF_* and such: from tests/layout

load helper

ROUNDS=${FUZZ_ROUNDS:-8}
SCRIBBLE_MS=${FUZZ_MS:-3000}

setup() {
	T=$BATS_TEST_TMPDIR
	: >"$T/fail"
	: >"$T/runs"
	rm -f "$T/stop"
	CHILD=
	export OFF_magic OFF_version OFF_gen OFF_cap OFF_flags OFF_state \
		OFF_wtoken OFF_rtoken OFF_namepid OFF_head OFF_seq OFF_wopen \
		OFF_alloc OFF_tail OFF_rin OFF_abandoned OFF_asleep OFF_name \
		OFF_slot SLOT_SIZE NSLOT HDRSZ REC_FIRST REC_LAST REC_ABORT \
		REC_SYNC REC_TAKEN REC_LENMAX
	# a sanitizer's report is a death by SIGABRT, whatever its defaults
	export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}abort_on_error=1
	export UBSAN_OPTIONS=${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}halt_on_error=1:abort_on_error=1
}

# SCRIBBLE_PL FILE SEED MS LOG: for MS milliseconds, change the channel
# object at FILE in place, never past its end: the one the name leads to,
# once it is LIVE, opened again when the name leads to another.  Each
# write goes to LOG; a summary to stdout.
# shellcheck disable=SC2016 # perl source
SCRIBBLE_PL='
use strict; use warnings;
use Time::HiRes qw(time sleep);
my ($path, $seed, $ms, $logf) = @ARGV;
open(my $log, ">", $logf) or die "$logf: $!";
my %e = %ENV;
srand($seed);
my $R = $e{HDRSZ};
my ($F, $L, $A, $S, $T) = @e{qw(REC_FIRST REC_LAST REC_ABORT REC_SYNC REC_TAKEN)};
my $HANDOFF = 1 << 63;
my ($fh, $dev, $ino, $size) = (undef, -1, -1, 0);
my (@undo, $it, $id, $name, $what, $t0);
my %n = map { $_ => 0 } qw(field ring slot asleep undo open heal);

sub r32 { int(rand(65536)) << 16 | int(rand(65536)) }
sub r64 { r32() << 32 | r32() }
sub pick { $_[int(rand(@_))] }
sub add { use integer; $_[0] + $_[1] }	# modulo 2^64, as the tools count
sub rbytes { join "", map { chr(int(rand(256))) } 1 .. $_[0] }

# the object at the name, opened again when it is another one
sub look {
	my @st = stat($path);
	if (!@st) { undef $fh; return 0 }
	if (!$fh || $st[0] != $dev || $st[1] != $ino) {
		my $f;
		open($f, "+<", $path) or do { undef $fh; return 0 };
		binmode $f;
		($dev, $ino) = (stat($f))[0, 1];
		($fh, @undo, $id, $name) = ($f);
		$n{open}++;
	}
	$size = $st[7];
	# a channel of its own first: what it was is kept, for heal()
	if (!defined $id) {
		my $h = rd(0, $e{OFF_state} + 4);
		return 0 unless defined $h && substr($h, 0, 8) eq "shmrw\0\r\n" &&
		    unpack("V", substr($h, $e{OFF_state}, 4)) == 1;
		($id, $name) = (substr($h, 0, $e{OFF_state}), rd($e{OFF_name}, $e{OFF_slot} - $e{OFF_name}));
	}
	return 1;
}
sub rd {
	my ($off, $len) = @_;
	my $b = "";
	return undef if $off + $len > $size;
	sysseek($fh, $off, 0) or return undef;
	return ((sysread($fh, $b, $len) // 0) == $len) ? $b : undef;
}
# write, within the object; maybe put the old bytes back a little later
sub wr {
	my ($off, $d, $undo) = @_;
	return if $off < 0 || $off + length($d) > $size;
	if (rand() < $undo) {
		my $old = rd($off, length($d));
		push @undo, [$it + 1 + int(rand(20)), $off, $old] if defined $old;
	}
	sysseek($fh, $off, 0) and syswrite($fh, $d);
	printf $log "%.1f ms %-9s at %4d: %s\n", 1000 * time, $what, $off,
	    unpack("H*", substr($d, 0, 16)) . (length($d) > 16 ? "... (" . length($d) . " bytes)" : "");
}
sub get64 { my $b = rd($_[0], 8); defined $b ? unpack("Q<", $b) : 0 }
sub get32 { my $b = rd($_[0], 4); defined $b ? unpack("V", $b) : 0 }

my $cap;
my @odd = (0, 1, 7, 8, 15, 16, 4088, 4096, 8184, 8192, 8200, 12288, 65536,
    0x7fffffff, 0x80000000, 0xffffffff, 1 << 32, 1 << 63, ~0, ~0 - 7, ~0 - 15);
# a live process id, or one near it: epoch << 32 | slot + 1
sub an_id {
	my $s = rand() < 0.8 ? int(rand(8)) : int(rand($e{NSLOT} + 2));
	my $ep = $s < $e{NSLOT} ? get32($e{OFF_slot} + $e{SLOT_SIZE} * $s) : r32();
	my $r = rand();
	$ep = $r < 0.7 ? $ep : $r < 0.8 ? $ep + 1 : $r < 0.9 ? $ep - 1 : r32();
	return ($ep & 0xffffffff) << 32 | ($s + 1);
}
sub pos_near {
	my ($base) = @_;
	my $r = rand();
	return add($base, $r < 0.45 ? 8 * (int(rand(9)) - 4) :
	    $r < 0.65 ? 8 * int(rand($cap / 8 + 1)) :
	    $r < 0.75 ? -8 * int(rand($cap / 8 + 1)) :
	    $r < 0.85 ? 1 + int(rand(7)) : $r < 0.9 ? $cap :
	    pick(1 << 63, 1 << 62, 3 << 62, 1 << 32, -(1 << 32)));	# far off
}
sub value {
	my ($kind, $cur) = @_;
	my $head = get64($e{OFF_head}); my $tail = get64($e{OFF_tail});
	my $seq = get32($e{OFF_seq});
	my $r = rand();
	if ($kind eq "pos") {
		return $r < 0.15 ? pick(@odd) : $r < 0.55 ? pos_near($cur) :
		    $r < 0.75 ? pos_near(pick($head, $tail)) : $r < 0.9 ? pick($head, $tail) : r64();
	} elsif ($kind eq "alloc") {
		return $r < 0.3 ? pick(@odd) : $r < 0.6 ? pick($cap, $cap - 8, 0, 65536, $cap * 2) :
		    $r < 0.9 ? add($cur, 4096 * (int(rand(5)) - 2)) : r64();
	} elsif ($kind eq "seq") {
		return $r < 0.15 ? pick(0, 1, 0xffffffff, 0xfffffffe, r32()) :
		    $r < 0.6 ? add($seq, int(rand(5)) - 2) :
		    $r < 0.8 ? pick(get32($e{OFF_wopen}), get32($e{OFF_rin}), get32($e{OFF_abandoned})) :
		    $r < 0.9 ? 0 : $cur;
	} elsif ($kind eq "tok") {
		return $r < 0.15 ? 0 : $r < 0.3 ? $HANDOFF : $r < 0.7 ? an_id() :
		    $r < 0.8 ? pick(get64($e{OFF_wtoken}), get64($e{OFF_rtoken})) :
		    $r < 0.9 ? pick(~0, $HANDOFF | 1, 1, 1 << 32, ~0 >> 1) : r64();
	} elsif ($kind eq "state") {
		return $r < 0.4 ? 1 : $r < 0.55 ? 0 : $r < 0.7 ? 2 : $r < 0.8 ? 3 : pick(4, ~0, r32());
	} elsif ($kind eq "cap") {
		return $r < 0.5 ? pick(@odd) : $r < 0.8 ? pick($cap, $cap * 2, $cap / 2) : r64();
	} elsif ($kind eq "pid") {
		return pick(0, 1, 0xffffffff, $$, r32());
	}
	return $r < 0.5 ? pick(0, 1, 2, 3, ~0) : r64();	# flags, version, gen
}

my @fields = (
	# name, bytes, kind, weight
	[head => 8, "pos", 10], [tail => 8, "pos", 10], [alloc => 8, "alloc", 3],
	[seq => 4, "seq", 5], [wopen => 4, "seq", 6], [rin => 4, "seq", 6],
	[abandoned => 4, "seq", 6], [wtoken => 8, "tok", 8], [rtoken => 8, "tok", 8],
	[state => 4, "state", 3], [flags => 4, "flags", 2], [cap => 8, "cap", 1],
	[namepid => 4, "pid", 1], [gen => 4, "gen", 0.3], [version => 4, "version", 0.3],
);
my $fw = 0; $fw += $_->[3] for @fields;

sub field {
	my $x = rand($fw);
	my $f;
	for (@fields) { $f = $_; last if ($x -= $_->[3]) < 0 }
	my ($name, $len, $kind) = @$f;
	my $off = $e{"OFF_$name"};
	my $v = value($kind, $len == 8 ? get64($off) : get32($off));
	$what = $name;
	wr($off, $len == 8 ? pack("Q<", $v) : pack("V", $v & 0xffffffff), 0.7);
	$n{field}++;
}

sub slot {
	my $s = rand() < 0.85 ? int(rand(8)) : int(rand($e{NSLOT}));
	my $at = $e{OFF_slot} + $e{SLOT_SIZE} * $s;
	my $w = int(rand(3));
	my $cur = get32($at + 4 * $w);
	my $v = pick($cur + 1, $cur - 1, 0, 0x7fffffff, 0xffffffff, r32(),
	    $w == 2 ? ord(pick("r", "w")) : $$);
	$what = ("epoch", "pid", "role")[$w] . " $s";
	wr($at + 4 * $w, pack("V", $v & 0xffffffff), 0.5);
	$n{slot}++;
}

sub asleep {
	my $bell = int(rand(4));
	my $word = rand() < 0.8 ? 0 : int(rand($e{NSLOT} / 64));
	my $at = $e{OFF_asleep} + 8 * ($bell * $e{NSLOT} / 64 + $word);
	my $cur = get64($at);
	my $bit = 1 << (rand() < 0.8 ? int(rand(8)) : int(rand(64)));
	my $v = pick($cur | $bit, $cur & ~$bit, 0, ~0, r64());
	$what = "asleep";
	wr($at, pack("Q<", $v), 0.3);
	$n{asleep}++;
}

# a record header: seq << 32 | flags | len, as the tools write it
sub hdr { pack("VV", ($_[1] | ($_[2] & $e{REC_LENMAX})) & 0xffffffff, $_[0] & 0xffffffff) }

sub ring {
	my $head = get64($e{OFF_head}); my $tail = get64($e{OFF_tail});
	my $seq = get32($e{OFF_seq});
	my $p = add(rand() < 0.5 ? $tail : $head, 8 * (int(rand(24)) - 8));
	$p = 8 * int(rand($cap / 8)) if rand() < 0.2;
	my $at = $R + ($p & ($cap - 1));
	my $r = rand();
	$what = "ring";
	if ($r < 0.3) {				# random bytes anywhere
		wr($R + int(rand($cap)), rbytes(1 + int(rand(16))), 0.2);
	} elsif ($r < 0.6) {			# a record header
		my $fl = rand() < 0.85 ? pick($F | $L, $F, $L, $F | $L | $S, $F | $S, $L | $A,
		    $F | $L | $A, $F | $L | $S | $T, $F | $S | $A, $S | $T, 0) : r32() & ~$e{REC_LENMAX};
		my $len = pick(int(rand(64)), int(rand($cap)), $cap - 16, $cap, $e{REC_LENMAX}, r32());
		wr($at, hdr(pick($seq, $seq + 1, $seq - 1, 0, r32(), get32($e{OFF_wopen})), $fl, $len), 0.3);
	} elsif ($r < 0.85) {			# a flag or the length of a record there
		my $b = rd($at, 8);
		return unless defined $b;
		my ($w, $s) = unpack("VV", $b);
		$w = rand() < 0.6 ? $w ^ pick($F, $L, $A, $S, $T) :
		    ($w & ~$e{REC_LENMAX}) | ((($w & $e{REC_LENMAX}) + pick(1, 8, -8, 64, 4096, $cap)) & $e{REC_LENMAX});
		wr($at, pack("VV", $w & 0xffffffff, rand() < 0.8 ? $s : $s + 1), 0.3);
	} else {				# zeros
		wr($at, "\0" x (8 * (1 + int(rand(8)))), 0.3);
	}
	$n{ring}++;
}

# what makes the channel unusable for good, put right (hostile too: the
# queue is dropped): it is a channel again, LIVE, with nothing queued
sub heal {
	my $head = get64($e{OFF_head}) & ~7;
	my $state = get32($e{OFF_state});
	$what = "heal";
	wr(0, $id, 0);
	wr($e{OFF_name}, $name, 0);
	wr($e{OFF_state}, pack("V", 1), 0) if $state > 3;
	wr($e{OFF_head}, pack("Q<", $head), 0);
	wr($e{OFF_tail}, pack("Q<", $head), 0);
	$n{heal}++;
}

my $burst = 0;
$t0 = time;
my $end = $t0 + $ms / 1000;
for ($it = 0; time < $end; $it++) {
	if (!look()) { sleep(0.001); next }
	$cap = $size > $R + 4096 ? $size - $R : 4096;
	while (@undo && $undo[0][0] <= $it) {
		my $u = shift @undo;
		$what = "undo";
		wr($u->[1], $u->[2], 0);
		$n{undo}++;
	}
	@undo = sort { $a->[0] <=> $b->[0] } @undo;
	if (--$burst < 0) {			# a calm between two bursts
		heal() if rand() < 0.5;
		sleep(rand(0.06));
		$burst = 20 + int(rand(200));
	}
	my $r = rand();
	$r < 0.005 ? heal() : $r < 0.5 ? field() : $r < 0.58 ? slot() : $r < 0.65 ? asleep() : ring();
	sleep(rand(0.0005)) if rand() < 0.9;
}
printf "scribbled %d times in %.1f s: %s\n", $n{field} + $n{slot} + $n{asleep} + $n{ring},
    time - $t0, join(", ", map { "$_ $n{$_}" } sort keys %n);
'

# inputs SEED: $T/lines (a few thousand lines, a few longer than the ring),
# $T/blob (a few hundred KB) and $T/small (a few KB)
inputs() {
	perl -e 'srand($ARGV[0]);
		open(my $l, ">", $ARGV[1]) or die; open(my $b, ">", $ARGV[2]) or die;
		for (1 .. 3000) {
			my $n = rand() < 0.02 ? 3000 + int(rand(17000)) : int(rand(120));
			print $l "l$_ ", "x" x $n, "\n";
		}
		print $b join("", map { chr(int(rand(256))) } 1 .. 300000);
		open(my $s, ">", $ARGV[3]) or die; print $s "s" x (1000 + int(rand(3000)));' \
		"$1" "$T/lines" "$T/blob" "$T/small"
}

# run_tool WORKER IN PROG ARGS...: run PROG once (stdin IN) under the
# timeout net; what breaks the rules goes to $T/fail (and its stderr,
# whole, to a $T/fail.* file), its status and error to $T/runs.  Builtins
# only, but for the run itself: the machine has 2 CPUs.
run_tool() {
	local worker=$1 in=$2 prog=$3 rc=0 t0 ms err=$T/err.$BASHPID ok=1 l
	local -a e
	shift 3
	t0=$(now_ms)
	timeout --preserve-status -k 2 "$LIMIT" "$BIN/$prog" "$@" <"$in" >/dev/null 2>"$err" &
	CHILD=$!
	wait "$CHILD" || rc=$?
	CHILD=
	ms=$(($(now_ms) - t0))
	mapfile -t e <"$err"
	printf '%s %s %s %s\n' "$worker" "$rc" "$ms" "${e[0]#"$prog: "*": "}" >>"$T/runs"
	if ((ms >= LIMIT * 1000)) || [[ ${e[*]} == *Sanitizer* || ${e[*]} == *"runtime error"* ]]; then
		ok=0	# the net caught a hang, whatever the status says; a report
	fi
	case $rc in
	0 | 3 | 124)
		for l in "${e[@]}"; do
			[[ $l == "$prog: "* ]] || ok=0
		done
		;;
	1)	# a lossy reader's notices, then the one line of the error
		while ((${#e[@]} > 1)) && [[ ${e[0]} =~ ^$prog:\ .*:\ (missed\ [0-9]+\ messages?|message\ truncated\ \(lapped\))$ ]]; do
			e=("${e[@]:1}")
		done
		[[ ${#e[@]} -eq 1 && ${e[0]} == "$prog: "* ]] || ok=0 ;;
	*) ok=0 ;;
	esac
	if ((!ok)); then
		printf 'seed %s: %s: %s %s: exit %d after %d ms, %d lines: %.300s\n' "$SEED" "$worker" \
			"$prog" "$*" "$rc" "$ms" "${#e[@]}" "${e[*]}" >>"$T/fail"
		{
			printf '%s %s %s %s\n' "$t0" "$((t0 + ms))" "$prog" "$*"
			cat "$err"
		} >"$(mktemp "$T/fail.XXXXXX")"
	fi
	rm -f "$err"
	return "$rc"
}

# actor NAME IN PROG ARGS...: run_tool again and again until the scribbler
# is done ($T/stop); @K in ARGS becomes the run's number.  After a failure,
# a short pause, so that a broken channel is no fork bomb.
actor() {
	local name=$1 in=$2 k=0
	shift 2
	trap 'kill -TERM "$CHILD" 2>/dev/null; exit 143' TERM
	while [[ ! -e $T/stop ]]; do
		k=$((k + 1))
		run_tool "$name" "$in" "${@//@K/$k}" || sleep 0.02
	done
}

# status_loop NAME: --status now and then, until the scribbler is done
status_loop() {
	trap 'kill -TERM "$CHILD" 2>/dev/null; exit 143' TERM
	while [[ ! -e $T/stop ]]; do
		run_tool status /dev/null shmread --status -n "$1" || true
		run_tool status /dev/null shmwrite --status --json -n "$1" || true
		sleep 0.05
	done
}

# header FILE: the header fields that move, of the object at FILE
header() {
	perl -e 'my %e = %ENV; open(my $f, "<", $ARGV[0]) or exit; binmode $f;
		sub at { seek($f, $e{"OFF_$_[0]"}, 0); read($f, my $b, $_[1]); $_[1] == 8 ? unpack("Q<", $b) : unpack("V", $b) }
		print join(" ", map { my ($n, $l) = @$_; sprintf("%s %#x", $n, at($n, $l)) }
		    [state => 4], [cap => 8], [head => 8], [tail => 8], [alloc => 8], [seq => 4],
		    [wopen => 4], [rin => 4], [abandoned => 4], [wtoken => 8], [rtoken => 8]), "\n"' "$1"
}

# start NAME FUNC ARGS...: FUNC ARGS in the background, as worker NAME
start() {
	bgfn /dev/null /dev/null "$T/$1.err" "${@:2}"
	WPIDS+=("$BGPID")
	WNAMES+=("$1")
}

# leftovers NAME: the paths in /dev/shm of channel NAME, bells of any
# generation included
leftovers() {
	local f
	for f in "/dev/shm/shmrw.$1" "/dev/shm/sem.shmrw.$1".*; do
		[[ ! -e $f ]] || printf '%s\n' "$f"
	done
}

# round N: the round's channel, its workers and scribbler; then the checks
round() {
	local c f size p s rc hang t0 t1 what
	WPIDS=() WNAMES=()
	if [[ -n ${FUZZ_SEED:-} ]]; then
		(($1 == 1)) || skip "FUZZ_SEED=$FUZZ_SEED: one round"
		SEED=$FUZZ_SEED
	else
		SEED=$((RANDOM << 15 | RANDOM))
	fi
	size=$((SEED % 2 ? 4 : 8))K
	c=$(chan "r$1")
	f=/dev/shm/shmrw.$c
	hang=$((SCRIBBLE_MS / 1000 + 15))
	LIMIT=$((hang * TMULT))
	echo "# round $1: seed $SEED (FUZZ_SEED=$SEED to replay), -s $size, channel $c" >&3
	inputs "$SEED"

	bg /dev/null "$T/scribble.out" "$T/scribble.err" perl -e "$SCRIBBLE_PL" "$f" "$SEED" "$SCRIBBLE_MS" "$T/scribble.log"
	s=$BGPID
	start lines actor lines "$T/lines" shmwrite -l -t 1 -s "$size" -n "$c"
	start stream actor stream "$T/blob" shmwrite -t 1 -s "$size" -n "$c"
	start operands actor operands /dev/null shmwrite -t 1 -s "$size" -n "$c" operand @K
	start sync actor sync /dev/null shmwrite -w -t 1 -s "$size" -n "$c" sync @K
	start syncstream actor syncstream "$T/small" shmwrite -w -t 1 -s "$size" -n "$c"
	start follow actor follow /dev/null shmread -f -t 1 -s "$size" -n "$c"
	start count actor count /dev/null shmread -c 7 -t 1 -s "$size" -n "$c"
	start status status_loop "$c"

	# the scribbler ends on its own; then no run starts, and each must end
	expect_exit "$s" 0 $((SCRIBBLE_MS / 1000 + 10))
	touch "$T/stop"
	[[ ! -e $f ]] || header "$f" >"$T/header"
	echo "# $(cat "$T/scribble.out")" >&3
	# not for nothing: the channel was there, and scribbled on
	[[ $(cat "$T/scribble.out") =~ ^scribbled\ ([0-9]+) ]] && ((BASH_REMATCH[1] >= 100))
	for p in "${!WPIDS[@]}"; do
		if ! wait_for "$((hang + 5))" dead "${WPIDS[p]}"; then
			echo "seed $SEED: ${WNAMES[p]}: still running $((hang + 5)) s after the scribbler stopped" >>"$T/fail"
			kill -TERM "${WPIDS[p]}"	# and its run
		fi
		wait_exit "${WPIDS[p]}"
		if [[ -s $T/${WNAMES[p]}.err ]]; then	# bash's: "Segmentation fault" and such
			sed "s/^/seed $SEED: ${WNAMES[p]}: /" "$T/${WNAMES[p]}.err" >>"$T/fail"
		fi
	done
	echo "# runs (worker status: count): $(cut -d' ' -f1,2 "$T/runs" | sort | uniq -c | awk '{ printf "%s %s: %s; ", $2, $3, $1 }')" >&3
	echo "# why (count status why): $(awk '$2 == 1' "$T/runs" | cut -d' ' -f2,4- | sort | uniq -c | sort -rn | tr -s ' \n' ' ;')" >&3

	# -r: removed, or refused in one line (not a channel any more, gone)
	rc=0
	run_tool remove /dev/null shmread -r -n "$c" || rc=$?
	if ((rc == 0)) && [[ -e $f ]]; then
		echo "seed $SEED: -r exited 0, $f is still there" >>"$T/fail"
	fi
	# what hostile writes may leave: bells of a generation the header no
	# longer names, an object -r refused.  Exactly this channel's paths go.
	if [[ -n $(leftovers "$c") ]]; then
		echo "# left after -r, removed by path: $(leftovers "$c" | tr '\n' ' ')" >&3
	fi
	rm -f "$f" "/dev/shm/sem.shmrw.$c".*
	assert_no_objects "$c"
	[[ -z $(leftovers "$c") ]]

	if [[ -s $T/fail ]]; then
		head -n 20 "$T/fail"
		(($(wc -l <"$T/fail") <= 20)) || echo "... and $(($(wc -l <"$T/fail") - 20)) more"
		for f in $(find "$T" -maxdepth 1 -name 'fail.*' | head -n 3); do
			read -r t0 t1 what <"$f"
			echo "--- a run that failed: $what, from $t0 to $t1 ms (epoch); its stderr:"
			sed -n '2,41p' "$f"
			echo "--- the scribbler's last writes before that run ended (epoch ms; of $(wc -l <"$T/scribble.log")):"
			awk -v t="$t1" '$1 <= t' "$T/scribble.log" | tail -n 30
		done
		echo "--- the header when the scribbler stopped: $(cat "$T/header" 2>/dev/null)"
		false
	fi
}

@test "scribble round 1" { round 1; }
@test "scribble round 2" { ((ROUNDS >= 2)) || skip; round 2; }
@test "scribble round 3" { ((ROUNDS >= 3)) || skip; round 3; }
@test "scribble round 4" { ((ROUNDS >= 4)) || skip; round 4; }
@test "scribble round 5" { ((ROUNDS >= 5)) || skip; round 5; }
@test "scribble round 6" { ((ROUNDS >= 6)) || skip; round 6; }
@test "scribble round 7" { ((ROUNDS >= 7)) || skip; round 7; }
@test "scribble round 8" { ((ROUNDS >= 8)) || skip; round 8; }
