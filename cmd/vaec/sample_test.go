package main

import (
	"github.com/vaec/vaec/ir"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vaec/vaec/viz"
)

// pngSize decodes a PNG and returns its size.
func pngSize(t *testing.T, path string) (w, h int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return img.Bounds().Dx(), img.Bounds().Dy()
}

// gridSize is the pixel size of a grid of n 28×28 images in cols columns.
func gridSize(n, cols int) (w, h int) {
	rows := (n + cols - 1) / cols
	return viz.Pad + cols*(28+viz.Pad), viz.Pad + rows*(28+viz.Pad)
}

func testSample(t *testing.T, dir string, m *ir.Model, onnxDec string) {
	out := t.TempDir()
	code, stdout, errOut := vaecCmd(t, "sample", "--dir", dir, "--n", "10", "--cols", "4",
		"--out", filepath.Join(out, "s.png"), "--traversal", filepath.Join(out, "t.png"), "--steps", "5")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(stdout, "10 samples") {
		t.Errorf("stdout: %q", stdout)
	}
	for _, g := range []struct {
		file    string
		n, cols int
	}{{"s.png", 10, 4}, {"t.png", 5 * m.Latent, 5}} {
		w, h := pngSize(t, filepath.Join(out, g.file))
		if ww, wh := gridSize(g.n, g.cols); w != ww || h != wh {
			t.Errorf("%s is %d×%d, want %d×%d", g.file, w, h, ww, wh)
		}
	}
	// The same draws from the checkpoint and from the ONNX decoder alone.
	code, _, errOut = vaecCmd(t, "sample", "--dir", dir, "--n", "6", "--seed", "9", "--out", filepath.Join(out, "g.npy"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	code, _, errOut = vaecCmd(t, "sample", "--decoder", onnxDec, "--n", "6", "--seed", "9", "--out", filepath.Join(out, "o.csv"))
	if code != 0 {
		t.Fatalf("ONNX: exit %d: %s", code, errOut)
	}
	g := loadMatrix(t, filepath.Join(out, "g.npy"), m.Input.Size, false)
	o := loadMatrix(t, filepath.Join(out, "o.csv"), m.Input.Size, true)
	if g.N != 6 || o.N != 6 {
		t.Fatalf("%d and %d samples, want 6", g.N, o.N)
	}
	for i := range g.X {
		if math.Abs(float64(g.X[i]-o.X[i])) > 1e-5 {
			t.Fatalf("value %d: checkpoint %v, ONNX %v", i, g.X[i], o.X[i])
		}
	}
}

func TestImageShape(t *testing.T) {
	tests := []struct {
		shape   []int
		flag    string
		c, h, w int
		err     string
	}{
		{[]int{784}, "", 1, 28, 28, ""},
		{[]int{1, 28, 28}, "", 1, 28, 28, ""},
		{[]int{3, 32, 32}, "", 3, 32, 32, ""},
		{[]int{28, 28}, "", 1, 28, 28, ""},
		{[]int{784}, "14x56", 1, 14, 56, ""},
		{[]int{12}, "3x2x2", 3, 2, 2, ""},
		{[]int{10}, "", 0, 0, 0, "not images"},
		{[]int{2, 5, 5}, "", 0, 0, 0, "not images"},
		{[]int{784}, "28", 0, 0, 0, "HxW"},
		{[]int{784}, "axb", 0, 0, 0, "HxW"},
		{[]int{784}, "2x14x28", 0, 0, 0, "1 or 3 channels"},
		{[]int{784}, "20x20", 0, 0, 0, "400 values"},
	}
	for _, tc := range tests {
		size := 1
		for _, d := range tc.shape {
			size *= d
		}
		c, h, w, err := imageShape(ir.Input{Shape: tc.shape, Size: size}, tc.flag)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%v %q: got %v, want error %q", tc.shape, tc.flag, err, tc.err)
			}
			continue
		}
		if err != nil || c != tc.c || h != tc.h || w != tc.w {
			t.Errorf("%v %q: got %d×%d×%d %v, want %d×%d×%d", tc.shape, tc.flag, c, h, w, err, tc.c, tc.h, tc.w)
		}
	}
}
