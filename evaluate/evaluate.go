// Package evaluate measures a trained VAE on a data set: the evidence lower
// bound (ELBO) with its two terms, an importance-sampled estimate of the
// log-likelihood log p(x), and the number of active latent units.
//
// It is pure arithmetic over what an encoder and a decoder return, so it
// works the same whether they run in the training graph (package graph) or
// from the exported ONNX files (package runtime): callers plug them in
// through the Model interface.
//
// For each example x, with q(z|x) = N(mu, diag(exp(logvar))) from the
// encoder, K draws z_k = mu + exp(logvar/2)·ε_k and the weights
//
//	log w_k = log p(x|z_k) + log p(z_k) − log q(z_k|x),
//
// the importance-sampled estimate is
//
//	log p(x) ≈ log (1/K) Σ_k w_k   (accumulated in float64, max factored out),
//
// and the ELBO is (1/K) Σ_k log p(x|z_k) − KL(q(z|x) ‖ p(z)) with the KL in
// closed form (lower variance than its Monte Carlo estimate). By Jensen's
// inequality the estimate is at least (1/K) Σ_k log w_k, the Monte Carlo
// ELBO of the same draws, so in expectation it is at least the ELBO; it
// tends to log p(x) as K grows (Burda, Grosse and Salakhutdinov,
// "Importance Weighted Autoencoders", 2016).
package evaluate

import (
	"context"
	"errors"
	"fmt"
	"github.com/vaec/vaec/ir"
	"math"
	"math/rand/v2"
)

// Model is what evaluation needs from a trained VAE.
type Model interface {
	// Encode returns the posterior parameters mu and logvar [n, latent]
	// for x [n, D].
	Encode(x []float32, n int) (mu, logvar []float32, err error)
	// Decode returns the decoder's outputs for z [n, latent], as the
	// likelihood needs them (Bernoulli: logits).
	Decode(z []float32, n int) (Decoded, error)
}

// ActiveThreshold is the variance over the data of a unit's posterior mean
// above which the unit counts as active (Burda et al.'s 0.01).
const ActiveThreshold = 0.01

// Options control a run.
type Options struct {
	K    int    // importance samples per example (≥ 1)
	Seed uint64 // noise seed: the same seed gives the same figures
	// Rows bounds the decoder rows per call (0 = 1024): several examples'
	// samples share one call when K is small, a large K is split.
	Rows int
	// Progress, when set, is called after each decoder call with the
	// number of examples finished.
	Progress func(done, total int)
	// Prior is p(z) (the zero value is N(0, I)): the KL term and log p(z)
	// in the importance weights are its. A prior without a closed-form KL
	// (the VampPrior, with its components attached) gets the Monte Carlo
	// KL of the K draws, (1/K) Σ_k log q(z_k|x) − log p(z_k).
	Prior ir.Prior
	// Labels, for a conditional model (which must implement
	// ConditionalModel), is each example's class: the encoder and the
	// decoder get its one-hot row of Classes with every draw of the
	// example. A real-valued condition goes through Conditions instead.
	Labels  []int
	Classes int
	// BoundK, when 1 ≤ BoundK ≤ K, also reports the importance-weighted
	// bound of BoundK draws (the IWAE objective's) from each example's
	// first BoundK draws.
	BoundK int
	// Score also computes each example's deterministic anomaly score,
	// −log p(x | z = mu) + KL(q(z|x) ‖ p(z)): one more decoder pass, at the
	// posterior means. It is what score.onnx computes.
	Score bool
}

// Result holds per-example averages in nats.
type Result struct {
	N      int `json:"n"`      // examples evaluated
	Latent int `json:"latent"` // latent units
	K      int `json:"k"`      // importance samples per example

	ELBO  float64 `json:"elbo"`  // −(Recon + KL)
	Recon float64 `json:"recon"` // mean −E_q[log p(x|z)], estimated with the K draws
	KL    float64 `json:"kl"`    // mean KL(q(z|x) ‖ p(z)), closed form
	// LogPx is the mean importance-sampled estimate of log p(x).
	LogPx float64 `json:"log_px"`
	// IWAE is the mean importance-weighted bound of BoundK draws
	// (Options.BoundK; 0 when not asked), between ELBO and LogPx.
	IWAE   float64 `json:"iwae,omitempty"`
	BoundK int     `json:"bound_k,omitempty"`
	// Standard errors of ELBO and LogPx as means over the examples.
	ELBOStdErr  float64 `json:"elbo_stderr"`
	LogPxStdErr float64 `json:"log_px_stderr"`

	ActiveUnits  int       `json:"active_units"`
	UnitVariance []float64 `json:"unit_variance"` // Var_x of each unit's posterior mean
	// Mu and Logvar are the posterior parameters of every example
	// ([N, Latent]); not part of the JSON report.
	Mu     []float32 `json:"-"`
	Logvar []float32 `json:"-"`
	// Per example, in input order (not part of the JSON report): the
	// Monte Carlo ELBO of the K draws, its reconstruction term
	// −(1/K) Σ log p(x|z_k), the closed-form KL, and log p(x).
	ExampleELBO, ExampleRecon, ExampleKL, ExampleLogPx []float64 `json:"-"`
	// With Options.Score: the score −log p(x|z=mu) + KL and its
	// reconstruction term −log p(x|z=mu).
	Score, ScoreRecon []float64 `json:"-"`
}

// encodeRows bounds the examples encoded per call.
const encodeRows = 500

// Run evaluates m on x [n, d] under likelihood lk. Example i draws its
// noise from its own stream (Seed, i), so the figures do not depend on how
// examples are grouped into decoder calls.
func Run(ctx context.Context, m Model, lk Likelihood, x []float32, n, d int, opts Options) (*Result, error) {
	if n <= 0 || d <= 0 || len(x) != n*d {
		return nil, fmt.Errorf("evaluate: %d values are not %d examples of %d features", len(x), n, d)
	}
	if opts.K < 1 {
		return nil, fmt.Errorf("evaluate: K = %d importance samples: need at least 1", opts.K)
	}
	rows := opts.Rows
	if rows <= 0 {
		rows = 1024
	}
	res := &Result{N: n, K: opts.K}
	if opts.Labels != nil {
		if len(opts.Labels) != n || opts.Classes < 1 {
			return nil, fmt.Errorf("evaluate: %d labels of %d classes for %d examples", len(opts.Labels), opts.Classes, n)
		}
		if _, ok := m.(ConditionalModel); !ok {
			return nil, fmt.Errorf("evaluate: labels given, but the model takes no condition")
		}
	}

	// Encode everything first: active units need every posterior mean.
	for start := 0; start < n; start += encodeRows {
		b := min(encodeRows, n-start)
		mu, lv, err := encodeCond(m, x[start*d:(start+b)*d], b, opts, identityRows(b, start))
		if err != nil {
			return nil, fmt.Errorf("evaluate: encoding examples %d to %d: %w", start, start+b-1, err)
		}
		if start == 0 {
			if len(mu) == 0 || len(mu)%b != 0 {
				return nil, fmt.Errorf("evaluate: encoder returned %d means for %d examples", len(mu), b)
			}
			res.Latent = len(mu) / b
			res.Mu = make([]float32, 0, n*res.Latent)
			res.Logvar = make([]float32, 0, n*res.Latent)
		}
		if len(mu) != b*res.Latent || len(lv) != b*res.Latent {
			return nil, fmt.Errorf("evaluate: encoder returned %d means and %d log-variances for %d examples of latent size %d", len(mu), len(lv), b, res.Latent)
		}
		res.Mu = append(res.Mu, mu...)
		res.Logvar = append(res.Logvar, lv...)
	}
	L := res.Latent
	var err error
	if res.ActiveUnits, res.UnitVariance, err = ActiveUnits(res.Mu, n, L, ActiveThreshold); err != nil {
		return nil, err
	}

	// Examples per decoder call, and sample chunks per example when K
	// alone exceeds the row budget.
	per := max(1, rows/opts.K)
	chunk := min(opts.K, rows)
	elbo := make([]float64, n)
	logpx := make([]float64, n)
	boundK := 0
	if opts.BoundK >= 1 && opts.BoundK <= opts.K {
		boundK = opts.BoundK
		res.BoundK = boundK
	}
	var sumBound float64
	res.ExampleRecon, res.ExampleKL = make([]float64, n), make([]float64, n)
	var sumRecon, sumKL float64
	for start := 0; start < n; start += per {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("evaluate: %w", err)
		}
		end := min(n, start+per)
		logw := make([][]float64, end-start) // per example, K log-weights
		recon := make([]float64, end-start)
		klmc := make([]float64, end-start) // Σ_k log q − log p, for a prior without a closed-form KL
		rngs := make([]*rand.Rand, end-start)
		for i := range rngs {
			rngs[i] = rand.New(rand.NewPCG(opts.Seed, uint64(start+i)))
			logw[i] = make([]float64, 0, opts.K)
		}
		// Sample chunks: k0 indexes the first draw of this chunk for every
		// example of the group.
		for k0 := 0; k0 < opts.K; k0 += chunk {
			kc := min(chunk, opts.K-k0)
			g := end - start
			z := make([]float32, g*kc*L)
			xr := make([]float32, g*kc*d)
			logq := make([]float64, g*kc)
			for i := 0; i < g; i++ {
				ex := start + i
				mu, lv := res.Mu[ex*L:(ex+1)*L], res.Logvar[ex*L:(ex+1)*L]
				for k := 0; k < kc; k++ {
					r := i*kc + k
					zr := z[r*L : (r+1)*L]
					var lq float64
					for j := 0; j < L; j++ {
						e := rngs[i].NormFloat64()
						zr[j] = float32(float64(mu[j]) + math.Exp(0.5*float64(lv[j]))*e)
						// log q from ε directly: the same value as LogNormal(z, mu, lv)
						// without the rounding of z − mu.
						lq += -0.5 * (log2Pi + float64(lv[j]) + e*e)
					}
					logq[r] = lq
					copy(xr[r*d:(r+1)*d], x[ex*d:(ex+1)*d])
				}
			}
			rowsEx := make([]int, g*kc)
			for r := range rowsEx {
				rowsEx[r] = start + r/kc
			}
			out, err := decodeCond(m, z, g*kc, opts, rowsEx)
			if err != nil {
				return nil, fmt.Errorf("evaluate: decoding samples of examples %d to %d: %w", start, end-1, err)
			}
			ll, err := lk.LogLikelihood(xr, g*kc, d, out)
			if err != nil {
				return nil, err
			}
			for i := 0; i < g; i++ {
				for k := 0; k < kc; k++ {
					r := i*kc + k
					recon[i] += ll[r]
					lp, err := opts.Prior.LogDensity(z[r*L : (r+1)*L])
					if err != nil {
						return nil, fmt.Errorf("evaluate: %w", err)
					}
					logw[i] = append(logw[i], ll[r]+lp-logq[r])
					klmc[i] += logq[r] - lp
				}
			}
		}
		for i := range logw {
			ex := start + i
			kl, err := opts.Prior.KL(res.Mu[ex*L:(ex+1)*L], res.Logvar[ex*L:(ex+1)*L])
			if errors.Is(err, ir.ErrNoClosedForm) {
				kl, err = klmc[i]/float64(opts.K), nil
			}
			if err != nil {
				return nil, fmt.Errorf("evaluate: %w", err)
			}
			if boundK > 0 {
				sumBound += LogMeanExp(logw[i][:boundK])
			}
			rc := recon[i] / float64(opts.K)
			elbo[ex] = rc - kl
			logpx[ex] = LogMeanExp(logw[i])
			if !finite(elbo[ex]) || !finite(logpx[ex]) {
				return nil, fmt.Errorf("evaluate: example %d: ELBO %v, log p(x) %v: not finite (diverged model?)", ex, elbo[ex], logpx[ex])
			}
			sumRecon += -rc
			sumKL += kl
			res.ExampleRecon[ex], res.ExampleKL[ex] = -rc, kl
		}
		if opts.Progress != nil {
			opts.Progress(end, n)
		}
	}
	res.Recon = sumRecon / float64(n)
	if boundK > 0 {
		res.IWAE = sumBound / float64(n)
	}
	res.KL = sumKL / float64(n)
	res.ELBO, res.ELBOStdErr = meanStdErr(elbo)
	res.LogPx, res.LogPxStdErr = meanStdErr(logpx)
	res.ExampleELBO, res.ExampleLogPx = elbo, logpx
	if opts.Score {
		if err := score(ctx, m, lk, x, n, d, rows, res, opts); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// score fills res.Score and res.ScoreRecon: the decoder at the posterior
// means, rows at a time.
//
// The KL term is the closed form where the prior has one; otherwise (the
// VampPrior) it is log q(mu|x) − log p(mu), the KL's integrand at z = mu,
// so that the score stays deterministic (score.onnx computes the same).
func score(ctx context.Context, m Model, lk Likelihood, x []float32, n, d, rows int, res *Result, opts Options) error {
	prior := opts.Prior
	L := res.Latent
	res.Score, res.ScoreRecon = make([]float64, n), make([]float64, n)
	for start := 0; start < n; start += rows {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("evaluate: %w", err)
		}
		end := min(n, start+rows)
		out, err := decodeCond(m, res.Mu[start*L:end*L], end-start, opts, identityRows(end-start, start))
		if err != nil {
			return fmt.Errorf("evaluate: decoding the means of examples %d to %d: %w", start, end-1, err)
		}
		ll, err := lk.LogLikelihood(x[start*d:end*d], end-start, d, out)
		if err != nil {
			return err
		}
		for i, v := range ll {
			ex := start + i
			res.ScoreRecon[ex] = -v
			kl := res.ExampleKL[ex]
			if _, err := prior.KL(nil, nil); errors.Is(err, ir.ErrNoClosedForm) {
				mu, lv := res.Mu[ex*L:(ex+1)*L], res.Logvar[ex*L:(ex+1)*L]
				lp, err := prior.LogDensity(mu)
				if err != nil {
					return fmt.Errorf("evaluate: %w", err)
				}
				var lq float64
				for _, v := range lv {
					lq -= 0.5 * (log2Pi + float64(v))
				}
				kl = lq - lp
			}
			res.Score[ex] = -v + kl
			if !finite(res.Score[ex]) {
				return fmt.Errorf("evaluate: example %d: score %v: not finite (diverged model?)", ex, res.Score[ex])
			}
		}
	}
	return nil
}

// meanStdErr returns the mean of v and its standard error (0 for one value).
func meanStdErr(v []float64) (mean, se float64) {
	for _, x := range v {
		mean += x
	}
	mean /= float64(len(v))
	if len(v) < 2 {
		return mean, 0
	}
	var ss float64
	for _, x := range v {
		ss += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(ss / float64(len(v)-1) / float64(len(v)))
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
