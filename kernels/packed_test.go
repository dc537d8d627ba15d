package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
)

// packedCase is one MulBiasAct call: C[m×n] = act(A[m×k]·op(B) + bias).
type packedCase struct {
	transB  bool
	m, n, k int
	bias    bool
	act     Act
	pad     int
}

func (tc packedCase) String() string {
	return fmt.Sprintf("transB=%v/m%d_n%d_k%d/bias=%v/%v/pad%d", tc.transB, tc.m, tc.n, tc.k, tc.bias, tc.act, tc.pad)
}

func (tc packedCase) gemm() gemmCase {
	return gemmCase{transB: tc.transB, m: tc.m, n: tc.n, k: tc.k, alpha: 1, pad: tc.pad}
}

// packedOperands are a case's inputs and its float64 reference.
type packedOperands struct {
	a, b, c     []float32
	lda, ldb    int
	ldc         int
	bias        []float32
	want, scale []float64
}

func newPackedOperands(tc packedCase, rng *rand.Rand) packedOperands {
	g := tc.gemm()
	var o packedOperands
	o.a, o.lda, o.b, o.ldb, o.c, o.ldc = g.operands(rng)
	o.want, o.scale = refGemm(g, o.a, o.lda, o.b, o.ldb, o.c, o.ldc)
	if tc.bias {
		o.bias = make([]float32, tc.n)
		for i := range o.bias {
			o.bias[i] = float32(rng.NormFloat64())
		}
	}
	return o
}

// checkPacked checks MulBiasAct for tc with the active kernels: the linear
// product against the float64 reference (as Sgemm is checked), and the
// fused bias and activation bit for bit against AddBiasAct applied to that
// product, which also shows that every element gets its epilogue once.
func checkPacked(t *testing.T, tc packedCase, o packedOperands) {
	t.Helper()
	p, err := NewPackedB(tc.transB, tc.k, tc.n, o.b, o.ldb)
	if err != nil {
		t.Fatal(err)
	}
	ldc := o.ldc
	lin := append([]float32(nil), o.c...)
	p.MulBiasAct(tc.m, o.a, o.lda, lin, ldc, nil, Linear, 0)
	checkLinear(t, fmt.Sprint(tc), tc, o, lin)
	fused := append([]float32(nil), o.c...)
	p.MulBiasAct(tc.m, o.a, o.lda, fused, ldc, o.bias, tc.act, 0.3)
	for i := 0; i < tc.m; i++ {
		row := lin[i*ldc : i*ldc+tc.n]
		AddBiasAct(row, 1, tc.n, o.bias, tc.act, 0.3)
		for j, w := range row {
			if got := fused[i*ldc+j]; math.Float32bits(got) != math.Float32bits(w) {
				t.Fatalf("%s %v: fused C[%d,%d] = %v, AddBiasAct on the product gives %v", active.name, tc, i, j, got, w)
			}
		}
	}
}

// checkLinear checks a linear product C of case tc (leading dimension
// o.ldc) against the float64 reference, as Sgemm is checked, and that the
// padding columns beyond n (NaN in o.c) were not written.
func checkLinear(t *testing.T, what string, tc packedCase, o packedOperands, lin []float32) {
	t.Helper()
	ldc := o.ldc
	for i := 0; i < tc.m; i++ {
		for j := 0; j < ldc; j++ {
			got := lin[i*ldc+j]
			if j >= tc.n {
				if !math.IsNaN(float64(got)) {
					t.Fatalf("%s: C[%d,%d] outside n was written: %v", what, i, j, got)
				}
				continue
			}
			w, sc := o.want[i*tc.n+j], o.scale[i*tc.n+j]
			if d := math.Abs(float64(got) - w); !(d <= 1e-6+4e-7*float64(tc.k+2)*sc) {
				t.Fatalf("%s %s: C[%d,%d] = %v, want %v", active.name, what, i, j, got, w)
			}
		}
	}
}

func TestPackedB(t *testing.T) {
	var cases []packedCase
	for _, m := range []int{1, 2, 9, 33} {
		for _, n := range []int{1, 16, 17, 20, 40, 63, 65, 100} {
			for _, k := range []int{0, 1, 3, 17, 261} {
				cases = append(cases, packedCase{transB: (m+n+k)%2 == 0, m: m, n: n, k: k, bias: n%2 == 1, act: Act((m + n + k) % len(actNames)), pad: k % 3})
			}
		}
	}
	// The MNIST VAE's layers: batch 1 (the parallel matrix-vector path)
	// and one batch-256 layer (parallel blocked path); then two column
	// chunks.
	for _, s := range [][3]int{{1, 400, 784}, {1, 784, 400}, {1, 40, 400}, {256, 784, 400}, {9, 1100, 17}, {64, 1100, 300}} {
		cases = append(cases, packedCase{m: s[0], n: s[1], k: s[2], bias: true, act: Sigmoid})
	}
	rng := rand.New(rand.NewPCG(21, 22))
	saved, savedStrip := active, useAVX512Strip
	defer func() { active, useAVX512Strip = saved, savedStrip }()
	for _, tc := range cases {
		o := newPackedOperands(tc, rng)
		for _, kern := range kernelsForTest() {
			for _, vec := range []bool{false, true} {
				if vec && !hasAVX512 {
					continue
				}
				active, useAVX512Strip = kern, vec
				checkPacked(t, tc, o)
			}
		}
	}
}

// TestPackedBDeterministic checks bit-identical results across runs and
// GOMAXPROCS, on the parallel matrix-vector and blocked paths.
func TestPackedBDeterministic(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	rng := rand.New(rand.NewPCG(23, 24))
	for _, m := range []int{1, 131} {
		tc := packedCase{m: m, n: 389, k: 530, bias: true, act: Tanh}
		g := tc.gemm()
		a, lda, b, ldb, c0, ldc := g.operands(rng)
		bias := make([]float32, tc.n)
		for i := range bias {
			bias[i] = float32(i) / 100
		}
		p, err := NewPackedB(false, tc.k, tc.n, b, ldb)
		if err != nil {
			t.Fatal(err)
		}
		sameAcrossGOMAXPROCS(t, tc, c0, func(c []float32) {
			p.MulBiasAct(tc.m, a, lda, c, ldc, bias, tc.act, 0)
		})
	}
}

// TestPackedBConcurrent shares one PackedB between goroutines.
func TestPackedBConcurrent(t *testing.T) {
	rng := rand.New(rand.NewPCG(25, 26))
	g := gemmCase{m: 64, n: 300, k: 300, alpha: 1}
	a, lda, b, ldb, _, ldc := g.operands(rng)
	p, err := NewPackedB(false, g.k, g.n, b, ldb)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]float32, g.m*ldc)
	p.MulBiasAct(g.m, a, lda, want, ldc, nil, ReLU, 0)
	errs := make(chan string, 8)
	for gr := 0; gr < 8; gr++ {
		go func() {
			for it := range 10 {
				m := 1 + (it%2)*(g.m-1) // alternate single rows and the full batch
				c := make([]float32, m*ldc)
				p.MulBiasAct(m, a, lda, c, ldc, nil, ReLU, 0)
				if m == 1 {
					continue // a single row rounds differently; TestPackedB checks it
				}
				for i := range c {
					if c[i] != want[i] {
						errs <- fmt.Sprintf("element %d: %v != %v", i, c[i], want[i])
						return
					}
				}
			}
			errs <- ""
		}()
	}
	for range 8 {
		if e := <-errs; e != "" {
			t.Error(e)
		}
	}
}

func TestNewPackedBErrors(t *testing.T) {
	for _, tt := range []struct {
		name    string
		transB  bool
		k, n    int
		b       []float32
		ldb     int
		wantErr bool
	}{
		{"ok", false, 2, 3, make([]float32, 6), 3, false},
		{"ok transposed", true, 2, 3, make([]float32, 6), 2, false},
		{"empty", false, 0, 0, nil, 1, false},
		{"negative", false, -1, 3, nil, 3, true},
		{"short", false, 2, 3, make([]float32, 5), 3, true},
		{"small ld", false, 2, 3, make([]float32, 6), 2, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewPackedB(tt.transB, tt.k, tt.n, tt.b, tt.ldb)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error: %v", err, tt.wantErr)
			}
		})
	}
}

func TestPackedBNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items under the race detector")
	}
	rng := rand.New(rand.NewPCG(27, 28))
	for _, m := range []int{1, 256} {
		g := gemmCase{m: m, n: 400, k: 784, alpha: 1}
		a, lda, b, ldb, c, ldc := g.operands(rng)
		p, err := NewPackedB(false, g.k, g.n, b, ldb)
		if err != nil {
			t.Fatal(err)
		}
		bias := make([]float32, g.n)
		run := func() { p.MulBiasAct(m, a, lda, c, ldc, bias, ReLU, 0) }
		run()
		if n := testing.AllocsPerRun(20, run); n > 0 {
			t.Errorf("m=%d: %v allocations per call", m, n)
		}
	}
}

// BenchmarkPackedB times the MNIST VAE's dense layers through PackedB, as
// an inference runtime calls them.
func BenchmarkPackedB(b *testing.B) {
	for _, s := range []struct {
		name    string
		m, n, k int
		act     Act
	}{
		{"1x784x400_relu", 1, 400, 784, ReLU},
		{"1x400x784_sigmoid", 1, 784, 400, Sigmoid},
		{"1x400x40", 1, 40, 400, Linear},
		{"256x784x400_relu", 256, 400, 784, ReLU},
		{"256x400x784_sigmoid", 256, 784, 400, Sigmoid},
		{"256x400x784_linear", 256, 784, 400, Linear},
		{"256x400x40", 256, 40, 400, Linear},
		{"256x20x400_relu", 256, 400, 20, ReLU},
	} {
		b.Run(s.name, func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 1))
			g := gemmCase{m: s.m, n: s.n, k: s.k, alpha: 1}
			a, lda, bb, ldb, c, ldc := g.operands(rng)
			p, err := NewPackedB(false, s.k, s.n, bb, ldb)
			if err != nil {
				b.Fatal(err)
			}
			bias := make([]float32, s.n)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				p.MulBiasAct(s.m, a, lda, c, ldc, bias, s.act, 0)
			}
			b.ReportMetric(2*float64(s.m*s.n*s.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// TestMulBiasActThen checks that the blocks handed to then partition C and
// are final when handed over: a copy made in then equals the result.
func TestMulBiasActThen(t *testing.T) {
	for _, g := range []struct{ m, n, k int }{{1, 400, 784}, {1, 40, 400}, {7, 100, 30}, {256, 784, 400}, {256, 40, 400}, {3, 5, 0}} {
		rng := rand.New(rand.NewPCG(uint64(g.m), uint64(g.n)))
		tc := gemmCase{m: g.m, n: g.n, k: g.k, alpha: 1}
		a, lda, bb, ldb, c, ldc := tc.operands(rng)
		p, err := NewPackedB(false, g.k, g.n, bb, ldb)
		if err != nil {
			t.Fatal(err)
		}
		bias := make([]float32, g.n)
		for i := range bias {
			bias[i] = float32(rng.NormFloat64())
		}
		want := make([]float32, len(c))
		p.MulBiasAct(g.m, a, lda, want, ldc, bias, Sigmoid, 0)
		got := make([]float32, len(c))
		var mu sync.Mutex
		seen := make([]int, g.m*g.n)
		p.MulBiasActThen(g.m, a, lda, c, ldc, bias, Sigmoid, 0, func(i0, i1, c0, c1 int) {
			mu.Lock()
			defer mu.Unlock()
			for i := i0; i < i1; i++ {
				for j := c0; j < c1; j++ {
					seen[i*g.n+j]++
					got[i*ldc+j] = c[i*ldc+j]
				}
			}
		})
		for i := 0; i < g.m; i++ {
			for j := 0; j < g.n; j++ {
				if seen[i*g.n+j] != 1 {
					t.Fatalf("%+v: element (%d, %d) handed to then %d times", g, i, j, seen[i*g.n+j])
				}
				if got[i*ldc+j] != want[i*ldc+j] {
					t.Fatalf("%+v: element (%d, %d): then saw %g, final %g", g, i, j, got[i*ldc+j], want[i*ldc+j])
				}
			}
		}
	}
}
