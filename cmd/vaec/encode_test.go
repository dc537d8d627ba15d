package main

import (
	"github.com/vaec/vaec/ir"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func testEncode(t *testing.T, dir string, m *ir.Model, onnxEnc, data string) {
	out := t.TempDir()
	L := m.Latent
	code, stdout, errOut := vaecCmd(t, "encode", "--dir", dir, "--out", filepath.Join(out, "mu.npy"),
		"--logvar-out", filepath.Join(out, "lv.csv"), "--scatter", filepath.Join(out, "sc.png"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(stdout, "posterior means") || !strings.Contains(stdout, "scatter") {
		t.Errorf("stdout: %q", stdout)
	}
	mu := loadMatrix(t, filepath.Join(out, "mu.npy"), L, false)
	lv := loadMatrix(t, filepath.Join(out, "lv.csv"), L, true)
	if mu.N == 0 || mu.N != lv.N {
		t.Fatalf("%d means, %d log-variances", mu.N, lv.N)
	}
	head, err := os.ReadFile(filepath.Join(out, "lv.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(head), "logvar_0,logvar_1,") {
		t.Errorf("CSV header: %.40q", head)
	}
	if w, h := pngSize(t, filepath.Join(out, "sc.png")); w < 100 || h < 100 {
		t.Errorf("scatter is %d×%d", w, h)
	}
	// The ONNX encoder alone, on the same images given explicitly.
	code, _, errOut = vaecCmd(t, "encode", "--dir", dir, "--data", data, "--n", "7", "--out", filepath.Join(out, "g.npy"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	code, _, errOut = vaecCmd(t, "encode", "--encoder", onnxEnc, "--data", data, "--n", "7", "--out", filepath.Join(out, "o.npy"))
	if code != 0 {
		t.Fatalf("ONNX: exit %d: %s", code, errOut)
	}
	g := loadMatrix(t, filepath.Join(out, "g.npy"), L, false)
	o := loadMatrix(t, filepath.Join(out, "o.npy"), L, false)
	if g.N != 7 || o.N != 7 {
		t.Fatalf("%d and %d rows, want 7", g.N, o.N)
	}
	for i := range g.X {
		if math.Abs(float64(g.X[i]-o.X[i])) > 1e-4*math.Max(1, math.Abs(float64(g.X[i]))) {
			t.Fatalf("value %d: checkpoint %v, ONNX %v", i, g.X[i], o.X[i])
		}
	}
}

func TestEncodeNPYReadsBack(t *testing.T) {
	dir := t.TempDir()
	for _, shape := range [][]int{{1, 1}, {3, 5}, {10, 100}} {
		n, cols := shape[0], shape[1]
		data := make([]float32, n*cols)
		for i := range data {
			data[i] = float32(i)*0.5 - 3
		}
		p := filepath.Join(dir, "m.npy")
		if err := writeMatrix(p, data, n, cols, "v"); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if hl := 10 + int(b[8]) + int(b[9])<<8; hl%64 != 0 {
			t.Errorf("%v: data starts at byte %d, not a multiple of 64", shape, hl)
		}
		set := loadMatrix(t, p, cols, false)
		if set.N != n {
			t.Fatalf("%v: read %d rows", shape, set.N)
		}
		for i := range data {
			if set.X[i] != data[i] {
				t.Fatalf("%v: value %d reads %v, wrote %v", shape, i, set.X[i], data[i])
			}
		}
	}
}

func TestScatterPoints(t *testing.T) {
	// Unit 2 varies most, unit 0 next, unit 1 not at all.
	mu := []float32{
		1, 0, 10,
		-1, 0, -10,
		0.5, 0, 3,
	}
	xy, xl, yl, err := scatterPoints(mu, 3, 3)
	if err != nil {
		t.Fatal(err)
	}
	if xl != "z0" || yl != "z2" {
		t.Errorf("axes %s, %s; want z0, z2", xl, yl)
	}
	want := []float32{1, 10, -1, -10, 0.5, 3}
	for i := range want {
		if xy[i] != want[i] {
			t.Fatalf("points %v, want %v", xy, want)
		}
	}
	if _, _, _, err := scatterPoints([]float32{1, 2}, 2, 1); err == nil {
		t.Error("1-dimensional latent space: no error")
	}
}
