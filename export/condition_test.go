package export_test

import (
	"context"
	"errors"
	"os"
	"testing"

	"github.com/vaec/vaec/checkpoint"
	"github.com/vaec/vaec/conformance"
	"github.com/vaec/vaec/dataset"
	"github.com/vaec/vaec/export"
	"github.com/vaec/vaec/graph"
	"github.com/vaec/vaec/ir"
	"github.com/vaec/vaec/runtime"
	"github.com/vaec/vaec/runtime/ort"
	"github.com/vaec/vaec/vae"
)

// TestConditionalFiles: a conditional model's encoder, decoder and score
// files take y and give what the graph gives (the score what vaec score
// prints, with each row's label), in vaec's runtime and in ONNX Runtime;
// the checker accepts them and the metadata records the classes.
func TestConditionalFiles(t *testing.T) {
	m, err := ir.NewMLPWith(func(m *ir.Model) { m.Condition = ir.Condition{Classes: 3} }, "cond", ir.Shape{5}, 2,
		[]ir.DenseLayer{{Units: 6, Activation: ir.Tanh}}, []ir.DenseLayer{{Units: 6, Activation: ir.Tanh}},
		ir.Likelihood{Kind: ir.Bernoulli}, ir.Linear)
	if err != nil {
		t.Fatal(err)
	}
	w := lcgWeights(m)
	x := []float32{0, 1, 0.5, 0.25, 1, 1, 1, 0, 0, 0, 0.1, 0.9, 0.3, 0.7, 0.5, 0.2, 0.2, 0.2, 0.2, 0.2}
	labels := []int{0, 2, 1, 2}
	y, err := graph.OneHot(labels, 3)
	if err != nil {
		t.Fatal(err)
	}
	mu, lv, err := graph.EncodeY(m, w, x, y, 4)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := graph.DecodeY(m, w, mu, y, 4)
	if err != nil {
		t.Fatal(err)
	}
	v, err := vae.FromWeights(m, w, 1, "test weights")
	if err != nil {
		t.Fatal(err)
	}
	if err := v.SetLabels(labels); err != nil {
		t.Fatal(err)
	}
	want, err := v.Score(context.Background(), &dataset.Set{X: x, N: 4, D: 5, Labels: labels}, 1, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for role, fn := range map[string]func(*ir.Model, map[string]checkpoint.Tensor, export.Options) ([]byte, error){
		"encoder": export.Encoder, "decoder": export.Decoder, "score": export.Score, "roundtrip": export.RoundTrip,
	} {
		if files[role], err = fn(m, w, export.Options{}); err != nil {
			t.Fatalf("%s: %v", role, err)
		}
	}
	conformance.CheckAll(t, files)
	xs := runtime.Tensor{Shape: []int{4, 5}, Data: x}
	ys := runtime.Tensor{Shape: []int{4, 3}, Data: y}
	zs := runtime.Tensor{Shape: []int{4, 2}, Data: mu}
	type run func(file string, in map[string]runtime.Tensor, outs []string) (map[string]runtime.Tensor, error)
	check := func(who string, r run) {
		got, err := r("encoder", map[string]runtime.Tensor{ir.InputX: xs, ir.InputY: ys}, []string{ir.OutputMu, ir.OutputLogvar})
		if err != nil {
			t.Fatal(err)
		}
		for name, ref := range map[string][]float32{ir.OutputMu: mu, ir.OutputLogvar: lv} {
			if ok, i := runtime.Within(got[name].Data, ref, 1e-5); !ok {
				t.Errorf("%s: encoder %s[%d] = %v, the graph %v", who, name, i, got[name].Data[max(i, 0)], ref[max(i, 0)])
			}
		}
		got, err = r("decoder", map[string]runtime.Tensor{ir.InputZ: zs, ir.InputY: ys}, []string{ir.OutputProbs})
		if err != nil {
			t.Fatal(err)
		}
		if ok, i := runtime.Within(got[ir.OutputProbs].Data, dec[ir.OutputProbs], 1e-5); !ok {
			t.Errorf("%s: decoder probs[%d] = %v, the graph %v", who, i, got[ir.OutputProbs].Data[max(i, 0)], dec[ir.OutputProbs][max(i, 0)])
		}
		got, err = r("score", map[string]runtime.Tensor{ir.InputX: xs, ir.InputY: ys}, []string{ir.OutputScore, ir.OutputMu})
		if err != nil {
			t.Fatal(err)
		}
		checkScore(t, who, got, want.Score, want.Mu)
	}
	check("vaec runtime", func(file string, in map[string]runtime.Tensor, _ []string) (map[string]runtime.Tensor, error) {
		rm, err := runtime.Load(files[file])
		if err != nil {
			return nil, err
		}
		if file == "decoder" && rm.Metadata()[export.MetaConditionClasses] != "3" {
			t.Errorf("metadata %s = %q", export.MetaConditionClasses, rm.Metadata()[export.MetaConditionClasses])
		}
		return rm.Run(in)
	})
	if err := ort.Init(ort.FindLibrary("")); err != nil {
		if errors.Is(err, ort.ErrUnavailable) && os.Getenv(ort.EnvRequire) != "1" {
			t.Skipf("ONNX Runtime part skipped: %v (set %s, or %s=1 to fail)", err, ort.EnvLib, ort.EnvRequire)
		}
		t.Fatal(err)
	}
	check("ONNX Runtime", func(file string, in map[string]runtime.Tensor, outs []string) (map[string]runtime.Tensor, error) {
		names := []string{ir.InputX, ir.InputY}
		if file == "decoder" {
			names[0] = ir.InputZ
		}
		s, err := ort.NewSession(files[file], names, outs, ort.Options{Threads: 1})
		if err != nil {
			return nil, err
		}
		defer s.Close()
		return s.Run(in)
	})
}
