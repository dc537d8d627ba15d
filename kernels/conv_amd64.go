package kernels

//go:noescape
func addVecAVX512(dst, src *float32, n int)

// useAVX512Add is a variable so that tests can compare the vector path
// with the Go one on the same machine.
var useAVX512Add = hasAVX512

// addVec sets dst[i] += src[i] for i < len(src) with AVX-512 and reports
// whether it did; len(dst) >= len(src) is the caller's to ensure.
func addVec(dst, src []float32) bool {
	if !useAVX512Add || len(src) == 0 {
		return useAVX512Add
	}
	_ = dst[len(src)-1]
	addVecAVX512(&dst[0], &src[0], len(src))
	return true
}
