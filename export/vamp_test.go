package export_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/vaec/vaec/conformance"
	"github.com/vaec/vaec/dataset"
	"github.com/vaec/vaec/export"
	"github.com/vaec/vaec/ir"
	"github.com/vaec/vaec/runtime"
	"github.com/vaec/vaec/runtime/ort"
	"github.com/vaec/vaec/vae"
)

// TestVampPriorFiles: a VampPrior model's score.onnx gives the score vaec
// score prints (−log p(x|z=mu) + log q(mu|x) − log p(mu), float64 in
// package evaluate) and prior.onnx gives each component's mu and logvar,
// in vaec's runtime and in ONNX Runtime; the onnx checker accepts both,
// and the metadata names the prior.
func TestVampPriorFiles(t *testing.T) {
	m, err := ir.NewMLP("vamp", ir.Shape{5}, 3,
		[]ir.DenseLayer{{Units: 6, Activation: ir.Tanh}}, []ir.DenseLayer{{Units: 6, Activation: ir.Tanh}},
		ir.Likelihood{Kind: ir.Bernoulli}, ir.Linear)
	if err != nil {
		t.Fatal(err)
	}
	m.Prior = ir.Prior{Kind: ir.PriorVamp, Components: 4}
	m.AddPriorParams()
	w := lcgWeights(m)
	v, err := vae.FromWeights(m, w, 1, "test weights")
	if err != nil {
		t.Fatal(err)
	}
	// The last row is far outside the data's range.
	x := []float32{0, 1, 0.5, 0.25, 1, 1, 1, 0, 0, 0, 0.1, 0.9, 0.3, 0.7, 0.5, 40, -40, 40, -40, 40}
	set := &dataset.Set{X: x, N: 4, D: 5}
	want, err := v.Score(context.Background(), set, 1, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	opts := export.Options{Prior: v.Prior}
	score, err := export.Score(m, w, opts)
	if err != nil {
		t.Fatal(err)
	}
	prior, err := export.Prior(m, w, opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := export.Prior(m, w, export.Options{}); err == nil || !strings.Contains(err.Error(), "no components") {
		t.Errorf("prior.onnx without components: %v", err)
	}
	conformance.CheckAll(t, map[string][]byte{"score.onnx": score, "prior.onnx": prior})

	onehot := make([]float32, 4*4)
	for k := 0; k < 4; k++ {
		onehot[k*4+k] = 1
	}
	cmu, clv, _ := v.Prior.ComponentParams()
	xs := runtime.Tensor{Shape: []int{4, 5}, Data: x}
	ys := runtime.Tensor{Shape: []int{4, 4}, Data: onehot}
	check := func(who string, runScore, runPrior func() (map[string]runtime.Tensor, error)) {
		got, err := runScore()
		if err != nil {
			t.Fatal(err)
		}
		checkScore(t, who, got, want.Score, want.Mu)
		got, err = runPrior()
		if err != nil {
			t.Fatal(err)
		}
		for name, ref := range map[string][]float32{ir.OutputMu: cmu, ir.OutputLogvar: clv} {
			if ok, i := runtime.Within(got[name].Data, ref, 1e-6); !ok {
				t.Errorf("%s: prior.onnx %s[%d] = %v, want %v", who, name, i, got[name].Data[max(i, 0)], ref[max(i, 0)])
			}
		}
	}
	rs, err := runtime.Load(score)
	if err != nil {
		t.Fatal(err)
	}
	rp, err := runtime.Load(prior)
	if err != nil {
		t.Fatal(err)
	}
	check("vaec runtime",
		func() (map[string]runtime.Tensor, error) { return rs.Run(map[string]runtime.Tensor{ir.InputX: xs}) },
		func() (map[string]runtime.Tensor, error) {
			return rp.Run(map[string]runtime.Tensor{export.InputComponent: ys})
		})
	md := rp.Metadata()
	if md[export.MetaPrior] != "vamp 4" {
		t.Errorf("metadata %s = %q, want \"vamp 4\"", export.MetaPrior, md[export.MetaPrior])
	}
	if fm, err := export.ReadMetadata(md); err != nil || fm.Prior.Kind != ir.PriorVamp || fm.Prior.Components != 4 {
		t.Errorf("ReadMetadata: %+v, %v", fm, err)
	}

	if err := ort.Init(ort.FindLibrary("")); err != nil {
		if errors.Is(err, ort.ErrUnavailable) && os.Getenv(ort.EnvRequire) != "1" {
			t.Skipf("ONNX Runtime part skipped: %v (set %s, or %s=1 to fail)", err, ort.EnvLib, ort.EnvRequire)
		}
		t.Fatal(err)
	}
	ss, err := ort.NewSession(score, []string{ir.InputX}, []string{ir.OutputScore, ir.OutputMu}, ort.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer ss.Close()
	sp, err := ort.NewSession(prior, []string{export.InputComponent}, []string{ir.OutputMu, ir.OutputLogvar}, ort.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	check("ONNX Runtime",
		func() (map[string]runtime.Tensor, error) { return ss.Run(map[string]runtime.Tensor{ir.InputX: xs}) },
		func() (map[string]runtime.Tensor, error) {
			return sp.Run(map[string]runtime.Tensor{export.InputComponent: ys})
		})
}
