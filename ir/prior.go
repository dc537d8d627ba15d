package ir

import (
	"errors"
	"fmt"
	"math"
)

// Prior is p(z). Training (the KL term), evaluation (log p(z) in importance
// sampling), sampling and the latent pictures all ask it, so a new prior is
// one more kind here plus what each of those needs of it.
//
// The VampPrior (Tomczak and Welling 2018) is the mixture
// p(z) = (1/K) Σ_k q(z | u_k) of the encoder's posteriors at K learned
// pseudo-inputs u_k, the parameter named PseudoInputs ([K, input size],
// in the scaled input's units). Its density depends on the weights, so its
// methods need the components' means and log-variances at the current
// weights: WithComponents attaches them (graph.Encode of the pseudo-inputs
// gives them). Its KL has no closed form; KL reports ErrNoClosedForm and
// callers estimate it by Monte Carlo, as Tomczak and Welling do.
type Prior struct {
	Kind PriorKind `json:"kind"`
	// Components is K, the number of pseudo-inputs (vamp only).
	Components int `json:"components,omitempty"`
	// PseudoInputs names the parameter holding them (vamp only).
	PseudoInputs string `json:"pseudo_inputs,omitempty"`

	mix *mixture // vamp: the components at the current weights
}

// PseudoInputsParam is the IR name of a VampPrior's pseudo-inputs.
const PseudoInputsParam = "prior.pseudo_inputs"

// ErrNoClosedForm is KL's answer for a prior whose KL divergence must be
// estimated by sampling.
var ErrNoClosedForm = errors.New("no closed-form KL")

// mixture holds K diagonal Gaussians of dimension L, row-major [K, L].
type mixture struct {
	k, l       int
	mu, logvar []float64
	prec       []float64 // exp(−logvar)
	logDet     []float64 // per component: Σ_j logvar + L·log 2π
}

// Learned reports whether the prior has parameters of its own, which its
// users must bind with WithComponents before asking for densities.
func (p Prior) Learned() bool { return p.Kind == PriorVamp }

// WithComponents returns p with a VampPrior's components attached: mu and
// logvar are the encoder's outputs at the K pseudo-inputs, [K, L]
// row-major. The values are copied.
func (p Prior) WithComponents(mu, logvar []float32, latent int) (Prior, error) {
	if p.Kind != PriorVamp {
		return p, fmt.Errorf("prior %s has no components", p.Kind)
	}
	if latent < 1 || len(mu) != p.Components*latent || len(logvar) != len(mu) {
		return p, fmt.Errorf("prior %s: %d means and %d log-variances are not %d components of %d units", p.Kind, len(mu), len(logvar), p.Components, latent)
	}
	m := &mixture{k: p.Components, l: latent, mu: make([]float64, len(mu)), logvar: make([]float64, len(mu))}
	m.prec, m.logDet = make([]float64, len(mu)), make([]float64, m.k)
	for i := range mu {
		m.mu[i], m.logvar[i] = float64(mu[i]), float64(logvar[i])
		m.prec[i] = math.Exp(-m.logvar[i])
		m.logDet[i/latent] += m.logvar[i]
	}
	for k := range m.logDet {
		m.logDet[k] += float64(latent) * log2Pi
	}
	p.mix = m
	return p, nil
}

// ComponentParams returns the attached components' means and log-variances
// ([K, L] row-major) and L, or nothing for a prior without them.
func (p Prior) ComponentParams() (mu, logvar []float32, latent int) {
	if p.mix == nil {
		return nil, nil, 0
	}
	mu, logvar = make([]float32, len(p.mix.mu)), make([]float32, len(p.mix.mu))
	for i := range mu {
		mu[i], logvar[i] = float32(p.mix.mu[i]), float32(p.mix.logvar[i])
	}
	return mu, logvar, p.mix.l
}

func (p Prior) bound() (*mixture, error) {
	if p.mix == nil {
		return nil, fmt.Errorf("prior %s: its components (the encoder at the pseudo-inputs) are not known here: they come with the trained weights, or from prior.onnx", p.Kind)
	}
	return p.mix, nil
}

// logDensity is log (1/K) Σ_k N(z; mu_k, exp(logvar_k)), the maximum
// factored out of the sum so that far components cannot underflow it.
func (m *mixture) logDensity(z []float32) (float64, error) {
	if len(z) != m.l {
		return 0, fmt.Errorf("prior: z has %d units, the components %d", len(z), m.l)
	}
	lc := make([]float64, m.k)
	for k := range lc {
		mu, prec := m.mu[k*m.l:(k+1)*m.l], m.prec[k*m.l:(k+1)*m.l]
		var s float64
		for j, v := range z {
			d := float64(v) - mu[j]
			s += d * d * prec[j]
		}
		lc[k] = -0.5 * (m.logDet[k] + s)
	}
	return logMeanExp(lc), nil
}

// logMeanExp returns log((1/n) Σ exp(v_i)) with the maximum factored out.
func logMeanExp(v []float64) float64 {
	mx := math.Inf(-1)
	for _, x := range v {
		mx = max(mx, x)
	}
	if math.IsInf(mx, 0) {
		return mx
	}
	var s float64
	for _, x := range v {
		s += math.Exp(x - mx)
	}
	return mx + math.Log(s/float64(len(v)))
}

var log2Pi = math.Log(2 * math.Pi)

// LogDensity returns log p(z) for one latent vector.
func (p Prior) LogDensity(z []float32) (float64, error) {
	switch p.Kind {
	case PriorNormal:
		var ss float64
		for _, v := range z {
			ss += float64(v) * float64(v)
		}
		return -0.5 * (float64(len(z))*log2Pi + ss), nil
	case PriorVamp:
		m, err := p.bound()
		if err != nil {
			return 0, err
		}
		return m.logDensity(z)
	}
	return 0, fmt.Errorf("prior %s: no density", p.Kind)
}

// KL returns KL(N(mu, diag(exp(logvar))) ‖ p) for one example, in closed
// form where the prior has one: for N(0, I) it is
// Σ ½(exp(logvar) + mu² − 1 − logvar).
func (p Prior) KL(mu, logvar []float32) (float64, error) {
	switch p.Kind {
	case PriorNormal:
		var s float64
		for j, m := range mu {
			lv := float64(logvar[j])
			s += 0.5 * (math.Exp(lv) + float64(m)*float64(m) - 1 - lv)
		}
		return s, nil
	}
	return 0, fmt.Errorf("prior %s: %w", p.Kind, ErrNoClosedForm)
}

// Sample fills z with draws from the prior, taking standard normal draws
// from normal (for example rand.Rand.NormFloat64), one per element in
// order, so that a seeded generator gives the same z everywhere. A
// VampPrior draw takes one more normal draw n first and picks component
// ⌊Φ(n)·K⌋ (Φ(n) is uniform on (0, 1)), then draws from that component's
// Gaussian: the mixture's own two-step sampling, from normals only.
func (p Prior) Sample(normal func() float64, z []float32) error {
	switch p.Kind {
	case PriorNormal:
		for i := range z {
			z[i] = float32(normal())
		}
		return nil
	case PriorVamp:
		m, err := p.bound()
		if err != nil {
			return err
		}
		if len(z)%m.l != 0 {
			return fmt.Errorf("prior %s: %d values are not vectors of %d units", p.Kind, len(z), m.l)
		}
		for r := 0; r < len(z)/m.l; r++ {
			k := min(m.k-1, int(0.5*math.Erfc(-normal()/math.Sqrt2)*float64(m.k)))
			for j := 0; j < m.l; j++ {
				i := k*m.l + j
				z[r*m.l+j] = float32(m.mu[i] + math.Exp(0.5*m.logvar[i])*normal())
			}
		}
		return nil
	}
	return fmt.Errorf("prior %s: cannot sample", p.Kind)
}

// Quantile returns the q-quantile (0 < q < 1) of one coordinate of the
// prior's marginal, for latent grids that cover its mass evenly. A
// mixture's marginal differs from unit to unit and has no closed-form
// quantile: for a VampPrior it is the quantile of the marginal pooled over
// all units, (1/(K·L)) Σ_k Σ_j N(mu_kj, σ²_kj), found by bisection to
// 1e-9.
func (p Prior) Quantile(q float64) (float64, error) {
	if !(q > 0 && q < 1) {
		return 0, fmt.Errorf("quantile %v outside (0, 1)", q)
	}
	switch p.Kind {
	case PriorNormal:
		return math.Sqrt2 * math.Erfinv(2*q-1), nil
	case PriorVamp:
		m, err := p.bound()
		if err != nil {
			return 0, err
		}
		return m.quantile(q), nil
	}
	return 0, fmt.Errorf("prior %s: no quantiles", p.Kind)
}

// quantile inverts the pooled marginal CDF (1/(K·L)) Σ Φ((t − mu)/σ) by
// bisection: the CDF is increasing, and the bracket holds every
// component's mean ± 40σ.
func (m *mixture) quantile(q float64) float64 {
	lo, hi := math.Inf(1), math.Inf(-1)
	for i, mu := range m.mu {
		s := math.Exp(0.5 * m.logvar[i])
		lo, hi = min(lo, mu-40*s), max(hi, mu+40*s)
	}
	cdf := func(t float64) float64 {
		var s float64
		for i, mu := range m.mu {
			s += 0.5 * math.Erfc(-(t-mu)/(math.Exp(0.5*m.logvar[i])*math.Sqrt2))
		}
		return s / float64(len(m.mu))
	}
	for hi-lo > 1e-9 {
		mid := 0.5 * (lo + hi)
		if cdf(mid) < q {
			lo = mid
		} else {
			hi = mid
		}
	}
	return 0.5 * (lo + hi)
}

// AddPriorParams declares the prior's own parameters (a VampPrior's
// pseudo-inputs, [K, input size]), after every other parameter so that
// adding a prior leaves the others' initial values unchanged.
func (m *Model) AddPriorParams() {
	if m.Prior.Kind == PriorVamp {
		m.Prior.PseudoInputs = PseudoInputsParam
		m.Params = append(m.Params, Param{Name: PseudoInputsParam, Shape: Shape{m.Prior.Components, m.Input.Size}, Init: InitUniform01})
	}
}

// MaxComponents bounds a VampPrior's pseudo-inputs.
const MaxComponents = 10000

func (v *verifier) checkPrior() {
	p, m := v.m.Prior, v.m
	switch p.Kind {
	case PriorNormal:
		if p.Components != 0 || p.PseudoInputs != "" {
			v.errorf("prior normal with components %d, pseudo_inputs %q", p.Components, p.PseudoInputs)
		}
	case PriorVamp:
		if p.Components < 1 || p.Components > MaxComponents {
			v.errorf("prior vamp with %d components, want 1 to %d", p.Components, MaxComponents)
		}
		if p.PseudoInputs != PseudoInputsParam {
			v.errorf("prior pseudo_inputs %q, want %q", p.PseudoInputs, PseudoInputsParam)
		}
		v.want = append(v.want, Param{Name: PseudoInputsParam, Shape: Shape{p.Components, m.Input.Size}, Init: InitUniform01})
	default:
		v.errorf("unknown prior %v", p.Kind)
	}
}

// checkObjectiveKind checks what each bound allows. The importance-weighted
// bound log (1/K) Σ_k p(x, z_k)/q(z_k|x) has no separate KL term, so a KL
// weight other than 1, or a warm-up of it, has nothing to act on.
func (v *verifier) checkObjectiveKind() {
	o := v.m.Objective
	switch o.Kind {
	case ELBO:
	case IWAE:
		if o.Beta != 1 {
			v.errorf("objective iwae with beta %v: the bound has no separate KL term to weight (want 1)", o.Beta)
		}
		if o.WarmupEpochs != 0 {
			v.errorf("objective iwae with kl_warmup_epochs %d: the bound has no separate KL term to warm up (want 0)", o.WarmupEpochs)
		}
	default:
		v.errorf("unknown objective %v", o.Kind)
	}
}
