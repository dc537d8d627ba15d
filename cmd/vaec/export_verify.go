package main

import (
	"errors"
	"fmt"
	"github.com/vaec/vaec/ir"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/vaec/vaec/checkpoint"
	"github.com/vaec/vaec/dataset"
	"github.com/vaec/vaec/graph"
	"github.com/vaec/vaec/runtime"
	"github.com/vaec/vaec/runtime/ort"
)

// Defaults of the verification that `vaec export` ends with and that
// `vaec verify` runs.
const (
	defaultVerifyN   = 1000
	defaultVerifyTol = 1e-5
	verifySeed       = 1 // random inputs are reproducible
)

// verifyExport runs the exported files in the runtime and compares them with
// the training graph's forward pass, printing one line per output to out.
// It returns an error when any output differs by more than tol. Inputs are
// the first defaultVerifyN validation examples, or random ones when the
// data cannot be read.
func verifyExport(m *ir.Model, w map[string]checkpoint.Tensor, encoderPath, decoderPath string, tol float64, out io.Writer) error {
	in, err := verifyInputs(m, defaultVerifyN, false)
	if err != nil {
		fmt.Fprintf(out, "verify: %v; using random inputs\n", err)
		if in, err = verifyInputs(m, defaultVerifyN, true); err != nil {
			return err
		}
	}
	return runVerify(verifyConfig{
		model: m, weights: w, encoderPath: encoderPath, decoderPath: decoderPath,
		in: in, tol: tol,
	}, out)
}

// verifyIn is the encoder input of a verification: n examples, flattened.
type verifyIn struct {
	x      []float32
	n      int
	random bool
	source string // for the report
}

// verifyInputs takes the first n examples of the validation data (the
// training data when the spec has no validation source), or n random
// inputs uniform in the range the scaling maps [0, 255]-valued raw data
// to, so that random inputs look like real ones to the model.
func verifyInputs(m *ir.Model, n int, random bool) (verifyIn, error) {
	if n <= 0 {
		return verifyIn{}, usagef("--n must be positive, got %d", n)
	}
	d := m.Input.Size
	if random {
		r := rand.New(rand.NewPCG(verifySeed, uint64(d)))
		x := make([]float32, n*d)
		for i := range x {
			x[i] = float32(r.Float64()*255*m.Input.Scale + m.Input.Offset)
		}
		return verifyIn{x: x, n: n, random: true, source: fmt.Sprintf("random (seed %d)", verifySeed)}, nil
	}
	src, what := m.Data.Train, "training data"
	if m.Data.Validation != nil {
		src, what = *m.Data.Validation, "validation data"
	}
	set, err := dataset.Load(src, m.Input)
	if err != nil {
		return verifyIn{}, fmt.Errorf("reading %s: %w", what, err)
	}
	n = min(n, set.N)
	if n == 0 {
		return verifyIn{}, fmt.Errorf("%s %s has no examples", what, src.Path)
	}
	return verifyIn{x: set.X[:n*d], n: n, source: fmt.Sprintf("%s %s", what, src.Path)}, nil
}

// verifyConfig is one verification run.
type verifyConfig struct {
	model                    *ir.Model
	weights                  map[string]checkpoint.Tensor
	encoderPath, decoderPath string
	in                       verifyIn
	tol                      float64
	useORT                   bool   // also run ONNX Runtime
	ortLib                   string // its library ("" = not found)
}

// verifyRow is one line of the report.
type verifyRow struct {
	file, output, judge string
	maxAbs, maxRel      float64
	pass                bool
	note                string
}

// runVerify compares the exported files with the graph and prints the
// report. It returns an error naming the outputs that fail.
func runVerify(cfg verifyConfig, out io.Writer) error {
	m, n := cfg.model, cfg.in.n
	enc, err := runtime.LoadFile(cfg.encoderPath)
	if err != nil {
		return fmt.Errorf("loading the encoder in the runtime: %w", err)
	}
	dec, err := runtime.LoadFile(cfg.decoderPath)
	if err != nil {
		return fmt.Errorf("loading the decoder in the runtime: %w", err)
	}

	// The reference: the Gorgonia graph built from the IR and checkpoint.
	mu, logvar, err := graph.Encode(m, cfg.weights, cfg.in.x, n)
	if err != nil {
		return fmt.Errorf("reference encoder: %w", err)
	}
	// Decoder inputs: the latent codes the encoder gives the data (what the
	// decoder sees in use), or standard normal draws for random inputs.
	z := mu
	if cfg.in.random {
		r := rand.New(rand.NewPCG(verifySeed, uint64(m.Latent)))
		z = make([]float32, n*m.Latent)
		for i := range z {
			z[i] = float32(r.NormFloat64())
		}
	}
	decRef, err := graph.Decode(m, cfg.weights, z, n)
	if err != nil {
		return fmt.Errorf("reference decoder: %w", err)
	}
	encRef := map[string][]float32{ir.OutputMu: mu, ir.OutputLogvar: logvar}

	xShape := append([]int{n}, m.Input.Shape...)
	encIn := map[string]runtime.Tensor{ir.InputX: {Shape: xShape, Data: cfg.in.x}}
	decIn := map[string]runtime.Tensor{ir.InputZ: {Shape: []int{n, m.Latent}, Data: z}}
	encNames := []string{ir.OutputMu, ir.OutputLogvar}
	decNames := m.DecoderOutputs()

	var rows []verifyRow
	judge := func(file, judgeName string, names []string, got map[string]runtime.Tensor, ref map[string][]float32, runErr error) {
		for _, name := range names {
			r := verifyRow{file: file, output: name, judge: judgeName}
			want := ref[name]
			g, ok := got[name]
			switch {
			case runErr != nil:
				r.note = runErr.Error()
			case !ok:
				r.note = "output missing from the file"
			case len(g.Data) != len(want):
				r.note = fmt.Sprintf("%d values (shape %v), want %d", len(g.Data), g.Shape, len(want))
			default:
				r.maxAbs, r.maxRel = runtime.Compare(g.Data, want)
				var worst int
				r.pass, worst = runtime.Within(g.Data, want, cfg.tol)
				if !r.pass && worst >= 0 {
					r.note = fmt.Sprintf("worst: element %d (row %d) is %g, want %g", worst, worst/max(1, len(want)/n), g.Data[worst], want[worst])
				}
			}
			rows = append(rows, r)
		}
	}
	got, err := enc.Run(encIn)
	judge("encoder", "runtime", encNames, got, encRef, err)
	got, err = dec.Run(decIn)
	judge("decoder", "runtime", decNames, got, decRef, err)

	ortNote := ""
	if cfg.useORT {
		if err := ort.Init(cfg.ortLib); err != nil {
			if os.Getenv(ort.EnvRequire) == "1" {
				return err
			}
			ortNote = fmt.Sprintf("onnxruntime: skipped: %v", err)
		} else {
			for _, f := range []struct {
				file, path string
				in         map[string]runtime.Tensor
				inName     string
				names      []string
				ref        map[string][]float32
			}{
				{"encoder", cfg.encoderPath, encIn, ir.InputX, encNames, encRef},
				{"decoder", cfg.decoderPath, decIn, ir.InputZ, decNames, decRef},
			} {
				got, err := runORT(f.path, f.inName, f.names, f.in)
				judge(f.file, "onnxruntime "+ort.Version(), f.names, got, f.ref, err)
			}
		}
	}

	fmt.Fprintf(out, "verify: %d inputs from %s; pass when |got-want| <= %g*max(1,|want|) for every value\n", n, cfg.in.source, cfg.tol)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "FILE\tOUTPUT\tJUDGE\tMAX ABS ERR\tMAX REL ERR\tRESULT\t")
	var failed []string
	for _, r := range rows {
		res := "PASS"
		if !r.pass {
			res = "FAIL"
			failed = append(failed, fmt.Sprintf("%s %s (%s)", r.file, r.output, r.judge))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.file, r.output, r.judge, fmtErr(r.maxAbs, r.note), fmtErr(r.maxRel, r.note), res, r.note)
	}
	tw.Flush()
	if ortNote != "" {
		fmt.Fprintln(out, ortNote)
	}
	if len(failed) > 0 {
		return fmt.Errorf("verification failed at tolerance %g: %s", cfg.tol, strings.Join(failed, ", "))
	}
	fmt.Fprintf(out, "verify: PASS (%d outputs)\n", len(rows))
	return nil
}

func fmtErr(v float64, note string) string {
	if note != "" && v == 0 {
		return "-"
	}
	if math.IsInf(v, 0) {
		return "inf"
	}
	return fmt.Sprintf("%.3g", v)
}

func runORT(path, inName string, outs []string, in map[string]runtime.Tensor) (map[string]runtime.Tensor, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	s, err := ort.NewSession(b, []string{inName}, outs, ort.Options{})
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
