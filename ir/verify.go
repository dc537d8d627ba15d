package ir

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
)

// Limits every model obeys; the compiler refuses specs beyond them with
// positions, and Verify refuses model files beyond them.
const (
	MaxLayers    = 64      // nodes per encoder or decoder
	MaxUnits     = 1 << 16 // units of one layer, and the latent size
	MaxInputSize = 1 << 24 // features of one example, and of any value
	MinOpset     = 13
	MaxOpset     = 17
)

// SpecVersions lists the spec versions (the `vaec:` key) this build reads.
var SpecVersions = []int{1}

// NamePattern is what model names look like (they go into file metadata).
const NamePattern = `^[A-Za-z0-9][A-Za-z0-9._-]*$`

var (
	nameRE = regexp.MustCompile(NamePattern)
	hashRE = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// Verify is the one place where the model's structure is checked: graph
// inputs, the chain of nodes and their shapes (recomputed through the op
// table), attributes, roles, parameter declarations (each once, with the
// shape its node implies, in the documented order), the likelihood, the
// prior and every setting. The lowerings in graph and export rely on a
// verified model and do not check again. It returns every violation,
// joined; those at a node carry its spec position.
//
// The compiler runs it on its own output; reading a model.json runs it
// on what a user may have edited.
func Verify(m *Model) error {
	if m == nil {
		return errors.New("ir: nil model")
	}
	v := &verifier{m: m, names: map[string]string{}}
	v.check()
	return errors.Join(v.errs...)
}

// VerifyArchitecture is Verify without the model's identity (format,
// version, name, spec hash) and settings (objective, training, data,
// export): what a lowering of the networks needs, so that a model built
// in code without data sources can be run and exported.
func VerifyArchitecture(m *Model) error {
	if m == nil {
		return errors.New("ir: nil model")
	}
	v := &verifier{m: m, names: map[string]string{}}
	v.checkArchitecture()
	return errors.Join(v.errs...)
}

type verifier struct {
	m     *Model
	errs  []error
	want  []Param
	names map[string]string // every node, input and parameter name → what it is
}

func (v *verifier) errorf(format string, args ...any) {
	v.errs = append(v.errs, fmt.Errorf("ir: "+format, args...))
}

func (v *verifier) nodeErrorf(n *Node, format string, args ...any) {
	v.errs = append(v.errs, fmt.Errorf("ir: %s: %s", n.Where(), fmt.Sprintf(format, args...)))
}

// name records a value name, which must be unique in the model: ONNX
// graphs are in SSA form and checkpoints key on parameter names.
func (v *verifier) name(name, what string) {
	if name == "" {
		v.errorf("%s has no name", what)
		return
	}
	if prev, ok := v.names[name]; ok && prev != what {
		v.errorf("name %q is used by %s and by %s", name, prev, what)
	}
	v.names[name] = what
}

func (v *verifier) check() {
	m := v.m
	if m.Format != FormatVersion {
		v.errorf("model format %d, want %d", m.Format, FormatVersion)
	}
	if !slices.Contains(SpecVersions, m.Version) {
		v.errorf("version %d is not supported", m.Version)
	}
	if !nameRE.MatchString(m.Name) {
		v.errorf("invalid name %q", m.Name)
	}
	if !hashRE.MatchString(m.SpecHash) {
		v.errorf("spec_hash %q is not a hex SHA-256", m.SpecHash)
	}
	v.checkArchitecture()
	v.checkSettings()
}

func (v *verifier) checkArchitecture() {
	m := v.m
	v.checkInput()
	if m.Latent < 1 || m.Latent > MaxUnits {
		v.errorf("latent %d out of range [1, %d]", m.Latent, MaxUnits)
	}
	encIn, decIn := []Value{{Name: InputX, Shape: m.Input.Shape}}, []Value{{Name: InputZ, Shape: Shape{m.Latent}}}
	if m.Condition.Classes < 0 || m.Condition.Classes > MaxClasses {
		v.errorf("condition classes %d, want 0 to %d", m.Condition.Classes, MaxClasses)
	} else if m.Conditional() {
		encIn, decIn = append(encIn, m.conditionInput()), append(decIn, m.conditionInput())
	}
	v.checkGraph("encoder", &m.Encoder, encIn...)
	v.checkGraph("decoder", &m.Decoder, decIn...)
	v.checkRoles()
	v.checkLikelihood()
	v.checkPrior()
	v.checkParams()
}

func (v *verifier) checkInput() {
	in := v.m.Input
	if len(in.Shape) != 1 && len(in.Shape) != 3 {
		v.errorf("input shape %v: want [D] or [C, H, W]", in.Shape)
	}
	size, ok := in.Shape.checkedSize(MaxInputSize)
	if !ok {
		v.errorf("input shape %v: dimensions must be positive, at most %d features", in.Shape, MaxInputSize)
	} else if in.Size != size {
		v.errorf("input size %d, want %d (the product of shape %v)", in.Size, size, in.Shape)
	}
	if !finite(in.Scale) || in.Scale == 0 || !finite(in.Offset) {
		v.errorf("input scaling scale=%v offset=%v: want finite numbers, scale non-zero", in.Scale, in.Offset)
	}
	vector := func(name string, x []float64, nonzero bool) {
		if len(x) != in.Size {
			v.errorf("input %s has %d values, want %d", name, len(x), in.Size)
			return
		}
		for d, f := range x {
			if !finite(f) {
				v.errorf("input %s[%d] = %v: want a finite number", name, d, f)
				return
			}
			if nonzero && f == 0 {
				v.errorf("input %s[%d] = 0: want a non-zero number", name, d)
				return
			}
		}
	}
	switch in.Normalize {
	case NormalizeNone:
		if in.FeatureScale != nil || in.FeatureShift != nil {
			v.errorf("input feature_scale/feature_shift set without normalize")
		}
	case NormalizeStandardize, NormalizeMinMax:
		vector("feature_scale", in.FeatureScale, true)
		vector("feature_shift", in.FeatureShift, false)
	default:
		v.errorf("unknown normalize %v", in.Normalize)
	}
	switch in.Missing {
	case MissingError:
		if in.Fill != nil {
			v.errorf("input fill set without missing: mean")
		}
	case MissingMean:
		vector("fill", in.Fill, false)
	default:
		v.errorf("unknown missing %v", in.Missing)
	}
	if in.Columns != nil && len(in.Columns) != in.Size {
		v.errorf("input has %d column names for %d features", len(in.Columns), in.Size)
	}
}

// checkGraph checks the graph's input and walks its nodes in order,
// recomputing every shape and parameter from the op table.
func (v *verifier) checkGraph(what string, g *Graph, inputs ...Value) {
	if len(g.Inputs) != len(inputs) {
		v.errorf("%s inputs %v, want %v", what, g.Inputs, inputs)
		return
	}
	for i, in := range inputs {
		if g.Inputs[i].Name != in.Name || !g.Inputs[i].Shape.Equal(in.Shape) {
			v.errorf("%s inputs %v, want %v", what, g.Inputs, inputs)
			return
		}
	}
	input := inputs[0]
	if len(g.Nodes) == 0 || len(g.Nodes) > MaxLayers+2 {
		v.errorf("%s has %d nodes, want 1 to %d", what, len(g.Nodes), MaxLayers+2)
		return
	}
	v.name(input.Name, what+" input")
	shapes := map[string]Shape{input.Name: input.Shape}
	for _, in := range inputs[1:] {
		shapes[in.Name] = in.Shape // y, shared by both graphs
	}
	for i := range g.Nodes {
		n := &g.Nodes[i]
		v.name(n.Name, what+" node "+n.Name)
		if !n.Op.Valid() {
			v.nodeErrorf(n, "unknown op %v", n.Op)
			continue
		}
		info := n.Op.Info()
		if len(n.Inputs) != info.Arity || len(n.In) != info.Arity {
			v.nodeErrorf(n, "%s takes %d inputs, the node has %d (%d shapes)", info.Name, info.Arity, len(n.Inputs), len(n.In))
			continue
		}
		ok := true
		for j, in := range n.Inputs {
			s, defined := shapes[in]
			switch {
			case !defined:
				v.nodeErrorf(n, "input %q is not defined before it in the %s", in, what)
				ok = false
			case !s.Equal(n.In[j]):
				v.nodeErrorf(n, "input %q has shape %v, the node records %v", in, s, n.In[j])
				ok = false
			}
		}
		if !ok {
			continue
		}
		v.checkAttrs(n, info)
		out, err := info.Infer(n, n.In)
		if err != nil {
			v.nodeErrorf(n, "%s: %v", info.Name, err)
			continue
		}
		if !out.Equal(n.Out) {
			v.nodeErrorf(n, "output shape %v, the op gives %v", n.Out, out)
		}
		if _, ok := n.Out.checkedSize(MaxInputSize); !ok {
			v.nodeErrorf(n, "output shape %v out of range", n.Out)
		}
		specs := info.Params(n)
		if len(specs) != len(n.Params) {
			v.nodeErrorf(n, "%d parameters, %s implies %d", len(n.Params), info.Name, len(specs))
		}
		for j, p := range specs {
			name := n.Name + "." + p.Suffix
			if j < len(n.Params) && n.Params[j] != name {
				v.nodeErrorf(n, "parameter %d is %q, want %q", j, n.Params[j], name)
			}
			v.want = append(v.want, Param{Name: name, Shape: p.Shape, Init: p.Init, FanIn: p.FanIn, Buffer: p.Buffer})
		}
		shapes[n.Name] = n.Out
	}
}

// checkAttrs checks the attributes an op does not read are zero and the
// activation's own rules.
func (v *verifier) checkAttrs(n *Node, info *OpInfo) {
	uses := func(a string) bool { return slices.Contains(info.Attrs, a) }
	if n.Units != 0 && !uses("units") {
		v.nodeErrorf(n, "units %d set on %s", n.Units, info.Name)
	}
	for _, a := range []struct {
		name string
		set  bool
	}{
		{"filters", n.Filters != 0}, {"kernel", n.Kernel != nil}, {"stride", n.Stride != nil},
		{"padding", n.Padding != nil}, {"output_padding", n.OutputPadding != nil}, {"factor", n.Factor != nil},
		{"momentum", n.Momentum != 0}, {"epsilon", n.Epsilon != 0}, {"shape", n.Target != nil},
	} {
		if a.set && !uses(a.name) {
			v.nodeErrorf(n, "%s set on %s", a.name, info.Name)
		}
	}
	if n.Filters < 0 || n.Filters > MaxUnits {
		v.nodeErrorf(n, "filters %d out of range", n.Filters)
	}
	if n.Units < 0 || n.Units > max(MaxUnits, MaxInputSize) {
		v.nodeErrorf(n, "units %d out of range", n.Units)
	}
	if int(n.Activation) >= len(activationNames) {
		v.nodeErrorf(n, "unknown activation %v", n.Activation)
	}
	if n.Activation != Linear && !uses("activation") {
		v.nodeErrorf(n, "activation %s set on %s", n.Activation, info.Name)
	}
	if n.Activation.HasAlpha() {
		if !(n.Alpha > 0) || !finite(n.Alpha) {
			v.nodeErrorf(n, "%s alpha %v, want > 0", n.Activation, n.Alpha)
		}
	} else if n.Alpha != 0 {
		v.nodeErrorf(n, "alpha %v set for activation %s", n.Alpha, n.Activation)
	}
}

// checkRoles: the encoder has one mu and one logvar head giving [latent]
// linearly; the decoder ends in its one output node.
func (v *verifier) checkRoles() {
	m := v.m
	count := func(g *Graph, r Role) int {
		c := 0
		for _, n := range g.Nodes {
			if n.Role == r {
				c++
			}
		}
		return c
	}
	for _, r := range []Role{RoleMu, RoleLogvar} {
		if c := count(&m.Encoder, r); c != 1 {
			v.errorf("encoder has %d %s heads, want 1", c, r)
			continue
		}
		h := m.Encoder.Role(r)
		if !h.Out.Equal(Shape{m.Latent}) {
			v.nodeErrorf(h, "the %s head gives %v, the latent is [%d]", r, h.Out, m.Latent)
		}
		if h.Activation != Linear {
			v.nodeErrorf(h, "the %s head has activation %s, want linear", r, h.Activation)
		}
		if count(&m.Decoder, r) != 0 {
			v.errorf("a %s head in the decoder", r)
		}
	}
	if c := count(&m.Encoder, RoleOutput); c != 0 {
		v.errorf("an output node in the encoder")
	}
	if c := count(&m.Decoder, RoleOutput); c != 1 {
		v.errorf("decoder has %d output nodes, want 1", c)
		return
	}
	if len(m.Decoder.Nodes) == 0 || m.Decoder.Nodes[len(m.Decoder.Nodes)-1].Role != RoleOutput {
		v.errorf("the decoder's output node must be its last")
		return
	}
	out := m.Output()
	if !out.Out.Equal(m.Input.Shape) && !out.Out.Equal(Shape{m.Input.Size}) {
		v.nodeErrorf(out, "the output node gives %v, the input is %v", out.Out, m.Input.Shape)
	}
}

func (v *verifier) checkLikelihood() {
	m, l := v.m, v.m.Likelihood
	out := m.Output()
	switch l.Kind {
	case Bernoulli:
		if out != nil && out.Activation != Linear {
			v.nodeErrorf(out, "bernoulli output activation %s, want linear (logits)", out.Activation)
		}
	case GaussianFixed:
		if !(l.Sigma > 0) || !finite(l.Sigma) {
			v.errorf("gaussian sigma %v, want > 0", l.Sigma)
		}
	case GaussianLearned:
	default:
		v.errorf("unknown likelihood %v", l.Kind)
	}
	if l.Kind != GaussianFixed && l.Sigma != 0 {
		v.errorf("sigma %v set for likelihood %s", l.Sigma, l.Kind)
	}
	if l.Kind != Bernoulli && out != nil && out.Activation != Linear && out.Activation != Sigmoid {
		v.nodeErrorf(out, "gaussian mean activation %s, want linear or sigmoid", out.Activation)
	}
	if l.Kind == GaussianLearned {
		if l.Logvar != "decoder.logvar" {
			v.errorf("likelihood logvar %q, want %q", l.Logvar, "decoder.logvar")
		}
		v.want = append(v.want, Param{Name: "decoder.logvar", Shape: Shape{m.Input.Size}, Init: InitZeros})
	} else if l.Logvar != "" {
		v.errorf("likelihood logvar %q set for likelihood %s", l.Logvar, l.Kind)
	}
}

// checkParams compares the declared table with the one the nodes imply.
func (v *verifier) checkParams() {
	got := v.m.Params
	seen := map[string]bool{}
	for _, p := range got {
		if seen[p.Name] {
			v.errorf("parameter %q declared twice", p.Name)
		}
		seen[p.Name] = true
		v.name(p.Name, "parameter "+p.Name)
	}
	if len(got) != len(v.want) {
		v.errorf("%d parameters, the nodes imply %d", len(got), len(v.want))
		return
	}
	for i, w := range v.want {
		g := got[i]
		if g.Name != w.Name || !g.Shape.Equal(w.Shape) || g.Init != w.Init || g.FanIn != w.FanIn || g.Buffer != w.Buffer {
			v.errorf("parameter %d is %s %v %s fan_in=%d buffer=%v, want %s %v %s fan_in=%d buffer=%v",
				i, g.Name, g.Shape, g.Init, g.FanIn, g.Buffer, w.Name, w.Shape, w.Init, w.FanIn, w.Buffer)
		}
	}
}

func (v *verifier) checkSettings() {
	m := v.m
	o := m.Objective
	v.checkObjectiveKind()
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
	if !slices.Contains(OptimizerKinds, t.Optimizer.Kind) {
		v.errorf("unknown optimizer %v", t.Optimizer.Kind)
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
	if !(t.ValidationSplit >= 0 && t.ValidationSplit < 1) {
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
	if r := m.Anomaly.FalsePositiveRate; !(r >= 0 && r < 0.5) {
		v.errorf("anomaly false_positive_rate %v, want in [0, 0.5)", r)
	}
}

func (v *verifier) checkSource(name string, s Source) {
	if s.Path == "" {
		v.errorf("data %s: no path", name)
	}
	if !slices.Contains(Formats, s.Format) {
		v.errorf("data %s: unknown format %v", name, s.Format)
	}
	if s.Start < 0 || s.Limit < 0 {
		v.errorf("data %s: negative range start=%d limit=%d", name, s.Start, s.Limit)
	}
	if s.Labels != "" && !slices.Contains(Formats, s.LabelFormat) {
		v.errorf("data %s: unknown label format %v", name, s.LabelFormat)
	}
}
