# SPDX-License-Identifier: MIT
"""Where vmspy's per-event time goes: a profile of the 1-thread churn
workload under the preload, summarized by shared object and symbol.

perf is used when it can sample (`-e cpu-clock`: a VM often has no
hardware counters, and `perf stat -e instructions` then says "not
supported"); otherwise callgrind on a tenth of the run.  Returns markdown
for RESULTS.md, or None when neither works."""
import json
import os
import re
import shutil
import subprocess

from mdtable import table

# vmspy functions that only run at exit (not per event).
EXIT_ROOTS = ("vms_fini", "vms_leak_scan")


def _run(argv, **kw):
    return subprocess.run(argv, capture_output=True, text=True, **kw)


def perf_usable(tmp):
    if not shutil.which("perf"):
        return False
    data = os.path.join(tmp, "perf.check")
    p = _run(["perf", "record", "-q", "-e", "cpu-clock", "-o", data, "true"])
    ok = p.returncode == 0 and os.path.exists(data)
    if os.path.exists(data):
        os.unlink(data)
    return ok


def hw_counters():
    p = _run(["perf", "stat", "-x,", "-e", "instructions", "true"])
    return "not supported" not in p.stderr and p.returncode == 0


ROW = re.compile(r"^\s*([\d.]+)%\s+([\d.]+%\s+)?(\S+)\s+\[(.)\]\s+(.*?)\s*$")
DSO_ROW = re.compile(r"^\s*([\d.]+)%\s+(\S.*?)\s*$")


def perf_rows(data, sort, children=False, limit="0.3"):
    argv = ["perf", "report", "-i", data, "--stdio", "-g", "none",
            "--sort", sort, "--percent-limit", limit]
    argv.append("--children" if children else "--no-children")
    p = _run(argv)
    rows = []
    for line in p.stdout.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        if sort == "dso":
            m = DSO_ROW.match(line)
            if m:
                rows.append((float(m.group(1)), m.group(2)))
        else:
            m = ROW.match(line)
            if m:
                # with --children the first % is inclusive, the second self
                rows.append((float(m.group(1)), m.group(3), m.group(5)))
    return rows


def merge_stripped(rows):
    """Debian's libunwind has no symbol table: its samples show as raw
    addresses (mostly the x86_64 trace fast path behind unw_backtrace).
    Fold them into one row per object so the table shows functions."""
    merged = {}
    out = []
    for pct, dso, sym in rows:
        if sym.startswith("0x"):
            key = (dso, "(stripped: all addresses)")
            if key not in merged:
                merged[key] = [0.0, dso, key[1]]
                out.append(merged[key])
            merged[key][0] += pct
        else:
            out.append([pct, dso, sym])
    out.sort(key=lambda r: -r[0])
    return [tuple(r) for r in out]


def dso_kind(dso):
    if dso.startswith("libunwind"):
        return "libunwind"
    if dso == "libvmspy.so":
        return "vmspy"
    if dso.startswith("libc.so") or dso.startswith("ld-linux"):
        return "libc + ld.so"
    if dso.startswith("[kernel") or dso == "[vdso]":
        return "kernel + vdso"
    return "app (%s)" % dso


def profile(churn, ops, lib, vmspy, tmp, c1, c2=None):
    """c1, c2: the benchmark's summaries of churn-1t and churn-2t (median
    CPU times and event counts turn sample shares into ns/event)."""
    if perf_usable(tmp):
        return perf_profile(churn, ops, lib, vmspy, tmp, c1, c2)
    if shutil.which("valgrind"):
        return callgrind_profile(churn, str(max(1, int(ops) // 10)), lib, tmp)
    return None


def events_of(vmspy, rec):
    p = _run([vmspy, "summary", rec, "--json"])
    if p.returncode:
        return None
    try:
        return json.loads(p.stdout).get("events")
    except ValueError:
        return None


def perf_record(churn, threads, ops, lib, vmspy, tmp):
    """perf record of `churn THREADS OPS` under the preload; returns the
    perf.data path and the recording's event count, or None."""
    data = os.path.join(tmp, "perf.%dt.data" % threads)
    rec = os.path.join(tmp, "profile.%dt.rec" % threads)
    cmd = ["perf", "record", "-q", "-e", "cpu-clock", "-F", "4000", "-g",
           "-o", data, "--", "env", "LD_PRELOAD=" + lib, "VMSPY_QUIET=1",
           "VMSPY_OUT=" + rec, churn, str(threads), ops]
    p = _run(cmd)
    if p.returncode != 0:
        return None
    events = events_of(vmspy, rec)
    shutil.rmtree(rec, ignore_errors=True)
    return data, events


def per_event(c, events):
    """(ns per 1% of samples, native ns/event) from a benchmark summary:
    the profiled run's own CPU time is not measured, the benchmark's
    median of the same workload is used."""
    ev = (c and c["events"]) or events
    if not (c and ev):
        return None, None
    return c["m"]["vmspy"]["cpu"] * 1e9 / ev / 100, c["m"]["native"]["cpu"] * 1e9 / ev


# vmspy's per-event functions compared between 1 and 2 threads.
HOT = ("vms_record_alloc", "vms_record_free", "vms_intern_stack", "vms_seq_next",
       "stamp_time", "vms_now_coarse_ns", "capture", "vms_stack_capture",
       "malloc", "free", "calloc", "realloc")


def thread_compare(syms1, syms2, k1, k2):
    """Self ns/event of vmspy's hot functions and of libunwind, 1 vs 2
    threads."""
    def table_of(syms, k):
        d = {}
        for pct, dso, sym in syms:
            if dso == "libvmspy.so" and sym in HOT:
                d[sym] = d.get(sym, 0) + pct * k
            elif dso.startswith("libunwind"):
                d["libunwind (all)"] = d.get("libunwind (all)", 0) + pct * k
        return d
    a, b = table_of(syms1, k1), table_of(syms2, k2)
    rows = []
    for sym in sorted(set(a) | set(b), key=lambda x: -(a.get(x, 0))):
        rows.append([sym, "%.1f" % a.get(sym, 0), "%.1f" % b.get(sym, 0)])
    return table(["vmspy hot path (self)", "ns/ev 1 thread", "ns/ev 2 threads"], rows)


def perf_profile(churn, ops, lib, vmspy, tmp, c1, c2):
    r1 = perf_record(churn, 1, ops, lib, vmspy, tmp)
    if not r1:
        return None
    data, events = r1
    k, nat_ns = per_event(c1, events)
    cpu = c1["m"]["vmspy"]["cpu"] if c1 else None
    nat = c1["m"]["native"]["cpu"] if c1 else None
    ev = (c1 and c1["events"]) or events

    dsos = perf_rows(data, "dso")
    kinds = {}
    for pct, dso in dsos:
        kinds[dso_kind(dso)] = kinds.get(dso_kind(dso), 0) + pct
    syms = merge_stripped(perf_rows(data, "dso,sym", limit="0.02"))
    incl = perf_rows(data, "dso,sym", children=True)
    exit_pct = max([pct for pct, dso, sym in incl if sym in EXIT_ROOTS] or [0])

    def ns(pct, spec="%.0f"):
        return spec % (pct * k) if k else "-"

    out = []
    out.append("Command: `perf record -e cpu-clock -F 4000 -g -- env LD_PRELOAD=build/libvmspy.so "
               "VMSPY_QUIET=1 VMSPY_OUT=REC build/bench/churn 1 %s` "
               "(hardware counters: %s, so the software clock samples)."
               % (ops, "available" if hw_counters() else "not supported on this VM"))
    out.append("")
    if k:
        over = (cpu - nat) * 1e9 / ev
        out.append("Per event: vmspy CPU overhead over native = **%.0f ns/event**, "
                   "wall overhead = %.0f ns/event (%s events; medians of the benchmark's churn-1t). "
                   "Of that, the exit-time leak scan is %s ns/event, so the steady-state hot path "
                   "costs about **%s ns/event**."
                   % (over, c1["m"]["vmspy"]["over_wall"] * 1e9 / ev, "{:,}".format(ev),
                      ns(exit_pct), "%.0f" % (over - exit_pct * k)))
        out.append("ns/event below = share of samples × median vmspy CPU time / events; "
                   "`app` and most of `libc` are the program's own work (native CPU = %.0f ns/event)."
                   % nat_ns)
        out.append("")
    rows = [[kind, "%.1f%%" % pct, ns(pct)]
            for kind, pct in sorted(kinds.items(), key=lambda kv: -kv[1])]
    out.append(table(["by shared object (self)", "samples", "ns/event"], rows))
    out.append("")
    if exit_pct:
        out.append("Exit-time work inside vmspy (`vms_fini` → `vms_leak_scan`, inclusive): "
                   "%.1f%% of samples = %s ns/event, spent once at exit (it re-reads the "
                   "whole log), not per event." % (exit_pct, ns(exit_pct)))
        out.append("")
    rows = [[sym[:60], dso, "%.1f%%" % pct, ns(pct, "%.1f")] for pct, dso, sym in syms[:25]]
    out.append(table(["top symbols (self)", "object", "samples", "ns/event"], rows))
    out.append("")
    pick = ("vms_record_alloc", "vms_record_free", "capture", "vms_stack_capture",
            "unw_backtrace", "vms_intern_stack", "stamp_time", "vms_seq_next",
            "vms_fini", "vms_leak_scan", "malloc", "free", "realloc", "calloc")
    rows = []
    seen = set()
    for pct, dso, sym in incl:
        if sym in pick and (dso == "libvmspy.so" or sym == "unw_backtrace"):
            if (dso, sym) in seen:
                continue
            seen.add((dso, sym))
            rows.append([sym, dso, "%.1f%%" % pct, ns(pct)])
    if rows:
        out.append("Inclusive (children) share of a few entry points, from frame-pointer "
                   "call chains (libunwind and libc have no frame pointers, so the share "
                   "of their callers is a lower bound):")
        out.append("")
        out.append(table(["function (inclusive)", "object", "samples", "ns/event"], rows))
        out.append("")
    r2 = perf_record(churn, 2, ops, lib, vmspy, tmp) if c2 else None
    if r2 and k:
        k2, _ = per_event(c2, r2[1])
        syms2 = merge_stripped(perf_rows(r2[0], "dso,sym", limit="0.02"))
        out.append("One thread vs two (`churn 2 %s`, same profile): nothing shared on the hot "
                   "path but the sequence clock cell of the event's 1 MiB address granule "
                   "(`vms_seq_heap`: one compare-and-swap per event, on a cache line that "
                   "threads working in different arenas do not share)." % ops)
        out.append("")
        out.append(thread_compare(syms, syms2, k, k2))
        out.append("")
    return "\n".join(out)


def callgrind_profile(churn, ops, lib, tmp):
    out_file = os.path.join(tmp, "callgrind.out")
    rec = os.path.join(tmp, "profile.rec")
    p = _run(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out_file,
              "env", "LD_PRELOAD=" + lib, "VMSPY_QUIET=1", "VMSPY_OUT=" + rec,
              churn, "1", ops])
    shutil.rmtree(rec, ignore_errors=True)
    if p.returncode != 0 or not os.path.exists(out_file):
        return None
    a = _run(["callgrind_annotate", out_file])
    lines = [l for l in a.stdout.splitlines() if l.strip()][:40]
    return ("Command: `valgrind --tool=callgrind` on `churn 1 %s` under the preload "
            "(perf could not sample here).\n\n```\n%s\n```\n" % (ops, "\n".join(lines)))
