package conformance

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	ort "github.com/yalue/onnxruntime_go"
)

// defaultORTLib is where scripts/setup.sh installs ONNX Runtime 1.24 (npm
// onnxruntime-node@1.24.3, --ignore-scripts), relative to this package.
const defaultORTLib = "../.tools/ort/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime.so.1"

var (
	ortOnce sync.Once
	ortErr  error
	ortLib  string
)

// requireORT loads ONNX Runtime once per test binary, or skips (fails when
// VAEC_REQUIRE_ORT=1) with a hint on how to get it.
func requireORT(t *testing.T) {
	t.Helper()
	ortOnce.Do(func() {
		ortLib = os.Getenv("VAEC_ORT_LIB")
		if ortLib == "" {
			ortLib = defaultORTLib
		}
		if _, err := os.Stat(ortLib); err != nil {
			ortErr = err
			return
		}
		abs, err := filepath.Abs(ortLib)
		if err != nil {
			ortErr = err
			return
		}
		ort.SetSharedLibraryPath(abs)
		ortErr = ort.InitializeEnvironment()
	})
	if ortErr != nil {
		msg := fmt.Sprintf("ONNX Runtime unavailable (%s: %v); install it with `cd .tools/ort && npm install --ignore-scripts onnxruntime-node@1.24.3` or set VAEC_ORT_LIB to libonnxruntime.so; VAEC_REQUIRE_ORT=1 makes this a failure",
			ortLib, ortErr)
		if os.Getenv("VAEC_REQUIRE_ORT") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
}

// feed is one named float32 input with its shape.
type feed struct {
	name  string
	shape []int64
	data  []float32
}

// runORT runs model on the inputs in ONNX Runtime and returns each named
// output's values and shape.
func runORT(model []byte, inputs []feed, outputs []string) (map[string][]float32, map[string][]int64, error) {
	opts, err := ort.NewSessionOptions()
	if err != nil {
		return nil, nil, err
	}
	defer opts.Destroy()
	// One thread: the machine is shared, and results do not depend on it.
	if err := opts.SetIntraOpNumThreads(1); err != nil {
		return nil, nil, err
	}
	if err := opts.SetInterOpNumThreads(1); err != nil {
		return nil, nil, err
	}
	names := make([]string, len(inputs))
	for i, in := range inputs {
		names[i] = in.name
	}
	s, err := ort.NewDynamicAdvancedSessionWithONNXData(model, names, outputs, opts)
	if err != nil {
		return nil, nil, fmt.Errorf("creating session: %w", err)
	}
	defer s.Destroy()
	ins := make([]ort.Value, len(inputs))
	for i, in := range inputs {
		tensor, err := ort.NewTensor(ort.NewShape(in.shape...), in.data)
		if err != nil {
			return nil, nil, fmt.Errorf("input %s: %w", in.name, err)
		}
		defer tensor.Destroy()
		ins[i] = tensor
	}
	outs := make([]ort.Value, len(outputs)) // nil: ONNX Runtime allocates them
	if err := s.Run(ins, outs); err != nil {
		return nil, nil, fmt.Errorf("run: %w", err)
	}
	vals := map[string][]float32{}
	shapes := map[string][]int64{}
	for i, name := range outputs {
		t, ok := outs[i].(*ort.Tensor[float32])
		if !ok {
			return nil, nil, fmt.Errorf("output %s is %T, want a float32 tensor", name, outs[i])
		}
		vals[name] = append([]float32(nil), t.GetData()...)
		shapes[name] = append([]int64(nil), t.GetShape()...)
		t.Destroy()
	}
	return vals, shapes, nil
}
