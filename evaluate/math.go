package evaluate

import (
	"fmt"
	"math"
	"runtime"
	"sync"

	"github.com/vaec/vaec/ir"
	"github.com/vaec/vaec/kernels"
)

var log2Pi = math.Log(2 * math.Pi)

// Likelihood is the observation model p(x|z) of a decoder.
type Likelihood struct {
	Kind  ir.LikelihoodKind
	Sigma float64 // standard deviation of ir.GaussianFixed
}

// Decoded holds a decoder's outputs for n rows, whichever the likelihood
// needs: Bernoulli logits (not probabilities: log p(x|z) from logits is
// exact where a float32 sigmoid saturates), or a Gaussian mean and, for
// ir.GaussianLearned, the log-variance ([n, D], or [D] shared by all
// rows).
type Decoded struct {
	Logits []float32
	Mean   []float32
	Logvar []float32
}

// LogBernoulli returns Σ_d log Bernoulli(x_d | sigmoid(l_d)) =
// Σ x_d·l_d − softplus(l_d), exact for any logit.
func LogBernoulli(x, logits []float32) float64 {
	var s float64
	for d, xv := range x {
		l := float64(logits[d])
		s += float64(xv)*l - softplus(l)
	}
	return s
}

// softplus is log(1 + exp(l)) without overflow for large l and without
// losing the tiny values for very negative l.
func softplus(l float64) float64 {
	if l > 0 {
		return l + math.Log1p(math.Exp(-l))
	}
	return math.Log1p(math.Exp(l))
}

// LogGaussian returns Σ_d log N(x_d; mean_d, exp(logvar_d)).
func LogGaussian(x, mean, logvar []float32) float64 {
	var s float64
	for d, xv := range x {
		lv := float64(logvar[d])
		r := float64(xv) - float64(mean[d])
		s += -0.5 * (log2Pi + lv + r*r*math.Exp(-lv))
	}
	return s
}

// LogGaussianFixed returns Σ_d log N(x_d; mean_d, sigma²).
func LogGaussianFixed(x, mean []float32, sigma float64) float64 {
	var ss float64
	for d, xv := range x {
		r := float64(xv) - float64(mean[d])
		ss += r * r
	}
	return -0.5*float64(len(x))*(log2Pi+2*math.Log(sigma)) - 0.5*ss/(sigma*sigma)
}

// LogNormal returns log N(z; mu, diag(exp(logvar))).
func LogNormal(z, mu, logvar []float32) float64 {
	var s float64
	for j, v := range z {
		lv := float64(logvar[j])
		r := float64(v) - float64(mu[j])
		s += -0.5 * (log2Pi + lv + r*r*math.Exp(-lv))
	}
	return s
}

// LogMeanExp returns log(mean(exp(v))) computed stably: the largest value is
// factored out first, so log-weights of −10⁴ (usual for images) neither
// underflow to log 0 nor lose precision. Empty input gives −Inf.
func LogMeanExp(v []float64) float64 {
	if len(v) == 0 {
		return math.Inf(-1)
	}
	hi := math.Inf(-1)
	for _, x := range v {
		if math.IsNaN(x) {
			return math.NaN()
		}
		hi = math.Max(hi, x)
	}
	if math.IsInf(hi, 0) {
		return hi
	}
	var s float64
	for _, x := range v {
		s += math.Exp(x - hi)
	}
	return hi + math.Log(s) - math.Log(float64(len(v)))
}

// LogLikelihood returns log p(x_i|z_i) for each of the n rows of x [n, D]
// given the decoder's outputs for them.
func (lk Likelihood) LogLikelihood(x []float32, n, d int, out Decoded) ([]float64, error) {
	if n < 0 || d <= 0 || len(x) != n*d {
		return nil, fmt.Errorf("evaluate: %d values are not %d rows of %d", len(x), n, d)
	}
	res := make([]float64, n)
	switch lk.Kind {
	case ir.Bernoulli:
		if len(out.Logits) != n*d {
			return nil, fmt.Errorf("evaluate: bernoulli: %d logits for %d rows of %d", len(out.Logits), n, d)
		}
		logBernoulliRows(x, out.Logits, n, d, res)
	case ir.GaussianFixed:
		if !(lk.Sigma > 0) || math.IsInf(lk.Sigma, 0) {
			return nil, fmt.Errorf("evaluate: gaussian_fixed: sigma %v must be positive and finite", lk.Sigma)
		}
		if len(out.Mean) != n*d {
			return nil, fmt.Errorf("evaluate: gaussian_fixed: %d means for %d rows of %d", len(out.Mean), n, d)
		}
		for i := range res {
			res[i] = LogGaussianFixed(x[i*d:(i+1)*d], out.Mean[i*d:(i+1)*d], lk.Sigma)
		}
	case ir.GaussianLearned:
		if len(out.Mean) != n*d {
			return nil, fmt.Errorf("evaluate: gaussian_learned: %d means for %d rows of %d", len(out.Mean), n, d)
		}
		shared := len(out.Logvar) == d
		if !shared && len(out.Logvar) != n*d {
			return nil, fmt.Errorf("evaluate: gaussian_learned: %d log-variances, want %d or %d", len(out.Logvar), d, n*d)
		}
		for i := range res {
			lv := out.Logvar
			if !shared {
				lv = lv[i*d : (i+1)*d]
			}
			res[i] = LogGaussian(x[i*d:(i+1)*d], out.Mean[i*d:(i+1)*d], lv)
		}
	default:
		return nil, fmt.Errorf("evaluate: likelihood %q is not supported", lk.Kind)
	}
	return res, nil
}

// ActiveUnits counts the latent units whose posterior mean varies over the
// data: unit j is active when Var_x(E_q[z_j|x]) > threshold (Burda et al.
// use 0.01). mu is [n, latent]; it also returns each unit's variance.
func ActiveUnits(mu []float32, n, latent int, threshold float64) (int, []float64, error) {
	if n <= 0 || latent <= 0 || len(mu) != n*latent {
		return 0, nil, fmt.Errorf("evaluate: active units: %d means are not %d rows of %d", len(mu), n, latent)
	}
	mean := make([]float64, latent)
	for i := 0; i < n; i++ {
		for j := 0; j < latent; j++ {
			mean[j] += float64(mu[i*latent+j])
		}
	}
	for j := range mean {
		mean[j] /= float64(n)
	}
	// Two passes (mean, then squared deviations) rather than E[x²]−E[x]²,
	// which cancels badly when a unit is nearly constant.
	vars := make([]float64, latent)
	for i := 0; i < n; i++ {
		for j := 0; j < latent; j++ {
			r := float64(mu[i*latent+j]) - mean[j]
			vars[j] += r * r
		}
	}
	active := 0
	for j := range vars {
		vars[j] /= float64(n)
		if vars[j] > threshold {
			active++
		}
	}
	return active, vars, nil
}

// logBernoulliRows is LogBernoulli for n rows, the softplus in float32
// (kernels' vectorised form, a few ulp: the precision of the logits
// themselves) and the sums in float64, rows split across the cores. Rows
// are independent, so the result does not depend on the split. Scoring
// 1,000 images with K = 1,000 is 10⁹ softplus evaluations: in float64
// through math.Log1p and math.Exp they were most of the time.
func logBernoulliRows(x, logits []float32, n, d int, res []float64) {
	workers := min(runtime.GOMAXPROCS(0), max(1, n/16))
	var wg sync.WaitGroup
	per := (n + workers - 1) / workers
	for w := 0; w < workers; w++ {
		lo, hi := w*per, min(n, (w+1)*per)
		if lo >= hi {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sp := make([]float32, d)
			for i := lo; i < hi; i++ {
				l := logits[i*d : (i+1)*d]
				copy(sp, l)
				kernels.AddBiasAct(sp, 1, d, nil, kernels.Softplus, 0)
				var s float64
				for j, xv := range x[i*d : (i+1)*d] {
					s += float64(xv)*float64(l[j]) - float64(sp[j])
				}
				res[i] = s
			}
		}()
	}
	wg.Wait()
}
