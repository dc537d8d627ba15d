package export

import (
	"fmt"

	"github.com/vaec/vaec/checkpoint"
	"github.com/vaec/vaec/ir"
)

// testModel builds a small model by hand: shape is the per-sample input
// shape, hidden the encoder and decoder widths (the decoder mirrors the
// encoder).
func testModel(shape []int, latent int, hidden []int, act ir.Activation, lik ir.LikelihoodKind) *ir.Model {
	alpha := 0.0
	if act == ir.LeakyReLU {
		alpha = 0.1
	}
	if act == ir.ELU {
		alpha = 1
	}
	var enc, dec []ir.DenseLayer
	for _, h := range hidden {
		enc = append(enc, ir.DenseLayer{Units: h, Activation: act, Alpha: alpha})
	}
	for i := len(hidden) - 1; i >= 0; i-- {
		dec = append(dec, ir.DenseLayer{Units: hidden[i], Activation: act, Alpha: alpha})
	}
	outAct := ir.Linear
	if lik != ir.Bernoulli {
		outAct = ir.Sigmoid
	}
	l := ir.Likelihood{Kind: lik}
	if lik == ir.GaussianFixed {
		l.Sigma = 0.5
	}
	m, err := ir.NewMLP("tiny", ir.Shape(shape), latent, enc, dec, l, outAct)
	if err != nil {
		panic(fmt.Sprintf("testModel: %v", err))
	}
	m.SpecHash = "0123456789abcdef"
	m.Input.Scale = 1.0 / 255
	m.Export = ir.Export{Opset: 17}
	return m
}

// testWeights fills every parameter with small deterministic values.
func testWeights(m *ir.Model) map[string]checkpoint.Tensor {
	w := map[string]checkpoint.Tensor{}
	state := uint32(12345)
	for _, p := range m.Params {
		t := checkpoint.Tensor{Shape: append([]int(nil), p.Shape...), Data: make([]float32, p.Size())}
		for i := range t.Data {
			state = state*1664525 + 1013904223
			t.Data[i] = float32(int32(state>>8)%2000-1000) / 2000
		}
		w[p.Name] = t
	}
	return w
}
