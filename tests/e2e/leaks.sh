#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# End-to-end tests of `vmspy leaks` and `vmspy run`: record the examples
# under LD_PRELOAD=libvmspy.so and check the leak report against the ground
# truth written at the top of examples/leaks.c and examples/crash.c, and
# against valgrind memcheck when it is installed.
#
#   tests/e2e/leaks.sh [NAME...]   run all tests, or those whose name
#                                  contains one of NAME
#   KEEP=1 tests/e2e/leaks.sh      keep the temp directory
#   O=dir                          build directory (default build)
#
# Needs `make all examples build/vmspy-asan` first (vmspy-asan is optional).
# Prints "ok", "FAIL" (with reasons) or "skip" (with why) per test, like
# tests/e2e/run.sh; exits 1 if any test failed.
set -u
TIMEOUT=${VMSPY_E2E_TIMEOUT:-60}
SUITE=leaks.sh
LABEL="leaks.sh "
. "$(dirname "$0")/lib.sh"

suite_tmp leaks

# record REC CMD...: run CMD from $D under the preload into recording REC.
# Sets RC to CMD's exit status; stdout/stderr in REC.out / REC.err.
record() {
	local rec=$1
	shift
	rm -rf "$rec" "$rec".*
	RC=0
	(cd "$D" && timeout -k 5 "$TIMEOUT" env LD_PRELOAD="$PRELOAD" \
		VMSPY_QUIET=1 VMSPY_OUT="$rec" ${REC_ENV:-} "$@" \
		>"$rec.out" 2>"$rec.err") 2>/dev/null || RC=$?
	[ -f "$rec/meta" ] || err "no recording at $rec ($*)"
}

# leaks OUT [ARGS...]: `vmspy leaks ARGS` into OUT (stderr OUT.err); sets
# LRC.  A sanitizer report or a crash is an error.
leaks() {
	local out=$1
	shift
	LRC=0
	timeout "$TIMEOUT" "${LEAKS_BIN:-$VMSPY}" leaks "$@" >"$out" \
		2>"$out.err" || LRC=$?
	if grep -Eq 'AddressSanitizer|runtime error|LeakSanitizer' "$out.err"; then
		err "$(basename "${LEAKS_BIN:-$VMSPY}") leaks $*: sanitizer report:" \
			"$(grep -E 'ERROR|runtime error' "$out.err" | head -3)"
	fi
	case $LRC in 0 | 1 | 2 | 7) ;; *)
		err "leaks $*: exit status $LRC: $(head -3 "$out.err")" ;;
	esac
}

# jc FILE ASSERTION...: tests/e2e/jcheck.py; failures become errors.
jc() {
	local file=$1 out
	shift
	out=$(python3 "$E2E/jcheck.py" "$file" "$@") ||
		err "$(basename "$file"):"$'\n'"$out"
}

# ---- tests ----------------------------------------------------------------

t_prereq() {
	[ -f "$PRELOAD" ] || err "$PRELOAD missing (make)"
	[ -x "$VMSPY" ] || err "$VMSPY missing (make)"
	[ -x "$EX/leaks" ] && [ -x "$EX/crash" ] ||
		err "examples missing (make examples)"
	"$VMSPY" --help | grep -Eq '^  leaks ' || err "vmspy has no leaks command"
	"$VMSPY" --help | grep -Eq '^  run ' || err "vmspy has no run command"
	command -v python3 >/dev/null || err "python3 is needed"
}

# examples/leaks: every category and every leaking function, exactly; the
# same totals as memcheck.
t_example() {
	record "$D/leaks.rec" "$EX/leaks"
	[ "$RC" = 0 ] || err "examples/leaks exited $RC under the preload"
	[ "$(cat "$D/leaks.rec.out")" = "leaks ok" ] ||
		err "examples/leaks stdout: $(head -2 "$D/leaks.rec.out")"
	[ -f "$D/leaks.rec/leaks" ] ||
		{ err "no leaks file after a clean exit"; return; }
	leaks "$D/l.json" "$D/leaks.rec" --json
	[ "$LRC" = 1 ] || err "exit status $LRC with definite leaks, want 1"
	jc "$D/l.json" 'clean_exit == true' 'scanned == true' \
		'definitely_lost.bytes == 1065305' 'definitely_lost.blocks == 7' \
		'indirectly_lost.bytes == 192' 'indirectly_lost.blocks == 3' \
		'possibly_lost.bytes == 6666' 'possibly_lost.blocks == 1' \
		'still_reachable.bytes == 7777' 'still_reachable.blocks == 1' \
		'unfreed.bytes == 0' 'suppressed.blocks == 0' \
		'sites.0.bytes == 1048576' 'sites.0.frames.0.function == leak_big'
	local out
	out=$(python3 "$E2E/check_leaks.py" "$D/l.json") ||
		err "per-function check (check_leaks.py):"$'\n'"$out"
	# Frames: null for unknown strings, integer addresses.
	python3 - "$D/l.json" <<'EOF' || err "JSON frames are malformed"
import json, sys
d = json.load(open(sys.argv[1]))
for s in d["sites"]:
    assert s["category"] in ("definitely_lost", "indirectly_lost",
        "possibly_lost", "still_reachable", "unfreed"), s
    for f in s["frames"]:
        assert isinstance(f["address"], int) and f["address"] > 0, f
        for k in ("function", "file", "module"):
            assert f[k] is None or (isinstance(f[k], str) and f[k]), f
        assert f["line"] is None or f["line"] > 0, f
EOF
	# Text: memcheck's words, details of lost sites only by default.
	leaks "$D/l.txt" "$D/leaks.rec"
	[ "$LRC" = 1 ] || err "text: exit status $LRC, want 1"
	local want
	for want in '1,048,576 bytes in 1 blocks are definitely lost' \
		'192 bytes in 3 blocks are indirectly lost' \
		'6,666 bytes in 1 blocks are possibly lost' \
		'    at leak_big (leaks.c:' \
		'definitely lost: 1,065,305 bytes in 7 blocks' \
		'indirectly lost: 192 bytes in 3 blocks' \
		'possibly lost: 6,666 bytes in 1 blocks' \
		'still reachable: 7,777 bytes in 1 blocks' \
		'suppressed: 0 bytes in 0 blocks'; do
		grep -qF "$want" "$D/l.txt" || err "text lacks '$want'"
	done
	grep -q 'are still reachable' "$D/l.txt" &&
		err "text shows still reachable sites without --show-reachable"
	leaks "$D/l-all.txt" "$D/leaks.rec" --show-reachable
	grep -qF '7,777 bytes in 1 blocks are still reachable' "$D/l-all.txt" ||
		err "--show-reachable does not show the reachable site"
	grep -qF '    at hold_reachable (leaks.c:' "$D/l-all.txt" ||
		err "--show-reachable: no hold_reachable frame"

	if ! command -v valgrind >/dev/null; then
		note "valgrind not installed: memcheck comparison skipped"
		return
	fi
	(cd "$D" && timeout "$((TIMEOUT * 3))" valgrind --leak-check=full \
		--show-leak-kinds=all "$EX/leaks" >/dev/null 2>"$D/memcheck.log")
	out=$(python3 - "$D/l.json" "$D/memcheck.log" <<'EOF'
import json, re, sys
d = json.load(open(sys.argv[1]))
log = open(sys.argv[2]).read()
bad = []
for words, key in (("definitely lost", "definitely_lost"),
                   ("indirectly lost", "indirectly_lost"),
                   ("possibly lost", "possibly_lost"),
                   ("still reachable", "still_reachable")):
    m = re.search(words + r": ([\d,]+) bytes in ([\d,]+) blocks", log)
    if not m:
        bad.append("memcheck printed no '%s' total" % words)
        continue
    b, n = (int(x.replace(",", "")) for x in m.groups())
    got = (d[key]["bytes"], d[key]["blocks"])
    # memcheck runs glibc's __libc_freeres at exit, which frees libc's own
    # blocks: vmspy may see more still reachable bytes, never fewer.
    ok = got[0] >= b and got[1] >= n if key == "still_reachable" \
        else got == (b, n)
    if not ok:
        bad.append("%s: vmspy %d bytes in %d blocks, memcheck %d in %d"
                   % (words, got[0], got[1], b, n))
print("\n".join(bad))
sys.exit(1 if bad else 0)
EOF
	) || err "vmspy and memcheck disagree:"$'\n'"$out"
}

# A killed or crashed program: no scan, every block "unfreed", exit 0 and
# the text says why.
t_crash() {
	local mode
	for mode in kill segv abort; do
		record "$D/$mode.rec" "$EX/crash" "$mode"
		leaks "$D/$mode.json" "$D/$mode.rec" --json
		[ "$LRC" = 0 ] || err "crash $mode: exit status $LRC, want 0"
		jc "$D/$mode.json" 'clean_exit == false' 'scanned == false' \
			'unfreed.bytes == 109999' 'unfreed.blocks == 11' \
			'definitely_lost.blocks == 0' 'still_reachable.blocks == 0' \
			'sites.0.category == unfreed' 'sites.0.bytes == 100000' \
			'sites.0.blocks == 10' 'sites.0.frames.0.function == main' \
			'sites.1.bytes == 9999'
		leaks "$D/$mode.txt" "$D/$mode.rec"
		grep -qF 'unfreed: 109,999 bytes in 11 blocks (no scan: the process did not exit cleanly' \
			"$D/$mode.txt" || err "crash $mode: no unfreed total line"
		grep -qF '100,000 bytes in 10 blocks are unfreed' "$D/$mode.txt" ||
			err "crash $mode: no unfreed site"
		grep -q 'not counted as leaks' "$D/$mode.txt" ||
			err "crash $mode: the text does not say why exit is 0"
	done
}

# VMSPY_LEAK_SCAN=0: a clean exit, but no scan: all unfreed.
t_no_scan() {
	REC_ENV=VMSPY_LEAK_SCAN=0 record "$D/r" "$EX/leaks"
	[ -e "$D/r/leaks" ] && err "a leaks file with VMSPY_LEAK_SCAN=0"
	leaks "$D/j" "$D/r" --json
	[ "$LRC" = 0 ] || err "exit status $LRC, want 0"
	jc "$D/j" 'clean_exit == true' 'scanned == false' \
		'unfreed.bytes == 1079940' 'unfreed.blocks == 12' \
		'definitely_lost.blocks == 0'
	leaks "$D/t" "$D/r"
	grep -q 'VMSPY_LEAK_SCAN=0' "$D/t" || err "the text does not say why"
}

# Suppressions, --min-bytes, --error-exitcode.
t_options() {
	record "$D/r" "$EX/leaks"
	local s=$D/supp
	printf '# comment\n\n  leak:leak_big  \n' >"$s"
	leaks "$D/1" "$D/r" --json --suppressions "$s"
	[ "$LRC" = 1 ] || err "one site suppressed: exit $LRC, want 1"
	jc "$D/1" 'definitely_lost.bytes == 16729' \
		'definitely_lost.blocks == 6' 'suppressed.bytes == 1048576' \
		'suppressed.blocks == 1' 'suppressions.0.blocks == 1' \
		'sites.0.bytes == 7777' 'sites.1.bytes == 6666'
	# Every lost site (leak_* functions): exit 0.  Anchors and '*'.
	printf 'leak:^leak_*\n' >"$s"
	leaks "$D/2" "$D/r" --json --suppressions="$s"
	[ "$LRC" = 0 ] || err "all lost sites suppressed: exit $LRC, want 0"
	jc "$D/2" 'definitely_lost.blocks == 0' 'indirectly_lost.blocks == 0' \
		'possibly_lost.blocks == 1' 'suppressed.bytes == 1065497' \
		'suppressed.blocks == 10'
	leaks "$D/2.txt" "$D/r" --suppressions "$s"
	grep -qF 'suppressed: 1,065,497 bytes in 10 blocks' "$D/2.txt" ||
		err "text: no suppressed total"
	printf 'leak:^eak_big\nleak:leak_big$x\n' >"$s"
	leaks "$D/3" "$D/r" --json --suppressions "$s"
	jc "$D/3" 'suppressed.blocks == 0'
	# A source file name, and a module name.
	printf 'leak:examples/leaks.c\n' >"$s"
	leaks "$D/4" "$D/r" --json --suppressions "$s"
	[ "$LRC" = 0 ] || err "file suppression: exit $LRC, want 0"
	jc "$D/4" 'suppressed.blocks == 12'
	printf 'leak:^leaks$\n' >"$s"
	leaks "$D/5" "$D/r" --json --suppressions "$s"
	jc "$D/5" 'suppressed.blocks == 12'
	# Bad suppression files are input errors.
	printf 'race:foo\n' >"$s"
	leaks "$D/6" "$D/r" --suppressions "$s"
	[ "$LRC" = 2 ] || err "unknown suppression type: exit $LRC, want 2"
	leaks "$D/7" "$D/r" --suppressions "$D/nonexistent"
	[ "$LRC" = 2 ] || err "missing suppressions file: exit $LRC, want 2"

	leaks "$D/8" "$D/r" --error-exitcode 7
	[ "$LRC" = 7 ] || err "--error-exitcode 7: exit $LRC"
	leaks "$D/9" "$D/r" --error-exitcode=0
	[ "$LRC" = 0 ] || err "--error-exitcode=0: exit $LRC"
	leaks "$D/10" "$D/r" --error-exitcode 300
	[ "$LRC" = 2 ] || err "--error-exitcode 300: exit $LRC, want 2"
	leaks "$D/11" "$D/r" --min-bytes 5000 --json
	jc "$D/11" 'definitely_lost.bytes == 1065305' 'sites.3.bytes == 5555'
	python3 -c 'import json, sys
s = json.load(open(sys.argv[1]))["sites"]
sys.exit(0 if len(s) == 4 and min(x["bytes"] for x in s) >= 5000 else 1)' \
		"$D/11" || err "--min-bytes 5000: smaller sites in the JSON"
	leaks "$D/12" "$D/r" --min-bytes 5000
	grep -qF '4,444 bytes' "$D/12" && err "--min-bytes: small site shown"
	grep -q 'under 5000 bytes not shown' "$D/12" ||
		err "--min-bytes: no line about hidden sites"
	leaks "$D/13" "$D/r" --bogus
	[ "$LRC" = 2 ] || err "unknown option: exit $LRC, want 2"
	leaks "$D/14" "$D/nonexistent.rec"
	[ "$LRC" = 2 ] || err "missing recording: exit $LRC, want 2"
	[ "$(wc -l <"$D/14.err")" = 1 ] || err "missing recording: not one line"
}

# Programs without leaks report only still reachable blocks, exit 0.
t_clean_programs() {
	local py=/usr/bin/python3 name
	record "$D/ls.rec" /bin/ls /
	leaks "$D/ls.json" "$D/ls.rec" --json
	[ "$LRC" = 0 ] || err "ls: exit $LRC, want 0"
	jc "$D/ls.json" 'clean_exit == true' 'scanned == true' \
		'definitely_lost.blocks == 0' 'indirectly_lost.blocks == 0' \
		'possibly_lost.blocks == 0' 'still_reachable.blocks > 0'
	if [ -x "$py" ]; then
		# Extension modules are dlopen'ed: ld.so's own tables keep
		# interior pointers (possibly lost to a scan; memcheck says 0
		# here), which the built-in suppression hides, counted.
		record "$D/py.rec" "$py" -c 'import json, decimal, ctypes'
		leaks "$D/py.json" "$D/py.rec" --json
		[ "$LRC" = 0 ] || err "python3: exit $LRC, want 0"
		jc "$D/py.json" 'definitely_lost.blocks == 0' \
			'indirectly_lost.blocks == 0' 'possibly_lost.blocks == 0'
		leaks "$D/py.all.json" "$D/py.rec" --json --no-default-suppressions
		python3 - "$D/py.json" "$D/py.all.json" <<'PY' || err "python3: the built-in suppression does not add up"
import json, sys
d, a = (json.load(open(f)) for f in sys.argv[1:])
hid = d["suppressions"][-1]
assert hid["file"] is None and hid["blocks"] == d["suppressed"]["blocks"], hid
assert a["suppressed"]["blocks"] == 0 and all(s["file"] for s in a["suppressions"])
assert a["possibly_lost"]["bytes"] == d["possibly_lost"]["bytes"] + hid["bytes"], (a, d)
for s in a["sites"]:
    if s["category"] == "possibly_lost":
        assert s["frames"][0]["module"].startswith("ld-linux"), s["frames"][0]
PY
	fi
	for name in ls py; do
		[ -s "$D/$name.json" ] && note "$name: $(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
print(", ".join("%s %d/%d" % (k, d[k]["bytes"], d[k]["blocks"]) for k in
      ("definitely_lost", "indirectly_lost", "possibly_lost",
       "still_reachable")))' "$D/$name.json")"
	done
}

# `vmspy run`: the app's stdout, stderr and exit status, then the headline.
t_run() {
	local rc=0
	(cd "$D" && timeout "$TIMEOUT" "$VMSPY" run -- "$EX/leaks" \
		>"$D/out" 2>"$D/err") || rc=$?
	[ "$rc" = 0 ] || err "vmspy run leaks: exit $rc, want 0"
	[ "$(cat "$D/out")" = "leaks ok" ] || err "stdout: $(head -3 "$D/out")"
	grep -q '^vmspy: recording /' "$D/err" || err "no recording line"
	grep -q '^vmspy: *peak heap  *1.0 MiB' "$D/err" || err "no peak heap line"
	grep -q '^vmspy: *peak mmap ' "$D/err" || err "no peak mmap line"
	grep -q '^vmspy: *leaks .*lost in 10 blocks' "$D/err" ||
		err "no leaks line: $(cat "$D/err")"
	local rec
	rec=$(sed -n 's/^vmspy: recording \([^ ;]*\).*/\1/p' "$D/err")
	[ -f "$rec/meta" ] || err "the headline names no recording ($rec)"

	# -o, twice: the second run's recording is a sibling, and is the one
	# the headline reads.
	rc=0
	(cd "$D" && "$VMSPY" run -o o.rec -- "$EX/crash" kill \
		>"$D/o1" 2>"$D/e1") 2>/dev/null || rc=$?
	[ "$rc" = 137 ] || err "crash kill under vmspy run: exit $rc, want 137"
	[ "$(cat "$D/o1")" = "crash: ready" ] || err "crash stdout: $(cat "$D/o1")"
	grep -q 'unknown, no scan.*107.4 KiB unfreed in 11 blocks' "$D/e1" ||
		err "crash headline: $(cat "$D/e1")"
	rc=0
	(cd "$D" && "$VMSPY" run -o o.rec -- "$EX/leaks" >/dev/null \
		2>"$D/e2") || rc=$?
	grep -q "^vmspy: recording $D/o.rec\.[0-9]" "$D/e2" ||
		err "second run into an existing -o: $(head -1 "$D/e2")"
	grep -q 'lost in 10 blocks' "$D/e2" || err "second run: wrong recording read"

	rc=0
	(cd "$D" && "$VMSPY" run -- sh -c 'echo out; echo errout >&2; exit 3' \
		>"$D/o3" 2>"$D/e3") || rc=$?
	[ "$rc" = 3 ] || err "sh -c 'exit 3': exit $rc"
	[ "$(cat "$D/o3")" = out ] || err "sh stdout: $(cat "$D/o3")"
	[ "$(head -1 "$D/e3")" = errout ] || err "sh stderr: $(head -1 "$D/e3")"

	rc=0
	"$VMSPY" run >/dev/null 2>&1 || rc=$?
	[ "$rc" = 2 ] || err "vmspy run without a command: exit $rc, want 2"
	rc=0
	"$VMSPY" run -- /nonexistent/cmd >/dev/null 2>&1 || rc=$?
	[ "$rc" = 127 ] || err "vmspy run of a missing command: exit $rc, want 127"
}

# A static binary cannot be preloaded: vmspy run says so and runs it.
t_run_static() {
	printf '#include <stdio.h>\n#include <stdlib.h>\nint main(void){void *p = malloc(10); printf("static %%p\\n", p != 0 ? (void *)1 : 0); return 5;}\n' \
		>"$D/s.c"
	if ! gcc -static -o "$D/s" "$D/s.c" 2>"$D/gcc.err"; then
		skip "gcc -static failed (no libc.a?): $(head -1 "$D/gcc.err")"
		return
	fi
	local rc=0
	(cd "$D" && "$VMSPY" run -o s.rec -- ./s >"$D/out" 2>"$D/err") || rc=$?
	[ "$rc" = 5 ] || err "static: exit $rc, want 5"
	grep -q '^static ' "$D/out" || err "static: stdout $(cat "$D/out")"
	grep -q 'statically linked' "$D/err" ||
		err "static: stderr does not say why: $(cat "$D/err")"
	[ -e "$D/s.rec" ] && err "static: a recording was made?"
}

# vmspy-asan on the same recordings, and on damaged leaks files.
t_asan() {
	if [ ! -x "$VMSPY_ASAN" ]; then
		skip "$VMSPY_ASAN not built"
		return
	fi
	record "$D/r" "$EX/leaks"
	record "$D/k" "$EX/crash" kill
	local r
	for r in r k; do
		leaks "$D/$r.json" "$D/$r" --json
		LEAKS_BIN=$VMSPY_ASAN leaks "$D/$r.asan.json" "$D/$r" --json
		cmp -s "$D/$r.json" "$D/$r.asan.json" ||
			err "vmspy-asan leaks $r differs from vmspy"
		LEAKS_BIN=$VMSPY_ASAN leaks "$D/$r.asan.txt" "$D/$r" \
			--show-reachable --suppressions /dev/null
	done
	local c size
	size=$(stat -c %s "$D/r/leaks")
	for c in noend header count garbage cat empty bigcount; do
		rm -rf "$D/$c"
		cp -r "$D/r" "$D/$c"
		case $c in
		noend) truncate -s $((size - 4)) "$D/$c/leaks" ;;
		header) printf 'XXXXX' | dd of="$D/$c/leaks" conv=notrunc status=none ;;
		count) sed -i 's/^blocks 12$/blocks 13/' "$D/$c/leaks" ;;
		bigcount) sed -i 's/^blocks 12$/blocks 99999999999999999999/' "$D/$c/leaks" ;;
		garbage) head -c $((size - 4)) /dev/urandom >"$D/$c/leaks"
			printf 'end\n' >>"$D/$c/leaks" ;;
		cat) python3 -c '
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
b[b.index(b"data\n") + 5 + 8] = 77
open(p, "wb").write(b)' "$D/$c/leaks" ;;
		empty) : >"$D/$c/leaks" ;;
		esac
		local bin
		for bin in "$VMSPY" "$VMSPY_ASAN"; do
			LEAKS_BIN=$bin leaks "$D/$c.out" "$D/$c" --json
			case $c in
			noend | empty)
				[ "$LRC" = 0 ] ||
					err "$c: exit $LRC, want 0 (interrupted scan: ignored)"
				jc "$D/$c.out" 'scanned == false' \
					'scan_interrupted == true' 'unfreed.blocks == 12' ;;
			*)
				[ "$LRC" = 2 ] || err "$c: exit $LRC, want 2"
				[ "$(wc -l <"$D/$c.out.err")" = 1 ] ||
					err "$c: want one line on stderr: $(head -3 "$D/$c.out.err")"
				grep -q "leaks file" "$D/$c.out.err" ||
					err "$c: message does not name the leaks file" ;;
			esac
		done
	done
}

# ---- main -----------------------------------------------------------------

run_all "$@"
