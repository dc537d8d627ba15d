package conformance

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"sort"
	"testing"

	"github.com/vaec/vaec/checkpoint"
	"github.com/vaec/vaec/compiler"
	"github.com/vaec/vaec/ir"
)

// mnistImages is the MNIST test set, relative to this package's directory.
const mnistImages = "../testdata/mnist/t10k-images-idx3-ubyte.gz"

// inlineSpecs cover what testdata/specs may not: every activation, every
// likelihood, flat and image inputs.
var inlineSpecs = map[string]string{
	"activations-bernoulli-image.yaml": `
vaec: 1
name: acts
input: {shape: [1, 28, 28], scale: 1/255}
latent: 6
encoder:
  - {units: 64, activation: elu, alpha: 0.7}
  - {units: 32, activation: leaky_relu, slope: 0.2}
  - {units: 16, activation: softplus}
decoder:
  - {units: 16, activation: tanh}
  - {units: 32, activation: sigmoid}
  - {units: 64, activation: linear}
likelihood: bernoulli
data: {train: ` + mnistImages + `}
`,
	"gaussian-fixed-flat.yaml": `
vaec: 1
name: gfixed
input: {shape: [784], scale: 1/255, offset: -0.5}
latent: 4
encoder: [{units: 32}]
decoder: [{units: 32, activation: relu}]
likelihood: {type: gaussian, variance: fixed, sigma: 0.3}
data: {train: ` + mnistImages + `}
export: {opset: 13}
`,
	"no-hidden.yaml": `
vaec: 1
name: linear
input: {shape: [784], scale: 1/255}
latent: 3
encoder: []
decoder: []
likelihood: {type: gaussian, variance: learned, mean_activation: sigmoid}
data: {train: ` + mnistImages + `}
`,
}

// testModels compiles testdata/specs/*.yaml and the inline specs.
func testModels(t *testing.T) map[string]*ir.Model {
	t.Helper()
	models := map[string]*ir.Model{}
	files, err := filepath.Glob("../testdata/specs/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		m, err := compiler.CompileFile(f)
		if err != nil {
			// Specs that are meant to fail live in testdata/specs too.
			t.Logf("skipping %s: %v", f, err)
			continue
		}
		models[filepath.Base(f)] = m
	}
	if len(models) == 0 {
		t.Fatal("no spec in ../testdata/specs compiles")
	}
	for name, src := range inlineSpecs {
		m, err := compiler.Compile(name, []byte(src))
		if err != nil {
			t.Fatalf("inline spec %s: %v", name, err)
		}
		models[name] = m
	}
	return models
}

// sortedNames returns the keys of models in order, for stable test names.
func sortedNames[V any](models map[string]V) []string {
	names := make([]string, 0, len(models))
	for n := range models {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// randomWeights draws every parameter, biases and log-variances included,
// from U(-1/sqrt(fanIn), 1/sqrt(fanIn)) so that no term of the exported
// graph is trivially zero.
func randomWeights(m *ir.Model, seed uint64) map[string]checkpoint.Tensor {
	rng := rand.New(rand.NewPCG(seed, 7))
	w := map[string]checkpoint.Tensor{}
	for _, p := range m.Params {
		bound := 0.5
		if p.FanIn > 0 {
			bound = 1 / math.Sqrt(float64(p.FanIn))
		}
		t := checkpoint.Tensor{Shape: append([]int(nil), p.Shape...), Data: make([]float32, p.Size())}
		for i := range t.Data {
			t.Data[i] = float32((2*rng.Float64() - 1) * bound)
		}
		w[p.Name] = t
	}
	return w
}

// The reference forward pass below is written from the IR's definitions in
// float64, independently of both the exporter and the training graph: a
// third opinion when ONNX Runtime and graph disagree.

func refActivate(a ir.Activation, alpha, x float64) float64 {
	switch a {
	case ir.ReLU:
		return math.Max(0, x)
	case ir.Tanh:
		return math.Tanh(x)
	case ir.Sigmoid:
		return 1 / (1 + math.Exp(-x))
	case ir.ELU:
		if x > 0 {
			return x
		}
		return alpha * math.Expm1(x)
	case ir.LeakyReLU:
		if x > 0 {
			return x
		}
		return alpha * x
	case ir.Softplus:
		return math.Max(x, 0) + math.Log1p(math.Exp(-math.Abs(x)))
	}
	return x
}

// refDense applies layer l to n rows of x.
func refDense(l *ir.Node, w map[string]checkpoint.Tensor, x []float64, n int) []float64 {
	W, b := w[l.Params[0]].Data, w[l.Params[1]].Data
	in, out := l.In[0].Size(), l.Units
	y := make([]float64, n*out)
	alpha := float64(float32(l.Alpha)) // ONNX attributes are float32
	for r := 0; r < n; r++ {
		row := y[r*out : (r+1)*out]
		for j := range row {
			row[j] = float64(b[j])
		}
		// Row-major W [In, Out]: walk it in memory order.
		for k := 0; k < in; k++ {
			xv := x[r*in+k]
			if xv == 0 {
				continue
			}
			wk := W[k*out : (k+1)*out]
			for j, wv := range wk {
				row[j] += xv * float64(wv)
			}
		}
		for j, v := range row {
			row[j] = refActivate(l.Activation, alpha, v)
		}
	}
	return y
}

func refEncode(m *ir.Model, w map[string]checkpoint.Tensor, x []float32, n int) (mu, logvar []float64) {
	h := make([]float64, len(x))
	for i, v := range x {
		h[i] = float64(v)
	}
	for _, l := range m.Encoder.Hidden() {
		h = refDense(&l, w, h, n)
	}
	return refDense(m.Mu(), w, h, n), refDense(m.Logvar(), w, h, n)
}

func refDecode(m *ir.Model, w map[string]checkpoint.Tensor, z []float64, n int) map[string][]float64 {
	h := z
	for _, l := range m.Decoder.Hidden() {
		h = refDense(&l, w, h, n)
	}
	out := refDense(m.Output(), w, h, n)
	switch m.Likelihood.Kind {
	case ir.Bernoulli:
		for i, v := range out {
			out[i] = 1 / (1 + math.Exp(-v))
		}
		return map[string][]float64{ir.OutputProbs: out}
	case ir.GaussianLearned:
		lv := w[m.Likelihood.Logvar].Data
		logvar := make([]float64, len(out))
		for i := range logvar {
			logvar[i] = float64(lv[i%len(lv)])
		}
		return map[string][]float64{ir.OutputMean: out, ir.OutputLogvar: logvar}
	}
	return map[string][]float64{ir.OutputMean: out}
}
