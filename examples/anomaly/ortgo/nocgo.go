//go:build !cgo

// Command ortgo needs cgo: ONNX Runtime is a C library.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "ortgo: built without cgo; ONNX Runtime's Go binding needs it (CGO_ENABLED=1)")
	os.Exit(1)
}
