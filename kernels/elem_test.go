package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestApplyScalar: both paths give the bits of the plain float32
// operation, for every op, length and kind of value.
func TestApplyScalar(t *testing.T) {
	specials := []float32{0, float32(math.Copysign(0, -1)), 1e-40, -3e-39, float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), 3.4e38}
	ref := func(x float32, op ScalarOp, c float32) float32 {
		switch op {
		case AddScalar:
			return x + c
		case SubScalar:
			return x - c
		case MulScalar:
			return x * c
		case DivScalar:
			return x / c
		case RSubScalar:
			return c - x
		default:
			return c / x
		}
	}
	withActPaths(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(3, 4))
		for _, n := range []int{1, 5, 15, 16, 17, 33, 1000} {
			for op := AddScalar; op <= RDivScalar; op++ {
				for _, c := range []float32{255, 1 / 255.0, -0.5, 0, float32(math.Inf(1))} {
					x := make([]float32, n)
					for j := range x {
						x[j] = float32(rng.NormFloat64() * 100)
						if j%7 == 3 {
							x[j] = specials[j%len(specials)]
						}
					}
					dst := make([]float32, n)
					ApplyScalar(dst, x, op, c)
					for j := range dst {
						want := ref(x[j], op, c)
						if math.Float32bits(dst[j]) != math.Float32bits(want) && !(want != want && dst[j] != dst[j]) {
							t.Fatalf("n=%d op %d c=%v: dst[%d] = %v, want %v (x = %v)", n, op, c, j, dst[j], want, x[j])
						}
					}
					ApplyScalar(x, x, op, c) // in place
					for j := range x {
						if math.Float32bits(x[j]) != math.Float32bits(dst[j]) && !(x[j] != x[j] && dst[j] != dst[j]) {
							t.Fatalf("n=%d op %d: in place, element %d = %v, want %v", n, op, j, x[j], dst[j])
						}
					}
				}
			}
		}
	})
}

func TestApplyScalarPanics(t *testing.T) {
	for i, f := range []func(){
		func() { ApplyScalar(make([]float32, 3), make([]float32, 2), MulScalar, 1) },
		func() { ApplyScalar(make([]float32, 3), make([]float32, 3), ScalarOp(9), 1) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("case %d: no panic", i)
				}
			}()
			f()
		}()
	}
}

func BenchmarkApplyScalar(b *testing.B) {
	x := make([]float32, 256*784)
	dst := make([]float32, len(x))
	for j := range x {
		x[j] = float32(j % 255)
	}
	for _, vec := range []bool{false, true} {
		b.Run(fmt.Sprint("avx512=", vec), func(b *testing.B) {
			if vec && !useAVX512Act {
				b.Skip("no AVX-512")
			}
			saved := useAVX512Act
			useAVX512Act = vec
			defer func() { useAVX512Act = saved }()
			for b.Loop() {
				ApplyScalar(dst, x, MulScalar, 255)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(x)), "ns/elem")
		})
	}
}
