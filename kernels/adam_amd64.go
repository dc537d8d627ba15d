package kernels

//go:noescape
func adamAVX512(p, grad, m, v *float32, n int, consts *[9]float32)

//go:noescape
func adamSumAVX512(p, g0, g1, m, v *float32, n int, consts *[9]float32)

func adamVec(p, g, m, v []float32, h *AdamParams) bool {
	if !useAVX512Act {
		return false
	}
	c := [9]float32{h.GradScale, h.WeightDecay, h.Beta1, 1 - h.Beta1, h.Beta2, 1 - h.Beta2, h.StepSize, h.SqrtBC2, h.Eps}
	adamAVX512(&p[0], &g[0], &m[0], &v[0], len(p), &c)
	return true
}

func adamSumVec(p, g0, g1, m, v []float32, h *AdamParams) bool {
	if !useAVX512Act {
		return false
	}
	c := [9]float32{h.GradScale, h.WeightDecay, h.Beta1, 1 - h.Beta1, h.Beta2, 1 - h.Beta2, h.StepSize, h.SqrtBC2, h.Eps}
	adamSumAVX512(&p[0], &g0[0], &g1[0], &m[0], &v[0], len(p), &c)
	return true
}
