package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOneModelOneTruth: export, sample, encode and score use the best
// checkpoint of a model with validation data and say so, and ONNX files
// older than the checkpoint beside them draw a warning.
func TestOneModelOneTruth(t *testing.T) {
	work := t.TempDir()
	mnist, _ := filepath.Abs(filepath.Join("..", "..", "testdata", "mnist", "t10k-images-idx3-ubyte.gz"))
	spec := `vaec: 1
name: truth
input: {shape: [784], scale: 1/255}
latent: 2
encoder: [{units: 16}]
decoder: [{units: 16}]
train: {epochs: 1, batch_size: 100}
data:
  train: {path: ` + mnist + `, limit: 300}
  validation: {path: ` + mnist + `, start: 9900}
`
	specPath := filepath.Join(work, "spec.yaml")
	if err := os.WriteFile(specPath, []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(work, "b")
	code, out, errOut := vaecCmd(t, "run", "--dir", dir, specPath)
	if code != exitOK {
		t.Fatalf("run: %d %s", code, errOut)
	}
	best := filepath.Join(dir, bestCheckpoint)
	if !strings.Contains(out, "exporting "+best+" (epoch 1)") {
		t.Errorf("export does not say it exports %s:\n%s", best, out)
	}
	_, out, _ = vaecCmd(t, "sample", "--dir", dir, "--n", "2", "--out", filepath.Join(work, "s.npy"))
	if !strings.Contains(out, best) {
		t.Errorf("sample does not use %s: %s", best, out)
	}
	// Training goes on; the ONNX files stay at epoch 1.
	if code, _, errOut := vaecCmd(t, "train", "--dir", dir, "--resume", "--epochs", "2", "-q"); code != exitOK {
		t.Fatalf("train --resume: %d %s", code, errOut)
	}
	code, _, errOut = vaecCmd(t, "sample", "--dir", dir, "--onnx", "--n", "2", "--out", filepath.Join(work, "s2.npy"))
	if code != exitOK || !strings.Contains(errOut, "were exported at epoch 1, but "+best+" holds epoch 2") {
		t.Errorf("sample --onnx after more training: exit %d, stderr %q; want a warning that the files are older", code, errOut)
	}
}
