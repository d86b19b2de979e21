#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# End-to-end tests of `vmspy diff`, `vmspy timeline` and `vmspy flame` on
# examples/diffbuf.c, built here in four variants: -O0 and -O2 (helpers
# inlined, call sites moved), each also with -DUSE_MMAP (the big buffer
# moves from malloc to mmap).  The ground truth is the table at the top of
# examples/diffbuf.c; every number below comes from it.  Outputs are
# parsed (JSON, CSV, folded stacks, the SVGs with python3's xml module),
# and everything runs with build/vmspy and build/vmspy-asan.
#
#   tests/e2e/diff.sh            KEEP=1 keeps the temp directory
#   O=dir                        build directory (default build)
#
# Needs `make all build/vmspy-asan`.  Prints "ok" or "FAIL" (with the
# reasons) per test; exits 1 if any failed.
set -u
cd "$(dirname "$0")/../.." || exit 2

ROOT=$(pwd)
O=${O:-build}
PRELOAD=$ROOT/$O/libvmspy.so
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

TMP=$(mktemp -d "${TMPDIR:-/tmp}/vmspy-diff.XXXXXX") || exit 2
if [ -n "${KEEP:-}" ]; then
	echo "diff.sh: keeping $TMP"
else
	trap 'rm -rf "$TMP"' EXIT
fi

nfail=0
T_ERR=""
err() { T_ERR+="    $*"$'\n'; }
report() {
	if [ -n "$T_ERR" ]; then
		echo "FAIL $1"
		printf '%s' "$T_ERR"
		nfail=$((nfail + 1))
	else
		echo "ok   $1"
	fi
	T_ERR=""
}

# ---- build and record the four variants ----------------------------------
for f in "$PRELOAD" "$ROOT/$O/vmspy" "$ROOT/$O/vmspy-asan"; do
	[ -x "$f" ] || [ -f "$f" ] || { echo "diff.sh: $f missing (make all $O/vmspy-asan)"; exit 2; }
done
build_variant() { # name flags...
	local name=$1
	shift
	gcc -std=gnu11 -g -Wall -Wextra -Werror -Iinclude -D_GNU_SOURCE "$@" \
		-o "$TMP/diffbuf-$name" examples/diffbuf.c -lrt ||
		err "cannot build diffbuf-$name ($*)"
	local out
	out=$(VMSPY_QUIET=1 VMSPY_OUT="$TMP/rec-$name" LD_PRELOAD=$PRELOAD \
		"$TMP/diffbuf-$name" 2>"$TMP/rec-$name.stderr")
	[ "$out" = "diffbuf ok" ] || err "diffbuf-$name under vmspy printed '$out'"
	[ -d "$TMP/rec-$name" ] || err "no recording for diffbuf-$name"
}
build_variant O0 -O0
build_variant O2 -O2
build_variant mmapO0 -O0 -DUSE_MMAP
build_variant mmapO2 -O2 -DUSE_MMAP
report "build and record diffbuf -O0, -O2, -DUSE_MMAP"
[ "$nfail" = 0 ] || exit 1

# ---- the checks, once per analyzer binary --------------------------------
py() { python3 - "$@"; }

check_diff_same() { # vmspy old new: two builds of the same code
	local v=$1 a=$2 b=$3 rc
	"$v" diff "$TMP/rec-$a" "$TMP/rec-$b" --json >"$TMP/d.json" 2>"$TMP/d.err"
	rc=$?
	[ $rc = 0 ] || err "diff $a $b exit $rc: $(head -3 "$TMP/d.err")"
	py "$TMP/d.json" "$a" "$b" <<'EOF' || err "diff $a $b: JSON checks failed (above)"
import json, sys
d = json.load(open(sys.argv[1]))
bad = []
want = {"heap": (2359296, 3000, 2362296, 8), "mmap": (262144, 0, 262144, 1),
        "shm": (196608, 0, 196608, 2)}
if "mmap" in sys.argv[2]:
    want["heap"] = (262144, 3000, 265144, 7)
    want["mmap"] = (2359296, 0, 2359296, 2)
for cat, (peak, ex, alloc, calls) in want.items():
    t = d["totals"][cat]
    for side in ("old", "new"):
        got = (t[side], t["at_exit"][side], t["allocated"][side], t["calls"][side])
        if got != (peak, ex, alloc, calls):
            bad.append(f"{cat} {side}: {got} != {(peak, ex, alloc, calls)}")
    for k in ("delta",):
        if t[k] != 0: bad.append(f"{cat} peak delta {t[k]}")
    for m in ("at_exit", "allocated", "calls"):
        if t[m]["delta"] != 0: bad.append(f"{cat} {m} delta {t[m]['delta']}")
sites = d["sites"]
heads = sorted(s["frames"][0] for s in sites)
if heads != ["big_buffer", "leak_some", "scratch_map", "shm_buffers", "table_alloc"]:
    bad.append(f"site heads {heads}")
for s in sites:
    if s["in"] != "both": bad.append(f"site {s['frames'][:3]} only in {s['in']}")
    if s["heap_delta"] or s["mmap_delta"] or s["shm_delta"]:
        bad.append(f"site {s['frames'][:3]} changed")
    if "main" not in s["frames"]: bad.append(f"site {s['frames']} has no main")
t = [s for s in sites if s["frames"][0] == "table_alloc"]
if t and t[0]["frames"][:3] != ["table_alloc", "make_table", "main"]:
    bad.append(f"table_alloc frames {t[0]['frames'][:3]}")
for b in bad: print("      " + b)
sys.exit(1 if bad else 0)
EOF
}

check_diff_moved() { # vmspy old new: the big buffer moved malloc -> mmap
	local v=$1 a=$2 b=$3 rc
	"$v" diff "$TMP/rec-$a" "$TMP/rec-$b" --json >"$TMP/d.json" 2>"$TMP/d.err"
	rc=$?
	[ $rc = 0 ] || err "diff $a $b exit $rc: $(head -3 "$TMP/d.err")"
	py "$TMP/d.json" <<'EOF' || err "diff $a $b: JSON checks failed (above)"
import json, sys
d = json.load(open(sys.argv[1]))
bad = []
T = d["totals"]
exp = {("heap", None): (2359296, 262144, -2097152),
       ("heap", "at_exit"): (3000, 3000, 0),
       ("heap", "allocated"): (2362296, 265144, -2097152),
       ("heap", "calls"): (8, 7, -1),
       ("mmap", None): (262144, 2359296, 2097152),
       ("mmap", "peak"): (262144, 2359296, 2097152),
       ("mmap", "at_exit"): (0, 0, 0),
       ("mmap", "allocated"): (262144, 2359296, 2097152),
       ("mmap", "calls"): (1, 2, 1),
       ("shm", None): (196608, 196608, 0),
       ("shm", "calls"): (2, 2, 0)}
for (cat, m), want in exp.items():
    o = T[cat] if m is None else T[cat][m]
    got = (o["old"], o["new"], o["delta"])
    if got != want: bad.append(f"totals {cat} {m or 'peak'}: {got} != {want}")
s = d["sites"]
first = s[0]
if first["frames"][0] != "big_buffer": bad.append(f"first site {first['frames'][:3]}")
if (first["heap_delta"], first["mmap_delta"], first["shm_delta"]) != (-2097152, 2097152, 0):
    bad.append(f"big_buffer deltas {first['heap_delta']} {first['mmap_delta']} {first['shm_delta']}")
if first["in"] != "both": bad.append("big_buffer not matched across builds")
if first["heap"]["peak"] != {"old": 2097152, "new": 0, "delta": -2097152}:
    bad.append(f"big_buffer heap {first['heap']['peak']}")
if first["mmap"]["calls"] != {"old": 0, "new": 1, "delta": 1}:
    bad.append(f"big_buffer mmap calls {first['mmap']['calls']}")
if len([x for x in s if x["frames"][0] == "big_buffer"]) != 1:
    bad.append("big_buffer is more than one site")
for x in s[1:]:
    if x["heap_delta"] or x["mmap_delta"] or x["shm_delta"] or x["in"] != "both":
        bad.append(f"unexpected change {x['frames'][:3]}")
if len(s) != 5: bad.append(f"{len(s)} sites")
for b in bad: print("      " + b)
sys.exit(1 if bad else 0)
EOF
}

expect_rc() { # want cmd...
	local want=$1 rc
	shift
	"$@" >"$TMP/rc.out" 2>"$TMP/rc.err"
	rc=$?
	[ "$rc" = "$want" ] || err "exit $rc, want $want: ${*#$ROOT/}"
}

check_fail_over() {
	local v=$1 o=$TMP/rec-O0 m=$TMP/rec-mmapO2 n=$TMP/rec-O2
	expect_rc 1 "$v" diff "$o" "$m" --fail-over 10%
	expect_rc 0 "$v" diff "$o" "$m" --fail-over 900%
	expect_rc 1 "$v" diff "$o" "$m" --fail-over 799%   # mmap +800 %
	expect_rc 0 "$v" diff "$o" "$m" --fail-over 2097152 # not more than
	expect_rc 1 "$v" diff "$o" "$m" --fail-over 2097151
	expect_rc 0 "$v" diff "$o" "$m" --fail-over 2MiB
	expect_rc 1 "$v" diff "$o" "$m" --fail-over=1M --json
	expect_rc 1 "$v" diff "$m" "$o" --fail-over 10%    # heap grows back
	expect_rc 0 "$v" diff "$o" "$n" --fail-over 0
	expect_rc 0 "$v" diff "$o" "$n"
	expect_rc 0 "$v" diff "$o" "$m"                    # no gate: 0
	expect_rc 2 "$v" diff "$o" "$m" --fail-over ten
	expect_rc 2 "$v" diff "$o" "$m" --fail-over -5%
	expect_rc 2 "$v" diff "$o"
	expect_rc 2 "$v" diff "$o" "$TMP/no-such-recording"
	expect_rc 2 "$v" diff "$o" "$m" --bogus
	"$v" diff "$o" "$m" --fail-over 10% >"$TMP/f.txt" 2>&1
	grep -q "fail-over 10%: exceeded by the peak of mmap" "$TMP/f.txt" ||
		err "text does not say which peak exceeded: $(tail -2 "$TMP/f.txt")"
	"$v" diff "$o" "$m" >"$TMP/t.txt" 2>&1
	grep -Eq -- "-2\.0 MiB +\+2\.0 MiB +0  big_buffer < main" "$TMP/t.txt" ||
		err "text diff has no big_buffer line: $(grep big_buffer "$TMP/t.txt")"
}

check_timeline() {
	local v=$1 r=$TMP/rec-O0 rc
	"$v" timeline "$r" --csv >"$TMP/t.csv" 2>"$TMP/t.err"
	rc=$?
	[ $rc = 0 ] || err "timeline --csv exit $rc: $(head -3 "$TMP/t.err")"
	"$v" timeline "$r" --svg "$TMP/t.svg" >"$TMP/t.txt" 2>"$TMP/t.err"
	rc=$?
	[ $rc = 0 ] || err "timeline --svg exit $rc: $(head -3 "$TMP/t.err")"
	py "$TMP/t.csv" "$TMP/t.svg" "$TMP/t.txt" <<'EOF' || err "timeline checks failed (above)"
import csv, re, sys
import xml.etree.ElementTree as ET
bad = []
rows = list(csv.DictReader(open(sys.argv[1])))
need = ["time_s", "heap_bytes", "mmap_bytes", "shm_bytes", "rss_bytes",
        "heap_max_bytes", "mmap_max_bytes", "shm_max_bytes", "snapshot"]
if not rows or list(rows[0].keys()) != need: bad.append(f"csv header {list(rows[0].keys()) if rows else None}")
else:
    ts = [float(r["time_s"]) for r in rows]
    if ts != sorted(ts): bad.append("csv time not sorted")
    for s, peak in (("heap", 2359296), ("mmap", 262144), ("shm", 196608)):
        m = max(int(r[s + "_max_bytes"]) for r in rows)
        if m != peak: bad.append(f"csv {s} max {m} != {peak}")
    last = rows[-1]
    if (int(last["heap_bytes"]), int(last["mmap_bytes"]), int(last["shm_bytes"])) != (3000, 0, 0):
        bad.append(f"csv last row {last}")
    labels = [r["snapshot"] for r in rows if r["snapshot"]]
    if labels != ["start", "table", "peak", "end", "exit"]: bad.append(f"csv snapshots {labels}")
    rss = [int(r["rss_bytes"]) for r in rows if r["rss_bytes"]]
    if len(rss) != 5 or min(rss) < 1 << 20: bad.append(f"csv rss {rss}")
    # At the 'peak' snapshot everything of phases 1-4 is live.
    pk = [r for r in rows if r["snapshot"] == "peak"][0]
    if (int(pk["heap_bytes"]), int(pk["mmap_bytes"]), int(pk["shm_bytes"])) != (2359296, 262144, 196608):
        bad.append(f"csv at 'peak' {pk}")

ns = {"s": "http://www.w3.org/2000/svg"}
root = ET.parse(sys.argv[2]).getroot()
ids = sorted(p.get("id") for p in root.iter("{http://www.w3.org/2000/svg}path") if p.get("class") == "series")
if ids != ["series-heap", "series-mmap", "series-rss", "series-shm"]: bad.append(f"svg series {ids}")
peaks = {c.get("data-series"): int(c.get("data-bytes")) for c in root.iter("{http://www.w3.org/2000/svg}circle") if c.get("class") == "peak"}
if peaks.get("heap") != 2359296 or peaks.get("mmap") != 262144 or peaks.get("shm") != 196608 or "rss" not in peaks:
    bad.append(f"svg peaks {peaks}")
texts = {}
for t in root.iter("{http://www.w3.org/2000/svg}text"):
    texts.setdefault(t.get("class"), []).append("".join(t.itertext()))
if texts.get("snapshot-label") != ["table", "peak", "end"]: bad.append(f"svg labels {texts.get('snapshot-label')}")
if not any("heap peak 2.2 MiB" in x for x in texts.get("peak-label", [])): bad.append(f"svg peak labels {texts.get('peak-label')}")
yt = texts.get("y-tick", [])
if not yt or yt[0] != "0" or not any(y.endswith("MiB") for y in yt): bad.append(f"svg y ticks {yt}")
xt = texts.get("x-tick", [])
if len(xt) < 3 or xt[0] not in ("0", "0.0", "0.00"): bad.append(f"svg x ticks {xt}")
legend = [l.get("data-series") for l in root.iter("{http://www.w3.org/2000/svg}line") if l.get("class") == "legend"]
if legend != ["heap", "mmap", "shm", "rss"]: bad.append(f"svg legend {legend}")
# The heap path reaches the peak's height.
hp = [p for p in root.iter("{http://www.w3.org/2000/svg}path") if p.get("id") == "series-heap"][0]
hc = [c for c in root.iter("{http://www.w3.org/2000/svg}circle") if c.get("data-series") == "heap"][0]
if ("V%s" % hc.get("cy")) not in hp.get("d"): bad.append("heap path does not reach its peak marker")

txt = open(sys.argv[3]).read()
if not re.search(r"^heap +2\.2 MiB +0\.0\d\d s +2\.9 KiB", txt, re.M): bad.append("text: no heap peak line")
if not re.search(r"^shm +192\.0 KiB", txt, re.M): bad.append("text: no shm line")
if "'peak'" not in txt: bad.append("text: no snapshot label")
for b in bad: print("      " + b)
sys.exit(1 if bad else 0)
EOF
	expect_rc 2 "$v" timeline
	expect_rc 2 "$v" timeline "$TMP/no-such-recording"
	expect_rc 2 "$v" timeline "$r" --svg
}

check_flame() {
	local v=$1 rc m
	for m in peak leaked allocated calls; do
		"$v" flame "$TMP/rec-O0" --metric $m >"$TMP/f-O0-$m.txt" 2>"$TMP/f.err"
		rc=$?
		[ $rc = 0 ] || err "flame --metric $m exit $rc: $(head -3 "$TMP/f.err")"
		"$v" flame "$TMP/rec-O2" --metric $m >"$TMP/f-O2-$m.txt" 2>"$TMP/f.err"
		cmp -s "$TMP/f-O0-$m.txt" "$TMP/f-O2-$m.txt" ||
			err "flame --metric $m differs between -O0 and -O2: $(diff "$TMP/f-O0-$m.txt" "$TMP/f-O2-$m.txt" | head -4)"
	done
	"$v" flame "$TMP/rec-mmapO0" --metric peak --category mmap >"$TMP/f-mmap.txt" 2>"$TMP/f.err" ||
		err "flame --category mmap failed"
	"$v" flame "$TMP/rec-O0" --svg "$TMP/f.svg" >"$TMP/f.out" 2>"$TMP/f.err"
	rc=$?
	[ $rc = 0 ] || err "flame --svg exit $rc: $(head -3 "$TMP/f.err")"
	py "$TMP" <<'EOF' || err "flame checks failed (above)"
import re, sys
import xml.etree.ElementTree as ET
d = sys.argv[1]
bad = []
def folded(name):
    out = {}
    for line in open(f"{d}/{name}"):
        m = re.fullmatch(r"([^ ;][^;]*(?:;[^;]+)*) (\d+)\n", line)
        if not m:
            bad.append(f"{name}: not a folded line: {line!r}"); continue
        frames = m.group(1).split(";")
        if "main" not in frames:
            bad.append(f"{name}: no main in {frames}"); continue
        # From main inwards: the part that is ours.
        out[";".join(frames[frames.index("main"):])] = int(m.group(2))
    return out
want = {
 "peak": {"main;big_buffer": 2097152, "main;make_table;table_alloc": 262144,
          "main;scratch_map": 262144, "main;shm_buffers": 196608},
 "leaked": {"main;leak_some": 3000},
 "allocated": {"main;big_buffer": 2097152, "main;make_table;table_alloc": 262144,
               "main;scratch_map": 262144, "main;shm_buffers": 196608,
               "main;leak_some": 3000},
 "calls": {"main;big_buffer": 1, "main;make_table;table_alloc": 4,
           "main;scratch_map": 1, "main;shm_buffers": 2, "main;leak_some": 3},
}
for m, w in want.items():
    got = folded(f"f-O0-{m}.txt")
    if got != w: bad.append(f"--metric {m}: {got} != {w}")
got = folded("f-mmap.txt")
if got != {"main;big_buffer": 2097152, "main;scratch_map": 262144}:
    bad.append(f"--category mmap on the mmap build: {got}")

root = ET.parse(f"{d}/f.svg").getroot()
S = "{http://www.w3.org/2000/svg}"
rects = {}
for g in root.iter(S + "g"):
    if g.get("class") != "frame": continue
    r = g.find(S + "rect")
    title = g.find(S + "title")
    if r is None or title is None or r.get("data-name") not in "".join(title.itertext()):
        bad.append("frame without rect or title"); continue
    rects.setdefault(r.get("data-name"), []).append((int(r.get("data-value")), float(r.get("width")), int(r.get("data-depth"))))
if rects.get("all") != [(2818048, 1180.0, 0)]: bad.append(f"svg root {rects.get('all')}")
if [v for v, _, _ in rects.get("big_buffer", [])] != [2097152]: bad.append(f"svg big_buffer {rects.get('big_buffer')}")
if [v for v, _, _ in rects.get("main", [])] != [2818048]: bad.append(f"svg main {rects.get('main')}")
bb = rects.get("big_buffer", [(0, 0, 0)])[0]
if abs(bb[1] - 1180.0 * 2097152 / 2818048) > 0.05: bad.append(f"svg big_buffer width {bb[1]}")
tt = rects.get("table_alloc", [(0, 0, 0)])[0]
mt = rects.get("make_table", [(0, 0, 9)])[0]
if tt[2] != mt[2] + 1: bad.append("table_alloc is not on top of make_table")
labels = ["".join(t.itertext()) for t in root.iter(S + "text")]
if "big_buffer" not in labels: bad.append("no big_buffer label in the svg")
for b in bad: print("      " + b)
sys.exit(1 if bad else 0)
EOF
	expect_rc 2 "$v" flame "$TMP/rec-O0" --metric bogus
	expect_rc 2 "$v" flame
}

# The per-site accounting adds up to the live state that `vmspy summary`
# reports: on diffbuf, and on examples/counts (mremap in place and moved,
# MAP_FIXED, partial munmap, shm) when `make examples` built it.
check_consistent_with_summary() {
	local v=$1 r
	for r in "$TMP/rec-O0" "$TMP/rec-counts"; do
		[ -d "$r" ] || continue
		"$v" summary "$r" --json >"$TMP/s.json" 2>/dev/null
		"$v" diff "$r" "$r" --json >"$TMP/d.json" 2>/dev/null
		py "$TMP/s.json" "$TMP/d.json" <<'EOF' || err "${r##*/}: diff totals differ from summary (above)"
import json, sys
s = json.load(open(sys.argv[1])); d = json.load(open(sys.argv[2]))
bad = []
for cat in ("heap", "mmap", "shm"):
    if s[f"peak_{cat}_bytes"] != d["totals"][cat]["old"]:
        bad.append(f"{cat} peak: summary {s[f'peak_{cat}_bytes']} diff {d['totals'][cat]['old']}")
    if s[f"{cat}_live_bytes_at_end"] != d["totals"][cat]["at_exit"]["old"]:
        bad.append(f"{cat} at exit: summary {s[f'{cat}_live_bytes_at_end']} diff {d['totals'][cat]['at_exit']['old']}")
if s["total_allocated_bytes"] != d["totals"]["heap"]["allocated"]["old"]:
    bad.append("total_allocated_bytes")
for b in bad: print("      " + b)
sys.exit(1 if bad else 0)
EOF
	done
}

if [ -x "$ROOT/$O/examples/counts" ]; then
	VMSPY_QUIET=1 VMSPY_OUT="$TMP/rec-counts" LD_PRELOAD=$PRELOAD \
		"$ROOT/$O/examples/counts" >/dev/null 2>&1 ||
		echo "diff.sh: examples/counts failed under vmspy; not used"
fi

for v in "$ROOT/$O/vmspy" "$ROOT/$O/vmspy-asan"; do
	tag=${v##*/}
	check_diff_same "$v" O0 O2
	check_diff_same "$v" mmapO0 mmapO2
	report "$tag diff -O0 vs -O2: every total and site unchanged"
	check_diff_moved "$v" O0 mmapO2
	check_diff_moved "$v" O2 mmapO0
	report "$tag diff malloc -> mmap: one site, heap -2 MiB, mmap +2 MiB"
	check_fail_over "$v"
	report "$tag diff --fail-over and exit codes"
	check_timeline "$v"
	report "$tag timeline text, csv and svg"
	check_flame "$v"
	report "$tag flame folded stacks and svg"
	check_consistent_with_summary "$v"
	report "$tag diff totals = summary (diffbuf, counts)"
done

[ "$nfail" = 0 ] || exit 1
exit 0
