//go:build !cgo

package main

import (
	"errors"
	"io"
)

// inferMain needs ONNX Runtime, which is loaded through cgo.
func inferMain(args []string, out io.Writer) error {
	return errors.New("infer compares with ONNX Runtime, which needs cgo: build with CGO_ENABLED=1 and a C compiler")
}
