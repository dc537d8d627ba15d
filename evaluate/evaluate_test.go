package evaluate

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/vaec/vaec/ir"
)

// funcModel plugs plain Go functions in as a Model.
type funcModel struct {
	enc func(x []float32, n int) ([]float32, []float32, error)
	dec func(z []float32, n int) (Decoded, error)
}

func (f funcModel) Encode(x []float32, n int) ([]float32, []float32, error) { return f.enc(x, n) }
func (f funcModel) Decode(z []float32, n int) (Decoded, error)              { return f.dec(z, n) }

// bernoulli1D is a VAE with a 1-dimensional latent space and a linear
// Bernoulli decoder, logits_d = a_d·z + b_d, whose exact log p(x) is a 1-D
// integral the test computes by quadrature.
type bernoulli1D struct {
	a, b []float64
	// q(z|x) = N(qmu, exp(qlv)) for every x: deliberately not the posterior,
	// so that importance sampling has real work to do.
	qmu, qlv float64
}

func (m bernoulli1D) model() Model {
	D := len(m.a)
	return funcModel{
		enc: func(x []float32, n int) ([]float32, []float32, error) {
			mu, lv := make([]float32, n), make([]float32, n)
			for i := range mu {
				// Shift the mean a little with the data so examples differ.
				var s float64
				for _, v := range x[i*D : (i+1)*D] {
					s += float64(v)
				}
				mu[i] = float32(m.qmu + 0.2*(s-float64(D)/2))
				lv[i] = float32(m.qlv)
			}
			return mu, lv, nil
		},
		dec: func(z []float32, n int) (Decoded, error) {
			l := make([]float32, n*D)
			for i := 0; i < n; i++ {
				for d := 0; d < D; d++ {
					l[i*D+d] = float32(m.a[d]*float64(z[i]) + m.b[d])
				}
			}
			return Decoded{Logits: l}, nil
		},
	}
}

// exactLogPx integrates p(x|z)p(z) over z on a fine grid (trapezoid rule
// in log space).
func (m bernoulli1D) exactLogPx(x []float32) float64 {
	const lo, hi, steps = -12.0, 12.0, 24001
	h := (hi - lo) / (steps - 1)
	v := make([]float64, steps)
	for s := range v {
		z := lo + h*float64(s)
		var ll float64
		for d := range m.a {
			l := m.a[d]*z + m.b[d]
			ll += float64(x[d])*l - softplus(l)
		}
		v[s] = ll - 0.5*(math.Log(2*math.Pi)+z*z)
		if s == 0 || s == steps-1 {
			v[s] += math.Log(0.5)
		}
	}
	// Σ h·f = exp(log h + log Σ f); LogMeanExp gives log(Σ f / steps).
	return LogMeanExp(v) + math.Log(float64(steps)) + math.Log(h)
}

func TestImportanceSamplingMatchesQuadrature(t *testing.T) {
	m := bernoulli1D{
		a:   []float64{2.0, -1.5, 0.7, 3.0, -2.5, 1.2},
		b:   []float64{0.1, -0.3, 0.5, -1.0, 0.4, 0.0},
		qmu: 0.3, qlv: math.Log(0.5),
	}
	x := []float32{
		1, 0, 1, 1, 0, 1,
		0, 1, 0, 0, 1, 0,
		1, 1, 1, 0, 0, 1,
	}
	n, D := 3, 6
	var exact float64
	for i := 0; i < n; i++ {
		exact += m.exactLogPx(x[i*D:(i+1)*D]) / float64(n)
	}
	res, err := Run(context.Background(), m.model(), Likelihood{Kind: ir.Bernoulli}, x, n, D, Options{K: 20000, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("IS %.5f ± %.5f, quadrature %.5f, ELBO %.5f", res.LogPx, res.LogPxStdErr, exact, res.ELBO)
	// Tolerance: a few standard errors of the estimate at this K (measured
	// well under 0.01), plus quadrature error (negligible at this grid).
	if d := math.Abs(res.LogPx - exact); d > 0.02 {
		t.Errorf("log p(x): importance sampling %.5f, quadrature %.5f, differ by %.5f", res.LogPx, exact, d)
	}
	// The ELBO with a poor q must be clearly below log p(x).
	if !(res.ELBO < exact-0.05) {
		t.Errorf("ELBO %.5f is not below log p(x) %.5f by the gap a mismatched q leaves", res.ELBO, exact)
	}
	if got := -(res.Recon + res.KL); math.Abs(got-res.ELBO) > 1e-9 {
		t.Errorf("ELBO %.9f ≠ −(Recon + KL) = %.9f", res.ELBO, got)
	}
	// One sample: the estimate is an unbiased ELBO estimate, well below the truth.
	one, err := Run(context.Background(), m.model(), Likelihood{Kind: ir.Bernoulli}, x, n, D, Options{K: 1, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	if !(one.LogPx < res.LogPx) {
		t.Errorf("K=1 estimate %.5f should be below the K=20000 estimate %.5f", one.LogPx, res.LogPx)
	}
}

// TestExactPosterior uses a linear Gaussian model (z ~ N(0, I),
// x = W z + b + σ·noise, W with orthogonal columns) whose posterior is a
// diagonal Gaussian known in closed form. With q equal to it, every
// importance weight equals p(x), so any K gives log p(x) = log N(x; b,
// WWᵀ + σ²I) up to float32 rounding.
func TestExactPosterior(t *testing.T) {
	// Columns (1, 1, 0) and (1, −1, 2) are orthogonal.
	W := [3][2]float64{{1, 1}, {1, -1}, {0, 2}}
	b := []float64{0.5, -0.2, 0.1}
	sigma := 0.7
	s2 := sigma * sigma
	// WᵀW = diag(2, 6): posterior variance 1/(1 + c_j/σ²).
	colSq := []float64{2, 6}
	enc := func(x []float32, n int) ([]float32, []float32, error) {
		mu, lv := make([]float32, 2*n), make([]float32, 2*n)
		for i := 0; i < n; i++ {
			for j := 0; j < 2; j++ {
				v := 1 / (1 + colSq[j]/s2)
				var wx float64
				for d := 0; d < 3; d++ {
					wx += W[d][j] * (float64(x[i*3+d]) - b[d])
				}
				mu[i*2+j] = float32(v * wx / s2)
				lv[i*2+j] = float32(math.Log(v))
			}
		}
		return mu, lv, nil
	}
	dec := func(z []float32, n int) (Decoded, error) {
		mean := make([]float32, 3*n)
		for i := 0; i < n; i++ {
			for d := 0; d < 3; d++ {
				mean[i*3+d] = float32(W[d][0]*float64(z[i*2]) + W[d][1]*float64(z[i*2+1]) + b[d])
			}
		}
		return Decoded{Mean: mean}, nil
	}
	x := []float32{1.2, -0.4, 2.0, -1.0, 0.3, 0.0}
	// Exact: C = WWᵀ + σ²I, log N(x; b, C) with a 3×3 Cholesky.
	var C [3][3]float64
	for r := 0; r < 3; r++ {
		for c := 0; c < 3; c++ {
			C[r][c] = W[r][0]*W[c][0] + W[r][1]*W[c][1]
		}
		C[r][r] += s2
	}
	var Lc [3][3]float64
	for r := 0; r < 3; r++ {
		for c := 0; c <= r; c++ {
			s := C[r][c]
			for k := 0; k < c; k++ {
				s -= Lc[r][k] * Lc[c][k]
			}
			if r == c {
				Lc[r][r] = math.Sqrt(s)
			} else {
				Lc[r][c] = s / Lc[c][c]
			}
		}
	}
	var want float64
	for i := 0; i < 2; i++ {
		var y [3]float64 // solve Lc·y = x − b
		var logdet, q float64
		for r := 0; r < 3; r++ {
			s := float64(x[i*3+r]) - b[r]
			for k := 0; k < r; k++ {
				s -= Lc[r][k] * y[k]
			}
			y[r] = s / Lc[r][r]
			q += y[r] * y[r]
			logdet += 2 * math.Log(Lc[r][r])
		}
		want += -0.5 * (3*math.Log(2*math.Pi) + logdet + q) / 2
	}
	for _, lk := range []Likelihood{
		{Kind: ir.GaussianFixed, Sigma: sigma},
	} {
		for _, k := range []int{1, 5, 200} {
			res, err := Run(context.Background(), funcModel{enc, dec}, lk, x, 2, 3, Options{K: k, Seed: 1})
			if err != nil {
				t.Fatal(err)
			}
			if d := math.Abs(res.LogPx - want); d > 1e-4 {
				t.Errorf("%s K=%d: log p(x) %.6f, exact %.6f", lk.Kind, k, res.LogPx, want)
			}
		}
	}
	// The same decoder as gaussian_learned with log-variance log σ² shared by all rows.
	lv := []float32{float32(math.Log(s2)), float32(math.Log(s2)), float32(math.Log(s2))}
	learned := func(z []float32, n int) (Decoded, error) {
		o, err := dec(z, n)
		o.Logvar = lv
		return o, err
	}
	res, err := Run(context.Background(), funcModel{enc, learned}, Likelihood{Kind: ir.GaussianLearned}, x, 2, 3, Options{K: 50, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if d := math.Abs(res.LogPx - want); d > 1e-4 {
		t.Errorf("gaussian_learned: log p(x) %.6f, exact %.6f", res.LogPx, want)
	}
}

func TestRowsDoNotChangeFigures(t *testing.T) {
	m := bernoulli1D{a: []float64{1, -1, 2}, b: []float64{0, 0.5, -0.5}, qmu: 0, qlv: 0}
	x := []float32{1, 0, 1, 0, 0, 1, 1, 1, 1, 0, 1, 0}
	var first *Result
	for _, rows := range []int{1, 3, 7, 64, 1024} {
		res, err := Run(context.Background(), m.model(), Likelihood{Kind: ir.Bernoulli}, x, 4, 3, Options{K: 10, Seed: 3, Rows: rows})
		if err != nil {
			t.Fatal(err)
		}
		if first == nil {
			first = res
			continue
		}
		if res.LogPx != first.LogPx || res.ELBO != first.ELBO {
			t.Errorf("rows %d: log p(x) %v ELBO %v, want %v %v as with rows 1", rows, res.LogPx, res.ELBO, first.LogPx, first.ELBO)
		}
	}
}

func TestRunErrors(t *testing.T) {
	good := bernoulli1D{a: []float64{1, 1}, b: []float64{0, 0}}.model()
	bad := funcModel{
		enc: good.Encode,
		dec: func(z []float32, n int) (Decoded, error) { return Decoded{}, errors.New("boom") },
	}
	short := funcModel{
		enc: func(x []float32, n int) ([]float32, []float32, error) { return []float32{0}, []float32{0}, nil },
		dec: good.Decode,
	}
	nanDec := funcModel{
		enc: good.Encode,
		dec: func(z []float32, n int) (Decoded, error) {
			l := make([]float32, 2*n)
			for i := range l {
				l[i] = float32(math.NaN())
			}
			return Decoded{Logits: l}, nil
		},
	}
	x := []float32{1, 0, 0, 1}
	tests := []struct {
		name string
		m    Model
		lk   Likelihood
		x    []float32
		n, d int
		k    int
		want string
	}{
		{"no samples", good, Likelihood{Kind: ir.Bernoulli}, x, 2, 2, 0, "need at least 1"},
		{"shape", good, Likelihood{Kind: ir.Bernoulli}, x, 3, 2, 1, "are not 3 examples"},
		{"decoder error", bad, Likelihood{Kind: ir.Bernoulli}, x, 2, 2, 1, "boom"},
		{"encoder short", short, Likelihood{Kind: ir.Bernoulli}, x, 2, 2, 1, "encoder returned"},
		{"wrong likelihood", good, Likelihood{Kind: ir.GaussianFixed, Sigma: 1}, x, 2, 2, 1, "means for"},
		{"bad sigma", good, Likelihood{Kind: ir.GaussianFixed}, x, 2, 2, 1, "sigma"},
		{"unknown likelihood", good, Likelihood{Kind: ir.LikelihoodKind(99)}, x, 2, 2, 1, "not supported"},
		{"nan", nanDec, Likelihood{Kind: ir.Bernoulli}, x, 2, 2, 1, "not finite"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Run(context.Background(), tc.m, tc.lk, tc.x, tc.n, tc.d, Options{K: tc.k})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got error %v, want one containing %q", err, tc.want)
			}
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Run(ctx, good, Likelihood{Kind: ir.Bernoulli}, x, 2, 2, Options{K: 1}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: got %v", err)
	}
}

func TestLogMeanExp(t *testing.T) {
	inf := math.Inf(1)
	tests := []struct {
		name string
		v    []float64
		want float64
	}{
		{"single", []float64{-3.5}, -3.5},
		{"equal", []float64{2, 2, 2}, 2},
		{"two", []float64{0, math.Log(3)}, math.Log(2)},
		// exp(−10⁴) underflows; the answer must not.
		{"very negative", []float64{-10000, -10000 + math.Log(3)}, -10000 + math.Log(2)},
		{"very positive", []float64{800, 800}, 800},
		{"one -inf", []float64{-inf, 0}, -math.Log(2)},
		{"all -inf", []float64{-inf, -inf}, -inf},
		{"empty", nil, -inf},
	}
	for _, tc := range tests {
		got := LogMeanExp(tc.v)
		if got != tc.want && math.Abs(got-tc.want) > 1e-12*math.Max(1, math.Abs(tc.want)) {
			t.Errorf("%s: LogMeanExp(%v) = %v, want %v", tc.name, tc.v, got, tc.want)
		}
	}
	if got := LogMeanExp([]float64{0, math.NaN()}); !math.IsNaN(got) {
		t.Errorf("NaN input: got %v, want NaN", got)
	}
}

// must returns v, failing loudly on err (the prior's densities return one
// for kinds they do not know).
func must(v float64, err error) float64 {
	if err != nil {
		panic(err)
	}
	return v
}

func TestDensities(t *testing.T) {
	tests := []struct {
		name      string
		got, want float64
	}{
		{"bernoulli", LogBernoulli([]float32{1, 0}, []float32{0, 0}), 2 * math.Log(0.5)},
		{"bernoulli saturated", LogBernoulli([]float32{1, 0}, []float32{100, -100}), -2 * math.Log1p(math.Exp(-100))},
		{"bernoulli wrong and saturated", LogBernoulli([]float32{0}, []float32{60}), -60 - math.Log1p(math.Exp(-60))},
		{"std normal", must(ir.Prior{}.LogDensity([]float32{0, 1})), -math.Log(2*math.Pi) - 0.5},
		{"normal", LogNormal([]float32{1}, []float32{1}, []float32{float32(math.Log(4))}), -0.5*math.Log(2*math.Pi) - math.Log(2)},
		{"gaussian fixed", LogGaussianFixed([]float32{1}, []float32{0}, 2), -0.5*math.Log(2*math.Pi) - math.Log(2) - 0.125},
		{"gaussian", LogGaussian([]float32{1}, []float32{0}, []float32{0}), -0.5*math.Log(2*math.Pi) - 0.5},
		{"kl zero", must(ir.Prior{}.KL([]float32{0, 0}, []float32{0, 0})), 0},
		{"kl", must(ir.Prior{}.KL([]float32{1}, []float32{0})), 0.5},
	}
	for _, tc := range tests {
		if math.Abs(tc.got-tc.want) > 1e-6 {
			t.Errorf("%s: got %.9f, want %.9f", tc.name, tc.got, tc.want)
		}
	}
}

func TestActiveUnits(t *testing.T) {
	tests := []struct {
		name      string
		mu        []float32
		n, latent int
		want      int
		wantVar   []float64
	}{
		{"constant", []float32{1, 1, 1, 1}, 2, 2, 0, []float64{0, 0}},
		{"one varies", []float32{0, 5, 1, 5}, 2, 2, 1, []float64{0.25, 0}},
		{"just below", []float32{-0.09, 0.09}, 2, 1, 0, []float64{0.0081}},
		{"just above", []float32{-0.11, 0.11}, 2, 1, 1, []float64{0.0121}},
		{"large offset", []float32{1e4, 1e4 + 1}, 2, 1, 1, []float64{0.25}},
	}
	for _, tc := range tests {
		got, vars, err := ActiveUnits(tc.mu, tc.n, tc.latent, ActiveThreshold)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got != tc.want {
			t.Errorf("%s: %d active, want %d (variances %v)", tc.name, got, tc.want, vars)
		}
		for j := range vars {
			if math.Abs(vars[j]-tc.wantVar[j]) > 1e-6 {
				t.Errorf("%s: unit %d variance %v, want %v", tc.name, j, vars[j], tc.wantVar[j])
			}
		}
	}
	if _, _, err := ActiveUnits([]float32{1, 2, 3}, 2, 2, 0.01); err == nil {
		t.Error("mismatched shape: no error")
	}
}
