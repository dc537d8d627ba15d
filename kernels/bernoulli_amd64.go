package kernels

//go:noescape
func bernoulliAVX512(l, x, grad *float32, n int, hasG bool, scale float32, acc *[16]float64)

// bernoulliVec is BernoulliRow's vector path. Lengths are checked by the
// caller; len(l) > 0.
func bernoulliVec(l, x, g []float32, scale float32, acc *[16]float64) bool {
	if !useAVX512Act {
		return false
	}
	gp := &l[0] // any valid pointer when there is no gradient
	if g != nil {
		gp = &g[0]
	}
	bernoulliAVX512(&l[0], &x[0], gp, len(l), g != nil, scale, acc)
	return true
}
