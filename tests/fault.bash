# shellcheck shell=bash
# What fault.bats and stress.bats share (loaded after helper.bash):
# self-checking numbered messages, and a checker for what readers received.
#
# A message is one line `ID-SSSSSS PAYLOAD CK`: ID a writer id ([a-z]+[0-9]+),
# SSSSSS its 6-digit sequence number (from 1), PAYLOAD 8..71 pseudo-random hex
# digits, CK 8 hex digits: an Adler-32-like sum over `ID-SSSSSS PAYLOAD`.  A
# torn or interleaved line fails the format or the sum.

# The checksum, as awk source (mawk-compatible).
MSG_AWK_CK='
function ck(s,   i, a, b) {
	a = 1; b = 0
	for (i = 1; i <= length(s); i++) {
		a = (a + ord[substr(s, i, 1)]) % 65521
		b = (b + a) % 65521
	}
	return sprintf("%04x%04x", b, a)
}
function init_ord(   i) { for (i = 32; i < 127; i++) ord[sprintf("%c", i)] = i }
'

# gen_msgs ID N SEED [LONG]: N messages of writer ID, one a line; with
# LONG, every LONGth has 320 more hex digits (past a reader's small runs).
gen_msgs() {
	awk -v id="$1" -v n="$2" -v seed="$3" -v long="${4:-0}" "$MSG_AWK_CK"'
	BEGIN {
		init_ord(); srand(seed); hex = "0123456789abcdef"
		for (s = 1; s <= n; s++) {
			len = 8 + int(rand() * 64); p = ""
			if (long && s % long == 0) len += 320
			for (j = 0; j < len; j++) p = p substr(hex, 1 + int(rand() * 16), 1)
			m = sprintf("%s-%06d %s", id, s, p)
			print m, ck(m)
		}
	}'
}

# check_msgs EXPECTED EXACT FILE...: check what readers received.
# EXPECTED has lines `ID SEQ CLASS [prefix]`: CLASS `must` (sent by a writer
# that was not killed: arrives at least once) or `may` (its writer was killed:
# it may be lost); `prefix` marks writers whose received messages must be 1..k
# without gaps (a killed -l writer commits its lines in order).  EXACT=1: no message arrives twice.  Each FILE is one reader's
# output: every line well formed and its sum right; a writer's messages that
# arrived only once appear in increasing order within each file.  Prints
# what is wrong, and a summary line; fails if anything is wrong.
check_msgs() {
	local expected=$1 exact=$2
	shift 2
	awk -v exact="$exact" -v expected="$expected" "$MSG_AWK_CK"'
	BEGIN {
		init_ord()
		while ((getline l < expected) > 0) {
			split(l, f, " ")
			class[f[1] SUBSEP f[2] + 0] = f[3]
			if (f[4] == "prefix") prefix[f[1]] = 1
			nexp++
		}
	}
	FNR == 1 { nf++; fname[nf] = FILENAME; nl[nf] = 0 }
	{
		if ($0 !~ /^[a-z]+[0-9]+-[0-9][0-9][0-9][0-9][0-9][0-9] [0-9a-f]+ [0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]$/ ||
		    ck($1 " " $2) != $3) {
			printf "%s:%d: torn or bad line: %s\n", FILENAME, FNR, substr($0, 1, 200)
			bad++
			next
		}
		i = index($1, "-"); id = substr($1, 1, i - 1); seq = substr($1, i + 1) + 0
		if (!((id SUBSEP seq) in class)) {
			printf "%s:%d: message never sent: %s\n", FILENAME, FNR, $0
			bad++
			next
		}
		got[id SUBSEP seq]++
		total++
		nl[nf]++
		L[nf SUBSEP nl[nf]] = id SUBSEP seq
	}
	END {
		nmust = nmay = dup = 0
		for (k in class) {
			split(k, f, SUBSEP)
			n = got[k] + 0
			if (class[k] == "must") {
				nmust++
				if (n == 0) { printf "lost: %s-%06d\n", f[1], f[2]; bad++ }
			} else if (n > 0) {
				nmay++
			}
			if (n > 1) {
				dup++
				if (exact) { printf "arrived %d times: %s-%06d\n", n, f[1], f[2]; bad++ }
			}
			if (n > 0 && (f[1] in prefix) && f[2] > max[f[1]]) max[f[1]] = f[2]
			if (n > 0 && (f[1] in prefix)) cnt[f[1]]++
		}
		for (w in prefix)
			if (cnt[w] + 0 != max[w] + 0) {
				printf "killed writer %s: %d of its first %d messages arrived (a gap)\n", w, cnt[w], max[w]
				bad++
			}
		for (i = 1; i <= nf; i++) {
			split("", last)
			for (j = 1; j <= nl[i]; j++) {
				k = L[i SUBSEP j]
				if (got[k] > 1) continue
				split(k, f, SUBSEP)
				if (f[2] <= last[f[1]]) {
					printf "%s: writer %s out of order: %d after %d\n", fname[i], f[1], f[2], last[f[1]]
					bad++
				}
				last[f[1]] = f[2]
			}
		}
		printf "check_msgs: %d lines in %d files; %d sent, %d of them must arrive; %d from killed writers arrived; %d arrived more than once; %d problems\n", total, nf, nexp, nmust, nmay, dup, bad + 0
		exit bad > 0
	}' "$@"
}

# whole_lines FILE: FILE without a last line that lacks its newline (what a
# reader killed in the middle of a write may leave).
whole_lines() {
	if [[ -s $1 && $(tail -c 1 "$1" | od -An -tx1) != *0a* ]]; then
		sed '$d' "$1"
	else
		cat "$1"
	fi
}

# child_of PID PARENT: PID is alive and a child of PARENT (a pid from a
# pidfile written by one of our loops is still that process).
child_of() {
	local s
	[[ -n $1 ]] || return 1
	s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	s=${s##*) }
	read -r -a s <<<"$s"
	[[ ${s[0]} != Z && ${s[0]} != X && ${s[1]} == "$2" ]]
}

# drain NAME DIR: read NAME with `shmread -t 1 -c 1000` until it times out
# (exit 124), each run into DIR/drain.I.  Fails on any other status.
drain() {
	local i rc
	for ((i = 1; i <= 100; i++)); do
		rc=0
		# a hang ends in SIGTERM: 143, never confused with 124
		timeout --preserve-status -k 5 30 "${SHMR[@]}" -t 1 -c 1000 -n "$1" >"$2/drain.$i" 2>"$2/drain.$i.err" || rc=$?
		case $rc in
		124) [[ ! -s $2/drain.$i.err ]] || { cat "$2/drain.$i.err" >&2; return 1; }
			return 0 ;;
		0) ;;
		*) echo "drain: shmread exited $rc: $(cat "$2/drain.$i.err")" >&2
			return 1 ;;
		esac
	done
	echo "drain: channel never ran dry" >&2
	return 1
}
