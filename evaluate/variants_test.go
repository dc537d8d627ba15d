package evaluate

import (
	"context"
	"math"
	"testing"

	"github.com/vaec/vaec/ir"
)

// TestVampPriorMatchesQuadrature: with a two-component mixture prior the
// importance-sampled log p(x) matches the quadrature of p(x|z)p(z), the
// ELBO (Monte Carlo KL, no closed form) lies below it, and the IWAE bound
// of 5 draws lies between the two.
func TestVampPriorMatchesQuadrature(t *testing.T) {
	m := bernoulli1D{
		a:   []float64{2.0, -1.5, 0.7, 3.0, -2.5, 1.2},
		b:   []float64{0.1, -0.3, 0.5, -1.0, 0.4, 0.0},
		qmu: 0.3, qlv: math.Log(3), // wider than the posterior: bounded weights, a small IS variance
	}
	prior, err := ir.Prior{Kind: ir.PriorVamp, Components: 2}.WithComponents([]float32{-1, 1.5}, []float32{0, -0.5}, 1)
	if err != nil {
		t.Fatal(err)
	}
	x := []float32{1, 0, 1, 1, 0, 1, 0, 1, 0, 0, 1, 0}
	n, D := 2, 6
	var exact float64
	for i := 0; i < n; i++ {
		const lo, hi, steps = -12.0, 12.0, 24001
		h := (hi - lo) / (steps - 1)
		v := make([]float64, steps)
		for s := range v {
			z := lo + h*float64(s)
			var ll float64
			for d := range m.a {
				l := m.a[d]*z + m.b[d]
				ll += float64(x[i*D+d])*l - softplus(l)
			}
			lp, err := prior.LogDensity([]float32{float32(z)})
			if err != nil {
				t.Fatal(err)
			}
			v[s] = ll + lp
		}
		exact += (LogMeanExp(v) + math.Log(float64(steps)) + math.Log(h)) / float64(n)
	}
	res, err := Run(context.Background(), m.model(), Likelihood{Kind: ir.Bernoulli}, x, n, D, Options{K: 20000, Seed: 3, Prior: prior, BoundK: 5})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("IS %.5f ± %.5f, quadrature %.5f, IWAE-5 %.5f, ELBO %.5f (KL %.5f)", res.LogPx, res.LogPxStdErr, exact, res.IWAE, res.ELBO, res.KL)
	if d := math.Abs(res.LogPx - exact); d > 0.02 {
		t.Errorf("log p(x): importance sampling %.5f, quadrature %.5f", res.LogPx, exact)
	}
	if !(res.ELBO < res.IWAE && res.IWAE < res.LogPx) || res.BoundK != 5 {
		t.Errorf("want ELBO %.5f < IWAE-5 %.5f < log p(x) %.5f (BoundK %d)", res.ELBO, res.IWAE, res.LogPx, res.BoundK)
	}
	if !(res.KL > 0) {
		t.Errorf("Monte Carlo KL %v, want > 0", res.KL)
	}
	// Without components the prior has no density: an error, not N(0, I).
	if _, err := Run(context.Background(), m.model(), Likelihood{Kind: ir.Bernoulli}, x, n, D, Options{K: 2, Prior: ir.Prior{Kind: ir.PriorVamp, Components: 2}}); err == nil {
		t.Error("a VampPrior without components evaluated")
	}
}
