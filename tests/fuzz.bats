#!/usr/bin/env bats
# Black-box fuzz of hostile channels: a valid channel with a queued message
# is corrupted (header fields, records, size), then shmread, shmwrite and
# shmread --status are run on it.  None may die of a signal or hang; exit 1
# comes with one `prog: ` line.  Variants are deterministic (seeded); a
# failure names the variant, and FUZZ_ONLY=KIND:SEED reruns just that one.

load helper

setup() {
	T=$BATS_TEST_TMPDIR
	: >"$T/fail"
	NV=0
	VPIDS=()
}

teardown() {
	local p
	# variants still running (a failed or timed-out test) end first: their
	# runs are bounded by timeout(1)
	for p in "${VPIDS[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	cleanup_pids
	cleanup_channels
}

# corrupt FILE KIND SEED LIVE: change the channel object FILE in place.
# KIND: hdrbytes (random bytes in the header fields), hdrfield (one field
# set to an interesting or random value), ringbytes (random bytes in the
# ring, head moved), ringrecs (a run of random records between tail and
# head), t (the targeted case number SEED).  LIVE is the owner word of a
# live process (pid | start time << 32) for token and slot cases.
# Layout (common.h): magic 0, version 8, gen 12, cap 16, creator 24,
# state 32, sleepers 36/40, wtoken 48, rtoken 56, head 64, tail 72, seq 80,
# wopen 88, abandoned 96, then more fields and the slots; ring at 4096; records: len u32,
# flags u32, seq u64.  The channel was made with -s 8K and holds `hello`.
# shellcheck disable=SC2016 # perl source
CORRUPT_PL='
use strict; use warnings;
my ($file, $kind, $seed, $live) = @ARGV;
srand($seed);
open(my $fh, "+<", $file) or die "$file: $!";
binmode $fh;
my $size = -s $fh;
my ($R, $cap) = (4096, 8192);
sub put { my ($off, $d) = @_; return if $off + length($d) > $size; seek($fh, $off, 0); print $fh $d; }
sub u32 { put($_[0], pack("V", $_[1] & 0xffffffff)) }
sub u64 { put($_[0], pack("Q<", $_[1])) }
sub r32 { int(rand(65536)) << 16 | int(rand(65536)) }
sub r64 { r32() << 32 | r32() }
sub rbytes { join "", map { chr(int(rand(256))) } 1 .. $_[0] }
sub rec { my ($pos, $len, $flags, $seq) = @_; put($R + $pos % $cap, pack("VVQ<", $len, $flags, $seq)) }
my @odd = (0, 1, 2, 3, 4, 15, 16, 17, 4095, 4096, 4097, 8176, 8192, 8208, 12288,
    0x7fffffff, 0x80000000, 0xffffffff, 1 << 32, 1 << 63, ~0, ~0 - 15);
sub val { rand() < 0.6 ? $odd[int(rand(@odd))] : r64() }
my @f32 = (8, 12, 32, 36, 40);
my @f64 = (16, 24, 48, 56, 64, 72, 80, 88, 96);
if ($kind eq "hdrbytes") {
	put(int(rand(104)), chr(int(rand(256)))) for 0 .. int(rand(8));
} elsif ($kind eq "hdrfield") {
	my $i = int(rand(@f32 + @f64));
	$i < @f32 ? u32($f32[$i], val()) : u64($f64[$i - @f32], val());
} elsif ($kind eq "ringbytes") {
	put($R + int(rand($cap)), chr(int(rand(256)))) for 0 .. int(rand(48));
	put($R, rbytes(16)) if rand() < 0.5;
	u64(64, 16 * int(rand($cap / 16 + 1))) if rand() < 0.7;
} elsif ($kind eq "ringrecs") {
	my $tail = 16 * int(rand($cap / 16));
	my ($pos, $seq) = ($tail, 1 + int(rand(5)));
	for (0 .. int(rand(6))) {
		my $r = rand();
		my $len = $r < 0.6 ? int(rand(100)) : $r < 0.8 ? int(rand($cap)) : $r < 0.9 ? r32() : $cap - 32;
		my $flags = rand() < 0.9 ? int(rand(8)) : r32();
		$seq = rand() < 0.7 ? $seq : rand() < 0.5 ? $seq + 1 : rand() < 0.5 ? 0 : r64();
		rec($pos, $len, $flags, $seq);
		put($R + ($pos + 16) % $cap, rbytes($len < 32 ? $len : 32)) if ($pos + 16) % $cap + 32 <= $cap;
		$pos += 16 + (($len + 15) & ~15);
		last if $pos - $tail > $cap;
	}
	u64(72, $tail);
	u64(64, rand() < 0.8 ? $pos : $tail + 16 * int(rand($cap / 16 + 2)));
	u64(80, r64()) if rand() < 0.2;
}
my @t = (
	sub { put(0, "X") },				# magic
	sub { put(0, "\0" x 8) },
	sub { u32(8, 0) },				# version
	sub { u32(8, 2) },
	sub { u32(8, ~0) },
	sub { u32(12, 0x12345678) },			# gen: no such semaphores
	sub { u64(16, 0) },				# cap
	sub { u64(16, 1) },
	sub { u64(16, 4095) },
	sub { u64(16, 4097) },
	sub { u64(16, 6000) },
	sub { u64(16, 4096) },				# smaller than the object
	sub { u64(16, 16384) },				# larger than the object
	sub { u64(16, 12288) },
	sub { u64(16, 1 << 63) },
	sub { u64(16, ~0) },
	sub { u64(16, (1 << 30) + 4096) },
	sub { u64(16, 1 << 30) },
	sub { u32(32, 0) },				# state: being built
	sub { u32(32, 2) },				# dying
	sub { u32(32, 3) },				# removed
	sub { u32(32, 4) },
	sub { u32(32, ~0) },
	sub { u64(72, 64); u64(64, 32) },		# head < tail
	sub { u64(64, 32 + $cap + 16) },		# head - tail > cap
	sub { u64(64, $cap) },				# full of zero records
	sub { u64(64, ~0 - 15) },
	sub { u64(72, 1) },				# tail misaligned
	sub { u64(72, 8) },
	sub { u64(64, 33) },				# head misaligned
	sub { u64(64, 40) },
	sub { u64(72, ~0 - 15); u64(64, ~0 - 15) },	# counters about to wrap
	sub { u64(72, ~0 - 15); u64(64, 16) },		# ... and wrapped
	sub { u64(72, 32) },				# tail = head: empty
	sub { u64(72, 16) },				# tail inside a record
	sub { rec(0, ~0, 3, 1) },			# len huge
	sub { rec(0, 0x80000000, 3, 1) },
	sub { rec(0, $cap, 3, 1) },
	sub { rec(0, $cap - 16, 3, 1); u64(64, $cap) },
	sub { rec(0, 17, 3, 1) },			# len past head
	sub { rec(0, 0, 3, 1) },			# empty message, then junk
	sub { rec(0, 6, 0, 1) },			# flags: none
	sub { rec(0, 6, 8, 1) },			# unknown flag
	sub { rec(0, 6, ~0, 1) },
	sub { rec(0, 6, 4, 1) },			# ABORT alone
	sub { rec(0, 6, 5, 1) },			# FIRST|ABORT without LAST
	sub { rec(0, 6, 1, 1) },			# FIRST: an open stream
	sub { rec(0, 6, 2, 1) },			# LAST alone: remains
	sub { rec(0, 6, 6, 1) },			# ABORT|LAST alone
	sub { rec(0, 6, 7, 1) },			# FIRST|LAST|ABORT
	sub { rec(0, 6, 3, 0) },			# seq 0
	sub { rec(0, 6, 3, ~0) },
	sub { rec(0, 6, 1, 1); rec(32, 6, 3, 2); put($R + 48, "world\n"); u64(64, 64) },	# FIRST inside an open message
	sub { rec(0, 6, 1, 1); rec(32, 6, 2, 2); u64(64, 64) },	# LAST of another message
	sub { rec(0, 6, 1, 1); rec(32, 6, 1, 1); u64(64, 64) },	# FIRST twice
	sub { rec(0, 6, 1, 1); rec(32, 0, 6, 1); u64(64, 48) },	# aborted stream
	sub { rec(0, 6, 1, 1); u32(88, 1); u64(48, $live) },	# open stream, live writer
	sub { rec(0, 6, 1, 1); u32(88, 1); u64(48, r64()) },	# open stream, dead writer
	sub { u64(48, $live) },				# write token held by a live process
	sub { u64(56, $live) },				# read token held by a live process
	sub { u64(48, r64()); u64(56, r64()) },		# tokens held by the dead
	sub { u64(48, ~0); u64(56, ~0) },
	sub { u32(36, ~0); u32(40, ~0) },		# sleepers
	sub { u32(36, 1); u32(40, 1) },
	sub { u64(88, 1); u64(48, r64()) },		# wopen: a dead writer of message 1
	sub { u64(88, ~0) },
	sub { u64(96, 1) },				# abandoned
	sub { u64(80, ~0) },				# seq: next one is 0
	sub { u64(80, 0) },
	sub { put(104 + 16 * $_, pack("Q<V", $live, 114)) for 0 .. 255 },	# slots: all live
	sub { put(104 + 16 * $_, pack("Q<V", r64(), r32())) for 0 .. 255 },	# slots: garbage
	sub { put(104, "\xff" x 3992) },		# slots: all ones
	sub { put(0, "\xff" x 4096) },			# header: all ones
	sub { put(8, "\0" x 4088) },			# header: all zero but the magic
	sub { put($R, "\xff" x $cap); u64(64, $cap) },	# ring: all ones
	sub { put($R, "\0" x $cap); u64(64, $cap) },	# ring: all zero
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

# live_id: the owner word of this test shell (alive as long as the test runs).
live_id() {
	local s
	s=$(<"/proc/$$/stat")
	s=${s##*) }
	read -r -a s <<<"$s"
	printf '%s' "$(((s[19] & 0xffffffff) << 32 | $$))"
}

# tool PROG ARGS...: run PROG (shmread or shmwrite) on the hostile channel and
# record in $T/fail anything that breaks the rules.
tool() {
	local prog=$1 rc=0 n
	shift
	# a hang is ended by SIGTERM: 143, a failure like any death by signal
	local out=$T/$VN.out err=$T/$VN.err
	timeout --preserve-status -k 2 $((15 * TMULT)) "$BIN/$prog" "$@" </dev/null >"$out" 2>"$err" || rc=$?
	n=$(wc -l <"$err")
	case $rc in
	0 | 124)
		if [[ $n -ne 0 ]] && grep -qv "^$prog: " "$err"; then
			printf '%s: %s %s: exit %d with: %s\n' "$VARIANT" "$prog" "$*" "$rc" "$(head -c 300 "$err")" >>"$T/fail"
		fi
		;;
	1)
		if [[ $n -ne 1 ]] || ! grep -q "^$prog: " "$err"; then
			printf '%s: %s %s: exit 1 with %d lines: %s\n' "$VARIANT" "$prog" "$*" "$n" "$(head -c 300 "$err")" >>"$T/fail"
		fi
		;;
	*)
		printf '%s: %s %s: exit %d: %s\n' "$VARIANT" "$prog" "$*" "$rc" "$(head -c 300 "$err")" >>"$T/fail"
		;;
	esac
	printf '%s %s %d %s\n' "$VARIANT" "$prog" "$rc" "$(head -n 1 "$err")" >>"$T/log"
	rm -f "$out" "$err"
}

# variant DESC CMD...: a fresh channel holding `hello`, changed by CMD (run
# with the object's path as its first argument), then the three runs.  Up
# to FUZZ_JOBS variants run at once (most of the time goes into waits).
variant() {
	local desc=$1
	shift
	if [[ -n ${FUZZ_ONLY:-} && $FUZZ_ONLY != "$desc" ]]; then
		return 0
	fi
	NV=$((NV + 1))
	# (not plain wait or jobs: bats has background processes of its own)
	while ((${#VPIDS[@]} >= ${FUZZ_JOBS:-8})); do
		wait -n "${VPIDS[@]}" || true
		reap
	done
	one_variant "$desc" "$NV" "$@" 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&- &
	VPIDS+=("$!")
}

# reap: forget the variants that ended.
reap() {
	local p rest=()
	for p in "${VPIDS[@]}"; do
		if kill -0 "$p" 2>/dev/null; then
			rest+=("$p")
		fi
	done
	VPIDS=("${rest[@]}")
}

one_variant() {
	local c f
	VARIANT=$1 VN=v$2
	shift 2
	c=$(chan "$VN")
	f=/dev/shm/shmrw.$c
	if ! "$SHMWRITE" -n "$c" -s 8K hello; then
		echo "$VARIANT: could not make the channel" >>"$T/fail"
		return
	fi
	"$@" "$f"
	tool shmread -n "$c" -t 0.5
	tool shmwrite -n "$c" -t 0.5 x
	tool shmread --status -n "$c"
	rm -f "/dev/shm/shmrw.$c" "/dev/shm/sem.shmrw.$c".*
}

perl_corrupt() { # KIND SEED FILE
	perl -e "$CORRUPT_PL" "$3" "$1" "$2" "$LIVE"
}

report() {
	local p
	for p in "${VPIDS[@]}"; do
		wait "$p" || true
	done
	echo "# $NV variants"
	if [[ -s $T/fail ]]; then
		cat "$T/fail"
		return 1
	fi
}

@test "fuzz: targeted header and record values" {
	local i n
	LIVE=$(live_id)
	n=$(perl -e "$CORRUPT_PL" /dev/null count 0 0)
	((n > 70))
	for ((i = 0; i < n; i++)); do
		variant "t:$i" perl_corrupt t "$i"
	done
	report
}

@test "fuzz: random header bytes and fields (80 seeds)" {
	local i
	LIVE=$(live_id)
	for ((i = 1; i <= 40; i++)); do
		variant "hdrbytes:$i" perl_corrupt hdrbytes "$i"
		variant "hdrfield:$i" perl_corrupt hdrfield "$i"
	done
	report
}

@test "fuzz: random records and ring bytes (65 seeds)" {
	local i
	LIVE=$(live_id)
	for ((i = 1; i <= 20; i++)); do
		variant "ringbytes:$i" perl_corrupt ringbytes "$i"
	done
	for ((i = 1; i <= 45; i++)); do
		variant "ringrecs:$i" perl_corrupt ringrecs "$i"
	done
	report
}

@test "fuzz: truncated and extended objects (11 sizes)" {
	local s
	for s in 0 1 100 4095 4096 5000 8192 12287 12289 16384 $((12288 + 1048576)); do
		variant "size:$s" truncate -s "$s"
	done
	report
}

@test "truncating the object under a reader waiting for a message: exit 1, channel truncated" {
	local c r
	c=$(chan)
	bg /dev/null "$T/out" "$T/err" "${SHMR[@]}" -n "$c" -s 8K
	r=$BGPID
	wait_reader "$c"
	truncate -s 0 "/dev/shm/shmrw.$c"
	expect_exit "$r" 1 5
	cat "$T/err"
	[[ $(wc -l <"$T/err") -eq 1 ]]
	grep -Eq "^shmread: $c: channel (truncated|removed)\$" "$T/err"
	[[ ! -s $T/out ]]
}

@test "truncating the object under a writer waiting for room: exit 1, channel truncated" {
	local c w
	c=$(chan)
	head -c 100000 /dev/zero >"$T/in"
	bg "$T/in" /dev/null "$T/err" "${SHMW[@]}" -n "$c" -s 8K
	w=$BGPID
	wait_until has_bytes "$c"
	truncate -s 4096 "/dev/shm/shmrw.$c"
	expect_exit "$w" 1 5
	cat "$T/err"
	[[ $(wc -l <"$T/err") -eq 1 ]]
	grep -Eq "^shmwrite: $c: channel (truncated|removed)\$" "$T/err"
}

@test "random bytes at /dev/shm/shmrw.NAME: not a channel, left untouched" {
	local c f p
	c=$(chan)
	f=/dev/shm/shmrw.$c
	perl -e 'srand(7); print map { chr(int(rand(256))) } 1 .. 12288' >"$T/junk"
	cp "$T/junk" "$f"
	run --separate-stderr "$SHMREAD" -n "$c" -t 0.5
	echo "shmread: $status $stderr"
	[[ $status -eq 1 && $stderr == "shmread: $c: not a channel" ]]
	run --separate-stderr "$SHMWRITE" -n "$c" -t 0.5 x
	echo "shmwrite: $status $stderr"
	[[ $status -eq 1 && $stderr == "shmwrite: $c: not a channel" ]]
	for p in shmread shmwrite; do
		run --separate-stderr "$BIN/$p" -r -n "$c"
		echo "$p -r: $status $stderr"
		[[ $status -eq 1 && $stderr == "$p: $c: not a channel" ]]
	done
	run --separate-stderr "$SHMREAD" --status -n "$c"
	[[ $status -eq 1 && $stderr == "shmread: $c: not a channel" ]]
	cmp "$T/junk" "$f"
	[[ -z $(sem_objects "$c") ]]
	# short junk, too
	printf 'not a channel\n' >"$f"
	run --separate-stderr "$SHMREAD" -n "$c" -t 0.5
	[[ $status -eq 1 && $stderr == "shmread: $c: not a channel" ]]
	run --separate-stderr "$SHMWRITE" -n "$c" -t 0.5 x
	[[ $status -eq 1 && $stderr == "shmwrite: $c: not a channel" ]]
	printf 'not a channel\n' | cmp - "$f"
	rm -f "$f"
}

@test "a symlink at /dev/shm/shmrw.NAME: exit 1, target untouched, nothing created" {
	local c f p
	c=$(chan)
	f=/dev/shm/shmrw.$c
	printf 'target\n' >"$T/target"
	ln -s "$T/target" "$f"
	for p in shmread shmwrite; do
		run --separate-stderr "$BIN/$p" -n "$c" -t 0.5
		echo "$p: $status $stderr"
		[[ $status -eq 1 && $stderr == "$p: "* && $(wc -l <<<"$stderr") -eq 1 ]]
	done
	printf 'target\n' | cmp - "$T/target"
	rm -f "$f"
	# dangling: the target is not created
	ln -s "$T/none" "$f"
	for p in shmread shmwrite; do
		run --separate-stderr "$BIN/$p" -n "$c" -t 0.5
		echo "$p: $status $stderr"
		[[ $status -eq 1 && $stderr == "$p: "* ]]
	done
	[[ ! -e $T/none ]]
	[[ -L $f ]]
	rm -f "$f"
	[[ -z $(sem_objects "$c") ]]
}

@test "a channel owned by another uid: refused without --any-owner, works with it" {
	local c
	local -a objs
	c=$(chan)
	shmw -n "$c" hello
	shmw -n "$c" again
	mapfile -t objs < <(objects "$c")
	[[ ${#objs[@]} -eq 5 ]]
	chown 65534 "${objs[@]}"
	run --separate-stderr shmr -n "$c" -t 0.5
	echo "$status $stderr"
	[[ $status -eq 1 && $stderr == "shmread: $c: owned by uid 65534 (use --any-owner)" ]]
	run --separate-stderr shmw -n "$c" -t 0.5 x
	[[ $status -eq 1 && $stderr == "shmwrite: $c: owned by uid 65534 (use --any-owner)" ]]
	run --separate-stderr "$SHMREAD" --status -n "$c"
	[[ $status -eq 1 && $stderr == "shmread: $c: owned by uid 65534 (use --any-owner)" ]]
	run --separate-stderr "$SHMREAD" --status --any-owner -n "$c"
	[[ $status -eq 0 && $output == *"queued: "*", 2 messages"* ]]
	run --separate-stderr shmr --any-owner -n "$c" -t 2
	[[ $status -eq 0 && $output == hello && -z $stderr ]]
	run --separate-stderr shmw --any-owner -n "$c" -t 2 more
	[[ $status -eq 0 && -z $stderr ]]
	run --separate-stderr shmr --any-owner -n "$c" -t 2 -c 2
	[[ $status -eq 0 && $output == $'again\nmore' && -z $stderr ]]
	wait_until assert_no_objects "$c"
}
