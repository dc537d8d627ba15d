package runtime

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// expected is the JSON written beside each foreign model by gen.py.
type expected struct {
	Inputs  map[string]Tensor `json:"inputs"`
	Outputs map[string]Tensor `json:"outputs"`
}

func readExpected(t *testing.T, path string) expected {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var e expected
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return e
}

// TestForeignModels runs models written by onnx.helper (not by vaec) and
// compares with the outputs numpy computed for them.
func TestForeignModels(t *testing.T) {
	for _, name := range []string{"mlp_decoder", "many_ops"} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join("..", "testdata", "foreign")
			m, err := LoadFile(filepath.Join(dir, name+".onnx"))
			if err != nil {
				t.Fatal(err)
			}
			e := readExpected(t, filepath.Join(dir, name+".json"))
			got, err := m.Run(e.Inputs)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(e.Outputs) {
				t.Fatalf("got %d outputs, want %d", len(got), len(e.Outputs))
			}
			for k, want := range e.Outputs {
				g := got[k]
				if !sameShapeInts(g.Shape, want.Shape) {
					t.Errorf("%s: shape %v, want %v", k, g.Shape, want.Shape)
					continue
				}
				abs, rel := Compare(g.Data, want.Data)
				if ok, worst := Within(g.Data, want.Data, 1e-5); !ok {
					t.Errorf("%s: max abs %.3g, max rel %.3g; worst at %d: got %v want %v", k, abs, rel, worst, g.Data[worst], want.Data[worst])
				}
			}
		})
	}
}

func sameShapeInts(a, b []int) bool { return sameShape(a, b) }
