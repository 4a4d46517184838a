#!/usr/bin/env bats
# Fault injection: writers and readers on one small channel are killed with
# SIGKILL and SIGTERM at random points and replaced; what was sent by writers
# that were not killed arrives intact, in order, and (unless a reader was
# killed: a reader killed just as its write returned has not consumed what it
# wrote) exactly once; nothing hangs and nothing is left behind.
# Rounds are reproducible up to timing: the seed of each is printed.

# shellcheck disable=SC2154,SC2030,SC2031 # status, output, stderr: from bats' run, in each test's subshell

load helper
load fault

LOOPS=() # pids of our loop subshells (their children may be killed)

teardown() {
	local f p l
	# children of our loops first (their pids are in our pidfiles)
	for f in "$T"/r*/*.cur; do
		[[ -e $f ]] || continue
		p=$(cat "$f")
		for l in "${LOOPS[@]}"; do
			if child_of "$p" "$l"; then
				kill -TERM "$p" 2>/dev/null || true
			fi
		done
	done
	cleanup_pids
	cleanup_channels
}

NL=400 # lines per -l writer
NO=60 # messages per operand writer loop

# feed FILE: write FILE to stdout 10..29 lines at a time, pausing 20..60 ms
# between chunks (so that kills land in the middle of a writer's work).
feed() {
	local -a lines
	local i n
	mapfile -t lines <"$1"
	for ((i = 0; i < ${#lines[@]}; i += n)); do
		n=$((10 + RANDOM % 20))
		printf '%s\n' "${lines[@]:i:n}" || return 0
		sleep "0.0$((2 + RANDOM % 5))"
	done
}

# ow_loop IN LOGBASE NAME CAP: one operand shmwrite per line of IN (its words
# as operands); logs `SEQ PID RC` to LOGBASE.log, the running pid to
# LOGBASE.cur.
ow_loop() {
	local seq=0 line cp='' rc
	local -a words
	trap 'kill -TERM "$cp" 2>/dev/null; exit 143' TERM
	while IFS= read -r line; do
		seq=$((seq + 1))
		read -r -a words <<<"$line"
		"${SHMW[@]}" -n "$3" -s "$4" "${words[@]}" &
		cp=$!
		echo "$cp" >"$2.cur"
		rc=0
		wait "$cp" || rc=$?
		echo "$seq $cp $rc" >>"$2.log"
	done <"$1"
}

# cr_loop NAME CAP DIR: `shmread -c N -t 1` over and over, each into
# DIR/out.c.I, until DIR/stop exists; logs `I PID RC` to DIR/cr.log.
cr_loop() {
	local i=0 cp='' rc
	trap 'kill -TERM "$cp" 2>/dev/null; exit 143' TERM
	while [[ ! -e $3/stop ]]; do
		i=$((i + 1))
		"${SHMR[@]}" -n "$1" -s "$2" -t 1 -c $((1 + RANDOM % 30)) >"$3/out.c.$i" 2>"$3/err.c.$i" &
		cp=$!
		echo "$cp" >"$3/cr.cur"
		rc=0
		wait "$cp" || rc=$?
		echo "$i $cp $rc" >>"$3/cr.log"
	done
}

# One round.  MODE: w = kill writers only; t = writers, and readers with
# SIGTERM only; k = anyone, SIGKILL or SIGTERM.
fault_round() {
	local round=$1 seed=$2 mode=$3 cap=$4
	local c d=$T/r$round id k p sig pick nextw=1 nextr=1 kills=0 ksig=0
	local -A lw_pid lw_feed lw_killed fr_pid fr_killed
	local -a cand ow_pid
	local cr_pid bad=0 why='' n rc
	c=$(chan "r$round")
	mkdir -p "$d"
	RANDOM=$seed
	echo "# round $round: seed $seed mode $mode cap $cap channel $c"
	: >"$d/killed"

	start_lw() {
		id=w$nextw
		nextw=$((nextw + 1))
		gen_msgs "$id" "$NL" "$((seed * 10 + nextw))" >"$d/in.$id"
		mkfifo "$d/fifo.$id"
		bg "$d/fifo.$id" /dev/null "$d/err.$id" "${SHMW[@]}" -l -n "$c" -s "$cap"
		lw_pid[$id]=$BGPID
		bgfn /dev/null "$d/fifo.$id" /dev/null feed "$d/in.$id"
		lw_feed[$id]=$BGPID
	}
	start_fr() {
		id=f$nextr
		nextr=$((nextr + 1))
		bg /dev/null "$d/out.$id" "$d/err.$id" "${SHMR[@]}" -f -n "$c" -s "$cap"
		fr_pid[$id]=$BGPID
	}

	start_lw
	start_fr
	start_lw
	for k in 1 2; do
		gen_msgs "o$k" "$NO" "$((seed * 10 + 7 + k))" >"$d/in.o$k"
		bgfn /dev/null /dev/null "$d/err.o$k" ow_loop "$d/in.o$k" "$d/o$k" "$c" "$cap"
		ow_pid[k]=$BGPID
		LOOPS+=("$BGPID")
	done
	start_fr
	start_lw
	bgfn /dev/null /dev/null "$d/err.cr" cr_loop "$c" "$cap" "$d"
	cr_pid=$BGPID
	LOOPS+=("$BGPID")

	# kill someone every 40..240 ms while writers are at work
	while ((kills < 14)); do
		sleep "$(printf '0.%02d' $((4 + RANDOM % 21)))"
		cand=()
		for id in "${!lw_pid[@]}"; do
			if [[ -z ${lw_killed[$id]:-} ]] && alive "${lw_pid[$id]}"; then
				cand+=("lw $id")
			fi
		done
		for k in 1 2; do
			p=$(cat "$d/o$k.cur" 2>/dev/null) || p=
			if child_of "$p" "${ow_pid[k]}"; then
				cand+=("ow $p")
			fi
		done
		((${#cand[@]})) || break # the writers are done
		if [[ $mode != w ]]; then
			for id in "${!fr_pid[@]}"; do
				if [[ -z ${fr_killed[$id]:-} ]]; then
					cand+=("fr $id")
				fi
			done
			p=$(cat "$d/cr.cur" 2>/dev/null) || p=
			if child_of "$p" "$cr_pid"; then
				cand+=("cr $p")
			fi
		fi
		read -r -a pick <<<"${cand[RANDOM % ${#cand[@]}]}"
		sig=TERM
		if [[ $mode == k || ($mode == t && ${pick[0]} != [fc]r) ]] && ((RANDOM % 2)); then
			sig=KILL
		fi
		kills=$((kills + 1))
		case ${pick[0]} in
		lw)
			id=${pick[1]}
			lw_killed[$id]=$sig
			echo "# kill -$sig writer $id (pid ${lw_pid[$id]})"
			kill -"$sig" "${lw_pid[$id]}" 2>/dev/null || true
			wait_exit "${lw_pid[$id]}" 20
			if [[ $WRC -eq 0 && ! -s $d/err.$id ]]; then
				unset "lw_killed[$id]" # it had just finished
			elif [[ $WRC -ne 137 && $WRC -ne 143 ]]; then
				echo "writer $id exited $WRC after SIG$sig: $(cat "$d/err.$id")"
				bad=1 why+=" $LINENO"
			fi
			if ((nextw <= 6)); then
				start_lw
			fi
			;;
		fr)
			id=${pick[1]}
			fr_killed[$id]=$sig
			ksig=1
			echo "# kill -$sig reader $id (pid ${fr_pid[$id]})"
			kill -"$sig" "${fr_pid[$id]}"
			wait_exit "${fr_pid[$id]}" 20
			[[ $WRC -eq 137 || $WRC -eq 143 ]] || { echo "reader $id exited $WRC after SIG$sig"; bad=1 why+=" $LINENO"; }
			start_fr
			;;
		ow | cr)
			if [[ ${pick[0]} == cr ]]; then
				ksig=1
			fi
			echo "# kill -$sig ${pick[0]} child ${pick[1]}"
			echo "${pick[1]} $sig" >>"$d/killed"
			kill -"$sig" "${pick[1]}" 2>/dev/null || true
			;;
		esac
	done

	# every writer ends in time; the ones not killed succeed silently
	for id in "${!lw_pid[@]}"; do
		if [[ -n ${lw_killed[$id]:-} ]]; then
			continue
		fi
		wait_exit "${lw_pid[$id]}" 20 || { echo "writer $id hung"; bad=1 why+=" $LINENO"; continue; }
		[[ $WRC -eq 0 && ! -s $d/err.$id ]] || { echo "writer $id exited $WRC: $(cat "$d/err.$id")"; bad=1 why+=" $LINENO"; }
	done
	for id in "${!lw_feed[@]}"; do
		wait_exit "${lw_feed[$id]}" 20 || bad=1 why+=" $LINENO"
	done
	for k in 1 2; do
		wait_exit "${ow_pid[k]}" 30 || { echo "operand writer loop $k hung: $(tail -n 2 "$d/o$k.log")"; bad=1 why+=" $LINENO"; }
		[[ ! -s $d/err.o$k ]] || { echo "operand writers $k said: $(cat "$d/err.o$k")"; bad=1 why+=" $LINENO"; }
	done
	# the readers still there take the rest
	wait_for 20 has_queued "$c" 0 || { echo "readers stuck"; status_of "$c"; bad=1 why+=" $LINENO"; }
	touch "$d/stop"
	for id in "${!fr_pid[@]}"; do
		if [[ -n ${fr_killed[$id]:-} ]]; then
			continue
		fi
		kill -TERM "${fr_pid[$id]}"
		wait_exit "${fr_pid[$id]}" 20 || { echo "reader $id hung"; bad=1 why+=" $LINENO"; continue; }
		[[ $WRC -eq 143 ]] || { echo "reader $id exited $WRC"; bad=1 why+=" $LINENO"; }
	done
	wait_exit "$cr_pid" 20 || { echo "-c reader loop hung"; bad=1 why+=" $LINENO"; }
	drain "$c" "$d" || bad=1 why+=" $LINENO"
	wait_for 5 assert_no_objects "$c" 2>/dev/null || { assert_no_objects "$c" || true; bad=1 why+=" $LINENO"; }

	# what was sent, and what may have been lost
	: >"$d/expected"
	for id in "${!lw_pid[@]}"; do
		if [[ -n ${lw_killed[$id]:-} ]]; then
			awk -v id="$id" -v n="$NL" 'BEGIN { for (i = 1; i <= n; i++) print id, i, "may prefix" }'
		else
			awk -v id="$id" -v n="$NL" 'BEGIN { for (i = 1; i <= n; i++) print id, i, "must" }'
		fi >>"$d/expected"
	done
	for k in 1 2; do
		while read -r n p rc; do
			if [[ $rc == 0 ]]; then
				echo "o$k $n must"
			elif grep -qx "$p $(kill -l "$((rc - 128))" 2>/dev/null)" "$d/killed"; then
				echo "o$k $n may"
			else
				echo "operand writer o$k message $n (pid $p) exited $rc, not killed" >&2
				bad=1 why+=" $LINENO"
				echo "o$k $n may"
			fi
		done <"$d/o$k.log" >>"$d/expected"
		n=$(wc -l <"$d/o$k.log")
		[[ $n -eq $NO ]] || { echo "operand loop $k ran $n of $NO"; bad=1 why+=" $LINENO"; }
	done
	# which outputs may end in a partial line
	mkdir "$d/chk"
	for id in "${!fr_pid[@]}"; do
		if [[ -s $d/err.$id ]]; then
			echo "reader $id said: $(cat "$d/err.$id")"
			bad=1 why+=" $LINENO"
		fi
		if [[ -n ${fr_killed[$id]:-} ]]; then
			whole_lines "$d/out.$id" >"$d/chk/$id"
		else
			cp "$d/out.$id" "$d/chk/$id"
		fi
	done
	while read -r n p rc; do
		case $rc in
		0 | 124) cp "$d/out.c.$n" "$d/chk/c.$n" ;;
		137 | 143)
			grep -qx "$p $(kill -l "$((rc - 128))")" "$d/killed" || { echo "-c reader $n exited $rc, not killed"; bad=1 why+=" $LINENO"; }
			whole_lines "$d/out.c.$n" >"$d/chk/c.$n"
			;;
		*) echo "-c reader $n exited $rc: $(cat "$d/err.c.$n")"; bad=1 ;;
		esac
		[[ $rc == 1 || ! -s $d/err.c.$n ]] || { echo "-c reader $n said: $(cat "$d/err.c.$n")"; bad=1 why+=" $LINENO"; }
	done <"$d/cr.log"
	cp "$d"/drain.[0-9]* "$d/chk/" 2>/dev/null || true
	rm -f "$d"/chk/*.err
	echo "# $kills kills; readers killed: $ksig; $(cat "$d"/chk/* | wc -l) lines received"
	check_msgs "$d/expected" "$([[ $ksig == 1 ]] && echo 0 || echo 1)" "$d"/chk/* || bad=1 why+=" $LINENO"
	if ((bad)); then
		echo "# round $round failed at lines:$why"
	fi
	return "$bad"
}

@test "random SIGKILL/SIGTERM of writers only: all else arrives exactly once, intact, in order" {
	LOOPS=()
	fault_round 1 "${FAULT_SEED:-4242}" w 4K
}

@test "random SIGTERM of readers, SIGKILL/SIGTERM of writers: at least once, intact, in order" {
	LOOPS=()
	fault_round 2 "${FAULT_SEED:-1717}" t 8K
}

@test "random SIGKILL/SIGTERM of anyone: at least once, intact, in order; nothing left" {
	LOOPS=()
	fault_round 3 "${FAULT_SEED:-9001}" k 4K
	fault_round 4 "$((${FAULT_SEED:-9001} + 1))" k 8K
}

# creator_round NAME SEED: 30 times, a creator of a 64M channel is killed
# at a random moment (before, inside or after posix_fallocate); each time
# the next writer and reader exchange a message at once
creator_round() {
	local c=$1 k d
	RANDOM=$2
	for ((k = 1; k <= 30; k++)); do
		d=$(printf '0.%03d' $((RANDOM % 40)))
		timeout -s KILL "$d" "$SHMWRITE" -s 64M -n "$c" early >/dev/null 2>&1 || true
		runs shmw -t 0 -n "$c" "next $k"
		[[ $status -eq 0 && -z $stderr ]] || { echo "# after a kill at $d s"; return 1; }
		runs shmr -t 0 -n "$c" -c "$(queued_msgs "$c")"
		[[ $status -eq 0 && ($output == "next $k" || $output == $'early\n'"next $k") ]] ||
			{ echo "# after a kill at $d s"; return 1; }
		assert_no_objects "$c"
	done
}

@test "creators killed at random moments, 30 times: each next use works at once, nothing is left" {
	creator_round "$(chan)" "${FAULT_SEED:-31337}"
}
