package serve

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vaec/vaec/runtime"
)

// TritonOptions shape the config.pbtxt files of a Triton model repository.
type TritonOptions struct {
	// MaxBatch is max_batch_size (default DefaultMaxBatch).
	MaxBatch int
	// MaxQueueDelay is dynamic_batching's max_queue_delay_microseconds
	// (default 100 µs, Triton's usual starting point).
	MaxQueueDelay time.Duration
}

// TritonPlatform is the platform of every model vaec writes: ONNX files
// run by Triton's ONNX Runtime backend.
const TritonPlatform = "onnxruntime_onnx"

// WriteTritonRepository writes a Triton Inference Server model repository
// into dir: for each model (name → ONNX bytes) dir/NAME/1/model.onnx and
// dir/NAME/config.pbtxt. It loads each file in vaec's runtime first to read
// its inputs and outputs, so nothing is written for a file that does not
// load. It returns the paths written.
//
// A model whose inputs all have a symbolic first dimension is batched:
// max_batch_size is MaxBatch, dims leave out the batch dimension and
// dynamic batching is on. Otherwise max_batch_size is 0 and dims are the
// full shapes. Other symbolic dimensions are written as -1.
func WriteTritonRepository(dir string, models map[string][]byte, opts TritonOptions) ([]string, error) {
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = DefaultMaxBatch
	}
	if opts.MaxQueueDelay < 0 {
		return nil, fmt.Errorf("triton: negative max queue delay %v", opts.MaxQueueDelay)
	}
	if opts.MaxQueueDelay == 0 {
		opts.MaxQueueDelay = 100 * time.Microsecond
	}
	names := make([]string, 0, len(models))
	for name := range models {
		names = append(names, name)
	}
	slices.Sort(names)
	configs := make([][]byte, len(names))
	for i, name := range names {
		if !validName(name) {
			return nil, fmt.Errorf("triton: model name %q: use letters, digits, '-', '_' and '.'", name)
		}
		m, err := runtime.Load(models[name])
		if err != nil {
			return nil, fmt.Errorf("triton: model %q: %w", name, err)
		}
		configs[i] = TritonConfig(name, m.Inputs(), m.Outputs(), opts)
	}
	var written []string
	for i, name := range names {
		onnxPath := filepath.Join(dir, name, "1", "model.onnx")
		cfgPath := filepath.Join(dir, name, "config.pbtxt")
		if err := os.MkdirAll(filepath.Dir(onnxPath), 0o755); err != nil {
			return written, fmt.Errorf("triton: %w", err)
		}
		if err := writeAtomic(onnxPath, models[name]); err != nil {
			return written, err
		}
		written = append(written, onnxPath)
		if err := writeAtomic(cfgPath, configs[i]); err != nil {
			return written, err
		}
		written = append(written, cfgPath)
	}
	return written, nil
}

// TritonConfig returns the config.pbtxt (protobuf text format of Triton's
// ModelConfig) of one model. It is written out directly rather than
// through a protobuf text marshaller, whose output is deliberately
// unstable, so that the same model gives the same bytes; the tests parse
// it with Triton's message definitions (internal/tritonpb).
func TritonConfig(name string, inputs, outputs []runtime.IOInfo, opts TritonOptions) []byte {
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = DefaultMaxBatch
	}
	batched := len(inputs) > 0
	for _, in := range inputs {
		if len(in.Shape) == 0 || in.Shape[0].Param == "" {
			batched = false
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Triton model configuration written by vaec (ModelConfig, protobuf text format).\n")
	fmt.Fprintf(&b, "name: %s\n", quotePbtxt(name))
	fmt.Fprintf(&b, "platform: %s\n", quotePbtxt(TritonPlatform))
	maxBatch := 0
	if batched {
		maxBatch = opts.MaxBatch
	}
	fmt.Fprintf(&b, "max_batch_size: %d\n", maxBatch)
	tensors := func(field string, ios []runtime.IOInfo) {
		fmt.Fprintf(&b, "%s [\n", field)
		for k, io := range ios {
			shape := io.Shape
			if batched && len(shape) > 0 {
				shape = shape[1:]
			}
			dims := make([]string, len(shape))
			for i, d := range shape {
				v := d.Value
				if d.Param != "" || v < 0 {
					v = -1
				}
				dims[i] = strconv.FormatInt(v, 10)
			}
			fmt.Fprintf(&b, "  {\n    name: %s\n    data_type: TYPE_FP32\n    dims: [ %s ]\n  }", quotePbtxt(io.Name), strings.Join(dims, ", "))
			if k < len(ios)-1 {
				b.WriteByte(',')
			}
			b.WriteByte('\n')
		}
		b.WriteString("]\n")
	}
	tensors("input", inputs)
	tensors("output", outputs)
	if batched {
		fmt.Fprintf(&b, "dynamic_batching {\n  max_queue_delay_microseconds: %d\n}\n", opts.MaxQueueDelay.Microseconds())
	}
	return []byte(b.String())
}

// quotePbtxt quotes s as a protobuf text format string: printable ASCII as
// is, everything else as octal escapes (which every text format parser
// reads).
func quotePbtxt(s string) string {
	b := []byte{'"'}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c >= 0x20 && c < 0x7f:
			b = append(b, c)
		default:
			b = append(b, '\\', '0'+c>>6, '0'+(c>>3)&7, '0'+c&7)
		}
	}
	return string(append(b, '"'))
}

// writeAtomic writes data to path through a temporary file and a rename,
// so a reader never sees half a file.
func writeAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("triton: %w", err)
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("triton: writing %s: %w", path, err)
	}
	return nil
}
