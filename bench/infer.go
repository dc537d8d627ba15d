//go:build cgo

package main

import (
	"fmt"
	"github.com/vaec/vaec/ir"
	"io"
	"math/rand/v2"
	"time"

	onnxruntime "github.com/yalue/onnxruntime_go"

	"github.com/vaec/vaec/dataset"
	"github.com/vaec/vaec/export"
	"github.com/vaec/vaec/graph"
	"github.com/vaec/vaec/runtime"
	"github.com/vaec/vaec/runtime/ort"
)

// inferCase is one file at one batch size.
type inferCase struct {
	file   string // "encoder" or "decoder"
	model  []byte
	input  string
	output []string
	outs   [][]int // output shapes, so ONNX Runtime's outputs can be bound once
	batch  int
	data   []float32 // batch × features
	shape  []int
}

func inferMain(args []string, out io.Writer) error {
	fs := newFlags("infer")
	rounds := fs.Int("rounds", 3, "interleaved rounds (vaec's runtime, then ONNX Runtime, each round)")
	batches := fs.String("batch", "1,256", "batch sizes")
	ortThreads := fs.String("ort-threads", "1,2", "ONNX Runtime intra-op thread counts; the best median is the baseline")
	dur := fs.Duration("time", time.Second, "measuring time per figure")
	spec := fs.String("spec", "testdata/specs/mnist.yaml", "spec whose model to export (random initial weights: speed does not depend on their values)")
	ortLib := fs.String("ort-lib", "", "ONNX Runtime shared library (default: $VAEC_ORT_LIB or .tools/ort)")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of vaec's runtime to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	bs, err := intList(*batches)
	if err != nil {
		return fmt.Errorf("-batch %w", err)
	}
	threads, err := intList(*ortThreads)
	if err != nil {
		return fmt.Errorf("-ort-threads %w", err)
	}
	_, m, err := compileSpec(*spec)
	if err != nil {
		return err
	}
	lib := ort.FindLibrary(*ortLib)
	if lib == "" {
		return fmt.Errorf("ONNX Runtime library not found: run scripts/setup.sh or pass -ort-lib")
	}
	if err := ort.Init(lib); err != nil {
		return err
	}
	cases, err := inferCases(m, bs)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "inference on %s: vaec runtime vs ONNX Runtime %s (threads %v), outputs bound once for both, %d rounds of %v per figure; load average %s\n",
		m.Name, ort.Version(), threads, *rounds, *dur, loadAverage())

	type key struct {
		c       int
		threads int // 0 = vaec
	}
	sps := map[key][]float64{}
	stop, err := startProfile(*cpuprofile)
	if err != nil {
		return err
	}
	defer stop()
	for r := 1; r <= *rounds; r++ {
		for ci, c := range cases {
			rt, err := runtime.Load(c.model)
			if err != nil {
				return err
			}
			in := map[string]runtime.Tensor{c.input: {Shape: c.shape, Data: c.data}}
			// Outputs bound once, as ONNX Runtime's are below.
			into := map[string][]float32{}
			for i, name := range c.output {
				into[name] = make([]float32, shapeSize(c.outs[i]))
			}
			s, err := measure(*dur, c.batch, func() error { _, err := rt.RunInto(in, into); return err })
			if err != nil {
				return fmt.Errorf("vaec runtime, %s batch %d: %w", c.file, c.batch, err)
			}
			sps[key{ci, 0}] = append(sps[key{ci, 0}], s)
			for _, t := range threads {
				s, err := measureORT(c, t, *dur)
				if err != nil {
					return fmt.Errorf("onnxruntime, %s batch %d: %w", c.file, c.batch, err)
				}
				sps[key{ci, t}] = append(sps[key{ci, t}], s)
			}
		}
		fmt.Fprintf(out, "round %d done\n", r)
	}
	fmt.Fprintf(out, "\n%-8s %5s  %14s  %14s  %8s  %s\n", "file", "batch", "vaec samples/s", "ORT samples/s", "ratio", "raw (vaec | ORT per thread count)")
	for ci, c := range cases {
		v := sps[key{ci, 0}]
		raw := figures(v, "%.0f")
		best, bestT := 0.0, 0
		for _, t := range threads {
			o := sps[key{ci, t}]
			raw += fmt.Sprintf(" | %dt: %s", t, figures(o, "%.0f"))
			if med := median(o); med > best {
				best, bestT = med, t
			}
		}
		mv := median(v)
		line := fmt.Sprintf("%-8s %5d  %14.0f  %14.0f  %7.2fx  %s", c.file, c.batch, mv, best, mv/best, raw)
		if c.batch == 1 {
			line += fmt.Sprintf("  latency vaec %.1fµs, ORT(%dt) %.1fµs", 1e6/mv, bestT, 1e6/best)
		}
		fmt.Fprintln(out, line)
	}
	return nil
}

// inferCases exports the model with fresh weights and prepares inputs: real
// MNIST images for the encoder, standard normal z for the decoder.
func inferCases(m *ir.Model, batches []int) ([]inferCase, error) {
	w := graph.InitWeights(m, 1)
	enc, err := export.Encoder(m, w, export.Options{})
	if err != nil {
		return nil, err
	}
	dec, err := export.Decoder(m, w, export.Options{})
	if err != nil {
		return nil, err
	}
	src := m.Data.Train
	if m.Data.Validation != nil {
		src = *m.Data.Validation
	}
	set, err := dataset.Load(src, m.Input)
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var cases []inferCase
	for _, b := range batches {
		x := make([]float32, b*m.Input.Size)
		for i := 0; i < b; i++ {
			copy(x[i*m.Input.Size:], set.Row(i%set.N))
		}
		z := make([]float32, b*m.Latent)
		for i := range z {
			z[i] = float32(rng.NormFloat64())
		}
		for _, c := range []inferCase{
			{file: "encoder", model: enc, input: ir.InputX, batch: b, data: x, shape: append([]int{b}, m.Input.Shape...)},
			{file: "decoder", model: dec, input: ir.InputZ, batch: b, data: z, shape: []int{b, m.Latent}},
		} {
			if err := c.allOutputs(); err != nil {
				return nil, err
			}
			cases = append(cases, c)
		}
	}
	return cases, nil
}

// allOutputs sets c.output and c.outs to every output of the file and its
// shape at c's batch size, so that both engines compute the same thing: a
// decoder exported with preprocessing has mean_raw beside the likelihood's
// outputs, and ONNX Runtime asked for fewer outputs skips the nodes that
// only the others need.
func (c *inferCase) allOutputs() error {
	rt, err := runtime.Load(c.model)
	if err != nil {
		return err
	}
	res, err := rt.Run(map[string]runtime.Tensor{c.input: {Shape: c.shape, Data: c.data}})
	if err != nil {
		return err
	}
	for _, o := range rt.Outputs() {
		c.output = append(c.output, o.Name)
		c.outs = append(c.outs, res[o.Name].Shape)
	}
	return nil
}

// measure calls run repeatedly for about d (after one warm-up call) and
// returns samples per second.
func measure(d time.Duration, batch int, run func() error) (float64, error) {
	if err := run(); err != nil {
		return 0, err
	}
	n := 0
	start := time.Now()
	for time.Since(start) < d {
		if err := run(); err != nil {
			return 0, err
		}
		n++
	}
	return float64(n*batch) / time.Since(start).Seconds(), nil
}

// measureORT runs c in ONNX Runtime through its Go binding at its fastest:
// input and output tensors are bound once, so each call is just Run.
func measureORT(c inferCase, threads int, d time.Duration) (float64, error) {
	opts, err := onnxruntime.NewSessionOptions()
	if err != nil {
		return 0, err
	}
	defer opts.Destroy()
	if err := opts.SetIntraOpNumThreads(threads); err != nil {
		return 0, err
	}
	if err := opts.SetInterOpNumThreads(1); err != nil {
		return 0, err
	}
	shape := make([]int64, len(c.shape))
	for i, v := range c.shape {
		shape[i] = int64(v)
	}
	in, err := onnxruntime.NewTensor(onnxruntime.NewShape(shape...), c.data)
	if err != nil {
		return 0, err
	}
	defer in.Destroy()
	outs := make([]onnxruntime.Value, len(c.output))
	for i, sh := range c.outs {
		dims := make([]int64, len(sh))
		for j, v := range sh {
			dims[j] = int64(v)
		}
		t, err := onnxruntime.NewEmptyTensor[float32](onnxruntime.NewShape(dims...))
		if err != nil {
			return 0, err
		}
		defer t.Destroy()
		outs[i] = t
	}
	s, err := onnxruntime.NewDynamicAdvancedSessionWithONNXData(c.model, []string{c.input}, c.output, opts)
	if err != nil {
		return 0, err
	}
	defer s.Destroy()
	ins := []onnxruntime.Value{in}
	return measure(d, c.batch, func() error { return s.Run(ins, outs) })
}

func shapeSize(s []int) int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}
