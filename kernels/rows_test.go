package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
)

// TestMulBiasActRows computes products block by block, over the blocks of
// ParallelRows and over uneven blocks at multiples of the row tile, and
// checks them against the float64 reference and, bit for bit, against
// MulBiasAct over all rows; the epilogue's then must see every element
// exactly once, with indices of the whole C.
func TestMulBiasActRows(t *testing.T) {
	var cases []packedCase
	for _, m := range []int{1, 7, 8, 9, 33, 64} {
		for _, n := range []int{1, 17, 40, 100} {
			for _, k := range []int{0, 1, 17, 261} {
				cases = append(cases, packedCase{transB: (m+n+k)%2 == 0, m: m, n: n, k: k, bias: n%2 == 1, act: Act((m + n + k) % len(actNames)), pad: k % 3})
			}
		}
	}
	// The MNIST decoder's output layer and a product over two column
	// chunks.
	cases = append(cases, packedCase{m: 256, n: 784, k: 400, bias: true, act: Sigmoid}, packedCase{m: 37, n: 1100, k: 30, act: ReLU})
	rng := rand.New(rand.NewPCG(31, 32))
	saved := active
	defer func() { active = saved }()
	for _, tc := range cases {
		o := newPackedOperands(tc, rng)
		for _, kern := range kernelsForTest() {
			active = kern
			checkRows(t, tc, o)
		}
	}
}

func checkRows(t *testing.T, tc packedCase, o packedOperands) {
	t.Helper()
	p, err := NewPackedB(tc.transB, tc.k, tc.n, o.b, o.ldb)
	if err != nil {
		t.Fatal(err)
	}
	ldc := o.ldc
	// Blocks: ParallelRows's, and every third row tile in a block of its
	// own, the rest in one (uneven blocks in any order).
	var parallel [][2]int
	var mu sync.Mutex
	ParallelRows(tc.m, func(i0, i1 int) {
		mu.Lock()
		parallel = append(parallel, [2]int{i0, i1})
		mu.Unlock()
	})
	mr := RowTile()
	var uneven [][2]int
	for i0 := 0; i0 < tc.m; i0 += mr {
		uneven = append(uneven, [2]int{i0, min(tc.m, i0+mr)})
	}
	for i := 0; i+1 < len(uneven); i += 3 {
		uneven[i][1] = uneven[i+1][1]
		uneven = append(uneven[:i+1], uneven[i+2:]...)
	}
	for i, j := 0, len(uneven)-1; i < j; i, j = i+1, j-1 {
		uneven[i], uneven[j] = uneven[j], uneven[i]
	}

	var lin []float32
	for _, blocks := range [][][2]int{parallel, uneven} {
		lin = append(lin[:0], o.c...)
		for _, b := range blocks {
			p.MulBiasActRows(b[0], b[1], o.a, o.lda, lin, ldc, nil, Linear, 0, nil)
		}
		checkLinear(t, fmt.Sprintf("%v blocks %v", tc, blocks), tc, o, lin)

		fused := append([]float32(nil), o.c...)
		seen := make([]int, tc.m*tc.n)
		then := func(i0, i1, c0, c1 int) {
			for i := i0; i < i1; i++ {
				for j := c0; j < c1; j++ {
					seen[i*tc.n+j]++
				}
			}
		}
		for _, b := range blocks {
			p.MulBiasActRows(b[0], b[1], o.a, o.lda, fused, ldc, o.bias, tc.act, 0.3, then)
		}
		want := append([]float32(nil), o.c...)
		if tc.m > 1 {
			// A single row takes MulBiasAct's matrix-vector path, which
			// rounds differently; the reference above checks it.
			p.MulBiasAct(tc.m, o.a, o.lda, want, ldc, o.bias, tc.act, 0.3)
		} else {
			copy(want, lin)
			AddBiasAct(want, 1, tc.n, o.bias, tc.act, 0.3)
		}
		for i := 0; i < tc.m; i++ {
			for j := 0; j < tc.n; j++ {
				if got, w := fused[i*ldc+j], want[i*ldc+j]; math.Float32bits(got) != math.Float32bits(w) {
					t.Fatalf("%s %v blocks %v: C[%d,%d] = %v, MulBiasAct gives %v", active.name, tc, blocks, i, j, got, w)
				}
				if tc.n > 0 && seen[i*tc.n+j] != 1 {
					t.Fatalf("%v blocks %v: then saw C[%d,%d] %d times", tc, blocks, i, j, seen[i*tc.n+j])
				}
			}
		}
	}
}

// TestParallelRows checks the partition: every row once, block bounds at
// multiples of RowTile, no more blocks than cores, on any GOMAXPROCS.
func TestParallelRows(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	mr := RowTile()
	for _, procs := range []int{1, 2, 3} {
		runtime.GOMAXPROCS(procs)
		for _, m := range []int{0, 1, 7, 8, 9, 17, 63, 256, 1001} {
			label := fmt.Sprintf("GOMAXPROCS %d, m %d", procs, m)
			var mu sync.Mutex
			count := make([]int, m)
			blocks := 0
			ParallelRows(m, func(i0, i1 int) {
				mu.Lock()
				defer mu.Unlock()
				blocks++
				if i0%mr != 0 || i1 != m && i1%mr != 0 || i0 >= i1 {
					t.Errorf("%s: block [%d, %d) is not at row tile bounds", label, i0, i1)
				}
				for i := i0; i < i1; i++ {
					count[i]++
				}
			})
			if blocks > procs {
				t.Errorf("%s: %d blocks", label, blocks)
			}
			for i, c := range count {
				if c != 1 {
					t.Fatalf("%s: row %d done %d times", label, i, c)
				}
			}
		}
	}
}

// TestMulBiasActRowsPanics: bad row ranges and operands are refused.
func TestMulBiasActRowsPanics(t *testing.T) {
	p, err := NewPackedB(false, 3, 2, make([]float32, 6), 2)
	if err != nil {
		t.Fatal(err)
	}
	a, c := make([]float32, 4*3), make([]float32, 4*2)
	for _, tt := range []struct {
		name   string
		i0, i1 int
		a, c   []float32
	}{
		{"negative", -1, 2, a, c},
		{"reversed", 3, 2, a, c},
		{"past A", 0, 5, a, make([]float32, 5*2)},
		{"past C", 0, 5, make([]float32, 5*3), c},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", tt.name)
				}
			}()
			p.MulBiasActRows(tt.i0, tt.i1, tt.a, 3, tt.c, 2, nil, Linear, 0, nil)
		}()
	}
}
