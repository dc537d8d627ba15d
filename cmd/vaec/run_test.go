package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vaec/vaec/conformance"
)

// tinySpec is a spec small enough to run the whole pipeline in a test:
// 300 training and 200 validation MNIST images, one epoch. Its parameter
// count by hand: 784·32+32 + 2·(32·4+4) + 4·32+32 + 32·784+784 = 51,416.
const tinySpec = `vaec: 1
name: tiny
input: {shape: [1, 28, 28], scale: 1/255}
latent: 4
encoder: [{units: 32}]
decoder: [{units: 32, activation: tanh}]
likelihood: bernoulli
train: {epochs: 1, batch_size: 64, seed: 7}
data:
  train: {path: MNIST, limit: 300}
  validation: {path: MNIST, start: 9800}
`

func TestRunPipeline(t *testing.T) {
	mnist, err := filepath.Abs(filepath.Join("..", "..", "testdata", "mnist", "t10k-images-idx3-ubyte.gz"))
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir())
	if err := os.WriteFile("tiny.yaml", []byte(strings.ReplaceAll(tinySpec, "MNIST", mnist)), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := vaecExport(t, "run", "--dir", "out", "tiny.yaml")
	if code != exitOK {
		t.Fatalf("vaec run: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	for _, want := range []string{"== build ==", "total parameters: 51,416", "== train ==", "epoch 1/1", "== export ==", "verify: PASS", "ort.InferenceSession"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	models := map[string][]byte{}
	for _, f := range []string{modelFile, specCopy, lastCheckpoint, bestCheckpoint, metricsFile, curvesFile, encoderFile, decoderFile} {
		b, err := os.ReadFile(filepath.Join("out", f))
		if err != nil {
			t.Fatalf("vaec run did not write %s: %v", f, err)
		}
		if strings.HasSuffix(f, ".onnx") {
			models[f] = b
		}
	}
	conformance.CheckAll(t, models)
}

func TestRunUsage(t *testing.T) {
	for _, args := range [][]string{{"run"}, {"run", "a.yaml", "b.yaml"}, {"run", "--epochs", "-1", "a.yaml"}} {
		if code, _, stderr := vaecExport(t, args...); code != exitUsage {
			t.Errorf("vaec %v: exit %d, want %d (stderr %q)", args, code, exitUsage, stderr)
		}
	}
	if code, _, stderr := vaecExport(t, "run", filepath.Join(t.TempDir(), "missing.yaml")); code != exitError || !strings.Contains(stderr, "missing.yaml") {
		t.Errorf("missing spec: exit %d, stderr %q", code, stderr)
	}
}
