#!/bin/sh
# SPDX-License-Identifier: MIT
# `make demo`: record the bundled example (examples/demo.c, a small image
# cache with threads, a texture atlas and a few leaks) under the preload,
# then show what vmspy reports about it.
#
#   tools/demo.sh            recording in build/vmspy.demo.rec (replaced;
#                            build/ is ignored by git)
#   O=dir tools/demo.sh      build directory (default build)
set -u
cd "$(dirname "$0")/.." || exit 2
O=${O:-build}
REC=${VMSPY_DEMO_REC:-$O/vmspy.demo.rec}
VMSPY=$O/vmspy

for f in "$O/libvmspy.so" "$VMSPY" "$O/examples/demo"; do
	if [ ! -e "$f" ]; then
		echo "demo: $f is missing; run 'make all examples' first" >&2
		exit 2
	fi
done

rule() {
	printf '\n==== %s\n' "$1"
}

rm -rf "$REC"
rule "running build/examples/demo under LD_PRELOAD=$O/libvmspy.so"
echo "(its own output follows; the recording goes to $REC)"
LD_PRELOAD=$PWD/$O/libvmspy.so VMSPY_OUT=$REC "$O/examples/demo"
status=$?
if [ $status -ne 0 ]; then
	echo "demo: the example exited with status $status" >&2
	exit 1
fi

has() {
	"$VMSPY" --help 2>&1 | grep -Eq "^  $1( |\$)"
}

rule "vmspy summary $REC"
echo "What the process did: calls per API, bytes allocated, the heap and mmap"
echo "peaks and when they happened, threads, and whether it exited cleanly."
echo
"$VMSPY" summary "$REC" || exit 1

if has leaks; then
	rule "vmspy leaks $REC"
	echo "What was still allocated at exit, by call stack: parse_metadata()"
	echo "forgets three 256-byte strings (definitely lost); the image cache is"
	echo "still reachable.  Exit status 1 means 'leaks found' (for CI)."
	echo
	"$VMSPY" leaks "$REC"
	[ $? -le 1 ] || exit 1
fi

if has maps; then
	rule "vmspy maps $REC --label loaded"
	echo "Every region of the address space at the 'loaded' snapshot, with its"
	echo "origin: the 16 MiB texture atlas from create_atlas() (half resident),"
	echo "the decoder threads' stacks and malloc arenas, the libraries, the heap."
	echo
	"$VMSPY" maps "$REC" --label loaded || exit 1
fi

rule "done"
echo "The recording stays in $REC; try '$VMSPY summary $REC --json'."
