#!/usr/bin/env python3
"""Writes the small data fixtures of this directory (stdlib only, no NumPy).

Every file holds the same 6 records of 2x2 values, value j of record i being
4*i + j, and labels i % 3, so that a test can check that all formats load to
the same set. Written independently of the Go readers, from the format
descriptions (IDX: yann.lecun.com/exdb/mnist; NPY: numpy.lib.format).

Run from this directory: python3 gen.py
"""
import gzip
import struct

N, SHAPE = 6, (2, 2)
D = SHAPE[0] * SHAPE[1]
VALUES = [4 * i + j for i in range(N) for j in range(D)]
LABELS = [i % 3 for i in range(N)]


def idx(code, fmt, shape, values):
    head = bytes([0, 0, code, len(shape)]) + b"".join(struct.pack(">I", d) for d in shape)
    return head + struct.pack(">%d%s" % (len(values), fmt), *values)


def npy(major, descr, shape, values):
    dims = ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "")
    header = "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }" % (descr, dims)
    pre = 10 if major == 1 else 12
    header += " " * (-(pre + len(header) + 1) % 64) + "\n"
    lenfmt = "<H" if major == 1 else "<I"
    order = ">" if descr[0] == ">" else "<"
    return (b"\x93NUMPY" + bytes([major, 0]) + struct.pack(lenfmt, len(header)) + header.encode("latin1")
            + struct.pack(order + "%d%s" % (len(values), FMT[descr[1:]]), *values))


FMT = {"f4": "f", "f8": "d", "u1": "B", "i8": "q", "i2": "h"}


def write(name, data, gz=False):
    if gz:
        data = gzip.compress(data, mtime=0)
    with open(name, "wb") as f:
        f.write(data)


write("tiny-idx3-ubyte.gz", idx(0x08, "B", (N,) + SHAPE, VALUES), gz=True)
write("tiny-idx1-ubyte", idx(0x08, "B", (N,), LABELS))
write("tiny-f8-idx3.idx", idx(0x0E, "d", (N,) + SHAPE, VALUES))
write("tiny-f4.npy", npy(1, "<f4", (N,) + SHAPE, VALUES))
write("tiny-be-f8.npy", npy(2, ">f8", (N, D), VALUES))
write("tiny-i2.npy.gz", npy(3, "<i2", (N,) + SHAPE, VALUES), gz=True)
write("tiny-labels.npy", npy(1, "<i8", (N,), LABELS))
write("tiny.csv", ("a,b,c,d\n" + "".join(",".join(str(v) for v in VALUES[i * D:(i + 1) * D]) + "\n" for i in range(N))).encode())
write("tiny-labels.csv", ("label\n" + "".join("%d\n" % l for l in LABELS)).encode())
