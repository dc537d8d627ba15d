package graph

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/vaec/vaec/checkpoint"
	"github.com/vaec/vaec/ir"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// boundRef is the loss of boundOp computed directly in float64 from its
// definition, for one setting; the reference the op's value and gradients
// are checked against.
type boundRef struct {
	iwae          bool
	lik           ir.LikelihoodKind
	vamp          bool
	b, s, d, l, k int
	klw           float64
}

// inputs in boundOp order
func (r boundRef) loss(in [][]float64) float64 {
	out, x, mu, lv, eps := in[0], in[1], in[2], in[3], in[4]
	var lvp, pmu, plv []float64
	i := 5
	if r.lik == ir.GaussianLearned {
		lvp = in[i]
		i++
	}
	if r.vamp {
		pmu, plv = in[i], in[i+1]
	}
	normLog := func(z, m, v float64) float64 { return -0.5 * (math.Log(2*math.Pi) + v + (z-m)*(z-m)/math.Exp(v)) }
	var total float64
	for ex := 0; ex < r.b; ex++ {
		var ws, nlls, kls []float64
		for s := 0; s < r.s; s++ {
			row := s*r.b + ex
			var ll float64
			for j := 0; j < r.d; j++ {
				o, xv := out[row*r.d+j], x[ex*r.d+j]
				switch r.lik {
				case ir.Bernoulli:
					ll += xv*o - math.Log1p(math.Exp(o))
				case ir.GaussianFixed:
					ll += normLog(xv, o, 2*math.Log(0.5))
				case ir.GaussianLearned:
					ll += normLog(xv, o, lvp[j])
				}
			}
			var lq, lp float64
			z := make([]float64, r.l)
			for j := range z {
				z[j] = mu[ex*r.l+j] + math.Exp(lv[ex*r.l+j]/2)*eps[row*r.l+j]
				lq += normLog(z[j], mu[ex*r.l+j], lv[ex*r.l+j])
			}
			if r.vamp {
				var p float64
				for c := 0; c < r.k; c++ {
					var lc float64
					for j := range z {
						lc += normLog(z[j], pmu[c*r.l+j], plv[c*r.l+j])
					}
					p += math.Exp(lc) / float64(r.k)
				}
				lp = math.Log(p)
			} else {
				for j := range z {
					lp += normLog(z[j], 0, 0)
				}
			}
			ws = append(ws, ll+lp-lq)
			nlls = append(nlls, -ll)
			kls = append(kls, lq-lp)
		}
		if r.iwae {
			var m float64
			for _, w := range ws {
				m += math.Exp(w)
			}
			total -= math.Log(m / float64(r.s))
		} else {
			for s := range ws {
				total += (nlls[s] + r.klw*kls[s]) / float64(r.s)
			}
		}
	}
	return total / float64(r.b)
}

func TestBoundOpGradients(t *testing.T) {
	for _, tc := range []boundRef{
		{iwae: true, lik: ir.Bernoulli, b: 3, s: 4, d: 5, l: 2},
		{iwae: true, lik: ir.GaussianFixed, b: 2, s: 3, d: 4, l: 3},
		{iwae: true, lik: ir.GaussianLearned, b: 2, s: 3, d: 4, l: 2},
		{iwae: true, lik: ir.Bernoulli, vamp: true, b: 2, s: 3, d: 5, l: 2, k: 3},
		{lik: ir.Bernoulli, vamp: true, b: 3, s: 2, d: 5, l: 2, k: 4, klw: 0.7},
		{lik: ir.GaussianLearned, vamp: true, b: 2, s: 1, d: 3, l: 3, k: 2, klw: 1},
	} {
		name := fmt.Sprintf("iwae=%v/%s/vamp=%v", tc.iwae, tc.lik, tc.vamp)
		t.Run(name, func(t *testing.T) {
			if tc.iwae {
				tc.klw = 1
			}
			rng := rand.New(rand.NewPCG(7, 9))
			sizes := [][2]int{{tc.s * tc.b, tc.d}, {tc.b, tc.d}, {tc.b, tc.l}, {tc.b, tc.l}, {tc.s * tc.b, tc.l}}
			if tc.lik == ir.GaussianLearned {
				sizes = append(sizes, [2]int{1, tc.d})
			}
			if tc.vamp {
				sizes = append(sizes, [2]int{tc.k, tc.l}, [2]int{tc.k, tc.l})
			}
			in := make([][]float64, len(sizes))
			for i, sz := range sizes {
				in[i] = make([]float64, sz[0]*sz[1])
				for j := range in[i] {
					v := rng.NormFloat64()
					switch {
					case i == 1 && tc.lik == ir.Bernoulli:
						v = rng.Float64()
					case i == 3 || i >= 5:
						v = 0.5 * v // log-variances and components of moderate size
					}
					in[i][j] = float64(float32(v))
				}
			}
			op := &boundOp{iwae: tc.iwae, lik: tc.lik, sigma: 0.5, vamp: tc.vamp, grad: true}
			vals := make([]G.Value, 0, len(in)+1)
			for i, v := range in {
				if i == boundKLW {
					vals = append(vals, G.NewF32(float32(tc.klw)))
				}
				f := make([]float32, len(v))
				for j := range v {
					f[j] = float32(v[j])
				}
				vals = append(vals, tensor.New(tensor.WithShape(sizes[i][0], sizes[i][1]), tensor.WithBacking(f)))
			}
			if len(in) == boundKLW {
				vals = append(vals, G.NewF32(float32(tc.klw)))
			}
			got, err := op.UsePreallocDo(G.NewF32(0), vals...)
			if err != nil {
				t.Fatal(err)
			}
			want := tc.loss(in)
			if g := float64(*got.(*G.F32)); !closeTo(g, want, 1e-4, 1e-5) {
				t.Errorf("loss %v, want %v", g, want)
			}
			// Central differences of the float64 reference; the decoder path
			// (out as a function of mu and logvar) is not the op's.
			opIndex := func(i int) int {
				if i >= boundKLW {
					return i + 1
				}
				return i
			}
			for i := range in {
				if i == boundX || i == boundEps {
					continue
				}
				g := op.d[opIndex(i)]
				for j := range in[i] {
					const h = 1e-5
					v := in[i][j]
					in[i][j] = v + h
					up := tc.loss(in)
					in[i][j] = v - h
					down := tc.loss(in)
					in[i][j] = v
					fd := (up - down) / (2 * h)
					if !closeTo(float64(g[j]), fd, 1e-5, 1e-3) {
						t.Errorf("∂loss/∂input%d[%d] = %v, finite difference %v", opIndex(i), j, g[j], fd)
					}
				}
			}
		})
	}
}

// TestIWAEStableForLargeK: log-weights far below exp's range still give a
// finite bound, equal to the largest log-weight minus log K when one
// dominates.
func TestIWAEStableForLargeK(t *testing.T) {
	const b, s, d, l = 1, 1000, 3, 1
	out := make([]float32, s*d)
	for i := range out {
		out[i] = -400 // log-likelihood ≈ −400 per unit of x = 1: exp underflows
	}
	out[0], out[1], out[2] = 400, 400, 400 // the first draw fits x
	x := []float32{1, 1, 1}
	mat := func(v []float32, r, c int) *tensor.Dense {
		return tensor.New(tensor.WithShape(r, c), tensor.WithBacking(v))
	}
	op := &boundOp{iwae: true, lik: ir.Bernoulli}
	if _, err := op.UsePreallocDo(G.NewF32(0), mat(out, s, d), mat(x, b, d), mat([]float32{0}, b, l), mat([]float32{0}, b, l), mat(make([]float32, s*l), s, l), G.NewF32(1)); err != nil {
		t.Fatal(err)
	}
	lw0 := -3*math.Log1p(math.Exp(-400)) - 0.5*math.Log(2*math.Pi) + 0.5*math.Log(2*math.Pi) // prior and q cancel at z = 0
	if want := lw0 - math.Log(s); !closeTo(op.bound, want, 1e-9, 1e-12) {
		t.Errorf("bound %v, want %v", op.bound, want)
	}
}

// TestVariantsTrain: IWAE and a VampPrior train (the validation bound
// improves over two epochs), give bit-identical weights at GOMAXPROCS 1
// and 2, and the VampPrior's other parameters start where the standard
// model's do (its pseudo-inputs are drawn last).
func TestVariantsTrain(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(m *ir.Model)
	}{
		{"iwae", func(m *ir.Model) { m.Objective = ir.Objective{Kind: ir.IWAE, Beta: 1, Samples: 3} }},
		{"vamp", func(m *ir.Model) { m.Prior = ir.Prior{Kind: ir.PriorVamp, Components: 7}; m.AddPriorParams() }},
		{"iwae+vamp", func(m *ir.Model) {
			m.Objective = ir.Objective{Kind: ir.IWAE, Beta: 1, Samples: 2}
			m.Prior = ir.Prior{Kind: ir.PriorVamp, Components: 3}
			m.AddPriorParams()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, base := smallMNIST(t)
			plain := InitWeights(m, m.Train.Seed)
			tc.mutate(m)
			if err := ir.VerifyArchitecture(m); err != nil {
				t.Fatal(err)
			}
			for name, w := range InitWeights(m, m.Train.Seed) {
				if p, ok := plain[name]; ok {
					sameWeights(t, map[string]checkpoint.Tensor{name: p}, map[string]checkpoint.Tensor{name: w})
				}
			}
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
			h := one.History
			first, last := *h[0].ValELBO, *h[len(h)-1].ValELBO
			if m.Objective.Kind == ir.IWAE {
				if h[0].ValBound == nil || h[0].TrainBound == nil || h[0].Objective != "iwae" {
					t.Fatalf("metrics without the trained bound: %+v", h[0])
				}
				first, last = *h[0].ValBound, *h[len(h)-1].ValBound
				if *h[len(h)-1].ValBound < *h[len(h)-1].ValELBO {
					t.Errorf("IWAE bound %v below the ELBO %v", *h[len(h)-1].ValBound, *h[len(h)-1].ValELBO)
				}
			}
			if !(last > first) {
				t.Errorf("validation bound %v after epoch 1, %v at the end: no progress", first, last)
			}
		})
	}
}
