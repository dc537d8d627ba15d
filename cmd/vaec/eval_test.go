package main

import (
	"bytes"
	"context"
	"encoding/json"
	"github.com/vaec/vaec/ir"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vaec/vaec/checkpoint"
	"github.com/vaec/vaec/compiler"
	"github.com/vaec/vaec/dataset"
	"github.com/vaec/vaec/export"
	"github.com/vaec/vaec/graph"
)

// inferBuild makes a build directory as build, train and export leave it,
// for the inference verbs (eval, sample, reconstruct, encode): model.json
// from testdata/specs/<spec>, best.safetensors from the real trainer after
// one epoch on 300 training images (enough for weights that depend on the
// data, fast enough for a unit test), and encoder.onnx and decoder.onnx
// exported from it. The validation source is cut to 100 images.
func inferBuild(t *testing.T, spec string) (dir string, m *ir.Model) {
	t.Helper()
	path, err := filepath.Abs(filepath.Join("..", "..", "testdata", "specs", spec))
	if err != nil {
		t.Fatal(err)
	}
	if m, err = compiler.CompileFile(path); err != nil {
		t.Fatal(err)
	}
	m.Data.Train.Limit = 300
	if m.Data.Validation != nil {
		m.Data.Validation.Limit = 100
	}
	dir = t.TempDir()
	if err := compiler.WriteModel(filepath.Join(dir, modelFile), m); err != nil {
		t.Fatal(err)
	}
	train, val, err := loadTrainingData(m)
	if err != nil {
		t.Fatal(err)
	}
	best := filepath.Join(dir, bestCheckpoint)
	res, err := graph.Train(context.Background(), m, graph.TrainOptions{Train: train, Val: val, Epochs: 1, Best: best})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct {
		name string
		fn   func(*ir.Model, map[string]checkpoint.Tensor, export.Options) ([]byte, error)
	}{{encoderFile, export.Encoder}, {decoderFile, export.Decoder}} {
		b, err := f.fn(m, res.Weights, export.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f.name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir, m
}

// vaecCmd runs the command line in-process.
func vaecCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	code = runWith(append([]string{"vaec"}, args...), &o, &e)
	return code, o.String(), e.String()
}

// loadMatrix reads an NPY or CSV matrix with the project's own reader, so
// the files the verbs write are checked by an independent parser.
func loadMatrix(t *testing.T, path string, cols int, header bool) *dataset.Set {
	t.Helper()
	src := ir.Source{Path: path, Format: dataset.InferFormat(path), CSVHeader: header}
	set, err := dataset.Load(src, ir.Input{Shape: []int{cols}, Size: cols, Scale: 1})
	if err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	return set
}

// TestInferenceVerbs runs eval, sample, reconstruct and encode on a small
// trained MNIST model, from the checkpoint and from the ONNX files alone,
// and checks that both sources agree.
func TestInferenceVerbs(t *testing.T) {
	for _, spec := range []string{"mnist-small.yaml", "gaussian.yaml"} {
		t.Run(spec, func(t *testing.T) {
			dir, m := inferBuild(t, spec)
			enc, dec := filepath.Join(dir, encoderFile), filepath.Join(dir, decoderFile)
			// An ONNX-only user: the files copied elsewhere, no build directory.
			alone := t.TempDir()
			for _, f := range []string{enc, dec} {
				b, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(alone, filepath.Base(f)), b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			aEnc, aDec := filepath.Join(alone, encoderFile), filepath.Join(alone, decoderFile)
			data := filepath.Join("..", "..", "testdata", "mnist", "t10k-images-idx3-ubyte.gz")
			t.Run("eval", func(t *testing.T) { testEval(t, dir, m) })
			t.Run("sample", func(t *testing.T) { testSample(t, dir, m, aDec) })
			t.Run("reconstruct", func(t *testing.T) { testReconstruct(t, dir, m, aEnc, aDec, data) })
			t.Run("encode", func(t *testing.T) { testEncode(t, dir, m, aEnc, data) })
		})
	}
}

func testEval(t *testing.T, dir string, m *ir.Model) {
	var reps []evalReport
	for _, src := range [][]string{{}, {"--onnx"}} {
		args := append([]string{"eval", "--dir", dir, "--k", "20", "--n", "40", "--json", "-q"}, src...)
		code, out, errOut := vaecCmd(t, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errOut)
		}
		var r evalReport
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("%v: output is not JSON: %v\n%s", args, err, out)
		}
		// 40 examples, or all of a smaller validation split.
		if r.N <= 0 || r.N > 40 || r.K != 20 || r.Latent != m.Latent {
			t.Errorf("%v: n %d k %d latent %d, want ≤40 20 %d", args, r.N, r.K, r.Latent, m.Latent)
		}
		if !(r.LogPx >= r.ELBO) {
			t.Errorf("%v: log p(x) %.3f below the ELBO %.3f", args, r.LogPx, r.ELBO)
		}
		if math.Abs(r.ELBO+r.Recon+r.KL) > 1e-6*math.Abs(r.ELBO) {
			t.Errorf("%v: ELBO %.4f ≠ −(recon %.4f + KL %.4f)", args, r.ELBO, r.Recon, r.KL)
		}
		if r.ActiveUnits < 0 || r.ActiveUnits > m.Latent || len(r.UnitVariance) != m.Latent {
			t.Errorf("%v: %d active units, %d variances, latent %d", args, r.ActiveUnits, len(r.UnitVariance), m.Latent)
		}
		reps = append(reps, r)
	}
	// Same seed, same draws: the graph and the runtime must give the same
	// figures up to float32 rounding (and the logit clamp, which a model
	// after one epoch does not reach).
	g, o := reps[0], reps[1]
	for _, p := range []struct {
		name      string
		got, want float64
	}{{"elbo", o.ELBO, g.ELBO}, {"log_px", o.LogPx, g.LogPx}, {"kl", o.KL, g.KL}} {
		if math.Abs(p.got-p.want) > 1e-3*math.Max(1, math.Abs(p.want)) {
			t.Errorf("%s: ONNX %.5f, checkpoint %.5f", p.name, p.got, p.want)
		}
	}
	code, out, errOut := vaecCmd(t, "eval", "--dir", dir, "--k", "5", "--n", "10")
	if code != 0 {
		t.Fatalf("table: exit %d: %s", code, errOut)
	}
	for _, want := range []string{"ELBO", "importance-sampled (K=5)", "active units", "validation", "KL"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

func TestDecodeLogits(t *testing.T) {
	m, err := compiler.CompileFile(filepath.Join("..", "..", "testdata", "specs", "mnist-small.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	w := graph.InitWeights(m, 3)
	z := make([]float32, 3*m.Latent)
	for i := range z {
		z[i] = float32(i%7) - 3
	}
	logits, err := graph.DecodeLogits(m, w, z, 3)
	if err != nil {
		t.Fatal(err)
	}
	out, err := graph.Decode(m, w, z, 3)
	if err != nil {
		t.Fatal(err)
	}
	probs := out[ir.OutputProbs]
	if len(logits) != len(probs) {
		t.Fatalf("%d logits, %d probabilities", len(logits), len(probs))
	}
	for i, l := range logits {
		if s := 1 / (1 + math.Exp(-float64(l))); math.Abs(s-float64(probs[i])) > 1e-6 {
			t.Fatalf("element %d: sigmoid(logit %v) = %v, Decode gives %v", i, l, s, probs[i])
		}
	}
	g, err := compiler.CompileFile(filepath.Join("..", "..", "testdata", "specs", "gaussian.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := graph.DecodeLogits(g, graph.InitWeights(g, 1), make([]float32, g.Latent), 1); err == nil || !strings.Contains(err.Error(), "no logits") {
		t.Errorf("gaussian model: got %v, want an error saying it has no logits", err)
	}
}

func TestInferenceErrors(t *testing.T) {
	dir, _ := inferBuild(t, "mnist-small.yaml")
	empty := t.TempDir()
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"eval", "--dir", dir, "--k", "0"}, exitUsage, "--k 0"},
		{[]string{"eval", "--dir", empty}, exitError, "vaec build"},
		{[]string{"eval", "--dir", dir, "--onnx", "--encoder", "x.onnx"}, exitUsage, "not both"},
		{[]string{"eval", "--dir", dir, "--encoder", filepath.Join(dir, encoderFile)}, exitUsage, "--decoder"},
		{[]string{"eval", "--dir", dir, "--split", "test"}, exitUsage, "--split"},
		{[]string{"encode", "--dir", dir, "--labels", "l.idx"}, exitUsage, "--labels goes with --data"},
		{[]string{"eval", "--dir", dir, "--labels", "l.idx"}, exitUsage, "unknown flag --labels"},
		{[]string{"sample", "--dir", dir, "--encoder", "e.onnx"}, exitUsage, "unknown flag --encoder (did you mean --decoder?)"},
		{[]string{"eval", "--dir", dir, "--checkpoint", filepath.Join(empty, "none.safetensors")}, exitError, "no checkpoint"},
		{[]string{"eval", "extra"}, exitUsage, "no arguments"},
		{[]string{"sample", "--dir", dir, "--manifold", filepath.Join(empty, "m.png")}, exitError, "needs 2"},
		{[]string{"sample", "--dir", dir, "--out", filepath.Join(empty, "s.gif")}, exitUsage, ".png, .npy or .csv"},
		{[]string{"sample", "--dir", dir, "--shape", "27x27", "--out", filepath.Join(empty, "s.png")}, exitUsage, "729 values"},
		{[]string{"sample", "--dir", dir, "--n", "0"}, exitUsage, "--n 0"},
		{[]string{"sample", "--decoder", filepath.Join(empty, "missing.onnx")}, exitError, "missing.onnx"},
		{[]string{"reconstruct", "--dir", dir, "--pairs", "0"}, exitUsage, "--pairs"},
		{[]string{"encode", "--dir", dir, "--out", filepath.Join(empty, "e.txt2")}, exitUsage, ".npy or .csv"},
		{[]string{"encode", "--encoder", filepath.Join(dir, encoderFile), "--dir", empty}, exitUsage, "--data"},
		{[]string{"encode", "--dir", dir, "--data", filepath.Join(empty, "nothing.npy")}, exitError, "nothing.npy"},
	}
	for _, tc := range tests {
		code, _, errOut := vaecCmd(t, tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", tc.args, code, errOut, tc.code, tc.want)
		}
	}
	// A refused --manifold is refused before samples.png is written.
	if _, err := os.Stat(filepath.Join(dir, "samples.png")); err == nil {
		t.Error("sample --manifold on a 20-d latent space wrote samples.png before failing")
	}
}
