package runtime

import (
	"fmt"
	"math"
	goruntime "runtime"
	"strings"
	"testing"

	ow "github.com/vaec/vaec/runtime/internal/onnxwire"
)

// vaeGraph is an encoder-shaped graph: x[N,k] → Gemm+Relu → h, then two
// heads on h (the second with a transposed weight), a Sigmoid layer whose
// output is also a graph output, and a scaled Gemm (alpha ≠ 1) that must
// keep the general kernel.
func vaeGraph(k, hidden, lat int) []byte {
	w := func(name string, r, c int, scale float32) ow.PB {
		d := make([]float32, r*c)
		for i := range d {
			d[i] = scale * float32((i*7919)%201-100) / 100
		}
		return ow.Tensor(name, []int64{int64(r), int64(c)}, d)
	}
	b := func(name string, n int) ow.PB {
		d := make([]float32, n)
		for i := range d {
			d[i] = float32(i%5-2) / 10
		}
		return ow.Tensor(name, []int64{int64(n)}, d)
	}
	g := ow.Graph{
		Nodes: []ow.PB{
			ow.Node("fc1", "Gemm", []string{"x", "W1", "b1"}, []string{"a1"}),
			ow.Node("relu", "Relu", []string{"a1"}, []string{"h"}),
			ow.Node("mu", "Gemm", []string{"h", "Wmu", "bmu"}, []string{"mu"}),
			ow.Node("lv", "Gemm", []string{"h", "WlvT", "blv"}, []string{"logvar"}, ow.IntAttr("transB", 1)),
			ow.Node("fc3", "Gemm", []string{"mu", "W3", "b3"}, []string{"a3"}),
			ow.Node("sig", "Sigmoid", []string{"a3"}, []string{"p"}),
			ow.Node("scaled", "Gemm", []string{"p", "W4"}, []string{"q"}, ow.FloatAttr("alpha", 0.5)),
		},
		Inits: []ow.PB{
			w("W1", k, hidden, 0.1), b("b1", hidden),
			w("Wmu", hidden, lat, 0.05), b("bmu", lat),
			w("WlvT", lat, hidden, 0.05), b("blv", lat),
			w("W3", lat, k, 0.3), b("b3", k),
			w("W4", k, 3, 0.1),
		},
		Inputs:  []ow.PB{ow.ValueInfo("x", "N", k)},
		Outputs: []ow.PB{ow.ValueInfo("mu", "N", lat), ow.ValueInfo("logvar", "N", lat), ow.ValueInfo("p", "N", k), ow.ValueInfo("q", "N", 3)},
	}
	return g.Bytes()
}

func vaeInput(n, k, seed int) map[string]Tensor {
	x := make([]float32, n*k)
	for i := range x {
		x[i] = float32((i*31+seed*17)%256) / 255
	}
	return map[string]Tensor{"x": {Shape: []int{n, k}, Data: x}}
}

// TestDenseMatchesGeneral compares the dense form (packed weights, merged
// heads, single-row path) with the general kernels, at the MNIST sizes.
func TestDenseMatchesGeneral(t *testing.T) {
	const k, hidden, lat = 784, 400, 20
	file := vaeGraph(k, hidden, lat)
	fast := mustLoad(t, file)
	useDense = false
	slow := mustLoad(t, file)
	useDense = true
	if got := strings.Join(fast.Ops(), " "); got != "Gemm+Relu Gemm+Gemm Gemm+Sigmoid Gemm" {
		t.Errorf("dense plan: %s", got)
	}
	for _, n := range []int{1, 2, 9, 256} {
		agree(t, fmt.Sprint("batch ", n), fast, slow, vaeInput(n, k, n), nil)
	}
}

// agree runs in through fast and through slow (the reference, the general
// kernels or the unfused steps) and checks that every output has slow's
// shape and is within tol(name) of it: 1e-5 when tol is nil, not checked
// when tol returns a negative value. It returns fast's outputs.
func agree(t *testing.T, label string, fast, slow *Model, in map[string]Tensor, tol func(name string) float64) map[string]Tensor {
	t.Helper()
	got, err := fast.Run(in)
	if err != nil {
		t.Fatal(err)
	}
	want, err := slow.Run(in)
	if err != nil {
		t.Fatal(err)
	}
	for name, w := range want {
		g := got[name]
		if !sameShape(g.Shape, w.Shape) {
			t.Fatalf("%s %s: shape %v, want %v", label, name, g.Shape, w.Shape)
		}
		tl := 1e-5
		if tol != nil {
			tl = tol(name)
		}
		if tl < 0 {
			continue
		}
		if ok, i := Within(g.Data, w.Data, tl); !ok {
			t.Errorf("%s %s[%d] = %v, the reference gives %v", label, name, i, g.Data[i], w.Data[i])
		}
	}
	return got
}

// TestDenseDeterministic: repeated calls and GOMAXPROCS 1 and 2 give
// bit-identical outputs.
func TestDenseDeterministic(t *testing.T) {
	defer goruntime.GOMAXPROCS(goruntime.GOMAXPROCS(0))
	m := mustLoad(t, vaeGraph(784, 400, 20))
	for _, n := range []int{1, 256} {
		in := vaeInput(n, 784, 3)
		var first map[string]Tensor
		for _, procs := range []int{2, 1, 2, 1} {
			goruntime.GOMAXPROCS(procs)
			out, err := m.Run(in)
			if err != nil {
				t.Fatal(err)
			}
			if first == nil {
				first = out
				continue
			}
			for name, w := range first {
				for i, v := range out[name].Data {
					if math.Float32bits(v) != math.Float32bits(w.Data[i]) {
						t.Fatalf("batch %d GOMAXPROCS %d: %s[%d] = %v, first run %v", n, procs, name, i, v, w.Data[i])
					}
				}
			}
		}
	}
}

// TestRunOutputsAreTheCallers: intermediate buffers are reused between
// calls, outputs never are.
func TestRunOutputsAreTheCallers(t *testing.T) {
	m := mustLoad(t, vaeGraph(30, 20, 4))
	for _, n := range []int{1, 5} {
		r1, err := m.Run(vaeInput(n, 30, 1))
		if err != nil {
			t.Fatal(err)
		}
		keep := map[string][]float32{}
		for name, v := range r1 {
			keep[name] = append([]float32(nil), v.Data...)
		}
		if _, err := m.Run(vaeInput(n, 30, 2)); err != nil {
			t.Fatal(err)
		}
		for name, v := range r1 {
			if ok, i := Within(v.Data, keep[name], 0); !ok {
				t.Fatalf("batch %d: %s[%d] changed under the caller by a later call", n, name, i)
			}
		}
	}
}

// TestDenseFallsBack: an input whose width the file does not declare
// reaches the dense step with the wrong width; the general kernel reports
// it, naming the node.
func TestDenseFallsBack(t *testing.T) {
	g := ow.Dense(6, 4, "Relu")
	// A float tensor type without a shape.
	g.Inputs = []ow.PB{ow.PB(nil).Str(1, "x").Msg(2, ow.PB(nil).Msg(1, ow.PB(nil).Int(1, 1)))}
	m := mustLoad(t, g.Bytes())
	if _, err := m.Run(map[string]Tensor{"x": {Shape: []int{2, 6}, Data: make([]float32, 12)}}); err != nil {
		t.Fatalf("declared width: %v", err)
	}
	_, err := m.Run(map[string]Tensor{"x": {Shape: []int{2, 5}, Data: make([]float32, 10)}})
	if err == nil || !strings.Contains(err.Error(), `node "fc`) {
		t.Fatalf("wrong width: err = %v, want the node named", err)
	}
}

// TestRunAllocs bounds steady-state allocations: the outputs, the result
// map and little else.
func TestRunAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items under the race detector")
	}
	m := mustLoad(t, vaeGraph(784, 400, 20))
	for _, n := range []int{1, 256} {
		in := vaeInput(n, 784, 1)
		run := func() {
			if _, err := m.Run(in); err != nil {
				t.Fatal(err)
			}
		}
		run()
		// Per output: data and shape; the result map; the general Gemm's
		// value and data.
		if a := testing.AllocsPerRun(20, run); a > 16 {
			t.Errorf("batch %d: %v allocations per Run", n, a)
		}
	}
}

func BenchmarkDenseRun(b *testing.B) {
	m := mustLoad(b, vaeGraph(784, 400, 20))
	for _, n := range []int{1, 256} {
		in := vaeInput(n, 784, 1)
		b.Run(map[int]string{1: "batch1", 256: "batch256"}[n], func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				if _, err := m.Run(in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
