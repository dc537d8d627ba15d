package kernels

//go:noescape
func biasActAVX512(x, bias *float32, n int, hasBias bool, act int, alpha float32)

// biasActRow sets x[j] = act(x[j] + bias[j]) (bias may be nil) and reports
// whether it handled act; the caller falls back to Go otherwise.
func biasActRow(x, bias []float32, act Act, alpha float32) bool {
	if !useAVX512Act || len(x) == 0 {
		return false
	}
	bp := &x[0] // any valid pointer when there is no bias
	if bias != nil {
		bp = &bias[:len(x)][0]
	}
	biasActAVX512(&x[0], bp, len(x), bias != nil, int(act), alpha)
	return true
}

// useAVX512Act is a variable so that tests can compare the vector path with
// the Go one on the same machine.
var useAVX512Act = hasAVX512

//go:noescape
func actGradAVX512(dx, dy, y *float32, n int, act int, alpha float32)

//go:noescape
func colSumAVX512(dst, src *float32, m, n int)

// actGradVec is ActGrad's vector path; it reports whether it handled act.
// Lengths are checked by the caller.
func actGradVec(dx, dy, y []float32, act Act, alpha float32) bool {
	if !useAVX512Act || act == Linear || len(dy) == 0 {
		return false
	}
	actGradAVX512(&dx[0], &dy[0], &y[0], len(dy), int(act), alpha)
	return true
}

// colSumVec is ColSum's vector path. Lengths are checked by the caller.
func colSumVec(dst, src []float32, m, n int) bool {
	if !useAVX512Act || n == 0 {
		return false
	}
	if m == 0 {
		clear(dst[:n])
		return true
	}
	colSumAVX512(&dst[0], &src[0], m, n)
	return true
}
