package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// sparseA fills an m×k matrix whose row tiles have zero columns, as the
// pixels of images do: each column is zero in a whole 8-row tile with
// probability pz, the others are zero per element with probability 0.5,
// and a few zeros are negative.
func sparseA(rng *rand.Rand, m, k int, pz float64) []float32 {
	a := make([]float32, m*k)
	for t := 0; t < m; t += 8 {
		for p := range k {
			if rng.Float64() < pz {
				continue
			}
			for i := t; i < min(t+8, m); i++ {
				switch r := rng.Float64(); {
				case r < 0.45:
				case r < 0.5:
					a[i*k+p] = float32(math.Copysign(0, -1))
				default:
					a[i*k+p] = float32(rng.NormFloat64())
				}
			}
		}
	}
	return a
}

// TestSparseMatchesDense checks that skipping A's zero steps gives the
// dense kernel's bits, whole products and blocks of rows, and that the
// skipping happened.
func TestSparseMatchesDense(t *testing.T) {
	if active.fullIdx == nil {
		t.Skip("no indexed micro-kernel on this CPU")
	}
	defer func(v bool) { useSparse = v }(useSparse)
	for _, s := range []struct{ m, k, n int }{
		{8, 1, 48}, {8, 200, 48}, {16, 784, 400}, {37, 784, 400}, {256, 784, 400},
		{64, 1000, 784}, {24, 13, 40}, {40, 400, 20},
	} {
		for _, pz := range []float64{0, 0.55, 0.9, 1} {
			t.Run(fmt.Sprintf("%dx%dx%d_zero%.2f", s.m, s.k, s.n, pz), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(uint64(s.m), uint64(s.k)))
				a := sparseA(rng, s.m, s.k, pz)
				b := make([]float32, s.k*s.n)
				for i := range b {
					b[i] = float32(rng.NormFloat64())
				}
				bias := make([]float32, s.n)
				for i := range bias {
					bias[i] = float32(rng.NormFloat64())
				}
				p, err := NewPackedB(false, s.k, s.n, b, s.n)
				if err != nil {
					t.Fatal(err)
				}
				useSparse = false
				want := make([]float32, s.m*s.n)
				p.MulBiasAct(s.m, a, s.k, want, s.n, bias, Linear, 0)
				useSparse = true
				got := make([]float32, s.m*s.n)
				p.MulBiasAct(s.m, a, s.k, got, s.n, bias, Linear, 0)
				sameBits(t, "MulBiasAct", got, want)
				if pz >= 0.55 && s.m >= 8 && s.k >= 8 && p.sparse.dry.Load() {
					t.Errorf("no tile took the indexed kernel")
				}
				// Blocks of rows at row-tile boundaries, as ParallelRows cuts them.
				clear(got)
				for i0 := 0; i0 < s.m; i0 += 16 {
					p.MulBiasActRows(i0, min(i0+16, s.m), a, s.k, got, s.n, bias, Linear, 0, nil)
				}
				sameBits(t, "MulBiasActRows", got, want)
			})
		}
	}
}

// transposed returns the k×m transpose of the m×k matrix a.
func transposed(a []float32, m, k int) []float32 {
	t := make([]float32, k*m)
	for i := range m {
		for p := range k {
			t[p*m+i] = a[i*k+p]
		}
	}
	return t
}

func sameBits(t *testing.T, what string, got, want []float32) {
	t.Helper()
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("%s: element %d = %v (%#x), dense kernel %v (%#x)", what, i, got[i], math.Float32bits(got[i]), want[i], math.Float32bits(want[i]))
		}
	}
}

// TestSparseKeepsNaNOfInfiniteB checks that a B with an infinity is not
// skipped over: 0·∞ is NaN, so a row that is zero where B's row is
// infinite must come out NaN, as from the dense kernel.
func TestSparseKeepsNaNOfInfiniteB(t *testing.T) {
	const m, k, n = 16, 64, 48
	a := make([]float32, m*k)
	for i := range m {
		a[i*k+5] = 1 // every other step zero in every row, step 3 too
	}
	b := make([]float32, k*n)
	for i := range b {
		b[i] = 0.5
	}
	b[3*n+7] = float32(math.Inf(1))
	p, err := NewPackedB(false, k, n, b, n)
	if err != nil {
		t.Fatal(err)
	}
	if !p.sparse.tainted.Load() {
		t.Fatal("B with an infinity reported finite")
	}
	c := make([]float32, m*n)
	p.MulBiasAct(m, a, k, c, n, nil, Linear, 0)
	for i := range m {
		if v := c[i*n+7]; !math.IsNaN(float64(v)) {
			t.Fatalf("row %d column 7 = %v, want NaN (0·∞)", i, v)
		}
		if v := c[i*n+8]; v != 0.5 {
			t.Fatalf("row %d column 8 = %v, want 0.5", i, v)
		}
	}
}

// TestCompactA checks the compaction against its definition on a tile
// with zero, negative-zero and non-zero steps.
func TestCompactA(t *testing.T) {
	const kc, nr = 6, 48
	ap := make([]float32, kc*8)
	ap[1*8+3] = 2                                    // step 1 kept
	ap[2*8+0] = float32(math.Copysign(0, -1))        // step 2: −0 only, dropped
	ap[4*8+7] = float32(math.NaN())                  // step 4 kept (NaN is not zero)
	ap[5*8+0], ap[5*8+7] = -1, float32(math.Inf(-1)) // step 5 kept
	dst := make([]float32, kc*8)
	off := make([]int32, kc)
	n := compactA(dst, off, ap, 8, kc, nr)
	if n != 3 {
		t.Fatalf("kept %d steps, want 3", n)
	}
	for i, p := range []int{1, 4, 5} {
		if off[i] != int32(p*nr*4) {
			t.Errorf("off[%d] = %d, want %d", i, off[i], p*nr*4)
		}
		for r := range 8 {
			if math.Float32bits(dst[i*8+r]) != math.Float32bits(ap[p*8+r]) {
				t.Errorf("step %d row %d: %v, want %v", i, r, dst[i*8+r], ap[p*8+r])
			}
		}
	}
}

// BenchmarkSparse compares the dense and the indexed kernel on a first
// layer's product whose A has image-like zero steps (55% of the steps of
// an 8-row tile zero, as in MNIST), and on a dense A (where only the
// occasional look is paid):
//
//	go test -run='^$' -bench=Sparse ./kernels
func BenchmarkSparse(b *testing.B) {
	defer func(v bool) { useSparse = v }(useSparse)
	const m, k, n = 256, 784, 400
	for _, pz := range []float64{0.55, 0} {
		rng := rand.New(rand.NewPCG(1, 1))
		a := sparseA(rng, m, k, pz)
		w := make([]float32, k*n)
		for i := range w {
			w[i] = float32(rng.NormFloat64())
		}
		p, err := NewPackedB(false, k, n, w, n)
		if err != nil {
			b.Fatal(err)
		}
		c := make([]float32, m*n)
		for _, on := range []bool{false, true} {
			b.Run(fmt.Sprintf("zero%.2f/skip=%v", pz, on), func(b *testing.B) {
				useSparse = on
				for range b.N {
					p.MulBiasAct(m, a, k, c, n, nil, ReLU, 0)
				}
				b.ReportMetric(float64(m*b.N)/b.Elapsed().Seconds(), "rows/s")
			})
		}
	}
}

// TestSgemmZeroAMatchesSgemm checks SgemmZeroA against Sgemm, bit for bit,
// over both layouts of A and B, B read in place or packed, partial tiles
// and panels, several k-blocks and beta 0 and 1.
func TestSgemmZeroAMatchesSgemm(t *testing.T) {
	for _, s := range []struct {
		transA, transB bool
		m, n, k        int
		beta           float32
	}{
		{true, false, 40, 400, 64, 0}, {true, false, 40, 400, 64, 1}, // a first layer's weight gradient
		{true, false, 37, 100, 300, 0}, {false, false, 64, 400, 784, 0},
		{false, true, 24, 96, 600, 1}, {true, true, 16, 50, 9, 0}, {false, false, 600, 48, 40, 0},
	} {
		for _, pz := range []float64{0, 0.6, 1} {
			t.Run(fmt.Sprintf("%v%v_%dx%dx%d_beta%v_zero%.1f", s.transA, s.transB, s.m, s.n, s.k, s.beta, pz), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(uint64(s.m*s.k), uint64(s.n)))
				op := sparseA(rng, s.m, s.k, pz) // op(A), m×k
				a, lda := op, s.k
				if s.transA {
					a, lda = transposed(op, s.m, s.k), s.m
				}
				b := make([]float32, s.k*s.n)
				for i := range b {
					b[i] = float32(rng.NormFloat64())
				}
				ldb := s.n
				if s.transB {
					ldb = s.k
				}
				c0 := make([]float32, s.m*s.n)
				for i := range c0 {
					c0[i] = float32(rng.NormFloat64())
				}
				want := append([]float32(nil), c0...)
				Sgemm(s.transA, s.transB, s.m, s.n, s.k, 0.5, a, lda, b, ldb, s.beta, want, s.n)
				got := append([]float32(nil), c0...)
				SgemmZeroA(s.transA, s.transB, s.m, s.n, s.k, 0.5, a, lda, b, ldb, s.beta, got, s.n)
				sameBits(t, "SgemmZeroA", got, want)
			})
		}
	}
}

// TestPackRowsTaints checks that a PackedB into which an infinity was
// packed stops skipping, so that 0·∞ gives NaN as with the dense kernel.
func TestPackRowsTaints(t *testing.T) {
	const m, k, n = 16, 64, 48
	p, err := NewPackedPanels(false, k, n)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]float32, k*n)
	for i := range b {
		b[i] = 0.5
	}
	if err := p.PackRows(b, n, 0, k); err != nil {
		t.Fatal(err)
	}
	if p.sparse.tainted.Load() {
		t.Fatal("finite rows tainted the packed copy")
	}
	b[3*n+7] = float32(math.Inf(-1))
	if err := p.PackRows(b, n, 2, 4); err != nil {
		t.Fatal(err)
	}
	if !p.sparse.tainted.Load() {
		t.Fatal("an infinite row did not taint the packed copy")
	}
	a := make([]float32, m*k)
	for i := range m {
		a[i*k+5] = 1
	}
	c := make([]float32, m*n)
	p.Gemm(m, a, k, c, n, nil, Linear, 0)
	for i := range m {
		if v := c[i*n+7]; !math.IsNaN(float64(v)) {
			t.Fatalf("row %d column 7 = %v, want NaN (0·∞)", i, v)
		}
	}
}

// BenchmarkSgemmZeroA compares Sgemm and SgemmZeroA on a first layer's
// weight-gradient chunk, xᵀ·dz for 40 pixels of 64 images, with 60% of
// the steps of a tile zero (8 pixels of an MNIST image are all zero in 60%
// of the images).
func BenchmarkSgemmZeroA(b *testing.B) {
	const m, n, k = 40, 400, 64
	rng := rand.New(rand.NewPCG(3, 3))
	op := sparseA(rng, m, k, 0.6)
	a := transposed(op, m, k) // stored k×m: the product reads it transposed
	dz := make([]float32, k*n)
	for i := range dz {
		dz[i] = float32(rng.NormFloat64())
	}
	c := make([]float32, m*n)
	for _, v := range []struct {
		name string
		f    func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int)
	}{{"Sgemm", Sgemm}, {"SgemmZeroA", SgemmZeroA}} {
		b.Run(v.name, func(b *testing.B) {
			for range b.N {
				v.f(true, false, m, n, k, 1, a, m, dz, n, 0, c, n)
			}
			b.ReportMetric(2*float64(m*n*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// FuzzZeroSkipping checks, over random shapes and zero patterns, that
// skipping A's zero steps gives the dense kernels' bits: SgemmZeroA
// against Sgemm, and a PackedB's product with skipping against without.
func FuzzZeroSkipping(f *testing.F) {
	f.Add(uint8(40), uint8(100), uint8(64), uint8(0), uint8(150), uint64(1))
	f.Add(uint8(9), uint8(49), uint8(255), uint8(3), uint8(255), uint64(2))
	f.Add(uint8(16), uint8(96), uint8(8), uint8(1), uint8(0), uint64(3))
	f.Fuzz(func(t *testing.T, m, n, k, flags, zero uint8, seed uint64) {
		if active.fullIdx == nil {
			t.Skip("no indexed micro-kernel on this CPU")
		}
		tm, tn, tk := int(m), int(n)*4, int(k)*4 // up to 1,020 columns and steps
		transA, transB := flags&1 != 0, flags&2 != 0
		rng := rand.New(rand.NewPCG(seed, 11))
		op := sparseA(rng, tm, tk, float64(zero)/255)
		a, lda := op, max(tk, 1)
		if transA {
			a, lda = transposed(op, tm, tk), max(tm, 1)
		}
		b := make([]float32, tk*tn)
		for i := range b {
			b[i] = float32(rng.NormFloat64())
		}
		ldb := max(tn, 1)
		if transB {
			ldb = max(tk, 1)
		}
		want := make([]float32, tm*tn)
		Sgemm(transA, transB, tm, tn, tk, 1, a, lda, b, ldb, 0, want, max(tn, 1))
		got := make([]float32, tm*tn)
		SgemmZeroA(transA, transB, tm, tn, tk, 1, a, lda, b, ldb, 0, got, max(tn, 1))
		sameBits(t, "SgemmZeroA", got, want)

		defer func(v bool) { useSparse = v }(useSparse)
		p, err := NewPackedB(false, tk, tn, b[:tk*tn], max(tn, 1))
		if err != nil {
			t.Fatal(err)
		}
		useSparse = false
		p.MulBiasAct(tm, op, max(tk, 1), want, max(tn, 1), nil, Linear, 0)
		useSparse = true
		p.MulBiasAct(tm, op, max(tk, 1), got, max(tn, 1), nil, Linear, 0)
		sameBits(t, "PackedB", got, want)
	})
}
