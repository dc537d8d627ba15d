package kernels

import "fmt"

// BernoulliRow returns the negative log-likelihood of one row of binary
// (or [0, 1]) targets x under logits l, Σ_j softplus(l_j) − x_j·l_j, each
// term formed in float64 from the float32 softplus, and, when g is not
// nil, writes its gradient g_j = (sigmoid(l_j) − x_j)·scale. It is the
// whole Bernoulli reconstruction term of a VAE's loss in one pass over the
// row (the softplus and sigmoid of AddBiasAct, 16 lanes at a time with
// AVX-512), where separate passes would write and re-read two row-sized
// temporaries.
//
// g is bit for bit what AddBiasAct(Sigmoid) followed by (g_j − x_j)·scale
// in float32 gives. The sum is accumulated in 16 lanes, element j into
// lane j mod 16 in order of j, the lanes then added in lane order, on
// every path, so the result does not depend on the CPU's vector width.
// BernoulliRow panics if x or a non-nil g is shorter than l.
func BernoulliRow(l, x, g []float32, scale float32) float64 {
	n := len(l)
	if len(x) < n || g != nil && len(g) < n {
		panic(fmt.Sprintf("kernels: BernoulliRow: l has %d elements, x %d, g %d", n, len(x), len(g)))
	}
	var acc [16]float64
	if n > 0 && !bernoulliVec(l, x[:n], g, scale, &acc) {
		bernoulliGo(l, x[:n], g, scale, &acc)
	}
	var s float64
	for _, v := range acc {
		s += v
	}
	return s
}

// bernoulliGo is BernoulliRow's portable path: AddBiasAct's activations
// on blocks of 64 elements held on the stack.
func bernoulliGo(l, x, g []float32, scale float32, acc *[16]float64) {
	var sp [64]float32
	for lo := 0; lo < len(l); lo += len(sp) {
		hi := min(len(l), lo+len(sp))
		s := sp[:hi-lo]
		copy(s, l[lo:hi])
		AddBiasAct(s, 1, len(s), nil, Softplus, 0)
		for j := lo; j < hi; j++ {
			acc[j%16] += float64(s[j-lo]) - float64(x[j])*float64(l[j])
		}
		if g != nil {
			gb := g[lo:hi]
			copy(gb, l[lo:hi])
			AddBiasAct(gb, 1, len(gb), nil, Sigmoid, 0)
			for j := range gb {
				gb[j] = (gb[j] - x[lo+j]) * scale
			}
		}
	}
}
