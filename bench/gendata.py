# SPDX-License-Identifier: MIT
"""Writes the deterministic input for the xz workload: text made of words
from a fixed vocabulary with an LCG, so it compresses like real text
(about 3-4x), not like zeros or noise.  Usage: gendata.py FILE MIB"""
import sys


def main():
    path, mib = sys.argv[1], int(sys.argv[2])
    vocab = [("w%x" % (i * 2654435761 % 99991)) * (1 + i % 3) for i in range(4096)]
    x = 12345
    out = []
    size = 0
    while size < mib << 20:
        words = []
        for _ in range(12):
            x = (x * 6364136223846793005 + 1442695040888963407) & (2**64 - 1)
            words.append(vocab[(x >> 33) % 4096 if (x >> 60) else (x >> 40) % 64])
        line = " ".join(words) + "\n"
        out.append(line)
        size += len(line)
    with open(path, "w") as f:
        f.write("".join(out))


if __name__ == "__main__":
    main()
