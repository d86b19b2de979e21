#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Packs a vmspy recording directory into one fuzz input for
tests/fuzz/fuzz_recording.c (format at the top of that file), or unpacks one.

  pack.py REC OUT [--max-log BYTES] [--max-snap BYTES]
      meta, log.0..log.3, snap.0, snap.1 (the first two snapshots) and
      leaks, each cut to the given size (default 16384 for logs: the
      corpus stays small; the reader handles a cut log as normal input)
  pack.py --unpack INPUT DIR
      write the files of a fuzz input (e.g. a crash-* file) into DIR, to
      reproduce with `vmspy summary DIR`
"""
import os
import sys

NAMES = ["meta", "log.0", "log.1", "log.2", "snap.0", "snap.1", "leaks",
         "log.3"]


def varint(n):
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7f) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def pack(rec, out, max_log, max_snap):
    blob = bytearray()
    for tag, name in enumerate(NAMES):
        p = os.path.join(rec, name)
        if not os.path.isfile(p):
            continue
        data = open(p, "rb").read()
        if name.startswith("log."):
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
        blob += bytes([tag]) + varint(len(data)) + data
    with open(out, "wb") as f:
        f.write(blob)


def unpack(inp, d):
    b = open(inp, "rb").read()
    os.makedirs(d, exist_ok=True)
    i = 0
    files = {}
    while i < len(b):
        tag = b[i] % 8
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
    max_log, max_snap = 16384, 16384
    args = argv[3:]
    while args:
        if args[0] == "--max-log":
            max_log = int(args[1])
        elif args[0] == "--max-snap":
            max_snap = int(args[1])
        else:
            sys.stderr.write(__doc__)
            return 2
        args = args[2:]
    pack(argv[1], argv[2], max_log, max_snap)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
