#!/usr/bin/env bats
# Crash at every point.  For each injection point of common.h (each
# INJECT("...") there, found at run time, so that new ones are covered as
# they come) and each role of a few small standard scenes, the role's
# process - the test build - is killed with SIGKILL exactly at that point
# (SHMRW_INJECT=POINT=kill), while the others run the plain binaries.  A
# role that never passes the point does its work: that run is a plain
# check.  The scenes, each on a channel of its own (-s 4K):
#   create    a creator comes to what a creator killed just after O_CREAT
#             left, builds the channel anew and sends a message;
#   sleep     a reader (-c 3) creates the channel and sleeps; a -l writer
#             wakes it with three lines;
#   wait      a -w writer creates the channel; a reader takes its message;
#   withdraw  a -w writer's taker fails to write it out; the -w writer,
#             interrupted, withdraws it;
#   stream    200 KB of stdin fill the ring; a writer waits for the token
#             behind the stream; a reader takes the stream, and the token
#             is handed on;
#   last      a reader leaves a stream half-read (its output is cut); the
#             last reader skips what is left, takes the message behind it
#             and, alone, removes the channel;
#   remove    -r removes a kept, empty channel;
#   look      --status looks at it;
#   prune     --prune removes a channel whose only reader was killed;
#   bcast     a subscriber (-c 200) makes a broadcast channel (-b -s 4K); a
#             -l writer sends 200 lines (11 KB: it overwrites the oldest,
#             as far as the subscriber lets it);
#   lossy     a lossy subscriber (-c 200) makes a lossy channel of 64K (it
#             is never lapped) and a tap comes; a -l writer sends 200
#             lines, every 20th longer than a small run takes (so that a
#             batch goes on past its first copy): both get them all, the
#             same.
#   A broadcast writer killed: another sends 200 more, so that its
#   subscribers take their count.  A subscriber killed never holds the
#   writer back for long.
# After each run:
# - the others have ended, or gone on, within a second or two, with the
#   statuses README.md promises: a stream whose writer died ends in "message
#   truncated (writer went away)" having written what came, a stream whose
#   reader died ends its writer with "reader went away", a -w message whose
#   taker's output failed is withdrawn when -w is interrupted ...;
# - the whole messages of writers that were not killed arrived exactly once
#   (at least once when a reader was killed), never torn; a killed writer's
#   once if it had published them, never if not ("nothing unpublished is
#   seen"); a withdrawn one never;
# - after a death, the name works at once: a fresh writer and reader
#   exchange a message;
# - nothing is left in /dev/shm of the channel.
# Per point, the roles that died there are printed; a point that no role
# reaches fails the test, so that a point the scenes miss is noticed.
# CRASH_POINTS and CRASH_ROLES (space-separated) restrict the runs to these
# points and roles (ROLES below), to reproduce one.

# shellcheck disable=SC2154 # OFF_* and such: from tests/layout

load helper
load fault

LIMIT=2 # seconds (x TMULT) the others may be held up by a death, at most
BELL_WRITERS=1 BELL_DATA=2 BELL_SPACE=3

# The roles, the scene each plays in, and what the output calls them.
ROLES=(C S L W T I SW X SR LO RM Q P BS BW LS LT LW)
declare -gA SCENE=([C]=create [S]=sleep [L]=sleep [W]=wait [T]=wait
	[I]=withdraw [SW]=stream [X]=stream [SR]=stream [LO]=last [RM]=remove
	[Q]=look [P]=prune [BS]=bcast [BW]=bcast [LS]=lossy [LT]=lossy
	[LW]=lossy)
declare -gA WHO=([C]="the creator" [S]="the sleeping reader"
	[L]="the -l writer" [W]="the -w writer" [T]="the -w writer's taker"
	[I]="the interrupted -w writer" [SW]="the stream writer"
	[X]="the writer waiting for the token" [SR]="the stream reader"
	[LO]="the last one out" [RM]="the remover" [Q]="--status"
	[P]="--prune" [BS]="the subscriber" [BW]="the broadcast writer"
	[LS]="the lossy subscriber" [LT]="the tap" [LW]="the lossy channel's writer")
# Killed, these may have written out what stays queued: at least once.
READER_ROLES=" S T SR LO "

# The injection points, from the source: new ones are covered as they come.
points() { grep -o 'INJECT("[^"]*")' "$TOP/common.h" | sed 's/^INJECT("//; s/")$//' | sort -u; }

# Per run: KR the role to kill and KP the point; c the channel, D the
# prefix of its files; PID and ST each role's pid and exit status; DIED=1
# once KR was seen killed; POOL the readers' outputs of self-checking
# messages; KEPT=1 if a kept channel is to stay after the scene.
declare -gA PID=() ST=()
POOL=()

# start ROLE IN OUT PROG ARGS...: PROG (shmwrite or shmread) in the
# background as ROLE, its stderr in $D.ROLE.err: the test build to be
# killed at KP if ROLE is KR (ibg), else the plain binary.  A helper of a
# scene is a ROLE of a name of its own.  The plain binary is started as bg
# would, less env(1), which only resets signals to their defaults: that
# costs a process, and hundreds of runs start thousands of them.
start() {
	local role=$1 in=$2 out=$3 prog=$4
	shift 4
	if [[ $role == "$KR" ]]; then
		ibg "$in" "$out" "$D.$role.err" "$KP=kill" "$prog" "$@"
	else
		"$BIN/$prog" "$@" <"$in" >"$out" 2>"$D.$role.err" \
			3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&- &
		BGPID=$!
		PIDS+=("$BGPID")
	fi
	PID[$role]=$BGPID
	unset "ST[$role]"
}

# bad MESSAGE: say what went wrong in this run; fails
bad() {
	echo "# $KP, ${WHO[$KR]} carrying it: $*"
	return 1
}

# Waits poll every 2 ms, without starting a process: hundreds of runs.
# nap: 2 ms (a read that times out, on a FIFO of our own)
nap() { read -rt 0.002 -u 5 || true; }
# ended PID: it has ended (a zombie, or reaped)
ended() {
	local s
	{ read -r s <"/proc/$1/stat"; } 2>/dev/null || return 0
	s=${s##*) }
	[[ ${s:0:1} == [ZX] ]]
}
# within SECONDS CMD...: until CMD succeeds, SECONDS (x TMULT) at most
within() {
	local t=${EPOCHREALTIME/[.,]/} end secs=$1
	end=$((t + secs * 1000000 * TMULT))
	shift
	until "$@"; do
		t=${EPOCHREALTIME/[.,]/}
		((t < end)) || bad "still not after ${secs}s x $TMULT: $*" || return
		nap
	done
}

# reap ROLE: ROLE's process ends within LIMIT; its status into ST[ROLE]
reap() {
	local p=${PID[$1]}
	[[ -z ${ST[$1]:-} ]] || return 0
	if ! within "$LIMIT" ended "$p"; then
		kill -KILL "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
		forget_pid "$p"
		ST[$1]=hung
		bad "$1 did not end within $LIMIT s: $(cat "$D.$1.err")"
		return 1
	fi
	ST[$1]=0
	wait "$p" 2>/dev/null || ST[$1]=$?
	forget_pid "$p"
	if [[ $1 == "$KR" && ${ST[$1]} == 137 ]]; then
		DIED=1
	fi
}

# died ROLE: ROLE is the one that was killed
died() { [[ $1 == "$KR" && $DIED == 1 ]]; }

# said ROLE: what ROLE said on stderr
said() {
	local e=
	IFS= read -rd '' e <"$D.$1.err" || true
	printf '%s' "${e%$'\n'}"
}

# ends ROLE STATUS [LINE]: ROLE ends within LIMIT with STATUS, saying LINE
# or, without one, nothing.  (KR may have been killed instead: 137.)
# ends_either ROLE STATUS LINE: silently with 0, or so.
ends() {
	reap "$1" || return 1
	died "$1" && return 0
	if [[ $# -eq 2 ]]; then
		[[ ${ST[$1]} == "$2" && ! -s $D.$1.err ]]
	else
		[[ ${ST[$1]} == "$2" && $(said "$1") == "$3" ]]
	fi || bad "$1 exited ${ST[$1]}, saying [$(said "$1")]; expected $2 [${3:-}]"
}
ends_either() {
	reap "$1" || return 1
	died "$1" && return 0
	[[ (${ST[$1]} == 0 && ! -s $D.$1.err) ||
		(${ST[$1]} == "$2" && $(said "$1") == "$3") ]] ||
		bad "$1 exited ${ST[$1]}, saying [$(said "$1")]; expected 0, or $2 [$3]"
}

# asleep_or_dead ROLE BELL: ROLE sleeps on BELL (someone does), or is dead
asleep_or_dead() { ended "${PID[$1]}" || asleep_on "$c" "$2" 2>/dev/null; }
either_ended() { ended "${PID[$1]}" || ended "${PID[$2]}"; }
# waits_behind ROLE HOLDER: ROLE sleeps for the write token that HOLDER
# holds, or one of them is dead (then ROLE takes it over by itself)
waits_behind() { either_ended "$1" "$2" || asleep_on "$c" "$BELL_WRITERS" 2>/dev/null; }

# matches POINT PATTERNS: POINT matches one of the (space-separated) PATTERNS
matches() {
	local g
	for g in $2; do
		# shellcheck disable=SC2254 # a pattern
		case $1 in $g) return 0 ;; esac
	done
	return 1
}

# sent ID N ROLE [AFTER [NEVER]]: ROLE sent messages ID-1..N, published
# at once: they must arrive.  If ROLE was killed: at a point of AFTER (it
# comes after ROLE published them), they must all the same; at one of NEVER
# (before it published them, or after it withdrew them), they must not
# ("nothing unpublished is seen"); elsewhere they may, at most once.
sent() {
	local cls=must k
	if died "$3"; then
		if matches "$KP" "${4:-}"; then
			cls=must
		elif matches "$KP" "${5:-}"; then
			return 0
		else
			cls="may prefix"
		fi
	fi
	for ((k = 1; k <= $2; k++)); do
		echo "$1 $k $cls"
	done >>"$D.expected"
}

# drain: the next reader, shmread -t 0: it ends 124 at once, having taken
# what was queued
drain() {
	local n=drain$((${#POOL[@]} + 1))
	start "$n" /dev/null "$D.$n.out" shmread -t 0 -c 1000 -n "$c"
	POOL+=("$D.$n.out")
	ends "$n" 124
}

# no_objects: nothing is left of the channel (assert_no_objects, which
# says what is, only if something is: it costs a process)
no_objects() {
	if [[ -e /dev/shm/shmrw.$c ]] || compgen -G "/dev/shm/sem.shmrw.$c.*" >/dev/null; then
		assert_no_objects "$c"
	fi
}

# is_stream FILE: FILE is the stream; is_prefix FILE: a prefix of it
is_stream() { cmp -s "$1" "$T/stream"; }
is_prefix() { cmp -s -n "$(stat -c %s "$1")" "$1" "$T/stream"; }

# ---- the scenes: each starts with no channel, KR in it --------------------

# A creator comes to what a creator killed just after O_CREAT left, and
# builds the channel anew; it sends one message.
scene_create() {
	: >"/dev/shm/shmrw.$c"
	start C /dev/null /dev/null shmwrite -s 4K -n "$c" "$M_c1"
	ends C 0 || return
	sent c1 1 C "token.given leave.*" "open.retry unlink.* create.* attach.* token.taken publish"
	drain
}

# A reader (-c 3) creates the channel and sleeps; a -l writer wakes it with
# three lines.  If the writer died, another sends three lines so that the
# reader ends: it takes the first three.
scene_sleep() {
	start S /dev/null "$D.S.out" shmread -s 4K -c 3 -n "$c"
	POOL+=("$D.S.out")
	within "$LIMIT" asleep_or_dead S "$BELL_DATA" || return
	start L "$T/l.in" /dev/null shmwrite -s 4K -l -n "$c"
	ends L 0 || return
	sent l1 3 L "token.given leave.* remove.marked unlink.*" "attach.* token.taken publish"
	if died L; then
		start L2 "$T/r.in" /dev/null shmwrite -s 4K -l -n "$c"
		ends L2 0 || return
		sent r1 3 L2
	fi
	ends S 0 || return
	drain
}

# A -w writer creates the channel and waits; a reader takes its message and
# both end 0.  If the writer died first, another message comes for the
# reader; if the reader died, the next reader (the drain) delivers the
# message and the -w writer ends 0.
scene_wait() {
	start W /dev/null /dev/null shmwrite -s 4K -w -t 3 -n "$c" "$M_w1"
	within "$LIMIT" asleep_or_dead W "$BELL_SPACE" || return
	start T /dev/null "$D.T.out" shmread -s 4K -c 1 -n "$c"
	POOL+=("$D.T.out")
	within "$LIMIT" either_ended T W || return
	if ended "${PID[W]}" && ! ended "${PID[T]}"; then
		ends W 0 || return
		if died W; then
			start W2 /dev/null /dev/null shmwrite -s 4K -n "$c" "$M_v1"
			ends W2 0 || return
			sent v1 1 W2
		fi
	fi
	ends T 0 || return
	drain || return
	ends W 0 || return
	sent w1 1 W "token.given sleep.* leave.* remove.marked unlink.*" "create.* attach.* token.taken publish"
}

# A -w writer's message is taken by a reader whose output fails: it stays
# queued, taken (README: Delivery).  Then the -w writer is interrupted:
# no reader is writing it out, so it is withdrawn (143), never delivered.
# Killed, its message stays and is delivered as any other.
scene_withdraw() {
	start I /dev/null /dev/null shmwrite -s 4K -w -t 3 -n "$c" "$M_i1"
	within "$LIMIT" asleep_or_dead I "$BELL_SPACE" || return
	if has_queued "$c" 1; then
		start F /dev/null /dev/full shmread -t 0 -n "$c"
		ends F 1 "shmread: write error: No space left on device" || return
	else
		ended "${PID[I]}" || bad "I alive, asleep, but nothing queued" || return
		start F /dev/null /dev/full shmread -t 0 -n "$c"
		ends F 124 || return	# it died before publishing
	fi
	if ! ended "${PID[I]}"; then
		kill -TERM "${PID[I]}"
	fi
	ends I 143 || return
	# withdrawn, unless killed before it could withdraw it
	if died I; then
		sent i1 1 I "token.given sleep.* withdraw withdraw.token" \
			"create.* attach.* token.taken publish leave.* remove.marked unlink.*"
	fi
	drain
}

# The stream writer's stdin (200 KB) fills the 4K ring; a writer waits for
# the write token behind it; then a reader (-c 1) takes the stream, and the
# token goes to the waiting writer.  If the reader died, another reader
# comes; if the writer died, README: Delivery says what its reader does.
scene_stream() {
	local began=0 whole rin how
	start SW "$T/stream" /dev/null shmwrite -s 4K -n "$c"
	within "$LIMIT" asleep_or_dead SW "$BELL_SPACE" || return
	start X /dev/null /dev/null shmwrite -s 4K -n "$c" "$M_x1"
	within "$LIMIT" waits_behind X SW || return
	start SR /dev/null "$D.SR.out" shmread -s 4K -c 1 -n "$c"
	reap SR || return
	if died SR; then
		# had it begun the stream (rin names it, or it wrote some)?
		rin=$(od -An -tu4 -j "$OFF_rin" -N 4 "/dev/shm/shmrw.$c" | tr -d ' ')
		if [[ $rin != 0 || -s $D.SR.out ]]; then
			began=1
		fi
		is_prefix "$D.SR.out" || bad "the killed reader wrote what was not sent" || return
		start SR2 /dev/null "$D.SR2.out" shmread -s 4K -c 1 -n "$c"
		ends SR2 0 || return
		if ((began)); then
			# the rest of the stream is skipped: the next message
			[[ $(<"$D.SR2.out") == "$M_x1" ]] || bad "SR2 took [$(head -c 100 "$D.SR2.out")], not x1" || return
			POOL+=("$D.SR2.out")
		else
			is_stream "$D.SR2.out" || bad "SR2 did not take the whole stream" || return
		fi
	fi
	if ! died SR || ((!began)); then
		ends SW 0 || return
	elif is_stream "$D.SR.out"; then
		# all written out but not its end: the writer may or may not
		# see its reader die before it leaves
		ends_either SW 1 "shmwrite: $c: reader went away" || return
	else
		ends SW 1 "shmwrite: $c: reader went away" || return
	fi
	if died SW; then
		# what the reader got: as far as the stream came
		case $KP in
		token.handoff | token.given | leave.*) how="whole" ;;
		sleep.set | sleep.woken | stream.end) how="cut" ;;
		create.* | open.retry | attach.* | token.taken | stream.begin | publish) how="none" ;;
		*) how="any" ;;	# no rule yet: any that README allows
		esac
		whole=$(is_stream "$D.SR.out" && echo 1)
		if [[ $how == whole || ($how == any && ${ST[SR]} == 0 && -n $whole) ]]; then
			ends SR 0 && [[ -n $whole ]] || bad "SR: not the whole stream" || return
		elif [[ $how == none || ($how == any && ${ST[SR]} == 0) ]]; then
			ends SR 0 && [[ $(<"$D.SR.out") == "$M_x1" ]] ||
				bad "SR took [$(head -c 100 "$D.SR.out")], not the next message" || return
			POOL+=("$D.SR.out")
		else
			ends SR 1 "shmread: $c: message truncated (writer went away)" || return
			[[ -s $D.SR.out ]] && is_prefix "$D.SR.out" || bad "SR: not a prefix of the stream" || return
		fi
	elif ! died SR; then
		ends SR 0 || return
		is_stream "$D.SR.out" || bad "SR: not the stream" || return
	fi
	ends X 0 || return
	sent x1 1 X "token.given leave.*" "attach.* sleep.* token.taken publish"
	drain
}

# The last one out.  A stream begins, its reader's output is cut (shmread |
# head -c 100) and, at the next part, the reader leaves (141) the rest of
# the stream; a writer waits for the token behind it.  The stream's input
# ends: its writer ends with "reader went away" (the end of the stream is
# published all the same) and hands the token on; the waiting writer's
# message follows what was left.  The last reader skips that, takes the
# message and, alone, removes the channel.
scene_last() {
	exec 4<>"$T/in"
	start SW2 "$T/in" /dev/null shmwrite -s 4K -n "$c"
	printf '%s' "$PART1" >&4
	within "$LIMIT" has_bytes "$c" || return	# it holds the token
	start Z /dev/null /dev/null shmwrite -s 4K -n "$c" "$M_z1"
	within "$LIMIT" waits_behind Z SW2 || return
	bg "$T/out" /dev/null "$D.hd.err" head -c 100
	PID[hd]=$BGPID
	# SIGPIPE at its default, whatever ours is (bg): it dies of it, 141
	bg /dev/null "$T/out" "$D.SX.err" "$SHMREAD" -s 4K -n "$c"
	PID[SX]=$BGPID
	ends hd 0 || return
	printf '%s' "$PART2" >&4
	ends SX 141 || return
	exec 4>&-
	ends SW2 1 "shmwrite: $c: reader went away" || return
	ends Z 0 || return
	sent z1 1 Z
	start LO /dev/null "$D.LO.out" shmread -s 4K -c 1 -n "$c"
	POOL+=("$D.LO.out")
	ends LO 0 || return
	if ! died LO; then
		no_objects || bad "the last one out left objects" || return
	fi
	drain
}

# --status looks at a channel with a message queued.
scene_look() {
	start Q0 /dev/null /dev/null shmwrite -s 4K -n "$c" "$M_q1"
	ends Q0 0 || return
	sent q1 1 Q0
	start Q /dev/null "$D.Q.out" shmread --status -n "$c"
	ends Q 0 || return
	if ! died Q; then
		grep -qx 'queued: [0-9]* bytes, 1 message' "$D.Q.out" || bad "--status: $(<"$D.Q.out")" || return
	fi
	drain
}

# --prune removes a stale channel: its only reader was killed.  Killed,
# --prune leaves it stale, or half removed for the next user to finish.
scene_prune() {
	start P0 /dev/null /dev/null shmread -s 4K -n "$c"
	within "$LIMIT" has_reader "$c" || bad "no reader" || return
	kill -KILL "${PID[P0]}"
	ends P0 137 || return
	within "$LIMIT" has_procs "$c" 0 || bad "the killed reader still there" || return
	start P /dev/null "$D.P.out" shmread --prune "$c"
	ends P 0 || return
	if ! died P; then
		[[ $(<"$D.P.out") == "$c" ]] || bad "--prune said [$(<"$D.P.out")]" || return
		no_objects || bad "--prune left objects" || return
	fi
	return 0
}

# -r removes a kept channel, empty.  Killed before it marked the channel
# removed, it left it as it was: kept, live (-r again removes it).
scene_remove() {
	local state
	start K1 /dev/null /dev/null shmwrite -s 4K -k -n "$c" "$M_k1"
	ends K1 0 || return
	start K2 /dev/null "$D.K2.out" shmread -n "$c"
	POOL+=("$D.K2.out")
	ends K2 0 || return
	sent k1 1 K1
	start RM /dev/null /dev/null shmread -r -n "$c"
	ends RM 0 || return
	if ! died RM; then
		no_objects || bad "-r left objects" || return
		return 0
	fi
	state=$(field "$c" state)
	case $state in
	live) KEPT=1 ;;
	removed) ;;
	*) bad "the remover died, leaving state [$state]" || return ;;
	esac
}

# maybe ID N: messages ID-1..N may arrive, a prefix of them (their only
# subscriber was killed)
maybe() {
	local k
	for ((k = 1; k <= $2; k++)); do
		echo "$1 $k may prefix"
	done >>"$D.expected"
}

# waits_data ROLE: ROLE has attached and sleeps for data (--status says
# so: a dead process's bit in asleep[] does not), or it ended
waits_data() {
	ended "${PID[$1]}" ||
		status_of "$c" | grep -q "^process: ${PID[$1]} [^ ]* [a-z]*, waits for data"
}

# bcast_rest WRITER ROLE ID SEED ARGS...: if WRITER was killed, ROLE sends
# 200 more (ID), which may arrive, so that the subscribers end
bcast_rest() {
	died "$1" || return 0
	gen_msgs "$3" 200 "$4" >"$T/$3.in"
	start "$2" "$T/$3.in" /dev/null shmwrite "${@:5}" -l -n "$c"
	ends "$2" 0 || return
	maybe "$3" 200
}

# A subscriber makes a broadcast channel of 4K and takes 200 messages; a
# -l writer sends 200 lines, 11 KB: it overwrites the ring, as far as the
# subscriber lets it.  The subscriber killed: what it took is a prefix,
# and the writer goes on.
scene_bcast() {
	start BS /dev/null "$D.BS.out" shmread -b -s 4K -c 200 -n "$c"
	POOL+=("$D.BS.out")
	within "$LIMIT" waits_data BS || return
	start BW "$T/b1.in" /dev/null shmwrite -b -s 4K -l -n "$c"
	ends BW 0 || return
	bcast_rest BW BW2 b2 24 -b -s 4K || return
	ends BS 0 || return
	if died BS; then
		maybe b1 200
	else
		sent b1 200 BW
	fi
	drain
}

# A lossy subscriber makes a lossy channel of 64K, a tap comes, and both
# take 200 messages; a -l writer sends 200 lines, which never lap them:
# both get all, the same.  (The subscriber killed before the channel was
# LIVE: the tap makes a queue, and taps it; the drain takes them.)
scene_lossy() {
	local kind
	start LS /dev/null "$D.LS.out" shmread --lossy -s 64K -c 200 -n "$c"
	within "$LIMIT" waits_data LS || return
	start LT /dev/null "$D.LT.out" shmread --tap -c 200 -n "$c"
	within "$LIMIT" waits_data LT || return
	kind=$(field "$c" kind)
	start LW "$T/m3.in" /dev/null shmwrite -l -n "$c"
	ends LW 0 || return
	bcast_rest LW LW2 m2 25 || return
	ends LS 0 || return
	ends LT 0 || return
	if died LS; then
		# a queue's messages are the drain's: the tap only looked
		[[ $kind == queue ]] || POOL+=("$D.LT.out")
	else
		POOL+=("$D.LS.out")
		died LT || cmp -s "$D.LS.out" "$D.LT.out" || bad "the tap got other than the subscriber" || return
	fi
	sent m3 200 LW
	drain
}

# One run: KR killed at KP in its scene; then the name works at once, and
# nothing is left; what readers took adds up.
run_one() {
	local exact=1
	KR=$1 KP=$2 DIED=0 KEPT=0
	PID=() ST=() POOL=()
	c=$PFX$KP.$KR
	D=$T/$KP.$KR
	: >"$D.expected"
	"scene_${SCENE[$KR]}" || return
	# after a death (a plain run has shown it already), the name works
	if ((DIED)) && [[ ${SCENE[$KR]} == bcast || ${SCENE[$KR]} == lossy ]]; then
		# it may be a broadcast channel still: the reader comes first
		start fr /dev/null "$D.fr.out" shmread -t 2 -n "$c"
		within "$LIMIT" waits_data fr || return
		start fw /dev/null /dev/null shmwrite -t 2 -n "$c" fresh
		ends fw 0 || return
		ends fr 0 || return
		[[ $(<"$D.fr.out") == fresh ]] || bad "the fresh reader took [$(head -c 100 "$D.fr.out")]" || return
	elif ((DIED)); then
		start fw /dev/null /dev/null shmwrite -t 2 -n "$c" fresh
		ends fw 0 || return
		start fr /dev/null "$D.fr.out" shmread -t 2 -n "$c"
		ends fr 0 || return
		[[ $(<"$D.fr.out") == fresh ]] || bad "the fresh reader took [$(head -c 100 "$D.fr.out")]" || return
	fi
	if ((KEPT)); then
		[[ $(field "$c" kept) == yes ]] || bad "not the kept channel" || return
		start rr /dev/null /dev/null shmread -r -n "$c"
		ends rr 0 || return
	fi
	no_objects || bad "objects left" || return
	if [[ $DIED == 1 && $READER_ROLES == *" $KR "* ]]; then
		exact=0
	fi
	check_msgs "$D.expected" "$exact" "${POOL[@]}" >"$D.check" ||
		bad "messages: $(grep -v '^check_msgs:' "$D.check" | head -5)"
}

@test "a process killed at each injection point, in each role: the others go on, messages arrive whole, the name works at once, nothing is left" {
	local p r bad_runs=() unreached=() killed pts roles=("${ROLES[@]}")
	# self-checking messages, one or three per writer (see fault.bash)
	M_c1=$(gen_msgs c1 1 11) M_w1=$(gen_msgs w1 1 12) M_v1=$(gen_msgs v1 1 13)
	M_i1=$(gen_msgs i1 1 14) M_x1=$(gen_msgs x1 1 15) M_z1=$(gen_msgs z1 1 16)
	M_k1=$(gen_msgs k1 1 17) M_q1=$(gen_msgs q1 1 20)
	PFX=$(chan_prefix)
	mkfifo "$T/nap" "$T/in" "$T/out"
	exec 5<>"$T/nap"
	# the parts of the stream that a cut reader leaves (scene_last)
	PART1=$(gen_msgs p1 30 21) PART2=$(gen_msgs p2 30 22)
	gen_msgs l1 3 18 >"$T/l.in"
	gen_msgs r1 3 19 >"$T/r.in"
	gen_msgs b1 200 23 >"$T/b1.in"
	gen_msgs m1 200 26 >"$T/m1.in"
	gen_msgs m3 200 27 20 >"$T/m3.in"
	head -c $((200 * 1024)) /dev/urandom >"$T/stream"
	mapfile -t pts < <(points)
	((${#pts[@]} >= 20)) || { echo "only ${#pts[@]} injection points found"; return 1; }
	# CRASH_POINTS, CRASH_ROLES: only these (to reproduce a failed run)
	if [[ -n ${CRASH_POINTS:-} ]]; then
		read -r -a pts <<<"$CRASH_POINTS"
	fi
	if [[ -n ${CRASH_ROLES:-} ]]; then
		read -r -a roles <<<"$CRASH_ROLES"
	fi
	# bash tells of each job killed by a signal, wherever it stands: into
	# a file, with what else the loop says on stderr (shown if it fails)
	for p in "${pts[@]}"; do
		killed=
		for r in "${roles[@]}"; do
			if ! run_one "$r" "$p"; then
				bad_runs+=("$p/$r")
				# did the run fail before it saw KR end?
				if [[ -z ${ST[$r]:-} && -n ${PID[$r]:-} ]] && ended "${PID[$r]}"; then
					reap "$r"
				fi
			fi
			cleanup_pids
			exec 4>&-
			if ((DIED)); then
				killed+="${killed:+, }${WHO[$r]}"
			fi
		done
		echo "# $p: killed ${killed:-nobody}" >&3
		[[ -n $killed || -n ${CRASH_ROLES:-} ]] || unreached+=("$p")
	done 2>"$T/stderr"
	grep -v '^[^ ]*: line [0-9]*: *[0-9]* Killed ' "$T/stderr" || true
	if ((${#unreached[@]})); then
		echo "# reached by no role: ${unreached[*]}"
	fi
	if ((${#bad_runs[@]})); then
		echo "# failed runs (point/role): ${bad_runs[*]}"
	fi
	((${#unreached[@]} == 0 && ${#bad_runs[@]} == 0))
}
