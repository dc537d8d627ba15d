package compiler

import "github.com/vaec/vaec/ir"

// Pos is a position in a spec file; every Error carries one.
type Pos = ir.Pos
