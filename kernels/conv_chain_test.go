package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
)

// chainCases are pairs of convolutions, the second taking the first's
// output: odd channel counts, padding and stride variants, more than 64
// output channels (two column blocks).
var chainCases = [][2]ConvGeom{
	{{C: 1, H: 28, W: 28, K: 32, KH: 4, KW: 4, SH: 2, SW: 2, PH: 1, PW: 1}, {C: 32, H: 14, W: 14, K: 64, KH: 4, KW: 4, SH: 2, SW: 2, PH: 1, PW: 1}},
	{{C: 3, H: 9, W: 11, K: 5, KH: 3, KW: 3, SH: 1, SW: 2, PH: 1, PW: 0}, {C: 5, H: 9, W: 5, K: 7, KH: 2, KW: 3, SH: 2, SW: 1, PH: 0, PW: 1}},
	{{C: 2, H: 7, W: 6, K: 70, KH: 3, KW: 2, SH: 1, SW: 1, PH: 2, PW: 1}, {C: 70, H: 9, W: 7, K: 17, KH: 3, KW: 3, SH: 2, SW: 2, PH: 1, PW: 1}},
	{{C: 4, H: 5, W: 5, K: 3, KH: 1, KW: 1, SH: 1, SW: 1, PH: 0, PW: 0}, {C: 3, H: 5, W: 5, K: 1, KH: 5, KW: 5, SH: 1, SW: 1, PH: 2, PW: 2}},
}

// TestConvChain: ConvChain equals its stages run one by one through Conv
// (bit for bit: the same sums in the same order), channels-last or not,
// at batch 1 and 7, on both paths and with small chunks.
func TestConvChain(t *testing.T) {
	for ci, gs := range chainCases {
		for _, n := range []int{1, 7} {
			t.Run(fmt.Sprintf("%v→%v/n=%d", gs[0], gs[1], n), func(t *testing.T) {
				withChunks(t, func(t *testing.T) {
					withConvPaths(t, func(t *testing.T) {
						testConvChain(t, ci, gs, n)
					})
				})
			})
		}
	}
}

func testConvChain(t *testing.T, ci int, gs [2]ConvGeom, n int) {
	rng := rand.New(rand.NewPCG(uint64(ci), 31))
	acts := [][2]Act{{ReLU, ReLU}, {Linear, Sigmoid}, {Tanh, ReLU}, {LeakyReLU, Linear}}[ci%4]
	var stages []ConvStage
	for i, g := range gs {
		p, err := NewPackedConv(g, randConv(rng, g.WeightSize()))
		if err != nil {
			t.Fatal(err)
		}
		b := randConv(rng, g.K)
		if (ci+i)%3 == 2 {
			b = nil
		}
		stages = append(stages, ConvStage{P: p, Bias: b, Act: acts[i], Alpha: 0.1})
	}
	g0, g1 := gs[0], gs[1]
	x := randConv(rng, n*g0.InSize())
	mid := make([]float32, n*g0.OutSize())
	want := make([]float32, n*g1.OutSize())
	if err := stages[0].P.Conv(n, x, stages[0].Bias, stages[0].Act, 0.1, mid); err != nil {
		t.Fatal(err)
	}
	if err := stages[1].P.Conv(n, mid, stages[1].Bias, stages[1].Act, 0.1, want); err != nil {
		t.Fatal(err)
	}
	np := g1.OutH() * g1.OutW()
	for _, nhwc := range []bool{false, true} {
		y := make([]float32, n*g1.OutSize()+1)
		for i := range y {
			y[i] = float32(math.NaN()) // every output must be written
		}
		if err := ConvChain(n, x, stages, y[:n*g1.OutSize()], nhwc); err != nil {
			t.Fatal(err)
		}
		if !math.IsNaN(float64(y[len(y)-1])) {
			t.Errorf("nhwc=%v: wrote past the output", nhwc)
		}
		for im := 0; im < n; im++ {
			for k := 0; k < g1.K; k++ {
				for p := 0; p < np; p++ {
					w := want[(im*g1.K+k)*np+p]
					got := y[(im*g1.K+k)*np+p]
					if nhwc {
						got = y[(im*np+p)*g1.K+k]
					}
					if math.Float32bits(got) != math.Float32bits(w) {
						t.Fatalf("nhwc=%v: image %d channel %d pixel %d: got %v, want %v", nhwc, im, k, p, got, w)
					}
				}
			}
		}
	}
	// A single stage is Conv.
	y := make([]float32, n*g0.OutSize())
	if err := ConvChain(n, x, stages[:1], y, false); err != nil {
		t.Fatal(err)
	}
	for i := range y {
		if math.Float32bits(y[i]) != math.Float32bits(mid[i]) {
			t.Fatalf("one stage [%d]: got %v, want %v", i, y[i], mid[i])
		}
	}
}

// TestConvChainThreads: the results do not depend on GOMAXPROCS.
func TestConvChainThreads(t *testing.T) {
	saved := convChunkFloats
	defer func() { convChunkFloats = saved }()
	convChunkFloats = 1 << 14 // several chunks at batch 7
	gs := chainCases[0]
	rng := rand.New(rand.NewPCG(32, 33))
	var stages []ConvStage
	for _, g := range gs {
		p, err := NewPackedConv(g, randConv(rng, g.WeightSize()))
		if err != nil {
			t.Fatal(err)
		}
		stages = append(stages, ConvStage{P: p, Bias: randConv(rng, g.K), Act: ReLU})
	}
	for _, n := range []int{1, 7} {
		x := randConv(rng, n*gs[0].InSize())
		var outs [2][]float32
		for i, procs := range []int{1, 2} {
			old := runtime.GOMAXPROCS(procs)
			outs[i] = make([]float32, n*gs[1].OutSize())
			err := ConvChain(n, x, stages, outs[i], true)
			runtime.GOMAXPROCS(old)
			if err != nil {
				t.Fatal(err)
			}
		}
		for j := range outs[0] {
			if math.Float32bits(outs[0][j]) != math.Float32bits(outs[1][j]) {
				t.Fatalf("n=%d [%d]: %v with 1 thread, %v with 2", n, j, outs[0][j], outs[1][j])
			}
		}
	}
}

// TestConvChainErrors: stages that do not fit together, and slices of
// the wrong length, are refused.
func TestConvChainErrors(t *testing.T) {
	g0 := ConvGeom{C: 2, H: 5, W: 5, K: 3, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1}
	g1 := ConvGeom{C: 4, H: 5, W: 5, K: 2, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1}
	p0, _ := NewPackedConv(g0, make([]float32, g0.WeightSize()))
	p1, _ := NewPackedConv(g1, make([]float32, g1.WeightSize()))
	pt, _ := NewPackedConvTranspose(g0, make([]float32, g0.WeightSize()))
	x, y := make([]float32, 2*g0.InSize()), make([]float32, 2*g0.OutSize())
	for name, err := range map[string]error{
		"no stages":    ConvChain(2, x, nil, y, false),
		"mismatch":     ConvChain(2, x, []ConvStage{{P: p0}, {P: p1}}, make([]float32, 2*g1.OutSize()), false),
		"transposed":   ConvChain(2, x, []ConvStage{{P: pt}}, y, false),
		"short input":  ConvChain(2, x[1:], []ConvStage{{P: p0}}, y, false),
		"short output": ConvChain(2, x, []ConvStage{{P: p0}}, y[1:], false),
		"bias length":  ConvChain(2, x, []ConvStage{{P: p0, Bias: make([]float32, 2)}}, y, false),
	} {
		if err == nil {
			t.Errorf("%s accepted", name)
		}
	}
}
