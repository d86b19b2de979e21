#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Build and run the libFuzzer target for the analyzer's reader
# (tests/fuzz/fuzz_recording.c) for a bounded time; fail on any crash,
# sanitizer report, leak, timeout or out-of-memory.
#
#   tests/fuzz/run.sh                  build, then fuzz FUZZ_SECONDS (60)
#   tests/fuzz/run.sh FILE...          build, then run just these inputs
#                                      (reproduce a crash-* file)
#   tests/fuzz/run.sh --make-corpus    rebuild tests/fuzz/corpus from fresh
#                                      recordings of the examples, minimized
#                                      with -merge=1 (needs make all examples)
#
#   FUZZ_SECONDS=N      fuzzing time (default 60)
#   FUZZ_JOBS=N         parallel fuzzing processes (default 1)
#   O=dir               build directory (default build); the binary is
#                       $O/fuzz/fuzz_recording, new inputs go to
#                       $O/fuzz/corpus (the committed corpus is never
#                       written), crashes to $O/fuzz/crash-*
#   CLANG=clang         compiler
#
# Skips (exit 0, one "skip" line) when clang or its libFuzzer runtime is
# missing.  Called by `make fuzz` and `make check`.
set -u
cd "$(dirname "$0")/../.." || exit 2

ROOT=$(pwd)
O=${O:-build}
case $O in /*) ;; *) O=$ROOT/$O ;; esac
CLANG=${CLANG:-clang}
SECONDS_BUDGET=${FUZZ_SECONDS:-60}
JOBS=${FUZZ_JOBS:-1}
F=$O/fuzz
BIN=$F/fuzz_recording
CORPUS=$ROOT/tests/fuzz/corpus

skip() {
	echo "skip fuzz ($*)"
	exit 0
}

command -v "$CLANG" >/dev/null 2>&1 || skip "$CLANG not installed (apt-get install clang)"
mkdir -p "$F/obj" || exit 2
# Probe the libFuzzer runtime (Debian: libclang-rt-<N>-dev, pulled in by
# clang).
printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n)\n{ (void)d; (void)n; return 0; }\n' \
	>"$F/probe.c"
"$CLANG" -fsanitize=fuzzer,address,undefined -o "$F/probe" "$F/probe.c" \
	>"$F/probe.log" 2>&1 ||
	skip "$CLANG cannot link -fsanitize=fuzzer (libclang-rt-dev missing?): $(head -1 "$F/probe.log")"

# ---- build ----------------------------------------------------------------
# The analyzer's library sources (not main.c), each compiled with the
# sanitizers and fuzzer coverage; relinked only when a source is newer.
CFLAGS="-std=gnu11 -O1 -g -D_GNU_SOURCE -Iinclude -Ianalyzer \
	-fno-omit-frame-pointer -fsanitize=address,undefined \
	-fno-sanitize-recover=all -Wall -Wno-unused-parameter"
SRCS="$(ls analyzer/*.c | grep -v '/main\.c$') tests/fuzz/fuzz_recording.c"
# Everything is rebuilt when any source or header is newer than the binary
# (the analyzer's headers change under their sources: no partial rebuilds).
if [ ! -x "$BIN" ] || [ -n "$(find analyzer include tests/fuzz -newer "$BIN" \
	\( -name '*.c' -o -name '*.h' \) 2>/dev/null | head -1)" ]; then
	rm -f "$F"/obj/*.o
	export CLANG CFLAGS F
	# shellcheck disable=SC2016
	if ! printf '%s\n' $SRCS | xargs -P "$(nproc)" -I{} sh -c \
		'o=$F/obj/$(basename {} .c).o; $CLANG $CFLAGS -fsanitize=fuzzer-no-link -c -o $o {} 2>$o.log || { echo "cannot compile {}:"; head -20 $o.log; exit 255; }'; then
		echo "FAIL fuzz: build failed"
		exit 1
	fi
	objs=()
	for s in $SRCS; do objs+=("$F/obj/$(basename "$s" .c).o"); done
	if ! "$CLANG" -fsanitize=fuzzer,address,undefined \
		-Wl,--wrap=vms_symtab_new -o "$BIN" "${objs[@]}" \
		-ldw -lelf -lzstd -lm -ldl -lpthread 2>"$F/link.log"; then
		echo "FAIL fuzz: cannot link $BIN:"
		head -20 "$F/link.log"
		exit 1
	fi
fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
COMMON=(-timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=1024
	-close_fd_mask=2 -print_final_stats=1)

# ---- reproduce ------------------------------------------------------------
if [ $# -gt 0 ] && [ "$1" != --make-corpus ]; then
	exec "$BIN" "${COMMON[@]}" "$@"
fi

# ---- corpus ---------------------------------------------------------------
if [ "${1:-}" = --make-corpus ]; then
	EX=$O/examples
	[ -x "$O/libvmspy.so" ] && [ -x "$EX/counts" ] ||
		{ echo "fuzz: make all examples first"; exit 2; }
	T=$(mktemp -d "${TMPDIR:-/tmp}/vmspy-fuzz-corpus.XXXXXX") || exit 2
	trap 'rm -rf "$T"' EXIT
	mkdir -p "$T/raw" "$T/min"
	i=0
	rec() { # name cmd...: record cmd, pack every recording it left
		local name=$1
		shift
		(cd "$T" && VMSPY_QUIET=1 VMSPY_OUT="$T/$name.rec" \
			VMSPY_INTERVAL_MS=0 LD_PRELOAD="$O/libvmspy.so" \
			timeout 60 "$@" >/dev/null 2>&1) 2>/dev/null
		local r
		for r in "$T/$name.rec" "$T/$name.rec".*; do
			[ -d "$r" ] || continue
			i=$((i + 1))
			python3 tests/fuzz/pack.py "$r" "$T/raw/$name.$i" \
				--max-log 12288 --max-snap 12288
			python3 tests/fuzz/pack.py "$r" "$T/raw/$name.$i.small" \
				--max-log 2048 --max-snap 4096
			python3 tests/fuzz/pack.py "$r" "$T/raw/$name.$i.z" \
				--rechunk 4096 --max-log 12288 --max-snap 4096
		done
	}
	rec counts "$EX/counts"
	rec threads "$EX/threads"
	rec leaks "$EX/leaks"
	rec crash "$EX/crash" kill
	rec forks "$EX/forks"
	rec regions "$EX/regions" "$T"
	rec demo "$EX/demo"
	rec signals "$EX/signals"
	rec forkleak "$EX/forkleak"
	rec tlsdtor "$EX/trap_tls_dtor"
	rm -rf "${CORPUS:?}.new" && mkdir -p "$CORPUS.new"
	"$BIN" -merge=1 "${COMMON[@]}" -artifact_prefix="$F/" "$CORPUS.new" "$T/raw" >"$T/merge.log" 2>&1 ||
		{ echo "fuzz: merge failed:"; tail -20 "$T/merge.log"; exit 1; }
	# Inputs that once failed stay (regress-*, see README.md).
	cp "$CORPUS"/regress-* "$CORPUS.new"/ 2>/dev/null
	rm -rf "$CORPUS" && mv "$CORPUS.new" "$CORPUS"
	echo "fuzz: corpus: $(ls "$CORPUS" | wc -l) inputs," \
		"$(du -sh "$CORPUS" | cut -f1) (from $i recordings)"
	exit 0
fi

# ---- fuzz -----------------------------------------------------------------
mkdir -p "$F/corpus"
[ -d "$CORPUS" ] || echo "fuzz: no committed corpus at $CORPUS (run.sh --make-corpus)"
LOG=$F/fuzz.log
echo "  FUZZ    $BIN for ${SECONDS_BUDGET}s ($JOBS job(s)), log $LOG"
rc=0
if [ "$JOBS" -gt 1 ]; then
	(cd "$F" && "$BIN" "${COMMON[@]}" -max_total_time="$SECONDS_BUDGET" \
		-jobs="$JOBS" -workers="$JOBS" -artifact_prefix="$F/" \
		"$F/corpus" "$CORPUS" >"$LOG" 2>&1) || rc=$?
else
	"$BIN" "${COMMON[@]}" -max_total_time="$SECONDS_BUDGET" \
		-artifact_prefix="$F/" "$F/corpus" "$CORPUS" >"$LOG" 2>&1 || rc=$?
fi
stats=$(grep -E '^stat::number_of_executed_units|^#[0-9]+.*DONE' "$LOG" |
	tail -2 | tr '\n' ' ')
if [ $rc != 0 ] || grep -Eq '^==[0-9]+==ERROR|runtime error:|^SUMMARY: ' "$LOG"; then
	echo "FAIL fuzz (exit $rc): $(grep -E 'ERROR|runtime error|SUMMARY' "$LOG" | head -3)"
	ls "$F"/crash-* "$F"/leak-* "$F"/timeout-* "$F"/oom-* 2>/dev/null | head -5 |
		sed 's/^/    reproduce: tests\/fuzz\/run.sh /'
	exit 1
fi
echo "ok   fuzz: $stats"
exit 0
