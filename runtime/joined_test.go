package runtime

import (
	"fmt"
	"math"
	goruntime "runtime"
	"testing"

	ow "github.com/vaec/vaec/runtime/internal/onnxwire"
)

// mlpGraph is a decoder-shaped MLP: z[N,lat] → Gemm+Relu → Gemm+Tanh →
// Gemm+Sigmoid → p, with raw = p·255 − c (a row) and flip = 1 − p derived
// from p. With hidden set the first hidden layer is a graph output too,
// and a side head reads it: it then does not join the next layer.
func mlpGraph(lat, h1, h2, n int, hidden bool) []byte {
	w := func(name string, r, c int, scale float32) ow.PB {
		return filledTensor(name, []int64{int64(r), int64(c)}, func(i int) float32 { return scale * float32((i*7919)%201-100) / 100 })
	}
	b := func(name string, n int) ow.PB {
		return filledTensor(name, []int64{int64(n)}, func(i int) float32 { return float32(i%5-2) / 10 })
	}
	g := ow.Graph{
		Nodes: []ow.PB{
			ow.Node("fc1", "Gemm", []string{"z", "W1", "b1"}, []string{"a1"}),
			ow.Node("relu", "Relu", []string{"a1"}, []string{"h1"}),
			ow.Node("fc2", "Gemm", []string{"h1", "W2", "b2"}, []string{"a2"}),
			ow.Node("tanh", "Tanh", []string{"a2"}, []string{"h2"}),
			ow.Node("fc3", "Gemm", []string{"h2", "W3", "b3"}, []string{"a3"}),
			ow.Node("sig", "Sigmoid", []string{"a3"}, []string{"p"}),
			ow.Node("unscale", "Mul", []string{"p", "u"}, []string{"pu"}),
			ow.Node("unshift", "Sub", []string{"pu", "c"}, []string{"raw"}),
			ow.Node("flip", "Sub", []string{"one", "p"}, []string{"flip"}),
		},
		Inits: []ow.PB{
			w("W1", lat, h1, 0.3), b("b1", h1),
			w("W2", h1, h2, 0.1), b("b2", h2),
			w("W3", h2, n, 0.1), b("b3", n),
			filledTensor("u", []int64{1}, func(int) float32 { return 255 }),
			filledTensor("c", []int64{1, int64(n)}, func(i int) float32 { return float32(i % 7) }),
			filledTensor("one", []int64{}, func(int) float32 { return 1 }),
		},
		Inputs:  []ow.PB{ow.ValueInfo("z", "N", lat)},
		Outputs: []ow.PB{ow.ValueInfo("p", "N", n), ow.ValueInfo("raw", "N", n), ow.ValueInfo("flip", "N", n)},
	}
	if hidden {
		g.Nodes = append(g.Nodes, ow.Node("side", "Gemm", []string{"h1", "Ws"}, []string{"s"}))
		g.Inits = append(g.Inits, w("Ws", h1, 3, 0.1))
		g.Outputs = append(g.Outputs, ow.ValueInfo("s", "N", 3), ow.ValueInfo("h1", "N", h1))
	}
	return g.Bytes()
}

// joins returns, for each dense step of m's plan, whether it joins the
// next one.
func joins(m *Model) []bool {
	var j []bool
	for _, s := range m.steps {
		if s.dense != nil {
			j = append(j, s.dense.joinNext)
		}
	}
	return j
}

// TestJoinedMatchesLayerByLayer: joined dense steps (one parallel phase
// per call for every layer) give bit-identical outputs to the
// layer-by-layer run, on every batch size (below the joining threshold,
// at it, not a multiple of the row tile) and GOMAXPROCS; a hidden layer
// that is also a graph output is not joined.
func TestJoinedMatchesLayerByLayer(t *testing.T) {
	defer goruntime.GOMAXPROCS(goruntime.GOMAXPROCS(0))
	for _, tc := range []struct {
		name  string
		file  []byte
		input string
		width int
		joins []bool
	}{
		{"encoder", vaeGraph(784, 400, 20), "x", 784, []bool{true, false, false}},
		{"decoder", mlpGraph(20, 400, 300, 784, false), "z", 20, []bool{true, true, false}},
		{"hidden output", mlpGraph(20, 40, 30, 50, true), "z", 20, []bool{false, true, false, false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			joined := mustLoad(t, tc.file)
			useJoined = false
			apart := mustLoad(t, tc.file)
			useJoined = true
			if got := joins(joined); fmt.Sprint(got) != fmt.Sprint(tc.joins) {
				t.Errorf("joins %v, want %v", got, tc.joins)
			}
			for _, rows := range []int{1, 31, 32, 33, 37, 256, 263} {
				x := make([]float32, rows*tc.width)
				for i := range x {
					x[i] = float32((i*31+rows)%256) / 255
				}
				in := map[string]Tensor{tc.input: {Shape: []int{rows, tc.width}, Data: x}}
				useJoined = false
				want, err := apart.Run(in)
				useJoined = true
				if err != nil {
					t.Fatal(err)
				}
				for _, procs := range []int{2, 1, 3} {
					goruntime.GOMAXPROCS(procs)
					got, err := joined.Run(in)
					if err != nil {
						t.Fatal(err)
					}
					for name, w := range want {
						g := got[name]
						if !sameShape(g.Shape, w.Shape) {
							t.Fatalf("batch %d: %s has shape %v, want %v", rows, name, g.Shape, w.Shape)
						}
						for i, v := range g.Data {
							if math.Float32bits(v) != math.Float32bits(w.Data[i]) {
								t.Fatalf("batch %d GOMAXPROCS %d: %s[%d] = %v, layer by layer %v", rows, procs, name, i, v, w.Data[i])
							}
						}
					}
				}
			}
		})
	}
}
