package ir

import (
	"fmt"
	"math"
)

// Prior is p(z). Training (the KL term), evaluation (log p(z) in importance
// sampling), sampling and the latent pictures all ask it, so a new prior is
// one more kind here plus what each of those needs of it.
type Prior struct {
	Kind PriorKind `json:"kind"`
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
	return 0, fmt.Errorf("prior %s: no closed-form KL", p.Kind)
}

// Sample fills z with draws from the prior, taking standard normal draws
// from normal (for example rand.Rand.NormFloat64), one per element in
// order, so that a seeded generator gives the same z everywhere.
func (p Prior) Sample(normal func() float64, z []float32) error {
	switch p.Kind {
	case PriorNormal:
		for i := range z {
			z[i] = float32(normal())
		}
		return nil
	}
	return fmt.Errorf("prior %s: cannot sample", p.Kind)
}

// Quantile returns the q-quantile (0 < q < 1) of one coordinate of the
// prior's marginal, for latent grids that cover its mass evenly.
func (p Prior) Quantile(q float64) (float64, error) {
	if !(q > 0 && q < 1) {
		return 0, fmt.Errorf("quantile %v outside (0, 1)", q)
	}
	switch p.Kind {
	case PriorNormal:
		return math.Sqrt2 * math.Erfinv(2*q-1), nil
	}
	return 0, fmt.Errorf("prior %s: no quantiles", p.Kind)
}
