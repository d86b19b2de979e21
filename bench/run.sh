#!/bin/sh
# SPDX-License-Identifier: MIT
# vmspy benchmark: native vs vmspy (full and sampled) vs heaptrack (issue 6).  Entry point of
# `make bench`, which has built build/libvmspy.so and build/vmspy first.
#
#   bench/run.sh                 all workloads, 5 rounds, writes bench/RESULTS.md
#   BENCH_ROUNDS=3 BENCH_ONLY=churn-1t,deep40 bench/run.sh
#   BENCH_BIG=0 bench/run.sh     without the 10^8-event analyzer case (bench/big.py)
#
# Other knobs (BENCH_SCALE, BENCH_TMP, BENCH_KEEP, BENCH_PROFILE, ...): see
# the top of bench/bench.py.  Exits non-zero only when a program crashed or
# its output differed between native and profiled runs, never because the
# machine is slow.
set -e
cd "$(dirname "$0")/.."

CC=${CC:-gcc}
OUT=build/bench

# Extra Debian packages the benchmark uses (the Makefile's `deps` covers the
# build): installed when we are root, otherwise the workloads that need
# them are skipped.
need=""
for pair in heaptrack:heaptrack sqlite3:sqlite3 zstd:zstd xz:xz-utils perf:linux-perf; do
	command -v "${pair%%:*}" >/dev/null 2>&1 || need="$need ${pair#*:}"
done
if [ -n "$need" ]; then
	if [ "$(id -u)" -eq 0 ]; then
		echo "bench: installing Debian packages:$need"
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need >/dev/null ||
			echo "bench: could not install$need; going on without"
	else
		echo "bench: missing$need (not root: not installing); affected parts are skipped"
	fi
fi
for tool in heaptrack heaptrack_print zstd python3; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "bench: $tool is required" >&2
		exit 2
	fi
done

# The workloads: plain optimized programs with debug info.  deep.c keeps
# its frame chain (no sibling calls) so the 40 frames really exist.
mkdir -p "$OUT"
build() {
	src=bench/$1.c
	dst=$OUT/$1
	shift
	if [ ! -x "$dst" ] || [ "$src" -nt "$dst" ] || [ bench/common.h -nt "$dst" ]; then
		echo "  CC      $dst"
		$CC -std=gnu11 -O2 -g -Wall -Wextra -Werror -o "$dst" "$src" "$@"
	fi
}
build churn -pthread
build deep -fno-optimize-sibling-calls
build realloc
build mmapchurn
if [ ! -f "$OUT/librssprobe.so" ] || [ bench/rssprobe.c -nt "$OUT/librssprobe.so" ]; then
	echo "  CC      $OUT/librssprobe.so"
	$CC -std=gnu11 -O2 -g -Wall -Wextra -Werror -shared -fPIC \
		-o "$OUT/librssprobe.so" bench/rssprobe.c
fi

cmd="bench/run.sh"
[ -n "$BENCH_ROUNDS" ] && cmd="BENCH_ROUNDS=$BENCH_ROUNDS $cmd"
[ -n "$BENCH_ONLY" ] && cmd="BENCH_ONLY=$BENCH_ONLY $cmd"
[ -n "$BENCH_SCALE" ] && cmd="BENCH_SCALE=$BENCH_SCALE $cmd"
export BENCH_CMDLINE="${BENCH_CMDLINE:-make bench  (= make all examples && $cmd)}"
export PYTHONDONTWRITEBYTECODE=1
python3 bench/bench.py
# The 10^8-event scale case (analyzer memory): BENCH_BIG=0 skips it.
if [ "${BENCH_BIG:-1}" != 0 ]; then
	python3 bench/big.py
fi
