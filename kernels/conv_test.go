package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
)

// convCases are the geometries the convolution tests run: square and
// not, one and several channels, strides 1 to 3, padding 0 to 2 (as large
// as the kernel, so that some outputs see only padding), strides larger
// than the kernel (input pixels no output reads), and the layers of the
// MNIST conv VAE.
var convCases = []struct {
	g ConvGeom
	n int
}{
	{ConvGeom{C: 1, H: 5, W: 5, K: 1, KH: 3, KW: 3, SH: 1, SW: 1}, 2},
	{ConvGeom{C: 3, H: 7, W: 6, K: 4, KH: 3, KW: 2, SH: 1, SW: 1, PH: 1, PW: 1}, 3},
	{ConvGeom{C: 2, H: 9, W: 8, K: 3, KH: 3, KW: 3, SH: 2, SW: 2, PH: 1, PW: 1}, 5},
	{ConvGeom{C: 3, H: 10, W: 11, K: 2, KH: 4, KW: 3, SH: 3, SW: 2, PH: 2, PW: 0}, 4},
	{ConvGeom{C: 2, H: 4, W: 4, K: 3, KH: 1, KW: 1, SH: 1, SW: 1}, 3},
	{ConvGeom{C: 2, H: 5, W: 5, K: 3, KH: 2, KW: 2, SH: 3, SW: 3, PH: 2, PW: 2}, 3},
	{ConvGeom{C: 1, H: 8, W: 8, K: 2, KH: 2, KW: 2, SH: 3, SW: 3}, 2},
	{ConvGeom{C: 12, H: 6, W: 7, K: 5, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1}, 2},
	{ConvGeom{C: 9, H: 5, W: 10, K: 4, KH: 2, KW: 2, SH: 2, SW: 2}, 2},
	{ConvGeom{C: 3, H: 32, W: 24, K: 8, KH: 3, KW: 3, SH: 2, SW: 2, PH: 1, PW: 1}, 3},
	{ConvGeom{C: 1, H: 28, W: 28, K: 32, KH: 4, KW: 4, SH: 2, SW: 2, PH: 1, PW: 1}, 3},
	{ConvGeom{C: 32, H: 14, W: 14, K: 64, KH: 4, KW: 4, SH: 2, SW: 2, PH: 1, PW: 1}, 2},
}

// forEachTap calls f for every (output pixel, kernel tap) pair of g whose
// input pixel is inside the image, with flat indexes into one image's
// input, one image's output and the weights.
func forEachTap(g ConvGeom, f func(c, k, in, out, wi int)) {
	oh, ow := g.OutH(), g.OutW()
	for k := 0; k < g.K; k++ {
		for c := 0; c < g.C; c++ {
			for r := 0; r < oh; r++ {
				for q := 0; q < ow; q++ {
					for i := 0; i < g.KH; i++ {
						for j := 0; j < g.KW; j++ {
							h, w := r*g.SH-g.PH+i, q*g.SW-g.PW+j
							if h < 0 || h >= g.H || w < 0 || w >= g.W {
								continue
							}
							f(c, k, (c*g.H+h)*g.W+w, (k*oh+r)*ow+q, ((k*g.C+c)*g.KH+i)*g.KW+j)
						}
					}
				}
			}
		}
	}
}

// refConv is Conv in float64, straight from the definition; scale is the
// sum of the magnitudes of each output's terms, for the tolerance.
func refConv(g ConvGeom, n int, x, w, bias []float32, act Act) (want, scale []float64) {
	want = make([]float64, n*g.OutSize())
	scale = make([]float64, len(want))
	for im := 0; im < n; im++ {
		xi, yo := x[im*g.InSize():], im*g.OutSize()
		forEachTap(g, func(c, k, in, out, wi int) {
			t := float64(w[wi]) * float64(xi[in])
			want[yo+out] += t
			scale[yo+out] += math.Abs(t)
		})
	}
	p := g.OutH() * g.OutW()
	for i := range want {
		if bias != nil {
			b := float64(bias[i/p%g.K])
			want[i] += b
			scale[i] += math.Abs(b)
		}
		want[i] = refAct(act, want[i], 0.1)
	}
	return want, scale
}

// refConvAdjoint is the transposed convolution from the definition: each
// input pixel of y scatters its value times the kernel into x.
func refConvAdjoint(g ConvGeom, n int, y, w, bias []float32, act Act) (want, scale []float64) {
	want = make([]float64, n*g.InSize())
	scale = make([]float64, len(want))
	for im := 0; im < n; im++ {
		yi, xo := y[im*g.OutSize():], im*g.InSize()
		forEachTap(g, func(c, k, in, out, wi int) {
			t := float64(w[wi]) * float64(yi[out])
			want[xo+in] += t
			scale[xo+in] += math.Abs(t)
		})
	}
	hw := g.H * g.W
	for i := range want {
		if bias != nil {
			b := float64(bias[i/hw%g.C])
			want[i] += b
			scale[i] += math.Abs(b)
		}
		want[i] = refAct(act, want[i], 0.1)
	}
	return want, scale
}

// refFilterGrad is ConvFilterGrad in float64, from the definition.
func refFilterGrad(g ConvGeom, n int, x, dy []float32) (want, scale []float64) {
	want = make([]float64, g.WeightSize())
	scale = make([]float64, len(want))
	for im := 0; im < n; im++ {
		xi, di := x[im*g.InSize():], dy[im*g.OutSize():]
		forEachTap(g, func(c, k, in, out, wi int) {
			t := float64(di[out]) * float64(xi[in])
			want[wi] += t
			scale[wi] += math.Abs(t)
		})
	}
	return want, scale
}

func randConv(rng *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(2*rng.Float64() - 1)
	}
	return x
}

// checkClose compares got with want within 2e-6·scale + 1e-6 (float32
// rounding of sums whose terms add up to scale).
func checkClose(t *testing.T, what string, got []float32, want, scale []float64) {
	t.Helper()
	bad := 0
	for i, w := range want {
		if d := math.Abs(float64(got[i]) - w); !(d <= 2e-6*scale[i]+1e-6) {
			if bad++; bad <= 5 {
				t.Errorf("%s[%d] = %v, want %v (scale %v)", what, i, got[i], w, scale[i])
			}
		}
	}
}

// withChunks runs f with the default chunk size and with one so small
// that every image is a chunk (and ConvFilterGrad has several groups),
// each with every micro-kernel this CPU supports (which also covers the
// transposes without an 8×8 kernel).
func withChunks(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	saved := convChunkFloats
	defer func() { convChunkFloats = saved }()
	for _, size := range []int{saved, 1} {
		convChunkFloats = size
		t.Run(fmt.Sprintf("chunk=%d", size), func(t *testing.T) { withKernels(t, f) })
	}
}

// TestConv runs both paths (the direct tiles and the patch matrix) on
// convCases plus odd channel counts at batch 1 and 7.
func TestConv(t *testing.T) {
	for ci, tc := range packedConvCases() {
		t.Run(fmt.Sprintf("%v/n=%d", tc.g, tc.n), func(t *testing.T) {
			withChunks(t, func(t *testing.T) {
				withConvPaths(t, func(t *testing.T) {
					g, n := tc.g, tc.n
					rng := rand.New(rand.NewPCG(uint64(ci), 1))
					x, w, b := randConv(rng, n*g.InSize()), randConv(rng, g.WeightSize()), randConv(rng, g.K)
					act := []Act{Linear, ReLU, Tanh}[ci%3]
					y := make([]float32, n*g.OutSize())
					for i := range y {
						y[i] = float32(math.NaN()) // every output must be written
					}
					if err := Conv(g, n, x, w, b, act, 0.1, y); err != nil {
						t.Fatal(err)
					}
					want, scale := refConv(g, n, x, w, b, act)
					checkClose(t, "y", y, want, scale)
				})
			})
		})
	}
}

// adjointCases are packedConvCases plus geometries whose column blocks
// (min(64, SW·C, KW·C) wide) take ConvAdjoint's direct path: a partial
// last block of a kernel row, blocks of 48 and 50, odd K, stride 3.
func adjointCases() []struct {
	g ConvGeom
	n int
} {
	cases := packedConvCases()
	for _, n := range []int{1, 7} {
		for _, g := range []ConvGeom{
			{C: 25, H: 9, W: 11, K: 37, KH: 3, KW: 3, SH: 2, SW: 2, PH: 1, PW: 1},
			{C: 48, H: 6, W: 7, K: 5, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1},
			{C: 40, H: 10, W: 8, K: 70, KH: 2, KW: 2, SH: 3, SW: 3, PH: 2, PW: 1},
		} {
			cases = append(cases, struct {
				g ConvGeom
				n int
			}{g, n})
		}
	}
	return cases
}

// TestConvAdjoint runs both paths, as TestConv does.
func TestConvAdjoint(t *testing.T) {
	for ci, tc := range adjointCases() {
		t.Run(fmt.Sprintf("%v/n=%d", tc.g, tc.n), func(t *testing.T) {
			withChunks(t, func(t *testing.T) {
				withConvPaths(t, func(t *testing.T) {
					g, n := tc.g, tc.n
					rng := rand.New(rand.NewPCG(uint64(ci), 2))
					y, w, b := randConv(rng, n*g.OutSize()), randConv(rng, g.WeightSize()), randConv(rng, g.C)
					act := []Act{ReLU, Linear, Sigmoid}[ci%3]
					x := make([]float32, n*g.InSize())
					for i := range x {
						x[i] = float32(math.NaN())
					}
					if err := ConvAdjoint(g, n, y, w, b, act, 0.1, x); err != nil {
						t.Fatal(err)
					}
					want, scale := refConvAdjoint(g, n, y, w, b, act)
					checkClose(t, "x", x, want, scale)
				})
			})
		})
	}
}

// TestConvAdjointIdentity: ⟨Conv(x), y⟩ = ⟨x, ConvAdjoint(y)⟩ for the same
// weights, each inner product taken in float64 from the float32 results.
func TestConvAdjointIdentity(t *testing.T) {
	for ci, tc := range adjointCases() {
		g, n := tc.g, tc.n
		rng := rand.New(rand.NewPCG(uint64(ci), 3))
		x, y, w := randConv(rng, n*g.InSize()), randConv(rng, n*g.OutSize()), randConv(rng, g.WeightSize())
		cx := make([]float32, len(y))
		ty := make([]float32, len(x))
		if err := Conv(g, n, x, w, nil, Linear, 0, cx); err != nil {
			t.Fatal(err)
		}
		if err := ConvAdjoint(g, n, y, w, nil, Linear, 0, ty); err != nil {
			t.Fatal(err)
		}
		var lhs, rhs, mag float64
		for i := range y {
			lhs += float64(cx[i]) * float64(y[i])
			mag += math.Abs(float64(cx[i]) * float64(y[i]))
		}
		for i := range x {
			rhs += float64(x[i]) * float64(ty[i])
		}
		if math.Abs(lhs-rhs) > 1e-5*mag+1e-6 {
			t.Errorf("%v: ⟨conv(x), y⟩ = %v, ⟨x, convᵀ(y)⟩ = %v", g, lhs, rhs)
		}
	}
}

// TestConvFilterGrad runs both paths, as TestConv does.
func TestConvFilterGrad(t *testing.T) {
	for ci, tc := range packedConvCases() {
		t.Run(fmt.Sprintf("%v/n=%d", tc.g, tc.n), func(t *testing.T) {
			withChunks(t, func(t *testing.T) {
				withConvPaths(t, func(t *testing.T) {
					g, n := tc.g, tc.n+7 // more images: several groups with tiny chunks
					rng := rand.New(rand.NewPCG(uint64(ci), 4))
					x, dy := randConv(rng, n*g.InSize()), randConv(rng, n*g.OutSize())
					dw := make([]float32, g.WeightSize())
					for i := range dw {
						dw[i] = float32(math.NaN()) // overwritten, never read
					}
					if err := ConvFilterGrad(g, n, x, dy, dw); err != nil {
						t.Fatal(err)
					}
					want, scale := refFilterGrad(g, n, x, dy)
					checkClose(t, "dw", dw, want, scale)
				})
			})
		})
	}
}

func TestChannelSum(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, s := range [][3]int{{1, 1, 1}, {3, 2, 5}, {4, 3, 49}, {2, 64, 7}, {0, 3, 4}} {
		n, c, p := s[0], s[1], s[2]
		src := randConv(rng, n*c*p)
		dst := make([]float32, c)
		if err := ChannelSum(dst, src, n, c, p); err != nil {
			t.Fatal(err)
		}
		for ch := 0; ch < c; ch++ {
			var want, scale float64
			for im := 0; im < n; im++ {
				for q := 0; q < p; q++ {
					want += float64(src[(im*c+ch)*p+q])
					scale += math.Abs(float64(src[(im*c+ch)*p+q]))
				}
			}
			if math.Abs(float64(dst[ch])-want) > 1e-6*scale+1e-7 {
				t.Errorf("%v: sum[%d] = %v, want %v", s, ch, dst[ch], want)
			}
		}
	}
}

func TestConvOutputSize(t *testing.T) {
	tests := []struct {
		g      ConvGeom
		oh, ow int
	}{
		{ConvGeom{C: 1, H: 28, W: 28, K: 1, KH: 4, KW: 4, SH: 2, SW: 2, PH: 1, PW: 1}, 14, 14},
		{ConvGeom{C: 1, H: 14, W: 14, K: 1, KH: 4, KW: 4, SH: 2, SW: 2, PH: 1, PW: 1}, 7, 7},
		{ConvGeom{C: 1, H: 32, W: 24, K: 1, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1}, 32, 24},
		{ConvGeom{C: 1, H: 10, W: 11, K: 1, KH: 4, KW: 3, SH: 3, SW: 2}, 3, 5},      // (10-4)/3+1, (11-3)/2+1
		{ConvGeom{C: 1, H: 5, W: 5, K: 1, KH: 5, KW: 5, SH: 1, SW: 1}, 1, 1},        // kernel as large as the image
		{ConvGeom{C: 1, H: 7, W: 7, K: 1, KH: 3, KW: 3, SH: 3, SW: 3, PH: 1}, 3, 2}, // rounded down
	}
	for _, tc := range tests {
		if err := tc.g.Check(); err != nil {
			t.Errorf("%v: %v", tc.g, err)
		}
		if oh, ow := tc.g.OutH(), tc.g.OutW(); oh != tc.oh || ow != tc.ow {
			t.Errorf("%v: output %d×%d, want %d×%d", tc.g, oh, ow, tc.oh, tc.ow)
		}
	}
}

func TestConvErrors(t *testing.T) {
	good := ConvGeom{C: 2, H: 5, W: 5, K: 3, KH: 3, KW: 3, SH: 1, SW: 1}
	mod := func(f func(g *ConvGeom)) ConvGeom { g := good; f(&g); return g }
	geoms := []struct {
		g    ConvGeom
		want string
	}{
		{mod(func(g *ConvGeom) { g.C = 0 }), "input size"},
		{mod(func(g *ConvGeom) { g.K = -1 }), "output channels"},
		{mod(func(g *ConvGeom) { g.KW = 0 }), "kernel size"},
		{mod(func(g *ConvGeom) { g.SH = 0 }), "stride"},
		{mod(func(g *ConvGeom) { g.PW = -1 }), "padding"},
		{mod(func(g *ConvGeom) { g.KH = 8 }), "larger than the padded input 5×5"},
		{mod(func(g *ConvGeom) { g.H = 1 << 30 }), "too large"},
	}
	for _, tc := range geoms {
		err := tc.g.Check()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want one containing %q", tc.g, err, tc.want)
		}
	}
	g, n := good, 2
	x, w := make([]float32, n*g.InSize()), make([]float32, g.WeightSize())
	y := make([]float32, n*g.OutSize())
	calls := []struct {
		name string
		err  error
		want string
	}{
		{"short x", Conv(g, n, x[1:], w, nil, ReLU, 0, y), "x has 99 elements, want 100"},
		{"short y", Conv(g, n, x, w, nil, ReLU, 0, y[1:]), "y has"},
		{"bias", Conv(g, n, x, w, make([]float32, 2), ReLU, 0, y), "bias has 2 elements, want 3"},
		{"act", Conv(g, n, x, w, nil, Act(99), 0, y), "unknown activation"},
		{"negative batch", Conv(g, -1, x, w, nil, ReLU, 0, y), "negative batch"},
		{"bad geometry", Conv(geoms[0].g, n, x, w, nil, ReLU, 0, y), "input size"},
		{"adjoint short w", ConvAdjoint(g, n, y, w[1:], nil, Linear, 0, x), "w has"},
		{"adjoint bias", ConvAdjoint(g, n, y, w, make([]float32, 3), Linear, 0, x), "bias has 3 elements, want 2"},
		{"filter short dw", ConvFilterGrad(g, n, x, y, w[1:]), "dw has"},
		{"channel sum", ChannelSum(make([]float32, 2), y, n, 3, 9), "dst has 2 elements, want 3"},
	}
	for _, c := range calls {
		if c.err == nil || !strings.Contains(c.err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, c.err, c.want)
		}
	}
}

// TestConvIndependentOfGOMAXPROCS: the three functions give the same bits
// on any number of goroutines, on both paths, for the VAE's 32→64 layer
// and odd channel counts (more than one block of 64 output channels).
func TestConvIndependentOfGOMAXPROCS(t *testing.T) {
	for _, g := range []ConvGeom{
		{C: 32, H: 14, W: 14, K: 64, KH: 4, KW: 4, SH: 2, SW: 2, PH: 1, PW: 1},
		{C: 17, H: 12, W: 10, K: 70, KH: 3, KW: 4, SH: 2, SW: 1, PH: 1, PW: 2},
		{C: 25, H: 9, W: 11, K: 37, KH: 3, KW: 3, SH: 2, SW: 2, PH: 1, PW: 1},
	} {
		t.Run(g.String(), func(t *testing.T) {
			withConvPaths(t, func(t *testing.T) { testConvIndependentOfGOMAXPROCS(t, g) })
		})
	}
}

func testConvIndependentOfGOMAXPROCS(t *testing.T, g ConvGeom) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	const n = 37
	rng := rand.New(rand.NewPCG(9, 10))
	x, y, w := randConv(rng, n*g.InSize()), randConv(rng, n*g.OutSize()), randConv(rng, g.WeightSize())
	b := randConv(rng, g.K)
	sameAcrossGOMAXPROCS(t, "Conv", make([]float32, len(y)), func(out []float32) {
		if err := Conv(g, n, x, w, b, ReLU, 0, out); err != nil {
			t.Fatal(err)
		}
	})
	sameAcrossGOMAXPROCS(t, "ConvAdjoint", make([]float32, len(x)), func(out []float32) {
		if err := ConvAdjoint(g, n, y, w, nil, Linear, 0, out); err != nil {
			t.Fatal(err)
		}
	})
	sameAcrossGOMAXPROCS(t, "ConvFilterGrad", make([]float32, len(w)), func(out []float32) {
		if err := ConvFilterGrad(g, n, x, y, out); err != nil {
			t.Fatal(err)
		}
	})
}

// vaeConvLayers are the four convolutions of the MNIST conv VAE (issue
// 11), each as the convolution g of this package: the decoder's transposed
// convolutions are the adjoints of convolutions from their output.
var vaeConvLayers = []struct {
	name       string
	g          ConvGeom
	transposed bool
	needDX     bool // the first layer's input needs no gradient
}{
	{"enc conv 1→32", ConvGeom{C: 1, H: 28, W: 28, K: 32, KH: 4, KW: 4, SH: 2, SW: 2, PH: 1, PW: 1}, false, false},
	{"enc conv 32→64", ConvGeom{C: 32, H: 14, W: 14, K: 64, KH: 4, KW: 4, SH: 2, SW: 2, PH: 1, PW: 1}, false, true},
	{"dec convT 64→32", ConvGeom{C: 32, H: 14, W: 14, K: 64, KH: 4, KW: 4, SH: 2, SW: 2, PH: 1, PW: 1}, true, true},
	{"dec convT 32→1", ConvGeom{C: 1, H: 28, W: 28, K: 32, KH: 4, KW: 4, SH: 2, SW: 2, PH: 1, PW: 1}, true, true},
}

// BenchmarkConvVAEStep128 is the convolution work of one training step of
// the MNIST conv VAE at batch 128: forward, bias and weight gradients, and
// the input gradient of every layer but the first; the figure to compare
// is samples/s (PyTorch trains the whole model at about 2,000). cpu-ms/op
// is the CPU time of all threads, steadier than wall time on a loaded
// machine. The sub-benchmarks time each layer's calls on their own.
func BenchmarkConvVAEStep128(b *testing.B) {
	const n = 128
	rng := rand.New(rand.NewPCG(1, 2))
	type call struct {
		name string
		f    func() error
	}
	var all []call
	byLayer := make([][]call, len(vaeConvLayers))
	for i, l := range vaeConvLayers {
		g := l.g
		inSz, outSz, bc := g.InSize(), g.OutSize(), g.K
		if l.transposed {
			inSz, outSz, bc = outSz, inSz, g.C
		}
		in, out, w := randConv(rng, n*inSz), make([]float32, n*outSz), randConv(rng, g.WeightSize())
		bias, dout, din := randConv(rng, bc), randConv(rng, n*outSz), make([]float32, n*inSz)
		dw, db := make([]float32, g.WeightSize()), make([]float32, bc)
		var cs []call
		if !l.transposed {
			cs = []call{
				{"forward", func() error { return Conv(g, n, in, w, bias, ReLU, 0, out) }},
				{"bias", func() error { return ChannelSum(db, dout, n, g.K, g.OutH()*g.OutW()) }},
				{"filter", func() error { return ConvFilterGrad(g, n, in, dout, dw) }},
			}
			if l.needDX {
				cs = append(cs, call{"data", func() error { return ConvAdjoint(g, n, dout, w, nil, Linear, 0, din) }})
			}
		} else {
			cs = []call{
				{"forward", func() error { return ConvAdjoint(g, n, in, w, bias, ReLU, 0, out) }},
				{"bias", func() error { return ChannelSum(db, dout, n, g.C, g.H*g.W) }},
				{"filter", func() error { return ConvFilterGrad(g, n, dout, in, dw) }},
				{"data", func() error { return Conv(g, n, dout, w, nil, Linear, 0, din) }},
			}
		}
		byLayer[i] = cs
		all = append(all, cs...)
	}
	run := func(b *testing.B, cs []call) {
		cpu0 := processCPU()
		b.ResetTimer()
		for range b.N {
			for _, c := range cs {
				if err := c.f(); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64((processCPU()-cpu0).Microseconds())/1e3/float64(b.N), "cpu-ms/op")
		b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "samples/s")
	}
	b.Run("all", func(b *testing.B) { run(b, all) })
	for i, l := range vaeConvLayers {
		for _, c := range byLayer[i] {
			b.Run(strings.ReplaceAll(l.name, " ", "_")+"/"+c.name, func(b *testing.B) { run(b, []call{c}) })
		}
	}
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// TestConvAllocations: in steady state a call allocates only the hand-off
// of its chunks to other goroutines (a closure and the goroutines), never
// its buffers, which come from pools.
func TestConvAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector drops pooled buffers")
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	g := ConvGeom{C: 32, H: 14, W: 14, K: 64, KH: 4, KW: 4, SH: 2, SW: 2, PH: 1, PW: 1}
	const n = 64
	rng := rand.New(rand.NewPCG(11, 12))
	x, y, w := randConv(rng, n*g.InSize()), randConv(rng, n*g.OutSize()), randConv(rng, g.WeightSize())
	b := randConv(rng, g.K)
	calls := []struct {
		name string
		f    func() error
	}{
		{"Conv", func() error { return Conv(g, n, x, w, b, ReLU, 0, y) }},
		{"ConvAdjoint", func() error { return ConvAdjoint(g, n, y, w, nil, Linear, 0, x) }},
		{"ConvFilterGrad", func() error { return ConvFilterGrad(g, n, x, y, w) }},
		{"ChannelSum", func() error { return ChannelSum(b, y, n, g.K, g.OutH()*g.OutW()) }},
	}
	for _, c := range calls {
		allocs := testing.AllocsPerRun(10, func() {
			if err := c.f(); err != nil {
				t.Fatal(err)
			}
		})
		if allocs > 4 {
			t.Errorf("%s: %v allocations per call, want at most 4", c.name, allocs)
		}
	}
}

// TestAddRunPaths: the vector and Go paths of addRun give the same bits,
// for every length around the vector widths.
func TestAddRunPaths(t *testing.T) {
	saved := useAVX512Add
	defer func() { useAVX512Add = saved }()
	rng := rand.New(rand.NewPCG(13, 14))
	for n := 0; n <= 150; n++ {
		src, dst := randConv(rng, n), randConv(rng, n+1) // one more: must stay untouched
		var got [2][]float32
		for i, vec := range []bool{false, saved} {
			useAVX512Add = vec
			d := append([]float32(nil), dst...)
			addRun(d[:n], src)
			got[i] = d
		}
		for j := range got[0] {
			if math.Float32bits(got[0][j]) != math.Float32bits(got[1][j]) || (j < n && got[0][j] != dst[j]+src[j]) || (j == n && got[0][j] != dst[n]) {
				t.Fatalf("n=%d: element %d: go %v, vector %v, want %v", n, j, got[0][j], got[1][j], dst[j]+src[j])
			}
		}
	}
}

// TestAdjointBlock: which geometries take ConvAdjoint's direct path (on a
// CPU with convTile), so that adjointCases covers it.
func TestAdjointBlock(t *testing.T) {
	saved := hasConvTile
	defer func() { hasConvTile = saved }()
	hasConvTile = true
	for _, c := range []struct {
		g      ConvGeom
		bw     int
		direct bool
	}{
		{ConvGeom{C: 32, H: 14, W: 14, K: 64, KH: 4, KW: 4, SH: 2, SW: 2, PH: 1, PW: 1}, 64, true},
		{ConvGeom{C: 1, H: 28, W: 28, K: 32, KH: 4, KW: 4, SH: 2, SW: 2, PH: 1, PW: 1}, 2, false},
		{ConvGeom{C: 25, H: 9, W: 11, K: 37, KH: 3, KW: 3, SH: 2, SW: 2, PH: 1, PW: 1}, 50, true},
		{ConvGeom{C: 48, H: 6, W: 7, K: 5, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1}, 48, true},
		{ConvGeom{C: 40, H: 10, W: 8, K: 70, KH: 2, KW: 2, SH: 3, SW: 3, PH: 2, PW: 1}, 64, true},
		{ConvGeom{C: 17, H: 12, W: 10, K: 50, KH: 4, KW: 4, SH: 2, SW: 2, PH: 1, PW: 1}, 34, false},
	} {
		if bw, ok := c.g.adjointBlock(); bw != c.bw || ok != c.direct {
			t.Errorf("%v: adjointBlock() = %d, %v, want %d, %v", c.g, bw, ok, c.bw, c.direct)
		}
	}
}
