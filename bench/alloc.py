# SPDX-License-Identifier: MIT
"""Allocation-heavy Python workload for the benchmark (run by bench.py).

Builds and drops many containers and strings, the way a log-processing or
data-munging script does: records as dicts, lists that grow, string
formatting and joins, JSON round trips, sorting.  Objects of 512 bytes and
less come from CPython's own pymalloc arenas; growing lists, dicts, big
strings and arenas themselves go to malloc/realloc/free.  Deterministic
(run with PYTHONHASHSEED=0); prints one checksum line.
"""
import json
import sys
import zlib


def records(n, seed):
    x = seed
    out = []
    for i in range(n):
        x = (x * 6364136223846793005 + 1442695040888963407) & (2**64 - 1)
        out.append({
            "id": i,
            "user": "user%05d" % (x % 50000),
            "path": "/api/v1/" + "/".join("p%d" % ((x >> k) & 31) for k in range(0, 20, 5)),
            "ms": (x >> 20) % 1000,
            "tags": ["t%d" % ((x >> k) & 7) for k in range(0, (x >> 40) % 6)],
        })
    return out


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 12
    crc = 0
    for r in range(rounds):
        recs = records(6000, r + 1)
        by_user = {}
        for rec in recs:
            by_user.setdefault(rec["user"], []).append(rec)
        blob = json.dumps(recs)
        back = json.loads(blob)
        lines = ["%s %s %d %s" % (b["user"], b["path"], b["ms"], ",".join(b["tags"]))
                 for b in back]
        text = "\n".join(sorted(lines))
        crc = zlib.crc32(text.encode(), crc)
        crc = zlib.crc32(str(sorted((len(v), k) for k, v in by_user.items())[-10:]).encode(), crc)
        big = [bytes(1000 + (i * 37) % 30000) for i in range(300)]
        crc = zlib.crc32(b"".join(big[::7]), crc)
    print("python rounds=%d crc=%08x" % (rounds, crc))


if __name__ == "__main__":
    main()
