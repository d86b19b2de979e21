#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Packs a vmspy recording directory into one fuzz input for
tests/fuzz/fuzz_recording.c (format at the top of that file), or unpacks one.

  pack.py REC OUT [--max-log BYTES] [--max-snap BYTES]
      meta, log.0..log.3, snap.0, snap.1 (the first two snapshots) and
      leaks, each cut to the given size (default 16384 for logs: the
      corpus stays small; the reader handles a cut log as normal input)
  pack.py REC OUT --rechunk BYTES [--max-log BYTES] [--max-snap BYTES]
      the same, but every log is first rewritten with chunks of BYTES (its
      records moved, SKIP records filling chunk tails, as the recorder
      does), its sealed chunks compressed into log.<n>.z frames (zstd
      command-line tool) and punched out (format.h "Compressed chunks"):
      inputs that reach the reader's sidecar code
  pack.py REC OUT --zsnap [...]
      snapshots compressed (format.h "Compressed snapshots"): snap.0 alone,
      snap.1 against snap.0, after the cut; without it a snapshot keeps
      the form it has in REC (a compressed one is decompressed, cut and
      compressed again the same way)
  pack.py --unpack INPUT DIR
      write the files of a fuzz input (e.g. a crash-* file) into DIR, to
      reproduce with `vmspy summary DIR`
"""
import os
import struct
import subprocess
import sys
import tempfile

NAMES = ["meta", "log.0", "log.1", "log.2", "snap.0", "snap.1", "leaks",
         "log.3", "log.0.z", "log.1.z", "log.2.z", "log.3.z"]


def varint(n):
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7f) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def fnv1a32(b):
    h = 2166136261
    for c in b:
        h = ((h ^ c) * 16777619) & 0xffffffff
    return h


def skip_record(left):
    """A SKIP record of exactly left bytes (>= 2): header byte, the body
    length as a varint padded to the bytes it needs, zero body."""
    n = 1
    while 1 + n + (left - 1 - n) != left or (left - 1 - n) >> (7 * n):
        n += 1
    v, out = left - 1 - n, bytearray([1])
    for _ in range(n - 1):
        out.append(0x80 | (v & 0x7f))
        v >>= 7
    out.append(v)
    return bytes(out) + bytes(left - 1 - n)


def rechunk(log, cs):
    """(new log, sidecar) with chunks of cs bytes, sealed ones compressed."""
    out = bytearray(log[:64])
    struct.pack_into("<Q", out, 16, cs)
    pos = 64
    while pos < len(log):
        h = log[pos]
        if not h:
            break
        if h & 0x80:  # compact header: 5-bit length
            typ, step = None, 1 + (h & 31)
        else:  # full header: type, varint length
            typ, i, ln, shift = h, pos + 1, 0, 0
            while i < len(log) and log[i] & 0x80:
                ln |= (log[i] & 0x7f) << shift
                shift += 7
                i += 1
            if i >= len(log):
                break
            ln |= log[i] << shift
            step = i + 1 - pos + ln
        if typ == 1:  # SKIP: the old chunking's
            pos += step
            continue
        if step > cs - 64 or pos + step > len(log):
            break
        if len(out) % cs + step > cs:
            out += skip_record(cs - len(out) % cs)
        out += log[pos:pos + step]
        pos += step
    out += bytes(-len(out) % cs)
    side = bytearray()
    lane, = struct.unpack_from("<I", out, 12)
    for k in range(len(out) // cs - 1):
        with tempfile.NamedTemporaryFile() as t:
            t.write(out[k * cs:(k + 1) * cs])
            t.flush()
            z = subprocess.run(["zstd", "-q", "-c", "--check", t.name],
                               stdout=subprocess.PIPE, check=True).stdout
        h = struct.pack("<4sIQIII", b"VMSZ", lane, k, cs, len(z), 0)
        side += h + struct.pack("<I", fnv1a32(h)) + z
        lo = k * cs + (4096 if k == 0 else 0)
        out[lo:(k + 1) * cs] = bytes((k + 1) * cs - lo)
    return bytes(out), bytes(side)


SNAPZ_MAGIC = 0x184D2A5B


def snap_plain(rec, name):
    """(text, was_compressed) of snapshot file name in rec."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(
        __file__)), "..", "e2e"))
    import vmsdump
    data = open(os.path.join(rec, name), "rb").read()
    z = len(data) >= 4 and struct.unpack_from("<I", data)[0] == SNAPZ_MAGIC
    return vmsdump.snap_text(rec, int(name[5:])), z


def snap_z(text, ref_text, ref_index):
    """A compressed snapshot file of text, against ref_text if not None."""
    with tempfile.TemporaryDirectory() as d:
        src, ref = os.path.join(d, "t"), os.path.join(d, "r")
        open(src, "wb").write(text)
        argv = ["zstd", "-q", "-c", "-3", "--check", src]
        if ref_text is not None:
            open(ref, "wb").write(ref_text)
            argv.append("--patch-from=" + ref)
        z = subprocess.run(argv, stdout=subprocess.PIPE, check=True).stdout
    info = b"vmspy-snapshot-z 1\nref %s\n" % (
        b"-" if ref_text is None else str(ref_index).encode())
    return struct.pack("<II", SNAPZ_MAGIC, len(info)) + info + z


def pack(rec, out, max_log, max_snap, cs=0, zsnap=False):
    blob = bytearray()
    files = {}
    zs = {}
    for name in NAMES:
        p = os.path.join(rec, name)
        if os.path.isfile(p):
            if name.startswith("snap."):
                files[name], zs[name] = snap_plain(rec, name)
            else:
                files[name] = open(p, "rb").read()
    if cs:
        for name in NAMES[1:4] + NAMES[7:8]:
            if name in files and len(files[name]) >= 64:
                files[name], files[name + ".z"] = rechunk(
                    files[name][:max_log], cs)
    for tag, name in enumerate(NAMES):
        if name not in files:
            continue
        data = files[name]
        if name.endswith(".z"):
            # Sidecar frames: whole, or the fuzzer never sees a good one.
            pass
        elif name.startswith("log.") and cs:
            pass  # rechunked: its zeros are punched chunks, keep them
        elif name.startswith("log."):
            data = data[:max_log]
            # The zero bytes past the last record carry nothing; keep a
            # few, which may be the last fields of the last record.
            n = len(data)
            data = data.rstrip(b"\0")
            data += b"\0" * min(16, n - len(data))
        elif name.startswith("snap.") and len(data) > max_snap:
            # Keep the snapshot complete: cut after the last whole smaps
            # region (its VmFlags line) that fits.
            cut = data.rfind(b"\nVmFlags:", 0, max_snap)
            nl = data.find(b"\n", cut + 1) if cut >= 0 else -1
            data = data[:nl + 1] if 0 <= nl < max_snap else data[:max_snap]
        if name.startswith("snap.") and (zsnap or zs.get(name)):
            files[name] = data  # the reference of the next one: as cut
            data = snap_z(data, files.get("snap.0") if name == "snap.1"
                          else None, 0)
        blob += bytes([tag]) + varint(len(data)) + data
    with open(out, "wb") as f:
        f.write(blob)


def unpack(inp, d):
    b = open(inp, "rb").read()
    os.makedirs(d, exist_ok=True)
    i = 0
    files = {}
    while i < len(b):
        tag = b[i] % len(NAMES)
        i += 1
        n = shift = 0
        while i < len(b) and shift < 64:
            c = b[i]
            i += 1
            n |= (c & 0x7f) << shift
            if not c & 0x80:
                break
            shift += 7
        files[NAMES[tag]] = b[i:i + n]
        i += n
    for name, data in files.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)


def main(argv):
    if len(argv) >= 4 and argv[1] == "--unpack":
        unpack(argv[2], argv[3])
        return 0
    if len(argv) < 3:
        sys.stderr.write(__doc__)
        return 2
    max_log, max_snap, cs, zsnap = 16384, 16384, 0, False
    args = argv[3:]
    while args:
        if args[0] == "--rechunk":
            cs = int(args[1])
        elif args[0] == "--max-log":
            max_log = int(args[1])
        elif args[0] == "--max-snap":
            max_snap = int(args[1])
        elif args[0] == "--zsnap":
            zsnap = True
            args = args[1:]
            continue
        else:
            sys.stderr.write(__doc__)
            return 2
        args = args[2:]
    pack(argv[1], argv[2], max_log, max_snap, cs, zsnap)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
