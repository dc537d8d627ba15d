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
	if p.sparse.finite {
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
	n := compactA(dst, off, ap, kc, nr)
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
