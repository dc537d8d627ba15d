package compiler

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
)

// Verify checks the invariants every phase after the compiler relies on:
// the layer chain fits (each layer's In is the previous Out, from the input
// size to the latent heads and from the latent to the output), layers and
// parameters follow the naming scheme, every parameter is declared once with
// the shape its layer implies and in the documented order, and every setting
// is in range. It returns all violations joined, or nil.
//
// Compile runs it on its own output; ReadModel runs it on a model read
// back from a build directory, which a user may have edited.
func Verify(m *Model) error {
	if m == nil {
		return errors.New("ir: nil model")
	}
	v := &verifier{m: m}
	v.check()
	return errors.Join(v.errs...)
}

type verifier struct {
	m    *Model
	errs []error
}

func (v *verifier) errorf(format string, args ...any) {
	v.errs = append(v.errs, fmt.Errorf("ir: "+format, args...))
}

var hashRE = regexp.MustCompile(`^[0-9a-f]{64}$`)

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

func (v *verifier) check() {
	m := v.m
	if !slices.Contains(SpecVersions, m.Version) {
		v.errorf("version %d is not supported", m.Version)
	}
	if m.Name == "" || !nameRE.MatchString(m.Name) {
		v.errorf("invalid name %q", m.Name)
	}
	if !hashRE.MatchString(m.SpecHash) {
		v.errorf("spec_hash %q is not a hex SHA-256", m.SpecHash)
	}
	v.checkInput()
	if m.Latent < 1 || m.Latent > MaxUnits {
		v.errorf("latent %d out of range [1, %d]", m.Latent, MaxUnits)
	}

	// The expected parameter table, rebuilt from the layers in the
	// documented order; it must equal m.Params exactly.
	var want []Param
	chain := func(layers []Layer, prefix string, in int) int {
		for i, l := range layers {
			v.checkLayer(l, fmt.Sprintf("%s.%d", prefix, i), in, -1)
			want = append(want, layerParams(l)...)
			in = l.Out
		}
		return in
	}
	if len(m.Encoder) > MaxLayers || len(m.Decoder) > MaxLayers {
		v.errorf("more than %d hidden layers", MaxLayers)
	}
	last := chain(m.Encoder, "encoder", m.Input.Size)
	for _, h := range []struct {
		l    Layer
		name string
	}{{m.Mu, "encoder.mu"}, {m.Logvar, "encoder.logvar"}} {
		v.checkLayer(h.l, h.name, last, m.Latent)
		if h.l.Activation != Linear {
			v.errorf("layer %s: activation %q, want linear", h.name, h.l.Activation)
		}
		want = append(want, layerParams(h.l)...)
	}
	last = chain(m.Decoder, "decoder", m.Latent)
	v.checkLayer(m.Output, "decoder.out", last, m.Input.Size)
	want = append(want, layerParams(m.Output)...)

	switch m.Likelihood {
	case Bernoulli:
		if m.Output.Activation != Linear {
			v.errorf("bernoulli output activation %q, want linear (logits)", m.Output.Activation)
		}
	case GaussianFixed:
		if !(m.Sigma > 0) || !finite(m.Sigma) {
			v.errorf("gaussian sigma %v, want > 0", m.Sigma)
		}
	case GaussianLearned:
	default:
		v.errorf("unknown likelihood %q", m.Likelihood)
	}
	if m.Likelihood != GaussianFixed && m.Sigma != 0 {
		v.errorf("sigma %v set for likelihood %s", m.Sigma, m.Likelihood)
	}
	if m.Likelihood != Bernoulli && m.Output.Activation != Linear && m.Output.Activation != Sigmoid {
		v.errorf("gaussian mean activation %q, want linear or sigmoid", m.Output.Activation)
	}
	if m.Likelihood == GaussianLearned {
		if m.OutputLogvar != "decoder.logvar" {
			v.errorf("output_logvar %q, want %q", m.OutputLogvar, "decoder.logvar")
		}
		want = append(want, Param{Name: "decoder.logvar", Shape: []int{m.Input.Size}, Init: InitZeros})
	} else if m.OutputLogvar != "" {
		v.errorf("output_logvar %q set for likelihood %s", m.OutputLogvar, m.Likelihood)
	}
	v.checkParams(want)
	v.checkSettings()
}

// layerParams returns the parameters a dense layer implies.
func layerParams(l Layer) []Param {
	return []Param{
		{Name: l.Name + ".weight", Shape: []int{l.In, l.Out}, Init: InitFanInUniform, FanIn: l.In},
		{Name: l.Name + ".bias", Shape: []int{l.Out}, Init: InitFanInUniform, FanIn: l.In},
	}
}

func (v *verifier) checkInput() {
	in := v.m.Input
	if len(in.Shape) != 1 && len(in.Shape) != 3 {
		v.errorf("input shape %v: want [D] or [C, H, W]", in.Shape)
	}
	size := 1
	for _, d := range in.Shape {
		if d < 1 || d > MaxInputSize {
			v.errorf("input shape %v has a dimension out of range", in.Shape)
			return
		}
		size *= d
		if size > MaxInputSize {
			v.errorf("input shape %v: more than %d features", in.Shape, MaxInputSize)
			return
		}
	}
	if in.Size != size {
		v.errorf("input size %d, want %d (the product of shape %v)", in.Size, size, in.Shape)
	}
	if !finite(in.Scale) || in.Scale == 0 || !finite(in.Offset) {
		v.errorf("input scaling scale=%v offset=%v: want finite numbers, scale non-zero", in.Scale, in.Offset)
	}
}

// checkLayer checks one layer; out < 0 means any output size.
func (v *verifier) checkLayer(l Layer, name string, in, out int) {
	if l.Name != name {
		v.errorf("layer %q, want name %q", l.Name, name)
	}
	if l.Op != Dense {
		v.errorf("layer %s: op %q, want dense", name, l.Op)
	}
	if l.In != in {
		v.errorf("layer %s: in %d, but its input has %d features", name, l.In, in)
	}
	if out >= 0 && l.Out != out {
		v.errorf("layer %s: out %d, want %d", name, l.Out, out)
	}
	if l.Out < 1 || l.Out > max(MaxUnits, MaxInputSize) {
		v.errorf("layer %s: out %d out of range", name, l.Out)
	}
	if !slices.Contains(Activations, l.Activation) {
		v.errorf("layer %s: unknown activation %q", name, l.Activation)
	}
	switch l.Activation {
	case LeakyReLU, ELU:
		if !(l.Alpha > 0) || !finite(l.Alpha) {
			v.errorf("layer %s: %s alpha %v, want > 0", name, l.Activation, l.Alpha)
		}
	default:
		if l.Alpha != 0 {
			v.errorf("layer %s: alpha %v set for activation %s", name, l.Alpha, l.Activation)
		}
	}
	if l.Weight != name+".weight" || l.Bias != name+".bias" {
		v.errorf("layer %s: parameters %q, %q, want %q, %q", name, l.Weight, l.Bias, name+".weight", name+".bias")
	}
}

func (v *verifier) checkParams(want []Param) {
	got := v.m.Params
	seen := map[string]bool{}
	for _, p := range got {
		if seen[p.Name] {
			v.errorf("parameter %q declared twice", p.Name)
		}
		seen[p.Name] = true
	}
	if len(got) != len(want) {
		v.errorf("%d parameters, the layers imply %d", len(got), len(want))
		return
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Name != w.Name || !slices.Equal(g.Shape, w.Shape) || g.Init != w.Init || g.FanIn != w.FanIn {
			v.errorf("parameter %d is %s %v %s fan_in=%d, want %s %v %s fan_in=%d",
				i, g.Name, g.Shape, g.Init, g.FanIn, w.Name, w.Shape, w.Init, w.FanIn)
		}
	}
}

func (v *verifier) checkSettings() {
	m := v.m
	o := m.Objective
	if !finite(o.Beta) || o.Beta < 0 {
		v.errorf("objective beta %v, want >= 0", o.Beta)
	}
	if o.Samples < 1 {
		v.errorf("objective samples %d, want >= 1", o.Samples)
	}
	if o.WarmupEpochs < 0 {
		v.errorf("objective warmup_epochs %d, want >= 0", o.WarmupEpochs)
	}
	t := m.Train
	if !slices.Contains(optimizerKinds, t.Optimizer.Kind) {
		v.errorf("unknown optimizer %q", t.Optimizer.Kind)
	}
	if !(t.Optimizer.LearningRate > 0) || !finite(t.Optimizer.LearningRate) {
		v.errorf("learning rate %v, want > 0", t.Optimizer.LearningRate)
	}
	if t.BatchSize < 1 || t.Epochs < 1 || t.Patience < 0 {
		v.errorf("batch_size %d, epochs %d, patience %d: want >= 1, >= 1, >= 0", t.BatchSize, t.Epochs, t.Patience)
	}
	if !finite(t.WeightDecay) || t.WeightDecay < 0 || !finite(t.ClipNorm) || t.ClipNorm < 0 {
		v.errorf("weight_decay %v, clip_norm %v: want finite and >= 0", t.WeightDecay, t.ClipNorm)
	}
	if !unitOpen.contains(t.ValidationSplit) {
		v.errorf("validation_split %v, want in [0, 1)", t.ValidationSplit)
	}
	if t.ValidationSplit > 0 && m.Data.Validation != nil {
		v.errorf("both validation_split and a validation source")
	}
	v.checkSource("train", m.Data.Train)
	if m.Data.Validation != nil {
		v.checkSource("validation", *m.Data.Validation)
	}
	if m.Export.Opset < MinOpset || m.Export.Opset > MaxOpset {
		v.errorf("opset %d, want %d..%d", m.Export.Opset, MinOpset, MaxOpset)
	}
}

func (v *verifier) checkSource(name string, s Source) {
	if s.Path == "" {
		v.errorf("data %s: no path", name)
	}
	if !slices.Contains(formats, s.Format) {
		v.errorf("data %s: unknown format %q", name, s.Format)
	}
	if s.Start < 0 || s.Limit < 0 {
		v.errorf("data %s: negative range start=%d limit=%d", name, s.Start, s.Limit)
	}
	if s.Labels != "" && !slices.Contains(formats, s.LabelFormat) {
		v.errorf("data %s: unknown label format %q", name, s.LabelFormat)
	}
}
