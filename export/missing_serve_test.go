package export_test

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/vaec/vaec/checkpoint"
	"github.com/vaec/vaec/conformance"
	"github.com/vaec/vaec/dataset"
	"github.com/vaec/vaec/export"
	"github.com/vaec/vaec/ir"
	"github.com/vaec/vaec/runtime"
	"github.com/vaec/vaec/runtime/ort"
	"github.com/vaec/vaec/vae"
)

// missingCSV has empty and NaN cells; its last row is the fill itself, so
// that the all-missing row must score exactly as it does.
const missingCSV = `a,b,c,d
1,2,3,4
,5,NaN,7
8,NaN,9,
NaN,,,NaN
12.5,-3,0.5,900
10,-3,0.25,1000
`

// TestMissingMeanServes: rows with missing cells, sent to score.onnx as
// NaN, give the score and mu that the loader's fill and the training graph
// give (what vaec score prints), in vaec's runtime and in ONNX Runtime.
func TestMissingMeanServes(t *testing.T) {
	m, err := ir.NewMLP("missing", ir.Shape{4}, 3,
		[]ir.DenseLayer{{Units: 6, Activation: ir.Tanh}}, []ir.DenseLayer{{Units: 6, Activation: ir.Tanh}},
		ir.Likelihood{Kind: ir.GaussianFixed, Sigma: 0.5}, ir.Linear)
	if err != nil {
		t.Fatal(err)
	}
	in := &m.Input
	in.Scale, in.Offset = 0.5, 1
	in.Normalize = ir.NormalizeStandardize
	in.FeatureScale = []float64{0.2, 1, 4, 0.01}
	in.FeatureShift = []float64{-3, 2.5, -2, -6}
	in.Missing, in.Fill = ir.MissingMean, []float64{10, -3, 0.25, 1000}
	w := lcgWeights(m)

	path := filepath.Join(t.TempDir(), "rows.csv")
	if err := os.WriteFile(path, []byte(missingCSV), 0o644); err != nil {
		t.Fatal(err)
	}
	src := ir.Source{Path: path, Format: ir.FormatCSV}

	// The loader's path: the fill, the scaling and normalisation, the graph.
	set, err := dataset.Load(src, m.Input)
	if err != nil {
		t.Fatal(err)
	}
	v, err := vae.FromWeights(m, w, 1, "test weights")
	if err != nil {
		t.Fatal(err)
	}
	want, err := v.Score(context.Background(), set, 1, 1, nil)
	if err != nil {
		t.Fatal(err)
	}

	// The rows as a caller sends them: raw, missing cells NaN.
	rawIn := dataset.RawInput(m.Input)
	rawIn.Fill = nil
	raw, err := dataset.Load(src, rawIn)
	if err != nil {
		t.Fatal(err)
	}
	nans := 0
	for _, x := range raw.X {
		if x != x {
			nans++
		}
	}
	if nans != 8 {
		t.Fatalf("%d NaN in the raw rows, want the file's 8 missing cells", nans)
	}

	data, err := export.Score(m, w, export.Options{})
	if err != nil {
		t.Fatal(err)
	}
	conformance.CheckAll(t, map[string][]byte{"score.onnx": data})
	x := runtime.Tensor{Shape: []int{raw.N, raw.D}, Data: raw.X}

	rm, err := runtime.Load(data)
	if err != nil {
		t.Fatal(err)
	}
	got, err := rm.Run(map[string]runtime.Tensor{ir.InputX: x})
	if err != nil {
		t.Fatal(err)
	}
	checkScore(t, "vaec runtime", got, want.Score, want.Mu)
	if s := got[ir.OutputScore].Data; s[3] != s[5] {
		t.Errorf("vaec runtime: the all-missing row scores %v, the row of the means %v: want them equal", s[3], s[5])
	}

	if err := ort.Init(ort.FindLibrary("")); err != nil {
		if errors.Is(err, ort.ErrUnavailable) && os.Getenv(ort.EnvRequire) != "1" {
			t.Skipf("ONNX Runtime part skipped: %v (set %s, or %s=1 to fail)", err, ort.EnvLib, ort.EnvRequire)
		}
		t.Fatal(err)
	}
	s, err := ort.NewSession(data, []string{ir.InputX}, []string{ir.OutputScore, ir.OutputMu}, ort.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err = s.Run(map[string]runtime.Tensor{ir.InputX: x})
	if err != nil {
		t.Fatal(err)
	}
	checkScore(t, "ONNX Runtime", got, want.Score, want.Mu)
}

// checkScore compares a run of score.onnx with the loader path: the score
// within 1e-5 relative, mu within 1e-5 in runtime.Within's mixed sense
// (absolute near 0, where a relative bound means nothing).
func checkScore(t *testing.T, who string, got map[string]runtime.Tensor, score []float64, mu []float32) {
	t.Helper()
	s := got[ir.OutputScore].Data
	if len(s) != len(score) {
		t.Fatalf("%s: %d scores, want %d", who, len(s), len(score))
	}
	for i := range s {
		if d := math.Abs(float64(s[i]) - score[i]); !(d <= 1e-5*math.Abs(score[i])) {
			t.Errorf("%s: row %d scores %v, the loader path %v (relative difference %.2g)", who, i, s[i], score[i], d/math.Abs(score[i]))
		}
	}
	if ok, i := runtime.Within(got[ir.OutputMu].Data, mu, 1e-5); !ok {
		t.Errorf("%s: mu[%d] = %v, the loader path %v", who, i, got[ir.OutputMu].Data[max(i, 0)], mu[max(i, 0)])
	}
}

// lcgWeights fills every parameter with small deterministic values.
func lcgWeights(m *ir.Model) map[string]checkpoint.Tensor {
	w := map[string]checkpoint.Tensor{}
	state := uint32(2026)
	for _, p := range m.Params {
		t := checkpoint.Tensor{Shape: append([]int(nil), p.Shape...), Data: make([]float32, p.Size())}
		for i := range t.Data {
			state = state*1664525 + 1013904223
			t.Data[i] = float32(int32(state>>8)%2000-1000) / 1500
		}
		w[p.Name] = t
	}
	return w
}
