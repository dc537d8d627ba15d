package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/vaec/vaec/dataset"
	"github.com/vaec/vaec/export"
	"github.com/vaec/vaec/ir"
	"github.com/vaec/vaec/runtime"
	"github.com/vaec/vaec/runtime/ort"
)

// TestScore trains a small MNIST model with a threshold, then checks that
// `vaec score` writes one row per example, that score.onnx in vaec's
// runtime and in ONNX Runtime reproduces its score column on raw pixels
// within 1e-5 relative, and that the threshold flags at most the requested
// share of the validation records it was fitted on.
func TestScore(t *testing.T) {
	work := t.TempDir()
	mnist, _ := filepath.Abs(filepath.Join("..", "..", "testdata", "mnist", "t10k-images-idx3-ubyte.gz"))
	spec := `vaec: 1
name: score-test
input: {shape: [784], scale: 1/255}
latent: 4
encoder: [{units: 32}]
decoder: [{units: 32}]
train: {epochs: 1, batch_size: 100}
data:
  train: {path: ` + mnist + `, limit: 600}
  validation: {path: ` + mnist + `, start: 9800}
anomaly: {false_positive_rate: 0.1}
`
	specPath := filepath.Join(work, "spec.yaml")
	if err := os.WriteFile(specPath, []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(work, "build")
	if code, _, errOut := vaecCmd(t, "run", "-q", "--dir", dir, specPath); code != exitOK {
		t.Fatalf("run: exit %d: %s", code, errOut)
	}
	out := filepath.Join(work, "scores.csv")
	code, stdout, errOut := vaecCmd(t, "score", "--dir", dir, "--out", out)
	if code != exitOK {
		t.Fatalf("score: exit %d: %s", code, errOut)
	}
	if !strings.Contains(stdout, "20 of 200 examples are outliers") && !strings.Contains(stdout, "of 200 examples are outliers") {
		t.Errorf("score did not report outliers: %s", stdout)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if lines[0] != "index,score,recon,kl,outlier" || len(lines) != 201 {
		t.Fatalf("scores.csv: header %q and %d rows, want index,score,recon,kl,outlier and 200", lines[0], len(lines)-1)
	}
	scores := make([]float64, 200)
	flagged := 0
	for i, l := range lines[1:] {
		f := strings.Split(l, ",")
		if f[0] != strconv.Itoa(i) {
			t.Fatalf("row %d has index %s", i, f[0])
		}
		s, _ := strconv.ParseFloat(f[1], 64)
		rec, _ := strconv.ParseFloat(f[2], 64)
		kl, _ := strconv.ParseFloat(f[3], 64)
		if math.Abs(s-(rec+kl)) > 1e-9*math.Abs(s) || !(kl >= 0) {
			t.Errorf("row %d: score %v is not recon %v + kl %v", i, s, rec, kl)
		}
		scores[i] = s
		if f[4] == "1" {
			flagged++
		}
	}
	if flagged > 20 {
		t.Errorf("%d of 200 validation records flagged at a false-positive rate of 0.1", flagged)
	}

	// score.onnx on the raw pixels of the same records.
	set, err := dataset.Load(ir.Source{Path: mnist, Format: ir.FormatIDXGz, Start: 9800}, ir.Input{Shape: ir.Shape{784}, Size: 784, Scale: 1})
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "score.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	rm, err := runtime.Load(data)
	if err != nil {
		t.Fatal(err)
	}
	if th := rm.Metadata()[export.MetaThreshold]; th == "" {
		t.Error("score.onnx has no threshold in its metadata")
	}
	in := map[string]runtime.Tensor{ir.InputX: {Shape: []int{200, 784}, Data: set.X}}
	got, err := rm.Run(in)
	if err != nil {
		t.Fatal(err)
	}
	checkScores := func(judge string, got []float32) {
		t.Helper()
		if len(got) != 200 {
			t.Fatalf("%s: %d scores", judge, len(got))
		}
		for i, g := range got {
			if d := math.Abs(float64(g) - scores[i]); d > 1e-5*math.Abs(scores[i]) {
				t.Errorf("%s: score %d is %v, vaec score says %v", judge, i, g, scores[i])
				return
			}
		}
	}
	checkScores("runtime", got[ir.OutputScore].Data)
	if err := ort.Init(ort.FindLibrary("")); err != nil {
		if os.Getenv(ort.EnvRequire) == "1" {
			t.Fatal(err)
		}
		t.Logf("ONNX Runtime not checked: %v", err)
	} else {
		s, err := ort.NewSession(data, []string{ir.InputX}, []string{ir.OutputScore, ir.OutputMu}, ort.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		og, err := s.Run(in)
		if err != nil {
			t.Fatal(err)
		}
		checkScores("onnxruntime", og[ir.OutputScore].Data)
	}

	// The sidecar describes the files and the threshold.
	sb, err := os.ReadFile(filepath.Join(dir, export.SidecarFile))
	if err != nil {
		t.Fatal(err)
	}
	sc, err := export.ReadSidecar(sb)
	if err != nil {
		t.Fatal(err)
	}
	if sc.Anomaly == nil || sc.Anomaly.FalsePositiveRate != 0.1 || sc.Input.Preprocessing != "inside" || sc.Files["score"].File != "score.onnx" {
		t.Errorf("sidecar: %s", sb)
	}

	// JSON and --k: elbo and nll columns, nll below the deterministic score on average.
	jout := filepath.Join(work, "scores.json")
	if code, _, errOut := vaecCmd(t, "score", "--dir", dir, "--k", "50", "--out", jout, "-q"); code != exitOK {
		t.Fatalf("score --k: exit %d: %s", code, errOut)
	}
	var js struct {
		Columns []string         `json:"columns"`
		Rows    []map[string]any `json:"rows"`
	}
	jb, _ := os.ReadFile(jout)
	if err := json.Unmarshal(jb, &js); err != nil || len(js.Rows) != 200 || strings.Join(js.Columns, ",") != "index,score,recon,kl,elbo,nll,outlier" {
		t.Fatalf("scores.json: %v, %d rows, columns %v", err, len(js.Rows), js.Columns)
	}
	var nll, sc0 float64
	for _, r := range js.Rows {
		nll += r["nll"].(float64)
		sc0 += r["score"].(float64)
	}
	if !(nll < sc0) {
		t.Errorf("mean -log p(x) %v is not below the mean score %v (the importance-sampled bound is tighter)", nll/200, sc0/200)
	}
}
