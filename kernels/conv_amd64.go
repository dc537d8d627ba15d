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

//go:noescape
func convTile6x64AVX512(x *float32, rows *int, taps *int, ntaps, c int, w *float32, out *float32, orows *int, ncols int, flags int, bias *float32)

// hasConvTile reports whether PackedConv's direct path (convTile) runs on
// this CPU; a variable so that tests can compare it with the other path.
// NewPackedConv reads it.
var hasConvTile = hasAVX512

// convTile computes one tile of 6 output pixels × ncols (≤ 64) channels
// of a direct convolution over the taps given (see convTile6x64AVX512):
// pixel r's sums go to out[orows[r]/4:], continued from the values there
// with tileLoad, the bias added (tileBias: bias[:ncols]) and ReLU applied
// (tileReLU) before the store. The caller guarantees every access is in
// bounds.
func convTile(x []float32, rows []int, taps []int, c int, w []float32, out []float32, orows []int, ncols int, flags int, bias []float32) {
	bp := &w[0] // any valid pointer when there is no bias
	if flags&tileBias != 0 {
		bp = &bias[0]
	}
	convTile6x64AVX512(&x[0], &rows[0], &taps[0], len(taps), c, &w[0], &out[0], &orows[0], ncols, flags, bp)
}
