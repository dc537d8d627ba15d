// Package vae is a trained VAE ready for inference, whether it comes from a
// build directory's checkpoint (run through the training graph) or from
// exported ONNX files alone (run in vaec's runtime): one type with Encode,
// Decode and Expected that the inference verbs, evaluation and serving
// share. It implements evaluate.Model.
//
// ONNX files need not be vaec's: FromONNX reads a file without vaec's
// metadata (a PyTorch export, say) from its declared inputs and outputs,
// matched to roles by name, with ONNXOptions for what no file records
// (input scaling, whether the decoder output holds probabilities, logits
// or a mean) and for the values of a conditional model's extra inputs
// (Labels, Feeds). Model.Notes say what was assumed. For vaec's own files
// the metadata decides, and an option that contradicts it is an error.
package vae

import (
	"errors"
	"fmt"
	"math"

	"github.com/vaec/vaec/checkpoint"
	"github.com/vaec/vaec/evaluate"
	"github.com/vaec/vaec/graph"
	"github.com/vaec/vaec/ir"
	"github.com/vaec/vaec/runtime"
)

// Model is a trained VAE.
type Model struct {
	Origin     string    // for messages: the checkpoint or the ONNX files
	IR         *ir.Model // nil when loaded from ONNX files without their build
	Input      ir.Input
	Latent     int
	Likelihood evaluate.Likelihood
	Prior      ir.Prior
	SpecHash   string
	Epochs     int // epochs trained, as the checkpoint or the files record it

	// Threshold is the outlier threshold the ONNX files record, for
	// FalsePositiveRate; nil otherwise (a checkpoint's is fitted on demand).
	Threshold         *float64
	FalsePositiveRate float64

	// Notes say what was assumed for ONNX files without vaec metadata
	// (names, sizes, scaling, the decoder output's meaning), for the
	// user to see; empty for vaec's own files.
	Notes []string

	// raw: the ONNX encoder takes raw data (its preprocessing inside);
	// Encode, which takes model input, maps it back to raw first.
	raw bool

	weights  map[string]checkpoint.Tensor // from a checkpoint
	labels   []int                        // a conditional checkpoint model's labels (condition.go)
	enc, dec *runtime.Model               // from ONNX files
	encIO    *encoderIO                   // the encoder's roles, with enc
	decIO    *decoderIO                   // the decoder's roles, with dec
}

// FromWeights returns m with the given trained weights (origin names them
// in messages), after checking that every parameter is there with its
// shape.
func FromWeights(m *ir.Model, w map[string]checkpoint.Tensor, epochs int, origin string) (*Model, error) {
	for _, p := range m.Params {
		t, ok := w[p.Name]
		if !ok {
			return nil, fmt.Errorf("%s: parameter %q is missing", origin, p.Name)
		}
		if t.Size() != p.Size() || len(t.Data) != p.Size() {
			return nil, fmt.Errorf("%s: parameter %q has shape %v, the model needs %v", origin, p.Name, ir.Shape(t.Shape), p.Shape)
		}
	}
	v := &Model{
		Origin: origin, IR: m, Input: m.Input, Latent: m.Latent, Prior: m.Prior, SpecHash: m.SpecHash,
		Likelihood: evaluate.Likelihood{Kind: m.Likelihood.Kind, Sigma: m.Likelihood.Sigma},
		Epochs:     epochs, weights: w,
	}
	return v, v.bindPrior()
}

// FromCheckpoint returns m with the weights of the checkpoint at path, after
// checking that the checkpoint was trained for m and holds every parameter
// with its shape.
func FromCheckpoint(m *ir.Model, path string) (*Model, error) {
	ck, err := checkpoint.Load(path)
	if err != nil {
		return nil, err
	}
	if h := ck.State.SpecHash; h != "" && h != m.SpecHash {
		return nil, fmt.Errorf("%s was trained from another spec (hash %.12s, the build has %.12s)", path, h, m.SpecHash)
	}
	for _, p := range m.Params {
		t, ok := ck.Weights[p.Name]
		if !ok {
			return nil, fmt.Errorf("%s: parameter %q is missing", path, p.Name)
		}
		if t.Size() != p.Size() || len(t.Data) != p.Size() {
			return nil, fmt.Errorf("%s: parameter %q has shape %v, the model needs %v", path, p.Name, ir.Shape(t.Shape), p.Shape)
		}
	}
	v := &Model{
		Origin: path, IR: m, Input: m.Input, Latent: m.Latent, Prior: m.Prior, SpecHash: m.SpecHash,
		Likelihood: evaluate.Likelihood{Kind: m.Likelihood.Kind, Sigma: m.Likelihood.Sigma},
		Epochs:     ck.State.Epoch,
		weights:    ck.Weights,
	}
	if !ck.Checked {
		v.Notes = append(v.Notes, path+" has no checksums (written by an earlier vaec): loaded unchecked")
	}
	return v, v.bindPrior()
}

// HasEncoder and HasDecoder tell which halves are loaded.
func (v *Model) HasEncoder() bool { return v.weights != nil || v.enc != nil }
func (v *Model) HasDecoder() bool { return v.weights != nil || v.dec != nil }

// RowsPerCall bounds the rows of one encoder or decoder call in EncodeAll
// and Expected: large enough for efficient matrix products, small enough to
// keep memory modest.
const RowsPerCall = 1000

// Encode returns mu and logvar [n, latent] for x [n, D]. Labels and feeds
// (ONNXOptions) start at their first row.
func (v *Model) Encode(x []float32, n int) (mu, logvar []float32, err error) {
	return v.encode(x, n, 0)
}

func (v *Model) encode(x []float32, n, first int) (mu, logvar []float32, err error) {
	if v.weights != nil {
		y, err := v.condition(n, first)
		if err != nil {
			return nil, nil, err
		}
		return graph.EncodeY(v.IR, v.weights, x, y, n)
	}
	if v.enc == nil {
		return nil, nil, errors.New("no encoder loaded")
	}
	if len(x) != n*v.Input.Size {
		return nil, nil, fmt.Errorf("encoder: %d values are not %d rows of %d", len(x), n, v.Input.Size)
	}
	mu, logvar, err = v.encodeAt(x, n, first)
	if err != nil {
		return nil, nil, err
	}
	if len(mu) != n*v.Latent || len(logvar) != n*v.Latent {
		return nil, nil, fmt.Errorf("encoder returned %d values in %q and %d in %q for %d rows of latent size %d (the file's outputs: %s)",
			len(mu), v.encIO.mu, len(logvar), v.encIO.logvar, n, v.Latent, listIO(v.enc.Outputs()))
	}
	return mu, logvar, nil
}

// EncodeAll encodes every row of x in calls of RowsPerCall; labels and
// feeds follow the rows of x.
func (v *Model) EncodeAll(x []float32, n int) (mu, logvar []float32, err error) {
	d := v.Input.Size
	for s := 0; s < n; s += RowsPerCall {
		b := min(RowsPerCall, n-s)
		m, l, err := v.encode(x[s*d:(s+b)*d], b, s)
		if err != nil {
			return nil, nil, fmt.Errorf("encoding examples %d to %d: %w", s, s+b-1, err)
		}
		mu, logvar = append(mu, m...), append(logvar, l...)
	}
	return mu, logvar, nil
}

// DecodeOutputs runs the decoder and returns its outputs by name.
func (v *Model) DecodeOutputs(z []float32, n int) (map[string][]float32, error) {
	return v.decodeOutputs(z, n, 0)
}

func (v *Model) decodeOutputs(z []float32, n, first int) (map[string][]float32, error) {
	if v.weights != nil {
		y, err := v.condition(n, first)
		if err != nil {
			return nil, err
		}
		return graph.DecodeY(v.IR, v.weights, z, y, n)
	}
	if v.dec == nil {
		return nil, errors.New("no decoder loaded")
	}
	if len(z) != n*v.Latent {
		return nil, fmt.Errorf("decoder: %d values are not %d rows of latent size %d", len(z), n, v.Latent)
	}
	out, err := v.decodeAt(z, n, first, v.Latent)
	if err != nil {
		return nil, err
	}
	res := map[string][]float32{}
	for k, t := range out {
		res[k] = t.Data
	}
	return res, nil
}

// output returns the decoder output that holds x's distribution, checked
// to have n rows of the input's size.
func (v *Model) output(out map[string][]float32, n int) ([]float32, error) {
	name := v.decIO.out
	x := out[name]
	if len(x) != n*v.Input.Size {
		return nil, fmt.Errorf("decoder output %q has %d values, not %d rows of %d (the file's outputs: %s)", name, len(x), n, v.Input.Size, listIO(v.dec.Outputs()))
	}
	return x, nil
}

// Decode returns what the likelihood needs (evaluate.Model). From ONNX
// files whose output holds probabilities, Bernoulli logits are recovered
// from them: exact except where a float32 probability has saturated to 0
// or 1, where the logit is clamped to about ±16 (the cost of a confidently
// wrong pixel is then understated; right pixels are unaffected to 1e-7
// nats).
func (v *Model) Decode(z []float32, n int) (evaluate.Decoded, error) {
	if v.weights != nil && v.Likelihood.Kind == ir.Bernoulli {
		y, err := v.condition(n, 0)
		if err != nil {
			return evaluate.Decoded{}, err
		}
		l, err := graph.DecodeLogitsY(v.IR, v.weights, z, y, n)
		return evaluate.Decoded{Logits: l}, err
	}
	out, err := v.DecodeOutputs(z, n)
	if err != nil {
		return evaluate.Decoded{}, err
	}
	if v.weights != nil {
		return evaluate.Decoded{Mean: out[ir.OutputMean], Logvar: out[ir.OutputLogvar]}, nil
	}
	x, err := v.output(out, n)
	if err != nil {
		return evaluate.Decoded{}, err
	}
	switch v.decIO.kind {
	case Logits:
		return evaluate.Decoded{Logits: x}, nil
	case Probs:
		const eps = 1e-7
		l := make([]float32, len(x))
		for i, pv := range x {
			q := math.Min(math.Max(float64(pv), eps), 1-eps)
			l[i] = float32(math.Log(q) - math.Log1p(-q))
		}
		return evaluate.Decoded{Logits: l}, nil
	default:
		d := evaluate.Decoded{Mean: x}
		if v.decIO.logvar != "" {
			d.Logvar = out[v.decIO.logvar]
		}
		return d, nil
	}
}

// Expected returns E[x|z] for z [n, latent] (Bernoulli probabilities or the
// Gaussian mean): what pictures of the model show. Labels and feeds follow
// the rows of z.
func (v *Model) Expected(z []float32, n int) ([]float32, error) {
	var res []float32
	name := ir.OutputMean
	if v.Likelihood.Kind == ir.Bernoulli {
		name = ir.OutputProbs
	}
	for s := 0; s < n; s += RowsPerCall {
		b := min(RowsPerCall, n-s)
		out, err := v.decodeOutputs(z[s*v.Latent:(s+b)*v.Latent], b, s)
		if err != nil {
			return nil, err
		}
		if v.weights != nil {
			x, ok := out[name]
			if !ok || len(x) != b*v.Input.Size {
				return nil, fmt.Errorf("decoder output %q: got %d values for %d rows of %d", name, len(x), b, v.Input.Size)
			}
			res = append(res, x...)
			continue
		}
		x, err := v.output(out, b)
		if err != nil {
			return nil, err
		}
		if v.decIO.kind == Logits {
			for _, l := range x {
				res = append(res, float32(1/(1+math.Exp(-float64(l)))))
			}
			continue
		}
		res = append(res, x...)
	}
	return res, nil
}
