package runtime

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// torchCases is the JSON testdata/foreign/torch/make.py writes beside each
// PyTorch export: PyTorch's outputs at batch 1 and at batch 7.
type torchCases struct {
	Cases []expected `json:"cases"`
}

// TorchExports lists the PyTorch exports of testdata/foreign/torch and the
// JSON file of each (shared by its opset 13 and 17 versions).
func torchExports(t testing.TB, dir string) map[string]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*_opset*.onnx"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no PyTorch exports in %s (%v)", dir, err)
	}
	m := map[string]string{}
	for _, f := range files {
		base := filepath.Base(f)
		m[f] = filepath.Join(dir, base[:strings.Index(base, "_opset")]+".json")
	}
	return m
}

// TestTorchExports runs the files PyTorch 1.13 exported (MLP and conv VAEs,
// BatchNorm, a conditional decoder, the x.view(x.size(0), -1) pattern; opset
// 13 and 17) at batch 1 and 7 and compares with PyTorch's outputs.
func TestTorchExports(t *testing.T) {
	for file, js := range torchExports(t, filepath.Join("..", "testdata", "foreign", "torch")) {
		t.Run(filepath.Base(file), func(t *testing.T) {
			m, err := LoadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(js)
			if err != nil {
				t.Fatal(err)
			}
			var tc torchCases
			if err := json.Unmarshal(b, &tc); err != nil {
				t.Fatal(err)
			}
			for _, c := range tc.Cases {
				got, err := m.Run(c.Inputs)
				if err != nil {
					t.Fatal(err)
				}
				for k, want := range c.Outputs {
					g := got[k]
					if !sameShapeInts(g.Shape, want.Shape) {
						t.Errorf("%s: shape %v, want %v", k, g.Shape, want.Shape)
						continue
					}
					if ok, worst := Within(g.Data, want.Data, 1e-5); !ok {
						abs, rel := Compare(g.Data, want.Data)
						t.Errorf("%s batch %d: max abs %.3g, max rel %.3g; worst at %d: got %v want %v", k, want.Shape[0], abs, rel, worst, g.Data[worst], want.Data[worst])
					}
				}
			}
		})
	}
}
