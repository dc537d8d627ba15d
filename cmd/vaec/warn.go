package main

import (
	"fmt"
	"io"

	"github.com/vaec/vaec/compiler"
	"github.com/vaec/vaec/ir"
)

// compileSpec compiles a spec and prints its warnings (positioned, like
// errors, but the build goes on) to w.
func compileSpec(w io.Writer, filename string, src []byte) (*ir.Model, error) {
	m, warns, err := compiler.CompileWarnings(filename, src)
	if err != nil {
		return nil, err
	}
	for _, e := range warns {
		fmt.Fprintln(w, "warning:", e.Error())
	}
	return m, nil
}
