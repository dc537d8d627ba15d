package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// bernoulliRef is BernoulliRow written out from its definition: the
// activations of AddBiasAct, the terms in float64, lane j mod 16.
func bernoulliRef(l, x []float32, scale float32) (float64, []float32) {
	n := len(l)
	sp := append([]float32(nil), l...)
	AddBiasAct(sp, 1, n, nil, Softplus, 0)
	g := append([]float32(nil), l...)
	AddBiasAct(g, 1, n, nil, Sigmoid, 0)
	var acc [16]float64
	for j := range l {
		acc[j%16] += float64(sp[j]) - float64(x[j])*float64(l[j])
		g[j] = (g[j] - x[j]) * scale
	}
	var s float64
	for _, v := range acc {
		s += v
	}
	return s, g
}

func TestBernoulliRow(t *testing.T) {
	withActPaths(t, func(t *testing.T) {
		for _, n := range []int{1, 7, 15, 16, 17, 63, 64, 65, 784, 1000} {
			t.Run(fmt.Sprint("n", n), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(7, uint64(n)))
				l, x := make([]float32, n), make([]float32, n)
				for j := range l {
					l[j] = float32(rng.NormFloat64() * 8)
					switch j % 11 {
					case 3:
						l[j] = 150 // beyond the clamps
					case 7:
						l[j] = -150
					case 9:
						l[j] = float32(rng.NormFloat64() * 1e-6)
					}
					x[j] = float32(rng.IntN(2))
					if j%5 == 0 {
						x[j] = rng.Float32() // [0, 1] targets
					}
				}
				want, wantG := bernoulliRef(l, x, 0.25)
				g := make([]float32, n)
				got := BernoulliRow(l, x, g, 0.25)
				if got != want {
					t.Errorf("sum %v, reference %v", got, want)
				}
				for j := range g {
					if math.Float32bits(g[j]) != math.Float32bits(wantG[j]) {
						t.Fatalf("g[%d] = %v, reference %v (l %v, x %v)", j, g[j], wantG[j], l[j], x[j])
					}
				}
				if noG := BernoulliRow(l, x, nil, 0.25); noG != want {
					t.Errorf("without g: sum %v, with g %v", noG, want)
				}
			})
		}
	})
}

// TestBernoulliRowPaths: the vector path and the Go path agree to float32
// rounding in the activations (their exp and log differ in the last bits).
func TestBernoulliRowPaths(t *testing.T) {
	if !useAVX512Act {
		t.Skip("no AVX-512")
	}
	rng := rand.New(rand.NewPCG(8, 8))
	l, x := make([]float32, 784), make([]float32, 784)
	for j := range l {
		l[j], x[j] = float32(rng.NormFloat64()*5), float32(rng.IntN(2))
	}
	gv, gg := make([]float32, 784), make([]float32, 784)
	sv := BernoulliRow(l, x, gv, 1)
	useAVX512Act = false
	sg := BernoulliRow(l, x, gg, 1)
	useAVX512Act = true
	if math.Abs(sv-sg) > 1e-5*math.Abs(sg) {
		t.Errorf("sum: vector %v, Go %v", sv, sg)
	}
	for j := range gv {
		if d := math.Abs(float64(gv[j] - gg[j])); d > 1e-6 {
			t.Fatalf("g[%d]: vector %v, Go %v", j, gv[j], gg[j])
		}
	}
}

func TestBernoulliRowPanicsOnShortSlices(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("no panic for a short x")
		}
	}()
	BernoulliRow(make([]float32, 4), make([]float32, 3), nil, 1)
}

func BenchmarkBernoulliRow(b *testing.B) {
	rng := rand.New(rand.NewPCG(9, 9))
	l, x, g := make([]float32, 784), make([]float32, 784), make([]float32, 784)
	for j := range l {
		l[j], x[j] = float32(rng.NormFloat64()*5), float32(rng.IntN(2))
	}
	for b.Loop() {
		BernoulliRow(l, x, g, 1)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/784, "ns/elem")
}
