#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Checks `vmspy leaks --json` of examples/leaks against the ground truth at
the top of examples/leaks.c and, when given, valgrind memcheck's log of the
same program.

  check_leaks.py LEAKS_JSON [MEMCHECK_LOG]

Prints one line per problem; exit 1 if there was any.
"""
import json
import re
import sys

TOTALS = {
    "definitely_lost": (1065305, 7),
    "indirectly_lost": (192, 3),
    "possibly_lost": (6666, 1),
}
# function that called the allocator -> (category, bytes, blocks)
SITES = [
    ("leak_malloc", "definitely_lost", 1111, 1),
    ("leak_calloc", "definitely_lost", 2222, 1),
    ("leak_realloc_chain", "definitely_lost", 3333, 1),
    ("leak_posix_memalign", "definitely_lost", 4444, 1),
    ("leak_thread_body", "definitely_lost", 5555, 1),
    ("leak_big", "definitely_lost", 1048576, 1),
    ("leak_list", "definitely_lost", 64, 1),
    ("leak_list", "indirectly_lost", 192, 3),
    ("hold_interior", "possibly_lost", 6666, 1),
    ("hold_reachable", "still_reachable", 7777, 1),
]
MEMCHECK = {
    "definitely lost": "definitely_lost",
    "indirectly lost": "indirectly_lost",
    "possibly lost": "possibly_lost",
    "still reachable": "still_reachable",
}


def main(argv):
    bad = []
    doc = json.load(open(argv[1]))
    for cat, (b, n) in TOTALS.items():
        got = doc.get(cat, {})
        if got.get("bytes") != b or got.get("blocks") != n:
            bad.append("%s: %s, want %d bytes in %d blocks" % (cat, got, b, n))
    sr = doc.get("still_reachable", {})
    if sr.get("bytes", 0) < 7777:
        bad.append("still_reachable: %s, want at least 7777 bytes" % sr)
    if doc.get("unfreed", {}).get("bytes", 0) != 0:
        bad.append("unfreed: %s after a clean exit" % doc.get("unfreed"))
    sites = doc.get("sites", [])
    if [s.get("bytes") for s in sites] != sorted(
            (s.get("bytes") for s in sites), reverse=True):
        bad.append("sites are not sorted by bytes, descending")
    for fn, cat, b, n in SITES:
        hit = [s for s in sites if s.get("category") == cat and
               s.get("frames") and s["frames"][0].get("function") == fn]
        if not hit:
            bad.append("no %s site with frame 0 in %s" % (cat, fn))
        elif sum(s["bytes"] for s in hit) != b or \
                sum(s["blocks"] for s in hit) != n:
            bad.append("%s %s: %d bytes in %d blocks, want %d in %d" % (
                fn, cat, sum(s["bytes"] for s in hit),
                sum(s["blocks"] for s in hit), b, n))
        elif not any(str(s["frames"][0].get("file", "")).endswith("leaks.c")
                     and s["frames"][0].get("line") for s in hit):
            bad.append("%s: frame 0 has no leaks.c:line" % fn)
    if len(argv) > 2:
        text = open(argv[2]).read()
        for label, cat in MEMCHECK.items():
            m = re.search(label + r": ([\d,]+) bytes in ([\d,]+) blocks", text)
            if not m:
                bad.append("memcheck log has no '%s' total" % label)
                continue
            b, n = (int(x.replace(",", "")) for x in m.groups())
            got = doc.get(cat, {})
            if cat == "still_reachable":
                ok = got.get("bytes", 0) >= b
            else:
                ok = got.get("bytes") == b and got.get("blocks") == n
            if not ok:
                bad.append("%s: vmspy %s, memcheck %d bytes in %d blocks" %
                           (cat, got, b, n))
    return bad


if __name__ == "__main__":
    problems = main(sys.argv)
    for p in problems:
        print("    " + p)
    sys.exit(1 if problems else 0)
