//go:build !amd64

package kernels

// anyNonFinite reports whether b holds an infinity or NaN.
func anyNonFinite(b []float32) bool { return anyNonFiniteGo(b) }
