package ort

import (
	"os"
	"sort"
	"testing"
	"time"

	"github.com/vaec/vaec/runtime"
	ow "github.com/vaec/vaec/runtime/internal/onnxwire"
)

// convVAE builds the conv VAE of the convolution issue for 28×28 images:
// encoder conv 1→32 k4 s2 p1, conv 32→64 k4 s2 p1, dense 3136→20 (mu);
// decoder dense 20→3136, view [64, 7, 7], convT 64→32 k4 s2 p1, convT
// 32→1 k4 s2 p1, sigmoid. Weights are small fixed values.
func convVAE() (enc, dec []byte) {
	w := func(name string, dims ...int64) ow.PB {
		n := int64(1)
		for _, d := range dims {
			n *= d
		}
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(i%13-6) / 64
		}
		return ow.Tensor(name, dims, v)
	}
	conv := []ow.Attr{ow.IntsAttr("kernel_shape", 4, 4), ow.IntsAttr("strides", 2, 2), ow.IntsAttr("pads", 1, 1, 1, 1)}
	enc = ow.Graph{
		Nodes: []ow.PB{
			ow.Node("c1", "Conv", []string{"x", "w1", "b1"}, []string{"h1"}, conv...),
			ow.Node("r1", "Relu", []string{"h1"}, []string{"a1"}),
			ow.Node("c2", "Conv", []string{"a1", "w2", "b2"}, []string{"h2"}, conv...),
			ow.Node("r2", "Relu", []string{"h2"}, []string{"a2"}),
			ow.Node("f", "Flatten", []string{"a2"}, []string{"flat"}),
			ow.Node("mu", "Gemm", []string{"flat", "w3", "b3"}, []string{"mu"}, ow.IntAttr("transB", 1)),
		},
		Inits:   []ow.PB{w("w1", 32, 1, 4, 4), w("b1", 32), w("w2", 64, 32, 4, 4), w("b2", 64), w("w3", 20, 3136), w("b3", 20)},
		Inputs:  []ow.PB{ow.ValueInfo("x", "N", 1, 28, 28)},
		Outputs: []ow.PB{ow.ValueInfo("mu", "N", 20)},
	}.Bytes()
	dec = ow.Graph{
		Nodes: []ow.PB{
			ow.Node("fc", "Gemm", []string{"z", "w1", "b1"}, []string{"h"}, ow.IntAttr("transB", 1)),
			ow.Node("r0", "Relu", []string{"h"}, []string{"a"}),
			ow.Node("v", "Reshape", []string{"a", "shape"}, []string{"img"}),
			ow.Node("t1", "ConvTranspose", []string{"img", "w2", "b2"}, []string{"h1"}, conv...),
			ow.Node("r1", "Relu", []string{"h1"}, []string{"a1"}),
			ow.Node("t2", "ConvTranspose", []string{"a1", "w3", "b3"}, []string{"h2"}, conv...),
			ow.Node("s", "Sigmoid", []string{"h2"}, []string{"probs"}),
		},
		Inits: []ow.PB{w("w1", 3136, 20), w("b1", 3136), ow.Int64Tensor("shape", []int64{-1, 64, 7, 7}),
			w("w2", 64, 32, 4, 4), w("b2", 32), w("w3", 32, 1, 4, 4), w("b3", 1)},
		Inputs:  []ow.PB{ow.ValueInfo("z", "N", 20)},
		Outputs: []ow.PB{ow.ValueInfo("probs", "N", 1, 28, 28)},
	}.Bytes()
	return enc, dec
}

// TestConvSpeed times vaec's runtime against ONNX Runtime (1 intra-op
// thread and 2, the better kept) on the conv VAE at batch 1 and 256,
// interleaved rounds of about 0.5 s, and logs the medians. It checks
// that both agree and asserts nothing about speed (the machine is
// shared); run it with VAEC_BENCH_CONV=1.
func TestConvSpeed(t *testing.T) {
	if os.Getenv("VAEC_BENCH_CONV") != "1" {
		t.Skip("set VAEC_BENCH_CONV=1 to time the conv VAE against ONNX Runtime")
	}
	start(t)
	enc, dec := convVAE()
	for _, c := range []struct {
		name, in, out string
		data          []byte
		row           []int
	}{{"encoder", "x", "mu", enc, []int{1, 28, 28}}, {"decoder", "z", "probs", dec, []int{20}}} {
		m, err := runtime.Load(c.data)
		if err != nil {
			t.Fatal(err)
		}
		var sessions []*Session
		for _, th := range []int{1, 2} {
			s, err := NewSession(c.data, []string{c.in}, []string{c.out}, Options{Threads: th})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			sessions = append(sessions, s)
		}
		for _, batch := range []int{1, 256} {
			shape := append([]int{batch}, c.row...)
			x := make([]float32, batch)
			x = make([]float32, len(x)*func() int {
				n := 1
				for _, d := range c.row {
					n *= d
				}
				return n
			}())
			for i := range x {
				x[i] = float32(i%17) / 17
			}
			in := map[string]runtime.Tensor{c.in: {Shape: shape, Data: x}}
			want, err := sessions[0].Run(in)
			if err != nil {
				t.Fatal(err)
			}
			got, err := m.Run(in)
			if err != nil {
				t.Fatal(err)
			}
			if ok, worst := runtime.Within(got[c.out].Data, want[c.out].Data, 1e-4); !ok {
				t.Fatalf("%s batch %d: vaec and ONNX Runtime differ at %d", c.name, batch, worst)
			}
			rate := func(run func() error) float64 {
				n, t0 := 0, time.Now()
				for time.Since(t0) < 500*time.Millisecond {
					if err := run(); err != nil {
						t.Fatal(err)
					}
					n++
				}
				return float64(n*batch) / time.Since(t0).Seconds()
			}
			var ours, theirs []float64
			for round := 0; round < 5; round++ {
				ours = append(ours, rate(func() error { _, err := m.Run(in); return err }))
				best := 0.0
				for _, s := range sessions {
					best = max(best, rate(func() error { _, err := s.Run(in); return err }))
				}
				theirs = append(theirs, best)
			}
			mo, mt := median(ours), median(theirs)
			t.Logf("%s batch %3d: vaec %8.0f samples/s, ORT %8.0f samples/s, ratio %.2fx (rounds vaec %.0f, ORT %.0f)", c.name, batch, mo, mt, mo/mt, ours, theirs)
		}
	}
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[len(s)/2]
}
