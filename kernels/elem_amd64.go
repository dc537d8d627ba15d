package kernels

//go:noescape
func scalarOpAVX512(dst, x *float32, n int, op int, c float32)

// scalarVec is ApplyScalar's vector path; len(dst) > 0 and x is long
// enough (checked by the caller).
func scalarVec(dst, x []float32, op ScalarOp, c float32) bool {
	if !useAVX512Act {
		return false
	}
	scalarOpAVX512(&dst[0], &x[0], len(dst), int(op), c)
	return true
}
