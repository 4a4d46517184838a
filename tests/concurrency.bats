#!/usr/bin/env bats
# Several writers and readers at once: every message exactly once, whole,
# per-writer order kept; concurrent streams are never interleaved.

load helper

NW=4   # writers
NM=200 # messages per writer

setup() {
	T=$BATS_TEST_TMPDIR
}

# make_inputs: $T/in.K for each writer K, NM lines `wK I xxx...` (varying
# length), and $T/expected (all of them, sorted).
make_inputs() {
	local k
	for ((k = 1; k <= NW; k++)); do
		awk -v k="$k" -v n="$NM" 'BEGIN {
			for (i = 1; i <= n; i++) {
				pad = ""
				for (j = 0; j <= (i * 7 + k) % 50; j++) pad = pad "x"
				print "w" k " " i " " pad
			}
		}' >"$T/in.$k"
	done
	cat "$T"/in.* | sort >"$T/expected"
}

# check_output FILE: every line well formed, padding right, and each
# writer's messages in increasing order.
check_output() {
	awk '
	!/^w[0-9]+ [0-9]+ x+$/ { print "torn or bad line " NR ": " $0; bad = 1; next }
	{
		k = substr($1, 2) + 0; i = $2 + 0
		if (length($3) != (i * 7 + k) % 50 + 1) { print "bad length at line " NR ": " $0; bad = 1 }
		if (i <= last[k]) { print "writer " k " out of order at line " NR ": " $0; bad = 1 }
		last[k] = i
	}
	END { exit bad }' "$1"
}

start_writers() {
	local k
	WPIDS=()
	for ((k = 1; k <= NW; k++)); do
		bg "$T/in.$k" /dev/null "$T/werr.$k" "${SHMW[@]}" -l -n "$1" -s "$2"
		WPIDS+=("$BGPID")
	done
}

wait_writers() {
	local p k
	for p in "${WPIDS[@]}"; do
		expect_exit "$p" 0 30
	done
	for ((k = 1; k <= NW; k++)); do
		[[ ! -s $T/werr.$k ]]
	done
}

@test "4 writers x 200 -l messages, 1 reader: each once, whole, in order" {
	local c r
	c=$(chan)
	make_inputs
	# a small channel, so that writers have to wait for room
	start_writers "$c" 4K
	bg /dev/null "$T/out" "$T/rerr" "${SHMR[@]}" -n "$c" -s 4K -c $((NW * NM))
	r=$BGPID
	wait_writers
	expect_exit "$r" 0 60
	[[ ! -s $T/rerr ]]
	check_output "$T/out"
	sort "$T/out" | cmp - "$T/expected"
	assert_no_objects "$c"
}

@test "4 writers x 200 -l messages, 2 readers: each once, whole, in order" {
	local c r1 r2
	c=$(chan)
	make_inputs
	bg /dev/null "$T/out1" "$T/rerr1" "${SHMR[@]}" -n "$c" -s 8K -c $((NW * NM / 2))
	r1=$BGPID
	bg /dev/null "$T/out2" "$T/rerr2" "${SHMR[@]}" -n "$c" -s 8K -c $((NW * NM / 2))
	r2=$BGPID
	start_writers "$c" 8K
	wait_writers
	expect_exit "$r1" 0 60
	expect_exit "$r2" 0 60
	[[ ! -s $T/rerr1 && ! -s $T/rerr2 ]]
	check_output "$T/out1"
	check_output "$T/out2"
	[[ $(wc -l <"$T/out1") -eq $((NW * NM / 2)) ]]
	sort "$T/out1" "$T/out2" | cmp - "$T/expected"
	assert_no_objects "$c"
}

@test "writers with operand messages, followed reader with -f" {
	local c r i k
	c=$(chan)
	bg /dev/null "$T/out" "$T/rerr" "${SHMR[@]}" -n "$c" -f
	r=$BGPID
	wait_reader "$c"
	WPIDS=()
	for ((k = 1; k <= 3; k++)); do
		(
			for ((i = 1; i <= 30; i++)); do
				"${SHMW[@]}" -n "$c" "w$k" "$i" || exit 1
			done
		) 3>&- &
		WPIDS+=("$!")
		PIDS+=("$!")
	done
	for i in "${WPIDS[@]}"; do
		expect_exit "$i" 0 60
	done
	wait_until has_lines "$T/out" 90
	alive "$r"
	kill -TERM "$r"
	expect_exit "$r" 143
	for ((k = 1; k <= 3; k++)); do
		grep "^w$k " "$T/out" | cut -d' ' -f2 | cmp - <(seq 30)
	done
	[[ $(grep -cvE '^w[1-3] [0-9]+$' "$T/out") -eq 0 ]]
	assert_no_objects "$c"
}

@test "4 concurrent 2 MiB streams through a 64K channel, 2 readers -c 2: never interleaved" {
	local c k r1 r2 size=$((2 * 1024 * 1024)) f part found
	c=$(chan)
	WPIDS=()
	for ((k = 1; k <= 4; k++)); do
		head -c "$size" /dev/urandom >"$T/s.$k"
	done
	bg /dev/null "$T/out1" "$T/rerr1" "${SHMR[@]}" -n "$c" -s 64K -c 2
	r1=$BGPID
	bg /dev/null "$T/out2" "$T/rerr2" "${SHMR[@]}" -n "$c" -s 64K -c 2
	r2=$BGPID
	for ((k = 1; k <= 4; k++)); do
		bg "$T/s.$k" /dev/null "$T/werr.$k" "${SHMW[@]}" -n "$c" -s 64K
		WPIDS+=("$BGPID")
	done
	for k in "${WPIDS[@]}"; do
		expect_exit "$k" 0 60
	done
	expect_exit "$r1" 0 60
	expect_exit "$r2" 0 60
	[[ ! -s $T/rerr1 && ! -s $T/rerr2 ]]
	[[ $(stat -c %s "$T/out1") -eq $((2 * size)) ]]
	[[ $(stat -c %s "$T/out2") -eq $((2 * size)) ]]
	# cut each output into its two messages; each must be one whole stream
	for f in out1 out2; do
		head -c "$size" "$T/$f" >"$T/$f.a"
		tail -c "$size" "$T/$f" >"$T/$f.b"
	done
	for ((k = 1; k <= 4; k++)); do
		found=0
		for part in out1.a out1.b out2.a out2.b; do
			if cmp -s "$T/s.$k" "$T/$part"; then
				found=$((found + 1))
			fi
		done
		echo "stream $k found $found times"
		[[ $found -eq 1 ]]
	done
	assert_no_objects "$c"
}
