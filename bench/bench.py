# SPDX-License-Identifier: MIT
"""vmspy side-by-side benchmark: native vs vmspy (full and sampled) vs
heaptrack (issue 6).

Run through bench/run.sh (`make bench`), which builds the workloads first.
Environment:
  BENCH_ROUNDS     rounds per workload and mode (default 5)
  BENCH_AN_ROUNDS  rounds per analyzer (default 3)
  BENCH_ONLY       comma-separated workload names (default: all)
  BENCH_SCALE      multiplies each workload's size (default 1; 0.1 = quick)
  BENCH_TMP        scratch directory (default: a new one under /tmp)
  BENCH_KEEP       1 = keep the scratch directory
  BENCH_PROFILE    0 = skip the perf/callgrind profile
  BENCH_RESULTS    where to write the report (default bench/RESULTS.md)
  BENCH_SAMPLE_BYTES  VMSPY_SAMPLE_BYTES of the vmspy-sampled mode (default 524288)

For each workload the four modes (native, vmspy, vmspy-sampled with
VMSPY_SAMPLE_BYTES=BENCH_SAMPLE_BYTES, heaptrack) run alternately (the order
rotates every round), BENCH_ROUNDS times, and the report gives medians.  CPU time is
user + sys of the whole process tree (heaptrack runs an interpreter and a
compressor beside the app).  The benchmark never fails because the machine
is slow: it exits 1 only when a program crashed or its output differed
between the modes.
"""
import datetime
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

import hotpath
import measure
import recsize
from mdtable import table

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
BUILD = os.path.join(ROOT, "build")
BB = os.path.join(BUILD, "bench")
VMSPY = os.path.join(BUILD, "vmspy")
LIBVMSPY = os.path.join(BUILD, "libvmspy.so")
PROBE = os.path.join(BB, "librssprobe.so")
MODES = ("native", "vmspy", "vmspy-sampled", "heaptrack")
MIN_EVENTS = 100000  # fewer: no ns/event figure (fixed costs dominate)

problems = []  # crashes and output mismatches: the exit status


def env_int(name, default):
    v = os.environ.get(name, "")
    try:
        return int(v) if v else default
    except ValueError:
        print("bench: %s=%r is not a number, using %d" % (name, v, default),
              file=sys.stderr)
        return default


SCALE = float(os.environ.get("BENCH_SCALE", "1") or 1)
SAMPLE_BYTES = env_int("BENCH_SAMPLE_BYTES", 524288)


def scaled(n):
    return str(max(1, int(n * SCALE)))


class Workload:
    def __init__(self, name, argv, what, env=None, out_file=None,
                 needs=None, prepare=None):
        self.name = name
        self.argv = argv
        self.what = what
        self.env = env or {}
        self.out_file = out_file  # output to compare, besides stdout
        self.needs = needs        # an executable that must exist
        self.prepare = prepare    # called once before the first run


def workloads(tmp):
    py = "/usr/bin/python3"
    xz_in = os.path.join(tmp, "xz-input")

    def make_xz_input():
        subprocess.run([py, os.path.join(BENCH, "gendata.py"), xz_in,
                        scaled(6)], check=True)

    return [
        Workload("churn-1t", [os.path.join(BB, "churn"), "1", scaled(3e6)],
                 "malloc/free churn, mixed sizes, 1 thread"),
        Workload("churn-2t", [os.path.join(BB, "churn"), "2", scaled(3e6)],
                 "the same in 2 threads (ops per thread)"),
        Workload("deep40", [os.path.join(BB, "deep"), scaled(2e5)],
                 "allocations under 40 distinct noinline frames"),
        Workload("realloc", [os.path.join(BB, "realloc"), scaled(4000)],
                 "realloc growth (vectors, string builders)"),
        Workload("mmap", [os.path.join(BB, "mmapchurn"), scaled(25000)],
                 "mmap/munmap/mremap/mprotect churn"),
        Workload("python3", [py, os.path.join(BENCH, "alloc.py"), scaled(6)],
                 "python3 dict/list/json/str script",
                 env={"PYTHONHASHSEED": "0"}, needs=py),
        Workload("sqlite3", ["/usr/bin/sqlite3", ":memory:",
                             ".read " + os.path.join(BENCH, "sqlite.sql")],
                 "sqlite3 in-memory inserts, indexes, joins",
                 needs="/usr/bin/sqlite3"),
        Workload("xz-T2", ["/usr/bin/xz", "-T2", "-2", "--block-size=2MiB",
                           "-k", "-f", xz_in],
                 "xz -T2 compressing %s MiB of text" % scaled(6),
                 out_file=xz_in + ".xz", needs="/usr/bin/xz",
                 prepare=make_xz_input),
    ]


# ---- running one workload ------------------------------------------------

HEAPTRACK_HEAD = ("heaptrack output will be written to",
                  "starting application, this might take some time")


def strip_heaptrack(out):
    """The app's stdout from a heaptrack run: heaptrack's script prints
    three lines before the app starts and a few after it ends."""
    keep = []
    for i, line in enumerate(out.splitlines(keepends=True)):
        s = line.decode("utf-8", "replace").rstrip("\n")
        if s.startswith("Heaptrack finished!"):
            break
        if i < 3 and (s.startswith(HEAPTRACK_HEAD) or
                      s.endswith("libheaptrack_preload.so")):
            continue
        keep.append(line)
    return b"".join(keep)


def file_digest(path):
    import hashlib
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()


def run_mode(w, mode, tmp, tag):
    """One run of workload w in mode; returns (Result, artifact path)."""
    env = dict(os.environ)
    env.update(w.env)
    env["LD_PRELOAD"] = PROBE
    argv = list(w.argv)
    art = None
    if mode in ("vmspy", "vmspy-sampled"):
        art = os.path.join(tmp, "%s.%s.%s" % (mode, w.name, tag))
        env["LD_PRELOAD"] = LIBVMSPY + ":" + PROBE
        env["VMSPY_QUIET"] = "1"
        env["VMSPY_OUT"] = art
        if mode == "vmspy-sampled":
            env["VMSPY_SAMPLE_BYTES"] = str(SAMPLE_BYTES)
    elif mode == "heaptrack":
        base = os.path.join(tmp, "heaptrack.%s.%s" % (w.name, tag))
        art = base + ".zst"
        argv = ["heaptrack", "-o", base] + argv
    r = measure.run(argv, env=env, rss_exe=w.argv[0])
    if mode == "heaptrack":
        r.out = strip_heaptrack(r.out)
    if w.out_file:
        r.out += b"\nout_file " + (file_digest(w.out_file).encode()
                                   if os.path.exists(w.out_file) else b"-")
        if os.path.exists(w.out_file):
            os.unlink(w.out_file)
    return r, art


def remove(path):
    if not path:
        return
    for d in recsize.recording_dirs(path) if os.path.isdir(path) else [path]:
        if os.path.isdir(d):
            shutil.rmtree(d, ignore_errors=True)
        elif os.path.exists(d):
            os.unlink(d)


def problem(msg, r=None):
    problems.append(msg)
    print("bench: PROBLEM: " + msg, file=sys.stderr)
    if r is not None and r.err:
        tail = r.err.decode("utf-8", "replace").strip().splitlines()[-5:]
        for line in tail:
            print("    " + line, file=sys.stderr)


def bench_workload(w, tmp, rounds):
    """Runs all rounds; returns per-mode lists of Results and the artifacts
    (vmspy recording, heaptrack file) of the last round."""
    if w.prepare:
        w.prepare()
    res = {m: [] for m in MODES}
    last = {}
    ref = None
    for rnd in range(rounds):
        k = rnd % len(MODES)
        order = MODES[k:] + MODES[:k]
        for mode in order:
            r, art = run_mode(w, mode, tmp, str(rnd))
            res[mode].append(r)
            if r.crashed():
                problem("%s under %s exited with %s" % (w.name, mode, r.rc), r)
            elif ref is None and mode == "native":
                ref = r.out
            if last.get(mode):
                remove(last[mode])
            last[mode] = art
            sys.stderr.write("  %-9s round %d %-13s %7.3f s wall %7.3f s cpu\n"
                             % (w.name, rnd + 1, mode, r.wall, r.cpu))
    # Compare every successful run's output with native's.
    for mode in MODES:
        for r in res[mode]:
            if ref is not None and not r.crashed() and r.out != ref:
                problem("%s: output under %s differs from native:\n  native: %r\n  %s: %r"
                        % (w.name, mode, ref[:200], mode, r.out[:200]))
                break
    return res, last


# ---- recordings and analyzers ------------------------------------------

def summary_json(rec):
    p = subprocess.run([VMSPY, "summary", rec, "--json"],
                       capture_output=True)
    if p.returncode != 0:
        return None
    try:
        return json.loads(p.stdout)
    except ValueError:
        return None


def heaptrack_calls(ht_file):
    """heaptrack_print's count of allocation calls (fallback event count)."""
    p = subprocess.run(["heaptrack_print", "-f", ht_file, "--print-peaks=0",
                        "--print-allocators=0", "--print-temporary=0",
                        "--print-leaks=0"], capture_output=True)
    for line in p.stdout.decode("utf-8", "replace").splitlines():
        if line.startswith("calls to allocation functions:"):
            return int(line.split(":")[1].split()[0])
    return None


def vmspy_has(cmd):
    p = subprocess.run([VMSPY, "help"], capture_output=True)
    text = (p.stdout + p.stderr).decode("utf-8", "replace")
    return any(line.split()[:1] == [cmd] for line in text.splitlines())


def bench_analyzers(w, rec, ht_file, rounds, leaks):
    """Times vmspy summary (and leaks) against heaptrack_print on the same
    run's recordings, alternating.  Returns {tool: [Result]}."""
    tools = [("summary", [VMSPY, "summary", rec], (0, 1))]
    if leaks:
        tools.append(("leaks", [VMSPY, "leaks", rec], (0, 1)))
    tools.append(("heaptrack_print", ["heaptrack_print", ht_file], (0,)))
    out = {name: [] for name, _, _ in tools}
    for rnd in range(rounds):
        for name, argv, ok in tools[rnd % len(tools):] + tools[:rnd % len(tools)]:
            env = dict(os.environ, LD_PRELOAD=PROBE)
            r = measure.run(argv, env=env, stdout_path=os.devnull,
                            rss_exe=shutil.which(argv[0]))
            if r.crashed(ok):
                problem("%s: `%s` exited with %s" % (w.name, " ".join(argv), r.rc), r)
            out[name].append(r)
            sys.stderr.write("  %-9s analyzer %-16s %7.3f s %8.1f MiB\n"
                             % (w.name, name, r.wall, r.rss_kb / 1024))
    return out


# ---- report --------------------------------------------------------------

def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt_s(x):
    return "-" if x is None else "%.3f" % x


def fmt_x(x):
    return "-" if x is None else "%.1f×" % x


def fmt_b(n):
    if n is None:
        return "-"
    for unit, k in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= k:
            return "%.1f %s" % (n / k, unit)
    return "%d B" % n


def fmt_count(n):
    if not n:
        return "-"
    if n >= 1e6:
        return "%.2fM" % (n / 1e6)
    if n >= 1e3:
        return "%.1fk" % (n / 1e3)
    return str(n)


def fmt_f(x, spec="%.1f"):
    return "-" if x is None else spec % x


def summarize(w, res, sizes, events, ht_size, an, sampled=None):
    m = {mode: {"wall": med(r.wall for r in res[mode]),
                "cpu": med(r.cpu for r in res[mode]),
                "rss": med(r.rss_kb for r in res[mode])} for mode in MODES}
    s = {"name": w.name, "what": w.what, "m": m, "events": events,
         "sizes": sizes, "ht_size": ht_size, "an": an,
         "sampled": sampled or {}}
    nat = m["native"]
    for mode in ("vmspy", "vmspy-sampled", "heaptrack"):
        mm = m[mode]
        mm["wall_x"] = mm["wall"] / nat["wall"] if nat["wall"] else None
        mm["cpu_x"] = mm["cpu"] / nat["cpu"] if nat["cpu"] else None
        mm["over_cpu"] = mm["cpu"] - nat["cpu"]
        mm["over_wall"] = mm["wall"] - nat["wall"]
        # Below MIN_EVENTS the fixed start-up and exit costs (heaptrack's
        # script and interpreter, vmspy's snapshots) dominate: no per-event
        # figure.
        big = events and events >= MIN_EVENTS
        mm["ns_ev"] = (mm["over_cpu"] * 1e9 / events) if big else None
        mm["ns_ev_wall"] = (mm["over_wall"] * 1e9 / events) if big else None
    ho = m["heaptrack"]["over_cpu"]
    s["frac"] = m["vmspy"]["over_cpu"] / ho if ho and ho > 0 else None
    return s


def report(summ, machine, cmdline, prof, leaks):
    out = []
    rows = []
    for s in summ:
        m = s["m"]
        rows.append([s["name"],
                     fmt_s(m["native"]["wall"]), fmt_s(m["vmspy"]["wall"]),
                     fmt_x(m["vmspy"]["wall_x"]),
                     fmt_s(m["vmspy-sampled"]["wall"]), fmt_x(m["vmspy-sampled"]["wall_x"]),
                     fmt_s(m["heaptrack"]["wall"]),
                     fmt_x(m["heaptrack"]["wall_x"]),
                     fmt_s(m["native"]["cpu"]), fmt_s(m["vmspy"]["cpu"]),
                     fmt_x(m["vmspy"]["cpu_x"]),
                     fmt_s(m["vmspy-sampled"]["cpu"]), fmt_x(m["vmspy-sampled"]["cpu_x"]),
                     fmt_s(m["heaptrack"]["cpu"]),
                     fmt_x(m["heaptrack"]["cpu_x"]),
                     fmt_f(s["frac"], "%.2f"),
                     fmt_count(s["events"]),
                     fmt_f(m["vmspy"]["ns_ev"], "%.0f"),
                     fmt_f(m["heaptrack"]["ns_ev"], "%.0f")])
    out.append("### Recording: time (medians, seconds)\n")
    out.append(table(["workload", "native wall", "vmspy wall", "×", "sampled wall", "×",
                      "heaptrack wall", "×",
                      "native CPU", "vmspy CPU", "×", "sampled CPU", "×", "heaptrack CPU", "×",
                      "vmspy/ht overhead", "events", "vmspy ns/ev", "ht ns/ev"], rows))
    out.append("\nCPU = user + sys of the whole process tree.  `vmspy` = full recording "
               "(every event, full stacks); `sampled` = vmspy with VMSPY_SAMPLE_BYTES=%d "
               "(see \"Sampling mode\" below).  "
               "`vmspy/ht overhead` (full mode) = (vmspy CPU − native CPU) / (heaptrack CPU − native CPU); "
               "target ≤ 0.33.  `ns/ev` = CPU overhead over native per recorded event "
               "(events from `vmspy summary --json`; not shown under 100k events, where "
               "fixed start-up/exit costs dominate).  The cores are shared with other "
               "work: wall times are noisy, CPU times are the figure to judge by.\n"
               % SAMPLE_BYTES)
    rows = []
    for s in summ:
        m, z, ev = s["m"], s["sizes"] or {}, s["events"]
        def per(n):
            return "-" if not (n and ev) else "%.1f" % (n / ev)
        rows.append([s["name"],
                     fmt_b(m["native"]["rss"] and m["native"]["rss"] * 1024),
                     fmt_b(m["vmspy"]["rss"] and m["vmspy"]["rss"] * 1024),
                     fmt_b(m["heaptrack"]["rss"] and m["heaptrack"]["rss"] * 1024),
                     fmt_b(z.get("apparent")), fmt_b(z.get("disk")),
                     per(z.get("disk")), fmt_b(z.get("used")),
                     fmt_b(z.get("zstd")), per(z.get("zstd")),
                     fmt_b(s["ht_size"]), per(s["ht_size"]),
                     fmt_f(z.get("zstd") / s["ht_size"] if z.get("zstd") and s["ht_size"] else None, "%.2f")])
    out.append("### Memory and recording size (last round)\n")
    out.append(table(["workload", "RSS native", "RSS vmspy", "RSS heaptrack",
                      "rec apparent", "rec on disk", "B/ev", "rec used", "rec zstd -3",
                      "B/ev", "heaptrack .zst", "B/ev", "zstd/ht"], rows))
    out.append("\nRSS = peak RSS (VmHWM) of the application process itself "
               "(an LD_PRELOAD probe reports it at exit, in every mode; under vmspy it "
               "includes the log pages the exit-time leak scan maps).  "
               "`rec on disk` = the recording's allocated blocks after the app exited "
               "(`du`: holes excluded, so sealed chunks the recorder compressed into "
               "log.<n>.z count by their compressed frames; the reserved zero tail of each "
               "log's last chunk counts); its `B/ev` is per recorded event; "
               "`rec apparent` = file sizes (holes included).  "
               "`rec used` = data bytes up to the last record of each log, holes excluded, "
               "plus meta/snapshots/sidecars; `rec zstd -3` = those bytes compressed with "
               "zstd -3, the level heaptrack uses.  Target: vmspy's recording on disk ≤ "
               "heaptrack's .zst.\n")
    rows = []
    for s in summ:
        an = s["an"]
        if not an:
            continue
        def cell(tool, key):
            rs = an.get(tool)
            if not rs:
                return None
            return med(getattr(r, key) for r in rs)
        hp_t = cell("heaptrack_print", "wall")
        row = [s["name"]]
        tools = ["summary"] + (["leaks"] if leaks else [])
        for t in tools:
            tt = cell(t, "wall")
            row += [fmt_s(tt), fmt_b(cell(t, "rss_kb") and cell(t, "rss_kb") * 1024),
                    fmt_x(hp_t / tt if hp_t and tt else None)]
        row += [fmt_s(hp_t), fmt_b(cell("heaptrack_print", "rss_kb") and
                                  cell("heaptrack_print", "rss_kb") * 1024)]
        rows.append(row)
    hdr = ["workload", "summary s", "summary RSS", "ht_print/summary"]
    if leaks:
        hdr += ["leaks s", "leaks RSS", "ht_print/leaks"]
    hdr += ["heaptrack_print s", "heaptrack_print RSS"]
    out.append("### Analyzer on the same run (medians, wall seconds, peak RSS)\n")
    out.append(table(hdr, rows))
    out.append("\n`ht_print/summary` = how many times faster `vmspy summary` is "
               "than `heaptrack_print FILE.zst` (target ≥ 5×).  RSS = VmHWM of the "
               "analyzer process; it counts the file pages of any recording it maps.%s\n"
               % ("" if leaks else "  `vmspy leaks` is not in `vmspy help` yet: not measured."))
    out.append(sampling_section(summ))
    tables = "\n".join(out)

    doc = ["# vmspy benchmark results", "",
           "Written by `bench/run.sh` (`make bench`); do not edit by hand.", "",
           "- command: `%s`" % cmdline,
           "- date: %s" % machine["date"],
           "- machine: %s" % machine["cpu"],
           "- kernel: %s; %s; %s" % (machine["kernel"], machine["libc"], machine["heaptrack"]),
           "- vmspy: %s" % machine["vmspy"],
           "- rounds: %d per mode, alternating native / vmspy / vmspy-sampled / heaptrack (order rotated each round); analyzer rounds: %d" % (machine["rounds"], machine["an_rounds"]),
           "- scratch filesystem: %s" % machine["fs"], "",
           "## Workloads", ""]
    for s in summ:
        doc.append("- **%s**: %s" % (s["name"], s["what"]))
    doc += ["", "## Issue 6 targets: met or not (this run)", "", verdicts(summ), "",
            "## Results", "", tables, ""]
    if prof:
        doc += ["## Where vmspy's time goes (churn-1t)", "", prof, ""]
    if problems:
        doc += ["## Problems", ""] + ["- " + p.replace("\n", " ") for p in problems] + [""]
    doc += ["## Machine", "", "```", machine["lscpu"].strip(), "```", ""]
    return tables, "\n".join(doc)


def sampling_section(summ):
    out = ["### Sampling mode (VMSPY_SAMPLE_BYTES=%d)\n" % SAMPLE_BYTES]
    rows = []
    for s in summ:
        m, sm = s["m"], s["m"]["vmspy-sampled"]
        sp = s["sampled"]
        z = sp.get("sizes") or {}
        rows.append([s["name"], fmt_s(m["native"]["cpu"]), fmt_s(sm["cpu"]),
                     fmt_x2(sm["cpu_x"]), fmt_s(m["native"]["wall"]),
                     fmt_s(sm["wall"]), fmt_x2(sm["wall_x"]),
                     fmt_f(sm["ns_ev"], "%.0f"),
                     fmt_count(s["events"]), fmt_count(sp.get("events")),
                     fmt_b(z.get("used")),
                     fmt_b(sm["rss"] and sm["rss"] * 1024)])
    out.append(table(["workload", "native CPU", "sampled CPU", "×", "native wall",
                      "sampled wall", "×", "ns/app event", "app events",
                      "recorded", "rec used", "RSS sampled"], rows))
    churn = [s for s in summ if s["name"] in ("churn-1t", "churn-2t")]
    got = ", ".join("%s %s CPU (%s wall)" % (s["name"],
                                             fmt_x2(s["m"]["vmspy-sampled"]["cpu_x"]),
                                             fmt_x2(s["m"]["vmspy-sampled"]["wall_x"]))
                    for s in churn) or "churn not run"
    ok = churn and all(s["m"]["vmspy-sampled"]["cpu_x"] is not None and
                       s["m"]["vmspy-sampled"]["cpu_x"] <= 1.2 for s in churn)
    out.append("\nThe same runs as above, rotated with the other modes: the app "
               "under the preload with `VMSPY_SAMPLE_BYTES=%d VMSPY_QUIET=1`, which "
               "records on average one allocation per %s allocated (Poisson), with its "
               "stack; the exit-time leak scan is off in this mode.  `ns/app event` = CPU "
               "overhead over native divided by all the app's events (from the full-mode "
               "recording), `recorded` = events in the sampled recording (`vmspy summary "
               "--json`, last round).  Issue 6 target: at most 1.2× native CPU on the churn "
               "workload.  This run: %s: **%s**.\n"
               % (SAMPLE_BYTES, fmt_b(SAMPLE_BYTES), got, "met" if ok else "not met"))
    worse = [s for s in summ if s["m"]["vmspy-sampled"]["cpu_x"] and s["m"]["vmspy"]["cpu_x"]
             and s["m"]["vmspy-sampled"]["cpu_x"] > s["m"]["vmspy"]["cpu_x"]]
    if worse:
        out.append("Sampling costs more than full recording on: %s."
                   % "; ".join("%s (sampled %s vs full %s native CPU, %s of %s events recorded)"
                               % (s["name"], fmt_x2(s["m"]["vmspy-sampled"]["cpu_x"]),
                                  fmt_x2(s["m"]["vmspy"]["cpu_x"]),
                                  fmt_count(s["sampled"].get("events")),
                                  fmt_count(s["events"]))
                               for s in worse))
    return "\n".join(out)


def fmt_x2(x):
    return "-" if x is None else "%.2f×" % x


def verdicts(summ):
    """Issue 6's targets, each judged from this run's numbers."""
    by = {s["name"]: s for s in summ}
    c1, c2 = by.get("churn-1t"), by.get("churn-2t")
    lines = []

    def say(ok, text):
        tag = "n/a" if ok is None else ("MET" if ok else "NOT MET")
        lines.append("- **%s** — %s" % (tag, text))

    # 1. overhead <= 1/3 of heaptrack's, churn 1 and 2 threads
    churn = [c for c in (c1, c2) if c]
    if churn:
        fr = [(c["name"], c["frac"]) for c in churn]
        ok = all(f is not None and f <= 1 / 3 for _, f in fr)
        say(ok, "recording CPU overhead ≤ 1/3 of heaptrack's on churn (1 and 2 threads, "
            "full mode): " + ", ".join("%s %s (vmspy %s vs heaptrack %s native CPU)"
                                       % (n, fmt_f(f, "%.2f"),
                                          fmt_x(by[n]["m"]["vmspy"]["cpu_x"]),
                                          fmt_x(by[n]["m"]["heaptrack"]["cpu_x"]))
                                       for n, f in fr) + "; target ≤ 0.33.")
    else:
        say(None, "overhead vs heaptrack: churn not run.")
    # 2. two threads cost no more per event than one
    if c1 and c2 and c1["m"]["vmspy"]["ns_ev"] and c2["m"]["vmspy"]["ns_ev"]:
        a, b = c1["m"]["vmspy"]["ns_ev"], c2["m"]["vmspy"]["ns_ev"]
        # Medians of 5 runs on shared cores move by a few percent between
        # runs: equal within 5% counts as "no more".
        say(b <= 1.05 * a, "two threads cost no more per event than one: churn-2t %.0f "
            "ns/event vs churn-1t %.0f ns/event of CPU overhead (%.2f×; target ≤ 1.00×, "
            "judged met up to 1.05×, this machine's run-to-run noise).  The 1-vs-2-thread "
            "profile below shows where the difference goes."
            % (b, a, b / a))
    else:
        say(None, "1 vs 2 threads per event: churn-1t/churn-2t not both measured.")
    # 3. recording size <= heaptrack's compressed file
    rs = [s for s in summ if s["sizes"] and s["ht_size"]]
    if rs:
        bad = [s for s in rs if s["sizes"]["disk"] > s["ht_size"]]
        good = [s for s in rs if s["sizes"]["disk"] <= s["ht_size"]]
        zgood = [s for s in rs if s["sizes"]["zstd"] <= s["ht_size"]]
        detail = "; ".join("%s %s vs %s (%.1f×)" % (s["name"], fmt_b(s["sizes"]["disk"]),
                                                   fmt_b(s["ht_size"]),
                                                   s["sizes"]["disk"] / s["ht_size"])
                           for s in rs)
        say(not bad, "recording size once the app has exited (on disk, full mode) ≤ "
            "heaptrack's .zst: met on %d of %d workloads%s.  %s.  Even compressed with "
            "zstd -3 (not done by the recorder) it would be ≤ heaptrack's on %d of %d%s."
            % (len(good), len(rs), (" (" + ", ".join(s["name"] for s in good) + ")") if good else "",
               detail, len(zgood), len(rs),
               (" (" + ", ".join(s["name"] for s in zgood) + ")") if zgood else ""))
    # 4. analyzer >= 5x faster than heaptrack_print, memory bounded
    an = [s for s in summ if s["an"]]
    if an:
        def medw(s, tool, key="wall"):
            rs = s["an"].get(tool)
            return med(getattr(r, key) for r in rs) if rs else None
        sp = []
        for s in an:
            h, t = medw(s, "heaptrack_print"), medw(s, "summary")
            sp.append((s, h / t if h and t else None))
        fast = [s["name"] for s, x in sp if x is not None and x >= 5]
        say(len(fast) == len(sp),
            "analyzer (`vmspy summary`) ≥ 5× faster than heaptrack_print on the same run: "
            "%d of %d workloads%s.  Speed-ups: %s."
            % (len(fast), len(sp), (" (" + ", ".join(fast) + ")") if fast else "",
               ", ".join("%s %s" % (s["name"], fmt_x(x)) for s, x in sp)))
        big = [s for s in an if s["events"] and s["events"] >= 1000000 and s["sizes"]]
        if len(big) >= 2:
            # Bounded = does not grow with the recording: sorted by
            # recording size (multi-million-event workloads, recordings
            # of different sizes), no workload's peak RSS of `vmspy
            # summary` is more than 1.25x the largest of those with a
            # smaller recording.  Most of it is fixed (the debug info of
            # libc, read to name frames).  The issue's own figure, 10^8
            # events in under 1 GiB, is bench/big.py's section at the end.
            rows = sorted(((medw(s, "summary", "rss_kb") * 1024, s["sizes"]["apparent"], s)
                           for s in big), key=lambda r: r[1])
            grows = [rows[i][2]["name"] for i in range(1, len(rows))
                     if rows[i][0] > 1.25 * max(r[0] for r in rows[:i])]
            span = rows[-1][1] / rows[0][1]
            say(not grows and span >= 2,
                "analyzer memory bounded (by live allocations and distinct stacks, not by "
                "the recording): peak RSS of `vmspy summary` vs the recording's "
                "uncompressed size (apparent bytes), workloads with ≥ 1M events, smallest "
                "recording first: %s — recordings %.1f× apart%s (judged met when no "
                "workload's RSS exceeds 1.25× the largest RSS of those with a smaller "
                "recording).  The issue's 10⁸-event case is the last section (bench/big.py)."
                % (", ".join("%s %s for %s" % (s["name"], fmt_b(r), fmt_b(a))
                             for r, a, s in rows), span,
                   ("; grows on " + ", ".join(grows)) if grows else ""))
    # 5. sampling <= 1.2x native on churn
    sc = [c for c in (c1, c2) if c and c["m"]["vmspy-sampled"]["cpu_x"] is not None]
    if sc:
        say(all(c["m"]["vmspy-sampled"]["cpu_x"] <= 1.2 for c in sc),
            "sampling mode (VMSPY_SAMPLE_BYTES=%d) ≤ 1.2× native CPU on churn: %s."
            % (SAMPLE_BYTES, ", ".join("%s %s CPU (%.3f s vs %.3f s native)"
                                       % (c["name"], fmt_x2(c["m"]["vmspy-sampled"]["cpu_x"]),
                                          c["m"]["vmspy-sampled"]["cpu"], c["m"]["native"]["cpu"])
                                       for c in sc)))
    return "\n".join(lines)


def machine_info(rounds, an_rounds, tmp):
    def sh(cmd):
        p = subprocess.run(cmd, shell=True, capture_output=True, text=True)
        return p.stdout.strip()
    lscpu = sh("lscpu")
    cpu = ""
    for line in lscpu.splitlines():
        if line.startswith("Model name:"):
            cpu = line.split(":", 1)[1].strip()
    cpu += ", %s CPUs, %s GiB RAM" % (os.cpu_count(),
                                      round(os.sysconf("SC_PHYS_PAGES") *
                                            os.sysconf("SC_PAGE_SIZE") / 2**30))
    return {"date": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
            "cpu": cpu, "lscpu": lscpu, "kernel": sh("uname -r"),
            "libc": sh("ldd --version | head -1"),
            "heaptrack": sh("heaptrack --version"),
            "vmspy": sh("cd %s && git describe --always --dirty 2>/dev/null" % ROOT)
            + " (working tree, uncommitted changes included)",
            "rounds": rounds, "an_rounds": an_rounds,
            "fs": sh("df -hT %s | tail -1 | awk '{print $1\" \"$2}'" % tmp)}


def main():
    rounds = env_int("BENCH_ROUNDS", 5)
    an_rounds = env_int("BENCH_AN_ROUNDS", 3)
    only = [x for x in os.environ.get("BENCH_ONLY", "").split(",") if x]
    results = os.environ.get("BENCH_RESULTS") or os.path.join(BENCH, "RESULTS.md")
    tmp = os.environ.get("BENCH_TMP") or tempfile.mkdtemp(prefix="vmspy-bench.")
    os.makedirs(tmp, exist_ok=True)
    leaks = vmspy_has("leaks")
    machine = machine_info(rounds, an_rounds, tmp)
    cmdline = os.environ.get("BENCH_CMDLINE", "make bench")
    summ = []
    try:
        for w in workloads(tmp):
            if only and w.name not in only:
                continue
            if w.needs and not os.access(w.needs, os.X_OK):
                print("bench: %s skipped: %s not found" % (w.name, w.needs),
                      file=sys.stderr)
                continue
            sys.stderr.write("bench: %s (%s)\n" % (w.name, w.what))
            res, last = bench_workload(w, tmp, rounds)
            rec, ht = last.get("vmspy"), last.get("heaptrack")
            sizes = recsize.measure(rec) if rec and os.path.isdir(rec) else None
            js = summary_json(rec) if sizes else None
            events = js.get("events") if js else None
            if not events and ht and os.path.exists(ht):
                events = heaptrack_calls(ht)
            ht_size = os.path.getsize(ht) if ht and os.path.exists(ht) else None
            an = None
            if sizes and ht_size:
                an = bench_analyzers(w, rec, ht, an_rounds, leaks)
            srec = last.get("vmspy-sampled")
            sampled = {}
            if srec and os.path.isdir(srec):
                sampled["sizes"] = recsize.measure(srec)
                sjs = summary_json(srec) or {}
                sampled["events"] = sjs.get("events")
                sampled["flag"] = sjs.get("sampled")
            summ.append(summarize(w, res, sizes, events, ht_size, an, sampled))
            if os.environ.get("BENCH_KEEP") != "1":
                remove(rec)
                remove(srec)
                remove(ht)
        prof = None
        if os.environ.get("BENCH_PROFILE", "1") != "0" and summ:
            c1 = next((s for s in summ if s["name"] == "churn-1t"), None)
            c2 = next((s for s in summ if s["name"] == "churn-2t"), None)
            prof = hotpath.profile(os.path.join(BB, "churn"), scaled(3e6),
                                   LIBVMSPY, VMSPY, tmp, c1, c2)
            if prof is None:
                sys.stderr.write("bench: no profiler worked; profile skipped\n")
    finally:
        if os.environ.get("BENCH_KEEP") != "1" and not os.environ.get("BENCH_TMP"):
            shutil.rmtree(tmp, ignore_errors=True)
    tables, doc = report(summ, machine, cmdline, prof, leaks)
    with open(results, "w") as f:
        f.write(doc)
    print()
    print(verdicts(summ))
    print()
    print(tables)
    if prof:
        print()
        print(prof)
    print("\nbench: report written to %s" % results)
    if problems:
        print("bench: %d problem(s):" % len(problems))
        for p in problems:
            print("  - " + p)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
