// Package ort runs ONNX models with ONNX Runtime, the outside judge that
// vaec verify and the runtime's benchmarks compare against. It wraps
// github.com/yalue/onnxruntime_go, which loads the ONNX Runtime shared
// library at run time (cgo + dlopen); without cgo, or without the library,
// every function returns ErrUnavailable and callers skip ONNX Runtime with
// a message saying so.
//
// The library is found, in order: the path given by the caller (a flag),
// $VAEC_ORT_LIB, or the npm package onnxruntime-node installed under
// .tools/ort in the repository, searched upward from the working directory
// and then from the executable's directory.
package ort

import (
	"errors"
	"os"
	"path/filepath"
)

// ErrUnavailable reports that ONNX Runtime cannot be used here.
var ErrUnavailable = errors.New("ONNX Runtime is not available")

// EnvLib names the environment variable that points at the library.
const EnvLib = "VAEC_ORT_LIB"

// EnvRequire, when "1", makes tests fail instead of skip without ONNX Runtime.
const EnvRequire = "VAEC_REQUIRE_ORT"

// npmLib is where `npm install --ignore-scripts onnxruntime-node@1.24.3`
// in .tools/ort puts the library.
const npmLib = ".tools/ort/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime.so.1"

// FindLibrary returns the library path to use: flag when not empty, else
// $VAEC_ORT_LIB, else the npm install found from the working directory up.
// It returns "" when none exists.
func FindLibrary(flag string) string {
	for _, p := range []string{flag, os.Getenv(EnvLib)} {
		if p != "" {
			return p
		}
	}
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if exe, err := os.Executable(); err == nil {
		starts = append(starts, filepath.Dir(exe))
	}
	for _, dir := range starts {
		if p := findUp(dir); p != "" {
			return p
		}
	}
	return ""
}

// findUp looks for npmLib in dir and its parents.
func findUp(dir string) string {
	for {
		p := filepath.Join(dir, npmLib)
		if _, err := os.Stat(p); err == nil {
			return p
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}
