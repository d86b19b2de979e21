#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Checks `vmspy maps REC --label all-regions --json` of examples/regions
against the ground truth at the top of examples/regions.c (issue 4).

  check_regions.py MAPS_JSON

Prints one line per problem; exit 1 if there was any.
"""
import json
import sys

KIB = 1024
MIB = 1024 * KIB
PAGE = 4096


def fn0(r):
    f = r.get("frames") or []
    return f[0].get("function") if f else None


def main(path):
    bad = []
    doc = json.load(open(path))
    regions = doc.get("regions", [])
    if doc.get("unattributed_bytes") != 0:
        bad.append("unattributed_bytes %s, want 0: %s" % (
            doc.get("unattributed_bytes"),
            [(hex(r["start"]), r.get("unattributed_reason"))
             for r in regions if r.get("kind") == "unattributed"][:5]))
    for r in regions:
        for k in ("start", "end", "perms", "size", "rss", "kind", "name"):
            if k not in r:
                bad.append("region without '%s': %s" % (k, r))
                return bad
        if r["end"] - r["start"] != r["size"]:
            bad.append("region %#x: size %d != end - start" % (r["start"],
                                                              r["size"]))

    def want(desc, pred, count=1, at_least=False):
        hit = [r for r in regions if pred(r)]
        if (len(hit) < count) if at_least else (len(hit) != count):
            bad.append("want %s%d region(s) of %s, found %d" % (
                ">= " if at_least else "", count, desc, len(hit)))
        return hit

    want("kind mmap, 2 MiB, from map_anon", lambda r: r["kind"] == "mmap"
         and r["size"] == 2 * MIB and fn0(r) == "map_anon")
    want("kind file 'vmspy-regions-*', 64 KiB, from map_file",
         lambda r: r["kind"] == "file" and "vmspy-regions-" in r["name"]
         and r["size"] == 64 * KIB and fn0(r) == "map_file")
    fx = want("map_fixed_over's rw | r | rw", lambda r: r["kind"] == "mmap"
              and fn0(r) == "map_fixed_over", 3)
    if len(fx) == 3 and [r["perms"][:3] for r in
                         sorted(fx, key=lambda r: r["start"])] != \
            ["rw-", "r--", "rw-"]:
        bad.append("map_fixed_over permissions: %s" % [r["perms"] for r in fx])
    want("map_split's two 3-page halves", lambda r: r["kind"] == "mmap" and
         fn0(r) == "map_split" and r["size"] == 3 * PAGE, 2)
    want("the 16-page region moved by mremap", lambda r: r["kind"] == "mmap"
         and fn0(r) == "map_moved" and r["size"] == 16 * PAGE)
    want("kind heap", lambda r: r["kind"] == "heap", 1, True)
    want("kind shm-posix '/vmspy-regions-<pid>', 128 KiB",
         lambda r: r["kind"] == "shm-posix" and "vmspy-regions-" in r["name"]
         and r["size"] == 128 * KIB)
    want("kind shm-sysv, 256 KiB", lambda r: r["kind"] == "shm-sysv" and
         r["size"] == 256 * KIB)
    huge = want("the MADV_HUGEPAGE region from map_huge",
                lambda r: r["kind"] == "mmap" and fn0(r) == "map_huge" and
                r.get("madvise"), 1, True)
    if huge and "hg" not in " ".join(str(r.get("vm_flags")) for r in huge):
        bad.append("map_huge region has no 'hg' in vm_flags")
    want("thread stacks (2 live threads, 1 cached)",
         lambda r: r["kind"] == "thread-stack", 3, True)
    want("a malloc arena", lambda r: r["kind"] == "malloc-arena", 1, True)
    want("libz.so.1 module regions", lambda r: r["kind"] == "module" and
         "libz.so" in r["name"], 2, True)
    want("the 5 MiB malloc-mmap block from big_malloc",
         lambda r: r["kind"] == "malloc-mmap" and r["size"] >= 5 * MIB and
         r["size"] < 5 * MIB + 2 * PAGE)
    for k in ("stack", "vdso"):
        want("kind " + k, lambda r, k=k: r["kind"] == k)
    totals = doc.get("totals")
    if not isinstance(totals, dict) or not totals:
        bad.append("no totals by kind")
    return bad


if __name__ == "__main__":
    problems = main(sys.argv[1])
    for p in problems:
        print("    " + p)
    sys.exit(1 if problems else 0)
