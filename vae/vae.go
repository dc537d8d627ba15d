// Package vae is a trained VAE ready for inference, whether it comes from a
// build directory's checkpoint (run through the training graph) or from
// exported ONNX files alone (run in vaec's runtime): one type with Encode,
// Decode and Expected that the inference verbs, evaluation and serving
// share. It implements evaluate.Model.
package vae

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/vaec/vaec/checkpoint"
	"github.com/vaec/vaec/evaluate"
	"github.com/vaec/vaec/export"
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

	weights  map[string]checkpoint.Tensor // from a checkpoint
	enc, dec *runtime.Model               // from ONNX files
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
	return &Model{
		Origin: path, IR: m, Input: m.Input, Latent: m.Latent, Prior: m.Prior, SpecHash: m.SpecHash,
		Likelihood: evaluate.Likelihood{Kind: m.Likelihood.Kind, Sigma: m.Likelihood.Sigma},
		Epochs:     ck.State.Epoch,
		weights:    ck.Weights,
	}, nil
}

// FromONNX loads the given ONNX files ("" = not needed; at least one is
// required) in vaec's runtime and reads from their metadata what inference
// needs: latent size, likelihood, input shape and scaling. Both files must
// come from one spec.
func FromONNX(encPath, decPath string) (*Model, error) {
	v := &Model{}
	var names []string
	var meta *export.FileMeta
	for _, f := range []struct {
		path string
		dst  **runtime.Model
	}{{encPath, &v.enc}, {decPath, &v.dec}} {
		if f.path == "" {
			continue
		}
		rm, err := runtime.LoadFile(f.path)
		if err != nil {
			return nil, err
		}
		fm, err := export.ReadMetadata(rm.Metadata())
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.path, err)
		}
		if meta != nil && fm.SpecHash != meta.SpecHash {
			return nil, fmt.Errorf("%s and %s come from different specs (%s %q and %q)", encPath, decPath, export.MetaSpecHash, meta.SpecHash, fm.SpecHash)
		}
		meta = fm
		*f.dst = rm
		names = append(names, f.path)
	}
	if meta == nil {
		return nil, errors.New("vae: no ONNX file given")
	}
	v.Origin = strings.Join(names, " + ")
	v.Latent, v.Input, v.SpecHash, v.Epochs = meta.Latent, meta.Input, meta.SpecHash, meta.Epochs
	v.Likelihood = evaluate.Likelihood{Kind: meta.Likelihood.Kind, Sigma: meta.Likelihood.Sigma}
	return v, nil
}

// HasEncoder and HasDecoder tell which halves are loaded.
func (v *Model) HasEncoder() bool { return v.weights != nil || v.enc != nil }
func (v *Model) HasDecoder() bool { return v.weights != nil || v.dec != nil }

// RowsPerCall bounds the rows of one encoder or decoder call in EncodeAll
// and Expected: large enough for efficient matrix products, small enough to
// keep memory modest.
const RowsPerCall = 1000

// Encode returns mu and logvar [n, latent] for x [n, D].
func (v *Model) Encode(x []float32, n int) (mu, logvar []float32, err error) {
	if v.weights != nil {
		return graph.Encode(v.IR, v.weights, x, n)
	}
	if v.enc == nil {
		return nil, nil, errors.New("no encoder loaded")
	}
	out, err := v.enc.Run(map[string]runtime.Tensor{
		ir.InputX: {Shape: append([]int{n}, v.Input.Shape...), Data: x},
	})
	if err != nil {
		return nil, nil, fmt.Errorf("encoder: %w", err)
	}
	mu, logvar = out[ir.OutputMu].Data, out[ir.OutputLogvar].Data
	if len(mu) != n*v.Latent || len(logvar) != n*v.Latent {
		return nil, nil, fmt.Errorf("encoder returned %d means and %d log-variances for %d rows of latent size %d", len(mu), len(logvar), n, v.Latent)
	}
	return mu, logvar, nil
}

// EncodeAll encodes every row of x in calls of RowsPerCall.
func (v *Model) EncodeAll(x []float32, n int) (mu, logvar []float32, err error) {
	d := v.Input.Size
	for s := 0; s < n; s += RowsPerCall {
		b := min(RowsPerCall, n-s)
		m, l, err := v.Encode(x[s*d:(s+b)*d], b)
		if err != nil {
			return nil, nil, fmt.Errorf("encoding examples %d to %d: %w", s, s+b-1, err)
		}
		mu, logvar = append(mu, m...), append(logvar, l...)
	}
	return mu, logvar, nil
}

// DecodeOutputs runs the decoder and returns its outputs by name.
func (v *Model) DecodeOutputs(z []float32, n int) (map[string][]float32, error) {
	if v.weights != nil {
		return graph.Decode(v.IR, v.weights, z, n)
	}
	if v.dec == nil {
		return nil, errors.New("no decoder loaded")
	}
	out, err := v.dec.Run(map[string]runtime.Tensor{ir.InputZ: {Shape: []int{n, v.Latent}, Data: z}})
	if err != nil {
		return nil, fmt.Errorf("decoder: %w", err)
	}
	res := map[string][]float32{}
	for k, t := range out {
		res[k] = t.Data
	}
	return res, nil
}

// Decode returns what the likelihood needs (evaluate.Model). From ONNX,
// Bernoulli logits are recovered from the probabilities: exact except
// where a float32 probability has saturated to 0 or 1, where the logit is
// clamped to about ±16 (the cost of a confidently wrong pixel is then
// understated; right pixels are unaffected to 1e-7 nats).
func (v *Model) Decode(z []float32, n int) (evaluate.Decoded, error) {
	d := v.Input.Size
	if v.weights != nil && v.Likelihood.Kind == ir.Bernoulli {
		l, err := graph.DecodeLogits(v.IR, v.weights, z, n)
		return evaluate.Decoded{Logits: l}, err
	}
	out, err := v.DecodeOutputs(z, n)
	if err != nil {
		return evaluate.Decoded{}, err
	}
	switch v.Likelihood.Kind {
	case ir.Bernoulli:
		p := out[ir.OutputProbs]
		if len(p) != n*d {
			return evaluate.Decoded{}, fmt.Errorf("decoder returned %d probabilities for %d rows of %d", len(p), n, d)
		}
		const eps = 1e-7
		l := make([]float32, len(p))
		for i, pv := range p {
			q := math.Min(math.Max(float64(pv), eps), 1-eps)
			l[i] = float32(math.Log(q) - math.Log1p(-q))
		}
		return evaluate.Decoded{Logits: l}, nil
	default:
		return evaluate.Decoded{Mean: out[ir.OutputMean], Logvar: out[ir.OutputLogvar]}, nil
	}
}

// Expected returns E[x|z] for z [n, latent] (Bernoulli probabilities or the
// Gaussian mean): what pictures of the model show.
func (v *Model) Expected(z []float32, n int) ([]float32, error) {
	var res []float32
	name := ir.OutputMean
	if v.Likelihood.Kind == ir.Bernoulli {
		name = ir.OutputProbs
	}
	for s := 0; s < n; s += RowsPerCall {
		b := min(RowsPerCall, n-s)
		out, err := v.DecodeOutputs(z[s*v.Latent:(s+b)*v.Latent], b)
		if err != nil {
			return nil, err
		}
		x, ok := out[name]
		if !ok || len(x) != b*v.Input.Size {
			return nil, fmt.Errorf("decoder output %q: got %d values for %d rows of %d", name, len(x), b, v.Input.Size)
		}
		res = append(res, x...)
	}
	return res, nil
}
