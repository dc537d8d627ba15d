package ort

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vaec/vaec/runtime"
)

// TestTorchExports checks that ONNX Runtime agrees with PyTorch on the
// exports of testdata/foreign/torch at batch 1 and 7, as vaec's runtime
// must (runtime.TestTorchExports): both judges see the same files.
func TestTorchExports(t *testing.T) {
	start(t)
	dir := filepath.Join("..", "..", "testdata", "foreign", "torch")
	files, err := filepath.Glob(filepath.Join(dir, "*_opset*.onnx"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no PyTorch exports in %s (%v)", dir, err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			b, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			base := filepath.Base(file)
			j, err := os.ReadFile(filepath.Join(dir, base[:strings.Index(base, "_opset")]+".json"))
			if err != nil {
				t.Fatal(err)
			}
			var e struct {
				Cases []struct{ Inputs, Outputs map[string]runtime.Tensor }
			}
			if err := json.Unmarshal(j, &e); err != nil {
				t.Fatal(err)
			}
			m, err := runtime.Load(b)
			if err != nil {
				t.Fatal(err)
			}
			var ins, outs []string
			for _, io := range m.Inputs() {
				ins = append(ins, io.Name)
			}
			for _, io := range m.Outputs() {
				outs = append(outs, io.Name)
			}
			s, err := NewSession(b, ins, outs, Options{Threads: 1})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			for _, c := range e.Cases {
				got, err := s.Run(c.Inputs)
				if err != nil {
					t.Fatal(err)
				}
				for k, want := range c.Outputs {
					if ok, worst := runtime.Within(got[k].Data, want.Data, 1e-5); !ok {
						t.Errorf("%s batch %d: worst element %d: got %v, want %v", k, want.Shape[0], worst, got[k].Data[worst], want.Data[worst])
					}
				}
			}
		})
	}
}
