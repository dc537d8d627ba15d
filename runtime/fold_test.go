package runtime

import (
	"fmt"
	"math"
	"strings"
	"testing"

	ow "github.com/vaec/vaec/runtime/internal/onnxwire"
)

// affineGraph is a decoder-shaped dense layer with an input scaling in
// front and derived outputs behind, as vaec exports them and more:
// x → Mul(x, s) → Add(t, ·) → Gemm → Sigmoid → p; raw = p·255 − c (a row);
// flip = 1 − p (the constant first). s is per feature; when bad is set
// one of its values is NaN, which must not be folded.
func affineGraph(k, n int, inDim any, bad bool) []byte {
	s := filledTensor("s", []int64{int64(k)}, func(i int) float32 { return 1/255.0 + float32(i%3)/100 })
	if bad {
		s = filledTensor("s", []int64{int64(k)}, func(i int) float32 {
			if i == 1 {
				return float32(math.NaN())
			}
			return 1 / 255.0
		})
	}
	g := ow.Graph{
		Nodes: []ow.PB{
			ow.Node("scale", "Mul", []string{"x", "s"}, []string{"xs"}),
			ow.Node("shift", "Add", []string{"t", "xs"}, []string{"xm"}),
			ow.Node("fc", "Gemm", []string{"xm", "W", "b"}, []string{"a"}),
			ow.Node("sig", "Sigmoid", []string{"a"}, []string{"p"}),
			ow.Node("unscale", "Mul", []string{"p", "u"}, []string{"pu"}),
			ow.Node("unshift", "Sub", []string{"pu", "c"}, []string{"raw"}),
			ow.Node("flip", "Sub", []string{"one", "p"}, []string{"flip"}),
		},
		Inits: []ow.PB{
			s,
			filledTensor("t", []int64{}, func(int) float32 { return -0.25 }),
			filledTensor("W", []int64{int64(k), int64(n)}, func(i int) float32 { return float32((i*7919)%201-100) / 400 }),
			filledTensor("b", []int64{int64(n)}, func(i int) float32 { return float32(i%5-2) / 10 }),
			filledTensor("u", []int64{1}, func(int) float32 { return 255 }),
			filledTensor("c", []int64{1, int64(n)}, func(i int) float32 { return float32(i % 7) }),
			filledTensor("one", []int64{}, func(int) float32 { return 1 }),
		},
		Inputs:  []ow.PB{ow.ValueInfo("x", "N", inDim)},
		Outputs: []ow.PB{ow.ValueInfo("p", "N", n), ow.ValueInfo("raw", "N", n), ow.ValueInfo("flip", "N", n)},
	}
	return g.Bytes()
}

// TestFoldMatchesGeneral: folding the input scaling into the weights and
// the output arithmetic into the dense step changes results by rounding
// only, at every batch size and on both the single-row and blocked paths;
// a NaN scale is not folded; and an input that only broadcasts to the
// layer's width runs the file's steps.
func TestFoldMatchesGeneral(t *testing.T) {
	const k, n = 300, 130
	for _, tc := range []struct {
		name  string
		inDim any
		bad   bool
		plan  string
		width int
	}{
		{"folded", k, false, "Gemm+Sigmoid", k},
		{"nan scale", k, true, "Mul Gemm+Sigmoid", k},
		{"broadcast input", "K", false, "Gemm+Sigmoid", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := affineGraph(k, n, tc.inDim, tc.bad)
			fast := mustLoad(t, file)
			useDense = false
			slow := mustLoad(t, file)
			useDense = true
			if got := strings.Join(fast.Ops(), " "); got != tc.plan {
				t.Errorf("plan %q, want %q", got, tc.plan)
			}
			for _, rows := range []int{1, 2, 9, 256} {
				x := make([]float32, rows*tc.width)
				for i := range x {
					x[i] = float32((i*31 + rows) % 256)
				}
				in := map[string]Tensor{"x": {Shape: []int{rows, tc.width}, Data: x}}
				got := agree(t, fmt.Sprint("batch ", rows), fast, slow, in, func(name string) float64 {
					switch {
					case tc.bad && name == "p":
						return -1 // checked below
					case name == "raw":
						return 255e-5 // p's rounding difference, scaled by the unscale factor
					}
					return 1e-5
				})
				if tc.bad && !math.IsNaN(float64(got["p"].Data[0])) {
					t.Errorf("batch %d: p[0] = %v, want NaN (x·NaN)", rows, got["p"].Data[0])
				}
			}
		})
	}
}

// TestRunInto: outputs land in the caller's buffers (the returned Data
// is the buffer), equal to Run's, call after call; bad buffers are errors.
func TestRunInto(t *testing.T) {
	const k, n = 300, 130
	m := mustLoad(t, affineGraph(k, n, k, false))
	for _, rows := range []int{1, 256} {
		x := make([]float32, rows*k)
		for i := range x {
			x[i] = float32(i % 256)
		}
		in := map[string]Tensor{"x": {Shape: []int{rows, k}, Data: x}}
		want, err := m.Run(in)
		if err != nil {
			t.Fatal(err)
		}
		into := map[string][]float32{"raw": make([]float32, rows*n+5), "flip": make([]float32, rows*n)}
		for range 2 {
			got, err := m.RunInto(in, into)
			if err != nil {
				t.Fatal(err)
			}
			for name, w := range want {
				g := got[name]
				if b, ok := into[name]; ok && &g.Data[0] != &b[0] {
					t.Errorf("batch %d %s: not written into the caller's buffer", rows, name)
				}
				if len(g.Data) != len(w.Data) || !sameShape(g.Shape, w.Shape) {
					t.Fatalf("batch %d %s: shape %v (%d values), want %v", rows, name, g.Shape, len(g.Data), w.Shape)
				}
				for i := range w.Data {
					if math.Float32bits(g.Data[i]) != math.Float32bits(w.Data[i]) {
						t.Fatalf("batch %d %s[%d] = %v, Run gives %v", rows, name, i, g.Data[i], w.Data[i])
					}
				}
			}
		}
	}
	x := make([]float32, 4*k)
	in := map[string]Tensor{"x": {Shape: []int{4, k}, Data: x}}
	for _, tc := range []struct {
		into map[string][]float32
		want string
	}{
		{map[string][]float32{"p": make([]float32, 4*n-1)}, `output "p" has 520 values, its buffer only 519`},
		{map[string][]float32{"q": make([]float32, 9)}, `no output "q"`},
		{map[string][]float32{"p": x}, `buffer for output "p" overlaps input x`},
	} {
		if _, err := m.RunInto(in, tc.into); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("RunInto: error %v, want one containing %q", err, tc.want)
		}
	}
	shared := make([]float32, 8*n)
	_, err := m.RunInto(in, map[string][]float32{"p": shared[:4*n], "flip": shared[4*n-1:]})
	if err == nil || !strings.Contains(err.Error(), "overlaps output") {
		t.Errorf("RunInto with overlapping buffers: error %v", err)
	}
}

// filledTensor is a float32 initializer of the given dims with element i
// set to f(i).
func filledTensor(name string, dims []int64, f func(i int) float32) ow.PB {
	size := 1
	for _, d := range dims {
		size *= int(d)
	}
	d := make([]float32, size)
	for i := range d {
		d[i] = f(i)
	}
	return ow.Tensor(name, dims, d)
}
