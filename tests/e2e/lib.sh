# SPDX-License-Identifier: MIT
#
# The end-to-end tests' shared frame, sourced by tests/e2e/run.sh and
# tests/e2e/reliability.sh: paths, reporting (every test is a function
# t_<name> that calls err or skip), running a program natively and under
# the preload, and the main loop.
#
# The sourcing script sets SUITE (its name in messages), LABEL (prefix of
# its ok/FAIL/skip lines, may be ""), TIMEOUT, and TMP (its temp directory)
# before calling run_all; CLEAN_EACH=1 removes each test's directory after
# it (big recordings).

cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 2
ROOT=$(pwd)
O=${O:-build}
case $O in /*) ;; *) O=$ROOT/$O ;; esac
PRELOAD=$O/libvmspy.so
VMSPY=$O/vmspy
VMSPY_ASAN=$O/vmspy-asan
EX=$O/examples
E2E=$ROOT/tests/e2e
DUMP=$E2E/vmsdump.py
JCHECK=$E2E/jcheck.py
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
ulimit -c 0 # the crash tests must not leave core files

npass=0
nfail=0
nskip=0
FAILED=()

# ---- reporting ------------------------------------------------------------

err() { T_ERR+="    $*"$'\n'; }
skip() { T_SKIP=$*; }
note() { T_NOTE+="    ($*)"$'\n'; }

# run_test t_NAME: runs it in its own directory D (also $TMP/$t_name) and
# prints one line for it, then its notes.
run_test() {
	local t=$1
	T_ERR=""
	T_SKIP=""
	T_NOTE=""
	t_name=$t
	D=$TMP/$t
	mkdir -p "$D"
	"$t"
	if [ -n "$T_ERR" ]; then
		echo "FAIL $LABEL${t#t_}"
		printf '%s' "$T_ERR"
		nfail=$((nfail + 1))
		FAILED+=("${t#t_}")
	elif [ -n "$T_SKIP" ]; then
		if [ -n "${VMSPY_E2E_STRICT:-}" ]; then
			echo "FAIL $LABEL${t#t_} (strict: $T_SKIP)"
			nfail=$((nfail + 1))
			FAILED+=("${t#t_}")
		else
			echo "skip $LABEL${t#t_} ($T_SKIP)"
			nskip=$((nskip + 1))
		fi
	else
		echo "ok   $LABEL${t#t_}"
		npass=$((npass + 1))
	fi
	printf '%s' "$T_NOTE"
	if [ -n "${CLEAN_EACH:-}" ] && [ -z "${KEEP:-}" ]; then
		rm -rf "$D"
	fi
}

# run_all [NAME...]: every t_* function of the sourcing script, in the
# order they are defined (or those whose name contains a NAME); the
# closing line; exit 1 if any failed.
# suite_tmp NAME: TMP = a new temporary directory (vmspy-NAME.*), removed
# at exit unless KEEP=1, which prints where it is.
suite_tmp() {
	TMP=$(mktemp -d "${TMPDIR:-/tmp}/vmspy-$1.XXXXXX") || exit 2
	if [ -n "${KEEP:-}" ]; then
		echo "$SUITE: keeping $TMP"
	else
		trap 'rm -rf "$TMP"' EXIT
	fi
}

run_all() {
	local t p want
	for t in $(grep -o '^t_[a-z0-9_]*()' "$0" | tr -d '()'); do
		if [ $# -gt 0 ]; then
			want=
			for p in "$@"; do
				case $t in *"$p"*) want=1 ;; esac
			done
			[ -n "$want" ] || continue
		fi
		run_test "$t"
	done
	echo "$SUITE: $npass passed, $nfail failed, $nskip skipped"
	if [ $nfail -gt 0 ]; then
		echo "$SUITE: failed: ${FAILED[*]}"
		exit 1
	fi
	exit 0
}

# ---- running programs ---------------------------------------------------------

# have_cmd NAME [BIN]: the analyzer (or BIN) has the subcommand NAME.
have_cmd() {
	local bin=${2:-$VMSPY}
	[ -x "$bin" ] &&
		"$bin" --help 2>&1 | grep -Eq "^  $1( |$)"
}

# run_in DIR OUT ERR RCFILE CMD...: run CMD in DIR under the timeout, with
# stdout, stderr and the exit status captured.  The subshell absorbs the
# shell's own "Killed"/"Segmentation fault" notice.
run_in() {
	local dir=$1 out=$2 errf=$3 rcf=$4
	shift 4
	(
		cd "$dir" && timeout -k 5 "$TIMEOUT" "$@" >"$out" 2>"$errf"
		echo $? >"$rcf"
	) 2>/dev/null
}

# filter_err FILE...: apply VMSPY_E2E_STDERR_IGNORE to captured stderr.
filter_err() {
	[ -n "${VMSPY_E2E_STDERR_IGNORE:-}" ] || return 0
	local f
	for f in "$@"; do
		grep -Ev "$VMSPY_E2E_STDERR_IGNORE" "$f" >"$f.tmp"
		mv "$f.tmp" "$f"
	done
}

# pair NAME [--any-stderr] CMD...: run CMD natively and under the preload
# (VMSPY_QUIET=1, VMSPY_OUT=$D/NAME.rec, plus any VMSPY_* in PAIR_ENV;
# NATIVE_ENV for both runs; PAIR_PRELOAD instead of libvmspy.so alone) from
# the test's directory; the two runs must give the same stdout, the same
# exit status and (unless --any-stderr) the same stderr, and a recording
# must exist unless NO_REC is set.  Sets REC, RC (native status) and PRC.
# crash_status MODE: the exit status examples/crash MODE dies with (128 +
# SIGKILL, SIGSEGV or SIGABRT).
crash_status() {
	case $1 in
	kill) echo 137 ;;
	segv) echo 139 ;;
	abort) echo 134 ;;
	esac
}

pair() {
	local name=$1
	shift
	local any_stderr=
	if [ "${1:-}" = --any-stderr ]; then
		any_stderr=1
		shift
	fi
	mkdir -p "$D/$name.native" "$D/$name.preload"
	REC=$D/$name.rec
	rm -rf "$REC" "$REC".*
	run_in "$D/$name.native" "$D/$name.n.out" "$D/$name.n.err" \
		"$D/$name.n.rc" env ${NATIVE_ENV:-} "$@"
	run_in "$D/$name.preload" "$D/$name.p.out" "$D/$name.p.err" \
		"$D/$name.p.rc" env ${NATIVE_ENV:-} \
		LD_PRELOAD="${PAIR_PRELOAD:-$PRELOAD}" VMSPY_QUIET=1 \
		VMSPY_OUT="$REC" ${PAIR_ENV:-} "$@"
	filter_err "$D/$name.n.err" "$D/$name.p.err"
	RC=$(cat "$D/$name.n.rc")
	PRC=$(cat "$D/$name.p.rc")
	[ "$RC" = 124 ] && err "$name: timed out natively"
	[ "$PRC" = 124 ] && err "$name: timed out under the preload (hang?)"
	[ "$RC" = "$PRC" ] ||
		err "$name: exit status $RC natively, $PRC under the preload:" \
			"$(head -3 "$D/$name.p.err")"
	cmp -s "$D/$name.n.out" "$D/$name.p.out" ||
		err "$name: stdout differs under the preload:" \
			"$(diff "$D/$name.n.out" "$D/$name.p.out" | head -5)"
	if [ -z "$any_stderr" ] && ! cmp -s "$D/$name.n.err" "$D/$name.p.err"; then
		err "$name: stderr differs under the preload:" \
			"$(diff "$D/$name.n.err" "$D/$name.p.err" | head -5)"
	fi
	[ -n "${NO_REC:-}" ] || [ -d "$REC" ] || err "$name: no recording at $REC"
}

# ---- reading recordings -------------------------------------------------

# dump REC: vmsdump.py REC into REC.dump.json and REC.sizes.json.
dump() {
	local rec=$1
	if ! python3 "$DUMP" "$rec" >"$rec.dump.json" 2>"$rec.dump.err"; then
		err "vmsdump cannot read $(basename "$rec"): $(head -1 "$rec.dump.err")"
		return 1
	fi
	python3 "$DUMP" "$rec" --sizes >"$rec.sizes.json" 2>/dev/null
}

# summary REC [BIN]: `vmspy summary REC --json` into REC.summary.json (or
# REC.summary-asan.json); non-zero after err on failure or sanitizer report.
summary() {
	local rec=$1 bin=${2:-$VMSPY} out=$1.summary.json rc=0
	[ "$bin" = "$VMSPY_ASAN" ] && out=$1.summary-asan.json
	timeout "$TIMEOUT" "$bin" summary "$rec" --json >"$out" 2>"$out.err" || rc=$?
	if [ $rc != 0 ]; then
		err "$(basename "$bin") summary $(basename "$rec") exited $rc:" \
			"$(head -3 "$out.err")"
		return 1
	fi
	if grep -Eq 'AddressSanitizer|runtime error|LeakSanitizer' "$out.err"; then
		err "$(basename "$bin") summary $(basename "$rec"): sanitizer report:" \
			"$(grep -E 'ERROR|runtime error' "$out.err" | head -3)"
		return 1
	fi
}

# jc FILE LABEL ASSERTION...: tests/e2e/jcheck.py; failures become errors.
jc() {
	local file=$1 label=$2 out
	shift 2
	out=$(python3 "$JCHECK" "$file" "$@") || err "$label:"$'\n'"$out"
}

# cross REC: `vmspy summary` agrees with the independent decoder on every
# number both define, and vmspy-asan (when built) prints the same JSON.
cross() {
	local rec=$1
	[ -s "$rec.dump.json" ] && [ -s "$rec.summary.json" ] || return 0
	local out
	if ! out=$(python3 - "$rec.dump.json" "$rec.summary.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
s = json.load(open(sys.argv[2]))
bad = []
for k in ("threads", "clean_exit", "peak_heap_bytes", "peak_mmap_bytes",
          "total_allocated_bytes", "heap_live_bytes_at_end", "pid"):
    if k in s and s[k] != d[k]:
        bad.append("%s: summary %s, vmsdump %s" % (k, s[k], d[k]))
for api, n in d["calls"].items():
    if s.get("calls", {}).get(api) != n:
        bad.append("calls.%s: summary %s, vmsdump %s" %
                   (api, s.get("calls", {}).get(api), n))
if s.get("events", 0) < sum(d["calls"].values()):
    bad.append("events %s < number of calls %d" %
               (s.get("events"), sum(d["calls"].values())))
print("\n".join("    " + b for b in bad))
sys.exit(1 if bad else 0)
EOF
	); then
		err "summary and vmsdump disagree on $(basename "$rec"):"$'\n'"$out"
	fi
	if have_cmd summary "$VMSPY_ASAN" && summary "$rec" "$VMSPY_ASAN"; then
		cmp -s "$rec.summary.json" "$rec.summary-asan.json" ||
			err "vmspy-asan summary $(basename "$rec") differs from vmspy"
	fi
}

# record_checks REC: decodes with vmsdump (no address handed out twice
# without a release -- that would mean a lost free or lost records --
# nothing dropped), `vmspy summary` reads it and agrees with the decoder,
# vmspy-asan prints the same.  Non-zero when the recording cannot be read.
record_checks() {
	local rec=$1
	dump "$rec" || return 1
	jc "$rec.dump.json" "vmsdump $(basename "$rec")" \
		'reused_live_addresses == 0' 'dropped == 0'
	summary "$rec" || return 1
	cross "$rec"
	return 0
}
