#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Compressed sealed chunks (issue 6; format.h "Compressed chunks"): the
# recorder moves every sealed chunk into log.<n>.z and punches it out of the
# log; the analyzer, the independent decoder and the exit-time leak scan
# read the frames back.  Each test says what it proves.  Small chunks
# (VMSPY_CHUNK_KB=64) so that small runs seal many.
#
#   tests/e2e/compress.sh [NAME...]   KEEP=1 keeps the temp directory
set -u
TIMEOUT=${VMSPY_E2E_TIMEOUT:-120}
SUITE=compress
LABEL="compress "
. "$(dirname "$0")/lib.sh"

suite_tmp z
ZC=$E2E/zchunks.py
# VMSPY_COMPRESS=2: every sealed chunk, even one that compresses badly
# (the default, 1, leaves those raw for a while).
export VMSPY_COMPRESS=2
export PAIR_ENV="VMSPY_CHUNK_KB=64"

# stress_exact 4 OPS: its ground truth (examples/stress_exact.c) is in its
# output: "stress_exact ok THREADS OPS LEAKED_BLOCKS LEAKED_BYTES".
OPS=100000

# frames_of LOG: number of complete frames in LOG.z.
frames_of() { python3 "$ZC" frames "$1" 2>/dev/null | wc -l; }

# compressed_ok REC: every log that sealed chunks has frames for them, and
# their blocks are gone from the log.
compressed_ok() {
	local rec=$1 log n disk size any=
	for log in "$rec"/log.[0-9]*; do
		case $log in *.z) continue ;; esac
		read -r disk size < <(python3 "$ZC" disk "$log")
		[ "$size" -gt $((2 * 65536)) ] || continue
		any=1
		n=$(frames_of "$log")
		[ "$n" -gt 0 ] || err "$(basename "$log"): $size bytes, no frames"
		# All but the last chunk and chunk 0's header page punched.
		[ "$disk" -le $((65536 + 4096 + 65536)) ] ||
			err "$(basename "$log"): $disk bytes on disk of $size: holes not punched"
	done
	[ -n "$any" ] || err "$(basename "$rec"): no log sealed a chunk"
}

# no_damage FILE: a summary --json without damage notes.
no_damage() {
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))["damage"]; print(d) if d else None; sys.exit(1 if d else 0)' "$1" >/dev/null ||
		err "$(basename "$1"): damage: $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["damage"])' "$1")"
}

# same_json A B LABEL: two reports equal once the recording paths are out.
same_json() {
	python3 - "$1" "$2" <<'EOF' || err "$3: reports differ"
import json, sys
def norm(v):
    if isinstance(v, dict):
        return {k: norm(x) for k, x in v.items() if k not in ("recording", "path")}
    if isinstance(v, list):
        return [norm(x) for x in v]
    return v
a, b = (norm(json.load(open(p))) for p in sys.argv[1:3])
if a != b:
    for k in sorted(set(a) | set(b)):
        if a.get(k) != b.get(k):
            print("    %s: %s / %s" % (k, str(a.get(k))[:100], str(b.get(k))[:100]))
    sys.exit(1)
EOF
}

# reports REC: summary and leaks --json of REC into REC.s.json, REC.l.json.
reports() {
	"$VMSPY" summary --json "$1" >"$1.s.json" 2>"$1.s.err" ||
		err "vmspy summary $(basename "$1") failed: $(head -2 "$1.s.err")"
	"$VMSPY" leaks --json "$1" >"$1.l.json" 2>"$1.l.err"
}

# ---- the tests ----------------------------------------------------------

# The same program recorded with compression on and off gives the same
# ground-truth numbers; the compressed recording is really compressed; the
# independent decoder agrees with the analyzer on it; and a twin made by
# writing every frame back into its log reads exactly the same.
t_same_as_uncompressed() {
	local mode
	for mode in on off; do
		if [ $mode = off ]; then
			PAIR_ENV="VMSPY_CHUNK_KB=64 VMSPY_COMPRESS=0" pair $mode "$EX/stress_exact" 4 $OPS
			ls "$REC"/*.z >/dev/null 2>&1 && err "VMSPY_COMPRESS=0 wrote a sidecar"
		else
			pair $mode "$EX/stress_exact" 4 $OPS
			compressed_ok "$REC"
			record_checks "$REC"
		fi
		local blocks bytes
		read -r _ _ _ _ blocks bytes <"$D/$mode.n.out"
		reports "$REC"
		jc "$REC.s.json" "summary ($mode)" \
			"calls.malloc == $((4 * OPS + blocks))" \
			"calls.free == $((4 * OPS))" 'clean_exit == true' \
			"heap_live_bytes_at_end == $bytes" 'dropped == 0'
		no_damage "$REC.s.json"
		jc "$REC.l.json" "leaks ($mode)" \
			"definitely_lost.blocks == $blocks" \
			"definitely_lost.bytes == $bytes" \
			'indirectly_lost.blocks == 0' 'unfreed.blocks == 0'
	done
	python3 "$ZC" twin "$D/on.rec" "$D/twin.rec" || err "cannot make the raw twin"
	ls "$D/twin.rec"/*.z >/dev/null 2>&1 && err "twin still has sidecars"
	reports "$D/twin.rec"
	same_json "$D/on.rec.s.json" "$D/twin.rec.s.json" "summary, compressed vs raw twin"
	same_json "$D/on.rec.l.json" "$D/twin.rec.l.json" "leaks, compressed vs raw twin"
}

# Killed, segfaulted, aborted after filling many chunks: nothing lost (the
# ground truth of examples/crash.c), chunks were compressed before the
# crash, and no damage is reported.
t_crash() {
	local mode want n=300000
	for mode in kill segv abort; do
		want=$(crash_status "$mode")
		pair "crash-$mode" --any-stderr "$EX/crash" "$mode" $n
		[ "$RC" = "$want" ] || err "crash $mode: exit status $RC, want $want"
		[ "$(frames_of "$REC/log.0")" -gt 0 ] ||
			err "crash $mode: no chunk compressed before the crash"
		record_checks "$REC" || continue
		jc "$REC.summary.json" "crash $mode" 'clean_exit == false' \
			"calls.malloc == $((n + 10))" "calls.free == $n" \
			'calls.calloc == 1' 'heap_live_bytes_at_end == 109999'
		no_damage "$REC.summary.json"
	done
}

# The recorder died between writing a frame and punching its chunk: frame
# and raw chunk both there, the same bytes (twin --keep-z).  And the last
# frame cut short (the recorder died writing it): ignored, its chunk is
# read raw.  Both read exactly like the original.
t_crash_windows() {
	pair orig "$EX/stress_exact" 2 50000
	reports "$REC"
	python3 "$ZC" twin "$REC" "$D/both.rec" --keep-z
	reports "$D/both.rec"
	same_json "$REC.s.json" "$D/both.rec.s.json" "frame and raw chunk both present"
	no_damage "$D/both.rec.s.json"
	python3 "$ZC" twin "$REC" "$D/cut.rec" --keep-z
	python3 "$ZC" mangle "$D/cut.rec/log.1.z" truncate
	reports "$D/cut.rec"
	same_json "$REC.s.json" "$D/cut.rec.s.json" "last frame cut short"
	no_damage "$D/cut.rec.s.json"
}

# Damaged sidecars: never a crash (vmspy-asan too), and a chunk whose data
# is gone is a damage note naming it.
t_hostile_sidecars() {
	local how rec
	pair base "$EX/stress_exact" 2 50000
	reports "$REC"
	for how in flip-payload lie garbage duplicate missing disagree; do
		rec=$D/$how.rec
		case $how in
		missing)
			python3 "$ZC" twin "$REC" "$rec" --except log.1:1
			;;
		disagree)
			python3 "$ZC" twin "$REC" "$rec" --keep-z
			python3 - "$rec/log.1" <<'EOF'
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(65536 + 100)
    b = f.read(1)
    f.seek(65536 + 100)
    f.write(bytes([b[0] ^ 0xff]))
EOF
			;;
		*)
			cp -r "$REC" "$rec"
			python3 "$ZC" mangle "$rec/log.1.z" $how
			;;
		esac
		summary "$rec" || continue
		[ -x "$VMSPY_ASAN" ] && summary "$rec" "$VMSPY_ASAN"
		case $how in
		duplicate)
			# the first frame wins; nothing is lost
			no_damage "$rec.summary.json" ;;
		garbage)
			# skipped over to the next good header
			no_damage "$rec.summary.json" ;;
		missing | flip-payload | lie)
			grep -q "log 'log.1' corrupt at offset [0-9]*: chunk 1 was lost" \
				"$rec.summary.json" ||
				err "$how: no damage note for the lost chunk: $(head -c 300 "$rec.summary.json")" ;;
		disagree)
			grep -q "chunk 1 differs from its frame in 'log.1.z'" "$rec.summary.json" ||
				err "$how: no damage note: $(head -c 300 "$rec.summary.json")" ;;
		esac
	done
}

# A fork child records into its own recording, compresses its own chunks
# (its background thread is started anew), and both read cleanly.
t_fork_child() {
	pair fork /usr/bin/python3 -c '
import os
pid = os.fork()
if pid == 0:
    x = ["x" * 600 + str(i) for i in range(100000)]
    os._exit(0)
os.waitpid(pid, 0)
y = ["y" * 600 + str(i) for i in range(50000)]
print("done")'
	local r n=0
	for r in "$REC" "$REC".*; do
		[ -d "$r" ] || continue
		n=$((n + 1))
		compressed_ok "$r"
		summary "$r" && no_damage "$r.summary.json"
	done
	[ $n = 2 ] || err "$n recordings, want 2 (parent and child)"
}

# Configuration: off, a level, a bad level (one line, default used), and
# compression without interval snapshots (the thread runs for it alone).
t_config() {
	PAIR_ENV="VMSPY_CHUNK_KB=64 VMSPY_COMPRESS_LEVEL=-5" pair fast "$EX/stress_exact" 2 50000
	grep -qx 'compress zstd -5' "$REC/meta" || err "level -5 not in meta"
	compressed_ok "$REC"
	PAIR_ENV="VMSPY_CHUNK_KB=64 VMSPY_INTERVAL_MS=0" pair nointerval "$EX/stress_exact" 2 50000
	compressed_ok "$REC"
	PAIR_ENV="VMSPY_CHUNK_KB=64 VMSPY_COMPRESS_LEVEL=fast" pair bad --any-stderr "$EX/stress_exact" 2 50000
	grep -qx "vmspy: VMSPY_COMPRESS_LEVEL='fast' is not a number in -100..9; using 1" \
		"$D/bad.p.err" || err "bad level: stderr: $(head -2 "$D/bad.p.err")"
	[ "$(wc -l <"$D/bad.p.err")" = 1 ] || err "bad level: more than one line on stderr"
	compressed_ok "$REC"
	# The default (1): stress_exact's chunks compress less than 2x, so
	# after one a lane leaves 15 raw: about one frame per 16 sealed chunks.
	PAIR_ENV="VMSPY_CHUNK_KB=64 VMSPY_COMPRESS=1" pair adaptive "$EX/stress_exact" 1 $OPS
	local log=$REC/log.1 frames sealed
	frames=$(python3 "$ZC" frames "$log" 2>/dev/null | wc -l)
	sealed=$(($(stat -c %s "$log") / 65536 - 1))
	if [ "$sealed" -lt 17 ] || [ "$frames" -lt 1 ] ||
		[ "$frames" -gt $(((sealed + 15) / 16)) ]; then
		err "adaptive: $frames frames for $sealed sealed chunks of $log" \
			"(want 1..$(((sealed + 15) / 16)))"
	fi
	summary "$REC" && no_damage "$REC.summary.json"
	PAIR_ENV="VMSPY_CHUNK_KB=64 VMSPY_COMPRESS=maybe" pair badflag --any-stderr "$EX/stress_exact" 2 50000
	grep -q "VMSPY_COMPRESS='maybe' is not a number in 0..2; using 1" "$D/badflag.p.err" ||
		err "bad flag: stderr: $(head -2 "$D/badflag.p.err")"
}

run_all "$@"
