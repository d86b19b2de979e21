#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""An independent reader of vmspy recordings (include/vmspy/format.h).

Written from the format header alone, not from the analyzer, so the
end-to-end tests can cross-check `vmspy summary` against a second
implementation.  It replays the merged event stream the way the format
promises (sort by sequence number) and prints:

  vmsdump.py REC               summary as JSON (same key names as
                               `vmspy summary --json` where they exist)
  vmsdump.py REC --records     one line per record, per lane, in file order
  vmsdump.py REC --live        blocks still live at the end: addr size api
  vmsdump.py REC --snapshots   snapshot files: index reason label seq
  vmsdump.py REC --stack LANE ID
                               symbolize one interned stack (addr2line,
                               modules from the snapshots; debugging aid)
  vmsdump.py REC --leaks       JSON totals per reachability category from
                               the recorder's "leaks" file, joined with the
                               live blocks: {"definitely_lost": {"bytes",
                               "blocks"}, ..., "by_size": {size: {cat: n}}}
  vmsdump.py REC --sizes       JSON {size: {"alloc": n, "live": n}}: how
                               many blocks of each requested size were
                               allocated, and are live at the end

Counting rules (what the tests assume the analyzer does too):
  * an ALLOC record counts one call of its api (realloc/reallocarray count
    once per call; the FREE half of a moving realloc is not a free());
  * a FREE record with api free counts one free();  a FREE with api
    realloc not followed in its lane by the ALLOC half of the same call
    (old_addr = its addr) is realloc(p, 0): counted as one realloc;
  * MMAP records count mmap/mmap64/mremap by api; MUNMAP with api munmap
    counts munmap (the mremap release half is not counted);
  * MPROTECT, MADVISE, BRK (by api), SHM_*, CREATE (pthread_create),
    DLOPEN, DLCLOSE, FORK (by api) count one call each.
Heap bytes are requested sizes.  mmap bytes are the page-rounded union of
live ranges created by mmap/mmap64/mremap (shm excluded: SysV attachments
and mappings of /dev/shm files).  An ALLOC of an address that is still
live means the recorder missed a release: it is counted in
reused_live_addresses and the old block is dropped.

Exit status: 0, or 2 with a one-line message for unreadable input.
"""
import json
import os
import struct
import sys

API = ["malloc", "calloc", "realloc", "reallocarray", "free",
       "posix_memalign", "aligned_alloc", "memalign", "valloc", "pvalloc",
       "mmap", "mmap64", "munmap", "mremap", "mprotect", "brk", "sbrk",
       "shm_open", "shm_unlink", "shmget", "shmat", "shmdt", "madvise",
       "pthread_create", "dlopen", "dlclose", "fork", "vfork"]
A = {n: i for i, n in enumerate(API)}

(SKIP, STACK, TIME, ALLOC, FREE, MMAP, MUNMAP, MPROTECT, MADVISE, BRK,
 SHM_OPEN, SHM_UNLINK, SHMGET, SHMAT, SHMDT, THREAD_BEGIN, THREAD_END,
 DLOPEN, DLCLOSE, FORK, SNAPSHOT, EXIT, DISABLED, CREATE, MALLOC,
 FREE_PLAIN) = range(1, 27)
# Record types a compact header names, by its code (bits 5-6).
COMPACT = [MALLOC, FREE_PLAIN, ALLOC, FREE]
TYPE_NAMES = {v: k for k, v in dict(
    SKIP=SKIP, STACK=STACK, TIME=TIME, ALLOC=ALLOC, FREE=FREE, MMAP=MMAP,
    MUNMAP=MUNMAP, MPROTECT=MPROTECT, MADVISE=MADVISE, BRK=BRK,
    SHM_OPEN=SHM_OPEN, SHM_UNLINK=SHM_UNLINK, SHMGET=SHMGET, SHMAT=SHMAT,
    SHMDT=SHMDT, THREAD_BEGIN=THREAD_BEGIN, THREAD_END=THREAD_END,
    DLOPEN=DLOPEN, DLCLOSE=DLCLOSE, FORK=FORK, SNAPSHOT=SNAPSHOT, EXIT=EXIT,
    DISABLED=DISABLED, CREATE=CREATE, MALLOC=MALLOC,
    FREE_PLAIN=FREE_PLAIN).items()}

# Field layout per type: 'q' seq (delta), 'a' addr (zigzag delta),
# 'v' varint, 's' string.  ALLOC's old_addr (realloc*) and DLOPEN's module
# fields are handled by read_log.  MALLOC and FREE_PLAIN come out as ALLOC
# and FREE with the fields they leave out.
LAYOUT = {
    ALLOC: ("seq api stack addr size align", "qvvavv"),
    MALLOC: ("seq stack addr size", "qvav"),
    FREE: ("seq api addr", "qva"),
    FREE_PLAIN: ("seq addr", "qa"),
    MMAP: ("seq api stack addr len prot flags fd offset dev ino path "
           "old_addr old_len", "qvvvvvvvvvvsvv"),
    MUNMAP: ("seq api stack addr len", "qvvvv"),
    MPROTECT: ("seq stack addr len prot", "qvvvv"),
    MADVISE: ("seq stack addr len advice", "qvvvv"),
    BRK: ("seq api stack old_brk new_brk", "qvvvv"),
    SHM_OPEN: ("seq stack fd oflag mode name", "qvvvvs"),
    SHM_UNLINK: ("seq stack name", "qvs"),
    SHMGET: ("seq stack key size shmflg shmid", "qvvvvv"),
    SHMAT: ("seq stack shmid addr size shmflg key", "qvvvvvv"),
    SHMDT: ("seq stack addr", "qvv"),
    THREAD_BEGIN: ("seq tid stack_lo stack_hi guard creator_lane "
                   "creator_stack handle", "qvvvvvvv"),
    THREAD_END: ("seq tid", "qv"),
    DLOPEN: ("seq stack flags handle path", "qvvvs"),
    DLCLOSE: ("seq stack handle result", "qvvv"),
    FORK: ("seq api stack child_pid", "qvvv"),
    EXIT: ("seq status dropped", "qvv"),
    DISABLED: ("seq errno", "qv"),
    CREATE: ("seq stack handle", "qvv"),
}
TIME_LAYOUT = ("monotonic_ns", "v")


class Bad(Exception):
    pass


def varint(b, i, end):
    v = 0
    shift = 0
    while True:
        if i >= end:
            raise Bad("varint runs past the record")
        c = b[i]
        i += 1
        if shift == 63 and c > 1:
            raise Bad("varint overflows 64 bits")
        v |= (c & 0x7f) << shift
        if not c & 0x80:
            return v, i
        shift += 7
        if shift > 63:
            raise Bad("varint too long")


def string(b, i, end, path, off):
    """A string field (varint length, bytes) at i of the record at off:
    (text, next i)."""
    n, i = varint(b, i, end)
    if i + n > end:
        raise Bad("%s: string past record at %d" % (path, off))
    return b[i:i + n].decode("utf-8", "replace"), i + n


def unzigzag(v):
    return (v >> 1) ^ -(v & 1)


def fnv1a32(b):
    h = 2166136261
    for c in b:
        h = ((h ^ c) * 16777619) & 0xffffffff
    return h


def unpack_chunks(path, b, lane, chunk):
    """Puts the chunks compressed into the sidecar PATH.z back into b (a
    bytearray of the whole log), as format.h "Compressed chunks" says.
    Python 3.11 has no zstd module (Debian 12 has no python3-zstandard):
    the frames are decompressed by the zstd command-line tool, all of a
    lane's in one run (concatenated frames give concatenated chunks, each
    exactly one chunk long; zstd checks every content checksum)."""
    try:
        with open(path + ".z", "rb") as f:
            z = f.read()
    except FileNotFoundError:
        return
    frames = []
    pos = 0
    while pos + 32 <= len(z):
        magic, fl, k, raw, comp, res, check = struct.unpack_from(
            "<4sIQIIII", z, pos)
        if magic != b"VMSZ" or check != fnv1a32(z[pos:pos + 28]):
            raise Bad("%s.z: bad frame header at offset %d" % (path, pos))
        if pos + 32 + comp > len(z):
            break  # cut short by the process dying: its chunk is raw
        if fl != lane or raw != chunk or (k + 1) * chunk > len(b):
            raise Bad("%s.z: frame at offset %d does not fit the log" %
                      (path, pos))
        frames.append((k, z[pos + 32:pos + 32 + comp]))
        pos += 32 + comp
    if not frames:
        return
    import subprocess
    r = subprocess.run(["zstd", "-d", "-q", "-c"],
                       input=b"".join(p for _, p in frames),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if r.returncode or len(r.stdout) != len(frames) * chunk:
        raise Bad("%s.z: frames do not decompress: %s" %
                  (path, r.stderr.decode(errors="replace").strip()))
    for i, (k, _) in enumerate(frames):
        data = r.stdout[i * chunk:(i + 1) * chunk]
        lo = k * chunk
        # Raw bytes still there must be the same (page by page).
        for p in range(0, chunk, 4096):
            page = b[lo + p:lo + p + 4096]
            if page.strip(b"\0") and page != data[p:p + 4096]:
                raise Bad("%s: chunk %d differs from its frame at %d" %
                          (path, k, lo + p))
        b[lo:lo + chunk] = data


def read_log(path):
    """Yields (offset, type, fields) for every record of one lane file.
    MALLOC and FREE_PLAIN records are given as ALLOC and FREE (with a
    "_form" field naming the record type)."""
    with open(path, "rb") as f:
        b = bytearray(f.read())
    if len(b) < 64:
        raise Bad("%s: shorter than its header" % path)
    magic, version, lane, chunk, pid = struct.unpack_from("<8sIIQQ", b, 0)
    if magic != b"VMSPYLG1" or version != 2:
        raise Bad("%s: bad magic or version" % path)
    unpack_chunks(path, b, lane, chunk)
    off = 64
    prev_seq = 0
    prev_addr = 0
    while off < len(b):
        h = b[off]
        if h == 0:
            return
        if h & 0x80:
            typ, ln, body = COMPACT[(h >> 5) & 3], h & 31, off + 1
        else:
            typ = h
            ln, body = varint(b, off + 1, len(b))
        end = body + ln
        if end > len(b):
            raise Bad("%s: record at offset %d runs past the end" %
                      (path, off))
        rec = {"_off": off, "_lane": lane}
        if typ == STACK:
            i = body
            sid, i = varint(b, i, end)
            n, i = varint(b, i, end)
            frames = []
            prev = 0
            for _ in range(n):
                v, i = varint(b, i, end)
                prev = (prev + unzigzag(v)) & (2**64 - 1)
                frames.append(prev)
            rec.update(id=sid, frames=frames)
        elif typ == SKIP:
            pass
        elif typ == TIME or typ in LAYOUT:
            names, kinds = TIME_LAYOUT if typ == TIME else LAYOUT[typ]
            if typ == MALLOC:
                rec.update(_form="MALLOC", api=A["malloc"], align=0)
            elif typ == FREE_PLAIN:
                rec.update(_form="FREE_PLAIN", api=A["free"])
            i = body
            for name, k in zip(names.split(), kinds):
                if k == "s":
                    rec[name], i = string(b, i, end, path, off)
                    continue
                v, i = varint(b, i, end)
                if k == "q":
                    prev_seq += v
                    v = prev_seq
                elif k == "a":
                    prev_addr = (prev_addr + unzigzag(v)) & (2**64 - 1)
                    v = prev_addr
                rec[name] = v
            if typ == ALLOC and rec["api"] in (A["realloc"],
                                               A["reallocarray"]):
                v, i = varint(b, i, end)
                rec["old_addr"] = (rec["addr"] + unzigzag(v)) & (2**64 - 1)
            if typ == DLOPEN and i < end:
                rec["bias"], i = varint(b, i, end)
                for name in ("build_id", "real_path"):
                    rec[name], i = string(b, i, end, path, off)
            typ = {MALLOC: ALLOC, FREE_PLAIN: FREE}.get(typ, typ)
        else:
            raise Bad("%s: unknown record type %d at offset %d" %
                      (path, typ, off))
        yield off, typ, rec
        off = end


def read_meta(rec):
    meta = {}
    with open(os.path.join(rec, "meta")) as f:
        first = f.readline().split()
        if first[:1] != ["vmspy-recording"]:
            raise Bad("%s/meta: not a vmspy recording" % rec)
        for line in f:
            k, _, v = line.rstrip("\n").partition(" ")
            if k == "argv":
                meta.setdefault("argv", []).append(v.partition(" ")[2])
            else:
                meta[k] = v
    return meta


def lanes(rec):
    out = []
    for name in os.listdir(rec):
        if name.startswith("log.") and name[4:].isdigit():
            out.append((int(name[4:]), os.path.join(rec, name)))
    return [p for _, p in sorted(out)]


SNAPZ_MAGIC = 0x184D2A5B
_snap_cache = {}


def snap_text(rec, index, depth=0):
    """The text of snap.<index> (bytes), plain or compressed (format.h
    "Compressed snapshots"): a compressed one is decompressed by the zstd
    tool, with the text of its reference as --patch-from.  A frame cut
    short gives what zstd decoded before the cut."""
    key = (rec, index)
    if key in _snap_cache:
        return _snap_cache[key]
    path = os.path.join(rec, "snap.%d" % index)
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8 or struct.unpack_from("<I", data)[0] != SNAPZ_MAGIC:
        _snap_cache[key] = data
        return data
    ilen = struct.unpack_from("<I", data, 4)[0]
    info = data[8:8 + ilen].decode(errors="replace").split("\n")
    if info[0] != "vmspy-snapshot-z 1" or depth > 4096:
        raise Bad("snap.%d: bad compressed snapshot info" % index)
    ref = None
    for line in info[1:]:
        if line.startswith("ref ") and line != "ref -":
            ref = int(line[4:])
            if ref >= index:
                raise Bad("snap.%d: reference %d does not come before it"
                          % (index, ref))
    import subprocess
    import tempfile
    # zstd wants files, not stdin, with --patch-from
    argv = ["zstd", "-d", "-q", "-c", path]
    tmp = None
    if ref is not None:
        tmp = tempfile.NamedTemporaryFile(prefix="vmsdump-ref.")
        tmp.write(snap_text(rec, ref, depth + 1))
        tmp.flush()
        argv.append("--patch-from=" + tmp.name)
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if tmp:
        tmp.close()
    err = r.stderr.decode(errors="replace")
    if r.returncode and "premature end" not in err:
        raise Bad("snap.%d: does not decompress: %s" % (index, err.strip()))
    _snap_cache[key] = r.stdout
    return r.stdout


def snapshots(rec):
    out = []
    for name in os.listdir(rec):
        if not (name.startswith("snap.") and name[5:].isdigit()):
            continue
        d = {"index": int(name[5:]), "complete": False}
        text = snap_text(rec, int(name[5:])).decode(errors="replace")
        if True:
            for line in text.splitlines(True):
                line = line.rstrip("\n")
                if line == "smaps":
                    d["complete"] = True
                    break
                k, _, v = line.partition(" ")
                if k in ("seq", "reason", "label", "time_ns"):
                    d[k] = v
        out.append(d)
    return sorted(out, key=lambda d: d["index"])


def page_up(n):
    return (n + 4095) & ~4095


class Ranges:
    """A set of disjoint [lo, hi) ranges."""

    def __init__(self):
        self.r = []

    def add(self, lo, hi):
        self.sub(lo, hi)
        self.r.append((lo, hi))

    def sub(self, lo, hi):
        out = []
        for a, b in self.r:
            if b <= lo or a >= hi:
                out.append((a, b))
                continue
            if a < lo:
                out.append((a, lo))
            if b > hi:
                out.append((hi, b))
        self.r = out

    def total(self):
        return sum(b - a for a, b in self.r)


def summarize(rec):
    meta = read_meta(rec)
    events = []
    nrecords = 0
    realloc_zero = 0
    for path in lanes(rec):
        pending = None  # a realloc's FREE half, waiting for its ALLOC half
        for _, typ, r in read_log(path):
            nrecords += 1
            if "seq" in r:
                events.append((r["seq"], typ, r))
            if typ in (STACK, TIME, SKIP):
                continue
            if pending is not None and not (
                    typ == ALLOC and r["api"] == pending["api"] and
                    r.get("old_addr") == pending["addr"]):
                realloc_zero += 1  # realloc(p, 0): only the FREE half
            pending = r if typ == FREE and r["api"] in (
                A["realloc"], A["reallocarray"]) else None
        if pending is not None:
            realloc_zero += 1
    # the analyzer's order: seq, then lane (numbers repeat across lanes)
    events.sort(key=lambda e: (e[0], e[2]["_lane"]))
    calls = {n: 0 for n in API}
    calls["realloc"] = realloc_zero
    live = {}
    heap = peak_heap = total_alloc = 0
    maps = Ranges()
    peak_mmap = 0
    tids = set()
    clean = False
    exit_status = None
    dropped = 0
    unknown_frees = 0
    reused_live = 0
    sizes = {}
    for seq, typ, r in events:
        if typ == ALLOC:
            sizes.setdefault(r["size"], {"alloc": 0, "live": 0})["alloc"] += 1
            calls[API[r["api"]]] += 1
            old = live.get(r["addr"])
            if old is not None:
                # Handed out again without a recorded release: a free the
                # recorder missed.  Count it, treat the old block as freed.
                reused_live += 1
                heap -= old[0]
            live[r["addr"]] = (r["size"], r["api"], r["seq"])
            heap += r["size"]
            total_alloc += r["size"]
            peak_heap = max(peak_heap, heap)
        elif typ == FREE:
            if r["api"] == A["free"]:
                calls["free"] += 1
            b = live.pop(r["addr"], None)
            if b is None:
                unknown_frees += 1
            else:
                heap -= b[0]
        elif typ == MMAP:
            calls[API[r["api"]]] += 1
            # Shared mappings of POSIX shm objects are shm, not mmap bytes.
            if not r["path"].startswith("/dev/shm/"):
                maps.add(r["addr"], r["addr"] + page_up(r["len"]))
                peak_mmap = max(peak_mmap, maps.total())
        elif typ == MUNMAP:
            if r["api"] == A["munmap"]:
                calls["munmap"] += 1
            maps.sub(r["addr"], r["addr"] + page_up(r["len"]))
        elif typ == MPROTECT:
            calls["mprotect"] += 1
        elif typ == MADVISE:
            calls["madvise"] += 1
        elif typ == BRK:
            calls[API[r["api"]]] += 1
        elif typ == SHM_OPEN:
            calls["shm_open"] += 1
        elif typ == SHM_UNLINK:
            calls["shm_unlink"] += 1
        elif typ == SHMGET:
            calls["shmget"] += 1
        elif typ == SHMAT:
            calls["shmat"] += 1
        elif typ == SHMDT:
            calls["shmdt"] += 1
        elif typ == CREATE:
            calls["pthread_create"] += 1
        elif typ == DLOPEN:
            calls["dlopen"] += 1
        elif typ == DLCLOSE:
            calls["dlclose"] += 1
        elif typ == FORK:
            calls[API[r["api"]]] += 1
        elif typ == THREAD_BEGIN:
            tids.add(r["tid"])
        elif typ == EXIT:
            clean = True
            exit_status = r["status"]
            dropped = r["dropped"]
    return {
        "pid": int(meta.get("pid", 0)),
        "ppid": int(meta.get("ppid", 0)),
        "parent": meta.get("parent"),
        "predecessor": meta.get("predecessor"),
        "exe": meta.get("exe"),
        "argv": meta.get("argv", []),
        "calls": calls,
        "threads": len(tids),
        "clean_exit": clean,
        "exit_status": exit_status,
        "dropped": dropped,
        "events": len(events),
        "records": nrecords,
        "peak_heap_bytes": peak_heap,
        "peak_mmap_bytes": peak_mmap,
        "total_allocated_bytes": total_alloc,
        "heap_live_bytes_at_end": heap,
        "heap_live_blocks_at_end": len(live),
        "unknown_frees": unknown_frees,
        "reused_live_addresses": reused_live,
        "lanes": len(lanes(rec)),
        "snapshots": snapshots(rec),
        "_live": live,
        "_sizes": sizes,
    }


LEAK_CATS = [None, "definitely_lost", "indirectly_lost", "possibly_lost",
             "still_reachable"]


def read_leaks(rec):
    """{addr: category name} from REC/leaks, or None when absent or cut."""
    try:
        with open(os.path.join(rec, "leaks"), "rb") as f:
            b = f.read()
    except FileNotFoundError:
        return None
    head, sep, rest = b.partition(b"data\n")
    lines = head.decode().split("\n")
    if not sep or lines[0] != "vmspy-leaks 1":
        raise Bad("leaks: bad header")
    n = int([l for l in lines if l.startswith("blocks ")][0].split()[1])
    if len(rest) < 9 * n + 4 or rest[9 * n:9 * n + 4] != b"end\n":
        return None  # interrupted
    out = {}
    for i in range(n):
        addr, cat = struct.unpack_from("<QB", rest, 9 * i)
        if not 1 <= cat <= 4:
            raise Bad("leaks: block %#x has category %d" % (addr, cat))
        out[addr] = LEAK_CATS[cat]
    return out


def modules(rec):
    """[(start, end, bias, path)] of every module segment in any snapshot."""
    out = set()
    for name in os.listdir(rec):
        if not (name.startswith("snap.") and name[5:].isdigit()):
            continue
        bias = path = None
        text = snap_text(rec, int(name[5:])).decode(errors="replace")
        if True:
            for line in text.splitlines(True):
                w = line.split(" ", 3)
                if w[0] == "module" and len(w) == 4:
                    bias, path = int(w[1], 16), w[3].rstrip("\n")
                elif w[0] == "segment" and path:
                    out.add((int(w[1], 16), int(w[2], 16), bias, path))
                elif w[0] == "smaps\n":
                    break
    return sorted(out)


def symbolize(rec, lane, sid):
    import subprocess
    frames = None
    for path in lanes(rec):
        for _, typ, r in read_log(path):
            if typ == STACK and r["_lane"] == lane and r["id"] == sid:
                frames = r["frames"]
                break
        if frames is not None:
            break
    mods = modules(rec)
    for a in frames or []:
        m = [x for x in mods if x[0] <= a < x[1]]
        if not m:
            print("%#x ?" % a)
            continue
        _, _, bias, path = m[0]
        fn = subprocess.run(["addr2line", "-f", "-C", "-e", path,
                             "%#x" % (a - bias - 1)], capture_output=True,
                            text=True).stdout.split("\n")
        print("%#x %s+%#x %s %s" % (a, os.path.basename(path), a - bias,
                                   fn[0], fn[1] if len(fn) > 1 else ""))


def main(argv):
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        sys.stderr.write(__doc__)
        return 2
    rec = argv[1]
    mode = argv[2] if len(argv) > 2 else "--json"
    try:
        if mode == "--records":
            for path in lanes(rec):
                for off, typ, r in read_log(path):
                    r = {k: (hex(v) if k in ("addr", "old_addr", "old_brk",
                                             "new_brk", "handle") and
                             isinstance(v, int) else v)
                         for k, v in r.items()}
                    print(TYPE_NAMES.get(typ, typ), json.dumps(r))
            return 0
        if mode == "--stack":
            symbolize(rec, int(argv[3]), int(argv[4]))
            return 0
        s = summarize(rec)
        if mode == "--live":
            for addr, (size, api, seq) in sorted(s["_live"].items(),
                                                 key=lambda x: x[1][2]):
                print("%#x %d %s" % (addr, size, API[api]))
            return 0
        if mode == "--snapshots":
            for d in s["snapshots"]:
                print(d["index"], d.get("reason"), d.get("label", "-"),
                      d.get("seq"), "complete" if d["complete"] else
                      "interrupted")
            return 0
        if mode == "--leaks":
            cats = read_leaks(rec)
            out = {c: {"bytes": 0, "blocks": 0} for c in LEAK_CATS[1:]}
            out["unclassified"] = {"bytes": 0, "blocks": 0}
            out["not_live"] = 0
            out["present"] = cats is not None
            by_size = {}
            for addr, (size, _, _) in s["_live"].items():
                c = (cats or {}).get(addr, "unclassified")
                out[c]["bytes"] += size
                out[c]["blocks"] += 1
                d = by_size.setdefault(str(size), {})
                d[c] = d.get(c, 0) + 1
            out["not_live"] = len(set(cats or {}) - set(s["_live"]))
            out["by_size"] = by_size
            json.dump(out, sys.stdout, indent=1)
            print()
            return 0
        if mode == "--sizes":
            sizes = s["_sizes"]
            for size, _, _ in s["_live"].values():
                sizes[size]["live"] += 1
            json.dump({str(k): v for k, v in sorted(sizes.items())},
                      sys.stdout, indent=1)
            print()
            return 0
        del s["_live"], s["_sizes"]
        json.dump(s, sys.stdout, indent=1)
        print()
        return 0
    except BrokenPipeError:
        raise
    except (OSError, Bad, ValueError, KeyError) as e:
        sys.stderr.write("vmsdump: %s: %s\n" % (rec, e))
        return 2


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except BrokenPipeError:
        sys.stdout = None  # a reader that stopped early is not an error
        sys.exit(0)
