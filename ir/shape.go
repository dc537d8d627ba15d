package ir

import (
	"strconv"
	"strings"
)

// Shape is the per-example shape of a value: [D] for a vector, [C, H, W]
// for an image (channels first, as ONNX and PyTorch lay images out). The
// batch dimension is never part of it.
type Shape []int

// Size is the number of elements of one example (the product of the
// dimensions); 0 for an empty shape.
func (s Shape) Size() int {
	if len(s) == 0 {
		return 0
	}
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}

// String prints the shape the one way vaec prints shapes everywhere:
// "[784]", "[1, 28, 28]".
func (s Shape) String() string {
	var b strings.Builder
	b.WriteByte('[')
	for i, d := range s {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Itoa(d))
	}
	b.WriteByte(']')
	return b.String()
}

// Equal tells whether s and t have the same dimensions.
func (s Shape) Equal(t Shape) bool {
	if len(s) != len(t) {
		return false
	}
	for i := range s {
		if s[i] != t[i] {
			return false
		}
	}
	return true
}

// Clone returns a copy of s that shares no memory with it.
func (s Shape) Clone() Shape { return append(Shape(nil), s...) }

// checkedSize is Size with every dimension required in [1, limit] and the
// product at most limit; ok is false otherwise (never overflows).
func (s Shape) checkedSize(limit int) (int, bool) {
	if len(s) == 0 {
		return 0, false
	}
	n := 1
	for _, d := range s {
		if d < 1 || d > limit || n > limit/d {
			return 0, false
		}
		n *= d
	}
	return n, true
}
