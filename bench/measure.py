# SPDX-License-Identifier: MIT
"""Run one command and measure it: wall time, CPU time (user + sys of the
process and of every descendant it waited for, from wait4's rusage), peak
RSS, exit status.  Used by bench.py for the workloads and the analyzers."""
import os
import subprocess
import tempfile
import time


class Result:
    """What one run cost.  rss_kb is the peak RSS of the profiled program
    when the rss probe reported it, else wait4's (the biggest process of
    the tree); out is the program's stdout (bytes)."""

    def __init__(self, argv, rc, wall, cpu, rss_kb, rss_tree_kb, out, err):
        self.argv = argv
        self.rc = rc
        self.wall = wall
        self.cpu = cpu
        self.rss_kb = rss_kb
        self.rss_tree_kb = rss_tree_kb
        self.out = out
        self.err = err

    def crashed(self, ok_codes=(0,)):
        return self.rc not in ok_codes


def run(argv, env=None, stdout_path=None, rss_exe=None, cwd=None):
    """Runs argv to completion.  When rss_exe is set, the rss probe
    (loaded through env's LD_PRELOAD by the caller) reports into a
    temporary file, and the peak RSS (VmHWM) of the processes whose
    executable is rss_exe is returned; wait4's ru_maxrss is only the
    fallback (it keeps the RSS this Python process had when it forked).  stdout goes to stdout_path (or a temporary file)
    and is returned as bytes unless stdout_path is given."""
    env = dict(os.environ if env is None else env)
    rss_file = None
    if rss_exe:
        fd, rss_file = tempfile.mkstemp(prefix="vmspy-bench-rss.")
        os.close(fd)
        env["BENCH_RSS_FILE"] = rss_file
    keep_out = stdout_path is None
    if keep_out:
        out_f = tempfile.TemporaryFile()
    else:
        out_f = open(stdout_path, "wb")
    err_f = tempfile.TemporaryFile()
    try:
        t0 = time.perf_counter()
        p = subprocess.Popen(argv, env=env, stdout=out_f, stderr=err_f,
                             stdin=subprocess.DEVNULL, cwd=cwd)
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        out = b""
        if keep_out:
            out_f.seek(0)
            out = out_f.read()
        err_f.seek(0)
        err = err_f.read()
    finally:
        out_f.close()
        err_f.close()
    rss = None
    if rss_file:
        rss = probe_rss(rss_file, rss_exe)
        os.unlink(rss_file)
    return Result(argv, p.returncode, wall, ru.ru_utime + ru.ru_stime,
                  rss if rss is not None else ru.ru_maxrss, ru.ru_maxrss,
                  out, err)


def probe_rss(path, exe):
    """Largest ru_maxrss (KiB) the probe reported for executable exe."""
    want = os.path.realpath(exe)
    best = None
    with open(path) as f:
        for line in f:
            parts = line.rstrip("\n").split(" ", 2)
            if len(parts) == 3 and os.path.realpath(parts[2]) == want:
                kb = int(parts[1])
                best = kb if best is None else max(best, kb)
    return best
