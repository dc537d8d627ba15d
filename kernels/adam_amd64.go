package kernels

//go:noescape
func adamAVX512(p, grad, m, v *float32, n int, consts *[11]float32)

//go:noescape
func adamSumAVX512(p, g0, g1, m, v *float32, n int, consts *[11]float32)

func adamVec(p, g, m, v []float32, h *AdamParams) bool {
	if !useAVX512Act {
		return false
	}
	c := adamConsts(h)
	adamAVX512(&p[0], &g[0], &m[0], &v[0], len(p), &c)
	return true
}

func adamSumVec(p, g0, g1, m, v []float32, h *AdamParams) bool {
	if !useAVX512Act {
		return false
	}
	c := adamConsts(h)
	adamSumAVX512(&p[0], &g0[0], &g1[0], &m[0], &v[0], len(p), &c)
	return true
}
