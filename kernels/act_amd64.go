package kernels

//go:noescape
func biasActAVX512(x, bias *float32, n int, hasBias bool, act int, alpha float32)

// biasActRow sets x[j] = act(x[j] + bias[j]) (bias may be nil) and reports
// whether it handled act; the caller falls back to Go otherwise.
func biasActRow(x, bias []float32, act Act, alpha float32) bool {
	if !useAVX512Act || act == Softplus || len(x) == 0 {
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
