package vae

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"

	"github.com/vaec/vaec/export"
	"github.com/vaec/vaec/graph"
	"github.com/vaec/vaec/ir"
	"github.com/vaec/vaec/runtime"
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

// bindPriorFile attaches a VampPrior's components to a model loaded from
// ONNX files: prior.onnx beside the decoder (or the encoder) maps each
// one-hot component to its mu and logvar, so one run on the identity
// matrix gives them all. Without the file the prior stays unbound, and
// sampling or evaluation refuses rather than use N(0, I).
func (v *Model) bindPriorFile(paths ...string) error {
	if !v.Prior.Learned() {
		return nil
	}
	for _, p := range paths {
		if p == "" {
			continue
		}
		path := filepath.Join(filepath.Dir(p), export.RolePrior+".onnx")
		rm, err := runtime.LoadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		k := v.Prior.Components
		eye := make([]float32, k*k)
		for i := range k {
			eye[i*k+i] = 1
		}
		out, err := rm.Run(map[string]runtime.Tensor{export.InputComponent: {Shape: []int{k, k}, Data: eye}})
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		pr, err := v.Prior.WithComponents(out[ir.OutputMu].Data, out[ir.OutputLogvar].Data, v.Latent)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		v.Prior = pr
		return nil
	}
	return nil
}
