package kernels

import "fmt"

// ScalarOp is an elementwise operation between a row and one value.
type ScalarOp int

const (
	AddScalar  ScalarOp = iota // x + c
	SubScalar                  // x − c
	MulScalar                  // x · c
	DivScalar                  // x / c
	RSubScalar                 // c − x
	RDivScalar                 // c / x
)

// ApplyScalar sets dst[j] = x[j] op c for every j of dst, each result one
// correctly rounded float32 operation, so the vector path (16 lanes with
// AVX-512) and the Go loop give the same bits. It is the arithmetic of
// ONNX's Add, Sub, Mul and Div with a scalar operand (an input's scaling,
// a decoder's output turned back into data units) at memory speed rather
// than one element per cycle. dst and x may be the same slice; ApplyScalar
// panics if x is shorter than dst or op is unknown.
func ApplyScalar(dst, x []float32, op ScalarOp, c float32) {
	if len(x) < len(dst) {
		panic(fmt.Sprintf("kernels: ApplyScalar: dst has %d elements, x %d", len(dst), len(x)))
	}
	if op < AddScalar || op > RDivScalar {
		panic(fmt.Sprintf("kernels: ApplyScalar: unknown op %d", op))
	}
	if len(dst) == 0 || scalarVec(dst, x, op, c) {
		return
	}
	x = x[:len(dst)]
	switch op {
	case AddScalar:
		for j := range dst {
			dst[j] = x[j] + c
		}
	case SubScalar:
		for j := range dst {
			dst[j] = x[j] - c
		}
	case MulScalar:
		for j := range dst {
			dst[j] = x[j] * c
		}
	case DivScalar:
		for j := range dst {
			dst[j] = x[j] / c
		}
	case RSubScalar:
		for j := range dst {
			dst[j] = c - x[j]
		}
	case RDivScalar:
		for j := range dst {
			dst[j] = c / x[j]
		}
	}
}
