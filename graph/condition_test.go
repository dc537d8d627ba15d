package graph

import (
	"compress/gzip"
	"context"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/vaec/vaec/ir"
)

// TestVariantNetGradients checks ∂loss/∂param of whole training graphs of
// issue 15's variants (conditional, IWAE, VampPrior) against central
// differences of the float64 terms, for every parameter element of a
// small model.
func TestVariantNetGradients(t *testing.T) {
	for _, tc := range []struct {
		name    string
		samples int
		mutate  func(m *ir.Model)
	}{
		{"conditional", 2, func(m *ir.Model) { m.Condition = ir.Condition{Classes: 3} }},
		{"iwae", 3, func(m *ir.Model) { m.Objective = ir.Objective{Kind: ir.IWAE, Beta: 1, Samples: 3} }},
		{"vamp", 2, func(m *ir.Model) { m.Prior = ir.Prior{Kind: ir.PriorVamp, Components: 3} }},
		{"conditional iwae", 2, func(m *ir.Model) {
			m.Condition = ir.Condition{Classes: 2}
			m.Objective = ir.Objective{Kind: ir.IWAE, Beta: 1, Samples: 2}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const in, latent, batch = 5, 2, 3
			m := &ir.Model{}
			tc.mutate(m)
			cond, prior, obj := m.Condition, m.Prior, m.Objective
			// Rebuild with the condition in place (the builders insert y).
			m2, err := ir.NewMLPWith(func(m *ir.Model) { m.Condition = cond }, "t", ir.Shape{in}, latent,
				[]ir.DenseLayer{{Units: 4, Activation: ir.Tanh}}, []ir.DenseLayer{{Units: 4, Activation: ir.Tanh}}, ir.Likelihood{Kind: ir.Bernoulli}, ir.Linear)
			if err != nil {
				t.Fatal(err)
			}
			m = m2
			m.Prior, m.Objective = prior, obj
			if m.Objective.Samples == 0 {
				m.Objective = ir.Objective{Beta: 1, Samples: 1}
			}
			m.AddPriorParams()
			m.SpecHash = "variant"
			w := InitWeights(m, 5)
			n, err := buildNet(m, w, batch, tc.samples, true)
			if err != nil {
				t.Fatal(err)
			}
			defer n.close()
			rng := rand.New(rand.NewPCG(3, 4))
			for i := range n.xv.Data().([]float32) {
				n.xv.Data().([]float32)[i] = float32(rng.Float64())
			}
			fillNormal(rng, n.epsv.Data().([]float32))
			if n.yv != nil {
				if err := fillCondition(n.yv.Data().([]float32), n.ysv.Data().([]float32), []int{1, 0, 1}, []int{0, 1, 2}, m.Condition.Classes); err != nil {
					t.Fatal(err)
				}
			}
			loss := func() float64 {
				r, k, _, err := n.run(1)
				if err != nil {
					t.Fatal(err)
				}
				if n.bound != nil && n.bound.iwae {
					return -n.bound.bound / batch
				}
				return (r + k) / batch
			}
			loss()
			grads := make([][]float32, len(m.Params))
			for i := range m.Params {
				g, err := n.grad(i)
				if err != nil {
					t.Fatal(err)
				}
				grads[i] = append([]float32(nil), g...)
			}
			for i, p := range m.Params {
				d := w[p.Name].Data
				for j := range d {
					const h = 1e-3
					orig := d[j]
					d[j] = orig + h
					up := loss()
					d[j] = orig - h
					down := loss()
					d[j] = orig
					fd := (up - down) / (2 * h)
					if got := float64(grads[i][j]); math.Abs(got-fd) > 2e-3+2e-2*math.Abs(fd) {
						t.Errorf("∂loss/∂%s[%d] = %v, central difference %v", p.Name, j, got, fd)
					}
				}
			}
		})
	}
}

// TestConditionalTrains: a conditional model trains on MNIST with its
// labels, bit-identically at GOMAXPROCS 1 and 2, its decoder's output
// depends on y, and data without labels is refused before the first step.
func TestConditionalTrains(t *testing.T) {
	m, base := smallMNIST(t)
	m2, err := ir.NewMLPWith(func(m *ir.Model) { m.Condition = ir.Condition{Classes: 10} }, "test", ir.Shape{784}, 4,
		[]ir.DenseLayer{{Units: 32, Activation: ir.ReLU}}, []ir.DenseLayer{{Units: 32, Activation: ir.ReLU}}, m.Likelihood, ir.Linear)
	if err != nil {
		t.Fatal(err)
	}
	m2.SpecHash, m2.Objective, m2.Train = m.SpecHash, m.Objective, m.Train
	m = m2
	base.Train.Labels, base.Val.Labels = mnistLabels(t, 0, base.Train.N), mnistLabels(t, 9800, base.Val.N)
	run := func(procs int) *Result {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		r, err := Train(context.Background(), m, base)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	one := run(1)
	two := run(2)
	sameWeights(t, one.Weights, two.Weights)
	z := make([]float32, 4)
	y0, _ := OneHot([]int{0}, 10)
	y1, _ := OneHot([]int{1}, 10)
	a, err := DecodeY(m, one.Weights, z, y0, 1)
	if err != nil {
		t.Fatal(err)
	}
	b, err := DecodeY(m, one.Weights, z, y1, 1)
	if err != nil {
		t.Fatal(err)
	}
	var diff float64
	for i, v := range a[ir.OutputProbs] {
		diff += math.Abs(float64(v - b[ir.OutputProbs][i]))
	}
	if diff < 1 {
		t.Errorf("the decoder's output for labels 0 and 1 differs by %v in total: y is not used", diff)
	}
	if _, err := Decode(m, one.Weights, z, 1); err == nil {
		t.Error("Decode of a conditional model without y passed")
	}
	base.Train.Labels = nil
	if _, err := Train(context.Background(), m, base); err == nil {
		t.Error("training without labels passed")
	}
}

// mnistLabels reads labels [start, start+n) of the MNIST test set (IDX1,
// gzip: an 8-byte header, then one byte per label).
func mnistLabels(t *testing.T, start, n int) []int {
	t.Helper()
	path := strings.Replace(mnistPath(t), "images-idx3", "labels-idx1", 1)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil || len(b) < 8+start+n {
		t.Fatalf("%s: %d bytes, %v", path, len(b), err)
	}
	labels := make([]int, n)
	for i := range labels {
		labels[i] = int(b[8+start+i])
	}
	return labels
}
