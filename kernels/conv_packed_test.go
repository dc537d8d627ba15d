package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
)

// packedConvCases are convCases plus channel counts that are no multiple
// of 16 (nor of the micro-kernels' panel widths), at batch 1 and 7.
func packedConvCases() []struct {
	g ConvGeom
	n int
} {
	cases := append([]struct {
		g ConvGeom
		n int
	}{}, convCases...)
	for _, n := range []int{1, 7} {
		cases = append(cases,
			struct {
				g ConvGeom
				n int
			}{ConvGeom{C: 20, H: 9, W: 11, K: 37, KH: 3, KW: 3, SH: 2, SW: 1, PH: 1, PW: 1}, n},
			struct {
				g ConvGeom
				n int
			}{ConvGeom{C: 17, H: 12, W: 10, K: 50, KH: 4, KW: 4, SH: 2, SW: 2, PH: 1, PW: 1}, n},
			struct {
				g ConvGeom
				n int
			}{ConvGeom{C: 32, H: 14, W: 14, K: 64, KH: 4, KW: 4, SH: 2, SW: 2, PH: 1, PW: 1}, n})
	}
	return cases
}

// withConvPaths runs f with the direct tile kernel (where the CPU has
// it) and without it (the patch matrix and PackedB path).
func withConvPaths(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	saved := hasConvTile
	defer func() { hasConvTile = saved }()
	for _, direct := range []bool{false, true} {
		if direct && !saved {
			continue
		}
		hasConvTile = direct
		t.Run(fmt.Sprintf("direct=%v", direct), f)
	}
}

func TestPackedConv(t *testing.T) {
	for ci, tc := range packedConvCases() {
		t.Run(fmt.Sprintf("%v/n=%d", tc.g, tc.n), func(t *testing.T) {
			withChunks(t, func(t *testing.T) {
				withConvPaths(t, func(t *testing.T) {
					g, n := tc.g, tc.n
					rng := rand.New(rand.NewPCG(uint64(ci), 21))
					x, w, b := randConv(rng, n*g.InSize()), randConv(rng, g.WeightSize()), randConv(rng, g.K)
					act := []Act{Linear, ReLU, Tanh, Sigmoid}[ci%4]
					if ci%5 == 4 {
						b = nil
					}
					p, err := NewPackedConv(g, w)
					if err != nil {
						t.Fatal(err)
					}
					y := make([]float32, n*g.OutSize()+1)
					for i := range y {
						y[i] = float32(math.NaN()) // every output must be written
					}
					if err := p.Conv(n, x, b, act, 0.1, y[:n*g.OutSize()]); err != nil {
						t.Fatal(err)
					}
					if !math.IsNaN(float64(y[len(y)-1])) {
						t.Errorf("wrote past the output")
					}
					want, scale := refConv(g, n, x, w, b, act)
					checkClose(t, "y", y, want, scale)
				})
			})
		})
	}
}

func TestPackedConvTranspose(t *testing.T) {
	for ci, tc := range packedConvCases() {
		t.Run(fmt.Sprintf("%v/n=%d", tc.g, tc.n), func(t *testing.T) {
			withChunks(t, func(t *testing.T) {
				g, n := tc.g, tc.n
				rng := rand.New(rand.NewPCG(uint64(ci), 22))
				y, w, b := randConv(rng, n*g.OutSize()), randConv(rng, g.WeightSize()), randConv(rng, g.C)
				act := []Act{ReLU, Linear, Sigmoid, LeakyReLU}[ci%4]
				if ci%5 == 3 {
					b = nil
				}
				p, err := NewPackedConvTranspose(g, w)
				if err != nil {
					t.Fatal(err)
				}
				x := make([]float32, n*g.InSize()+1)
				for i := range x {
					x[i] = float32(math.NaN())
				}
				if err := p.ConvTranspose(n, y, b, act, 0.1, x[:n*g.InSize()]); err != nil {
					t.Fatal(err)
				}
				if !math.IsNaN(float64(x[len(x)-1])) {
					t.Errorf("wrote past the output")
				}
				want, scale := refConvAdjoint(g, n, y, w, b, act)
				checkClose(t, "x", x, want, scale)
			})
		})
	}
}

// TestPackedConvThreads: the results do not depend on GOMAXPROCS, for a
// batch of one (the product split across cores) and of several chunks.
func TestPackedConvThreads(t *testing.T) { withConvPaths(t, testPackedConvThreads) }

func testPackedConvThreads(t *testing.T) {
	saved := convChunkFloats
	defer func() { convChunkFloats = saved }()
	convChunkFloats = 1 << 12 // several chunks at batch 7
	g := ConvGeom{C: 32, H: 14, W: 14, K: 64, KH: 4, KW: 4, SH: 2, SW: 2, PH: 1, PW: 1}
	rng := rand.New(rand.NewPCG(23, 24))
	w, b := randConv(rng, g.WeightSize()), randConv(rng, g.K)
	bc := randConv(rng, g.C)
	fwd, err := NewPackedConv(g, w)
	if err != nil {
		t.Fatal(err)
	}
	adj, err := NewPackedConvTranspose(g, w)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{1, 7} {
		x, y := randConv(rng, n*g.InSize()), randConv(rng, n*g.OutSize())
		var outs [2][2][]float32
		for i, procs := range []int{1, 2} {
			old := runtime.GOMAXPROCS(procs)
			outs[i][0] = make([]float32, n*g.OutSize())
			outs[i][1] = make([]float32, n*g.InSize())
			if err := fwd.Conv(n, x, b, ReLU, 0, outs[i][0]); err != nil {
				t.Fatal(err)
			}
			if err := adj.ConvTranspose(n, y, bc, Sigmoid, 0, outs[i][1]); err != nil {
				t.Fatal(err)
			}
			runtime.GOMAXPROCS(old)
		}
		for k, name := range []string{"Conv", "ConvTranspose"} {
			for j := range outs[0][k] {
				if math.Float32bits(outs[0][k][j]) != math.Float32bits(outs[1][k][j]) {
					t.Fatalf("n=%d %s[%d]: %v with 1 thread, %v with 2", n, name, j, outs[0][k][j], outs[1][k][j])
				}
			}
		}
	}
}

// TestPackedConvErrors: mismatched weights, batches, slices and
// directions are refused.
func TestPackedConvErrors(t *testing.T) {
	g := ConvGeom{C: 2, H: 5, W: 5, K: 3, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1}
	if _, err := NewPackedConv(g, make([]float32, g.WeightSize()-1)); err == nil {
		t.Error("short weights accepted")
	}
	bad := g
	bad.SH = 0
	if _, err := NewPackedConv(bad, make([]float32, g.WeightSize())); err == nil {
		t.Error("stride 0 accepted")
	}
	p, err := NewPackedConv(g, make([]float32, g.WeightSize()))
	if err != nil {
		t.Fatal(err)
	}
	x, y := make([]float32, 2*g.InSize()), make([]float32, 2*g.OutSize())
	for name, err := range map[string]error{
		"short input":  p.Conv(2, x[1:], nil, Linear, 0, y),
		"short output": p.Conv(2, x, nil, Linear, 0, y[1:]),
		"bias length":  p.Conv(2, x, make([]float32, 2), Linear, 0, y),
		"negative n":   p.Conv(-1, x, nil, Linear, 0, y),
		"activation":   p.Conv(2, x, nil, Act(200), 0, y),
		"direction":    p.ConvTranspose(2, y, nil, Linear, 0, x),
	} {
		if err == nil {
			t.Errorf("%s accepted", name)
		}
	}
}

// BenchmarkPackedConv times the conv VAE's inference layers at batch 1
// and 256 through PackedConv and through Conv / ConvAdjoint (which
// prepare the weights on every call).
func BenchmarkPackedConv(b *testing.B) {
	rng := rand.New(rand.NewPCG(25, 26))
	for _, l := range vaeConvLayers {
		g := l.g
		w, bias := randConv(rng, g.WeightSize()), randConv(rng, max(g.C, g.K))
		for _, n := range []int{1, 256} {
			in, out := randConv(rng, n*g.InSize()), make([]float32, n*g.OutSize())
			if l.transposed {
				in, out = randConv(rng, n*g.OutSize()), make([]float32, n*g.InSize())
			}
			name := fmt.Sprintf("%s/n=%d", l.name, n)
			if l.transposed {
				p, err := NewPackedConvTranspose(g, w)
				if err != nil {
					b.Fatal(err)
				}
				b.Run(name+"/packed", func(b *testing.B) {
					for b.Loop() {
						_ = p.ConvTranspose(n, in, bias[:g.C], ReLU, 0, out)
					}
				})
				b.Run(name+"/adjoint", func(b *testing.B) {
					for b.Loop() {
						_ = ConvAdjoint(g, n, in, w, bias[:g.C], ReLU, 0, out)
					}
				})
				continue
			}
			p, err := NewPackedConv(g, w)
			if err != nil {
				b.Fatal(err)
			}
			b.Run(name+"/packed", func(b *testing.B) {
				for b.Loop() {
					_ = p.Conv(n, in, bias[:g.K], ReLU, 0, out)
				}
			})
			b.Run(name+"/conv", func(b *testing.B) {
				for b.Loop() {
					_ = Conv(g, n, in, w, bias[:g.K], ReLU, 0, out)
				}
			})
		}
	}
}
