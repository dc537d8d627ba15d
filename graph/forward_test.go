package graph

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/vaec/vaec/ir"
)

func TestEncodeDecodeMatchDirect(t *testing.T) {
	tests := []struct {
		name   string
		hidden []int
		act    ir.Activation
		alpha  float64
		lik    ir.LikelihoodKind
		n      int
	}{
		{"relu bernoulli", []int{7}, ir.ReLU, 0, ir.Bernoulli, 5},
		{"tanh two layers", []int{9, 6}, ir.Tanh, 0, ir.GaussianFixed, 3},
		{"one row", []int{7}, ir.Sigmoid, 0, ir.Bernoulli, 1},
		{"no hidden", nil, ir.ReLU, 0, ir.GaussianLearned, 4},
		{"softplus", []int{5}, ir.Softplus, 0, ir.Bernoulli, 2},
		{"leaky", []int{5}, ir.LeakyReLU, 0.1, ir.Bernoulli, 3},
		{"elu", []int{5}, ir.ELU, 1.5, ir.Bernoulli, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			const in, latent = 10, 3
			m := mlp(in, tc.hidden, latent, tc.act, tc.lik)
			setAlpha(m, tc.alpha)
			w := InitWeights(m, 7)
			if lv, ok := w["decoder.logvar"]; ok {
				for i := range lv.Data {
					lv.Data[i] = float32(i) * 0.1
				}
			}
			rng := rand.New(rand.NewPCG(1, 2))
			x := make([]float32, tc.n*in)
			for i := range x {
				x[i] = float32(rng.NormFloat64())
			}
			mu, lv, err := Encode(m, w, x, tc.n)
			if err != nil {
				t.Fatal(err)
			}
			h := to64(x)
			for _, l := range m.Encoder.Hidden() {
				h = directDense(h, tc.n, &l, w)
			}
			wantMu, wantLv := directDense(h, tc.n, m.Mu(), w), directDense(h, tc.n, m.Logvar(), w)
			for i := range wantMu {
				if !closeTo(float64(mu[i]), wantMu[i], 1e-5, 1e-4) || !closeTo(float64(lv[i]), wantLv[i], 1e-5, 1e-4) {
					t.Fatalf("element %d: got mu %v logvar %v, want %v %v", i, mu[i], lv[i], wantMu[i], wantLv[i])
				}
			}
			out, err := Decode(m, w, mu, tc.n)
			if err != nil {
				t.Fatal(err)
			}
			h = to64(mu)
			for i := range m.Decoder.Nodes {
				h = directDense(h, tc.n, &m.Decoder.Nodes[i], w)
			}
			key := ir.OutputMean
			if tc.lik == ir.Bernoulli {
				key = ir.OutputProbs
				for i := range h {
					h[i] = 1 / (1 + math.Exp(-h[i]))
				}
			}
			if len(out) != len(m.DecoderOutputs()) {
				t.Fatalf("got outputs %v, want %v", len(out), m.DecoderOutputs())
			}
			for i := range h {
				if !closeTo(float64(out[key][i]), h[i], 1e-5, 1e-4) {
					t.Fatalf("%s[%d] = %v, want %v", key, i, out[key][i], h[i])
				}
			}
			if tc.lik == ir.GaussianLearned {
				got := out[ir.OutputLogvar]
				if len(got) != tc.n*in || got[in+3] != w["decoder.logvar"].Data[3] {
					t.Fatalf("logvar output %v not the parameter repeated per row", got)
				}
			}
		})
	}
}

func TestForwardErrors(t *testing.T) {
	m := mlp(4, []int{3}, 2, ir.ReLU, ir.Bernoulli)
	w := InitWeights(m, 1)
	if _, _, err := Encode(m, w, make([]float32, 7), 2); err == nil {
		t.Error("Encode accepted 7 values for 2 rows of 4")
	}
	if _, _, err := Encode(m, w, nil, 0); err == nil {
		t.Error("Encode accepted zero rows")
	}
	delete(w, "encoder.0.bias")
	if _, _, err := Encode(m, w, make([]float32, 4), 1); err == nil {
		t.Error("Encode accepted weights without encoder.0.bias")
	}
	w = InitWeights(m, 1)
	w["decoder.out.weight"] = w["encoder.mu.weight"]
	if _, err := Decode(m, w, make([]float32, 2), 1); err == nil {
		t.Error("Decode accepted a weight of the wrong shape")
	}
	bad := mlp(4, []int{3}, 2, ir.ReLU, ir.Bernoulli)
	bad.Mu().In[0] = ir.Shape{5}
	if _, _, err := Encode(bad, InitWeights(bad, 1), make([]float32, 4), 1); err == nil {
		t.Error("Encode accepted a model whose layers do not chain")
	}
	bad = mlp(4, []int{3}, 2, ir.Activation(99), ir.Bernoulli)
	if _, _, err := Encode(bad, InitWeights(bad, 1), make([]float32, 4), 1); err == nil {
		t.Error("Encode accepted an unknown activation")
	}
}

func TestInitWeights(t *testing.T) {
	m := mlp(20, []int{8}, 2, ir.ReLU, ir.GaussianLearned)
	a, b := InitWeights(m, 3), InitWeights(m, 3)
	c := InitWeights(m, 4)
	for _, p := range m.Params {
		bound := float32(1 / math.Sqrt(float64(p.FanIn)))
		for i, v := range a[p.Name].Data {
			if v != b[p.Name].Data[i] {
				t.Fatalf("%s[%d]: same seed gave %v and %v", p.Name, i, v, b[p.Name].Data[i])
			}
			if p.Init == ir.InitZeros && v != 0 {
				t.Fatalf("%s[%d] = %v, want 0", p.Name, i, v)
			}
			if p.Init == ir.InitFanInUniform && (v < -bound || v > bound) {
				t.Fatalf("%s[%d] = %v outside ±%v", p.Name, i, v, bound)
			}
		}
	}
	if a["encoder.0.weight"].Data[0] == c["encoder.0.weight"].Data[0] {
		t.Error("different seeds gave the same first weight")
	}
}
