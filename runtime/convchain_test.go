package runtime

import (
	"fmt"
	goruntime "runtime"
	"strings"
	"testing"

	ow "github.com/vaec/vaec/runtime/internal/onnxwire"
)

// chainGraph is a conv encoder: x [N, c, h, w] → Conv(+act) per layer →
// Flatten → two Gemm heads (B transposed in the first, not in the
// second). Layers are (filters, kernel, stride, pad, act, bias); act ""
// is none. flatOut makes the Flatten's output a graph output too, which
// keeps it out of the chain; symbolic makes the image size symbolic.
type chainLayer struct {
	k, kernel, stride, pad int
	act                    string
	bias                   bool
}

func chainGraph(c, h, w int, layers []chainLayer, flatOut, symbolic bool) []byte {
	val := func(name string, seed int, dims ...int64) ow.PB {
		n := int64(1)
		for _, d := range dims {
			n *= d
		}
		v := make([]float32, n)
		for i := range v {
			v[i] = float32((i*7919+seed*131)%201-100) / 400
		}
		return ow.Tensor(name, dims, v)
	}
	var nodes, inits []ow.PB
	cur, ch, hh, ww := "x", c, h, w
	for i, l := range layers {
		wn, bn, out := fmt.Sprintf("w%d", i), fmt.Sprintf("b%d", i), fmt.Sprintf("h%d", i)
		in := []string{cur, wn}
		inits = append(inits, val(wn, i, int64(l.k), int64(ch), int64(l.kernel), int64(l.kernel)))
		if l.bias {
			in = append(in, bn)
			inits = append(inits, val(bn, i+7, int64(l.k)))
		}
		nodes = append(nodes, ow.Node(fmt.Sprintf("c%d", i), "Conv", in, []string{out},
			ow.IntsAttr("kernel_shape", int64(l.kernel), int64(l.kernel)), ow.IntsAttr("strides", int64(l.stride), int64(l.stride)),
			ow.IntsAttr("pads", int64(l.pad), int64(l.pad), int64(l.pad), int64(l.pad))))
		cur = out
		if l.act != "" {
			var attrs []ow.Attr
			if l.act == "LeakyRelu" {
				attrs = append(attrs, ow.FloatAttr("alpha", 0.2))
			}
			nodes = append(nodes, ow.Node(fmt.Sprintf("a%d", i), l.act, []string{out}, []string{out + "a"}, attrs...))
			cur = out + "a"
		}
		ch, hh, ww = l.k, (hh+2*l.pad-l.kernel)/l.stride+1, (ww+2*l.pad-l.kernel)/l.stride+1
	}
	flat := ch * hh * ww
	nodes = append(nodes,
		ow.Node("f", "Flatten", []string{cur}, []string{"flat"}),
		ow.Node("mu", "Gemm", []string{"flat", "wm", "bm"}, []string{"mu"}, ow.IntAttr("transB", 1)),
		ow.Node("lv", "Gemm", []string{"flat", "wl", "bl"}, []string{"lv"}))
	inits = append(inits, val("wm", 3, 5, int64(flat)), val("bm", 4, 5), val("wl", 5, int64(flat), 3), val("bl", 6, 3))
	outs := []ow.PB{ow.ValueInfo("mu", "N", 5), ow.ValueInfo("lv", "N", 3)}
	if flatOut {
		outs = append(outs, ow.ValueInfo("flat", "N", flat))
	}
	x := ow.ValueInfo("x", "N", c, h, w)
	if symbolic {
		x = ow.ValueInfo("x", "N", c, "H", "W")
	}
	return ow.Graph{Nodes: nodes, Inits: inits, Inputs: []ow.PB{x}, Outputs: outs}.Bytes()
}

func chainInput(n, c, h, w, seed int) map[string]Tensor {
	x := make([]float32, n*c*h*w)
	for i := range x {
		x[i] = float32((i*31+seed*17)%97-40) / 37
	}
	return map[string]Tensor{"x": {Shape: []int{n, c, h, w}, Data: x}}
}

var chainGraphs = []struct {
	name     string
	c, h, w  int
	layers   []chainLayer
	flatOut  bool
	wantPlan string
}{
	{"conv-vae", 1, 28, 28, []chainLayer{{32, 4, 2, 1, "Relu", true}, {64, 4, 2, 1, "Relu", true}}, false,
		"Conv+Relu+Conv+Relu+Flatten Gemm+Gemm"},
	{"odd", 3, 11, 9, []chainLayer{{5, 3, 1, 1, "Sigmoid", false}, {7, 3, 2, 0, "", true}, {70, 2, 1, 1, "LeakyRelu", true}}, false,
		"Conv+Sigmoid+Conv+Conv+LeakyRelu+Flatten Gemm+Gemm"},
	{"flat-output", 2, 8, 8, []chainLayer{{3, 3, 1, 1, "Relu", true}, {4, 1, 1, 0, "Tanh", true}}, true,
		"Conv+Relu+Conv+Tanh Flatten Gemm+Gemm"},
}

// TestConvChainMatchesSteps: a chain (and a folded Flatten with its
// permuted dense weights) gives the outputs of the steps it replaces,
// at batch 1 and 7, with repeated calls.
func TestConvChainMatchesSteps(t *testing.T) {
	for _, tc := range chainGraphs {
		t.Run(tc.name, func(t *testing.T) {
			file := chainGraph(tc.c, tc.h, tc.w, tc.layers, tc.flatOut, false)
			fast := mustLoad(t, file)
			useConvChain = false
			slow := mustLoad(t, file)
			useConvChain = true
			if got := strings.Join(fast.Ops(), " "); got != tc.wantPlan {
				t.Errorf("plan: %s, want %s", got, tc.wantPlan)
			}
			for _, n := range []int{1, 7, 1, 7} {
				agree(t, fmt.Sprint("batch ", n), fast, slow, chainInput(n, tc.c, tc.h, tc.w, n), nil)
			}
		})
	}
}

// TestConvChainFallback: with a symbolic image size, a call at the size
// the chain was not prepared for runs the original steps (and permutes
// the Flatten's result for the permuted dense weights).
func TestConvChainFallback(t *testing.T) {
	layers := []chainLayer{{4, 3, 2, 1, "Relu", true}, {6, 3, 1, 1, "Relu", true}}
	file := chainGraph(2, 1, 1, layers, false, true)
	fast := mustLoad(t, file)
	useConvChain = false
	slow := mustLoad(t, file)
	useConvChain = true
	if got := strings.Join(fast.Ops(), " "); !strings.HasPrefix(got, "Conv+Relu+Conv+Relu+Flatten") {
		t.Fatalf("plan: %s", got)
	}
	// The dense heads fix the flattened size to 6, one output pixel: the
	// 1×1 image the shape check used, or 2×2 and 1×2 (no longer the
	// chain's; the shape check sets symbolic sizes to 1, so a fallback's
	// permutation is over one pixel here).
	for _, hw := range [][2]int{{1, 1}, {2, 2}, {1, 2}} {
		agree(t, fmt.Sprint(hw), fast, slow, chainInput(3, 2, hw[0], hw[1], 5), nil)
	}
	if _, err := fast.Run(chainInput(3, 2, 5, 5, 5)); err == nil {
		t.Error("a 5×5 image (a flattened size the dense layers do not take) accepted")
	}
}

// TestConvChainReuse: the chain's buffers are reused from call to call
// (the dense layers read them); outputs are never shared between calls,
// concurrent calls and GOMAXPROCS 1 and 2 give bit-identical results.
func TestConvChainReuse(t *testing.T) {
	defer goruntime.GOMAXPROCS(goruntime.GOMAXPROCS(0))
	tc := chainGraphs[0]
	m := mustLoad(t, chainGraph(tc.c, tc.h, tc.w, tc.layers, false, false))
	want := map[int]map[string]Tensor{}
	for _, n := range []int{1, 7} {
		out, err := m.Run(chainInput(n, tc.c, tc.h, tc.w, n))
		if err != nil {
			t.Fatal(err)
		}
		want[n] = out
	}
	for _, procs := range []int{1, 2} {
		goruntime.GOMAXPROCS(procs)
		for _, n := range []int{7, 1} {
			out, err := m.Run(chainInput(n, tc.c, tc.h, tc.w, n))
			if err != nil {
				t.Fatal(err)
			}
			for name, w := range want[n] {
				if ok, i := Within(out[name].Data, w.Data, 0); !ok {
					t.Fatalf("GOMAXPROCS %d batch %d %s[%d] = %v, first call %v", procs, n, name, i, out[name].Data[i], w.Data[i])
				}
				if &out[name].Data[0] == &w.Data[0] {
					t.Fatalf("batch %d %s: two calls returned the same buffer", n, name)
				}
			}
		}
	}
	done := make(chan error)
	for g := 0; g < 6; g++ {
		go func() {
			for it := 0; it < 10; it++ {
				n := []int{1, 7}[(g+it)%2]
				out, err := m.Run(chainInput(n, tc.c, tc.h, tc.w, n))
				if err != nil {
					done <- err
					return
				}
				for name, w := range want[n] {
					if ok, i := Within(out[name].Data, w.Data, 0); !ok {
						done <- fmt.Errorf("batch %d %s[%d] = %v, want %v", n, name, i, out[name].Data[i], w.Data[i])
						return
					}
				}
			}
			done <- nil
		}()
	}
	for g := 0; g < 6; g++ {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}
