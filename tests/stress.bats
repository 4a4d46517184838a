#!/usr/bin/env bats
# Stress: many writers and readers at once through a small channel.  Every
# message arrives exactly once, intact, each writer's messages in order within
# each reader's output; concurrent streams arrive whole and unmixed.

# shellcheck disable=SC2154 # status, output, stderr, lines: from bats' run; OFF_* and such: from tests/layout

load helper
load fault

NW=4    # writers
NM=2000 # messages per writer

# mix_writer IN NAME: send the lines of IN in blocks of 250: 240 through one
# `shmwrite -l`, then 10 as operand messages (the words of the line as
# operands, joined again by shmwrite), one shmwrite each.
mix_writer() {
	local -a lines words
	local i j rc
	mapfile -t lines <"$1"
	for ((i = 0; i < ${#lines[@]}; i += 250)); do
		rc=0
		printf '%s\n' "${lines[@]:i:240}" | "${SHMW[@]}" -l -n "$2" -s 16K || rc=$?
		if ((rc)); then
			echo "shmwrite -l for messages $((i + 1))..$((i + 240)) exited $rc"
			return 1
		fi
		for ((j = i + 240; j < i + 250 && j < ${#lines[@]}; j++)); do
			read -r -a words <<<"${lines[j]}"
			"${SHMW[@]}" -n "$2" -s 16K "${words[@]}" || rc=$?
			if ((rc)); then
				echo "shmwrite for message $((j + 1)) exited $rc"
				return 1
			fi
		done
	done
}

# c_reader NAME OUT STOP: `shmread -c 50 -t 1` appending to OUT until STOP
# exists; fails on a status other than 0 or 124.
c_reader() {
	local rc cp=''
	trap 'kill -TERM "$cp" 2>/dev/null; exit 143' TERM
	while [[ ! -e $3 ]]; do
		"${SHMR[@]}" -n "$1" -s 16K -t 1 -c 50 >>"$2" &
		cp=$!
		rc=0
		wait "$cp" || rc=$?
		if [[ $rc -ne 0 && $rc -ne 124 ]]; then
			echo "shmread -c 50 exited $rc"
			return 1
		fi
	done
}

received() {
	local n
	n=$(cat "$T"/out.* | wc -l)
	[[ $n -ge $((NW * NM)) ]]
}

@test "4 writers x 2000 messages (-l and operands), 3 readers (-f, -f, -c) through 16K: each once, intact, in order" {
	local c k r wp=() rp=() cr
	c=$(chan)
	for ((k = 1; k <= NW; k++)); do
		gen_msgs "s$k" "$NM" "$((k * 31))" >"$T/in.$k"
		awk -v k="$k" -v n="$NM" 'BEGIN { for (i = 1; i <= n; i++) print "s" k, i, "must" }'
	done >"$T/expected"
	for r in 1 2; do
		bg /dev/null "$T/out.f$r" "$T/err.f$r" "${SHMR[@]}" -f -n "$c" -s 16K
		rp+=("$BGPID")
	done
	for ((k = 1; k <= NW; k++)); do
		bgfn /dev/null "$T/wout.$k" "$T/werr.$k" mix_writer "$T/in.$k" "$c"
		wp+=("$BGPID")
	done
	bgfn /dev/null "$T/err.c" "$T/err.c" c_reader "$c" "$T/out.c" "$T/stop"
	cr=$BGPID
	for ((k = 1; k <= NW; k++)); do
		expect_exit "${wp[k - 1]}" 0 120
		[[ ! -s $T/wout.$k && ! -s $T/werr.$k ]]
	done
	wait_for 30 received
	touch "$T/stop"
	for r in 1 2; do
		kill -TERM "${rp[r - 1]}"
		expect_exit "${rp[r - 1]}" 143
		[[ ! -s $T/err.f$r ]]
	done
	expect_exit "$cr" 0 10
	[[ ! -s $T/err.c ]]
	check_msgs "$T/expected" 1 "$T"/out.*
	[[ $(cat "$T"/out.* | wc -l) -eq $((NW * NM)) ]]
	wait_until assert_no_objects "$c"
}

@test "3 writers each streaming 5 MB at once, 3 readers -c 1 through 16K: outputs are the inputs" {
	local c k wp=() rp=()
	c=$(chan)
	for k in 1 2 3; do
		head -c $((5 * 1024 * 1024)) /dev/urandom >"$T/in.$k"
	done
	for k in 1 2 3; do
		bg /dev/null "$T/out.$k" "$T/rerr.$k" "${SHMR[@]}" -c 1 -n "$c" -s 16K
		rp+=("$BGPID")
		bg "$T/in.$k" /dev/null "$T/werr.$k" "${SHMW[@]}" -n "$c" -s 16K
		wp+=("$BGPID")
	done
	for k in 1 2 3; do
		expect_exit "${wp[k - 1]}" 0 60
		expect_exit "${rp[k - 1]}" 0 60
		[[ ! -s $T/werr.$k && ! -s $T/rerr.$k ]]
	done
	# each output is one of the inputs, each input is one output
	# (the sums' names are outside the globs: a pipeline's redirection may
	# create its file before the glob is expanded)
	sha256sum "$T"/in.[123] | cut -d' ' -f1 | sort >"$T/sums-in"
	sha256sum "$T"/out.[123] | cut -d' ' -f1 | sort >"$T/sums-out"
	[[ $(uniq "$T/sums-in" | wc -l) -eq 3 ]]
	diff "$T/sums-in" "$T/sums-out"
	wait_until assert_no_objects "$c"
}

@test "everyone on one CPU (taskset -c 0): a 50 MiB stream and 4 x 2000 -l messages go through intact" {
	local c k wp=()
	command -v taskset >/dev/null || skip "no taskset"
	c=$(chan s)
	head -c $((50 * 1024 * 1024)) /dev/urandom >"$T/in"
	bg "$T/in" /dev/null "$T/werr" taskset -c 0 "${SHMW[@]}" -n "$c" -s 64K
	taskset -c 0 "${SHMR[@]}" -n "$c" -s 64K | cmp - "$T/in"
	expect_exit "$BGPID" 0 60
	c=$(chan l)
	for ((k = 1; k <= NW; k++)); do
		gen_msgs "c$k" "$NM" "$((k * 17))" >"$T/in.$k"
		awk -v k="$k" -v n="$NM" 'BEGIN { for (i = 1; i <= n; i++) print "c" k, i, "must" }'
	done >"$T/expected"
	for ((k = 1; k <= NW; k++)); do
		bg "$T/in.$k" /dev/null "$T/werr.$k" taskset -c 0 "${SHMW[@]}" -l -n "$c" -s 16K
		wp+=("$BGPID")
	done
	bg /dev/null "$T/out.1" "$T/rerr.1" taskset -c 0 "${SHMR[@]}" -n "$c" -s 16K -c $((NW * NM / 2))
	bg /dev/null "$T/out.2" "$T/rerr.2" taskset -c 0 "${SHMR[@]}" -n "$c" -s 16K -c $((NW * NM / 2))
	for k in "${wp[@]}" "${PIDS[@]: -2}"; do
		expect_exit "$k" 0 120
	done
	check_msgs "$T/expected" 1 "$T"/out.*
	wait_until assert_no_objects "$c"
}
