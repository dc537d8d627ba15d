// Package verify checks exported ONNX files against the training graph: it
// runs encoder.onnx and decoder.onnx in vaec's runtime (and, when asked, in
// ONNX Runtime) on the same inputs as graph's forward pass and compares
// every output value with a relative tolerance. `vaec export` ends with it
// and `vaec verify` runs it on demand.
package verify

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"

	"github.com/vaec/vaec/checkpoint"
	"github.com/vaec/vaec/dataset"
	"github.com/vaec/vaec/export"
	"github.com/vaec/vaec/graph"
	"github.com/vaec/vaec/ir"
	"github.com/vaec/vaec/runtime"
	"github.com/vaec/vaec/runtime/ort"
)

// Defaults of the verification.
const (
	DefaultN   = 1000 // examples
	DefaultTol = 1e-5 // |got-want| <= tol·max(1, |want|)
	seed       = 1    // random inputs are reproducible
)

// Inputs is the encoder input of a verification: N examples, flattened.
type Inputs struct {
	X      []float32 // model input (scaled and normalised): what the graph takes
	Raw    []float32 // the same examples as the data file holds them: what exported files with their preprocessing inside take
	N      int
	Random bool   // random inputs (the decoder then gets standard normal z)
	Source string // for the report
}

// DataInputs takes the first n examples of the model's validation data
// (its training data when the spec has no validation source).
func DataInputs(m *ir.Model, n int) (Inputs, error) {
	if n <= 0 {
		return Inputs{}, fmt.Errorf("verify: %d examples: want at least 1", n)
	}
	src, what := m.Data.Train, "training data"
	if m.Data.Validation != nil {
		src, what = *m.Data.Validation, "validation data"
	}
	set, err := dataset.Load(src, dataset.RawInput(m.Input))
	if err != nil {
		return Inputs{}, fmt.Errorf("reading %s: %w", what, err)
	}
	n = min(n, set.N)
	if n == 0 {
		return Inputs{}, fmt.Errorf("%s %s has no examples", what, src.Path)
	}
	raw := set.X[:n*m.Input.Size]
	return Inputs{X: dataset.Preprocess(m.Input, raw), Raw: raw, N: n, Source: fmt.Sprintf("%s %s", what, src.Path)}, nil
}

// RandomInputs returns n raw inputs uniform in [0, 255] and what the
// input's scaling makes of them, so that they look like real ones (8-bit
// data) to the model.
func RandomInputs(m *ir.Model, n int) Inputs {
	d := m.Input.Size
	r := rand.New(rand.NewPCG(seed, uint64(d)))
	raw := make([]float32, n*d)
	for i := range raw {
		raw[i] = float32(r.Float64() * 255)
	}
	return Inputs{X: dataset.Preprocess(m.Input, raw), Raw: raw, N: n, Random: true, Source: fmt.Sprintf("random (seed %d)", seed)}
}

// Config is one verification.
type Config struct {
	Model                    *ir.Model
	Weights                  map[string]checkpoint.Tensor
	EncoderPath, DecoderPath string
	In                       Inputs
	Tol                      float64
	// ORT adds ONNX Runtime (library ORTLib, "" = found by the ort
	// package) as a second judge. Asked for and unavailable, it is an
	// error: a check that was requested is never silently dropped.
	ORT    bool
	ORTLib string
}

// Row is one compared output.
type Row struct {
	File, Output, Judge string // "encoder", "mu", "runtime" or "onnxruntime 1.24.3"
	MaxAbs, MaxRel      float64
	Pass                bool
	Note                string // why it failed, or what is odd
}

// Report is the outcome of Run.
type Report struct {
	N      int
	Source string
	Tol    float64
	Rows   []Row
}

// Failed lists the rows that failed, as "file output (judge)".
func (r *Report) Failed() []string {
	var out []string
	for _, row := range r.Rows {
		if !row.Pass {
			out = append(out, fmt.Sprintf("%s %s (%s)", row.File, row.Output, row.Judge))
		}
	}
	return out
}

// Run compares the exported files with the graph. An error means the
// comparison could not be made (a file does not load, the reference fails,
// ONNX Runtime was asked for and is missing); failed comparisons are rows
// of the report.
func Run(cfg Config) (*Report, error) {
	m, n := cfg.Model, cfg.In.N
	if cfg.ORT {
		if err := ort.Init(cfg.ORTLib); err != nil {
			return nil, fmt.Errorf("ONNX Runtime was asked for as a second judge but cannot be used: %w", err)
		}
	}
	enc, err := runtime.LoadFile(cfg.EncoderPath)
	if err != nil {
		return nil, fmt.Errorf("loading the encoder in the runtime: %w", err)
	}
	dec, err := runtime.LoadFile(cfg.DecoderPath)
	if err != nil {
		return nil, fmt.Errorf("loading the decoder in the runtime: %w", err)
	}

	// The reference: the Gorgonia graph built from the IR and checkpoint.
	// A conditional model's y: row i is class i mod C, so every class is
	// checked.
	var y []float32
	if m.Conditional() {
		c := m.Condition.Classes
		y = make([]float32, n*c)
		for i := range n {
			y[i*c+i%c] = 1
		}
	}
	mu, logvar, err := graph.EncodeY(m, cfg.Weights, cfg.In.X, y, n)
	if err != nil {
		return nil, fmt.Errorf("reference encoder: %w", err)
	}
	// Decoder inputs: the latent codes the encoder gives the data (what the
	// decoder sees in use), or draws from the prior for random inputs.
	z := mu
	if cfg.In.Random {
		r := rand.New(rand.NewPCG(seed, uint64(m.Latent)))
		z = make([]float32, n*m.Latent)
		if err := m.Prior.Sample(r.NormFloat64, z); err != nil {
			return nil, err
		}
	}
	decRef, err := graph.DecodeY(m, cfg.Weights, z, y, n)
	if err != nil {
		return nil, fmt.Errorf("reference decoder: %w", err)
	}
	encRef := map[string][]float32{ir.OutputMu: mu, ir.OutputLogvar: logvar}

	// Files with their preprocessing inside take the raw examples.
	xFile := cfg.In.X
	if enc.Metadata()[export.MetaPreprocess] == "inside" {
		xFile = cfg.In.Raw
	}
	xShape := append([]int{n}, m.Input.Shape...)
	encIn := map[string]runtime.Tensor{ir.InputX: {Shape: xShape, Data: xFile}}
	decIn := map[string]runtime.Tensor{ir.InputZ: {Shape: []int{n, m.Latent}, Data: z}}
	if y != nil {
		yt := runtime.Tensor{Shape: []int{n, m.Condition.Classes}, Data: y}
		encIn[ir.InputY], decIn[ir.InputY] = yt, yt
	}
	encNames := []string{ir.OutputMu, ir.OutputLogvar}
	decNames := m.DecoderOutputs()
	// mean_raw is E[x|z] with the input's scaling undone: a linear map of
	// the expectation. It is judged in model units (mapped back through the
	// scaling), where the tolerance means what it means for the other
	// outputs: in raw units an error of one float32 ulp of a probability
	// becomes 255 times larger for 8-bit data.
	a, b := m.Input.Affine()
	var expect []float32
	if dec.Metadata()[export.MetaPreprocess] == "inside" {
		expect = decRef[ir.OutputMean]
		if m.Likelihood.Kind == ir.Bernoulli {
			expect = decRef[ir.OutputProbs]
		}
		decRef[ir.OutputMeanRaw] = expect
		decNames = append(decNames, ir.OutputMeanRaw)
	}
	toModel := func(name string, t runtime.Tensor) runtime.Tensor {
		if name != ir.OutputMeanRaw {
			return t
		}
		x := make([]float32, len(t.Data))
		for i, v := range t.Data {
			d := i % m.Input.Size
			x[i] = float32(float64(v)*a[d] + b[d])
		}
		return runtime.Tensor{Shape: t.Shape, Data: x}
	}

	rep := &Report{N: n, Source: cfg.In.Source, Tol: cfg.Tol}
	judge := func(file, judgeName string, names []string, got map[string]runtime.Tensor, ref map[string][]float32, runErr error) {
		for _, name := range names {
			r := Row{File: file, Output: name, Judge: judgeName}
			want := ref[name]
			g, ok := got[name]
			g = toModel(name, g)
			switch {
			case runErr != nil:
				r.Note = runErr.Error()
			case !ok:
				r.Note = "output missing from the file"
			case len(g.Data) != len(want):
				r.Note = fmt.Sprintf("%d values (shape %v), want %d", len(g.Data), g.Shape, len(want))
			default:
				r.MaxAbs, r.MaxRel = runtime.Compare(g.Data, want)
				var worst int
				r.Pass, worst = runtime.Within(g.Data, want, cfg.Tol)
				if !r.Pass && worst >= 0 {
					r.Note = fmt.Sprintf("worst: element %d (row %d) is %g, want %g", worst, worst/max(1, len(want)/n), g.Data[worst], want[worst])
				}
			}
			rep.Rows = append(rep.Rows, r)
		}
	}
	got, err := enc.Run(encIn)
	judge("encoder", "runtime", encNames, got, encRef, err)
	got, err = dec.Run(decIn)
	judge("decoder", "runtime", decNames, got, decRef, err)

	if cfg.ORT {
		for _, f := range []struct {
			file, path string
			in         map[string]runtime.Tensor
			inName     string
			names      []string
			ref        map[string][]float32
		}{
			{"encoder", cfg.EncoderPath, encIn, ir.InputX, encNames, encRef},
			{"decoder", cfg.DecoderPath, decIn, ir.InputZ, decNames, decRef},
		} {
			got, err := runORT(f.path, f.inName, f.names, f.in)
			judge(f.file, "onnxruntime "+ort.Version(), f.names, got, f.ref, err)
		}
	}
	return rep, nil
}

func runORT(path, inName string, outs []string, in map[string]runtime.Tensor) (map[string]runtime.Tensor, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	names := []string{inName}
	if _, ok := in[ir.InputY]; ok {
		names = append(names, ir.InputY)
	}
	s, err := ort.NewSession(b, names, outs, ort.Options{})
	if err != nil {
		return nil, err
	}
	defer s.Close()
	got, err := s.Run(in)
	if err != nil && errors.Is(err, ort.ErrUnavailable) {
		return nil, err
	}
	return got, err
}
