#!/usr/bin/env bash
# Installs what vaec's tests need on a fresh Debian machine:
#   - python3-onnx (the reference onnx checker) and protobuf-compiler (go generate),
#   - ONNX Runtime's shared library, from the npm package onnxruntime-node
#     (--ignore-scripts: its install script would try to download CUDA files),
#   - the Go modules,
#   - ONNX's backend node tests (scripts/gen_node_tests.py → .tools/onnx-node-tests).
# Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."

ORT_VERSION=1.24.3
ORT_DIR=.tools/ort
ORT_LIB=$ORT_DIR/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime.so.1

need_apt=()
/usr/bin/python3 -c 'import onnx' 2>/dev/null || need_apt+=(python3-onnx)
command -v protoc >/dev/null || need_apt+=(protobuf-compiler)
if [ ${#need_apt[@]} -gt 0 ]; then
	echo "setup: apt-get install ${need_apt[*]}"
	SUDO=""
	[ "$(id -u)" -eq 0 ] || SUDO=sudo
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if [ ! -f "$ORT_LIB" ]; then
	echo "setup: npm install onnxruntime-node@$ORT_VERSION (library only)"
	mkdir -p "$ORT_DIR"
	(cd "$ORT_DIR" && npm install --silent --no-audit --no-fund --ignore-scripts "onnxruntime-node@$ORT_VERSION" >/dev/null)
fi

go mod download

# ONNX's backend node tests, which runtime/nodesuite runs: generated from the
# onnx package's own generators (a few seconds; nothing when up to date).
/usr/bin/python3 scripts/gen_node_tests.py .tools/onnx-node-tests
echo "setup: ok (onnx checker: $(/usr/bin/python3 -c 'import onnx; print(onnx.__version__)'), ONNX Runtime: $ORT_LIB)"
