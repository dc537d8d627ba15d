package kernels

import (
	"math"
	"math/rand/v2"
	"sync"
	"testing"
)

// TestPackedPanelsMatchSgemm checks the trainer's path, a PackedB packed
// in parts and multiplied by Gemm, bit for bit against what it replaces:
// Sgemm followed by AddBiasAct, products narrower than a panel included
// (Sgemm computes their transpose: the same sums in the same order; the
// trainer still leaves those to Sgemm, measured no faster packed).
func TestPackedPanelsMatchSgemm(t *testing.T) {
	withKernels(t, func(t *testing.T) {
		nr := PanelWidth()
		cases := []packedCase{
			{m: 64, n: 400, k: 784, bias: true, act: ReLU},
			{transB: true, m: 64, n: 400, k: 784},
			{m: 64, n: 784, k: 400, bias: true, act: Linear},
			{transB: true, m: 64, n: 400, k: 20},
			{m: 2, n: nr, k: 20, bias: true, act: Sigmoid},
			{m: 13, n: 2*nr + 5, k: 1025, bias: true, act: LeakyReLU},
			{transB: true, m: 129, n: 1100, k: 9, pad: 3},
			// Narrower than a panel: Sgemm computes the transpose, whose
			// elements are the same sums in the same order.
			{m: 64, n: 20, k: 400, bias: true, act: Linear},
			{transB: true, m: 64, n: 20, k: 400},
			{m: 100, n: 5, k: 37, bias: true, act: ReLU},
		}
		for _, tc := range cases {
			for _, parts := range []int{1, 2, 3, 7} {
				rng := rand.New(rand.NewPCG(uint64(tc.m), uint64(tc.n*tc.k)))
				o := newPackedOperands(tc, rng)
				p, err := NewPackedPanels(tc.transB, tc.k, tc.n)
				if err != nil {
					t.Fatal(err)
				}
				// The parts are disjoint: packing them concurrently is
				// the trainer's use.
				var wg sync.WaitGroup
				for part := range parts {
					wg.Add(1)
					go func() {
						defer wg.Done()
						if err := p.Pack(o.b, o.ldb, part, parts); err != nil {
							t.Error(err)
						}
					}()
				}
				wg.Wait()
				want := append([]float32(nil), o.c...)
				Sgemm(false, tc.transB, tc.m, tc.n, tc.k, 1, o.a, o.lda, o.b, o.ldb, 0, want, o.ldc)
				for i := 0; i < tc.m; i++ {
					AddBiasAct(want[i*o.ldc:i*o.ldc+tc.n], 1, tc.n, o.bias, tc.act, 0.01)
				}
				got := append([]float32(nil), o.c...)
				p.Gemm(tc.m, o.a, o.lda, got, o.ldc, o.bias, tc.act, 0.01)
				for i := range got {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) && !(got[i] != got[i] && want[i] != want[i]) {
						t.Fatalf("%s %v parts %d: C[%d] = %v, Sgemm+AddBiasAct gives %v", active.name, tc, parts, i, got[i], want[i])
					}
				}
			}
		}
	})
}

// TestPackedPanelsSingleRow: with no matrix-vector strips a single row goes
// through the blocked path; it must still be the product.
func TestPackedPanelsSingleRow(t *testing.T) {
	for _, tc := range []packedCase{{m: 1, n: 100, k: 37}, {transB: true, m: 1, n: 97, k: 300, pad: 2}} {
		rng := rand.New(rand.NewPCG(3, 4))
		o := newPackedOperands(tc, rng)
		p, err := NewPackedPanels(tc.transB, tc.k, tc.n)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Pack(o.b, o.ldb, 0, 1); err != nil {
			t.Fatal(err)
		}
		got := append([]float32(nil), o.c...)
		p.Gemm(1, o.a, o.lda, got, o.ldc, nil, Linear, 0)
		for j := 0; j < tc.n; j++ {
			if d := math.Abs(float64(got[j]) - o.want[j]); !(d <= 1e-6+4e-7*float64(tc.k+2)*o.scale[j]) {
				t.Fatalf("%v: C[0,%d] = %v, want %v", tc, j, got[j], o.want[j])
			}
		}
	}
}

// TestPackedPanelsErrors: a B too small for the layout and a bad part are
// errors, not panics; a packed layout of an empty product is empty.
func TestPackedPanelsErrors(t *testing.T) {
	p, err := NewPackedPanels(false, 10, 60)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Pack(make([]float32, 10*60-1), 60, 0, 1); err == nil {
		t.Error("Pack accepted a B one element short")
	}
	for _, part := range [][2]int{{-1, 2}, {2, 2}, {0, 0}} {
		if err := p.Pack(make([]float32, 600), 60, part[0], part[1]); err == nil {
			t.Errorf("Pack accepted part %d of %d", part[0], part[1])
		}
	}
	if _, err := NewPackedPanels(true, -1, 3); err == nil {
		t.Error("NewPackedPanels accepted k = -1")
	}
	e, err := NewPackedPanels(true, 0, 5)
	if err != nil || e.Pack(nil, 1, 0, 1) != nil {
		t.Errorf("empty layout: %v", err)
	}
}

// TestPackRows refreshes a packed copy row range by row range after B
// changes and checks it against a full pack, bit for bit, for both
// orientations, ranges that do and do not line up with 8 and with a
// panel, several k-blocks and column chunks.
func TestPackRows(t *testing.T) {
	withKernels(t, func(t *testing.T) {
		for _, tc := range []struct {
			transB bool
			k, n   int
			step   int
		}{
			{false, 784, 400, 16}, {false, 400, 784, 40}, {true, 784, 400, 40}, {true, 400, 784, 16},
			{true, 300, 1100, 13}, {false, 30, 1100, 7}, {false, 21, 50, 5}, {true, 21, 50, 8}, {true, 7, 9, 3},
		} {
			br, bc := tc.k, tc.n
			if tc.transB {
				br, bc = tc.n, tc.k
			}
			rng := rand.New(rand.NewPCG(uint64(tc.k), uint64(tc.n)))
			b := make([]float32, br*bc)
			for i := range b {
				b[i] = float32(rng.NormFloat64())
			}
			p, err := NewPackedPanels(tc.transB, tc.k, tc.n)
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Pack(b, bc, 0, 1); err != nil {
				t.Fatal(err)
			}
			for i := range b {
				b[i] = float32(rng.NormFloat64())
			}
			for r := 0; r < br; r += tc.step {
				if err := p.PackRows(b, bc, r, min(br, r+tc.step)); err != nil {
					t.Fatal(err)
				}
			}
			want, _ := NewPackedPanels(tc.transB, tc.k, tc.n)
			if err := want.Pack(b, bc, 0, 1); err != nil {
				t.Fatal(err)
			}
			for i := range want.blocked {
				if math.Float32bits(p.blocked[i]) != math.Float32bits(want.blocked[i]) {
					t.Fatalf("%+v: packed[%d] = %v, a full pack gives %v", tc, i, p.blocked[i], want.blocked[i])
				}
			}
		}
		p, _ := NewPackedPanels(false, 4, 4)
		if err := p.PackRows(make([]float32, 16), 4, 3, 5); err == nil {
			t.Error("PackRows accepted rows [3, 5) of 4")
		}
	})
}

// BenchmarkPackRows packs the MNIST model's large weights by chunks of
// whole rows, as the trainer's update does: x·W1 (784×400), and the
// decoder's 400×784 output layer both ways (x·W and dz·Wᵀ).
func BenchmarkPackRows(b *testing.B) {
	for _, tc := range []struct {
		name   string
		transB bool
		k, n   int
		rows   int
	}{{"NN_784x400", false, 784, 400, 40}, {"NN_400x784", false, 400, 784, 16}, {"NT_400x784", true, 784, 400, 16}} {
		b.Run(tc.name, func(b *testing.B) {
			br, bc := tc.k, tc.n
			if tc.transB {
				br, bc = tc.n, tc.k
			}
			w := make([]float32, br*bc)
			p, _ := NewPackedPanels(tc.transB, tc.k, tc.n)
			for b.Loop() {
				for r := 0; r < br; r += tc.rows {
					if err := p.PackRows(w, bc, r, min(br, r+tc.rows)); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(4*br*bc)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
		})
	}
}
