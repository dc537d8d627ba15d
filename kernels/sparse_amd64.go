package kernels

// anyNonFinite reports whether b holds an infinity or NaN.
func anyNonFinite(b []float32) bool {
	n := len(b) &^ 15
	if hasAVX512 && n > 0 && nonFiniteAVX512(&b[0], n) {
		return true
	}
	if !hasAVX512 {
		n = 0
	}
	return anyNonFiniteGo(b[n:])
}
