// Package dataset reads training data (IDX, gzip IDX, NPY, CSV) into float32
// matrices scaled as the spec says.
package dataset

import "github.com/vaec/vaec/compiler"

// Set is N examples of D features each, row-major, already scaled.
type Set struct {
	X      []float32 // len N*D
	N, D   int
	Labels []int // len N, or nil when the source has no labels
}

// Load reads src, checks that each record has in.Size features, applies the
// scaling x = raw*in.Scale + in.Offset and the record range of src.
func Load(src compiler.Source, in compiler.Input) (*Set, error) {
	panic("dataset.Load: not implemented yet") // replaced by the dataset implementation
}
