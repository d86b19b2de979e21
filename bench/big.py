# SPDX-License-Identifier: MIT
"""The issue-6 scale case: a recording of about 10^8 events (churn, one
thread, 5*10^7 operations: each a free and an allocation) analysed by
`vmspy summary` and `vmspy leaks`, with their wall time and peak RSS (target:
under 1 GiB).  Run by bench/run.sh after bench.py (BENCH_BIG=0 skips it);
appends its section to the report bench.py wrote.

Environment: BENCH_BIG_OPS (default 50000000), BENCH_TMP, BENCH_KEEP,
BENCH_RESULTS, as in bench.py."""
import json
import os
import shutil
import sys
import tempfile

import measure
from mdtable import table

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
BUILD = os.path.join(ROOT, "build")
VMSPY = os.path.join(BUILD, "vmspy")
LIB = os.path.join(BUILD, "libvmspy.so")
CHURN = os.path.join(BUILD, "bench", "churn")
GIB = 1 << 30


def du_bytes(path):
    """Bytes allocated on disk under path (holes and reserved-but-unused
    tails that were punched do not count)."""
    total = 0
    for name in os.listdir(path):
        st = os.stat(os.path.join(path, name))
        total += st.st_blocks * 512
    return total


def main():
    ops = os.environ.get("BENCH_BIG_OPS", "") or "50000000"
    results = os.environ.get("BENCH_RESULTS",
                             os.path.join(BENCH, "RESULTS.md"))
    base = os.environ.get("BENCH_TMP") or None
    tmp = tempfile.mkdtemp(prefix="vmspy-bench-big.", dir=base)
    try:
        rec = os.path.join(tmp, "big.rec")
        env = dict(os.environ, LD_PRELOAD=LIB, VMSPY_OUT=rec, VMSPY_QUIET="1")
        print("bench: big: recording churn 1 %s under vmspy" % ops, flush=True)
        r = measure.run([CHURN, "1", ops], env=env)
        if r.crashed():
            print("bench: big: churn failed (%d): %s" %
                  (r.rc, r.err.decode(errors="replace")[-300:]),
                  file=sys.stderr)
            return 1
        disk = du_bytes(rec)
        rows = []
        events = None
        for cmd in (["summary", "--json"], ["leaks", "--json"]):
            a = measure.run([VMSPY] + cmd + [rec], env=dict(os.environ))
            if a.rc not in (0, 1):
                print("bench: big: vmspy %s failed (%d): %s" %
                      (cmd[0], a.rc, a.err.decode(errors="replace")[-300:]),
                      file=sys.stderr)
                return 1
            if cmd[0] == "summary":
                try:
                    events = json.loads(a.out)["events"]
                except (ValueError, KeyError, TypeError):
                    events = None
            rows.append(["vmspy " + cmd[0], "%.2f" % a.wall,
                         "%.1f MiB" % (a.rss_tree_kb / 1024.0),
                         "yes" if a.rss_tree_kb * 1024 < GIB else "NO"])
        lines = [
            "",
            "## Scale: about 10^8 events",
            "",
            "Command: `churn 1 %s` under vmspy (one run): %s events, "
            "recorded in %.1f s CPU (%.1f s wall); the recording takes "
            "%.1f MiB on disk after exit.  Analyzer wall time and peak RSS "
            "(wait4's ru_maxrss) on it; target: under 1 GiB." %
            (ops, "{:,}".format(events) if events else "?", r.cpu, r.wall,
             disk / 1048576.0),
            "",
            table(["analyzer", "wall s", "peak RSS", "< 1 GiB"], rows),
            "",
        ]
        with open(results, "a") as f:
            f.write("\n".join(lines))
        print("\n".join(lines))
        return 0
    finally:
        if os.environ.get("BENCH_KEEP") == "1":
            print("bench: big: kept %s" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
