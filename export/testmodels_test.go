package export

import (
	"fmt"

	"github.com/vaec/vaec/checkpoint"
	"github.com/vaec/vaec/compiler"
)

// dense makes a layer and its two parameters the way the compiler names them.
func denseLayer(name string, in, out int, act compiler.Activation, alpha float64) (compiler.Layer, []compiler.Param) {
	l := compiler.Layer{
		Name: name, Op: compiler.Dense, In: in, Out: out, Activation: act, Alpha: alpha,
		Weight: name + ".weight", Bias: name + ".bias",
	}
	ps := []compiler.Param{
		{Name: l.Weight, Shape: []int{in, out}, Init: compiler.InitFanInUniform, FanIn: in},
		{Name: l.Bias, Shape: []int{out}, Init: compiler.InitFanInUniform, FanIn: in},
	}
	return l, ps
}

// testModel builds a small model by hand: shape is the per-sample input
// shape, hidden the encoder and decoder widths.
func testModel(shape []int, latent int, hidden []int, act compiler.Activation, lik compiler.Likelihood) *compiler.Model {
	size := 1
	for _, d := range shape {
		size *= d
	}
	m := &compiler.Model{
		Version: 1, Name: "tiny", SpecHash: "0123456789abcdef",
		Input:  compiler.Input{Shape: shape, Size: size, Scale: 1.0 / 255},
		Latent: latent, Likelihood: lik,
		Export: compiler.Export{Opset: 17},
	}
	alpha := 0.0
	if act == compiler.LeakyReLU {
		alpha = 0.1
	}
	if act == compiler.ELU {
		alpha = 1
	}
	width := size
	for i, h := range hidden {
		l, ps := denseLayer(fmt.Sprintf("encoder.%d", i), width, h, act, alpha)
		m.Encoder = append(m.Encoder, l)
		m.Params = append(m.Params, ps...)
		width = h
	}
	var ps []compiler.Param
	m.Mu, ps = denseLayer("encoder.mu", width, latent, compiler.Linear, 0)
	m.Params = append(m.Params, ps...)
	m.Logvar, ps = denseLayer("encoder.logvar", width, latent, compiler.Linear, 0)
	m.Params = append(m.Params, ps...)
	width = latent
	for i := len(hidden) - 1; i >= 0; i-- {
		l, ps := denseLayer(fmt.Sprintf("decoder.%d", len(hidden)-1-i), width, hidden[i], act, alpha)
		m.Decoder = append(m.Decoder, l)
		m.Params = append(m.Params, ps...)
		width = hidden[i]
	}
	outAct := compiler.Linear
	if lik != compiler.Bernoulli {
		outAct = compiler.Sigmoid
	}
	m.Output, ps = denseLayer("decoder.out", width, size, outAct, 0)
	m.Params = append(m.Params, ps...)
	switch lik {
	case compiler.GaussianLearned:
		m.OutputLogvar = "decoder.logvar"
		m.Params = append(m.Params, compiler.Param{Name: m.OutputLogvar, Shape: []int{size}, Init: compiler.InitZeros})
	case compiler.GaussianFixed:
		m.Sigma = 0.5
	}
	return m
}

// testWeights fills every parameter with small deterministic values.
func testWeights(m *compiler.Model) map[string]checkpoint.Tensor {
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
