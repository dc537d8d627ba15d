package ort

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/vaec/vaec/runtime"
)

// start initializes ONNX Runtime or skips the test, unless
// VAEC_REQUIRE_ORT=1 asks for a failure instead.
func start(t testing.TB) {
	t.Helper()
	err := Init(FindLibrary(""))
	if err == nil {
		return
	}
	if errors.Is(err, ErrUnavailable) && os.Getenv(EnvRequire) != "1" {
		t.Skipf("skipping: %v (set %s to a libonnxruntime.so, or %s=1 to fail)", err, EnvLib, EnvRequire)
	}
	t.Fatal(err)
}

// TestForeignModels checks that ONNX Runtime agrees with numpy on the
// models of testdata/foreign, the same ones the runtime is tested on.
func TestForeignModels(t *testing.T) {
	start(t)
	for _, name := range []string{"mlp_decoder", "many_ops"} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join("..", "..", "testdata", "foreign")
			b, err := os.ReadFile(filepath.Join(dir, name+".onnx"))
			if err != nil {
				t.Fatal(err)
			}
			var e struct{ Inputs, Outputs map[string]runtime.Tensor }
			j, err := os.ReadFile(filepath.Join(dir, name+".json"))
			if err != nil {
				t.Fatal(err)
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
			got, err := s.Run(e.Inputs)
			if err != nil {
				t.Fatal(err)
			}
			for k, want := range e.Outputs {
				if ok, worst := runtime.Within(got[k].Data, want.Data, 1e-5); !ok {
					t.Errorf("%s: worst element %d: got %v, want %v", k, worst, got[k].Data[worst], want.Data[worst])
				}
			}
		})
	}
}
