package opsuite

import (
	"fmt"
	"math"
	"testing"

	"github.com/vaec/vaec/checkpoint"
	"github.com/vaec/vaec/export"
	"github.com/vaec/vaec/graph"
	"github.com/vaec/vaec/ir"
	"github.com/vaec/vaec/runtime"
	ow "github.com/vaec/vaec/runtime/internal/onnxwire"
)

// tol is the suite's tolerance, in runtime.Within's mixed sense.
const tol = 1e-5

// opCase is one operator: a dense layer followed by an activation, as both
// lowerings express it. onnxOp is the ONNX operator the exporter emits for
// the activation ("" for linear: the Gemm alone).
type opCase struct {
	act    ir.Activation
	alpha  float64
	onnxOp string
	attrs  []ow.Attr
	f      func(x float64) float64 // the activation in float64
}

func cases() []opCase {
	elu := func(a float64) func(float64) float64 {
		return func(x float64) float64 {
			if x > 0 {
				return x
			}
			return a * math.Expm1(x)
		}
	}
	leaky := func(a float64) func(float64) float64 {
		return func(x float64) float64 {
			if x > 0 {
				return x
			}
			return a * x
		}
	}
	return []opCase{
		{ir.Linear, 0, "", nil, func(x float64) float64 { return x }},
		{ir.ReLU, 0, "Relu", nil, func(x float64) float64 { return math.Max(0, x) }},
		{ir.Tanh, 0, "Tanh", nil, math.Tanh},
		{ir.Sigmoid, 0, "Sigmoid", nil, func(x float64) float64 { return 1 / (1 + math.Exp(-x)) }},
		{ir.Softplus, 0, "Softplus", nil, func(x float64) float64 { return math.Log1p(math.Exp(x)) }},
		{ir.ELU, 1, "Elu", []ow.Attr{ow.FloatAttr("alpha", 1)}, elu(1)},
		{ir.ELU, 0.5, "Elu", []ow.Attr{ow.FloatAttr("alpha", 0.5)}, elu(0.5)},
		{ir.LeakyReLU, 0.01, "LeakyRelu", []ow.Attr{ow.FloatAttr("alpha", 0.01)}, leaky(0.01)},
		{ir.LeakyReLU, 0.2, "LeakyRelu", []ow.Attr{ow.FloatAttr("alpha", 0.2)}, leaky(0.2)},
	}
}

// Sizes of the layer under test and of the batch.
const (
	nIn, nOut, batch = 6, 5, 4
)

// data returns inputs and parameters that drive the activations through
// both signs and into their tails (pre-activations up to about ±12).
func data() (x, w, b []float32) {
	x = make([]float32, batch*nIn)
	for i := range x {
		x[i] = float32((i*7)%13-6) * 0.9
	}
	w = make([]float32, nIn*nOut)
	for i := range w {
		w[i] = float32((i*5)%11-5) * 0.21
	}
	b = make([]float32, nOut)
	for i := range b {
		b[i] = float32(i%3-1) * 0.3
	}
	return x, w, b
}

// expected computes act(x·W + b) in float64.
func expected(c opCase, x, w, b []float32) []float32 {
	y := make([]float32, batch*nOut)
	for i := 0; i < batch; i++ {
		for j := 0; j < nOut; j++ {
			s := float64(b[j])
			for p := 0; p < nIn; p++ {
				s += float64(x[i*nIn+p]) * float64(w[p*nOut+j])
			}
			y[i*nOut+j] = float32(c.f(s))
		}
	}
	return y
}

// viaRuntime builds the ONNX graph x → Gemm → op → y and runs it.
func viaRuntime(t *testing.T, c opCase, x, w, b []float32) []float32 {
	nodes := []ow.PB{ow.Node("layer/Gemm", "Gemm", []string{"x", "W", "b"}, []string{"h"})}
	out := "h"
	if c.onnxOp != "" {
		nodes = append(nodes, ow.Node("layer/act", c.onnxOp, []string{"h"}, []string{"y"}, c.attrs...))
		out = "y"
	}
	g := ow.Graph{
		Nodes:   nodes,
		Inits:   []ow.PB{ow.Tensor("W", []int64{nIn, nOut}, w), ow.Tensor("b", []int64{nOut}, b)},
		Inputs:  []ow.PB{ow.ValueInfo("x", "N", nIn)},
		Outputs: []ow.PB{ow.ValueInfo(out, "N", nOut)},
	}
	m, err := runtime.Load(g.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	res, err := m.Run(map[string]runtime.Tensor{"x": {Shape: []int{batch, nIn}, Data: x}})
	if err != nil {
		t.Fatal(err)
	}
	return res[out].Data
}

// viaGraph lowers a model whose encoder is the one layer under test and
// whose mu head is the identity (exact in float32), and runs graph.Encode.
func viaGraph(t *testing.T, c opCase, x, w, b []float32) []float32 {
	m := oneLayerModel(c.act, c.alpha)
	wts := graph.InitWeights(m, 1)
	wts["encoder.0.weight"] = checkpoint.Tensor{Shape: []int{nIn, nOut}, Data: w}
	wts["encoder.0.bias"] = checkpoint.Tensor{Shape: []int{nOut}, Data: b}
	eye := make([]float32, nOut*nOut)
	for i := 0; i < nOut; i++ {
		eye[i*nOut+i] = 1
	}
	wts["encoder.mu.weight"] = checkpoint.Tensor{Shape: []int{nOut, nOut}, Data: eye}
	wts["encoder.mu.bias"] = checkpoint.Tensor{Shape: []int{nOut}, Data: make([]float32, nOut)}
	mu, _, err := graph.Encode(m, wts, x, batch)
	if err != nil {
		t.Fatal(err)
	}
	return mu
}

// mustMLP is ir.NewMLP for models the suite knows to be well formed.
func mustMLP(name string, shape ir.Shape, latent int, enc, dec []ir.DenseLayer, lik ir.Likelihood, outAct ir.Activation) *ir.Model {
	m, err := ir.NewMLP(name, shape, latent, enc, dec, lik, outAct)
	if err != nil {
		panic(err)
	}
	return m
}

// oneLayerModel: x[nIn] → encoder.0 (the layer under test) → mu, logvar
// heads of width nOut; a linear decoder back to nIn.
func oneLayerModel(act ir.Activation, alpha float64) *ir.Model {
	return mustMLP("op", ir.Shape{nIn}, nOut, []ir.DenseLayer{{Units: nOut, Activation: act, Alpha: alpha}}, nil,
		ir.Likelihood{Kind: ir.Bernoulli}, ir.Linear)
}

// TestOperators is the shared suite: each operator through the runtime and
// through the Gorgonia lowering, each against float64, and the two against
// each other.
func TestOperators(t *testing.T) {
	x, w, b := data()
	for _, c := range cases() {
		name := c.act.String()
		if c.alpha != 0 {
			name += fmt.Sprintf("(alpha=%g)", c.alpha)
		}
		t.Run(name, func(t *testing.T) {
			want := expected(c, x, w, b)
			impls := map[string][]float32{
				"runtime": viaRuntime(t, c, x, w, b),
				"graph":   viaGraph(t, c, x, w, b),
			}
			for impl, got := range impls {
				if ok, i := runtime.Within(got, want, tol); !ok {
					t.Errorf("%s: element %d = %.9g, want %.9g", impl, i, got[i], want[i])
				}
			}
			if ok, i := runtime.Within(impls["runtime"], impls["graph"], tol); !ok {
				t.Errorf("runtime and graph differ at %d: %.9g vs %.9g", i, impls["runtime"][i], impls["graph"][i])
			}
		})
	}
}

// TestExportedModels runs whole exports through the runtime against the
// graph: every likelihood, image-shaped and flat inputs, every activation,
// every opset the exporter targets. This covers the glue operators the
// exporter emits around the layers (Flatten, Reshape, Shape, Expand,
// Constant, and the decoder's Sigmoid).
func TestExportedModels(t *testing.T) {
	shapes := [][]int{{12}, {1, 3, 4}}
	liks := []ir.LikelihoodKind{ir.Bernoulli, ir.GaussianFixed, ir.GaussianLearned}
	for _, opset := range export.SupportedOpsets {
		for si, shape := range shapes {
			for li, lik := range liks {
				act := ir.Activations[(si*len(liks)+li+opset)%len(ir.Activations)]
				name := fmt.Sprintf("opset%d/%v/%s/%s", opset, shape, lik, act)
				t.Run(name, func(t *testing.T) {
					m := smallModel(shape, lik, act)
					checkExport(t, m, graph.InitWeights(m, uint64(opset)), opset, 9)
				})
			}
		}
	}
}

func smallModel(shape []int, lik ir.LikelihoodKind, act ir.Activation) *ir.Model {
	alpha := 0.0
	switch act {
	case ir.ELU:
		alpha = 1
	case ir.LeakyReLU:
		alpha = 0.1
	}
	outAct := ir.Linear
	if lik != ir.Bernoulli {
		outAct = ir.Sigmoid
	}
	l := ir.Likelihood{Kind: lik}
	if lik == ir.GaussianFixed {
		l.Sigma = 0.5
	}
	hidden := []ir.DenseLayer{{Units: 7, Activation: act, Alpha: alpha}}
	return mustMLP("small", ir.Shape(shape), 3, hidden, hidden, l, outAct)
}

// checkExport exports m, runs encoder and decoder in the runtime on n
// inputs, and compares every output with graph.Encode/Decode.
func checkExport(t *testing.T, m *ir.Model, w map[string]checkpoint.Tensor, opset, n int) {
	t.Helper()
	if lv, ok := w[m.Likelihood.Logvar]; ok { // make the learned variance non-trivial
		for i := range lv.Data {
			lv.Data[i] = float32(i%5-2) * 0.3
		}
	}
	opts := export.Options{Opset: opset}
	encB, err := export.Encoder(m, w, opts)
	if err != nil {
		t.Fatal(err)
	}
	decB, err := export.Decoder(m, w, opts)
	if err != nil {
		t.Fatal(err)
	}
	x := make([]float32, n*m.Input.Size)
	for i := range x {
		x[i] = float32((i*37)%101) / 100
	}
	mu, logvar, err := graph.Encode(m, w, x, n)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := graph.Decode(m, w, mu, n)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := runtime.Load(encB)
	if err != nil {
		t.Fatalf("encoder: %v", err)
	}
	got, err := enc.Run(map[string]runtime.Tensor{"x": {Shape: append([]int{n}, m.Input.Shape...), Data: x}})
	if err != nil {
		t.Fatalf("encoder: %v", err)
	}
	compare(t, "mu", got["mu"].Data, mu)
	compare(t, "logvar", got["logvar"].Data, logvar)
	dm, err := runtime.Load(decB)
	if err != nil {
		t.Fatalf("decoder: %v", err)
	}
	got, err = dm.Run(map[string]runtime.Tensor{"z": {Shape: []int{n, m.Latent}, Data: mu}})
	if err != nil {
		t.Fatalf("decoder: %v", err)
	}
	for _, name := range m.DecoderOutputs() {
		compare(t, name, got[name].Data, dec[name])
	}

	// The round-trip model adds the reparameterisation (Constant, Mul, Exp,
	// Add): z = mu + exp(logvar/2)·eps, then the decoder.
	rtB, err := export.RoundTrip(m, w, opts)
	if err != nil {
		t.Fatal(err)
	}
	eps := make([]float32, n*m.Latent)
	z := make([]float32, len(eps))
	for i := range eps {
		eps[i] = float32(i%7-3) * 0.4
		z[i] = mu[i] + float32(math.Exp(0.5*float64(logvar[i])))*eps[i]
	}
	rtRef, err := graph.Decode(m, w, z, n)
	if err != nil {
		t.Fatal(err)
	}
	rt, err := runtime.Load(rtB)
	if err != nil {
		t.Fatalf("roundtrip: %v", err)
	}
	got, err = rt.Run(map[string]runtime.Tensor{
		"x":   {Shape: append([]int{n}, m.Input.Shape...), Data: x},
		"eps": {Shape: []int{n, m.Latent}, Data: eps},
	})
	if err != nil {
		t.Fatalf("roundtrip: %v", err)
	}
	for _, name := range m.DecoderOutputs() {
		compare(t, "roundtrip "+name, got[name].Data, rtRef[name])
	}
}

func compare(t *testing.T, name string, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d values, want %d", name, len(got), len(want))
		return
	}
	if ok, i := runtime.Within(got, want, tol); !ok {
		abs, rel := runtime.Compare(got, want)
		t.Errorf("%s: element %d = %.9g, want %.9g (max abs %.3g, max rel %.3g)", name, i, got[i], want[i], abs, rel)
	}
}
