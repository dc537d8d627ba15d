#!/usr/bin/env python3
"""Writes rgb-32x24.npy.gz: 1,000 synthetic colour images, [N, 3, 32, 24]
uint8 (channels first, 32 rows, 24 columns), for the 3-channel non-square
conv spec testdata/specs/conv-rgb.yaml. Each image is a vertical colour
ramp with one filled rectangle of a random colour; pure Python (no numpy),
seeded, so the bytes are the same on every run."""
import gzip
import random

N, C, H, W = 1000, 3, 32, 24


def header(shape):
    d = "{'descr': '|u1', 'fortran_order': False, 'shape': (%s), }" % ", ".join(str(s) for s in shape)
    # magic, version 1.0, header length; the header padded to 64 bytes with a newline
    pad = 64 - (10 + len(d) + 1) % 64
    d = d + " " * pad + "\n"
    return b"\x93NUMPY\x01\x00" + len(d).to_bytes(2, "little") + d.encode("latin1")


def main():
    rng = random.Random(11)
    out = bytearray(header((N, C, H, W)))
    for _ in range(N):
        base = [rng.randrange(0, 128) for _ in range(C)]
        col = [rng.randrange(64, 256) for _ in range(C)]
        h, w = rng.randrange(6, 20), rng.randrange(5, 16)
        top, left = rng.randrange(0, H - h), rng.randrange(0, W - w)
        for c in range(C):
            for i in range(H):
                for j in range(W):
                    inside = top <= i < top + h and left <= j < left + w
                    out.append(col[c] if inside else (base[c] + 2 * i) % 256)
    with open("rgb-32x24.npy.gz", "wb") as f:
        # mtime 0: the same bytes on every run
        with gzip.GzipFile(fileobj=f, mode="wb", mtime=0) as g:
            g.write(bytes(out))


if __name__ == "__main__":
    main()
