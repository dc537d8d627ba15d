// Package conformance judges vaec's ONNX exports from outside the project:
// every exported model must pass the reference ONNX checker
// (onnx.checker.check_model with full_check, from Python's onnx package), and
// ONNX Runtime must compute what the training graph computes, on real MNIST
// images, within 1e-5.
//
// Besides its tests the package exports CheckAll and Python, so that other
// packages' tests put every model they export through the same checker.
// It imports nothing from vaec itself (its tests do), so any package can use
// it without an import cycle. Where the tools are missing the tests skip and
// say how to enable them; in CI these environment variables turn a missing
// tool into a failure:
//
//	VAEC_REQUIRE_ONNX_CHECKER=1   python3 with the onnx package must be present
//	VAEC_REQUIRE_ORT=1            the ONNX Runtime shared library must load
//	VAEC_ORT_LIB=/path/libonnxruntime.so.1   where it is (default: the npm
//	    install under .tools/ort at the repository root)
//	VAEC_PYTHON=/usr/bin/python3  the interpreter that has onnx
package conformance
