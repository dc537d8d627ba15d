package main

import (
	"github.com/vaec/vaec/ir"
	"math"
	"path/filepath"
	"testing"
)

func testReconstruct(t *testing.T, dir string, m *ir.Model, onnxEnc, onnxDec, data string) {
	out := t.TempDir()
	code, _, errOut := vaecCmd(t, "reconstruct", "--dir", dir, "--n", "6", "--pairs", "3", "--out", filepath.Join(out, "r.png"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	// 6 pairs, 3 per row: 2 rows of 6 images.
	if w, h := pngSize(t, filepath.Join(out, "r.png")); w != 2+6*30 || h != 2+2*30 {
		t.Errorf("reconstructions.png is %d×%d, want %d×%d", w, h, 2+6*30, 2+2*30)
	}
	code, _, errOut = vaecCmd(t, "reconstruct", "--dir", dir, "--n", "4", "--sample", "--out", filepath.Join(out, "s.png"))
	if code != 0 {
		t.Fatalf("--sample: exit %d: %s", code, errOut)
	}
	// The checkpoint and the ONNX files alone (with data given explicitly,
	// the validation images of the spec) reconstruct alike.
	code, _, errOut = vaecCmd(t, "reconstruct", "--dir", dir, "--data", data, "--n", "5", "--out", filepath.Join(out, "g.npy"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	code, _, errOut = vaecCmd(t, "reconstruct", "--encoder", onnxEnc, "--decoder", onnxDec, "--data", data, "--n", "5", "--out", filepath.Join(out, "o.npy"))
	if code != 0 {
		t.Fatalf("ONNX: exit %d: %s", code, errOut)
	}
	g := loadMatrix(t, filepath.Join(out, "g.npy"), m.Input.Size, false)
	o := loadMatrix(t, filepath.Join(out, "o.npy"), m.Input.Size, false)
	if g.N != 5 || o.N != 5 {
		t.Fatalf("%d and %d reconstructions, want 5", g.N, o.N)
	}
	for i := range g.X {
		if math.Abs(float64(g.X[i]-o.X[i])) > 1e-5 {
			t.Fatalf("value %d: checkpoint %v, ONNX %v", i, g.X[i], o.X[i])
		}
	}
}
