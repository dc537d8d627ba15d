package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// refAct is act in float64, the reference for AddBiasAct.
func refAct(act Act, x, alpha float64) float64 {
	switch act {
	case ReLU:
		return math.Max(0, x)
	case Tanh:
		return math.Tanh(x)
	case Sigmoid:
		return 1 / (1 + math.Exp(-x))
	case ELU:
		if x > 0 {
			return x
		}
		return alpha * math.Expm1(x)
	case LeakyReLU:
		if x > 0 {
			return x
		}
		return alpha * x
	case Softplus:
		return math.Log1p(math.Exp(x))
	}
	return x
}

// refActDeriv is act'(x) in float64.
func refActDeriv(act Act, x, alpha float64) float64 {
	switch act {
	case ReLU:
		if x > 0 {
			return 1
		}
		return 0
	case Tanh:
		t := math.Tanh(x)
		return 1 - t*t
	case Sigmoid:
		s := 1 / (1 + math.Exp(-x))
		return s * (1 - s)
	case ELU:
		if x > 0 {
			return 1
		}
		return alpha * math.Exp(x)
	case LeakyReLU:
		if x > 0 {
			return 1
		}
		return alpha
	case Softplus:
		return 1 / (1 + math.Exp(-x))
	}
	return 1
}

var allActs = []Act{Linear, ReLU, Tanh, Sigmoid, ELU, LeakyReLU, Softplus}

// actInputs covers the interesting ranges: around 0 (where expm1 and tanh
// must not cancel), the polynomial switch points, saturation, and the
// float32 exp overflow/underflow bounds.
func actInputs() []float32 {
	xs := []float32{0, 1e-30, -1e-30, 1e-8, -1e-8, 1e-3, -1e-3, 0.1, -0.1, 0.17, 0.175, -0.175, 0.3465, 0.35, -0.35,
		0.5, -0.5, 1, -1, 2, -2, 4.5, -4.5, 8.9, 9, -9, 15, -15, 19.9, 20, 20.1, -20.1, 40, -40,
		86.9, -86.9, 87.5, -87.5, 88.5, -88.5, 100, -100, -103, -110}
	rng := rand.New(rand.NewPCG(21, 22))
	for range 2000 {
		xs = append(xs, float32(rng.NormFloat64()*6))
	}
	for range 200 {
		xs = append(xs, float32((rng.Float64()*2-1)*0.4))
	}
	return xs
}

// withActPaths runs f with the Go activations and, where the CPU has them,
// the vector ones.
func withActPaths(t *testing.T, f func(t *testing.T)) {
	saved := useAVX512Act
	defer func() { useAVX512Act = saved }()
	useAVX512Act = false
	t.Run("go", f)
	if saved {
		useAVX512Act = true
		t.Run("avx512", f)
	}
}

func TestAddBiasAct(t *testing.T) {
	for _, n := range []int{7, 37} {
		t.Run(fmt.Sprint("n", n), func(t *testing.T) {
			withActPaths(t, func(t *testing.T) { testAddBiasAct(t, n) })
		})
	}
}

func testAddBiasAct(t *testing.T, n int) {
	xs := actInputs()
	m := len(xs) / n
	bias := make([]float32, n)
	for j := range bias {
		bias[j] = float32(j%5)/4 - 0.5
	}
	for _, act := range allActs {
		for _, alpha := range []float32{0.01, 1, 1.7} {
			c := make([]float32, m*n)
			for i := range c {
				c[i] = xs[i] - bias[i%n]
			}
			x := append([]float32(nil), c...)
			AddBiasAct(c, m, n, bias, act, alpha)
			for i, got := range c {
				in := float64(x[i]) + float64(bias[i%n])
				in = float64(float32(in)) // the kernel adds in float32
				want := refAct(act, in, float64(alpha))
				// A few float32 ulps relative, plus a tiny absolute term
				// for results near zero.
				tol := 4e-7*math.Abs(want) + 1e-37
				if act == ELU || act == LeakyReLU {
					tol += 2e-7 * math.Abs(float64(alpha)*in) // alpha·x rounds once more
				}
				if d := math.Abs(float64(got) - want); !(d <= tol) && !(math.IsInf(want, 0) && float64(got) == want) {
					t.Errorf("%v(alpha %g) at %g: got %g, want %g (|diff| %.3g > %.3g)", act, alpha, in, got, want, d, tol)
				}
			}
		}
	}
}

func TestAddBiasActNilBiasAndSpecials(t *testing.T) {
	withActPaths(t, testAddBiasActSpecials)
}

func testAddBiasActSpecials(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	for _, act := range allActs {
		c := []float32{nan, inf, -inf}
		AddBiasAct(c, 1, 3, nil, act, 0.5)
		if c[0] == c[0] {
			t.Errorf("%v(NaN) = %v, want NaN", act, c[0])
		}
		wantInf := refAct(act, math.Inf(1), 0.5)
		wantNegInf := refAct(act, math.Inf(-1), 0.5)
		if float64(c[1]) != wantInf || float64(c[2]) != wantNegInf {
			t.Errorf("%v(±Inf) = %v, %v, want %v, %v", act, c[1], c[2], wantInf, wantNegInf)
		}
	}
}

func TestActGrad(t *testing.T) { withActPaths(t, testActGrad) }

func testActGrad(t *testing.T) {
	xs := actInputs()
	for _, act := range allActs {
		for _, alpha := range []float32{0.01, 1, 1.7} {
			y := append([]float32(nil), xs...)
			AddBiasAct(y, 1, len(y), nil, act, alpha)
			dy := make([]float32, len(xs))
			rng := rand.New(rand.NewPCG(1, uint64(act)))
			for i := range dy {
				dy[i] = float32(rng.NormFloat64())
			}
			dx := make([]float32, len(xs))
			ActGrad(dx, dy, y, act, alpha)
			for i, got := range dx {
				x := float64(xs[i])
				want := float64(dy[i]) * refActDeriv(act, x, float64(alpha))
				// The derivative is taken from the float32 y, which carries
				// y's rounding: tolerance scales with |dy|·|d act'/dy|·ulp(y).
				tol := 1e-6*math.Abs(float64(dy[i])) + 1e-6*math.Abs(want)
				if d := math.Abs(float64(got) - want); !(d <= tol) {
					t.Errorf("%v(alpha %g)' at %g: got %g, want %g (|diff| %.3g > %.3g)", act, alpha, x, got, want, d, tol)
				}
			}
			// In place: dx aliases dy.
			ActGrad(dy, dy, y, act, alpha)
			for i := range dy {
				if dy[i] != dx[i] {
					t.Fatalf("%v: in-place ActGrad differs at %d: %v vs %v", act, i, dy[i], dx[i])
				}
			}
		}
	}
}

func TestColSum(t *testing.T) { withActPaths(t, testColSum) }

func testColSum(t *testing.T) {
	tests := []struct{ m, n int }{{0, 3}, {1, 1}, {3, 0}, {128, 400}, {5, 7}, {3, 64}, {2, 95}}
	rng := rand.New(rand.NewPCG(31, 32))
	for _, tt := range tests {
		src := make([]float32, tt.m*tt.n)
		for i := range src {
			src[i] = float32(rng.NormFloat64())
		}
		dst := make([]float32, tt.n+1)
		for i := range dst {
			dst[i] = 99 // must be overwritten (first n) or untouched (last)
		}
		ColSum(dst, src, tt.m, tt.n)
		for j := 0; j < tt.n; j++ {
			var want, abs float64
			for i := 0; i < tt.m; i++ {
				want += float64(src[i*tt.n+j])
				abs += math.Abs(float64(src[i*tt.n+j]))
			}
			if d := math.Abs(float64(dst[j]) - want); d > 1e-6*float64(tt.m)*abs+1e-7 {
				t.Errorf("m=%d n=%d: dst[%d] = %v, want %v", tt.m, tt.n, j, dst[j], want)
			}
		}
		if dst[tt.n] != 99 {
			t.Errorf("m=%d n=%d: dst[n] written", tt.m, tt.n)
		}
	}
}

// TestVectorPathsBitIdentical checks the documented property that the
// vector ActGrad and ColSum round exactly as the Go loops do.
func TestVectorPathsBitIdentical(t *testing.T) {
	if !useAVX512Act {
		t.Skip("no vector path on this CPU")
	}
	defer func() { useAVX512Act = true }()
	rng := rand.New(rand.NewPCG(41, 42))
	const m, n = 37, 53
	src := make([]float32, m*n)
	for i := range src {
		src[i] = float32(rng.NormFloat64())
	}
	ys := make([][]float32, len(allActs))
	for a, act := range allActs {
		ys[a] = append([]float32(nil), src...)
		AddBiasAct(ys[a], m, n, nil, act, 0.3)
	}
	run := func(vec bool) (grads [][]float32, sums []float32) {
		useAVX512Act = vec
		for a, act := range allActs {
			dx := make([]float32, len(src))
			ActGrad(dx, src, ys[a], act, 0.3)
			grads = append(grads, dx)
		}
		sums = make([]float32, n)
		ColSum(sums, src, m, n)
		return grads, sums
	}
	g1, s1 := run(false)
	g2, s2 := run(true)
	for a := range g1 {
		if allActs[a] == Softplus {
			continue // documented exception: vector expm1
		}
		for i := range g1[a] {
			if math.Float32bits(g1[a][i]) != math.Float32bits(g2[a][i]) {
				t.Fatalf("ActGrad %v: element %d: go %v, vector %v", allActs[a], i, g1[a][i], g2[a][i])
			}
		}
	}
	for j := range s1 {
		if math.Float32bits(s1[j]) != math.Float32bits(s2[j]) {
			t.Fatalf("ColSum column %d: go %v, vector %v", j, s1[j], s2[j])
		}
	}
}

func TestParseAct(t *testing.T) {
	for _, act := range allActs {
		got, err := ParseAct(act.String())
		if err != nil || got != act {
			t.Errorf("ParseAct(%q) = %v, %v; want %v", act.String(), got, err, act)
		}
	}
	if _, err := ParseAct("rleu"); err == nil || !strings.Contains(err.Error(), `"rleu"`) {
		t.Errorf("ParseAct(rleu) error = %v", err)
	}
	if s := Act(42).String(); s != "Act(42)" {
		t.Errorf("Act(42).String() = %q", s)
	}
}

func TestHelpersPanicOnBadLengths(t *testing.T) {
	tests := []struct {
		name string
		f    func()
		want string
	}{
		{"AddBiasAct short c", func() { AddBiasAct(make([]float32, 5), 2, 3, nil, ReLU, 0) }, "c has 5 elements"},
		{"AddBiasAct bias", func() { AddBiasAct(make([]float32, 6), 2, 3, make([]float32, 2), ReLU, 0) }, "bias has 2 elements"},
		{"AddBiasAct act", func() { AddBiasAct(make([]float32, 6), 2, 3, nil, Act(9), 0) }, "unknown activation"},
		{"ActGrad", func() { ActGrad(make([]float32, 2), make([]float32, 3), make([]float32, 3), Tanh, 0) }, "dx has 2"},
		{"ActGrad act", func() { ActGrad(make([]float32, 3), make([]float32, 3), make([]float32, 3), Act(9), 0) }, "unknown activation"},
		{"ColSum", func() { ColSum(make([]float32, 2), make([]float32, 6), 2, 3) }, "dst has 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				r := recover()
				if s, _ := r.(string); !strings.Contains(s, tt.want) {
					t.Fatalf("recovered %v, want a panic containing %q", r, tt.want)
				}
			}()
			tt.f()
		})
	}
}

func BenchmarkAddBiasAct(b *testing.B) {
	const m, n = 128, 400
	c := make([]float32, m*n)
	bias := make([]float32, n)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range c {
		c[i] = float32(rng.NormFloat64())
	}
	for _, act := range allActs {
		b.Run(act.String(), func(b *testing.B) {
			x := make([]float32, len(c))
			for b.Loop() {
				copy(x, c)
				AddBiasAct(x, m, n, bias, act, 0.1)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(m*n), "ns/elem")
		})
	}
}

func BenchmarkActGrad(b *testing.B) {
	const n = 128 * 400
	y, dy, dx := make([]float32, n), make([]float32, n), make([]float32, n)
	for i := range y {
		y[i] = float32(i%97)/97 - 0.3
		dy[i] = 1
	}
	for _, act := range allActs {
		b.Run(act.String(), func(b *testing.B) {
			for b.Loop() {
				ActGrad(dx, dy, y, act, 0.1)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/elem")
		})
	}
}

func BenchmarkColSum(b *testing.B) {
	const m, n = 128, 400
	src, dst := make([]float32, m*n), make([]float32, n)
	for b.Loop() {
		ColSum(dst, src, m, n)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/(m*n), "ns/elem")
}

// TestSigmoidPairedPath: rows of 32 or more elements take a two-vector
// sigmoid loop; it must give bit for bit what the one-vector loop (rows
// shorter than 32) gives, specials included.
func TestSigmoidPairedPath(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	const n = 32*3 + 7
	x := make([]float32, n)
	bias := make([]float32, n)
	special := []float32{0, float32(math.Copysign(0, -1)), float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), 88.7, -88.7, 104, -104, 1e-30, -1e-30, 20, -20}
	for i := range x {
		x[i] = float32(rng.NormFloat64() * 8)
		if i < len(special) {
			x[i] = special[i]
		}
		bias[i] = float32(rng.NormFloat64())
	}
	for _, b := range [][]float32{nil, bias} {
		whole := append([]float32(nil), x...)
		AddBiasAct(whole, 1, n, b, Sigmoid, 0)
		for lo := 0; lo < n; lo += 16 {
			hi := min(n, lo+16)
			part := append([]float32(nil), x[lo:hi]...)
			var pb []float32
			if b != nil {
				pb = b[lo:hi]
			}
			AddBiasAct(part, 1, hi-lo, pb, Sigmoid, 0)
			for j, v := range part {
				if math.Float32bits(v) != math.Float32bits(whole[lo+j]) {
					t.Fatalf("bias %v: element %d (x=%v): paired path %v, single path %v", b != nil, lo+j, x[lo+j], whole[lo+j], v)
				}
			}
		}
	}
}
