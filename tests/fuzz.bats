#!/usr/bin/env bats
# Hostile segments: a channel holding `hello` is corrupted - header fields,
# records, tokens, slots, its size - and then shmread, shmwrite and
# --status are run on it.  None may die of a signal or hang; exit 1 comes
# with exactly one `prog: ` line.  The offsets are those of the C struct
# (tests/layout).  Variants are seeded: a failure names its variant, and
# FUZZ_ONLY=KIND:SEED runs just that one.

# shellcheck disable=SC2154 # status, output, stderr, lines: from bats' run; OFF_* and such: from tests/layout

load helper

setup() {
	T=$BATS_TEST_TMPDIR
	: >"$T/fail"
	NV=0
	VPIDS=()
	export OFF_magic OFF_version OFF_gen OFF_cap OFF_flags OFF_state \
		OFF_wtoken OFF_rtoken OFF_head OFF_seq OFF_wopen OFF_alloc OFF_tail OFF_rin \
		OFF_abandoned OFF_asleep OFF_name OFF_slot SLOT_SIZE NSLOT HDRSZ \
		REC_FIRST REC_LAST REC_ABORT REC_SYNC REC_TAKEN REC_LENMAX
}

teardown() {
	local p
	for p in "${VPIDS[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	cleanup_pids
	cleanup_channels
}

# corrupt FILE KIND SEED: change the channel object FILE in place.  The
# channel was made with -s 8K and holds `hello\n` in one record at 0.
# KIND: hdrbytes (random bytes over the header), hdrfield (one field set to
# an odd or random value), ringbytes (random bytes in the ring, head
# moved), ringrecs (a run of random records from a random tail), t (the
# targeted case number SEED), count (how many targeted cases there are).
# shellcheck disable=SC2016 # perl source
CORRUPT_PL='
use strict; use warnings;
my ($file, $kind, $seed) = @ARGV;
my %e = %ENV;
srand($seed);
open(my $fh, "+<", $file) or die "$file: $!";
binmode $fh;
my $size = -s $fh;
my ($R, $cap) = ($e{HDRSZ}, 8192);
my ($F, $L, $A, $S, $T) = @e{qw(REC_FIRST REC_LAST REC_ABORT REC_SYNC REC_TAKEN)};
sub put { my ($off, $d) = @_; return if $off + length($d) > $size; seek($fh, $off, 0); print $fh $d; }
sub u32 { put($e{"OFF_$_[0]"}, pack("V", $_[1] & 0xffffffff)) }
sub u64 { put($e{"OFF_$_[0]"}, pack("Q<", $_[1])) }
sub r32 { int(rand(65536)) << 16 | int(rand(65536)) }
sub r64 { r32() << 32 | r32() }
sub rbytes { join "", map { chr(int(rand(256))) } 1 .. $_[0] }
# a record header: seq, then the flags and len word as given
sub rec { my ($pos, $word, $seq) = @_; put($R + $pos % $cap, pack("VV", $word & 0xffffffff, $seq & 0xffffffff)) }
my @odd = (0, 1, 7, 8, 15, 16, 4095, 4096, 8184, 8192, 8200, 12288, 0x7fffffff,
    0x80000000, 0xffffffff, 1 << 32, 1 << 63, ~0, ~0 - 7, ~0 - 15);
sub val { rand() < 0.6 ? $odd[int(rand(@odd))] : r64() }
my @f32 = qw(version gen flags state seq wopen rin abandoned);
my @f64 = qw(cap wtoken rtoken head tail alloc);
if ($kind eq "hdrbytes") {
	put(int(rand($e{OFF_slot} + 64)), chr(int(rand(256)))) for 0 .. int(rand(8));
} elsif ($kind eq "hdrfield") {
	my $i = int(rand(@f32 + @f64));
	$i < @f32 ? u32($f32[$i], val()) : u64($f64[$i - @f32], val());
} elsif ($kind eq "ringbytes") {
	put($R + int(rand($cap)), chr(int(rand(256)))) for 0 .. int(rand(48));
	put($R, rbytes(8)) if rand() < 0.5;
	u64("head", 8 * int(rand($cap / 8 + 1))) if rand() < 0.7;
} elsif ($kind eq "ringrecs") {
	my $tail = 8 * int(rand($cap / 8));
	my ($pos, $seq) = ($tail, 1 + int(rand(5)));
	for (0 .. int(rand(6))) {
		my $r = rand();
		my $len = $r < 0.6 ? int(rand(100)) : $r < 0.8 ? int(rand($cap)) : $r < 0.9 ? r32() : $cap - 16;
		my $flags = rand() < 0.9 ? ($F, $L, $F | $L, $L | $A, $F | $L | $S, $F | $S, $F | $L | $S | $A, 0)[int(rand(8))] : r32();
		$seq = rand() < 0.7 ? $seq : rand() < 0.5 ? $seq + 1 : rand() < 0.5 ? 0 : r32();
		rec($pos, $flags | ($len & $e{REC_LENMAX}), $seq);
		put($R + ($pos + 8) % $cap, rbytes($len < 32 ? $len : 32)) if ($pos + 8) % $cap + 32 <= $cap;
		$pos += 8 + (($len + 7) & ~7);
		last if $pos - $tail > $cap;
	}
	u64("tail", $tail);
	u64("head", rand() < 0.8 ? $pos : $tail + 8 * int(rand($cap / 8 + 2)));
	u32("seq", r32()) if rand() < 0.2;
}
my $slot = sub { $e{OFF_slot} + $e{SLOT_SIZE} * $_[0] };
my @t = (
	sub { put(0, "X") },				# magic
	sub { put(0, "\0" x 8) },
	sub { u32("version", 0) },
	sub { u32("version", 1) },			# the old layout
	sub { u32("version", ~0) },
	sub { u32("gen", 0x12345678) },			# bells that do not exist
	(map { my $v = $_; sub { u64("cap", $v) } } (0, 1, 4095, 4097, 6000, 4096, 16384, 12288, 1 << 63, ~0, 1 << 30)),
	sub { u32("flags", ~0) },
	(map { my $v = $_; sub { u32("state", $v) } } (0, 2, 3, 4, ~0)),
	sub { u64("tail", 64); u64("head", 32) },	# head < tail
	sub { u64("head", 16 + $cap + 8) },		# head - tail > cap
	sub { u64("head", $cap) },			# full of zero records
	sub { u64("head", ~0 - 7) },
	sub { u64("tail", 1) },				# misaligned
	sub { u64("tail", 4) },
	sub { u64("head", 17) },
	sub { u64("tail", ~0 - 7); u64("head", ~0 - 7) },	# about to wrap
	sub { u64("tail", ~0 - 7); u64("head", 8) },	# ... and wrapped
	sub { u64("tail", (1 << 63) - 8); u64("head", (1 << 63) - 8); u64("alloc", 8) },	# a tiny alloc far on
	sub { u64("alloc", 0) },
	sub { u64("alloc", ~0 - 7) },
	sub { u64("tail", 16) },			# empty
	sub { u64("tail", 8) },				# inside a record
	sub { rec(0, ~0, 1) },				# len and flags all ones
	sub { rec(0, $F | $L | $e{REC_LENMAX}, 1) },	# len huge
	sub { rec(0, $F | $L | $cap, 1) },
	sub { rec(0, $F | $L | ($cap - 8), 1); u64("head", $cap) },
	sub { rec(0, $F | $L | 9, 1) },			# len past head
	sub { rec(0, $F | $L, 1) },			# empty message, then junk
	sub { rec(0, 6, 1) },				# no flags
	sub { rec(0, $L | 6, 1) },			# LAST alone: remains
	sub { rec(0, $F | 6, 1) },			# FIRST alone: an open stream
	sub { rec(0, $A | 6, 1) },			# ABORT alone
	sub { rec(0, $F | $A | 6, 1) },			# ABORT on FIRST, not SYNC
	sub { rec(0, $L | $A | 6, 1) },			# ABORT|LAST alone
	sub { rec(0, $F | $L | $A | 6, 1) },		# aborted
	sub { rec(0, $S | $L | 6, 1) },			# SYNC without FIRST
	sub { rec(0, $F | $L | $T | 6, 1) },		# TAKEN without SYNC
	sub { rec(0, $F | $L | $S | 6, 1) },		# a -w message
	sub { rec(0, $F | $L | $S | $T | 6, 1) },	# ... taken
	sub { rec(0, $F | $L | $S | $A | 6, 1) },	# ... withdrawn
	sub { rec(0, $F | $S | $A | 6, 1) },		# ... withdrawn, not ended
	sub { rec(0, $F | $L | 6, 0) },			# seq 0
	sub { rec(0, $F | $L | 6, ~0) },
	sub { rec(0, $F | 6, 1); rec(16, $F | $L | 6, 2); u64("head", 32) },	# FIRST inside an open message
	sub { rec(0, $F | 6, 1); rec(16, $L | 6, 2); u64("head", 32) },		# LAST of another message
	sub { rec(0, $F | 6, 1); rec(16, $L | $A, 1); u64("head", 24) },	# aborted stream
	sub { rec(0, $F | 6, 1); u32("wopen", 1); u64("wtoken", r64() & ~(1 << 63)) },	# open stream, dead writer
	sub { rec(0, $F | 6, 1); u32("rin", 1) },	# a stream its reader left
	sub { u32("abandoned", 1) },
	sub { u64("wtoken", r64()); u64("rtoken", r64()) },	# tokens held by the dead
	sub { u64("wtoken", 1 << 63); u64("rtoken", 1 << 63) },	# HANDOFF, nobody asleep
	sub { u64("wtoken", ~0); u64("rtoken", ~0) },
	sub { u64("wtoken", 7 << 32 | 300) },		# a slot out of range
	sub { put($e{OFF_asleep}, "\xff" x 128) },	# everyone asleep
	sub { u32("wopen", ~0) },
	sub { u32("seq", ~0) },				# the next number wraps to 0
	sub { put($e{OFF_name}, "another") },		# another channel: its segment
	sub { put($e{OFF_name}, "x" x 208) },		# a name with no end
	sub { put($slot->($_), pack("VlV", r32(), r32(), r32())) for 0 .. $e{NSLOT} - 1 },
	sub { put($e{OFF_slot}, "\xff" x ($e{SLOT_SIZE} * $e{NSLOT})) },
	sub { put(0, "\xff" x $R) },			# the header all ones
	sub { put(8, "\0" x ($R - 8)) },		# all zero but the magic
	sub { put($R, "\xff" x $cap); u64("head", $cap - 8) },	# the ring all ones
	sub { put($R, "\0" x $cap); u64("head", $cap - 8) },	# all zero
);
if ($kind eq "count") {
	print scalar(@t), "\n";
} elsif ($kind eq "t") {
	die "no case $seed" if $seed >= @t;
	$t[$seed]->();
} elsif ($kind !~ /^(hdrbytes|hdrfield|ringbytes|ringrecs)$/) {
	die "no kind $kind";
}
close($fh) or die "$file: $!";
'

# tool PROG ARGS...: run PROG on the hostile channel; what breaks the rules
# goes to $T/fail
tool() {
	local prog=$1 rc=0 n out=$T/$VN.out err=$T/$VN.err
	shift
	# a hang ends in SIGTERM: 143, a failure as any death by signal is
	timeout --preserve-status -k 2 $((15 * TMULT)) "$BIN/$prog" "$@" <"${TOOL_IN:-/dev/null}" >"$out" 2>"$err" || rc=$?
	n=$(wc -l <"$err")
	case $rc in
	0 | 124) ! grep -qv "^$prog: " "$err" ;;
	1) [[ $n -eq 1 ]] && grep -q "^$prog: " "$err" ;;
	*) false ;;
	esac || printf '%s: %s %s: exit %d with %d lines: %s\n' "$VARIANT" "$prog" "$*" "$rc" "$n" "$(head -c 300 "$err")" >>"$T/fail"
	rm -f "$out" "$err"
}

# variant DESC CMD...: a fresh channel holding `hello`, changed by CMD (run
# with the object's path after its arguments), then the three runs; up to
# FUZZ_JOBS variants at once
variant() {
	local desc=$1
	shift
	[[ -z ${FUZZ_ONLY:-} || $FUZZ_ONLY == "$desc" ]] || return 0
	NV=$((NV + 1))
	while ((${#VPIDS[@]} >= ${FUZZ_JOBS:-8})); do
		wait -n "${VPIDS[@]}" || true
		reap
	done
	one_variant "$desc" "$NV" "$@" 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&- &
	VPIDS+=("$!")
}

reap() {
	local p rest=()
	for p in "${VPIDS[@]}"; do
		! kill -0 "$p" 2>/dev/null || rest+=("$p")
	done
	VPIDS=("${rest[@]}")
}

one_variant() {
	local c f
	VARIANT=$1 VN=v$2
	shift 2
	c=$(chan "$VN")
	f=/dev/shm/shmrw.$c
	"$SHMWRITE" -n "$c" -s 8K hello || { echo "$VARIANT: no channel" >>"$T/fail"; return; }
	"$@" "$f"
	tool shmread -n "$c" -t 0.5
	tool shmwrite -n "$c" -t 0.5 x
	printf 'one\ntwo\n' >"$T/$VN.in"
	TOOL_IN=$T/$VN.in tool shmwrite -n "$c" -t 0.5 -l
	tool shmread --status -n "$c"
	rm -f "/dev/shm/shmrw.$c" "/dev/shm/sem.shmrw.$c".*
}

corrupt() { perl -e "$CORRUPT_PL" "$3" "$1" "$2"; }

report() {
	local p
	for p in "${VPIDS[@]}"; do
		wait "$p" || true
	done
	echo "# $NV variants"
	[[ ! -s $T/fail ]] || { cat "$T/fail"; false; }
}

@test "fuzz: targeted header fields and records" {
	local k n
	n=$(perl -e "$CORRUPT_PL" /dev/null count 0)
	((n > 70))
	for ((k = 0; k < n; k++)); do
		variant "t:$k" corrupt t "$k"
	done
	report
}

@test "fuzz: random header bytes and fields (80 seeds)" {
	local k
	for ((k = 1; k <= 40; k++)); do
		variant "hdrbytes:$k" corrupt hdrbytes "$k"
		variant "hdrfield:$k" corrupt hdrfield "$k"
	done
	report
}

@test "fuzz: random records and ring bytes (65 seeds)" {
	local k
	for ((k = 1; k <= 20; k++)); do
		variant "ringbytes:$k" corrupt ringbytes "$k"
	done
	for ((k = 1; k <= 45; k++)); do
		variant "ringrecs:$k" corrupt ringrecs "$k"
	done
	report
}

@test "fuzz: truncated and extended objects (11 sizes)" {
	local s
	for s in 0 1 100 4095 4096 5000 8192 $((HDRSZ + 8191)) $((HDRSZ + 8193)) $((HDRSZ + 16384)) $((HDRSZ + 1048576)); do
		variant "size:$s" truncate -s "$s"
	done
	report
}

@test "a record that cannot be is reported as corrupt by readers and --status" {
	local c
	c=$(chan)
	shmw -n "$c" -s 8K hello
	poke "$c" "$HDRSZ" V $((REC_FIRST | REC_LAST | REC_LENMAX))
	runs shmr -t 0 -n "$c"
	expect 1 "" "shmread: $c: corrupt channel"
	runs shmw -t 0 -n "$c" more
	expect 0 "" ""
	runs shmr -t 0 -n "$c"
	expect 1 "" "shmread: $c: corrupt channel"
	runs "$SHMREAD" --status -n "$c"
	expect 1 "" "shmread: $c: corrupt channel"
	shmr -r -n "$c"
}

@test "a token held by a live process is waited for, not taken" {
	local c s=7 e=5
	c=$(chan)
	shmw -k -n "$c" -s 8K hello
	shmr -n "$c" >/dev/null
	poke "$c" $((OFF_slot + SLOT_SIZE * s)) V "$e"
	poke "$c" "$OFF_wtoken" Q "$((e << 32 | (s + 1)))"
	poke "$c" "$OFF_rtoken" Q "$((e << 32 | (s + 1)))"
	hold "$c" $((LK_SLOT + s))
	runs shmw -t 0.3 -n "$c" x
	expect 124 "" ""
	runs shmr -t 0.3 -n "$c"
	expect 124 "" ""
	kill_wait KILL "$HOLDER" 137
	wait_procs "$c" 0
	runs shmw -t 0 -n "$c" x
	expect 0 "" ""
	runs shmr -t 0 -n "$c"
	expect 0 x ""
	shmr -r -n "$c"
}

@test "truncating the segment under a waiting reader or writer: 1, channel truncated" {
	local c
	c=$(chan r)
	bg /dev/null "$T/out" "$T/err" "${SHMR[@]}" -n "$c" -s 8K
	wait_reader "$c"
	truncate -s 0 "/dev/shm/shmrw.$c"
	expect_exit "$BGPID" 1 3
	[[ $(cat "$T/err") == "shmread: $c: channel truncated" && ! -s $T/out ]]
	c=$(chan w)
	head -c 100000 /dev/zero >"$T/in"
	bg "$T/in" /dev/null "$T/err" "${SHMW[@]}" -n "$c" -s 8K
	wait_until has_bytes "$c"
	truncate -s "$HDRSZ" "/dev/shm/shmrw.$c"
	expect_exit "$BGPID" 1 3
	[[ $(cat "$T/err") == "shmwrite: $c: channel truncated" ]]
}

@test "random bytes at the name: not a channel, left untouched by every use, -r and --status" {
	local c f p size
	c=$(chan)
	f=/dev/shm/shmrw.$c
	for size in 12288 14; do
		perl -e 'srand(7); print map { chr(int(rand(256))) } 1 .. $ARGV[0]' "$size" >"$T/junk"
		cp "$T/junk" "$f"
		runs "$SHMWRITE" -n "$c" -t 0.5 x
		expect 1 "" "shmwrite: $c: not a channel"
		runs "$SHMREAD" -n "$c" -t 0.5
		expect 1 "" "shmread: $c: not a channel"
		for p in shmread shmwrite; do
			runs "$BIN/$p" -r -n "$c"
			expect 1 "" "$p: $c: not a channel"
			runs "$BIN/$p" --status -n "$c"
			expect 1 "" "$p: $c: not a channel"
		done
		cmp "$T/junk" "$f"
		[[ $(objects "$c") == "$f" ]]
	done
	rm -f "$f"
}

@test "a capacity that is not a power of two, in the header and the size alike, is not a channel" {
	local c
	c=$(chan)
	shmw -k -s 8K -n "$c" hello
	truncate -s $((HDRSZ + 12288)) "/dev/shm/shmrw.$c"
	poke "$c" "$OFF_cap" Q 12288
	runs shmr -t 0 -n "$c"
	expect 1 "" "shmread: $c: not a channel"
	runs shmw -t 0 -n "$c" x
	expect 1 "" "shmwrite: $c: not a channel"
	runs "$SHMREAD" --status -n "$c"
	expect 1 "" "shmread: $c: not a channel"
}
