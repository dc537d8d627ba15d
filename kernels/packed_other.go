//go:build !amd64

package kernels

var useAVX512Strip = false

// gemvStrip sets t[0:w] = x[0:k]·b, b a [k][w] strip.
func gemvStrip(t, x, b []float32, k, w int) { gemvStripGo(t, x, b, k, w) }

// copyPanels48 copies n pieces of 48 floats from s (consecutive) to d,
// dstride floats apart.
func copyPanels48(d []float32, dstride int, s []float32, n int) {
	for i := range n {
		copy(d[i*dstride:i*dstride+48], s[i*48:i*48+48])
	}
}
