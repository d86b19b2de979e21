#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Reliability and security end-to-end tests (issue 7): exactness under load,
# thread churn, the process lifecycle cases tests/e2e/run.sh does not cover,
# hostile programs (coroutines, alternate signal stacks, longjmp out of
# handlers, their own allocator, C++, static and setuid binaries), a full
# disk, recording permissions and symlinks, what a recording must not
# contain (argv when redacted, the environment), and real programs compared
# with heaptrack.
#
# Same conventions as tests/e2e/run.sh: every test is a function t_<name>;
# the app is run natively and under LD_PRELOAD=libvmspy.so and must behave
# the same; recordings are read by tests/e2e/vmsdump.py (an independent
# decoder), `vmspy summary --json` and vmspy-asan.
#
#   tests/e2e/reliability.sh [NAME...]   all tests, or those whose name
#                                        contains one of NAME
#   KEEP=1                               keep the temp directory
#   O=dir                                build directory (default build)
#   VMSPY_E2E_QUICK=1                    smaller loads (1e5 instead of 1e6
#                                        operations per thread, 1 run)
#   VMSPY_E2E_STRICT=1                   a skip is a failure
#
# Needs `make all examples build/vmspy-asan`.  Optional, installed with
# apt-get when missing and possible (else the test says "skip"):
# libjemalloc2, libtcmalloc-minimal4, heaptrack, sqlite3, g++.
# Prints "ok", "FAIL" (with reasons) or "skip" (with why) per test and a
# closing "N passed, N failed, N skipped" line; exits 1 if any test failed.
set -u
TIMEOUT=${VMSPY_E2E_TIMEOUT:-120}
QUICK=${VMSPY_E2E_QUICK:-}
SUITE=reliability
LABEL="reliability "
CLEAN_EACH=1 # recordings of big runs are hundreds of MB
. "$(dirname "$0")/lib.sh"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/vmspy-rel.XXXXXX") || exit 2
MOUNTS=()
cleanup() {
	local m
	for m in "${MOUNTS[@]}"; do umount "$m" 2>/dev/null; done
	[ -n "${KEEP:-}" ] || rm -rf "$TMP"
}
trap cleanup EXIT
[ -n "${KEEP:-}" ] && echo "reliability.sh: keeping $TMP"

# recordings NAME: the recording directories NAME.rec and NAME.rec.*
recordings() {
	local r
	for r in "$D/$1.rec" "$D/$1.rec".*; do
		[ -d "$r" ] && echo "$r"
	done
}





# all_readable NAME: record_checks on every recording NAME left; echoes
# how many there were.
all_readable() {
	local r n=0
	for r in $(recordings "$1"); do
		n=$((n + 1))
		record_checks "$r" >/dev/null
	done
	N_RECS=$n
}

# rec_with NAME KEY VALUE: the recording of NAME whose decoded KEY (a
# top-level vmsdump field, or argv.N) is VALUE (first match).
rec_with() {
	python3 - "$@" <<'EOF'
import glob, json, os, sys
name, key, value = sys.argv[1:4]
d = os.environ["D"]
for r in sorted(glob.glob(os.path.join(d, name + ".rec")) +
                glob.glob(os.path.join(d, name + ".rec.*"))):
    if not os.path.isdir(r) or not os.path.exists(r + ".dump.json"):
        continue
    v = json.load(open(r + ".dump.json"))
    for part in key.split("."):
        if isinstance(v, list) and part.isdigit() and int(part) < len(v):
            v = v[int(part)]
        elif isinstance(v, dict):
            v = v.get(part)
        else:
            v = None
    if str(v) == value or (isinstance(v, str) and v.endswith("/" + value)):
        print(r)
        break
EOF
}

# absent FILE LABEL KEY...: the sizes JSON FILE has no entry KEY (a size
# never allocated).
absent() {
	local file=$1 label=$2 k
	shift 2
	for k in "$@"; do
		python3 -c 'import json,sys; sys.exit(sys.argv[2] in json.load(open(sys.argv[1])))' \
			"$file" "$k" || err "$label: $k-byte blocks were allocated"
	done
}

# ensure_pkg PKG...: install missing Debian packages when apt-get works;
# non-zero when one is still missing.
ensure_pkg() {
	local p missing=
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
			missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
		# shellcheck disable=SC2086
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing \
			>/dev/null 2>&1 ||
			{ apt-get update -qq >/dev/null 2>&1 &&
				DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
					$missing >/dev/null 2>&1; }
	fi
	for p in $missing; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
			return 1
	done
	return 0
}

export D

# ---- under load -----------------------------------------------------------

# 8 threads x 1e6 malloc/free pairs each, with 100(t+1)+t blocks of 3000+t
# bytes leaked by thread t (examples/stress_exact.c): `vmspy summary` and
# `vmspy leaks` are exact to the block, on every one of 3 runs; a smaller
# run is cross-checked with the independent decoder block by block.
t_exact_under_load() {
	local ops=1000000 runs=3 i
	[ -n "$QUICK" ] && ops=100000 runs=1
	for i in $(seq 1 $runs); do
		pair "exact$i" "$EX/stress_exact" 8 $ops
		summary "$REC" || continue
		jc "$REC.summary.json" "run $i: vmspy summary" \
			"calls.malloc == $((8 * ops + 3628))" \
			"calls.free >= $((8 * ops))" "calls.free <= $((8 * ops + 16))" \
			'heap_live_bytes_at_end == 10900940' 'clean_exit == true' \
			'threads == 9' 'dropped == 0' 'disabled_logs == 0'
		timeout "$TIMEOUT" "$VMSPY" leaks "$REC" --json >"$REC.leaks.json" \
			2>"$REC.leaks.err"
		jc "$REC.leaks.json" "run $i: vmspy leaks" \
			'definitely_lost.blocks == 3628' \
			'definitely_lost.bytes == 10900940' \
			'indirectly_lost.blocks == 0' 'possibly_lost.blocks == 0' \
			'unfreed.blocks == 0'
		rm -rf "$REC"
	done
	pair exact-small "$EX/stress_exact" 8 20000
	record_checks "$REC" || return
	python3 - "$REC.sizes.json" <<'EOF' || err "decoder: sizes are not exact"
import json, sys
s = {int(k): v for k, v in json.load(open(sys.argv[1])).items()}
bad = []
churn = [s.get(n, {"alloc": 0, "live": 0}) for n in range(2000, 2512)]
if sum(c["alloc"] for c in churn) != 8 * 20000:
    bad.append("2000..2511: %d allocations" % sum(c["alloc"] for c in churn))
if sum(c["live"] for c in churn):
    bad.append("2000..2511: %d live" % sum(c["live"] for c in churn))
for t in range(8):
    want = 100 * (t + 1) + t
    got = s.get(3000 + t, {"alloc": 0, "live": 0})
    if got != {"alloc": want, "live": want}:
        bad.append("%d bytes: %s, want %d allocated and live" %
                   (3000 + t, got, want))
for b in bad:
    print("    " + b)
sys.exit(1 if bad else 0)
EOF
}

# Blocks freed by another thread than the one that allocated them, whose
# addresses come straight back to the freeing thread (examples/handoff.c):
# the exit scan replays the logs of all threads in windows of sequence
# numbers, not event by event, and must still find exactly the blocks the
# program dropped; the analyzer's own replay must agree.
t_handoff_across_threads() {
	local items=200000 i
	[ -n "$QUICK" ] && items=20000
	for i in 1 2; do
		pair "handoff$i" "$EX/handoff" 2 $items
		local out blocks bytes
		out=$(cat "$D/handoff$i.p.out")
		set -- $out
		blocks=$5 bytes=$6
		[ "$1 $2" = "handoff ok" ] || { err "handoff: output '$out'"; return; }
		timeout "$TIMEOUT" "$VMSPY" leaks "$REC" --json >"$REC.leaks.json" \
			2>"$REC.leaks.err"
		jc "$REC.leaks.json" "run $i: vmspy leaks" \
			"definitely_lost.blocks == $blocks" \
			"definitely_lost.bytes == $bytes" \
			'indirectly_lost.blocks == 0' 'possibly_lost.blocks == 0' \
			'still_reachable.blocks == 0'
		summary "$REC" || continue
		jc "$REC.summary.json" "run $i: vmspy summary" \
			"heap_live_bytes_at_end == $bytes" 'clean_exit == true' \
			'dropped == 0'
		rm -rf "$REC"
	done
}

# 10^4 short-lived threads, 8 at a time (examples/stress_threads.c): the
# recorder reuses the logs of dead threads (at most 8 + 3 log files), the
# recording stays small, and every thread's last free is there.
t_thread_churn() {
	local n=10000
	[ -n "$QUICK" ] && n=2000
	pair churn "$EX/stress_threads" $n 8
	record_checks "$REC" || return
	jc "$REC.dump.json" "vmsdump" "threads == $((n + 1))" \
		"calls.pthread_create == $n" 'lanes <= 11' 'clean_exit == true'
	jc "$REC.sizes.json" "vmsdump sizes" "1234.alloc == $n" '1234.live == 0' \
		"4321.alloc == $n" '4321.live == 0' '999.live == 1'
	local logs kb
	logs=$(ls "$REC" | grep -Ec '^log\.[0-9]+$')
	[ "$logs" -le 11 ] || err "$logs log files for 8 concurrent threads"
	kb=$(du -sk "$REC" | cut -f1)
	[ "$kb" -le 16384 ] || err "recording of $n threads is $kb KiB (> 16 MiB)"
	note "$n threads: $logs log files, $kb KiB"
}

# ---- process lifecycle ----------------------------------------------------

# fork() x 3 while 4 threads malloc/free: each child records on its own.
t_fork_multithreaded() {
	pair forkmt "$EX/hostile_lifecycle" fork-mt
	all_readable forkmt
	[ "$N_RECS" = 4 ] || err "want 4 recordings (parent + 3 children), got $N_RECS"
	jc "$REC.dump.json" "parent" 'calls.fork == 3' 'clean_exit == true' \
		'calls.pthread_create == 4'
	absent "$REC.sizes.json" "parent" 777
	local r
	for r in $(recordings forkmt); do
		[ "$r" = "$REC" ] && continue
		jc "$r.dump.json" "child $(basename "$r")" "parent == $REC" \
			'clean_exit == true' 'threads == 1'
		jc "$r.sizes.json" "child $(basename "$r") sizes" \
			'777.alloc == 7' '777.live == 7'
	done
}

# sh -c 'a | b': every process of the pipeline writes its own recording;
# the writer's and the reader's recordings have their exact ground truth.
t_pipeline() {
	pair pipe sh -c "$EX/counts | $EX/hostile_lifecycle cat; echo done"
	all_readable pipe
	[ "$N_RECS" -ge 3 ] || err "want >= 3 recordings (sh, counts, cat), got $N_RECS"
	local w r
	w=$(rec_with pipe exe counts)
	r=$(rec_with pipe argv.1 cat)
	if [ -z "$w" ]; then
		err "no recording of examples/counts"
	else
		jc "$w.dump.json" "counts in the pipeline" 'calls.malloc == 17' \
			'calls.free == 44' 'heap_live_bytes_at_end == 3000' \
			'clean_exit == true'
	fi
	if [ -z "$r" ]; then
		err "no recording of the reader"
	else
		jc "$r.sizes.json" "reader in the pipeline" '8888.alloc == 1' \
			'8888.live == 0'
		jc "$r.dump.json" "reader in the pipeline" 'clean_exit == true'
	fi
}

# A double-fork daemon: the intermediate child _exits at once, the daemon
# (reparented to init) records with its parent's recording as "parent".
t_double_fork_daemon() {
	pair daemon "$EX/hostile_lifecycle" daemon
	all_readable daemon
	[ "$N_RECS" = 3 ] || err "want 3 recordings, got $N_RECS"
	local r mid=
	for r in $(recordings daemon); do
		[ "$r" = "$REC" ] && continue
		if python3 "$JCHECK" "$r.sizes.json" '3333.live == 3' >/dev/null; then
			jc "$r.dump.json" "daemon" 'clean_exit == true'
			mid=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["parent"])' "$r.dump.json")
		fi
	done
	[ -n "$mid" ] || { err "no recording with the daemon's 3 x 3333"; return; }
	[ -d "$mid" ] && [ "$mid" != "$REC" ] ||
		err "the daemon's parent recording is '$mid', want the middle child's"
	[ -d "$mid" ] && jc "$mid.dump.json" "middle child" 'clean_exit == false' \
		"parent == $REC"
}

# exit() from a thread after main called pthread_exit; _exit; a SIGSEGV
# caught by the app's own handler, which _exits.
t_odd_exits() {
	pair thread-exit "$EX/hostile_lifecycle" thread-exit
	[ "$RC" = 3 ] || err "thread-exit: exit status $RC, want 3"
	if record_checks "$REC"; then
		jc "$REC.sizes.json" "thread-exit" '5555.live == 5'
		jc "$REC.dump.json" "thread-exit" 'clean_exit == true' 'threads == 2'
	fi
	pair _exit "$EX/hostile_lifecycle" _exit
	[ "$RC" = 5 ] || err "_exit: exit status $RC, want 5"
	if record_checks "$REC"; then
		jc "$REC.sizes.json" "_exit" '4444.live == 4'
		jc "$REC.dump.json" "_exit" 'clean_exit == false'
		[ -e "$REC/leaks" ] && err "_exit: a leaks file (no scan after _exit)"
	fi
	pair segv "$EX/hostile_lifecycle" segv-handler
	[ "$RC" = 42 ] || err "segv-handler: exit status $RC, want 42"
	grep -qx 'segv-handler caught' "$D/segv.p.out" ||
		err "segv-handler: the app's handler did not run"
	if record_checks "$REC"; then
		jc "$REC.sizes.json" "segv-handler" '6666.live == 6'
		jc "$REC.dump.json" "segv-handler" 'clean_exit == false'
	fi
}

# posix_spawn (a CLONE_VFORK child in the parent's memory until exec):
# the child's events are in its own recording, never in the parent's.
t_posix_spawn() {
	pair spawn "$EX/hostile_lifecycle" spawn
	all_readable spawn
	[ "$N_RECS" = 2 ] || err "want 2 recordings, got $N_RECS"
	jc "$REC.sizes.json" "parent" '1111.live == 1'
	absent "$REC.sizes.json" "parent" 2222
	local c
	c=$(rec_with spawn argv.1 spawned)
	[ -n "$c" ] || { err "no recording of the spawned child"; return; }
	jc "$c.sizes.json" "spawned child" '2222.alloc == 2' '2222.live == 2'
	jc "$c.dump.json" "spawned child" "parent == $REC" 'clean_exit == true'
}

# VMSPY_FOLLOW=0: only the first process records (forks: fork, vfork+exec,
# posix_spawn, exec of itself; hostile_lifecycle fork-mt).
t_follow_off() {
	PAIR_ENV=VMSPY_FOLLOW=0 pair forks "$EX/forks"
	local n
	n=$(recordings forks | wc -l)
	[ "$n" = 1 ] || err "forks with VMSPY_FOLLOW=0: $n recordings, want 1"
	record_checks "$REC"
	PAIR_ENV=VMSPY_FOLLOW=0 pair forkmt "$EX/hostile_lifecycle" fork-mt
	n=$(recordings forkmt | wc -l)
	[ "$n" = 1 ] || err "fork-mt with VMSPY_FOLLOW=0: $n recordings, want 1"
	record_checks "$REC" && jc "$REC.dump.json" "fork-mt parent" 'calls.fork == 3'
}

# ---- hostile programs -----------------------------------------------------

# makecontext/swapcontext coroutines on 64 KiB stacks that malloc.
t_coroutines() {
	pair coro "$EX/hostile_context" coro
	record_checks "$REC" || return
	jc "$REC.dump.json" "coro" 'clean_exit == true' 'calls.mmap == 8' \
		'calls.munmap == 8' 'heap_live_bytes_at_end == 0'
	jc "$REC.sizes.json" "coro sizes" '700.alloc == 2500' '707.alloc == 2500' \
		'700.live == 0' '707.live == 0'
}

# A SIGUSR1 handler on a SIGSTKSZ sigaltstack that mmaps and mallocs: the
# hooks run on the alternate stack and must fit in it.
t_sigaltstack() {
	pair altstack "$EX/hostile_context" altstack
	record_checks "$REC" || return
	jc "$REC.sizes.json" "altstack sizes" '1357.alloc == 2000' \
		'2468.alloc == 2000' '1357.live == 0' '2468.live == 0'
	jc "$REC.dump.json" "altstack" 'calls.mmap == 2000' 'calls.munmap == 2000' \
		'clean_exit == true'
}

# siglongjmp out of SIGALRM handlers that interrupt mmap/munmap (and so,
# under the preload, sometimes a hook): the app runs to its end; the
# recording is readable (README: recording may stop for that thread).
t_longjmp_out_of_handler() {
	local i
	for i in 1 2 3; do
		pair "longjmp$i" "$EX/hostile_context" longjmp
		[ "$RC" = 0 ] || err "run $i: exit status $RC"
		dump "$REC" && summary "$REC" &&
			jc "$REC.dump.json" "run $i" 'reused_live_addresses == 0'
	done
}

# C++ new/delete, new[]/delete[], nothrow and aligned new, containers.
t_cxx_new_delete() {
	command -v g++ >/dev/null || ensure_pkg g++ ||
		{ skip "g++ not installed"; return; }
	cat >"$D/newdel.cc" <<'EOF'
// 1000 x new Obj (48 bytes) deleted; 7 x new char[1111] leaked (held by a
// global); 10 x aligned new of a 256-byte, 64-aligned struct deleted;
// 100 x nothrow new int[333] deleted; a vector and a map that grow.
#include <cstdio>
#include <map>
#include <new>
#include <string>
#include <vector>
struct Obj { char b[48]; };
struct alignas(64) Al { char b[256]; };
char *keep[7];
int main()
{
	std::vector<Obj *> v;
	for (int i = 0; i < 1000; i++)
		v.push_back(new Obj());
	for (Obj *o : v)
		delete o;
	for (int i = 0; i < 7; i++)
		keep[i] = new char[1111];
	for (int i = 0; i < 10; i++)
		delete new Al();
	for (int i = 0; i < 100; i++)
		delete[] new (std::nothrow) int[333];
	std::map<std::string, std::string> m;
	for (int i = 0; i < 500; i++)
		m["key-" + std::to_string(i)] = std::string(100, 'x');
	std::printf("newdel ok %zu\n", m.size());
	return 0;
}
EOF
	if ! g++ -O0 -g -o "$D/newdel" "$D/newdel.cc" 2>"$D/gxx.err"; then
		err "cannot build the C++ test: $(head -3 "$D/gxx.err")"
		return
	fi
	pair newdel "$D/newdel"
	record_checks "$REC" || return
	jc "$REC.sizes.json" "C++ sizes" '48.alloc >= 1000' '1111.alloc == 7' \
		'1111.live == 7' '256.alloc >= 10' '1332.alloc == 100' \
		'1332.live == 0'
	jc "$REC.dump.json" "C++" 'clean_exit == true' 'calls.aligned_alloc >= 10'
}

# alloc_lib NAME PKG SONAME: a program with its own allocator, preloaded
# after libvmspy (vmspy records, the allocator serves) and before it (the
# allocator's malloc wins: little is recorded, nothing breaks).
alloc_lib() {
	local name=$1 pkg=$2 so=$3 lib
	lib=$(ls /usr/lib/x86_64-linux-gnu/"$so" 2>/dev/null | head -1)
	if [ -z "$lib" ]; then
		ensure_pkg "$pkg" || { skip "$pkg not installable"; return; }
		lib=$(ls /usr/lib/x86_64-linux-gnu/"$so" 2>/dev/null | head -1)
	fi
	[ -n "$lib" ] || { skip "$so not found"; return; }
	NATIVE_ENV="LD_PRELOAD=$lib" PAIR_PRELOAD="$PRELOAD:$lib" \
		pair "$name-after" "$EX/stress_exact" 4 20000
	if record_checks "$REC"; then
		jc "$REC.sizes.json" "$name after libvmspy" '3000.live == 100' \
			'3003.live == 403' '3000.alloc == 100'
		jc "$REC.dump.json" "$name after libvmspy" 'clean_exit == true' \
			'calls.malloc >= 80000'
	fi
	NATIVE_ENV="LD_PRELOAD=$lib" PAIR_PRELOAD="$PRELOAD:$lib" \
		pair "$name-threads" "$EX/threads"
	record_checks "$REC"
	NATIVE_ENV="LD_PRELOAD=$lib" PAIR_PRELOAD="$lib:$PRELOAD" \
		pair "$name-before" "$EX/stress_exact" 4 20000
	[ -d "$REC" ] && { dump "$REC" && summary "$REC"; }
	NATIVE_ENV="LD_PRELOAD=$lib" PAIR_PRELOAD="$lib:$PRELOAD" \
		pair "$name-before-counts" --any-stderr "$EX/counts"
	[ -d "$REC" ] && { dump "$REC" && summary "$REC"; }
}

t_jemalloc() { alloc_lib jemalloc libjemalloc2 'libjemalloc.so.2'; }
t_tcmalloc() { alloc_lib tcmalloc libtcmalloc-minimal4 'libtcmalloc_minimal.so.4'; }

# dlopen/dlclose loops are tests/e2e/run.sh trap_dlopen_tls (1000 rounds,
# 4 threads, a library with TLS).

# A statically linked program: the loader is not there to preload, the
# program runs unchanged, nothing is recorded; `vmspy run` says why.
t_static_binary() {
	[ -f /usr/lib/x86_64-linux-gnu/libc.a ] || { skip "no libc.a"; return; }
	if ! gcc -static -O0 -Iinclude -D_GNU_SOURCE -o "$D/counts-static" \
		examples/counts.c -lpthread -lrt 2>"$D/cc.err"; then
		err "gcc -static failed: $(head -3 "$D/cc.err")"
		return
	fi
	NO_REC=1 pair static "$D/counts-static"
	[ -e "$REC" ] && err "a statically linked program left a recording"
	vmspy_run_unrecordable static "$D/counts-static" "statically linked"
}

# vmspy_run_unrecordable NAME PROG WHY: `vmspy run -- PROG` keeps PROG's
# output and status and says WHY on stderr, and makes no recording.
vmspy_run_unrecordable() {
	local name=$1 prog=$2 why=$3
	if ! "$VMSPY" --help 2>&1 | grep -Eq '^  run '; then
		note "vmspy run not built: skipped its part"
		return
	fi
	mkdir -p "$D/$name.run"
	run_in "$D/$name.run" "$D/$name.r.out" "$D/$name.r.err" "$D/$name.r.rc" \
		"$VMSPY" run -o "$D/$name.run/rec" -- "$prog"
	cmp -s "$D/$name.n.out" "$D/$name.r.out" ||
		err "vmspy run $name: stdout differs from the native run"
	[ "$(cat "$D/$name.r.rc")" = "$RC" ] ||
		err "vmspy run $name: exit $(cat "$D/$name.r.rc"), natively $RC"
	grep -q "$why" "$D/$name.r.err" ||
		err "vmspy run $name: stderr does not say '$why':" \
			"$(head -3 "$D/$name.r.err")"
	[ -e "$D/$name.run/rec" ] && err "vmspy run $name: made a recording"
}

# A setuid program (owned by nobody, run by root: secure-execution mode,
# the loader ignores LD_PRELOAD): unchanged, unrecorded; `vmspy run` says
# why.
t_setuid_binary() {
	local dir=$D/suid
	mkdir -p "$dir"
	chmod 755 "$D" "$dir"
	cp "$EX/counts" "$dir/counts-suid"
	if ! chown 65534 "$dir/counts-suid" 2>/dev/null ||
		! chmod 4755 "$dir/counts-suid"; then
		skip "cannot make a setuid file here"
		return
	fi
	NO_REC=1 pair suid "$dir/counts-suid"
	[ -e "$REC" ] && err "a setuid program left a recording"
	vmspy_run_unrecordable suid "$dir/counts-suid" "setuid"
}

# ---- full disk ------------------------------------------------------------

# VMSPY_OUT on a 2 MiB tmpfs that the recording overflows: the app runs on
# and exits normally with its output, at most 2 vmspy lines on stderr, never
# SIGBUS; the recording is readable and says it is incomplete.
t_disk_full() {
	local mnt=$D/full
	mkdir -p "$mnt"
	if ! mount -t tmpfs -o size=2m tmpfs "$mnt" 2>/dev/null; then
		skip "cannot mount a tmpfs (not root, or no privilege)"
		return
	fi
	MOUNTS+=("$mnt")
	run_in "$D" "$D/n.out" "$D/n.err" "$D/n.rc" "$EX/stress_exact" 4 100000
	run_in "$D" "$D/p.out" "$D/p.err" "$D/p.rc" env LD_PRELOAD="$PRELOAD" \
		VMSPY_OUT="$mnt/rec" "$EX/stress_exact" 4 100000
	local prc
	prc=$(cat "$D/p.rc")
	[ "$prc" = 135 ] && err "SIGBUS under the preload"
	[ "$prc" = "$(cat "$D/n.rc")" ] ||
		err "exit status $prc, natively $(cat "$D/n.rc"): $(head -3 "$D/p.err")"
	cmp -s "$D/n.out" "$D/p.out" || err "stdout differs on a full disk"
	local lines
	lines=$(grep -c 'vmspy' "$D/p.err")
	[ "$lines" -le 2 ] || err "$lines vmspy lines on stderr (want <= 2):" \
		"$(head -4 "$D/p.err")"
	[ "$(grep -vc vmspy "$D/p.err")" = 0 ] ||
		err "other lines on stderr: $(grep -v vmspy "$D/p.err" | head -2)"
	note "stderr: $(head -2 "$D/p.err" | tr '\n' ' ')"
	[ -d "$mnt/rec" ] || { err "no recording at all"; return; }
	summary "$mnt/rec" || return
	python3 - "$mnt/rec.summary.json" <<'EOF' ||
import json, sys
s = json.load(open(sys.argv[1]))
ok = s.get("disabled_logs", 0) > 0 or s.get("damage") or s.get("dropped", 0)
sys.exit(0 if ok else 1)
EOF
		err "the summary does not say the recording is incomplete" \
			"(disabled_logs 0, no damage, nothing dropped)"
	"$VMSPY" summary "$mnt/rec" >"$D/summary.txt" 2>&1
	grep -Eqi 'disabled|stopped|incomplete|damage|dropped [1-9]' "$D/summary.txt" ||
		err "vmspy summary (text) does not say the recording is incomplete"
	dump "$mnt/rec"
	umount "$mnt" 2>/dev/null
}

# ---- security ---------------------------------------------------------------

# Recording directory 0700, every file in it 0600, whatever the umask.
t_permissions() {
	local old
	old=$(umask)
	umask 000
	pair perms "$EX/threads"
	umask "$old"
	[ -d "$REC" ] || { err "no recording"; return; }
	local m bad
	m=$(stat -c %a "$REC")
	[ "$m" = 700 ] || err "recording directory mode $m, want 700 (umask 000)"
	bad=$(find "$REC" -mindepth 1 \( -type f ! -perm 600 \) -printf '%f %m\n' | head -3)
	[ -z "$bad" ] || err "files not 0600 (umask 000): $bad"
	bad=$(find "$REC" -mindepth 1 ! -type f -printf '%f %y\n' | head -3)
	[ -z "$bad" ] || err "not regular files: $bad"
}

# A symlink already at VMSPY_OUT is never followed: nothing is written
# through it (to an existing directory or a dangling target); the
# recording goes to a sibling VMSPY_OUT.<pid>.
t_symlink_out() {
	mkdir -p "$D/victim"
	ln -s "$D/victim" "$D/link.rec"
	run_in "$D" "$D/l.out" "$D/l.err" "$D/l.rc" env LD_PRELOAD="$PRELOAD" \
		VMSPY_QUIET=1 VMSPY_OUT="$D/link.rec" "$EX/counts"
	[ "$(cat "$D/l.rc")" = 0 ] || err "exit status $(cat "$D/l.rc")"
	[ -z "$(ls -A "$D/victim")" ] ||
		err "written through the symlink: $(ls "$D/victim" | head -3 | tr '\n' ' ')"
	[ -L "$D/link.rec" ] || err "the symlink was replaced"
	local sib
	sib=$(ls -d "$D"/link.rec.* 2>/dev/null | grep -v json | head -1)
	if [ -n "$sib" ]; then
		[ -L "$sib" ] && err "the sibling recording is a symlink"
		record_checks "$sib"
	else
		note "no sibling recording (not recording is also safe)"
	fi
	ln -s "$D/nowhere" "$D/dangling.rec"
	run_in "$D" "$D/d.out" "$D/d.err" "$D/d.rc" env LD_PRELOAD="$PRELOAD" \
		VMSPY_QUIET=1 VMSPY_OUT="$D/dangling.rec" "$EX/counts"
	[ "$(cat "$D/d.rc")" = 0 ] || err "dangling: exit status $(cat "$D/d.rc")"
	[ -e "$D/nowhere" ] && err "created the dangling symlink's target"
	return 0
}

# VMSPY_REDACT_ARGV=1: no argument but argv[0] anywhere in the recording.
t_redact_argv() {
	PAIR_ENV=VMSPY_REDACT_ARGV=1 pair redact sh -c \
		"$EX/counts >/dev/null; echo x" sh arg-s3cr3t-Zq9
	local r
	for r in $(recordings redact); do
		grep -rqa 's3cr3t' "$r" && err "$(basename "$r"): the argument is in" \
			"$(grep -rla 's3cr3t' "$r" | head -2 | tr '\n' ' ')"
		grep -q '^argv_redacted 1$' "$r/meta" ||
			err "$(basename "$r"): meta lacks argv_redacted 1"
		grep -q '^argv 0 ' "$r/meta" || err "$(basename "$r"): argv[0] missing"
	done
	# Without the variable the argument is there (the test can see it).
	pair plain sh -c "$EX/counts >/dev/null; echo x" sh arg-s3cr3t-Zq9
	grep -qa 's3cr3t' "$REC/meta" || err "control run: argv not in meta"
}

# The environment is not recorded: a marker variable's value is in no
# file of any recording (the app and its children).
t_environment_not_recorded() {
	local marker=envmark-$$-Xq7Lp2
	NATIVE_ENV="VMSPY_TEST_MARKER=$marker" pair env sh -c \
		"$EX/counts >/dev/null; $EX/threads >/dev/null; echo \$VMSPY_TEST_MARKER | wc -c"
	local r n=0
	for r in $(recordings env); do
		n=$((n + 1))
		grep -rqa "$marker" "$r" && err "$(basename "$r") contains the" \
			"environment: $(grep -rla "$marker" "$r" | head -2 | tr '\n' ' ')"
	done
	[ $n -ge 3 ] || err "want >= 3 recordings, got $n"
}

# ---- hostile recordings -------------------------------------------------

# A recording is untrusted input (tests/e2e/run.sh damaged_recordings and
# tests/fuzz/ cover damaged bytes): special files planted in it -- a FIFO
# as meta, log.0, snap.0 or leaks, a symlink as log.0, a snapshot module
# path naming a FIFO or a device -- give a report or a one-line error
# within seconds, never a hang, never a read through the symlink.
t_hostile_recording_files() {
	# plain snapshots: the module lines below are edited as text
	PAIR_ENV=VMSPY_COMPRESS=0 pair base "$EX/counts"
	[ -f "$REC/leaks" ] || { err "no leaks file in the base recording"; return; }
	mkfifo "$D/evil.fifo"
	echo "secret-9f2k" >"$D/secret"
	local c r bin cmd rc
	for c in meta-fifo log-fifo snap-fifo leaks-fifo log-symlink \
		module-fifo module-zero; do
		r=$D/$c
		rm -rf "$r"
		cp -r "$REC" "$r"
		case $c in
		meta-fifo) rm "$r/meta" && mkfifo "$r/meta" ;;
		log-fifo) rm "$r/log.0" && mkfifo "$r/log.0" ;;
		snap-fifo) rm "$r/snap.0" && mkfifo "$r/snap.0" ;;
		leaks-fifo) rm "$r/leaks" && mkfifo "$r/leaks" ;;
		log-symlink) rm "$r/log.0" && ln -s "$D/secret" "$r/log.0" ;;
		module-fifo | module-zero)
			local target=$D/evil.fifo
			[ $c = module-zero ] && target=/dev/zero
			python3 - "$r/snap.0" "$target" <<'EOF'
import sys
p, target = sys.argv[1], sys.argv[2]
lines = open(p).read().split("\n")
for i, l in enumerate(lines):
    if l.startswith("module "):
        w = l.split(" ", 3)
        lines[i] = " ".join(w[:3] + [target])
open(p, "w").write("\n".join(lines))
EOF
			;;
		esac
		for bin in "$VMSPY" "$VMSPY_ASAN"; do
			[ -x "$bin" ] || continue
			for cmd in summary leaks maps; do
				"$bin" --help 2>&1 | grep -Eq "^  $cmd " || continue
				rc=0
				timeout 20 "$bin" $cmd "$r" --json </dev/null \
					>"$r.$cmd.out" 2>"$r.$cmd.err" || rc=$?
				case $rc in
				0 | 1) ;;
				2) [ "$(grep -c . "$r.$cmd.err")" -le 2 ] ||
					err "$c: $(basename "$bin") $cmd: more than" \
						"2 lines: $(head -3 "$r.$cmd.err")" ;;
				124) err "$c: $(basename "$bin") $cmd hangs" ;;
				*) err "$c: $(basename "$bin") $cmd exit $rc:" \
					"$(head -2 "$r.$cmd.err")" ;;
				esac
				grep -Eq 'AddressSanitizer|runtime error' "$r.$cmd.err" &&
					err "$c: $(basename "$bin") $cmd: sanitizer report"
				grep -q 'secret-9f2k' "$r.$cmd.out" "$r.$cmd.err" &&
					err "$c: $cmd read through the symlink"
			done
		done
	done
	return 0
}

# ---- real programs vs heaptrack ---------------------------------------------

# allocs_vmspy REC: malloc + calloc + realloc + reallocarray + the aligned
# ones, from vmsdump, summed over REC and the recordings next to it.
allocs_vmspy() {
	python3 - "$@" <<'EOF'
import json, sys
n = 0
for f in sys.argv[1:]:
    c = json.load(open(f))["calls"]
    n += sum(c[k] for k in ("malloc", "calloc", "realloc", "reallocarray",
                            "posix_memalign", "aligned_alloc", "memalign",
                            "valloc", "pvalloc"))
print(n)
EOF
}

# compare NAME CMD...: 3 runs under heaptrack and under vmspy; same output
# and status as native (pair), every recording readable; prints the ratio of
# allocation calls vmspy / heaptrack, and requires 0.95 <= ratio <= 1.05
# when it is stable (spread < 5% over the runs).
compare() {
	local name=$1
	shift
	local i ratios=""
	for i in 1 2 3; do
		pair "$name$i" "$@"
		local recs=() r
		for r in $(recordings "$name$i"); do
			record_checks "$r" || continue
			recs+=("$r.dump.json")
		done
		[ ${#recs[@]} -gt 0 ] || continue
		local v h
		v=$(allocs_vmspy "${recs[@]}")
		(cd "$D/$name$i.native" && timeout "$TIMEOUT" heaptrack \
			-o "$D/$name$i.ht" "$@" >/dev/null 2>&1)
		h=$(heaptrack_print "$D/$name$i.ht".zst 2>/dev/null |
			sed -n 's/^calls to allocation functions: \([0-9]*\).*/\1/p')
		[ -n "$h" ] && [ "$h" -gt 0 ] || { note "$name: heaptrack gave no count"; continue; }
		ratios="$ratios $(python3 -c "print('%.3f' % ($v / $h))")"
	done
	[ -n "$ratios" ] || return
	python3 - "$name" $ratios <<'EOF' || err "$name: vmspy/heaptrack allocation calls out of 0.95..1.05:$ratios"
import sys
name, rs = sys.argv[1], [float(x) for x in sys.argv[2:]]
stable = (max(rs) - min(rs)) / max(rs) < 0.05
print("    (%s: vmspy/heaptrack allocation calls %s, %s)" % (
    name, " ".join("%.3f" % r for r in rs), "stable" if stable else "unstable: not asserted"))
sys.exit(0 if not stable or all(0.95 <= r <= 1.05 for r in rs) else 1)
EOF
}

t_real_programs_vs_heaptrack() {
	command -v heaptrack >/dev/null || ensure_pkg heaptrack ||
		{ skip "heaptrack not installed"; return; }
	command -v sqlite3 >/dev/null || ensure_pkg sqlite3 || true
	local out py=/usr/bin/python3
	[ -x "$py" ] || py=$(command -v python3)
	out=$(compare python "$py" -c '
import hashlib, json
d = [{"i": i, "s": str(i) * 3} for i in range(20000)]
print(hashlib.sha256(json.dumps(d).encode()).hexdigest())')
	[ -n "$out" ] && T_NOTE+="$out"$'\n'
	if command -v sqlite3 >/dev/null; then
		out=$(compare sqlite3 sqlite3 :memory: 'create table t(x, y);
with recursive c(i) as (select 1 union all select i + 1 from c where i < 20000)
insert into t select i, printf("k%06d", (i * 7919) % 20011) from c;
create index ty on t(y); select count(*), sum(x), max(y) from t;')
		[ -n "$out" ] && T_NOTE+="$out"$'\n'
	else
		note "sqlite3 not installed: skipped"
	fi
	seq 1 200000 >"$D/input"
	out=$(compare xz xz -T2 -6 -c "$D/input")
	[ -n "$out" ] && T_NOTE+="$out"$'\n'
	out=$(compare git git --version)
	[ -n "$out" ] && T_NOTE+="$out"$'\n'
	# A shell pipeline: same output, every process's recording readable
	# (heaptrack follows no children: no comparison).
	pair pipeline sh -c 'seq 1 5000 | sort -rn | head -3; echo done'
	all_readable pipeline
	[ "$N_RECS" -ge 4 ] || err "pipeline: $N_RECS recordings, want >= 4"
}

# ---- main -----------------------------------------------------------------

if [ ! -f "$PRELOAD" ] || [ ! -x "$VMSPY" ] || [ ! -x "$EX/stress_exact" ]; then
	echo "reliability.sh: build first (make all examples build/vmspy-asan)"
	exit 2
fi
run_all "$@"
