#!/usr/bin/env bash
# Installs the reference side of the benchmarks (not needed by the tests):
# Debian's PyTorch, and OpenBLAS so that PyTorch does not fall back to the
# reference BLAS (Debian's torch is built with BLAS_INFO=generic and uses
# whatever libblas.so.3 the alternatives system points at: 0.5 GFLOP/s with
# the reference implementation, ~40 with OpenBLAS on this CPU).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if ! /usr/bin/python3 -c 'import torch' 2>/dev/null || [ ! -e /usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3 ]; then
	SUDO=""
	[ "$(id -u)" -eq 0 ] || SUDO=sudo
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-torch libopenblas0-pthread >/dev/null
fi
echo "bench setup: ok (torch $(/usr/bin/python3 -c 'import torch; print(torch.__version__)'))"
