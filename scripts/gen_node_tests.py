#!/usr/bin/python3
"""Writes ONNX's backend node tests (model.onnx plus test_data_set_0/*.pb per
test) from the generators shipped in Debian's python3-onnx, which does not
ship the generated data itself.

Usage: /usr/bin/python3 scripts/gen_node_tests.py [OUTPUT_DIR]
(default .tools/onnx-node-tests; the runtime's node-suite test reads it).

onnx 1.12's generators still use numpy aliases that numpy 1.24 removed
(np.float, np.int, ...); they are set back to the builtins they named
before onnx is imported. A STAMP file records the onnx version, so a
second run with the same onnx does nothing.
"""
import argparse
import builtins
import os
import sys

import warnings

import numpy as np

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # numpy warns on every probe of a removed alias
    for _alias in ("float", "int", "bool", "object", "str", "complex"):
        if not hasattr(np, _alias):
            setattr(np, _alias, getattr(builtins, _alias))

import onnx  # noqa: E402  (after the aliases)
from onnx.backend.test import cmd_tools  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("output", nargs="?", default=".tools/onnx-node-tests")
    args = p.parse_args()
    stamp = os.path.join(args.output, "STAMP")
    want = f"onnx {onnx.__version__}\n"
    if os.path.exists(stamp):
        with open(stamp) as f:
            if f.read() == want:
                return 0
    os.makedirs(args.output, exist_ok=True)
    # Node tests only: the "real" model tests are URLs to download.
    cmd_tools.model_test.collect_testcases = lambda *a, **k: []
    cmd_tools.generate_data(argparse.Namespace(output=args.output, op_type=None))
    with open(stamp, "w") as f:
        f.write(want)
    n = len(os.listdir(os.path.join(args.output, "node")))
    print(f"gen_node_tests: {n} node tests in {args.output}/node (onnx {onnx.__version__})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
