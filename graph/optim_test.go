package graph

import (
	"math"
	"testing"

	"github.com/vaec/vaec/ir"
)

// reference applies the update rules in float64 as written in the PyTorch
// documentation, for comparison with the float32 optimizer.
func reference(c ir.Optimizer, wd, clip float64, p, g []float64, steps int) []float64 {
	p = append([]float64(nil), p...)
	s1 := make([]float64, len(p))
	s2 := make([]float64, len(p))
	for t := 1; t <= steps; t++ {
		var norm float64
		for _, v := range g {
			norm += v * v
		}
		norm = math.Sqrt(norm)
		scale := 1.0
		if clip > 0 && norm > clip {
			scale = clip / norm
		}
		for i := range p {
			gi := g[i]*scale + wd*p[i]
			switch c.Kind {
			case ir.Adam:
				s1[i] = c.Beta1*s1[i] + (1-c.Beta1)*gi
				s2[i] = c.Beta2*s2[i] + (1-c.Beta2)*gi*gi
				mh := s1[i] / (1 - math.Pow(c.Beta1, float64(t)))
				vh := s2[i] / (1 - math.Pow(c.Beta2, float64(t)))
				p[i] -= c.LearningRate * mh / (math.Sqrt(vh) + c.Epsilon)
			case ir.Adagrad:
				s1[i] += gi * gi
				p[i] -= c.LearningRate * gi / (math.Sqrt(s1[i]) + c.Epsilon)
			case ir.SGD:
				s1[i] = c.Momentum*s1[i] + gi
				p[i] -= c.LearningRate * s1[i]
			case ir.RMSProp:
				s1[i] = c.Rho*s1[i] + (1-c.Rho)*gi*gi
				p[i] -= c.LearningRate * gi / (math.Sqrt(s1[i]) + c.Epsilon)
			}
		}
	}
	return p
}

func TestOptimizers(t *testing.T) {
	tests := []struct {
		name     string
		opt      ir.Optimizer
		wd, clip float64
	}{
		{"adam", ir.Optimizer{Kind: ir.Adam, LearningRate: 1e-2, Beta1: 0.9, Beta2: 0.999, Epsilon: 1e-8}, 0, 0},
		{"adam weight decay clip", ir.Optimizer{Kind: ir.Adam, LearningRate: 1e-2, Beta1: 0.8, Beta2: 0.99, Epsilon: 1e-6}, 0.1, 0.5},
		{"adagrad", ir.Optimizer{Kind: ir.Adagrad, LearningRate: 0.1, Epsilon: 1e-10}, 0, 0},
		{"sgd", ir.Optimizer{Kind: ir.SGD, LearningRate: 0.1}, 0, 0},
		{"sgd momentum decay", ir.Optimizer{Kind: ir.SGD, LearningRate: 0.05, Momentum: 0.9}, 0.01, 0},
		{"sgd clipped", ir.Optimizer{Kind: ir.SGD, LearningRate: 0.1}, 0, 0.1},
		{"rmsprop", ir.Optimizer{Kind: ir.RMSProp, LearningRate: 1e-2, Rho: 0.99, Epsilon: 1e-8}, 0, 0},
	}
	p0 := []float64{0.5, -1, 2, 0.01}
	g := []float64{0.3, -0.2, 1.5, 0}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := &ir.Model{
				Params: []ir.Param{{Name: "a", Shape: []int{2}}, {Name: "b", Shape: []int{2}}},
				Train:  ir.Train{Optimizer: tc.opt, WeightDecay: tc.wd, ClipNorm: tc.clip},
			}
			o, err := newOptimizer(m)
			if err != nil {
				t.Fatal(err)
			}
			params := [][]float32{{float32(p0[0]), float32(p0[1])}, {float32(p0[2]), float32(p0[3])}}
			grads := [][]float32{{float32(g[0]), float32(g[1])}, {float32(g[2]), float32(g[3])}}
			const steps = 3
			for s := 1; s <= steps; s++ {
				o.step(int64(s), params, grads)
			}
			want := reference(tc.opt, tc.wd, tc.clip, p0, g, steps)
			got := append(to64(params[0]), to64(params[1])...)
			for i := range want {
				if !closeTo(got[i], want[i], 1e-6, 1e-5) {
					t.Errorf("param %d after %d steps = %v, want %v", i, steps, got[i], want[i])
				}
			}
			// The state survives a round trip through a checkpoint map.
			o2, _ := newOptimizer(m)
			if err := o2.restore(o.state()); err != nil {
				t.Fatal(err)
			}
			p2 := [][]float32{append([]float32(nil), params[0]...), append([]float32(nil), params[1]...)}
			o.step(steps+1, params, grads)
			o2.step(steps+1, p2, grads)
			for i := range params {
				for j := range params[i] {
					if params[i][j] != p2[i][j] {
						t.Fatalf("restored optimizer diverged: %v vs %v", params, p2)
					}
				}
			}
		})
	}
}

// TestOptimizerStateNeverSubnormal: under a zero gradient the decaying
// state of every rule (Adam's moments, SGD's momentum, RMSProp's mean of
// squares) reaches exactly zero without passing through subnormal values,
// which would make every later multiply on it take a microcode assist.
func TestOptimizerStateNeverSubnormal(t *testing.T) {
	for _, opt := range []ir.Optimizer{
		{Kind: ir.Adam, LearningRate: 1e-3, Beta1: 0.9, Beta2: 0.9, Epsilon: 1e-8},
		{Kind: ir.SGD, LearningRate: 1e-3, Momentum: 0.9},
		{Kind: ir.RMSProp, LearningRate: 1e-3, Rho: 0.9, Epsilon: 1e-8},
	} {
		t.Run(opt.Kind.String(), func(t *testing.T) {
			m := &ir.Model{Params: []ir.Param{{Name: "w", Shape: []int{17}}}, Train: ir.Train{Optimizer: opt}}
			o, err := newOptimizer(m)
			if err != nil {
				t.Fatal(err)
			}
			p, g := [][]float32{make([]float32, 17)}, [][]float32{make([]float32, 17)}
			for j := range g[0] {
				g[0][j] = 1
			}
			o.step(1, p, g) // state of order 1
			clear(g[0])
			for s := int64(2); s <= 2000; s++ {
				o.step(s, p, g)
				for name, st := range o.state() {
					for _, v := range st.Data {
						if a := math.Abs(float64(v)); a != 0 && a < 0x1p-126 {
							t.Fatalf("step %d: %s = %v is subnormal", s, name, v)
						}
					}
				}
			}
			for name, st := range o.state() {
				if st.Data[0] != 0 {
					t.Errorf("%s = %v after 2,000 steps of zero gradient; 0.9^2000 is below every float32", name, st.Data[0])
				}
			}
		})
	}
}

func TestOptimizerErrors(t *testing.T) {
	tests := []ir.Optimizer{
		{Kind: ir.OptimizerKind(99), LearningRate: 1e-3},
		{Kind: ir.Adam, LearningRate: 0, Beta1: 0.9, Beta2: 0.999, Epsilon: 1e-8},
		{Kind: ir.Adam, LearningRate: 1e-3, Beta1: 1, Beta2: 0.999, Epsilon: 1e-8},
		{Kind: ir.RMSProp, LearningRate: 1e-3, Rho: 0.9},
	}
	for _, c := range tests {
		if _, err := newOptimizer(&ir.Model{Train: ir.Train{Optimizer: c}}); err == nil {
			t.Errorf("newOptimizer(%+v) accepted it", c)
		}
	}
	m := &ir.Model{Params: []ir.Param{{Name: "a", Shape: []int{2}}},
		Train: ir.Train{Optimizer: ir.Optimizer{Kind: ir.Adam, LearningRate: 1, Beta1: 0.9, Beta2: 0.9, Epsilon: 1}}}
	o, _ := newOptimizer(m)
	if err := o.restore(nil); err == nil {
		t.Error("restore accepted an empty state")
	}
}
