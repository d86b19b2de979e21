# SPDX-License-Identifier: MIT
"""Sizes of a vmspy recording, four ways:

  apparent  sum of file sizes (du --apparent-size): log chunks are reserved
            whole with posix_fallocate, and chunks moved into log.<n>.z
            sidecars leave holes that keep the file size
  disk      blocks allocated on disk (du): what the recording really takes
            after exit -- holes (compressed chunks) excluded, the reserved
            zero tail of each log's last chunk included
  used      bytes that hold data: per log file, the data up to the offset
            just past the last non-zero byte, holes excluded (the zero tail after the last
            record is reserved space; SKIP padding at the end of full chunks
            is counted as used), plus the other files (meta, snapshots,
            leaks, sidecars) whole
  zstd      those used bytes, concatenated and compressed with `zstd -3`
            (heaptrack's own level; sidecars are compressed already)

A recording of a process tree has sibling directories REC.<pid>...: they
are included."""
import glob
import os
import subprocess
import threading

BLOCK = 1 << 20


def data_extent(path):
    """Offset just past the last non-zero byte of path."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        end = size
        while end > 0:
            start = max(0, end - BLOCK)
            f.seek(start)
            buf = f.read(end - start).rstrip(b"\0")
            if buf:
                return start + len(buf)
            end = start
    return 0


def data_segments(path, end):
    """[(start, stop)) ranges of path below end that are not holes."""
    out = []
    with open(path, "rb") as f:
        fd = f.fileno()
        pos = 0
        while pos < end:
            try:
                d = os.lseek(fd, pos, os.SEEK_DATA)
            except OSError:
                break
            if d >= end:
                break
            h = min(os.lseek(fd, d, os.SEEK_HOLE), end)
            out.append((d, h))
            pos = h
    return out


def recording_dirs(rec):
    return [rec] + sorted(d for d in glob.glob(glob.escape(rec) + ".*")
                          if os.path.isdir(d))


def measure(rec):
    files = []
    for d in recording_dirs(rec):
        for name in sorted(os.listdir(d)):
            p = os.path.join(d, name)
            if os.path.isfile(p):
                files.append((name, p))
    apparent = disk = used = 0
    z = subprocess.Popen(["zstd", "-3", "-q", "-c"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE)
    # zstd's output is counted by a reader thread while we feed it: one
    # process writing both ends of two pipes would deadlock.
    zsize = [0]

    def drain():
        while True:
            b = z.stdout.read(1 << 16)
            if not b:
                break
            zsize[0] += len(b)

    t = threading.Thread(target=drain)
    t.start()
    for name, p in files:
        st = os.stat(p)
        apparent += st.st_size
        disk += st.st_blocks * 512
        is_log = name.startswith("log.") and name[4:].isdigit()
        n = data_extent(p) if is_log else st.st_size
        segs = data_segments(p, n) if is_log else [(0, n)]
        with open(p, "rb") as f:
            for lo, hi in segs:
                used += hi - lo
                f.seek(lo)
                left = hi - lo
                while left > 0:
                    b = f.read(min(BLOCK, left))
                    if not b:
                        break
                    z.stdin.write(b)
                    left -= len(b)
    z.stdin.close()
    t.join()
    z.wait()
    return {"apparent": apparent, "disk": disk, "used": used,
            "zstd": zsize[0], "files": len(files)}


if __name__ == "__main__":
    import json
    import sys
    print(json.dumps(measure(sys.argv[1]), indent=2))
