#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The recording's size on disk (format.h "Compressed snapshots", "Skipped
# snapshots"; preload/log.c chunk reservation and the exit-time trim):
# snapshots are compressed against the one before and read back exactly;
# a damaged one is one clear error, never a crash; interval snapshots are
# skipped while memory stays put and taken when it moves; a log takes on
# disk about what its records need.  Each test says what it proves.
#
#   tests/e2e/size.sh [NAME...]   KEEP=1 keeps the temp directory
set -u
TIMEOUT=${VMSPY_E2E_TIMEOUT:-120}
SUITE=size
LABEL="size "
. "$(dirname "$0")/lib.sh"

suite_tmp size
PY=/usr/bin/python3

# A python3 program whose memory moves: touches 2 MiB more every 40 ms,
# 25 times (~1 s), then exits.
GROW='import time
keep = []
for i in range(25):
    keep.append(b"x" * (2 << 20))
    time.sleep(0.04)
'
# One that sits still for a second (and keeps a thread blocked at exit).
IDLE='import threading, time
e = threading.Event()
threading.Thread(target=e.wait, daemon=True).start()
time.sleep(1.0)
'

# snaps REC: the snapshot file names of REC in number order.
snaps() { ls "$1" | grep -E '^snap\.[0-9]+$' | sort -t. -k2 -n; }

# is_z FILE: FILE is a compressed snapshot (zstd skippable frame 0x184D2A5B).
is_z() { [ "$(head -c 4 "$1" | od -An -tx1 | tr -d ' ')" = 5b2a4d18 ]; }

# plain_twin REC TWIN: a copy of REC with every snapshot decompressed to
# plain text by the independent decoder (tests/e2e/vmsdump.py, zstd tool).
plain_twin() {
	rm -rf "$2" && cp -r "$1" "$2" || return 1
	python3 - "$1" "$2" <<'EOF'
import os, sys
sys.path.insert(0, os.path.join(os.environ["E2E"]))
import vmsdump
rec, twin = sys.argv[1:3]
for name in os.listdir(rec):
    if name.startswith("snap.") and name[5:].isdigit():
        with open(os.path.join(twin, name), "wb") as f:
            f.write(vmsdump.snap_text(rec, int(name[5:])))
EOF
}

# disk_kb FILE: KiB allocated on disk.
disk_kb() { echo $(($(stat -c %b "$1") * $(stat -c %B "$1") / 1024)); }

# ---- the tests ----------------------------------------------------------

# Every snapshot of a run whose memory grows is compressed, all but the
# first against the one before; the analyzer reads them exactly as the
# plain text the independent decoder gets back (maps, timeline, summary of
# a twin with plain snapshots are the same); and they are much smaller.
t_compressed_round_trip() {
	export E2E
	PAIR_ENV="VMSPY_INTERVAL_MS=50" pair grow $PY -c "$GROW"
	local n=0 refs=0 zbytes=0 tbytes=0 s
	for s in $(snaps "$REC"); do
		n=$((n + 1))
		is_z "$REC/$s" || err "$s is not compressed"
		head -c 64 "$REC/$s" | tr -d '\0' | grep -aq "^ref [0-9]" && refs=$((refs + 1))
		zbytes=$((zbytes + $(stat -c %s "$REC/$s")))
	done
	[ "$n" -ge 6 ] || err "only $n snapshots of a growing process"
	[ "$refs" -ge $((n - 2)) ] || err "$refs of $n snapshots have a reference"
	# The analyzer knows the recording's own files by their path: the
	# plain twin takes the original's place.
	local r=$REC cmd
	for cmd in "maps" "timeline" "summary --json" "maps --snapshot 2"; do
		# shellcheck disable=SC2086
		"$VMSPY" $cmd "$r" >"$D/z.${cmd// /_}.out" 2>"$D/err" ||
			err "vmspy $cmd (compressed) failed: $(head -2 "$D/err")"
	done
	dump "$REC"
	mv "$REC" "$D/orig.rec"
	plain_twin "$D/orig.rec" "$REC" || { err "cannot make the plain twin"; return; }
	for s in $(snaps "$REC"); do
		head -1 "$REC/$s" | grep -qx 'vmspy-snapshot 1' ||
			err "twin $s: not a plain snapshot"
		tbytes=$((tbytes + $(stat -c %s "$REC/$s")))
	done
	[ $((zbytes * 10)) -le "$tbytes" ] ||
		err "snapshots take $zbytes bytes compressed, $tbytes plain: less than 10x"
	for cmd in "maps" "timeline" "summary --json" "maps --snapshot 2"; do
		# shellcheck disable=SC2086
		"$VMSPY" $cmd "$r" >"$D/p.${cmd// /_}.out" 2>"$D/err" ||
			err "vmspy $cmd (plain) failed: $(head -2 "$D/err")"
		cmp -s "$D/z.${cmd// /_}.out" "$D/p.${cmd// /_}.out" ||
			err "vmspy $cmd, compressed vs plain snapshots differs:"$'\n'"$(diff "$D/z.${cmd// /_}.out" "$D/p.${cmd// /_}.out" | head -6)"
	done
}

# A compressed snapshot cut short, corrupted, or whose reference is gone:
# one line naming the file, no crash (also the ASan build), and the others
# still read.
t_damaged_snapshots() {
	PAIR_ENV="VMSPY_INTERVAL_MS=50" pair grow $PY -c "$GROW"
	local last mid r out rc
	last=$(snaps "$REC" | tail -1)
	mid=$(snaps "$REC" | sed -n 3p)
	for how in cut corrupt noref; do
		r=$D/$how.rec
		rm -rf "$r" && cp -r "$REC" "$r"
		case $how in
		cut) head -c $(($(stat -c %s "$REC/$last") / 2)) "$REC/$last" >"$r/$last" ;;
		corrupt) printf 'XXXXXXXX' | dd of="$r/$mid" bs=1 \
			seek=$(($(stat -c %s "$REC/$mid") - 12)) conv=notrunc 2>/dev/null ;;
		noref) rm "$r/$(snaps "$REC" | sed -n 2p)" ;;
		esac
		for bin in "$VMSPY" "$VMSPY_ASAN"; do
			[ -x "$bin" ] || continue
			for cmd in summary timeline maps; do
				rc=0
				out=$("$bin" $cmd "$r" 2>&1 >/dev/null) || rc=$?
				[ $rc -lt 128 ] || err "$how: $(basename "$bin") $cmd died ($rc)"
				echo "$out" | grep -Eq 'AddressSanitizer|runtime error' &&
					err "$how: $(basename "$bin") $cmd: sanitizer report"
				echo "$out" | grep -q "snap\." ||
					err "$how: $(basename "$bin") $cmd says nothing about the snapshot"
				[ "$(echo "$out" | grep -c "snapshot '$last'\|snapshot '$mid'\|snap\.")" -le 3 ] ||
					err "$how: $cmd repeats itself:"$'\n'"$out"
			done
		done
		"$VMSPY" summary "$r" >"$r.sum" 2>/dev/null ||
			err "$how: summary failed"
		grep -q '^snapshots.*unreadable' "$r.sum" ||
			err "$how: summary does not mark the snapshot unreadable"
	done
	grep -q "$last.*cut short" <("$VMSPY" summary "$D/cut.rec" 2>&1) ||
		err "cut: the message does not say the file was cut short"
}

# Killed at random moments while it takes snapshots every 5 ms: every
# recording still reads (no truncated compressed snapshot is ever left
# under a snapshot's name).
t_killed_while_snapshotting() {
	local i rc
	for i in 1 2 3 4 5 6; do
		rm -rf "$D/k$i.rec"
		(VMSPY_QUIET=1 VMSPY_INTERVAL_MS=5 VMSPY_SNAP_SKIP=0 \
			VMSPY_OUT="$D/k$i.rec" LD_PRELOAD="$PRELOAD" \
			$PY -c "$GROW" & pid=$!
		 sleep "0.$((2 + i))$i"; kill -9 $pid; wait $pid) 2>/dev/null
		[ -d "$D/k$i.rec" ] || { err "k$i: no recording"; continue; }
		for cmd in summary maps timeline; do
			rc=0
			"$VMSPY" $cmd "$D/k$i.rec" >/dev/null 2>"$D/k$i.$cmd.err" || rc=$?
			[ $rc = 0 ] || err "k$i: vmspy $cmd exited $rc: $(head -2 "$D/k$i.$cmd.err")"
		done
	done
}

# Interval snapshots: skipped while nothing moves (none in an idle second
# at 50 ms), taken while memory grows, and all taken with
# VMSPY_SNAP_SKIP=0.
t_skip_rule() {
	local n
	PAIR_ENV="VMSPY_INTERVAL_MS=50" pair idle $PY -c "$IDLE"
	# python3 grows while it starts (the first ~0.2 s), then sits still
	local late
	late=$("$VMSPY" timeline "$REC" | python3 -c '
import re, sys
for line in sys.stdin:
    if line.startswith("snapshots"):
        print(sum(1 for t in re.findall(r"([0-9.]+) s interval", line)
                  if float(t) > 0.5))' 2>/dev/null)
	[ "$late" = 0 ] || err "idle: ${late:-?} interval snapshots in the idle part"
	"$VMSPY" summary "$REC" | grep -q '^snapshots.*start.*exit' ||
		err "idle: no start and exit snapshot"
	PAIR_ENV="VMSPY_INTERVAL_MS=50 VMSPY_SNAP_SKIP=0" pair idle-all $PY -c "$IDLE"
	n=$(snaps "$REC" | wc -l)
	[ "$n" -ge 12 ] || err "idle, VMSPY_SNAP_SKIP=0: only $n snapshots"
	PAIR_ENV="VMSPY_INTERVAL_MS=50" pair grow $PY -c "$GROW"
	n=$(snaps "$REC" | wc -l)
	[ "$n" -ge 10 ] || err "grow: only $n snapshots of ~20 intervals that each grew 2 MiB"
	"$VMSPY" timeline "$REC" >"$REC.tl" 2>&1 || err "grow: timeline failed"
}

# A short program's logs take about what their records need: the exiting
# thread's lane sealed (compressed) or trimmed, a thread still blocked at
# exit holds one reserved page, and nothing is left in a log past its
# records but holes.
t_logs_trimmed() {
	local log kb total
	PAIR_ENV="VMSPY_INTERVAL_MS=50" pair idle $PY -c "$IDLE"
	for log in "$REC"/log.[0-9]*; do
		case $log in *.z) continue ;; esac
		kb=$(disk_kb "$log")
		[ "$kb" -le 64 ] || err "$(basename "$log"): $kb KiB on disk"
	done
	kb=$(disk_kb "$REC/log.1")
	[ "$kb" -le 8 ] || err "log.1 (a thread blocked at exit): $kb KiB on disk"
	total=$(du -sk "$REC" | cut -f1)
	[ "$total" -le 160 ] || err "the recording takes $total KiB on disk"
	record_checks "$REC"
	# Compression off: no sidecar, the exiting lane's tail punched.
	PAIR_ENV="VMSPY_INTERVAL_MS=50 VMSPY_COMPRESS=0" pair raw $PY -c "$IDLE"
	ls "$REC"/*.z >/dev/null 2>&1 && err "VMSPY_COMPRESS=0 wrote a sidecar"
	is_z "$REC/snap.0" && err "VMSPY_COMPRESS=0 compressed a snapshot"
	kb=$(disk_kb "$REC/log.0")
	[ "$kb" -lt 256 ] || err "raw log.0: $kb KiB on disk, its tail not trimmed"
	record_checks "$REC"
}

run_all "$@"
