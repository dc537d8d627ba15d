package kernels

//go:noescape
func gemvStrip64AVX512(t, x, b *float32, k int)

//go:noescape
func gemvStrip16AVX512(t, x, b *float32, k int)

// useAVX512Strip is a variable so that tests can compare the vector strip
// kernels with gemvStripGo on the same machine.
var useAVX512Strip = hasAVX512

// gemvStrip sets t[0:w] = x[0:k]·b, b a [k][w] strip with w 64 or 16.
func gemvStrip(t, x, b []float32, k, w int) {
	if !useAVX512Strip || k == 0 {
		gemvStripGo(t, x, b, k, w)
		return
	}
	_ = t[w-1]
	_ = x[k-1]
	_ = b[k*w-1]
	if w == 64 {
		gemvStrip64AVX512(&t[0], &x[0], &b[0], k)
	} else {
		gemvStrip16AVX512(&t[0], &x[0], &b[0], k)
	}
}
