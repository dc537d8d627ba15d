package runtime

import (
	"fmt"
	ow "github.com/vaec/vaec/runtime/internal/onnxwire"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func mustLoad(t testing.TB, b []byte) *Model {
	t.Helper()
	m, err := Load(b)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func foreignBytes(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "foreign", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestInputsOutputsKeepSymbolicDims(t *testing.T) {
	m := mustLoad(t, foreignBytes(t, "mlp_decoder.onnx"))
	if got := m.Inputs(); len(got) != 1 || got[0].String() != "z[batch,4]" {
		t.Errorf("Inputs() = %v, want [z[batch,4]]", got)
	}
	if got := m.Outputs(); len(got) != 1 || got[0].String() != "probs[batch,12]" {
		t.Errorf("Outputs() = %v, want [probs[batch,12]]", got)
	}
	if m.Opset() != 13 {
		t.Errorf("Opset() = %d, want 13", m.Opset())
	}
}

// TestAnyBatchSize runs one model at several batch sizes, in any order (the
// failure of onnx-go's gorgonnx backend), and checks that each row gives
// the same result as when run alone.
func TestAnyBatchSize(t *testing.T) {
	m := mustLoad(t, foreignBytes(t, "mlp_decoder.onnx"))
	row := func(i int) []float32 {
		return []float32{float32(i%5) - 2, float32(i%3) * 0.5, -0.25 * float32(i%7), 1}
	}
	single := map[int][]float32{}
	for _, n := range []int{3, 1, 256, 7, 1} {
		x := make([]float32, 0, 4*n)
		for i := 0; i < n; i++ {
			x = append(x, row(i)...)
		}
		out, err := m.Run(map[string]Tensor{"z": {Shape: []int{n, 4}, Data: x}})
		if err != nil {
			t.Fatalf("batch %d: %v", n, err)
		}
		p := out["probs"]
		if !sameShape(p.Shape, []int{n, 12}) {
			t.Fatalf("batch %d: output shape %v", n, p.Shape)
		}
		for i := 0; i < n; i++ {
			if _, ok := single[i%105]; !ok {
				o, err := m.Run(map[string]Tensor{"z": {Shape: []int{1, 4}, Data: row(i)}})
				if err != nil {
					t.Fatal(err)
				}
				single[i%105] = o["probs"].Data
			}
			if ok, w := Within(p.Data[12*i:12*i+12], single[i%105], 1e-6); !ok {
				t.Fatalf("batch %d row %d differs from the row alone at %d", n, i, w)
			}
		}
	}
}

// TestActivations checks each activation operator on chosen points
// against float64 formulas.
func TestActivations(t *testing.T) {
	xs := []float32{-30, -5, -1.5, -0.3, -1e-4, 0, 1e-4, 0.3, 1.5, 5, 30}
	cases := []struct {
		op    string
		attrs []ow.Attr
		f     func(x float64) float64
	}{
		{"Relu", nil, func(x float64) float64 { return math.Max(x, 0) }},
		{"Tanh", nil, math.Tanh},
		{"Sigmoid", nil, func(x float64) float64 { return 1 / (1 + math.Exp(-x)) }},
		{"Softplus", nil, func(x float64) float64 { return math.Log1p(math.Exp(x)) }},
		{"Exp", nil, math.Exp},
		{"Neg", nil, func(x float64) float64 { return -x }},
		{"Identity", nil, func(x float64) float64 { return x }},
		{"Elu", nil, func(x float64) float64 { return map[bool]float64{true: x, false: math.Expm1(x)}[x > 0] }},
		{"Elu", []ow.Attr{ow.FloatAttr("alpha", 0.5)}, func(x float64) float64 { return map[bool]float64{true: x, false: 0.5 * math.Expm1(x)}[x > 0] }},
		{"LeakyRelu", nil, func(x float64) float64 { return map[bool]float64{true: x, false: 0.01 * x}[x > 0] }},
		{"LeakyRelu", []ow.Attr{ow.FloatAttr("alpha", 0.2)}, func(x float64) float64 { return map[bool]float64{true: x, false: 0.2 * x}[x > 0] }},
	}
	for _, c := range cases {
		t.Run(c.op, func(t *testing.T) {
			g := ow.Graph{
				Nodes:   []ow.PB{ow.Node("a", c.op, []string{"x"}, []string{"y"}, c.attrs...)},
				Inputs:  []ow.PB{ow.ValueInfo("x", "N")},
				Outputs: []ow.PB{ow.ValueInfo("y", "N")},
			}
			m := mustLoad(t, g.Bytes())
			out, err := m.Run(map[string]Tensor{"x": {Shape: []int{len(xs)}, Data: xs}})
			if err != nil {
				t.Fatal(err)
			}
			for i, x := range xs {
				want := c.f(float64(x))
				got := float64(out["y"].Data[i])
				if math.Abs(got-want) > 4e-7*math.Max(1, math.Abs(want)) {
					t.Errorf("%s(%g) = %.9g, want %.9g", c.op, x, got, want)
				}
			}
		})
	}
}

// TestGemmAttributes checks alpha, beta, transA, transB and broadcasting
// of C against a direct computation.
func TestGemmAttributes(t *testing.T) {
	const m, k, n = 3, 4, 5
	a := seq(m*k, 0.1)
	b := seq(k*n, -0.05)
	cRow := seq(n, 0.3)
	for _, c := range []struct {
		name           string
		alpha, beta    float32
		transA, transB int64
		cShape         []int64
		cData          []float32
	}{
		{"plain", 1, 1, 0, 0, []int64{n}, cRow},
		{"scaled", 0.5, 2, 0, 0, []int64{1, n}, cRow},
		{"transA", 1, 1, 1, 0, []int64{m, n}, seq(m*n, 0.2)},
		{"transB", 1, 0.25, 0, 1, []int64{m, 1}, seq(m, 1)},
		{"both", -1, 1, 1, 1, []int64{}, []float32{0.5}},
	} {
		t.Run(c.name, func(t *testing.T) {
			aShape := []int64{m, k}
			av := a
			if c.transA == 1 {
				aShape, av = []int64{k, m}, transposeF(a, m, k)
			}
			bShape := []int64{k, n}
			bv := b
			if c.transB == 1 {
				bShape, bv = []int64{n, k}, transposeF(b, k, n)
			}
			g := ow.Graph{
				Nodes: []ow.PB{ow.Node("g", "Gemm", []string{"A", "B", "C"}, []string{"Y"},
					ow.FloatAttr("alpha", c.alpha), ow.FloatAttr("beta", c.beta), ow.IntAttr("transA", c.transA), ow.IntAttr("transB", c.transB))},
				Inits:   []ow.PB{ow.Tensor("A", aShape, av), ow.Tensor("B", bShape, bv), ow.Tensor("C", c.cShape, c.cData)},
				Inputs:  []ow.PB{},
				Outputs: []ow.PB{ow.ValueInfo("Y", m, n)},
			}
			// A graph with no Inputs: give it a dummy one so onnx-go accepts it.
			g.Inputs = []ow.PB{ow.ValueInfo("unused", 1)}
			out, err := mustLoad(t, g.Bytes()).Run(map[string]Tensor{"unused": {Shape: []int{1}, Data: []float32{0}}})
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < m; i++ {
				for j := 0; j < n; j++ {
					var s float64
					for p := 0; p < k; p++ {
						s += float64(a[i*k+p]) * float64(b[p*n+j])
					}
					var cv float32
					switch len(c.cShape) {
					case 0:
						cv = c.cData[0]
					case 1:
						cv = c.cData[j]
					default:
						if c.cShape[0] == 1 {
							cv = c.cData[j]
						} else if c.cShape[1] == 1 {
							cv = c.cData[i]
						} else {
							cv = c.cData[i*n+j]
						}
					}
					want := float64(c.alpha)*s + float64(c.beta)*float64(cv)
					if got := out["Y"].Data[i*n+j]; math.Abs(float64(got)-want) > 1e-5 {
						t.Errorf("Y[%d,%d] = %g, want %g", i, j, got, want)
					}
				}
			}
		})
	}
}

func seq(n int, step float32) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(i%11-5) * step
	}
	return s
}

func transposeF(x []float32, r, c int) []float32 {
	t := make([]float32, r*c)
	for i := 0; i < r; i++ {
		for j := 0; j < c; j++ {
			t[j*r+i] = x[i*c+j]
		}
	}
	return t
}

// TestRefusals: broken, hostile or unsupported files are refused at load
// with an error that says what and where; never a panic.
func TestRefusals(t *testing.T) {
	good := ow.Dense(4, 3, "Relu").Bytes()
	mutate := func(f func(g *ow.Graph)) []byte {
		g := ow.Dense(4, 3, "Relu")
		f(&g)
		return g.Bytes()
	}
	cases := []struct {
		name string
		data []byte
		want []string // substrings of the error
	}{
		{"empty", nil, []string{"empty file"}},
		{"not protobuf", []byte("hello, this is not ONNX"), []string{"onnx"}},
		{"truncated", good[:len(good)-7], []string{"truncated"}},
		{"unknown operator", mutate(func(g *ow.Graph) {
			g.Nodes[1] = ow.Node("rnn1", "LSTM", []string{"h"}, []string{"y"})
		}), []string{`node "rnn1" (LSTM)`, "unknown operator"}},
		{"unsupported attribute", mutate(func(g *ow.Graph) {
			g.Nodes[0] = ow.Node("fc", "Gemm", []string{"x", "W", "b"}, []string{"h"}, ow.IntAttr("broadcast", 1))
		}), []string{`node "fc" (Gemm)`, `unsupported attribute "broadcast"`}},
		{"attribute of wrong type", mutate(func(g *ow.Graph) {
			g.Nodes[1] = ow.Node("act", "LeakyRelu", []string{"h"}, []string{"y"}, ow.IntAttr("alpha", 2))
		}), []string{`node "act" (LeakyRelu)`, `"alpha"`}},
		{"huge declared dimension", mutate(func(g *ow.Graph) {
			g.Inputs[0] = ow.ValueInfo("x", 1<<40, 4)
		}), []string{`"x"`, "larger than"}},
		{"huge initializer dims", mutate(func(g *ow.Graph) {
			g.Inits[0] = ow.Tensor("W", []int64{1 << 20, 1 << 20}, make([]float32, 12))
		}), []string{`"W"`, "exceed"}},
		{"initializer data short", mutate(func(g *ow.Graph) {
			g.Inits[0] = ow.Tensor("W", []int64{4, 3}, make([]float32, 11))
		}), []string{`"W"`, "need 48 bytes"}},
		{"negative dimension", mutate(func(g *ow.Graph) {
			g.Inits[1] = ow.Tensor("b", []int64{-3}, make([]float32, 3))
		}), []string{`"b"`, "negative"}},
		{"missing initializer", mutate(func(g *ow.Graph) {
			g.Inits = g.Inits[:1]
		}), []string{`node "fc" (Gemm)`, `"b"`, "missing initializer"}},
		{"mismatched shapes", mutate(func(g *ow.Graph) {
			g.Inits[0] = ow.Tensor("W", []int64{5, 3}, make([]float32, 15))
		}), []string{`node "fc" (Gemm)`, "do not multiply"}},
		{"cycle", mutate(func(g *ow.Graph) {
			g.Nodes = []ow.PB{
				ow.Node("a", "Add", []string{"x", "c"}, []string{"b2"}),
				ow.Node("c", "Relu", []string{"b2"}, []string{"c"}),
				ow.Node("out", "Relu", []string{"c"}, []string{"y"}),
			}
		}), []string{"cycle", `node "a" (Add)`, `node "c" (Relu)`}},
		{"value defined twice", mutate(func(g *ow.Graph) {
			g.Nodes = append(g.Nodes, ow.Node("again", "Relu", []string{"h"}, []string{"y"}))
		}), []string{`"y"`, "defined twice"}},
		{"graph field twice", append(ow.PB(good), ow.PB(nil).Msg(7, ow.PB(nil).Msg(11, ow.ValueInfo("big", 1<<40)))...),
			[]string{"graph occurs twice"}},
		{"type field twice", mutate(func(g *ow.Graph) {
			vi := ow.ValueInfo("x", "N", 4)
			g.Inputs[0] = append(vi, ow.PB(nil).Msg(2, ow.PB(nil).Msg(1, ow.PB(nil).Int(1, 1)))...)
		}), []string{`"x"`, "twice"}},
		{"old opset", mutate(func(g *ow.Graph) { g.Opset = 6 }), []string{`node "fc" (Gemm)`, "from opset 7", "opset 6"}},
		{"output not produced", mutate(func(g *ow.Graph) {
			g.Outputs = []ow.PB{ow.ValueInfo("nothing", "N", 3)}
		}), []string{`"nothing"`, "not produced"}},
		{"wrong declared output shape", mutate(func(g *ow.Graph) {
			g.Outputs = []ow.PB{ow.ValueInfo("y", "N", 5)}
		}), []string{"output y[N,5]", "[1 3]"}},
		{"reshape to impossible shape", ow.Graph{
			Nodes:   []ow.PB{ow.Node("r", "Reshape", []string{"x", "s"}, []string{"y"})},
			Inits:   []ow.PB{ow.Int64Tensor("s", []int64{-1, 7})},
			Inputs:  []ow.PB{ow.ValueInfo("x", "N", 4)},
			Outputs: []ow.PB{ow.ValueInfo("y", "N", 7)},
		}.Bytes(), []string{`node "r" (Reshape)`, "cannot reshape"}},
		{"expand to huge shape", ow.Graph{
			Nodes:   []ow.PB{ow.Node("e", "Expand", []string{"x", "s"}, []string{"y"})},
			Inits:   []ow.PB{ow.Int64Tensor("s", []int64{1 << 20, 1 << 20})},
			Inputs:  []ow.PB{ow.ValueInfo("x", 1, 1)},
			Outputs: []ow.PB{ow.ValueInfo("y", 1, 1)},
		}.Bytes(), []string{`node "e" (Expand)`, "more than"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Load(c.data)
			if err == nil {
				t.Fatal("loaded, want an error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// TestTruncations loads every prefix of a real file: each must give an
// error (or, for prefixes that happen to be a complete valid file, a model),
// never a panic.
func TestTruncations(t *testing.T) {
	b := foreignBytes(t, "many_ops.onnx")
	for i := 0; i < len(b); i++ {
		if m, err := Load(b[:i]); err == nil && m == nil {
			t.Fatalf("prefix %d: nil model and nil error", i)
		}
	}
}

func TestRunChecksInputs(t *testing.T) {
	m := mustLoad(t, ow.Dense(4, 3, "Relu").Bytes())
	cases := []struct {
		name string
		in   map[string]Tensor
		want string
	}{
		{"missing", map[string]Tensor{}, `input "x" is missing`},
		{"extra", map[string]Tensor{"x": {Shape: []int{1, 4}, Data: make([]float32, 4)}, "q": {}}, `no input "q"`},
		{"wrong width", map[string]Tensor{"x": {Shape: []int{2, 5}, Data: make([]float32, 10)}}, "x[N,4]: got shape [2 5]"},
		{"wrong rank", map[string]Tensor{"x": {Shape: []int{8}, Data: make([]float32, 8)}}, "got shape [8]"},
		{"short data", map[string]Tensor{"x": {Shape: []int{2, 4}, Data: make([]float32, 7)}}, "needs 8 values, got 7"},
		{"negative dim", map[string]Tensor{"x": {Shape: []int{-2, 4}, Data: nil}}, "negative"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := m.Run(c.in)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want one containing %q", err, c.want)
			}
		})
	}
}

func TestCompareWithin(t *testing.T) {
	nan := float32(math.NaN())
	cases := []struct {
		got, want []float32
		abs, rel  float64
		ok1e5     bool
	}{
		{[]float32{1, 2}, []float32{1, 2}, 0, 0, true},
		{[]float32{0.5, 100.001}, []float32{0.5, 100}, 0.00099945, 9.9945e-6, true},
		{[]float32{1e-3}, []float32{0}, 1e-3, 0, false},
		{[]float32{nan}, []float32{nan}, 0, 0, true},
		{[]float32{nan}, []float32{1}, math.Inf(1), math.Inf(1), false},
		{[]float32{1}, []float32{1, 2}, math.Inf(1), math.Inf(1), false},
	}
	for i, c := range cases {
		abs, rel := Compare(c.got, c.want)
		if math.Abs(abs-c.abs) > 1e-6*math.Max(1, c.abs) && !(math.IsInf(abs, 1) && math.IsInf(c.abs, 1)) {
			t.Errorf("%d: abs %g, want %g", i, abs, c.abs)
		}
		if math.Abs(rel-c.rel) > 1e-7 && !(math.IsInf(rel, 1) && math.IsInf(c.rel, 1)) {
			t.Errorf("%d: rel %g, want %g", i, rel, c.rel)
		}
		if ok, _ := Within(c.got, c.want, 1e-5); ok != c.ok1e5 {
			t.Errorf("%d: Within = %v, want %v", i, ok, c.ok1e5)
		}
	}
}

// FuzzLoad feeds arbitrary bytes to Load (and runs what loads): no panic,
// no unbounded allocation. Seeds: the foreign models and small graphs.
func FuzzLoad(f *testing.F) {
	for _, name := range []string{"mlp_decoder.onnx", "many_ops.onnx"} {
		f.Add(foreignBytes(f, name))
	}
	f.Add(ow.Dense(4, 3, "Relu").Bytes())
	f.Add(ow.Dense(2, 2, "LeakyRelu", ow.FloatAttr("alpha", 0.3)).Bytes())
	f.Add(ow.Graph{
		Nodes:   []ow.PB{ow.Node("r", "Reshape", []string{"x", "s"}, []string{"y"})},
		Inits:   []ow.PB{ow.Int64Tensor("s", []int64{0, -1})},
		Inputs:  []ow.PB{ow.ValueInfo("x", "N", 2, 2)},
		Outputs: []ow.PB{ow.ValueInfo("y", "N", 4)},
	}.Bytes())
	for _, g := range opSeeds() {
		f.Add(g.Bytes())
	}
	for _, g := range boolSeeds() {
		f.Add(g.Bytes())
	}
	if torch, err := filepath.Glob(filepath.Join("..", "testdata", "foreign", "torch", "*_opset17.onnx")); err == nil {
		for _, p := range torch {
			if b, err := os.ReadFile(p); err == nil {
				f.Add(b)
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Load(data)
		if err != nil {
			return
		}
		in := map[string]Tensor{}
		for _, io := range m.Inputs() {
			shape := make([]int, len(io.Shape))
			for i, d := range io.Shape {
				shape[i] = 2
				if d.Param == "" && d.Value >= 0 {
					shape[i] = int(d.Value)
				}
			}
			if n, err := checkedSize(shape); err != nil || n > 1<<16 {
				return
			}
			switch io.Type {
			case Int64:
				in[io.Name] = Tensor{Shape: shape, Int64: make([]int64, shapeSize(shape))}
			case Bool:
				in[io.Name] = Tensor{Shape: shape, Bool: make([]bool, shapeSize(shape))}
			default:
				in[io.Name] = Tensor{Shape: shape, Data: make([]float32, shapeSize(shape))}
			}
		}
		_, _ = m.Run(in)
	})
}

// TestConcurrentRun: one Model serves goroutines with different batch
// sizes at once (run with -race to check for shared state).
func TestConcurrentRun(t *testing.T) {
	m := mustLoad(t, foreignBytes(t, "many_ops.onnx"))
	want := map[int][]float32{}
	in := func(n int) map[string]Tensor {
		x := make([]float32, n*6)
		for i := range x {
			x[i] = float32(i%9-4) / 3
		}
		return map[string]Tensor{"x": {Shape: []int{n, 6}, Data: x}}
	}
	for n := 1; n <= 4; n++ {
		out, err := m.Run(in(n))
		if err != nil {
			t.Fatal(err)
		}
		want[n] = out["y1"].Data
	}
	done := make(chan error)
	for g := 0; g < 8; g++ {
		go func() {
			for it := 0; it < 20; it++ {
				n := 1 + (g+it)%4
				out, err := m.Run(in(n))
				if err != nil {
					done <- err
					return
				}
				if ok, i := Within(out["y1"].Data, want[n], 0); !ok {
					done <- fmt.Errorf("batch %d: element %d differs", n, i)
					return
				}
			}
			done <- nil
		}()
	}
	for g := 0; g < 8; g++ {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}

// opSeeds are small graphs of the operators beyond dense layers, with
// their attributes, for FuzzLoad to mutate.
func opSeeds() []ow.Graph {
	one := func(op string, in []string, inits []ow.PB, x, y ow.PB, attrs ...ow.Attr) ow.Graph {
		return ow.Graph{Nodes: []ow.PB{ow.Node("n", op, in, []string{"y"}, attrs...)}, Inits: inits,
			Inputs: []ow.PB{x}, Outputs: []ow.PB{y}}
	}
	w := func(name string, dims ...int64) ow.PB {
		n := int64(1)
		for _, d := range dims {
			n *= d
		}
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(i%5-2) / 4
		}
		return ow.Tensor(name, dims, v)
	}
	img := ow.ValueInfo("x", "N", 2, 6, 6)
	return []ow.Graph{
		one("Conv", []string{"x", "W", "B"}, []ow.PB{w("W", 3, 2, 3, 3), w("B", 3)}, img, ow.ValueInfo("y", "N", 3, 3, 3),
			ow.IntsAttr("strides", 2, 2), ow.IntsAttr("pads", 1, 1, 1, 1), ow.IntsAttr("kernel_shape", 3, 3)),
		one("Conv", []string{"x", "W"}, []ow.PB{w("W", 2, 1, 2, 2)}, img, ow.ValueInfo("y", "N", 2, 3, 3),
			ow.IntAttr("group", 2), ow.IntsAttr("dilations", 2, 2), ow.StrAttr("auto_pad", "SAME_UPPER"), ow.IntsAttr("strides", 2, 2)),
		one("ConvTranspose", []string{"x", "W", "B"}, []ow.PB{w("W", 2, 3, 4, 4), w("B", 3)}, img, ow.ValueInfo("y", "N", 3, 12, 12),
			ow.IntsAttr("strides", 2, 2), ow.IntsAttr("pads", 1, 1, 1, 1)),
		one("ConvTranspose", []string{"x", "W"}, []ow.PB{w("W", 2, 1, 3, 3)}, img, ow.ValueInfo("y", "N", 1, 14, 14),
			ow.IntsAttr("strides", 2, 2), ow.IntsAttr("output_padding", 1, 1)),
		one("MaxPool", []string{"x"}, nil, img, ow.ValueInfo("y", "N", 2, 3, 3), ow.IntsAttr("kernel_shape", 2, 2), ow.IntsAttr("strides", 2, 2)),
		one("AveragePool", []string{"x"}, nil, img, ow.ValueInfo("y", "N", 2, 3, 3), ow.IntsAttr("kernel_shape", 3, 3),
			ow.IntsAttr("strides", 2, 2), ow.IntAttr("ceil_mode", 1), ow.IntAttr("count_include_pad", 1), ow.IntsAttr("pads", 1, 1, 0, 0)),
		one("BatchNormalization", []string{"x", "s", "b", "m", "v"}, []ow.PB{w("s", 2), w("b", 2), w("m", 2), ow.Tensor("v", []int64{2}, []float32{1, 2})},
			img, ow.ValueInfo("y", "N", 2, 6, 6), ow.FloatAttr("epsilon", 1e-3)),
		one("Pad", []string{"x", "p"}, []ow.PB{ow.Int64Tensor("p", []int64{0, 0, 1, -1, 0, 0, 2, 1})}, img, ow.ValueInfo("y", "N", 2, 9, 6),
			ow.StrAttr("mode", "reflect")),
		one("Resize", []string{"x", "", "s"}, []ow.PB{ow.Tensor("s", []int64{4}, []float32{1, 1, 2, 1.5})}, img, ow.ValueInfo("y", "N", 2, 12, 9),
			ow.StrAttr("mode", "linear"), ow.StrAttr("coordinate_transformation_mode", "align_corners")),
		one("Slice", []string{"x", "st", "en", "ax", "sp"}, []ow.PB{ow.Int64Tensor("st", []int64{-1, 0}), ow.Int64Tensor("en", []int64{-1 << 62, 6}),
			ow.Int64Tensor("ax", []int64{2, 3}), ow.Int64Tensor("sp", []int64{-2, 3})}, img, ow.ValueInfo("y", "N", 2, 3, 2)),
		one("Gather", []string{"x", "i"}, []ow.PB{ow.Int64Tensor("i", []int64{-1, 0, 3})}, img, ow.ValueInfo("y", "N", 2, 6, 3), ow.IntAttr("axis", 3)),
		one("Transpose", []string{"x"}, nil, img, ow.ValueInfo("y", 6, 2, "N", 6), ow.IntsAttr("perm", 2, 1, 0, 3)),
		one("Softmax", []string{"x"}, nil, img, ow.ValueInfo("y", "N", 2, 6, 6), ow.IntAttr("axis", 1)),
		one("ReduceMean", []string{"x"}, nil, img, ow.ValueInfo("y", "N", 1, 6, 1), ow.IntsAttr("axes", 1, -1)),
		one("Unsqueeze", []string{"x", "a"}, []ow.PB{ow.Int64Tensor("a", []int64{0, -1})}, img, ow.ValueInfo("y", 1, "N", 2, 6, 6, 1)),
	}
}

// TestOpSeeds: every fuzz seed of opSeeds loads, runs at two batch sizes,
// and gives rows that do not depend on the batch they are in.
func TestOpSeeds(t *testing.T) {
	for i, g := range opSeeds() {
		m, err := Load(g.Bytes())
		if err != nil {
			t.Errorf("seed %d: %v", i, err)
			continue
		}
		var first []float32
		for _, n := range []int{1, 3} {
			x := make([]float32, n*72)
			for j := range x {
				x[j] = float32(j%72%11-5) / 3
			}
			out, err := m.Run(map[string]Tensor{"x": {Shape: []int{n, 2, 6, 6}, Data: x}})
			if err != nil {
				t.Errorf("seed %d (%s) batch %d: %v", i, m.Ops()[0], n, err)
				continue
			}
			y := out["y"]
			if n == 1 {
				first = y.Data
			} else if m.Ops()[0] != "Transpose" && m.Ops()[0] != "Unsqueeze" {
				if ok, worst := Within(y.Data[:len(first)], first, 1e-6); !ok {
					t.Errorf("seed %d (%s): row 0 of batch 3 differs from batch 1 at %d", i, m.Ops()[0], worst)
				}
			}
		}
	}
}
