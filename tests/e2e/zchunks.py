#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Compressed log chunks (format.h "Compressed chunks") for the tests.

  zchunks.py frames LOG        one line per frame of LOG.z: chunk offset
                               comp_len (offset of the frame header)
  zchunks.py disk LOG          "allocated apparent": bytes of disk blocks
                               and file size of LOG
  zchunks.py twin REC OUT [--keep-z] [--except LOG:K]
                               copy recording REC to OUT with every
                               compressed chunk written back into its log
                               (chunk K of LOG left punched, with
                               --except); the sidecars are dropped, or kept
                               with --keep-z (a recorder that died between
                               writing a frame and punching its chunk)
  zchunks.py mangle LOG.z HOW  damage a sidecar in place: HOW is
                               flip-payload (a byte of the second frame's
                               zstd data), truncate (cut the last frame in
                               half), lie (second frame's length made huge,
                               header checksum fixed), duplicate (append a
                               copy of the second frame), garbage (random
                               bytes after the second frame)
"""
import os
import shutil
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmsdump  # noqa: E402


def frames(zpath):
    out = []
    with open(zpath, "rb") as f:
        z = f.read()
    pos = 0
    while pos + 32 <= len(z):
        magic, lane, k, raw, comp, res, check = struct.unpack_from(
            "<4sIQIIII", z, pos)
        if magic != b"VMSZ" or pos + 32 + comp > len(z):
            break
        out.append((k, pos, comp))
        pos += 32 + comp
    return out


def twin(rec, out, keep_z, except_k):
    shutil.copytree(rec, out)
    for name in os.listdir(out):
        if not (name.startswith("log.") and name[4:].isdigit()):
            continue
        p = os.path.join(out, name)
        with open(p, "rb") as f:
            b = bytearray(f.read())
        lane, chunk = struct.unpack_from("<IQ", b, 12)
        orig = bytes(b)
        vmsdump.unpack_chunks(p, b, lane, chunk)
        if except_k is not None and name == except_k[0]:
            lo = except_k[1] * chunk
            b[lo:lo + chunk] = orig[lo:lo + chunk]
        with open(p, "wb") as f:
            f.write(b)
        if not keep_z and os.path.exists(p + ".z"):
            os.unlink(p + ".z")


def mangle(zpath, how):
    with open(zpath, "rb") as f:
        z = bytearray(f.read())
    fr = frames(zpath)
    k, pos, comp = fr[1]  # chunk 1's frame: chunk 0 keeps its header page
    if how == "flip-payload":
        z[pos + 32 + comp // 2] ^= 0x55
    elif how == "truncate":
        k, pos, comp = fr[-1]
        z = z[:pos + 32 + comp // 2]
    elif how == "lie":
        struct.pack_into("<I", z, pos + 20, 0x7fffffff)
        struct.pack_into("<I", z, pos + 28, vmsdump.fnv1a32(z[pos:pos + 28]))
    elif how == "duplicate":
        z += z[pos:pos + 32 + comp]
    elif how == "garbage":
        at = pos + 32 + comp
        z[at:at] = os.urandom(777)
    else:
        raise SystemExit("zchunks.py: unknown mangling %r" % how)
    with open(zpath, "wb") as f:
        f.write(z)


def main(argv):
    if len(argv) >= 3 and argv[1] == "frames":
        for k, pos, comp in frames(argv[2] + ".z"):
            print(k, pos, comp)
    elif len(argv) >= 3 and argv[1] == "disk":
        st = os.stat(argv[2])
        print(st.st_blocks * 512, st.st_size)
    elif len(argv) >= 4 and argv[1] == "twin":
        ex = None
        if "--except" in argv:
            log, _, k = argv[argv.index("--except") + 1].partition(":")
            ex = (log, int(k))
        twin(argv[2], argv[3], "--keep-z" in argv, ex)
    elif len(argv) >= 4 and argv[1] == "mangle":
        mangle(argv[2], argv[3])
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
