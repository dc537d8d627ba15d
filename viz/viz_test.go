package viz

import (
	"bytes"
	"github.com/vaec/vaec/ir"
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestGridLayout(t *testing.T) {
	// Three 2×3 grey images with distinct values, two per row.
	ims := [][]float32{
		{0, 0, 0, 0, 0, 0},
		{1, 1, 1, 1, 1, 1},
		{0.5, 0.5, 0.5, 0.5, 0.5, 0.5},
	}
	img, err := Grid(ims, 1, 2, 3, 2)
	if err != nil {
		t.Fatal(err)
	}
	g := img.(*image.Gray)
	if w, h := g.Bounds().Dx(), g.Bounds().Dy(); w != Pad+2*(3+Pad) || h != Pad+2*(2+Pad) {
		t.Fatalf("size %d×%d", w, h)
	}
	tests := []struct {
		x, y int
		want uint8
	}{
		{0, 0, 0x40},                         // border
		{Pad, Pad, 0},                        // image 0
		{Pad + 3 + Pad, Pad, 255},            // image 1, right of 0
		{Pad + 2, Pad + 1, 0},                // image 0's last pixel
		{Pad, Pad + 2 + Pad, 128},            // image 2, second row
		{Pad + 3 + Pad, Pad + 2 + Pad, 0x40}, // empty cell
	}
	for _, tc := range tests {
		if got := g.GrayAt(tc.x, tc.y).Y; got != tc.want {
			t.Errorf("pixel (%d, %d) = %d, want %d", tc.x, tc.y, got, tc.want)
		}
	}
}

func TestGridRGB(t *testing.T) {
	// One 1×2 RGB image in CHW order: red plane, green plane, blue plane.
	im := []float32{1, 0, 0, 1, 0.5, 0}
	img, err := Grid([][]float32{im}, 3, 1, 2, 4)
	if err != nil {
		t.Fatal(err)
	}
	r, g, b, _ := img.At(Pad, Pad).RGBA()
	if r>>8 != 255 || g>>8 != 0 || b>>8 != 128 {
		t.Errorf("pixel 0 = (%d, %d, %d), want (255, 0, 128)", r>>8, g>>8, b>>8)
	}
	r, g, b, _ = img.At(Pad+1, Pad).RGBA()
	if r>>8 != 0 || g>>8 != 255 || b>>8 != 0 {
		t.Errorf("pixel 1 = (%d, %d, %d), want (0, 255, 0)", r>>8, g>>8, b>>8)
	}
}

func TestGridErrors(t *testing.T) {
	tests := []struct {
		name       string
		ims        [][]float32
		c, h, w, n int
		want       string
	}{
		{"none", nil, 1, 2, 2, 1, "no images"},
		{"channels", [][]float32{{0, 0}}, 2, 1, 1, 1, "channels"},
		{"size", [][]float32{{0, 0, 0}}, 1, 2, 2, 1, "has 3 values"},
		{"cols", [][]float32{{0}}, 1, 1, 1, 0, "columns"},
		{"huge", [][]float32{{0}}, 1, 1 << 20, 1, 1, "out of range"},
	}
	for _, tc := range tests {
		if _, err := Grid(tc.ims, tc.c, tc.h, tc.w, tc.n); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error with %q", tc.name, err, tc.want)
		}
	}
}

func TestZoom(t *testing.T) {
	img, err := Grid([][]float32{{0, 1, 0.5, 0}}, 1, 2, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	z, err := Zoom(img, 3)
	if err != nil {
		t.Fatal(err)
	}
	if z.Bounds().Dx() != 3*img.Bounds().Dx() || z.Bounds().Dy() != 3*img.Bounds().Dy() {
		t.Fatalf("zoomed %v to %v", img.Bounds(), z.Bounds())
	}
	for y := 0; y < z.Bounds().Dy(); y++ {
		for x := 0; x < z.Bounds().Dx(); x++ {
			if z.At(x, y) != img.At(x/3, y/3) {
				t.Fatalf("pixel (%d, %d) = %v, want %v", x, y, z.At(x, y), img.At(x/3, y/3))
			}
		}
	}
	if same, _ := Zoom(img, 1); same != img {
		t.Error("zoom 1 should return the image itself")
	}
	for _, f := range []int{0, 17} {
		if _, err := Zoom(img, f); err == nil {
			t.Errorf("zoom %d: no error", f)
		}
	}
}

func TestToByte(t *testing.T) {
	for _, tc := range []struct {
		v    float32
		want uint8
	}{{-1, 0}, {0, 0}, {0.5, 128}, {1, 255}, {2, 255}, {float32(math.NaN()), 0}, {float32(math.Inf(1)), 255}} {
		if got := toByte(tc.v); got != tc.want {
			t.Errorf("toByte(%v) = %d, want %d", tc.v, got, tc.want)
		}
	}
}

func TestRescale(t *testing.T) {
	in := [][]float32{{0.2, 0.8}}
	Rescale(in)
	if in[0][0] != 0.2 || in[0][1] != 0.8 {
		t.Errorf("values inside [0, 1] changed: %v", in)
	}
	out := [][]float32{{-1, 0}, {3, 1}}
	Rescale(out)
	want := [][]float32{{0, 0.25}, {1, 0.5}}
	for i := range want {
		for j := range want[i] {
			if out[i][j] != want[i][j] {
				t.Fatalf("got %v, want %v", out, want)
			}
		}
	}
}

func TestSplitPairs(t *testing.T) {
	rows, err := Split([]float32{1, 2, 3, 4, 5, 6}, 3, 2)
	if err != nil || len(rows) != 3 || rows[2][1] != 6 {
		t.Fatalf("Split: %v %v", rows, err)
	}
	if _, err := Split([]float32{1, 2, 3}, 2, 2); err == nil {
		t.Error("Split of 3 values into 2×2: no error")
	}
	p, err := Pairs(rows[:2], [][]float32{{9, 9}, {8, 8}})
	if err != nil || len(p) != 4 || p[1][0] != 9 || p[2][0] != 3 {
		t.Fatalf("Pairs: %v %v", p, err)
	}
	if _, err := Pairs(rows, rows[:1]); err == nil {
		t.Error("Pairs of 3 and 1: no error")
	}
}

func TestManifoldZ(t *testing.T) {
	z, err := ManifoldZ(ir.Prior{}, 3)
	if err != nil {
		t.Fatal(err)
	}
	// Quantiles of N(0,1) at 0.05, 0.5, 0.95: −1.645, 0, 1.645.
	q := 1.6448536
	want := []float64{-q, q, 0, q, q, q, -q, 0, 0, 0, q, 0, -q, -q, 0, -q, q, -q}
	if len(z) != len(want) {
		t.Fatalf("%d values, want %d", len(z), len(want))
	}
	for i := range want {
		if math.Abs(float64(z[i])-want[i]) > 1e-5 {
			t.Fatalf("z = %v, want %v", z, want)
		}
	}
	for _, s := range []int{0, 1, 101} {
		if _, err := ManifoldZ(ir.Prior{}, s); err == nil {
			t.Errorf("ManifoldZ(%d): no error", s)
		}
	}
}

func TestTraversalZ(t *testing.T) {
	z, err := TraversalZ([]float32{5, 7}, 3, 2)
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{-2, 7, 0, 7, 2, 7, 5, -2, 5, 0, 5, 2}
	for i := range want {
		if z[i] != want[i] {
			t.Fatalf("z = %v, want %v", z, want)
		}
	}
	for _, tc := range []struct {
		base  []float32
		steps int
		span  float64
	}{{nil, 3, 1}, {[]float32{0}, 1, 1}, {[]float32{0}, 3, 0}, {[]float32{0}, 3, math.Inf(1)}, {[]float32{0}, 3, math.NaN()}} {
		if _, err := TraversalZ(tc.base, tc.steps, tc.span); err == nil {
			t.Errorf("TraversalZ(%v, %d, %v): no error", tc.base, tc.steps, tc.span)
		}
	}
}

func decodePNG(t *testing.T, path string) image.Image {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return img
}

func TestWritePNG(t *testing.T) {
	img, err := Grid([][]float32{{0, 1, 1, 0}}, 1, 2, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "g.png")
	if err := WritePNG(p, img); err != nil {
		t.Fatal(err)
	}
	got := decodePNG(t, p).(*image.Gray)
	if !bytes.Equal(got.Pix, img.(*image.Gray).Pix) {
		t.Error("PNG does not read back as written")
	}
	if err := WritePNG(filepath.Join(t.TempDir(), "no", "dir.png"), img); err == nil {
		t.Error("writing into a missing directory: no error")
	}
}

func TestScatter(t *testing.T) {
	dir := t.TempDir()
	xy := []float32{0, 0, 1, 1, 2, 0.5, -1, 3}
	for _, labels := range [][]int{nil, {0, 1, 1, 9}} {
		p := filepath.Join(dir, "s.png")
		if err := Scatter(p, "test", "", "", xy, labels); err != nil {
			t.Fatal(err)
		}
		if b := decodePNG(t, p).Bounds(); b.Dx() < 200 || b.Dy() < 200 {
			t.Errorf("scatter is %v", b)
		}
	}
	for _, tc := range []struct {
		xy     []float32
		labels []int
		want   string
	}{
		{nil, nil, "2-dimensional"},
		{[]float32{1, 2, 3}, nil, "2-dimensional"},
		{[]float32{1, 2}, []int{1, 2}, "labels"},
		{[]float32{1, float32(math.NaN())}, nil, "not finite"},
	} {
		if err := Scatter(filepath.Join(dir, "e.png"), "", "", "", tc.xy, tc.labels); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Scatter(%v, %v): got %v, want an error with %q", tc.xy, tc.labels, err, tc.want)
		}
	}
}

func TestParseMetrics(t *testing.T) {
	recs, err := ParseMetrics([]byte(`{"epoch":1,"train_elbo":-200.5,"val_elbo":null,"note":"x"}

{"epoch":2,"train_elbo":-150,"val_elbo":-149}
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || recs[0][TrainELBOKey] != -200.5 || !math.IsNaN(recs[0][ValELBOKey]) || recs[1][ValELBOKey] != -149 {
		t.Fatalf("got %v", recs)
	}
	if _, ok := recs[0]["note"]; ok {
		t.Error("a string field was read as a number")
	}
	for _, bad := range []string{"{", "[1,2]", `{"a":1}` + "\n" + "nope"} {
		if _, err := ParseMetrics([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	_, err = ParseMetrics([]byte("{}\n{\"a\":}"))
	if err == nil || !strings.HasPrefix(err.Error(), "2:") {
		t.Errorf("error %v should start with the line number 2", err)
	}
}

func TestPlotCurves(t *testing.T) {
	dir := t.TempDir()
	m := filepath.Join(dir, "metrics.jsonl")
	lines := `{"epoch":1,"train_elbo":-200,"val_elbo":-190}
{"epoch":2,"train_elbo":-150,"val_elbo":-148}
{"epoch":3,"train_elbo":-130,"val_elbo":-131}
`
	if err := os.WriteFile(m, []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "curves.png")
	if err := PlotCurves(m, out); err != nil {
		t.Fatal(err)
	}
	if b := decodePNG(t, out).Bounds(); b.Dx() < 300 || b.Dy() < 200 {
		t.Errorf("curves.png is %v", b)
	}
	// Training only (no validation data) still plots.
	if err := os.WriteFile(m, []byte(`{"epoch":1,"train_elbo":-200}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := PlotCurves(m, out); err != nil {
		t.Errorf("training curve only: %v", err)
	}
	for _, bad := range []string{"", `{"epoch":1}`, "not json"} {
		if err := os.WriteFile(m, []byte(bad), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := PlotCurves(m, out); err == nil {
			t.Errorf("metrics %q: no error", bad)
		}
	}
	if err := PlotCurves(filepath.Join(dir, "missing.jsonl"), out); err == nil {
		t.Error("missing metrics file: no error")
	}
}

func FuzzParseMetrics(f *testing.F) {
	for _, s := range []string{
		`{"epoch":1,"train_elbo":-200.5,"val_elbo":null}`,
		"{}\n\n{\"a\":1e308}\n",
		`{"epoch":"1","x":[1,2],"y":{"z":1}}`,
		"{\"a\":-0}\r\n{\"b\":NaN}",
		"",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, err := ParseMetrics(data)
		if err != nil {
			return
		}
		// One record per non-blank line, and JSON numbers are finite (NaN
		// only stands for null).
		lines := 0
		for _, l := range bytes.Split(data, []byte("\n")) {
			if len(bytes.TrimSpace(l)) > 0 {
				lines++
			}
		}
		if len(recs) != lines {
			t.Fatalf("%d records from %d non-blank lines", len(recs), lines)
		}
		for _, r := range recs {
			for k, v := range r {
				if math.IsInf(v, 0) {
					t.Fatalf("key %q: infinite value parsed from JSON", k)
				}
			}
		}
	})
}
