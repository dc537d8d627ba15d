package graph

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/vaec/vaec/kernels"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Tests of the image ops (conv.go, conv_bn.go). Each op is checked
// forward against a float64 loop written from the definition, and
// backward against central finite differences of that float64 reference
// (so the finite differences carry no float32 noise); the convolution
// also against Gorgonia's own Conv2d, the transposed convolution as the
// adjoint of the convolution and on cases worked by hand.

// cvInput is one input of a test graph: a matrix and whether the test
// wants its gradient.
type cvInput struct {
	name       string
	rows, cols int
	data       []float32
	grad       bool
}

// cvGraph is a built test graph: loss = Σ R ⊙ y over the op's output y.
type cvGraph struct {
	g     *G.ExprGraph
	in    []*G.Node
	y     *G.Node
	loss  *G.Node
	grads G.Nodes // in the order of the inputs with grad set
}

func cvBuild(t testing.TB, inputs []cvInput, r []float32, op func(in []*G.Node) (*G.Node, error)) *cvGraph {
	t.Helper()
	c := &cvGraph{g: G.NewGraph()}
	var wrt G.Nodes
	for _, i := range inputs {
		v := tensor.New(tensor.WithShape(i.rows, i.cols), tensor.WithBacking(i.data))
		n := G.NewMatrix(c.g, G.Float32, G.WithShape(i.rows, i.cols), G.WithName(i.name), G.WithValue(v))
		c.in = append(c.in, n)
		if i.grad {
			wrt = append(wrt, n)
		}
	}
	y, err := op(c.in)
	if err != nil {
		t.Fatal(err)
	}
	c.y = y
	if r == nil {
		return c
	}
	rv := tensor.New(tensor.WithShape(y.Shape()...), tensor.WithBacking(r))
	rn := G.NewMatrix(c.g, G.Float32, G.WithShape(y.Shape()...), G.WithName("R"), G.WithValue(rv))
	prod, err := G.HadamardProd(y, rn)
	if err != nil {
		t.Fatal(err)
	}
	if c.loss, err = G.Sum(prod); err != nil {
		t.Fatal(err)
	}
	if len(wrt) > 0 {
		if c.grads, err = G.Grad(c.loss, wrt...); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// run executes the graph on vaec's tape, or on Gorgonia's TapeMachine, and
// returns copies of y and of the gradients.
func (c *cvGraph) run(t testing.TB, machine bool) (y []float32, grads [][]float32) {
	t.Helper()
	outs := append(G.Nodes{c.y}, c.grads...)
	if machine {
		vm := G.NewTapeMachine(c.g)
		defer vm.Close()
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
	} else {
		tp, err := newTape(c.g, outs...)
		if err != nil {
			t.Fatal(err)
		}
		if err := tp.run(); err != nil {
			t.Fatal(err)
		}
	}
	y = append([]float32(nil), c.y.Value().Data().([]float32)...)
	for _, gn := range c.grads {
		grads = append(grads, append([]float32(nil), gn.Value().Data().([]float32)...))
	}
	return y, grads
}

func cvRand(rng *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(2*rng.Float64() - 1)
	}
	return x
}

func cv64(x []float32) []float64 {
	y := make([]float64, len(x))
	for i, v := range x {
		y[i] = float64(v)
	}
	return y
}

func cvF32(x []float64) []float32 {
	y := make([]float32, len(x))
	for i, v := range x {
		y[i] = float32(v)
	}
	return y
}

func cvAct(act kernels.Act, v float64) float64 {
	switch act {
	case kernels.ReLU:
		return math.Max(0, v)
	case kernels.Tanh:
		return math.Tanh(v)
	case kernels.Sigmoid:
		return 1 / (1 + math.Exp(-v))
	case kernels.LeakyReLU:
		if v > 0 {
			return v
		}
		return 0.1 * v
	}
	return v
}

// cvRefConv is a convolution layer from the definition, in float64.
func cvRefConv(a ConvAttrs, n int, x, w, b []float64) []float64 {
	oh, ow := (a.InH+2*a.PH-a.KH)/a.SH+1, (a.InW+2*a.PW-a.KW)/a.SW+1
	y := make([]float64, n*a.OutC*oh*ow)
	for im := 0; im < n; im++ {
		for k := 0; k < a.OutC; k++ {
			for r := 0; r < oh; r++ {
				for q := 0; q < ow; q++ {
					s := b[k]
					for c := 0; c < a.InC; c++ {
						for i := 0; i < a.KH; i++ {
							for j := 0; j < a.KW; j++ {
								h, v := r*a.SH-a.PH+i, q*a.SW-a.PW+j
								if h >= 0 && h < a.InH && v >= 0 && v < a.InW {
									s += w[((k*a.InC+c)*a.KH+i)*a.KW+j] * x[((im*a.InC+c)*a.InH+h)*a.InW+v]
								}
							}
						}
					}
					y[((im*a.OutC+k)*oh+r)*ow+q] = cvAct(a.Act, s)
				}
			}
		}
	}
	return y
}

// cvRefConvT is a transposed convolution from its definition as PyTorch
// documents it: input pixel (h, v) adds x·W[c, k] to the output window
// whose top left corner is (h·stride − pad, v·stride − pad); the output is
// (in − 1)·stride − 2·pad + kernel + output_padding.
func cvRefConvT(a ConvAttrs, n int, x, w, b []float64) []float64 {
	oh := (a.InH-1)*a.SH - 2*a.PH + a.KH + a.OutPadH
	ow := (a.InW-1)*a.SW - 2*a.PW + a.KW + a.OutPadW
	y := make([]float64, n*a.OutC*oh*ow)
	for im := 0; im < n; im++ {
		for c := 0; c < a.InC; c++ {
			for h := 0; h < a.InH; h++ {
				for v := 0; v < a.InW; v++ {
					xv := x[((im*a.InC+c)*a.InH+h)*a.InW+v]
					for k := 0; k < a.OutC; k++ {
						for i := 0; i < a.KH; i++ {
							for j := 0; j < a.KW; j++ {
								r, q := h*a.SH-a.PH+i, v*a.SW-a.PW+j
								if r >= 0 && r < oh && q >= 0 && q < ow {
									y[((im*a.OutC+k)*oh+r)*ow+q] += xv * w[((c*a.OutC+k)*a.KH+i)*a.KW+j]
								}
							}
						}
					}
				}
			}
		}
	}
	for i := range y {
		y[i] = cvAct(a.Act, y[i]+b[i/(oh*ow)%a.OutC])
	}
	return y
}

// cvCheck compares got with want within atol + rtol·|want|.
func cvCheck(t *testing.T, what string, got []float32, want []float64, atol, rtol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	bad := 0
	for i, w := range want {
		if d := math.Abs(float64(got[i]) - w); !(d <= atol+rtol*math.Abs(w)) {
			if bad++; bad <= 5 {
				t.Errorf("%s[%d] = %v, want %v", what, i, got[i], w)
			}
		}
	}
}

// cvFiniteDiff returns the gradient of Σ r·f(args) with respect to every
// element of every argument, by central differences in float64.
func cvFiniteDiff(args [][]float64, r []float32, f func(args [][]float64) []float64) [][]float64 {
	loss := func() float64 {
		var s float64
		for i, v := range f(args) {
			s += float64(r[i]) * v
		}
		return s
	}
	const h = 1e-6
	grads := make([][]float64, len(args))
	for a, arg := range args {
		grads[a] = make([]float64, len(arg))
		for i := range arg {
			orig := arg[i]
			arg[i] = orig + h
			up := loss()
			arg[i] = orig - h
			down := loss()
			arg[i] = orig
			grads[a][i] = (up - down) / (2 * h)
		}
	}
	return grads
}

var convOpCases = []struct {
	name string
	a    ConvAttrs
	n    int
}{
	{"3ch 6×5 k3 s1 p1 relu", ConvAttrs{InC: 3, InH: 6, InW: 5, OutC: 4, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1, Act: kernels.ReLU}, 2},
	{"2ch 7×8 k3×2 s2 p1×0 tanh", ConvAttrs{InC: 2, InH: 7, InW: 8, OutC: 3, KH: 3, KW: 2, SH: 2, SW: 2, PH: 1, Act: kernels.Tanh}, 3},
	{"1ch 9×9 k4 s3 p2 linear", ConvAttrs{InC: 1, InH: 9, InW: 9, OutC: 2, KH: 4, KW: 4, SH: 3, SW: 3, PH: 2, PW: 2}, 2},
	{"3ch 5×4 k2 s1 p0 sigmoid", ConvAttrs{InC: 3, InH: 5, InW: 4, OutC: 2, KH: 2, KW: 2, SH: 1, SW: 1, Act: kernels.Sigmoid}, 2},
	{"2ch 8×6 k3 s2×3 p1 leaky", ConvAttrs{InC: 2, InH: 8, InW: 6, OutC: 3, KH: 3, KW: 3, SH: 2, SW: 3, PH: 1, PW: 1, Act: kernels.LeakyReLU, Alpha: 0.1}, 2},
}

var convTOpCases = []struct {
	name string
	a    ConvAttrs
	n    int
}{
	{"4→3 3×2 k3 s2 p1 op1 relu", ConvAttrs{InC: 4, InH: 3, InW: 2, OutC: 3, KH: 3, KW: 3, SH: 2, SW: 2, PH: 1, PW: 1, OutPadH: 1, OutPadW: 1, Act: kernels.ReLU}, 2},
	{"2→1 4×3 k4 s2 p1 linear", ConvAttrs{InC: 2, InH: 4, InW: 3, OutC: 1, KH: 4, KW: 4, SH: 2, SW: 2, PH: 1, PW: 1}, 3},
	{"3→2 2×3 k2×3 s3 p0 op2×1 tanh", ConvAttrs{InC: 3, InH: 2, InW: 3, OutC: 2, KH: 2, KW: 3, SH: 3, SW: 3, OutPadH: 2, OutPadW: 1, Act: kernels.Tanh}, 2},
	{"2→2 3×3 k3 s1 p1 sigmoid", ConvAttrs{InC: 2, InH: 3, InW: 3, OutC: 2, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1, Act: kernels.Sigmoid}, 2},
}

// convInputs returns random x, W and b for a (transposed) convolution.
func convInputs(rng *rand.Rand, a ConvAttrs, n int, transposed bool) []cvInput {
	wr, wc := a.OutC, a.InC*a.KH*a.KW
	if transposed {
		wr, wc = a.InC, a.OutC*a.KH*a.KW
	}
	return []cvInput{
		{"x", n, a.InC * a.InH * a.InW, cvRand(rng, n*a.InC*a.InH*a.InW), true},
		{"W", wr, wc, cvRand(rng, wr*wc), true},
		{"b", 1, a.OutC, cvRand(rng, a.OutC), true},
	}
}

func TestConv2DOp(t *testing.T) {
	for ci, tc := range convOpCases {
		t.Run(tc.name, func(t *testing.T) {
			testConvOp(t, tc.a, tc.n, false, uint64(ci))
		})
	}
}

func TestConvTranspose2DOp(t *testing.T) {
	for ci, tc := range convTOpCases {
		t.Run(tc.name, func(t *testing.T) {
			testConvOp(t, tc.a, tc.n, true, uint64(ci))
		})
	}
}

// testConvOp checks a layer's output, on the tape and on Gorgonia's
// TapeMachine, and its three gradients against finite differences.
func testConvOp(t *testing.T, a ConvAttrs, n int, transposed bool, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 11))
	in := convInputs(rng, a, n, transposed)
	ref := func(args [][]float64) []float64 {
		if transposed {
			return cvRefConvT(a, n, args[0], args[1], args[2])
		}
		return cvRefConv(a, n, args[0], args[1], args[2])
	}
	args := [][]float64{cv64(in[0].data), cv64(in[1].data), cv64(in[2].data)}
	want := ref(args)
	r := cvRand(rng, len(want))
	build := func(nodes []*G.Node) (*G.Node, error) {
		if transposed {
			return ConvTranspose2D(nodes[0], nodes[1], nodes[2], a)
		}
		return Conv2D(nodes[0], nodes[1], nodes[2], a)
	}
	fd := cvFiniteDiff(args, r, ref)
	for _, machine := range []bool{false, true} {
		c := cvBuild(t, in, r, build)
		y, grads := c.run(t, machine)
		label := fmt.Sprintf("machine=%v", machine)
		cvCheck(t, label+" y", y, want, 1e-5, 1e-5)
		for i, name := range []string{"dx", "dW", "db"} {
			cvCheck(t, label+" "+name, grads[i], fd[i], 1e-4, 1e-4)
		}
	}
}

// TestConv2DMatchesGorgonia compares the fused convolution (no bias,
// linear) and its input and weight gradients with Gorgonia's Conv2d
// (im2col and a matrix product) on the TapeMachine.
func TestConv2DMatchesGorgonia(t *testing.T) {
	for ci, tc := range convOpCases {
		t.Run(tc.name, func(t *testing.T) {
			a, n := tc.a, tc.n
			a.Act = kernels.Linear
			rng := rand.New(rand.NewPCG(uint64(ci), 12))
			in := convInputs(rng, a, n, false)
			clear(in[2].data)
			in[2].grad = false
			oh, ow := (a.InH+2*a.PH-a.KH)/a.SH+1, (a.InW+2*a.PW-a.KW)/a.SW+1
			r := cvRand(rng, n*a.OutC*oh*ow)
			fused := cvBuild(t, in, r, func(nodes []*G.Node) (*G.Node, error) {
				return Conv2D(nodes[0], nodes[1], nodes[2], a)
			})
			y1, g1 := fused.run(t, false)
			prim := cvBuild(t, in, r, func(nodes []*G.Node) (*G.Node, error) {
				x4, err := G.Reshape(nodes[0], tensor.Shape{n, a.InC, a.InH, a.InW})
				if err != nil {
					return nil, err
				}
				w4, err := G.Reshape(nodes[1], tensor.Shape{a.OutC, a.InC, a.KH, a.KW})
				if err != nil {
					return nil, err
				}
				y, err := G.Conv2d(x4, w4, tensor.Shape{a.KH, a.KW}, []int{a.PH, a.PW}, []int{a.SH, a.SW}, []int{1, 1})
				if err != nil {
					return nil, err
				}
				return G.Reshape(y, tensor.Shape{n, a.OutC * oh * ow})
			})
			y2, g2 := prim.run(t, true)
			cvCheck(t, "y", y1, cv64(y2), 1e-5, 1e-5)
			cvCheck(t, "dx", g1[0], cv64(g2[0]), 1e-5, 1e-5)
			cvCheck(t, "dW", g1[1], cv64(g2[1]), 1e-5, 1e-5)
		})
	}
}

// TestConvTransposeIsAdjoint: ⟨Conv2D(x), y⟩ = ⟨x, ConvTranspose2D(y)⟩ for
// one weight array, the convolution's [C_out, C_in·kh·kw] read by the
// transposed convolution from C_out channels back to C_in as its
// [C_in', C_out'·kh·kw] (the same bytes); both without bias, linear.
func TestConvTransposeIsAdjoint(t *testing.T) {
	for ci, tc := range convOpCases {
		a, n := tc.a, tc.n
		a.Act = kernels.Linear
		oh, ow := (a.InH+2*a.PH-a.KH)/a.SH+1, (a.InW+2*a.PW-a.KW)/a.SW+1
		// The transposed convolution from [OutC, oh, ow] back to the
		// input size; output padding makes up what the division dropped.
		at := ConvAttrs{
			InC: a.OutC, InH: oh, InW: ow, OutC: a.InC, KH: a.KH, KW: a.KW, SH: a.SH, SW: a.SW, PH: a.PH, PW: a.PW,
			OutPadH: a.InH - ConvTransposeOut(oh, a.KH, a.SH, a.PH, 0),
			OutPadW: a.InW - ConvTransposeOut(ow, a.KW, a.SW, a.PW, 0),
		}
		rng := rand.New(rand.NewPCG(uint64(ci), 13))
		x, y := cvRand(rng, n*a.InC*a.InH*a.InW), cvRand(rng, n*a.OutC*oh*ow)
		w := cvRand(rng, a.OutC*a.InC*a.KH*a.KW)
		cx, _ := cvBuild(t, []cvInput{{"x", n, len(x) / n, x, false}, {"W", a.OutC, len(w) / a.OutC, w, false}, {"b", 1, a.OutC, make([]float32, a.OutC), false}}, nil,
			func(nodes []*G.Node) (*G.Node, error) { return Conv2D(nodes[0], nodes[1], nodes[2], a) }).run(t, false)
		ty, _ := cvBuild(t, []cvInput{{"y", n, len(y) / n, y, false}, {"W", a.OutC, len(w) / a.OutC, w, false}, {"b", 1, a.InC, make([]float32, a.InC), false}}, nil,
			func(nodes []*G.Node) (*G.Node, error) { return ConvTranspose2D(nodes[0], nodes[1], nodes[2], at) }).run(t, false)
		var lhs, rhs, mag float64
		for i := range y {
			lhs += float64(cx[i]) * float64(y[i])
			mag += math.Abs(float64(cx[i]) * float64(y[i]))
		}
		for i := range x {
			rhs += float64(x[i]) * float64(ty[i])
		}
		if math.Abs(lhs-rhs) > 1e-5*mag {
			t.Errorf("%s: ⟨conv(x), y⟩ = %v, ⟨x, convT(y)⟩ = %v", tc.name, lhs, rhs)
		}
	}
}

// TestConvTransposeByHand checks small transposed convolutions worked out
// on paper (PyTorch 1.13's F.conv_transpose2d gives the same numbers).
func TestConvTransposeByHand(t *testing.T) {
	tests := []struct {
		name    string
		a       ConvAttrs
		x, w, b []float32
		want    []float32
	}{{
		// Stride 2, kernel 2: each input pixel stamps x·W on its own 2×2 block.
		name: "stride 2 tiles",
		a:    ConvAttrs{InC: 1, InH: 2, InW: 2, OutC: 1, KH: 2, KW: 2, SH: 2, SW: 2},
		x:    []float32{1, 2, 3, 4}, w: []float32{1, 0, 0, 1}, b: []float32{0},
		want: []float32{
			1, 0, 2, 0,
			0, 1, 0, 2,
			3, 0, 4, 0,
			0, 3, 0, 4},
	}, {
		// Stride 1: the stamps overlap and add.
		name: "stride 1 overlaps",
		a:    ConvAttrs{InC: 1, InH: 2, InW: 2, OutC: 1, KH: 2, KW: 2, SH: 1, SW: 1},
		x:    []float32{1, 1, 1, 1}, w: []float32{1, 2, 3, 4}, b: []float32{0},
		want: []float32{
			1, 3, 2,
			4, 10, 6,
			3, 7, 4},
	}, {
		// Uncropped, the four 3×3 stamps at (0,0), (0,2), (2,0), (2,2)
		// make a 5×5 image; padding 1 drops its first and last rows and
		// columns, output padding 1 gives one of each back at the end:
		// (2−1)·2 − 2 + 3 + 1 = 4, rows and columns 1..4 of the 5×5.
		name: "padding and output padding",
		a:    ConvAttrs{InC: 1, InH: 2, InW: 2, OutC: 1, KH: 3, KW: 3, SH: 2, SW: 2, PH: 1, PW: 1, OutPadH: 1, OutPadW: 1},
		x:    []float32{1, 2, 3, 4}, w: []float32{1, 1, 1, 1, 1, 1, 1, 1, 1}, b: []float32{0.5},
		want: []float32{
			1.5, 3.5, 2.5, 2.5,
			4.5, 10.5, 6.5, 6.5,
			3.5, 7.5, 4.5, 4.5,
			3.5, 7.5, 4.5, 4.5},
	}, {
		// Without padding, output padding adds a row and a column that no
		// stamp reaches: the bias alone.
		name: "output padding beyond the stamps",
		a:    ConvAttrs{InC: 1, InH: 1, InW: 1, OutC: 1, KH: 2, KW: 2, SH: 2, SW: 2, OutPadH: 1, OutPadW: 1},
		x:    []float32{5}, w: []float32{1, 2, 3, 4}, b: []float32{0.5},
		want: []float32{
			5.5, 10.5, 0.5,
			15.5, 20.5, 0.5,
			0.5, 0.5, 0.5},
	}, {
		// Two input channels into two output channels: W[ci, co] scales.
		name: "channels",
		a:    ConvAttrs{InC: 2, InH: 1, InW: 1, OutC: 2, KH: 1, KW: 1, SH: 1, SW: 1},
		x:    []float32{2, 3}, w: []float32{1, 10, 100, 1000}, b: []float32{0, 1},
		want: []float32{2 + 300, 20 + 3000 + 1},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := tc.a
			in := []cvInput{{"x", 1, len(tc.x), tc.x, false}, {"W", a.InC, len(tc.w) / a.InC, tc.w, false}, {"b", 1, a.OutC, tc.b, false}}
			y, _ := cvBuild(t, in, nil, func(nodes []*G.Node) (*G.Node, error) {
				return ConvTranspose2D(nodes[0], nodes[1], nodes[2], a)
			}).run(t, false)
			cvCheck(t, "y", y, cv64(tc.want), 0, 0)
		})
	}
}

func TestConvOutputShapes(t *testing.T) {
	tests := []struct {
		name       string
		a          ConvAttrs
		transposed bool
		cols       int
	}{
		{"mnist enc 1", ConvAttrs{InC: 1, InH: 28, InW: 28, OutC: 32, KH: 4, KW: 4, SH: 2, SW: 2, PH: 1, PW: 1}, false, 32 * 14 * 14},
		{"mnist enc 2", ConvAttrs{InC: 32, InH: 14, InW: 14, OutC: 64, KH: 4, KW: 4, SH: 2, SW: 2, PH: 1, PW: 1}, false, 64 * 7 * 7},
		{"mnist dec 1", ConvAttrs{InC: 64, InH: 7, InW: 7, OutC: 32, KH: 4, KW: 4, SH: 2, SW: 2, PH: 1, PW: 1}, true, 32 * 14 * 14},
		{"mnist dec 2", ConvAttrs{InC: 32, InH: 14, InW: 14, OutC: 1, KH: 4, KW: 4, SH: 2, SW: 2, PH: 1, PW: 1}, true, 28 * 28},
		{"3×32×24 k3 s1 p1", ConvAttrs{InC: 3, InH: 32, InW: 24, OutC: 8, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1}, false, 8 * 32 * 24},
		{"stride 3 rounds down", ConvAttrs{InC: 1, InH: 10, InW: 11, OutC: 1, KH: 4, KW: 3, SH: 3, SW: 2}, false, 3 * 5},
		{"convT k3 s2 p1 op1 (7→14)", ConvAttrs{InC: 1, InH: 7, InW: 7, OutC: 1, KH: 3, KW: 3, SH: 2, SW: 2, PH: 1, PW: 1, OutPadH: 1, OutPadW: 1}, true, 14 * 14},
		{"convT k3 s2 p1 (7→13)", ConvAttrs{InC: 1, InH: 7, InW: 7, OutC: 1, KH: 3, KW: 3, SH: 2, SW: 2, PH: 1, PW: 1}, true, 13 * 13},
		{"convT k2×3 s3 op2×1", ConvAttrs{InC: 3, InH: 2, InW: 3, OutC: 2, KH: 2, KW: 3, SH: 3, SW: 3, OutPadH: 2, OutPadW: 1}, true, 2 * 7 * 10},
	}
	for _, tc := range tests {
		a := tc.a
		g := G.NewGraph()
		wr, wc := a.OutC, a.InC*a.KH*a.KW
		if tc.transposed {
			wr, wc = a.InC, a.OutC*a.KH*a.KW
		}
		x := G.NewMatrix(g, G.Float32, G.WithShape(5, a.InC*a.InH*a.InW), G.WithName("x"))
		w := G.NewMatrix(g, G.Float32, G.WithShape(wr, wc), G.WithName("W"))
		b := G.NewMatrix(g, G.Float32, G.WithShape(1, a.OutC), G.WithName("b"))
		f := Conv2D
		if tc.transposed {
			f = ConvTranspose2D
		}
		y, err := f(x, w, b, a)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if s := y.Shape(); s[0] != 5 || s[1] != tc.cols {
			t.Errorf("%s: output %v, want (5, %d)", tc.name, s, tc.cols)
		}
	}
	// The formula itself, against PyTorch's documented cases.
	for _, c := range [][6]int{{7, 4, 2, 1, 0, 14}, {14, 4, 2, 1, 0, 28}, {7, 3, 2, 1, 1, 14}, {3, 3, 1, 1, 0, 3}, {5, 2, 3, 0, 2, 16}} {
		if got := ConvTransposeOut(c[0], c[1], c[2], c[3], c[4]); got != c[5] {
			t.Errorf("ConvTransposeOut(in %d, k %d, s %d, p %d, op %d) = %d, want %d", c[0], c[1], c[2], c[3], c[4], got, c[5])
		}
	}
}

func TestConvOpErrors(t *testing.T) {
	g := G.NewGraph()
	m := func(r, c int) *G.Node { return G.NewMatrix(g, G.Float32, G.WithShape(r, c)) }
	ok := ConvAttrs{Layer: "enc.0", InC: 2, InH: 5, InW: 5, OutC: 3, KH: 3, KW: 3, SH: 1, SW: 1}
	mod := func(f func(a *ConvAttrs)) ConvAttrs { a := ok; f(&a); return a }
	tests := []struct {
		name       string
		a          ConvAttrs
		transposed bool
		x, w, b    *G.Node
		want       string
	}{
		{"kernel too large", mod(func(a *ConvAttrs) { a.KH = 6 }), false, m(2, 50), m(3, 36), m(1, 3), "kernel larger than the padded input"},
		{"stride 0", mod(func(a *ConvAttrs) { a.SW = 0 }), false, m(2, 50), m(3, 18), m(1, 3), "stride must be positive"},
		{"output padding on conv", mod(func(a *ConvAttrs) { a.OutPadH = 1 }), false, m(2, 50), m(3, 18), m(1, 3), "output_padding applies only"},
		{"x columns", ok, false, m(2, 49), m(3, 18), m(1, 3), "x has 49 columns, want 50"},
		{"W shape", ok, false, m(2, 50), m(18, 3), m(1, 3), "W is not (3, 18)"},
		{"b shape", ok, false, m(2, 50), m(3, 18), m(3, 1), "b is not (1, 3)"},
		{"convT output padding ≥ stride", mod(func(a *ConvAttrs) { a.OutPadW = 1 }), true, m(2, 50), m(2, 27), m(1, 3), "less than the stride"},
		{"convT W shape", ok, true, m(2, 50), m(3, 18), m(1, 3), "W is not (2, 27)"},
		{"convT stride 0", mod(func(a *ConvAttrs) { a.SH = 0 }), true, m(2, 50), m(2, 27), m(1, 3), "stride 0×1 must be positive"},
	}
	for _, tc := range tests {
		f := Conv2D
		if tc.transposed {
			f = ConvTranspose2D
		}
		_, err := f(tc.x, tc.w, tc.b, tc.a)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
	// Values of the wrong shape reach Do as errors, not panics.
	op := convOp{layer: "enc.0", g: kernels.ConvGeom{C: 2, H: 5, W: 5, K: 3, KH: 3, KW: 3, SH: 1, SW: 1}}
	v := func(r, c int) G.Value { return tensor.New(tensor.WithShape(r, c), tensor.Of(tensor.Float32)) }
	if _, err := op.Do(v(2, 50), v(3, 17), v(1, 3)); err == nil || !strings.Contains(err.Error(), "W has shape") {
		t.Errorf("Do with a bad W: error %v", err)
	}
	if _, err := op.UsePreallocDo(v(3, 27), v(2, 50), v(3, 18), v(1, 3)); err == nil || !strings.Contains(err.Error(), "y has shape") {
		t.Errorf("UsePreallocDo into a bad y: error %v", err)
	}
}

// ---------------------------------------------------------------------------
// upsampling

func cvRefUpsample(x []float64, n, c, h, w, fh, fw int) []float64 {
	y := make([]float64, n*c*h*fh*w*fw)
	for im := 0; im < n*c; im++ {
		for i := 0; i < h*fh; i++ {
			for j := 0; j < w*fw; j++ {
				y[(im*h*fh+i)*w*fw+j] = x[(im*h+i/fh)*w+j/fw]
			}
		}
	}
	return y
}

func TestUpsampleNearest(t *testing.T) {
	tests := []struct{ n, c, h, w, fh, fw int }{
		{2, 3, 4, 5, 2, 2}, {1, 1, 3, 3, 3, 1}, {3, 2, 2, 3, 1, 4}, {2, 1, 1, 1, 2, 3},
		{4, 16, 14, 14, 2, 2}, // enough rows to be split across goroutines
	}
	for ti, tc := range tests {
		t.Run(fmt.Sprint(tc), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(ti), 14))
			x := cvRand(rng, tc.n*tc.c*tc.h*tc.w)
			ref := func(args [][]float64) []float64 {
				return cvRefUpsample(args[0], tc.n, tc.c, tc.h, tc.w, tc.fh, tc.fw)
			}
			args := [][]float64{cv64(x)}
			want := ref(args)
			r := cvRand(rng, len(want))
			// The op is linear: dx is the sum of r over each pixel's block,
			// which finite differences confirm where they are affordable.
			dx := make([]float64, len(x))
			for im := 0; im < tc.n*tc.c; im++ {
				for i := 0; i < tc.h*tc.fh; i++ {
					for j := 0; j < tc.w*tc.fw; j++ {
						dx[(im*tc.h+i/tc.fh)*tc.w+j/tc.fw] += float64(r[(im*tc.h*tc.fh+i)*tc.w*tc.fw+j])
					}
				}
			}
			if len(x) < 1000 {
				cvCheck(t, "block sums", cvF32(dx), cvFiniteDiff(args, r, ref)[0], 1e-6, 1e-6)
			}
			for _, machine := range []bool{false, true} {
				c := cvBuild(t, []cvInput{{"x", tc.n, len(x) / tc.n, x, true}}, r, func(nodes []*G.Node) (*G.Node, error) {
					return UpsampleNearest(nodes[0], "dec.up", tc.c, tc.h, tc.w, tc.fh, tc.fw)
				})
				y, grads := c.run(t, machine)
				cvCheck(t, "y", y, want, 0, 0)
				cvCheck(t, "dx", grads[0], dx, 1e-6, 1e-6)
			}
		})
	}
	g := G.NewGraph()
	x := G.NewMatrix(g, G.Float32, G.WithShape(2, 12))
	if _, err := UpsampleNearest(x, "up", 3, 2, 2, 0, 2); err == nil || !strings.Contains(err.Error(), "must be positive") {
		t.Errorf("factor 0: error %v", err)
	}
	if _, err := UpsampleNearest(x, "up", 3, 2, 3, 2, 2); err == nil || !strings.Contains(err.Error(), "x has 12 columns, want 18") {
		t.Errorf("wrong size: error %v", err)
	}
}

// ---------------------------------------------------------------------------
// batch normalisation

// cvRefBatchNorm is batch normalisation from its definition, in float64;
// it also returns the batch mean and biased variance of each channel.
func cvRefBatchNorm(a BatchNormAttrs, n int, x, scale, shift, rm, rv []float64) (y, mean, vari []float64) {
	y = make([]float64, len(x))
	mean, vari = make([]float64, a.C), make([]float64, a.C)
	m := float64(n * a.P)
	for c := 0; c < a.C; c++ {
		for im := 0; im < n; im++ {
			for p := 0; p < a.P; p++ {
				mean[c] += x[(im*a.C+c)*a.P+p] / m
			}
		}
		for im := 0; im < n; im++ {
			for p := 0; p < a.P; p++ {
				d := x[(im*a.C+c)*a.P+p] - mean[c]
				vari[c] += d * d / m
			}
		}
		mu, v := mean[c], vari[c]
		if !a.Training {
			mu, v = rm[c], rv[c]
		}
		for im := 0; im < n; im++ {
			for p := 0; p < a.P; p++ {
				i := (im*a.C+c)*a.P + p
				y[i] = cvAct(a.Act, scale[c]*(x[i]-mu)/math.Sqrt(v+a.Epsilon)+shift[c])
			}
		}
	}
	return y, mean, vari
}

func TestBatchNorm(t *testing.T) {
	tests := []struct {
		name string
		a    BatchNormAttrs
		n    int
	}{
		{"images training relu", BatchNormAttrs{C: 3, P: 6, Epsilon: 1e-5, Momentum: 0.1, Training: true, Act: kernels.ReLU}, 4},
		{"images training linear", BatchNormAttrs{C: 2, P: 5, Epsilon: 1e-3, Momentum: 0.3, Training: true}, 3},
		{"flat training tanh", BatchNormAttrs{C: 5, P: 1, Epsilon: 1e-5, Momentum: 0.1, Training: true, Act: kernels.Tanh}, 6},
		{"images inference relu", BatchNormAttrs{C: 3, P: 4, Epsilon: 1e-5, Momentum: 0.1, Act: kernels.ReLU}, 2},
		{"flat inference linear", BatchNormAttrs{C: 4, P: 1, Epsilon: 1e-5, Momentum: 0.1}, 1},
	}
	for ti, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, n := tc.a, tc.n
			a.Layer = "enc.bn"
			rng := rand.New(rand.NewPCG(uint64(ti), 15))
			x := cvRand(rng, n*a.C*a.P)
			for i := range x {
				x[i] = 3*x[i] + 0.5 // mean and variance away from 0 and 1
			}
			scale, shift := cvRand(rng, a.C), cvRand(rng, a.C)
			rm, rv := cvRand(rng, a.C), cvRand(rng, a.C)
			for i := range rv {
				rv[i] = 0.5 + rv[i]*rv[i]
			}
			ref := func(args [][]float64) []float64 {
				y, _, _ := cvRefBatchNorm(a, n, args[0], args[1], args[2], cv64(rm), cv64(rv))
				return y
			}
			args := [][]float64{cv64(x), cv64(scale), cv64(shift)}
			want, bmean, bvar := cvRefBatchNorm(a, n, args[0], args[1], args[2], cv64(rm), cv64(rv))
			r := cvRand(rng, len(want))
			fd := cvFiniteDiff(args, r, ref)
			for _, machine := range []bool{false, true} {
				rm1, rv1 := append([]float32(nil), rm...), append([]float32(nil), rv...)
				in := []cvInput{
					{"x", n, a.C * a.P, x, true}, {"scale", 1, a.C, scale, true}, {"shift", 1, a.C, shift, true},
					{"running_mean", 1, a.C, rm1, false}, {"running_var", 1, a.C, rv1, false},
				}
				c := cvBuild(t, in, r, func(nodes []*G.Node) (*G.Node, error) {
					return BatchNorm(nodes[0], nodes[1], nodes[2], nodes[3], nodes[4], a)
				})
				y, grads := c.run(t, machine)
				label := fmt.Sprintf("machine=%v", machine)
				cvCheck(t, label+" y", y, want, 1e-5, 1e-5)
				for i, name := range []string{"dx", "dscale", "dshift"} {
					cvCheck(t, label+" "+name, grads[i], fd[i], 1e-4, 1e-4)
				}
				// The running statistics, updated once by the forward pass
				// in training (PyTorch's rule: unbiased variance) and left
				// alone in inference.
				wantM, wantV := cv64(rm), cv64(rv)
				if a.Training {
					m := float64(n * a.P)
					for c := range wantM {
						wantM[c] = (1-a.Momentum)*wantM[c] + a.Momentum*bmean[c]
						wantV[c] = (1-a.Momentum)*wantV[c] + a.Momentum*bvar[c]*m/(m-1)
					}
				}
				cvCheck(t, label+" running mean", rm1, wantM, 1e-6, 1e-6)
				cvCheck(t, label+" running var", rv1, wantV, 1e-6, 1e-6)
			}
		})
	}
}

// TestBatchNormRunningStatsLikePyTorch: one training forward pass of a
// fresh layer (running mean 0, variance 1, momentum 0.1) on a batch whose
// statistics are easy by hand. Layout [image][channel][pixel]: channel 0
// holds 1, 2, 3, 4 (mean 2.5), channel 1 holds 0, −1, 1, −2 (mean −0.5);
// both have Σ(x − mean)² = 5, so the biased variance is 5/4 and the
// unbiased one, which PyTorch puts into the running variance, 5/3.
// (PyTorch 1.13's BatchNorm2d(2) gives running_mean [0.25, −0.05],
// running_var [1.0666666, 1.0666666] and y[0] = −1.3416353.)
func TestBatchNormRunningStatsLikePyTorch(t *testing.T) {
	x := []float32{1, 2, 0, -1, 3, 4, 1, -2}
	in := []cvInput{
		{"x", 2, 4, x, false}, {"scale", 1, 2, []float32{1, 1}, false}, {"shift", 1, 2, []float32{0, 0}, false},
		{"running_mean", 1, 2, []float32{0, 0}, false}, {"running_var", 1, 2, []float32{1, 1}, false},
	}
	a := BatchNormAttrs{Layer: "bn", C: 2, P: 2, Epsilon: 1e-5, Momentum: 0.1, Training: true}
	c := cvBuild(t, in, nil, func(nodes []*G.Node) (*G.Node, error) {
		return BatchNorm(nodes[0], nodes[1], nodes[2], nodes[3], nodes[4], a)
	})
	y, _ := c.run(t, false)
	cvCheck(t, "running mean", in[3].data, []float64{0.25, -0.05}, 1e-7, 1e-6)
	cvCheck(t, "running var", in[4].data, []float64{0.9 + 0.1*5.0/3, 0.9 + 0.1*5.0/3}, 1e-7, 1e-6)
	// Normalised with the biased variance: (1 − 2.5)/√(5/4 + ε).
	if want := -1.5 / math.Sqrt(1.25+1e-5); math.Abs(float64(y[0])-want) > 1e-6 {
		t.Errorf("y[0] = %v, want %v", y[0], want)
	}
}

func TestBatchNormErrors(t *testing.T) {
	g := G.NewGraph()
	m := func(r, c int) *G.Node { return G.NewMatrix(g, G.Float32, G.WithShape(r, c)) }
	ok := BatchNormAttrs{Layer: "bn", C: 2, P: 3, Epsilon: 1e-5, Momentum: 0.1, Training: true}
	tests := []struct {
		name string
		a    BatchNormAttrs
		x    *G.Node
		want string
	}{
		{"epsilon", BatchNormAttrs{Layer: "bn", C: 2, P: 3, Momentum: 0.1}, m(2, 6), "epsilon 0 must be positive"},
		{"momentum", BatchNormAttrs{Layer: "bn", C: 2, P: 3, Epsilon: 1e-5, Momentum: 1.5}, m(2, 6), "momentum 1.5"},
		{"channels", BatchNormAttrs{Layer: "bn", C: 0, P: 3, Epsilon: 1e-5}, m(2, 6), "out of range"},
		{"x size", ok, m(2, 7), "x has 7 columns, want 6"},
	}
	for _, tc := range tests {
		_, err := BatchNorm(tc.x, m(1, 2), m(1, 2), m(1, 2), m(1, 2), tc.a)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
	// One value per channel cannot be normalised with batch statistics
	// (PyTorch refuses it too); the run reports it.
	flat := BatchNormAttrs{Layer: "bn", C: 2, P: 1, Epsilon: 1e-5, Momentum: 0.1, Training: true}
	in := []cvInput{{"x", 1, 2, []float32{1, 2}, false}, {"s", 1, 2, []float32{1, 1}, false}, {"b", 1, 2, []float32{0, 0}, false},
		{"m", 1, 2, []float32{0, 0}, false}, {"v", 1, 2, []float32{1, 1}, false}}
	c := cvBuild(t, in, nil, func(nodes []*G.Node) (*G.Node, error) {
		return BatchNorm(nodes[0], nodes[1], nodes[2], nodes[3], nodes[4], flat)
	})
	tp, err := newTape(c.g, c.y)
	if err != nil {
		t.Fatal(err)
	}
	if err := tp.run(); err == nil || !strings.Contains(err.Error(), "more than one value per channel") {
		t.Errorf("batch of 1: error %v", err)
	}
}

// ---------------------------------------------------------------------------
// the conv VAE's convolutions: determinism and speed

// convStack builds the four convolutions of the MNIST conv VAE (issue 11)
// back to back, encoder into decoder (the dense layers between them left
// out: the encoder's [64, 7, 7] is the decoder's input shape), with the
// loss Σ R ⊙ logits, and returns it with the nodes of its gradients.
func convStack(t testing.TB, n int, seed uint64) (*cvGraph, G.Nodes) {
	t.Helper()
	layers := []struct {
		a          ConvAttrs
		transposed bool
	}{
		{ConvAttrs{Layer: "encoder.0", InC: 1, InH: 28, InW: 28, OutC: 32, KH: 4, KW: 4, SH: 2, SW: 2, PH: 1, PW: 1, Act: kernels.ReLU}, false},
		{ConvAttrs{Layer: "encoder.1", InC: 32, InH: 14, InW: 14, OutC: 64, KH: 4, KW: 4, SH: 2, SW: 2, PH: 1, PW: 1, Act: kernels.ReLU}, false},
		{ConvAttrs{Layer: "decoder.2", InC: 64, InH: 7, InW: 7, OutC: 32, KH: 4, KW: 4, SH: 2, SW: 2, PH: 1, PW: 1, Act: kernels.ReLU}, true},
		{ConvAttrs{Layer: "decoder.3", InC: 32, InH: 14, InW: 14, OutC: 1, KH: 4, KW: 4, SH: 2, SW: 2, PH: 1, PW: 1}, true},
	}
	rng := rand.New(rand.NewPCG(seed, 16))
	x := make([]float32, n*784)
	for i := range x {
		x[i] = float32(rng.Float64())
	}
	in := []cvInput{{"x", n, 784, x, false}}
	for _, l := range layers {
		a := l.a
		// PyTorch's default initialisation bound, 1/√fan_in, fan_in from
		// the weight layout (C_in·k·k, or C_out·k·k when transposed).
		wr, wc := a.OutC, a.InC*a.KH*a.KW
		if l.transposed {
			wr, wc = a.InC, a.OutC*a.KH*a.KW
		}
		bound := 1 / math.Sqrt(float64(wc))
		w, b := cvRand(rng, wr*wc), cvRand(rng, a.OutC)
		for i := range w {
			w[i] *= float32(bound)
		}
		for i := range b {
			b[i] *= float32(bound)
		}
		in = append(in, cvInput{a.Layer + ".weight", wr, wc, w, true}, cvInput{a.Layer + ".bias", 1, a.OutC, b, true})
	}
	c := cvBuild(t, in, cvRand(rng, n*784), func(nodes []*G.Node) (*G.Node, error) {
		h := nodes[0]
		for i, l := range layers {
			f := Conv2D
			if l.transposed {
				f = ConvTranspose2D
			}
			var err error
			if h, err = f(h, nodes[1+2*i], nodes[2+2*i], l.a); err != nil {
				return nil, err
			}
		}
		return h, nil
	})
	return c, c.grads
}

// upsampleBNStack is nearest upsampling into batch normalisation (training,
// ReLU) with the loss Σ R ⊙ y, on n images of 16×7×7.
func upsampleBNStack(t testing.TB, n int) *cvGraph {
	rng := rand.New(rand.NewPCG(3, 17))
	in := []cvInput{
		{"x", n, 16 * 49, cvRand(rng, n*16*49), true}, {"scale", 1, 16, cvRand(rng, 16), true}, {"shift", 1, 16, cvRand(rng, 16), true},
		{"running_mean", 1, 16, make([]float32, 16), false}, {"running_var", 1, 16, make([]float32, 16), false},
	}
	a := BatchNormAttrs{Layer: "bn", C: 16, P: 196, Epsilon: 1e-5, Momentum: 0.1, Training: true, Act: kernels.ReLU}
	return cvBuild(t, in, cvRand(rng, n*16*196), func(nodes []*G.Node) (*G.Node, error) {
		up, err := UpsampleNearest(nodes[0], "up", 16, 7, 7, 2, 2)
		if err != nil {
			return nil, err
		}
		return BatchNorm(up, nodes[1], nodes[2], nodes[3], nodes[4], a)
	})
}

// TestConvIndependentOfGOMAXPROCS: forward and every gradient of the conv
// stack, and of upsampling into batch norm, are bit-identical on 1, 2 and
// 3 goroutines.
func TestConvIndependentOfGOMAXPROCS(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	var first [][]float32
	for _, procs := range []int{1, 2, 3, 1} {
		runtime.GOMAXPROCS(procs)
		c, _ := convStack(t, 37, 1)
		y, grads := c.run(t, false)
		got := append([][]float32{y}, grads...)
		y, grads = upsampleBNStack(t, 37).run(t, false)
		got = append(append(got, y), grads...)
		if first == nil {
			first = got
			continue
		}
		for i := range got {
			for j := range got[i] {
				if math.Float32bits(got[i][j]) != math.Float32bits(first[i][j]) {
					t.Fatalf("GOMAXPROCS=%d: output %d element %d is %v, with 1 it was %v", procs, i, j, got[i][j], first[i][j])
				}
			}
		}
	}
}

// BenchmarkConvStep128 runs one training step's convolution work of the
// MNIST conv VAE at batch 128 on the tape: forward, and backward to every
// weight and bias (encoder conv 1→32 and 32→64, decoder convT 64→32 and
// 32→1, each k4 s2 p1, with their ReLU gradients and bias sums). PyTorch
// trains the whole model (these plus the dense layers, loss and Adam) at
// about 2,000 samples/s on this machine. VAEC_OPPROFILE=1 prints the time
// per op kind.
func BenchmarkConvStep128(b *testing.B) {
	c, grads := convStack(b, 128, 1)
	tp, err := newTape(c.g, append(G.Nodes{c.loss}, grads...)...)
	if err != nil {
		b.Fatal(err)
	}
	tp.profile = cvProfile
	if err := tp.run(); err != nil {
		b.Fatal(err)
	}
	tp.spent, tp.runs = make([]time.Duration, len(tp.steps)), 0
	b.ResetTimer()
	for range b.N {
		if err := tp.run(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(128*b.N)/b.Elapsed().Seconds(), "samples/s")
	if cvProfile {
		b.Logf("\n%s", tp.report())
	}
}

var cvProfile = os.Getenv("VAEC_OPPROFILE") != ""
