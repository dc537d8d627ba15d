//go:build cgo

package ort

import (
	"fmt"
	"os"
	"sync"

	onnxruntime "github.com/yalue/onnxruntime_go"

	"github.com/vaec/vaec/runtime"
)

var (
	initOnce sync.Once
	initLib  string
	initErr  error
)

// Init loads the library at path (see FindLibrary) and starts the ONNX
// Runtime environment. The environment is process-wide: the first call
// decides the library, and later calls with another path fail.
func Init(path string) error {
	if path == "" {
		return fmt.Errorf("%w: no library found (set $%s or pass its path)", ErrUnavailable, EnvLib)
	}
	initOnce.Do(func() {
		initLib = path
		if _, err := os.Stat(path); err != nil {
			initErr = fmt.Errorf("%w: %v", ErrUnavailable, err)
			return
		}
		onnxruntime.SetSharedLibraryPath(path)
		if err := onnxruntime.InitializeEnvironment(); err != nil {
			initErr = fmt.Errorf("%w: initializing %s: %v", ErrUnavailable, path, err)
		}
	})
	if initErr == nil && path != initLib {
		return fmt.Errorf("ONNX Runtime already started with %s, not %s", initLib, path)
	}
	return initErr
}

// Version is the ONNX Runtime version, after Init.
func Version() string { return onnxruntime.GetVersion() }

// Session is one model loaded in ONNX Runtime.
type Session struct {
	s       *onnxruntime.DynamicAdvancedSession
	inputs  []string
	outputs []string
}

// Options tune a session.
type Options struct {
	// Threads bounds ONNX Runtime's intra-op thread pool (0 = its
	// default, one per core).
	Threads int
	// NoSpin stops the pool's threads from spinning after each run. ONNX
	// Runtime spins by default, which helps its own latency but takes CPU
	// from anything that runs right after it in the same process.
	NoSpin bool
}

// NewSession loads an ONNX model.
func NewSession(model []byte, inputs, outputs []string, o Options) (*Session, error) {
	if !onnxruntime.IsInitialized() {
		return nil, fmt.Errorf("%w: Init was not called", ErrUnavailable)
	}
	opts, err := onnxruntime.NewSessionOptions()
	if err != nil {
		return nil, err
	}
	defer opts.Destroy()
	if o.Threads > 0 {
		if err := opts.SetIntraOpNumThreads(o.Threads); err != nil {
			return nil, err
		}
	}
	if o.NoSpin {
		if err := opts.AddSessionConfigEntry("session.intra_op.allow_spinning", "0"); err != nil {
			return nil, err
		}
	}
	s, err := onnxruntime.NewDynamicAdvancedSessionWithONNXData(model, inputs, outputs, opts)
	if err != nil {
		return nil, fmt.Errorf("onnxruntime: %w", err)
	}
	return &Session{s: s, inputs: inputs, outputs: outputs}, nil
}

// Run feeds every input and returns every output.
func (s *Session) Run(in map[string]runtime.Tensor) (map[string]runtime.Tensor, error) {
	vals := make([]onnxruntime.Value, len(s.inputs))
	defer func() {
		for _, v := range vals {
			if v != nil {
				v.Destroy()
			}
		}
	}()
	for i, name := range s.inputs {
		t, ok := in[name]
		if !ok {
			return nil, fmt.Errorf("onnxruntime: input %q is missing", name)
		}
		shape := make([]int64, len(t.Shape))
		for j, d := range t.Shape {
			shape[j] = int64(d)
		}
		v, err := onnxruntime.NewTensor(onnxruntime.NewShape(shape...), t.Data)
		if err != nil {
			return nil, fmt.Errorf("onnxruntime: input %q: %w", name, err)
		}
		vals[i] = v
	}
	outs := make([]onnxruntime.Value, len(s.outputs))
	if err := s.s.Run(vals, outs); err != nil {
		return nil, fmt.Errorf("onnxruntime: %w", err)
	}
	res := map[string]runtime.Tensor{}
	for i, v := range outs {
		if v == nil {
			continue
		}
		t, ok := v.(*onnxruntime.Tensor[float32])
		if !ok {
			v.Destroy()
			return nil, fmt.Errorf("onnxruntime: output %q is not float32", s.outputs[i])
		}
		shape := make([]int, len(t.GetShape()))
		for j, d := range t.GetShape() {
			shape[j] = int(d)
		}
		res[s.outputs[i]] = runtime.Tensor{Shape: shape, Data: append([]float32(nil), t.GetData()...)}
		v.Destroy()
	}
	return res, nil
}

// Close releases the session.
func (s *Session) Close() error { return s.s.Destroy() }
