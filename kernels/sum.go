package kernels

import "fmt"

// AddTo adds src to dst element by element: dst[j] += src[j] for every j
// of dst. Each sum is one correctly rounded float32 addition, so the
// vector path (the convolutions' addRun, 16 lanes at a time with AVX-512)
// and the Go loop give the same bits. It is the reduction of a
// data-parallel training step: the shards' gradients added in a fixed
// order. AddTo panics if src is shorter than dst.
func AddTo(dst, src []float32) {
	if len(src) < len(dst) {
		panic(fmt.Sprintf("kernels: AddTo: dst has %d elements, src %d", len(dst), len(src)))
	}
	addRun(dst, src[:len(dst)])
}
