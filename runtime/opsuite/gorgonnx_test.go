package opsuite

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	onnx "github.com/owulveryck/onnx-go"
	"github.com/owulveryck/onnx-go/backend/x/gorgonnx"
	"gorgonia.org/tensor"
)

// TestGorgonnxLimits records, against the pinned onnx-go v0.5.0, why the
// runtime has a backend of its own (see the runtime package doc): the
// gorgonnx backend fixes the batch size at the first input it is given,
// so one loaded model cannot serve both batch 1 and batch 256. If this
// test starts
// failing, gorgonnx has improved and the choice deserves a second look.
func TestGorgonnxLimits(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "foreign", "mlp_decoder.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	backend := gorgonnx.NewGraph()
	m := onnx.NewModel(backend)
	if err := m.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	var errs []string
	for _, n := range []int{2, 5} {
		in := tensor.New(tensor.WithShape(n, 4), tensor.WithBacking(make([]float32, n*4)))
		if err := m.SetInput(0, in); err != nil {
			errs = append(errs, err.Error())
			continue
		}
		if err := backend.Run(); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) != 1 || !strings.Contains(errs[0], "expected shape is (2, 4)") {
		t.Errorf("gorgonnx at batch 2 then 5: errors %q, want one about the fixed shape (2, 4)", errs)
	}

}
