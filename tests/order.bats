#!/usr/bin/env bats
# Memory ordering (PUBLICATION in common.h): a writer and a reader, two
# threads on one mapping of a 4K ring (tests/tsan.c), move thousands of
# messages and streams, every byte checked, under ThreadSanitizer, and it
# sees no data race: the reader reads only what [W1]/[R1] published to it,
# and the writer overwrites only what [R2]/[W2] gave back.  Weaken any of
# the four to relaxed, and ThreadSanitizer reports the race.  Then a
# writer and two subscribers of a broadcast channel (the default policy:
# the writer waits for both) do the same: the writer overwrites only what
# both positions gave back ([R3]/[W3]; weaken [R3], and it reports that).

# shellcheck disable=SC2154 # status, output, stderr: from bats' run

load helper

@test "[W1]/[R1] and [R2]/[W2]: messages and streams through a wrapping ring arrive intact, and ThreadSanitizer sees no data race" {
	local c
	[[ -x $TOP/tests/tsan ]] || skip "no clang: the ThreadSanitizer program was not built"
	c=$(chan)
	# not halt_on_error: the program goes on to remove the channel
	runs env TSAN_OPTIONS='exitcode=66 halt_on_error=0' \
		timeout -k 5 $((120 * TMULT)) "$TOP/tests/tsan" "$c"
	[[ $status -eq 0 && $output == *': intact' ]]
	[[ $stderr != *'WARNING: ThreadSanitizer'* ]]
	assert_no_objects "$c"
}
