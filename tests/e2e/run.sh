#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# End-to-end tests: run the example programs (and a few real programs)
# natively and under LD_PRELOAD=libvmspy.so, check that the app behaves the
# same, and check the recordings against the ground truth written at the top
# of each examples/*.c -- through `vmspy summary` (and `vmspy-asan`), and
# through tests/e2e/vmsdump.py, an independent reader of the format.
#
#   tests/e2e/run.sh [NAME...]     run all tests, or those whose name
#                                  contains one of NAME
#   KEEP=1 tests/e2e/run.sh        keep the temp directory (for debugging)
#   O=dir                          build directory (default build)
#   VMSPY_E2E_STDERR_IGNORE=REGEX  drop matching lines from stderr before
#                                  comparing (e.g. a recorder debug line
#                                  while someone works on it; default none)
#
# Called by `make check` from the repository root after `make all examples
# build/vmspy-asan`.  Prints "ok", "FAIL" (with the reasons) or "skip"
# (with why) per test; exits 1 if any test failed.
#
# Tests of analyzer commands that do not exist yet (vmspy leaks, vmspy maps)
# skip with "skip ... (vmspy <cmd> not built yet)"; they run as soon as
# `vmspy --help` lists the command.  VMSPY_E2E_STRICT=1 turns such skips
# into failures.
set -u
TIMEOUT=${VMSPY_E2E_TIMEOUT:-60}
SUITE=e2e
LABEL=
. "$(dirname "$0")/lib.sh"

suite_tmp e2e




# both REC ASSERTION...: the assertions hold for the decoder's view of REC
# and, when the analyzer has `summary`, for `vmspy summary --json`.
both() {
	local rec=$1
	shift
	jc "$rec.dump.json" "vmsdump $(basename "$rec")" "$@"
	[ -s "$rec.summary.json" ] &&
		jc "$rec.summary.json" "vmspy summary $(basename "$rec")" "$@"
}



# ---- the tests ----------------------------------------------------------

t_build() {
	[ -f "$PRELOAD" ] || err "$PRELOAD missing (make)"
	[ -x "$VMSPY" ] || err "$VMSPY missing (make)"
	for c in "$ROOT"/examples/*.c; do
		local n
		n=$(basename "$c" .c)
		[ -x "$EX/$n" ] || err "$EX/$n missing (make examples)"
	done
	have_cmd summary || err "vmspy has no summary command"
}

t_counts() {
	pair counts "$EX/counts"
	record_checks "$REC" || return
	both "$REC" 'calls.malloc == 17' 'calls.calloc == 7' \
		'calls.realloc == 11' 'calls.reallocarray == 3' \
		'calls.posix_memalign == 5' 'calls.aligned_alloc == 4' \
		'calls.memalign == 6' 'calls.valloc == 2' 'calls.pvalloc == 3' \
		'calls.free == 44' 'calls.mmap == 11' 'calls.mmap64 == 2' \
		'calls.munmap == 12' 'calls.mremap == 3' 'calls.mprotect == 4' \
		'calls.madvise == 3' 'calls.sbrk == 3' 'calls.brk == 2' \
		'calls.shm_open == 2' 'calls.shm_unlink == 1' \
		'calls.shmget == 1' 'calls.shmat == 2' 'calls.shmdt == 2' \
		'calls.pthread_create == 0' 'calls.dlopen == 0' \
		'calls.dlclose == 0' 'calls.fork == 0' 'calls.vfork == 0' \
		'threads == 1' 'clean_exit == true' \
		'peak_heap_bytes == 3148728' 'peak_mmap_bytes == 8388608' \
		'heap_live_bytes_at_end == 3000' \
		'total_allocated_bytes == 3298060'
	# 100-byte requests: 14 mallocs and 3 pvallocs; 320: 7 callocs and the
	# last reallocarray.
	jc "$REC.sizes.json" "vmsdump sizes" '1000.live == 1' '2000.live == 1' \
		'100.alloc == 17' '100.live == 0' '320.alloc == 8' \
		'65536.alloc == 1' '3145728.live == 0'
}

t_threads() {
	pair threads "$EX/threads"
	record_checks "$REC" || return
	# The program's own calls are exact; glibc may add a few of its own
	# for thread TLS, hence the small ranges.
	both "$REC" 'calls.pthread_create == 5' 'threads == 6' \
		'calls.malloc >= 1113' 'calls.malloc <= 1123' \
		'calls.free >= 1100' 'calls.free <= 1110' \
		'calls.munmap == 0' 'calls.mmap == 0' 'clean_exit == true' \
		'heap_live_bytes_at_end >= 30789' \
		'heap_live_bytes_at_end <= 34885' 'peak_heap_bytes >= 30789'
	jc "$REC.sizes.json" "vmsdump sizes" \
		'48.alloc == 250' '49.alloc == 250' '50.alloc == 250' \
		'51.alloc == 250' '61.alloc == 100' '48.live == 0' \
		'51.live == 0' '61.live == 0' '1001.live == 3' '2001.live == 3' \
		'3001.live == 3' '4001.live == 3' '777.live == 1'
}

t_leaks() {
	pair leaks "$EX/leaks"
	record_checks "$REC" || return
	# In use at exit: the same 12 blocks memcheck counts.
	both "$REC" 'heap_live_bytes_at_end == 1079940' 'clean_exit == true' \
		'calls.pthread_create == 1' 'calls.malloc == 10' \
		'calls.calloc == 1' 'calls.realloc == 2' \
		'calls.posix_memalign == 1' 'calls.free == 0'
	jc "$REC.sizes.json" "vmsdump sizes" '1111.live == 1' \
		'2222.live == 1' '3333.live == 1' '4444.live == 1' \
		'5555.live == 1' '1048576.live == 1' '64.live == 4' \
		'6666.live == 1' '7777.live == 1' '100.live == 0' '200.live == 0'
}

# The recorder's exit-time reachability scan (the "leaks" file), read by
# the independent decoder: the categories memcheck gives (issue 3).
t_leak_scan() {
	pair leaks "$EX/leaks"
	dump "$REC" || return
	local d=$TMP/$t_name
	python3 "$DUMP" "$REC" --leaks >"$d/scan.json"
	if ! grep -q '"present": true' "$d/scan.json"; then
		skip "the recorder writes no leaks file yet"
		return
	fi
	jc "$d/scan.json" "leak scan of examples/leaks" \
		'definitely_lost.bytes == 1065305' 'definitely_lost.blocks == 7' \
		'indirectly_lost.bytes == 192' 'indirectly_lost.blocks == 3' \
		'possibly_lost.bytes == 6666' 'possibly_lost.blocks == 1' \
		'still_reachable.bytes == 7777' 'still_reachable.blocks == 1' \
		'unclassified.blocks == 0' 'not_live == 0' \
		'by_size.64.definitely_lost == 1' 'by_size.64.indirectly_lost == 3' \
		'by_size.1048576.definitely_lost == 1'
	if command -v valgrind >/dev/null; then
		(cd "$d" && timeout "$TIMEOUT" valgrind --leak-check=full \
			--show-leak-kinds=all "$EX/leaks" >/dev/null 2>"$d/memcheck.log")
		local out
		out=$(python3 - "$d/scan.json" "$d/memcheck.log" <<'PYEOF'
import json, re, sys
scan = json.load(open(sys.argv[1]))
text = open(sys.argv[2]).read()
bad = []
for label in ("definitely lost", "indirectly lost", "possibly lost",
              "still reachable"):
    m = re.search(label + r": ([\d,]+) bytes in ([\d,]+) blocks", text)
    if not m:
        bad.append("memcheck printed no '%s' total" % label)
        continue
    b, n = (int(x.replace(",", "")) for x in m.groups())
    got = scan[label.replace(" ", "_")]
    if (got["bytes"], got["blocks"]) != (b, n):
        bad.append("%s: scan %d bytes in %d blocks, memcheck %d in %d" %
                   (label, got["bytes"], got["blocks"], b, n))
print("\n".join("    " + x for x in bad))
sys.exit(1 if bad else 0)
PYEOF
		) || err "the scan and memcheck disagree:"$'\n'"$out"
	fi
	# Other programs: a killed one has no scan; counts' two leaks are
	# held by globals; the demo loses 3 x 256 bytes in parse_metadata.
	pair crash --any-stderr "$EX/crash" kill
	[ -e "$REC/leaks" ] && err "a SIGKILLed process left a leaks file"
	pair counts "$EX/counts"
	python3 "$DUMP" "$REC" --leaks >"$d/counts.json"
	jc "$d/counts.json" "leak scan of examples/counts" \
		'still_reachable.bytes == 3000' 'definitely_lost.bytes == 0' \
		'possibly_lost.bytes == 0' 'unclassified.blocks == 0'
	pair demo "$EX/demo"
	python3 "$DUMP" "$REC" --leaks >"$d/demo.json"
	jc "$d/demo.json" "leak scan of examples/demo" \
		'definitely_lost.bytes == 768' 'definitely_lost.blocks == 3' \
		'indirectly_lost.bytes == 0' 'possibly_lost.bytes == 0' \
		'unclassified.blocks == 0'
}

# vmspy leaks on examples/leaks: categories, sites and memcheck's totals.
t_leaks_report() {
	if ! have_cmd leaks; then
		skip "vmspy leaks not built yet"
		return
	fi
	pair leaks "$EX/leaks"
	local d=$TMP/$t_name rc=0
	"$VMSPY" leaks "$REC" --json >"$d/leaks.json" 2>"$d/leaks.err" || rc=$?
	[ $rc = 1 ] || err "vmspy leaks exit status $rc, want 1 (definite leaks)"
	local vg=""
	if command -v valgrind >/dev/null; then
		vg=$d/memcheck.log
		(cd "$d" && timeout "$TIMEOUT" valgrind --leak-check=full \
			--show-leak-kinds=all "$EX/leaks" >/dev/null 2>"$vg")
	fi
	local out
	out=$(python3 "$E2E/check_leaks.py" "$d/leaks.json" $vg) ||
		err "vmspy leaks:"$'\n'"$out"
	if have_cmd leaks "$VMSPY_ASAN"; then
		"$VMSPY_ASAN" leaks "$REC" --json >"$d/leaks-asan.json" \
			2>"$d/leaks-asan.err"
		cmp -s "$d/leaks.json" "$d/leaks-asan.json" ||
			err "vmspy-asan leaks differs from vmspy:" \
				"$(head -3 "$d/leaks-asan.err")"
	fi
}

t_crash() {
	local mode want
	for mode in kill segv abort; do
		want=$(crash_status "$mode")
		pair "crash-$mode" --any-stderr "$EX/crash" "$mode"
		[ "$RC" = "$want" ] || err "crash $mode: exit status $RC, want $want"
		record_checks "$REC" || continue
		both "$REC" 'clean_exit == false' 'calls.malloc == 10' \
			'calls.calloc == 1' 'calls.mmap == 1' \
			'heap_live_bytes_at_end == 109999' \
			'peak_mmap_bytes == 1048576'
	done
}

# A killed process has no reachability scan: its blocks are "unfreed".
t_crash_leaks() {
	if ! have_cmd leaks; then
		skip "vmspy leaks not built yet"
		return
	fi
	pair crash-kill --any-stderr "$EX/crash" kill
	"$VMSPY" leaks "$REC" --json >"$REC.leaks.json" 2>"$REC.leaks.err"
	jc "$REC.leaks.json" "vmspy leaks crash-kill" \
		'unfreed.bytes == 109999' 'unfreed.blocks == 11' \
		'definitely_lost.bytes == 0' 'still_reachable.bytes == 0'
}

t_forks() {
	pair forks "$EX/forks"
	local d=$TMP/$t_name
	for r in "$REC" "$REC".*; do
		case $r in *.json | *.err) continue ;; esac
		[ -d "$r" ] && { record_checks "$r" || true; }
	done
	local out
	out=$(python3 "$E2E/check_forks.py" "$REC") ||
		err "recordings of forks:"$'\n'"$out"
}

# A fork child's scan: a block referenced only from a block the parent
# allocated is not a leak; the child's own lost block is.
t_fork_leaks() {
	if ! have_cmd leaks; then
		skip "vmspy leaks not built yet"
		return
	fi
	pair forkleak "$EX/forkleak"
	local child
	child=$(ls -d "$REC".* 2>/dev/null | grep -v '\.json$' | head -1)
	[ -n "$child" ] || { err "forkleak: no child recording"; return; }
	"$VMSPY" leaks "$REC" --json >"$REC.leaks.json" 2>/dev/null || true
	jc "$REC.leaks.json" "vmspy leaks forkleak parent" \
		'definitely_lost.bytes == 0' 'indirectly_lost.bytes == 0'
	"$VMSPY" leaks "$child" --json >"$REC.child.json" 2>/dev/null || true
	jc "$REC.child.json" "vmspy leaks forkleak child" \
		'definitely_lost.bytes == 100' 'definitely_lost.blocks == 1' \
		'indirectly_lost.bytes == 0' 'possibly_lost.bytes == 0'
}

# Bad VMSPY_* values: one line on stderr naming the variable, a sane
# default, the app runs as usual.
t_bad_env() {
	local var
	for var in VMSPY_DEPTH=abc VMSPY_INTERVAL_MS=-5 VMSPY_FOLLOW=maybe \
		VMSPY_CHUNK_KB=1x VMSPY_LEAK_SCAN=2; do
		local name=${var%%=*}
		PAIR_ENV=$var pair "bad-$name" --any-stderr "$EX/counts"
		local e=$TMP/$t_name/bad-$name.p.err
		[ "$(wc -l <"$e")" = 1 ] ||
			err "$var: want one line on stderr, got $(wc -l <"$e"):" \
				"$(head -3 "$e")"
		grep -q "$name" "$e" || err "$var: stderr does not name $name"
		[ -f "$REC/meta" ] || err "$var: no recording made"
	done
	grep -q '^depth 64$' "$TMP/$t_name/bad-VMSPY_DEPTH.rec/meta" ||
		err "VMSPY_DEPTH=abc: meta does not show the default depth 64"
}

# An unwritable VMSPY_OUT: not recording, the app unaffected.
t_unwritable_out() {
	local d=$TMP/$t_name out
	for out in /proc/nope /nonexistent/dir/rec; do
		run_in "$d" "$d/n.out" "$d/n.err" "$d/n.rc" "$EX/counts"
		run_in "$d" "$d/p.out" "$d/p.err" "$d/p.rc" env \
			LD_PRELOAD="$PRELOAD" VMSPY_QUIET=1 VMSPY_OUT="$out" \
			"$EX/counts"
		filter_err "$d/p.err"
		cmp -s "$d/n.out" "$d/p.out" || err "VMSPY_OUT=$out: stdout differs"
		cmp -s "$d/n.rc" "$d/p.rc" ||
			err "VMSPY_OUT=$out: exit $(cat "$d/p.rc"), natively $(cat "$d/n.rc")"
		[ "$(wc -l <"$d/p.err")" -le 1 ] ||
			err "VMSPY_OUT=$out: more than one line on stderr: $(head -3 "$d/p.err")"
	done
}

t_trap_dlopen_tls() {
	local d=$TMP/$t_name
	if ! gcc -shared -fPIC -O2 -o "$d/libtlslib.so" "$E2E/lib/tlslib.c"; then
		err "cannot build the TLS test library"
		return
	fi
	pair dlopen-own "$EX/trap_dlopen_tls" "$d/libtlslib.so" tls_touch
	if record_checks "$REC"; then
		both "$REC" 'calls.dlopen == 1000' 'calls.dlclose == 1000' \
			'calls.pthread_create == 4' 'clean_exit == true' \
			'calls.munmap == 0'
	fi
	pair dlopen-libelf "$EX/trap_dlopen_tls"
	if record_checks "$REC"; then
		both "$REC" 'calls.dlopen == 1000' 'calls.dlclose == 1000' \
			'clean_exit == true'
	fi
}

t_trap_tls_dtor() {
	pair tls-dtor "$EX/trap_tls_dtor"
	record_checks "$REC" || return
	both "$REC" 'calls.pthread_create == 8' 'threads == 9' \
		'clean_exit == true' 'calls.munmap == 0'
	jc "$REC.sizes.json" "vmsdump sizes" '3001.alloc == 8' \
		'3002.alloc == 8' '3003.alloc == 8' '3001.live == 0' \
		'3002.live == 0' '3003.live == 0'
}

t_trap_stack_reuse() {
	pair stack-reuse "$EX/trap_stack_reuse"
	record_checks "$REC" || return
	both "$REC" 'calls.pthread_create == 200' 'threads == 201' \
		'calls.malloc == 400' 'calls.free == 400' 'clean_exit == true' \
		'calls.munmap == 0' 'heap_live_bytes_at_end == 0'
	jc "$REC.sizes.json" "vmsdump sizes" '2718.alloc == 200' \
		'3141.alloc == 200' '2718.live == 0' '3141.live == 0'
}

t_trap_errno() {
	pair errno "$EX/trap_errno"
	[ "$RC" = 0 ] || err "trap_errno failed natively:" \
		"$(grep FAIL "$TMP/$t_name/errno.n.out" | head -3)"
	grep -q '^FAIL' "$TMP/$t_name/errno.p.out" &&
		err "under the preload:" "$(grep FAIL "$TMP/$t_name/errno.p.out")"
	record_checks "$REC" || return
	both "$REC" 'clean_exit == true' 'heap_live_bytes_at_end == 0'
}

t_signals() {
	pair signals "$EX/signals"
	record_checks "$REC" || return
	both "$REC" 'clean_exit == true' 'calls.malloc >= 20000' \
		'calls.mmap >= 2000' 'heap_live_bytes_at_end == 0'
	jc "$REC.sizes.json" "vmsdump sizes" '40.alloc == 20000' '40.live == 0'
}

t_churn() {
	pair churn "$EX/churn" 4 20000
	record_checks "$REC" || return
	both "$REC" 'calls.pthread_create == 4' 'threads == 5' \
		'calls.calloc == 1' 'clean_exit == true' \
		'heap_live_bytes_at_end == 0'
	python3 - "$REC.dump.json" <<'EOF' || err "churn: malloc + realloc != 80000"
import json, sys
c = json.load(open(sys.argv[1]))["calls"]
sys.exit(0 if c["malloc"] + c["realloc"] == 80000 else 1)
EOF
}

# Sampling mode: the program behaves exactly as natively (errno, alignment,
# realloc contents), and the byte estimates are unbiased: total allocated
# within 10% of the truth on a churn of 80000 allocations.
t_sampling() {
	PAIR_ENV=VMSPY_SAMPLE_BYTES=4096 pair sampled-errno "$EX/trap_errno"
	PAIR_ENV=VMSPY_SAMPLE_BYTES=4096 pair sampled-leaks "$EX/leaks"
	pair churn-full "$EX/churn" 2 40000
	local full=$REC
	PAIR_ENV=VMSPY_SAMPLE_BYTES=4096 pair churn-sampled "$EX/churn" 2 40000
	"$VMSPY" summary "$full" --json >"$full.json" 2>/dev/null
	"$VMSPY" summary "$REC" --json >"$REC.json" 2>/dev/null
	python3 - "$full.json" "$REC.json" <<'EOF' || err "sampling: estimate off"
import json, sys
full, smp = (json.load(open(p)) for p in sys.argv[1:])
assert smp["sampled"] and smp["sample_bytes"] == 4096, smp.get("sample_bytes")
truth, est = full["total_allocated_bytes"], smp["total_allocated_bytes"]
recorded = smp["calls"]["malloc"] + smp["calls"]["realloc"]
allcalls = full["calls"]["malloc"] + full["calls"]["realloc"]
print(f"    truth {truth} estimate {est} ({est / truth - 1:+.1%}); "
      f"{recorded} of {allcalls} allocations recorded")
sys.exit(0 if abs(est / truth - 1) < 0.10 and recorded < allcalls / 4 else 1)
EOF
}

t_demo_example() {
	pair demo "$EX/demo"
	record_checks "$REC" || return
	both "$REC" 'calls.pthread_create == 3' 'threads == 4' \
		'calls.mmap == 1' 'clean_exit == true'
	python3 "$DUMP" "$REC" --snapshots | grep '^[0-9]* user loaded ' >/dev/null ||
		err "no snapshot labelled 'loaded'"
}

t_regions() {
	pair regions "$EX/regions" "$TMP/$t_name"
	record_checks "$REC" || return
	both "$REC" 'calls.mremap == 1' 'calls.shm_open == 1' \
		'calls.shmat == 1' 'calls.madvise == 1' 'calls.dlopen == 1' \
		'calls.pthread_create == 3' 'clean_exit == true'
	python3 "$DUMP" "$REC" --snapshots |
		grep '^[0-9]* user all-regions [0-9]* complete' >/dev/null ||
		err "no complete snapshot labelled 'all-regions'"
	if ! have_cmd maps; then
		skip "vmspy maps not built yet"
		return
	fi
	local d=$TMP/$t_name rc=0 out
	"$VMSPY" maps "$REC" --label all-regions --json >"$d/maps.json" \
		2>"$d/maps.err" || rc=$?
	[ $rc = 0 ] || err "vmspy maps exited $rc: $(head -3 "$d/maps.err")"
	out=$(python3 "$E2E/check_regions.py" "$d/maps.json") ||
		err "vmspy maps --label all-regions:"$'\n'"$out"
}

# Real programs we did not write: same output and status, and every
# recording they leave (children included) reads back.
t_real_programs() {
	local d=$TMP/$t_name py=/usr/bin/python3
	[ -x "$py" ] || py=$(command -v python3)
	pair python "$py" -c '
import hashlib, json, subprocess, threading
d = [{"i": i, "s": str(i) * 3} for i in range(20000)]
h = hashlib.sha256(json.dumps(d).encode()).hexdigest()
out = []
ts = [threading.Thread(target=lambda k=k: out.append(sum(range(k * 1000))))
      for k in range(4)]
[t.start() for t in ts]; [t.join() for t in ts]
print(h, sorted(out), subprocess.run(["true"]).returncode)'
	real_recordings python
	# exit()'s argument reaches the EXIT record (an on_exit handler).
	pair python-exit "$py" -c 'import sys; sys.exit(7)'
	[ "$RC" = 7 ] || err "python-exit: exit status $RC natively, want 7"
	if summary "$REC"; then
		jc "$REC.summary.json" "python-exit summary" 'clean_exit == true' \
			'exit_status == 7'
	fi
	if command -v sqlite3 >/dev/null; then
		pair sqlite3 sqlite3 :memory: 'create table t(x, y);
with recursive c(i) as (select 1 union all select i + 1 from c where i < 20000)
insert into t select i, printf('k%06d', (i * 7919) % 20011) from c;
create index ty on t(y);
select count(*), sum(x), max(y) from t;'
		real_recordings sqlite3
	else
		echo "    (sqlite3 not installed: skipped)"
	fi
	seq 1 200000 >"$d/input"
	pair xz xz -T2 -6 -c "$d/input"
	real_recordings xz
	pair git-version git --version
	real_recordings git-version
	pair git-init git init -q repo
	[ -f "$d/git-init.preload/repo/.git/HEAD" ] ||
		err "git init under the preload made no repository"
	real_recordings git-init
	pair pipeline sh -c 'seq 1 5000 | sort -rn | head -3; echo done'
	real_recordings pipeline
	local n
	n=$(ls -d "$d"/pipeline.rec* | grep -cv '\.json$\|\.err$')
	[ "$n" -ge 4 ] || err "pipeline: $n recordings, want >= 4 (sh, seq, sort, head)"
}

# real_recordings NAME: every recording NAME.rec* decodes and summarizes.
real_recordings() {
	local r n=0
	for r in "$TMP/$t_name/$1.rec" "$TMP/$t_name/$1.rec".*; do
		[ -d "$r" ] || continue
		n=$((n + 1))
		record_checks "$r"
	done
	[ $n -gt 0 ] || err "$1: no recording"
}

# Damaged input: one-line error or a partial report, never a crash or a
# sanitizer report.
t_damaged_recordings() {
	local d=$TMP/$t_name
	have_cmd summary || { skip "vmspy summary not built yet"; return; }
	pair base "$EX/threads"
	local bin cases c rc
	cases="trunc100 trunc-mid garbage badmagic nometa empty missing"
	for c in $cases; do
		local r=$d/$c
		rm -rf "$r"
		cp -r "$REC" "$r"
		case $c in
		trunc100) truncate -s 100 "$r/log.0" ;;
		trunc-mid) # in the middle of the 300th record
			truncate -s $(($(python3 "$DUMP" "$r" --records |
				sed -n '300s/.*"_off": \([0-9]*\).*/\1/p') + 3)) \
				"$r/log.0" ;;
		garbage) python3 -c '
import random, sys
random.seed(7)
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
for i in range(200, min(len(b), 20000), 37):
    b[i] = random.randrange(256)
open(p, "wb").write(b)' "$r/log.0" ;;
		badmagic) printf 'XXXXXXXX' | dd of="$r/log.0" conv=notrunc status=none ;;
		nometa) rm -f "$r/meta" ;;
		empty) rm -rf "$r" && mkdir "$r" ;;
		missing) rm -rf "$r" ;;
		esac
		for bin in "$VMSPY" "$VMSPY_ASAN"; do
			[ -x "$bin" ] || continue
			rc=0
			timeout "$TIMEOUT" "$bin" summary "$r" --json >"$r.out" \
				2>"$r.err" || rc=$?
			case $rc in
			0 | 2) ;;
			*) err "$(basename "$bin") summary on $c: exit $rc:" \
				"$(head -3 "$r.err")" ;;
			esac
			grep -Eq 'AddressSanitizer|runtime error|LeakSanitizer' \
				"$r.err" && err "$(basename "$bin") on $c:" \
				"$(grep -E 'ERROR|runtime error' "$r.err" | head -2)"
			[ $rc = 2 ] && [ "$(wc -l <"$r.err")" != 1 ] &&
				err "$(basename "$bin") on $c: want one line on" \
					"stderr, got: $(head -3 "$r.err")"
		done
	done
	return 0
}

t_demo_script() {
	local d=$TMP/$t_name rc=0
	(cd "$d" && timeout "$TIMEOUT" "$ROOT/tools/demo.sh" >"$d/out" 2>&1) ||
		rc=$?
	[ $rc = 0 ] || err "tools/demo.sh exited $rc: $(tail -3 "$d/out")"
	grep -q 'demo: done' "$d/out" || err "demo.sh: the demo's output is missing"
	grep -q 'peak' "$d/out" || err "demo.sh: no summary in its output"
}

# ---- main ---------------------------------------------------------------

run_all "$@"
