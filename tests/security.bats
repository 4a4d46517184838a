#!/usr/bin/env bats
# Security: exact modes whatever the umask, exclusive creation under races,
# objects that are not regular files, and a full /dev/shm.
# shellcheck disable=SC2154 # stderr: set by run --separate-stderr

load helper

setup() {
	T=$BATS_TEST_TMPDIR
}

# modes_are NAME MODE: all five objects have MODE (as stat %a prints it).
modes_are() {
	local f n=0
	local -a objs
	mapfile -t objs < <(objects "$1")
	for f in "${objs[@]}"; do
		n=$((n + 1))
		if [[ $(stat -c %a "$f") != "$2" ]]; then
			echo "$f: mode $(stat -c %a "$f"), expected $2" >&2
			return 1
		fi
	done
	[[ $n -eq 5 ]]
}

@test "modes are exact under umask 000 and 077, for all five objects, whoever creates" {
	local um m want c i=0 old
	old=$(umask)
	for um in 000 077; do
		for m in default 644 0 777 640; do
			i=$((i + 1))
			want=${m#0}
			[[ $m != default ]] || want=600
			[[ -n $want ]] || want=0
			c=$(chan "w$i")
			if [[ $m == default ]]; then
				(umask "$um" && shmw -n "$c" x)
			else
				(umask "$um" && shmw -n "$c" -m "$m" x)
			fi
			modes_are "$c" "$want"
			shmr -n "$c" >/dev/null
			assert_no_objects "$c"
			# created by a reader waiting for a message
			c=$(chan "r$i")
			umask "$um"
			if [[ $m == default ]]; then
				bg /dev/null "$T/out" "$T/err" "${SHMR[@]}" -n "$c"
			else
				bg /dev/null "$T/out" "$T/err" "${SHMR[@]}" -n "$c" -m "$m"
			fi
			umask "$old"
			wait_until_objects "$c"
			modes_are "$c" "$want"
			shmw -n "$c" x
			expect_exit "$BGPID" 0
			wait_until assert_no_objects "$c"
		done
	done
}

# all_blocked PID...: every PID waits in open() of a FIFO.
all_blocked() {
	local p
	for p in "$@"; do
		[[ $(cat "/proc/$p/wchan" 2>/dev/null) == *wait_for_partner* ]] || return 1
	done
}

# release PID...: once all wait on $T/go (or after 3 s: a best effort), open
# it so that they all go at once; it stays open (fd 5) until unrelease.
release() {
	local i
	for ((i = 0; i < 300; i++)); do
		all_blocked "$@" && break
		sleep 0.01
	done
	exec 5<>"$T/go"
}

unrelease() { exec 5>&-; }

# wait_until_objects NAME: until the channel and its semaphores exist.
wait_until_objects() {
	wait_until has_reader "$1"
	assert_objects "$1"
}

@test "10 writer/reader pairs creating their channels at the same moment (x3): all succeed and exchange" {
	local round k c
	local -a wp rp
	for round in 1 2 3; do
		rm -f "$T/go"
		mkfifo "$T/go"
		wp=() rp=()
		for ((k = 1; k <= 10; k++)); do
			c=$(chan "$round-$k")
			# both block opening the fifo until it is opened for writing
			bg "$T/go" /dev/null "$T/werr.$k" "${SHMW[@]}" -t 10 -n "$c" "pair $k"
			wp+=("$BGPID")
			bg "$T/go" "$T/out.$k" "$T/rerr.$k" "${SHMR[@]}" -t 10 -n "$c"
			rp+=("$BGPID")
		done
		release "${wp[@]}" "${rp[@]}"
		for ((k = 1; k <= 10; k++)); do
			expect_exit "${wp[k - 1]}" 0
			expect_exit "${rp[k - 1]}" 0
			[[ ! -s $T/werr.$k && ! -s $T/rerr.$k ]]
			[[ $(cat "$T/out.$k") == "pair $k" ]]
			wait_until assert_no_objects "$(chan "$round-$k")"
		done
		unrelease
	done
}

@test "two writers and two readers racing to create one channel with different sizes: one capacity wins" {
	local c k i
	local -a p
	for i in 1 2 3 4 5; do
		c=$(chan "s$i")
		rm -f "$T/go"
		mkfifo "$T/go"
		p=()
		for k in 1 2; do
			bg "$T/go" /dev/null "$T/werr.$k" "${SHMW[@]}" -t 10 -n "$c" -s "$((k * 4))K" "m$k"
			p+=("$BGPID")
			bg "$T/go" "$T/out.$k" "$T/rerr.$k" "${SHMR[@]}" -t 10 -n "$c" -s "$((k * 4 + 8))K"
			p+=("$BGPID")
		done
		release "${p[@]}"
		for k in 0 1 2 3; do
			expect_exit "${p[k]}" 0
		done
		unrelease
		sort "$T/out.1" "$T/out.2" | tr '\n' ' ' | grep -qx 'm1 m2 '
		# at most a warning about the capacity, nothing else
		for k in 1 2; do
			! grep -v 'exists with capacity [0-9]*; -s ignored$' "$T/werr.$k" "$T/rerr.$k" || false
		done
		wait_until assert_no_objects "$c"
	done
}

@test "a FIFO or a directory at /dev/shm/shmrw.NAME: exit 1 at once, left alone" {
	local c f p
	c=$(chan)
	f=/dev/shm/shmrw.$c
	mkfifo -m 600 "$f"
	for p in shmread shmwrite; do
		run --separate-stderr timeout 10 "$BIN/$p" -n "$c" -t 0.5
		echo "$p: $status $stderr"
		[[ $status -eq 1 && $stderr == "$p: $c: not a channel" ]]
	done
	[[ -p $f ]]
	rm -f "$f"
	mkdir -m 700 "$f"
	for p in shmread shmwrite; do
		run --separate-stderr timeout 10 "$BIN/$p" -n "$c" -t 0.5
		echo "$p: $status $stderr"
		[[ $status -eq 1 && $stderr == "$p: "* && $(wc -l <<<"$stderr") -eq 1 ]]
	done
	[[ -d $f ]]
	rmdir "$f"
	[[ -z $(sem_objects "$c") ]]
}

@test "/dev/shm too small for -s 1G: exit 1, one line, nothing left behind" {
	local avail c
	avail=$(df --output=avail -B1 /dev/shm | tail -n 1)
	if ((avail >= 1024 * 1024 * 1024 + 4096)); then
		skip "/dev/shm has $((avail / 1024 / 1024)) MiB free: cannot make it too small without a mount of our own"
	fi
	c=$(chan)
	run --separate-stderr shmw -n "$c" -s 1G x
	echo "$status $stderr"
	[[ $status -eq 1 && $stderr == "shmwrite: $c: "* && $(wc -l <<<"$stderr") -eq 1 ]]
	assert_no_objects "$c"
}
