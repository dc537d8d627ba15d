package opsuite

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	onnx "github.com/owulveryck/onnx-go"
	"github.com/owulveryck/onnx-go/backend/x/gorgonnx"
	"gorgonia.org/tensor"

	"github.com/vaec/vaec/compiler"
	"github.com/vaec/vaec/export"
	"github.com/vaec/vaec/graph"
	"github.com/vaec/vaec/runtime"
	"github.com/vaec/vaec/runtime/ort"
)

// mnistFiles exports the MNIST VAE of testdata/specs/mnist.yaml (784-400-20,
// the PyTorch example's) with its initial weights: timing does not depend
// on the weights' values.
var mnistFiles = sync.OnceValues(func() (map[string][]byte, error) {
	m, err := compiler.CompileFile(filepath.Join("..", "..", "testdata", "specs", "mnist.yaml"))
	if err != nil {
		return nil, err
	}
	w := graph.InitWeights(m, 1)
	enc, err := export.Encoder(m, w, export.Options{})
	if err != nil {
		return nil, err
	}
	dec, err := export.Decoder(m, w, export.Options{})
	if err != nil {
		return nil, err
	}
	return map[string][]byte{"encoder": enc, "decoder": dec}, nil
})

// benchInput is a batch for the named file: x [n, 784] in [0, 1] or z [n, 20].
func benchInput(file string, n int) (string, runtime.Tensor) {
	name, width := "x", 784
	if file == "decoder" {
		name, width = "z", 20
	}
	d := make([]float32, n*width)
	for i := range d {
		d[i] = float32((i*7919)%256) / 255
		if file == "decoder" {
			d[i] = d[i]*4 - 2
		}
	}
	return name, runtime.Tensor{Shape: []int{n, width}, Data: d}
}

// runner is one engine's way to run a model.
type runner func(in map[string]runtime.Tensor) (map[string]runtime.Tensor, error)

// engines returns the runtime and, when available, ONNX Runtime for file.
// ONNX Runtime uses its default thread pool (one thread per core), as the
// runtime uses every core through package kernels.
func engines(b *testing.B, file string, o ort.Options) map[string]runner {
	files, err := mnistFiles()
	if err != nil {
		b.Fatal(err)
	}
	m, err := runtime.Load(files[file])
	if err != nil {
		b.Fatal(err)
	}
	es := map[string]runner{"runtime": m.Run}
	if r, err := gorgonnxRunner(files[file]); err != nil {
		b.Logf("gorgonnx skipped: %v", err)
	} else {
		es["gorgonnx"] = r
	}
	if err := ort.Init(ort.FindLibrary("")); err != nil {
		if !errors.Is(err, ort.ErrUnavailable) || os.Getenv(ort.EnvRequire) == "1" {
			b.Fatal(err)
		}
		b.Logf("onnxruntime skipped: %v", err)
		return es
	}
	var ins, outs []string
	for _, io := range m.Inputs() {
		ins = append(ins, io.Name)
	}
	for _, io := range m.Outputs() {
		outs = append(outs, io.Name)
	}
	s, err := ort.NewSession(files[file], ins, outs, o)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	es["onnxruntime"] = s.Run
	return es
}

// benchInference times one file at one batch size in every engine, side
// by side, and reports samples per second.
func benchInference(b *testing.B, file string, batch int) {
	es := engines(b, file, ort.Options{})
	name, x := benchInput(file, batch)
	in := map[string]runtime.Tensor{name: x}
	for _, engine := range []string{"runtime", "onnxruntime", "gorgonnx"} {
		run, ok := es[engine]
		if !ok {
			continue
		}
		b.Run(engine, func(b *testing.B) {
			if _, err := run(in); err != nil { // warm up and check
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := run(in); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(batch)*float64(b.N)/b.Elapsed().Seconds(), "samples/s")
		})
	}
}

// gorgonnxRunner runs a model with onnx-go's gorgonnx backend, for
// comparison. A gorgonnx model keeps the batch size of its first input, so
// each benchmark makes its own.
func gorgonnxRunner(file []byte) (runner, error) {
	g := gorgonnx.NewGraph()
	m := onnx.NewModel(g)
	if err := m.UnmarshalBinary(file); err != nil {
		return nil, err
	}
	return func(in map[string]runtime.Tensor) (res map[string]runtime.Tensor, err error) {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("gorgonnx panicked: %v", r)
			}
		}()
		if len(in) != 1 {
			return nil, fmt.Errorf("gorgonnx runner takes one input")
		}
		for _, x := range in {
			if err := m.SetInput(0, tensor.New(tensor.WithShape(x.Shape...), tensor.WithBacking(x.Data))); err != nil {
				return nil, err
			}
		}
		if err := g.Run(); err != nil {
			return nil, err
		}
		outs, err := m.GetOutputTensors()
		if err != nil {
			return nil, err
		}
		res = map[string]runtime.Tensor{}
		for i, o := range outs {
			d, _ := o.Data().([]float32)
			res[fmt.Sprint(i)] = runtime.Tensor{Shape: o.Shape(), Data: d}
		}
		return res, nil
	}, nil
}

func BenchmarkMNISTEncoderBatch1(b *testing.B)   { benchInference(b, "encoder", 1) }
func BenchmarkMNISTEncoderBatch256(b *testing.B) { benchInference(b, "encoder", 256) }
func BenchmarkMNISTDecoderBatch1(b *testing.B)   { benchInference(b, "decoder", 1) }
func BenchmarkMNISTDecoderBatch256(b *testing.B) { benchInference(b, "decoder", 256) }

// TestBenchInputsAgree keeps the benchmark honest: both engines compute the
// same outputs on the benchmark's inputs.
func TestBenchInputsAgree(t *testing.T) {
	files, err := mnistFiles()
	if err != nil {
		t.Fatal(err)
	}
	if err := ort.Init(ort.FindLibrary("")); err != nil {
		if errors.Is(err, ort.ErrUnavailable) && os.Getenv(ort.EnvRequire) != "1" {
			t.Skipf("onnxruntime unavailable: %v", err)
		}
		t.Fatal(err)
	}
	for _, file := range []string{"encoder", "decoder"} {
		m, err := runtime.Load(files[file])
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
		s, err := ort.NewSession(files[file], ins, outs, ort.Options{Threads: 1})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		for _, n := range []int{1, 256} {
			name, x := benchInput(file, n)
			in := map[string]runtime.Tensor{name: x}
			got, err := m.Run(in)
			if err != nil {
				t.Fatal(err)
			}
			want, err := s.Run(in)
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range outs {
				if ok, i := runtime.Within(got[o].Data, want[o].Data, tol); !ok {
					t.Errorf("%s %s batch %d: element %d: runtime %g, onnxruntime %g", file, o, n, i, got[o].Data[i], want[o].Data[i])
				}
			}
		}
	}
}

// benchInterleaved alternates the runtime and ONNX Runtime call by call
// and reports each one's samples/s and their ratio. On a shared, noisy
// machine this ratio is steadier than that of two separate benchmarks,
// because both engines see the same interference. ONNX Runtime's threads
// do not spin here, or they would take the cores from the runtime's call
// that follows.
func benchInterleaved(b *testing.B, file string, batch int) {
	es := engines(b, file, ort.Options{NoSpin: true})
	rt, ort := es["runtime"], es["onnxruntime"]
	if ort == nil {
		b.Skip("onnxruntime unavailable")
	}
	name, x := benchInput(file, batch)
	in := map[string]runtime.Tensor{name: x}
	var tRT, tORT time.Duration
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if _, err := rt(in); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if _, err := ort(in); err != nil {
			b.Fatal(err)
		}
		tRT += t1.Sub(t0)
		tORT += time.Since(t1)
	}
	n := float64(batch) * float64(b.N)
	b.ReportMetric(n/tRT.Seconds(), "runtime-samples/s")
	b.ReportMetric(n/tORT.Seconds(), "ort-samples/s")
	b.ReportMetric(tORT.Seconds()/tRT.Seconds(), "speed-vs-ort")
}

func BenchmarkInterleavedEncoderBatch1(b *testing.B)   { benchInterleaved(b, "encoder", 1) }
func BenchmarkInterleavedEncoderBatch256(b *testing.B) { benchInterleaved(b, "encoder", 256) }
func BenchmarkInterleavedDecoderBatch1(b *testing.B)   { benchInterleaved(b, "decoder", 1) }
func BenchmarkInterleavedDecoderBatch256(b *testing.B) { benchInterleaved(b, "decoder", 256) }
