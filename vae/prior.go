package vae

import (
	"fmt"

	"github.com/vaec/vaec/graph"
)

// bindPrior attaches a learned prior's parameters at v's weights: a
// VampPrior's components are the encoder's posteriors at its pseudo-inputs,
// computed once here so that sampling, evaluation and the latent pictures
// all read the same mixture. Other priors are left as they are.
func (v *Model) bindPrior() error {
	if v.IR == nil || !v.Prior.Learned() || v.weights == nil {
		return nil
	}
	m := v.IR
	u, ok := v.weights[m.Prior.PseudoInputs]
	if !ok {
		return fmt.Errorf("%s: the prior's pseudo-inputs %q are missing", v.Origin, m.Prior.PseudoInputs)
	}
	mu, lv, err := graph.Encode(m, v.weights, u.Data, m.Prior.Components)
	if err != nil {
		return fmt.Errorf("%s: the prior's components: %w", v.Origin, err)
	}
	p, err := m.Prior.WithComponents(mu, lv, m.Latent)
	if err != nil {
		return fmt.Errorf("%s: %w", v.Origin, err)
	}
	v.Prior = p
	return nil
}
