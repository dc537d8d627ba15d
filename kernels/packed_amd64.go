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

//go:noescape
func copyPanels(d *float32, dstride int, s *float32, n int)

// copyPanels48 copies n pieces of 48 floats from s (consecutive) to d,
// dstride floats apart. Only the AVX-512 kernel has 48-wide panels.
func copyPanels48(d []float32, dstride int, s []float32, n int) {
	_ = d[(n-1)*dstride+47]
	_ = s[n*48-1]
	copyPanels(&d[0], dstride, &s[0], n)
}
