package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// adamLoop is the update as a plain Go loop, the way a caller would write
// it (graph's optimizer does); AdamStep must reproduce it bit for bit. The
// conversions only matter where the compiler would otherwise fuse
// multiply-adds (GOAMD64=v3); with the default GOAMD64=v1 the loop without
// them compiles to the same operations.
func adamLoop(p, g, m, v []float32, h AdamParams) {
	// Moments below the smallest normal float32 are flushed to +0.
	flush := func(x float32) float32 {
		if math.Abs(float64(x)) < float64(math.Float32frombits(0x00800000)) {
			return 0
		}
		return x
	}
	for j := range p {
		gj := float32(g[j]*h.GradScale) + float32(h.WeightDecay*p[j])
		m[j] = flush(float32(h.Beta1*m[j]) + float32((1-h.Beta1)*gj))
		v[j] = flush(float32(h.Beta2*v[j]) + float32((1-h.Beta2)*gj*gj))
		p[j] -= float32(h.StepSize*m[j]) / (float32(math.Sqrt(float64(v[j])))/h.SqrtBC2 + h.Eps)
	}
}

func TestAdamStep(t *testing.T) {
	withActPaths(t, func(t *testing.T) {
		for _, n := range []int{0, 1, 15, 16, 17, 1000} {
			t.Run(fmt.Sprint("n", n), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(51, uint64(n)))
				vec := func() []float32 {
					x := make([]float32, n)
					for i := range x {
						x[i] = float32(rng.NormFloat64())
					}
					return x
				}
				p, m := vec(), vec()
				v := vec()
				for i := range v {
					v[i] *= v[i]
				}
				p2, m2, v2 := append([]float32(nil), p...), append([]float32(nil), m...), append([]float32(nil), v...)
				for step := 1; step <= 3; step++ {
					g := vec()
					g0 := append([]float32(nil), g...)
					h := AdamParams{GradScale: 0.7, WeightDecay: 1e-2, Beta1: 0.9, Beta2: 0.999,
						StepSize: float32(1e-3 / (1 - math.Pow(0.9, float64(step)))),
						SqrtBC2:  float32(math.Sqrt(1 - math.Pow(0.999, float64(step)))), Eps: 1e-8}
					AdamStep(p, g, m, v, h)
					adamLoop(p2, g, m2, v2, h)
					for i := range g {
						if g[i] != g0[i] {
							t.Fatalf("step %d: g[%d] modified", step, i)
						}
					}
					for i := range p {
						if math.Float32bits(p[i]) != math.Float32bits(p2[i]) || m[i] != m2[i] || v[i] != v2[i] {
							t.Fatalf("step %d, element %d: got p=%v m=%v v=%v, want p=%v m=%v v=%v", step, i, p[i], m[i], v[i], p2[i], m2[i], v2[i])
						}
					}
				}
			})
		}
	})
}

// On the first step from zero moments, Adam moves each parameter by about
// lr against the sign of its gradient.
func TestAdamStepFirstStep(t *testing.T) {
	withActPaths(t, func(t *testing.T) {
		p := []float32{1, 1, 1}
		g := []float32{0.5, -3, 0}
		m, v := make([]float32, 3), make([]float32, 3)
		h := AdamParams{GradScale: 1, Beta1: 0.9, Beta2: 0.999, StepSize: 0.01 / 0.1, SqrtBC2: float32(math.Sqrt(0.001)), Eps: 1e-8}
		AdamStep(p, g, m, v, h)
		want := []float64{0.99, 1.01, 1}
		for i := range p {
			if math.Abs(float64(p[i])-want[i]) > 1e-6 {
				t.Errorf("p[%d] = %v, want %v", i, p[i], want[i])
			}
		}
	})
}

func TestAdamStepPanicsOnShortSlices(t *testing.T) {
	defer func() {
		if r := recover(); r == nil {
			t.Fatal("no panic")
		}
	}()
	AdamStep(make([]float32, 3), make([]float32, 2), make([]float32, 3), make([]float32, 3), AdamParams{})
}

func ExampleAdamStep() {
	p := []float32{1, 1}
	g := []float32{0.5, -0.5}
	m, v := make([]float32, 2), make([]float32, 2)
	for step := 1; step <= 2; step++ {
		AdamStep(p, g, m, v, AdamParams{
			GradScale: 1, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8,
			StepSize: float32(0.1 / (1 - math.Pow(0.9, float64(step)))),
			SqrtBC2:  float32(math.Sqrt(1 - math.Pow(0.999, float64(step)))),
		})
	}
	fmt.Printf("%.3f\n", p)
	// Output: [0.800 1.200]
}

// TestAdamStepFlushesSubnormalMoments: a moment that would become
// subnormal is +0 instead, on both paths, NaN stays NaN, and a moment that
// decays under a zero gradient (a dead unit's) reaches exactly zero
// without ever being subnormal.
func TestAdamStepFlushesSubnormalMoments(t *testing.T) {
	const minNormal = 0x1p-126 // 1.1754944e-38
	nan := float32(math.NaN())
	h := AdamParams{GradScale: 1, Beta1: 0.9, Beta2: 0.999, StepSize: 1e-3, SqrtBC2: 0.03, Eps: 1e-8}
	cases := []struct {
		name           string
		m, v           float32
		flushM, flushV bool // else Beta1·m and Beta2·v (g = 0)
	}{
		{"both normal after decay", 1e-30, 1e-30, false, false},
		{"m just below after decay", 1.2e-38, 1, true, false},
		{"m negative, just below", -1.2e-38, 1, true, false},
		{"m stays normal", 1.4e-38, 1, false, false},
		{"v just below after decay", 0, 1.1760e-38, false, true},
		{"v stays normal", 0, 1.19e-38, false, false},
		{"m already subnormal", 1e-40, 1, true, false},
		{"NaN kept", nan, nan, false, false},
	}
	withActPaths(t, func(t *testing.T) {
		for _, c := range cases {
			// 17 lanes: a full vector and the masked tail.
			n := 17
			p, g, m, v := make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
			for i := range m {
				m[i], v[i] = c.m, c.v
			}
			AdamStep(p, g, m, v, h)
			wantM, wantV := h.Beta1*c.m, h.Beta2*c.v
			if c.flushM {
				wantM = 0
			}
			if c.flushV {
				wantV = 0
			}
			for i := range m {
				same := func(got, want float32) bool {
					if want != want {
						return got != got
					}
					return math.Float32bits(got) == math.Float32bits(want)
				}
				if !same(m[i], wantM) || !same(v[i], wantV) {
					t.Errorf("%s, lane %d: m=%v v=%v, want m=%v v=%v", c.name, i, m[i], v[i], wantM, wantV)
					break
				}
			}
		}
		p, g, m, v := make([]float32, 16), make([]float32, 16), make([]float32, 16), make([]float32, 16)
		for i := range m {
			m[i], v[i] = 1e-3, 1e-6
		}
		for step := 1; step <= 1000; step++ {
			AdamStep(p, g, m, v, h)
			for i := range m {
				if a := math.Abs(float64(m[i])); a != 0 && a < minNormal {
					t.Fatalf("step %d: m[%d] = %v is subnormal", step, i, m[i])
				}
			}
		}
		if m[0] != 0 {
			t.Errorf("after 1000 steps with a zero gradient m = %v, want 0 (0.9^1000·1e-3 is below every float32)", m[0])
		}
	})
}

func BenchmarkAdamStep(b *testing.B) {
	const n = 784*400 + 400*20*2 + 20*400 + 400*784 // the VAE's weights
	p, g, m, v := make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
	for i := range g {
		g[i] = float32(i%13) - 6
	}
	h := AdamParams{GradScale: 1, Beta1: 0.9, Beta2: 0.999, StepSize: 1e-3, SqrtBC2: 0.03, Eps: 1e-8}
	for b.Loop() {
		AdamStep(p, g, m, v, h)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/elem")
}

// TestAdamStepSum: the fused sum and update give the bits of AddTo
// followed by AdamStep, on both paths, and leave the gradients alone.
func TestAdamStepSum(t *testing.T) {
	withActPaths(t, func(t *testing.T) {
		for _, n := range []int{0, 1, 15, 16, 17, 1000} {
			rng := rand.New(rand.NewPCG(52, uint64(n)))
			vec := func(scale float64) []float32 {
				x := make([]float32, n)
				for i := range x {
					x[i] = float32(rng.NormFloat64() * scale)
				}
				return x
			}
			p, m, v := vec(1), vec(0.1), vec(0.1)
			for i := range v {
				v[i] *= v[i]
			}
			p2, m2, v2 := append([]float32(nil), p...), append([]float32(nil), m...), append([]float32(nil), v...)
			for step := 1; step <= 3; step++ {
				g0, g1 := vec(1), vec(1e-3) // unequal magnitudes: the sum rounds
				c0, c1 := append([]float32(nil), g0...), append([]float32(nil), g1...)
				h := AdamParams{GradScale: 0.5, WeightDecay: 1e-2, Beta1: 0.9, Beta2: 0.999,
					StepSize: float32(1e-3 / (1 - math.Pow(0.9, float64(step)))),
					SqrtBC2:  float32(math.Sqrt(1 - math.Pow(0.999, float64(step)))), Eps: 1e-8}
				AdamStepSum(p, g0, g1, m, v, h)
				sum := append([]float32(nil), c0...)
				AddTo(sum, c1)
				AdamStep(p2, sum, m2, v2, h)
				for i := range p {
					if g0[i] != c0[i] || g1[i] != c1[i] {
						t.Fatalf("n=%d step %d: gradient %d modified", n, step, i)
					}
					if math.Float32bits(p[i]) != math.Float32bits(p2[i]) || m[i] != m2[i] || v[i] != v2[i] {
						t.Fatalf("n=%d step %d, element %d: p=%v m=%v v=%v, AddTo+AdamStep give p=%v m=%v v=%v", n, step, i, p[i], m[i], v[i], p2[i], m2[i], v2[i])
					}
				}
			}
		}
	})
}

func ExampleFlushSubnormal() {
	// A momentum that decays by 0.9 a step under a zero gradient: 1.26e-38
	// is still normal (the smallest is about 1.1755e-38), 1.134e-38 is not.
	m := float32(1.4e-38)
	for range 3 {
		m = FlushSubnormal(0.9 * m)
		fmt.Println(m)
	}
	// Output:
	// 1.26e-38
	// 0
	// 0
}
