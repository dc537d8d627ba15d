//go:build !amd64

package kernels

var useAVX512Strip = false

// gemvStrip sets t[0:w] = x[0:k]·b, b a [k][w] strip.
func gemvStrip(t, x, b []float32, k, w int) { gemvStripGo(t, x, b, k, w) }
