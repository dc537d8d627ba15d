package compiler

import (
	"fmt"

	"github.com/vaec/vaec/ir"
)

// The round-1 model.json layout (no "format" key): an MLP with the encoder
// heads and the output layer as fields. Build directories made before the
// general IR hold it; DecodeModel converts it, and the spec hash of every
// model it can express is computed in it, so that those directories'
// checkpoints and ONNX files keep their hash. Field order and tags are
// those of round 1: the hash depends on them.

type legacyLayer struct {
	Name       string  `json:"name"`
	Op         string  `json:"op"`
	In         int     `json:"in"`
	Out        int     `json:"out"`
	Activation string  `json:"activation"`
	Alpha      float64 `json:"alpha,omitempty"`
	Weight     string  `json:"weight"`
	Bias       string  `json:"bias"`
	Pos        ir.Pos  `json:"pos"`
}

type legacyParam struct {
	Name  string `json:"name"`
	Shape []int  `json:"shape"`
	Init  string `json:"init"`
	FanIn int    `json:"fan_in"`
}

type legacyObjective struct {
	Beta         float64 `json:"beta"`
	Samples      int     `json:"samples"`
	WarmupEpochs int     `json:"warmup_epochs"`
}

type legacyOptimizer struct {
	Kind         string  `json:"kind"`
	LearningRate float64 `json:"learning_rate"`
	Beta1        float64 `json:"beta1,omitempty"`
	Beta2        float64 `json:"beta2,omitempty"`
	Epsilon      float64 `json:"epsilon,omitempty"`
	Momentum     float64 `json:"momentum,omitempty"`
	Rho          float64 `json:"rho,omitempty"`
}

type legacyTrain struct {
	Optimizer       legacyOptimizer `json:"optimizer"`
	BatchSize       int             `json:"batch_size"`
	Epochs          int             `json:"epochs"`
	Seed            uint64          `json:"seed"`
	WeightDecay     float64         `json:"weight_decay"`
	ClipNorm        float64         `json:"clip_norm"`
	ValidationSplit float64         `json:"validation_split"`
	Patience        int             `json:"patience"`
}

type legacySource struct {
	Path        string `json:"path"`
	Format      string `json:"format"`
	Start       int    `json:"start,omitempty"`
	Limit       int    `json:"limit,omitempty"`
	Labels      string `json:"labels,omitempty"`
	LabelFormat string `json:"label_format,omitempty"`
	CSVHeader   bool   `json:"csv_header,omitempty"`
}

type legacyData struct {
	Train      legacySource  `json:"train"`
	Validation *legacySource `json:"validation,omitempty"`
}

type legacyModel struct {
	Version      int             `json:"vaec"`
	Name         string          `json:"name"`
	SpecFile     string          `json:"spec_file"`
	SpecHash     string          `json:"spec_hash"`
	Input        ir.Input        `json:"input"`
	Latent       int             `json:"latent"`
	Encoder      []legacyLayer   `json:"encoder"`
	Mu           legacyLayer     `json:"mu"`
	Logvar       legacyLayer     `json:"logvar"`
	Decoder      []legacyLayer   `json:"decoder"`
	Output       legacyLayer     `json:"output"`
	Likelihood   string          `json:"likelihood"`
	Sigma        float64         `json:"sigma,omitempty"`
	OutputLogvar string          `json:"output_logvar,omitempty"`
	Params       []legacyParam   `json:"params"`
	Objective    legacyObjective `json:"objective"`
	Train        legacyTrain     `json:"train"`
	Data         legacyData      `json:"data"`
	Export       ir.Export       `json:"export"`
}

func (l *legacyModel) stripPositions() {
	for i := range l.Encoder {
		l.Encoder[i].Pos = ir.Pos{}
	}
	for i := range l.Decoder {
		l.Decoder[i].Pos = ir.Pos{}
	}
	l.Mu.Pos, l.Logvar.Pos, l.Output.Pos = ir.Pos{}, ir.Pos{}, ir.Pos{}
}

// toLegacy expresses m in the round-1 layout; ok is false when m is not an
// MLP of dense layers with the round-1 names, the default prior and the
// ELBO objective.
func toLegacy(m *ir.Model) (l legacyModel, ok bool) {
	if m.Prior.Kind != ir.PriorNormal || m.Objective.Kind != ir.ELBO {
		return l, false
	}
	// The round-1 form has no column selection or header: false; a model
	// using them is hashed in its own form, so that they count.
	for _, s := range []*ir.Source{&m.Data.Train, m.Data.Validation} {
		if s != nil && (s.CSVNoHeader || s.Columns != nil || s.Exclude != nil) {
			return l, false
		}
	}
	layer := func(n *ir.Node) (legacyLayer, bool) {
		if n.Op != ir.Dense || len(n.In) != 1 || len(n.Params) != 2 ||
			n.Params[0] != n.Name+".weight" || n.Params[1] != n.Name+".bias" {
			return legacyLayer{}, false
		}
		return legacyLayer{Name: n.Name, Op: "dense", In: n.In[0].Size(), Out: n.Out.Size(),
			Activation: n.Activation.String(), Alpha: n.Alpha, Weight: n.Params[0], Bias: n.Params[1], Pos: n.Pos}, true
	}
	// chain reads the hidden layers name.0, name.1, … each fed by the one before.
	chain := func(g *ir.Graph, prefix string, tail int) ([]legacyLayer, bool) {
		var out []legacyLayer
		prev := g.Inputs[0].Name
		for i, n := range g.Nodes[:len(g.Nodes)-tail] {
			if n.Role != ir.Hidden || n.Name != fmt.Sprintf("%s.%d", prefix, i) || len(n.Inputs) != 1 || n.Inputs[0] != prev {
				return nil, false
			}
			ll, ok := layer(&g.Nodes[i])
			if !ok {
				return nil, false
			}
			out = append(out, ll)
			prev = n.Name
		}
		return out, true
	}
	enc, dec := &m.Encoder, &m.Decoder
	if len(enc.Inputs) != 1 || len(dec.Inputs) != 1 || len(enc.Nodes) < 2 || len(dec.Nodes) < 1 {
		return l, false
	}
	if l.Encoder, ok = chain(enc, "encoder", 2); !ok {
		return l, false
	}
	if l.Decoder, ok = chain(dec, "decoder", 1); !ok {
		return l, false
	}
	mu, lv, out := &enc.Nodes[len(enc.Nodes)-2], &enc.Nodes[len(enc.Nodes)-1], &dec.Nodes[len(dec.Nodes)-1]
	if mu.Role != ir.RoleMu || mu.Name != "encoder.mu" || lv.Role != ir.RoleLogvar || lv.Name != "encoder.logvar" ||
		out.Role != ir.RoleOutput || out.Name != "decoder.out" || !out.Out.Equal(ir.Shape{m.Input.Size}) {
		return l, false
	}
	var ok1, ok2, ok3 bool
	l.Mu, ok1 = layer(mu)
	l.Logvar, ok2 = layer(lv)
	l.Output, ok3 = layer(out)
	if !ok1 || !ok2 || !ok3 {
		return l, false
	}
	l.Version, l.Name, l.SpecFile, l.SpecHash = m.Version, m.Name, m.SpecFile, m.SpecHash
	l.Input, l.Latent = m.Input, m.Latent
	l.Likelihood, l.Sigma, l.OutputLogvar = m.Likelihood.Kind.String(), m.Likelihood.Sigma, m.Likelihood.Logvar
	for _, p := range m.Params {
		l.Params = append(l.Params, legacyParam{Name: p.Name, Shape: p.Shape, Init: p.Init.String(), FanIn: p.FanIn})
	}
	o := m.Objective
	l.Objective = legacyObjective{Beta: o.Beta, Samples: o.Samples, WarmupEpochs: o.WarmupEpochs}
	t := m.Train
	op := t.Optimizer
	l.Train = legacyTrain{
		Optimizer: legacyOptimizer{Kind: op.Kind.String(), LearningRate: op.LearningRate, Beta1: op.Beta1, Beta2: op.Beta2,
			Epsilon: op.Epsilon, Momentum: op.Momentum, Rho: op.Rho},
		BatchSize: t.BatchSize, Epochs: t.Epochs, Seed: t.Seed, WeightDecay: t.WeightDecay, ClipNorm: t.ClipNorm,
		ValidationSplit: t.ValidationSplit, Patience: t.Patience,
	}
	src := func(s ir.Source) legacySource {
		ls := legacySource{Path: s.Path, Format: s.Format.String(), Start: s.Start, Limit: s.Limit, Labels: s.Labels, CSVHeader: s.CSVHeader}
		if s.LabelFormat != ir.FormatNone {
			ls.LabelFormat = s.LabelFormat.String()
		}
		return ls
	}
	l.Data.Train = src(m.Data.Train)
	if m.Data.Validation != nil {
		v := src(*m.Data.Validation)
		l.Data.Validation = &v
	}
	l.Export = m.Export
	return l, true
}

// fromLegacy converts a round-1 model to the IR. Shapes are recomputed from
// the layer widths; ir.Verify then compares them with the parameter table
// the file declares.
func fromLegacy(l *legacyModel) (*ir.Model, error) {
	m := &ir.Model{Format: ir.FormatVersion, Version: l.Version, Name: l.Name, SpecFile: l.SpecFile, SpecHash: l.SpecHash,
		Input: l.Input, Latent: l.Latent}
	var err error
	if m.Likelihood.Kind, err = parseText[ir.LikelihoodKind](l.Likelihood); err != nil {
		return nil, err
	}
	m.Likelihood.Sigma, m.Likelihood.Logvar = l.Sigma, l.OutputLogvar
	node := func(ll legacyLayer, role ir.Role, inputs []string) (ir.Node, error) {
		if ll.Op != "dense" {
			return ir.Node{}, fmt.Errorf("layer %s: op %q, want dense", ll.Name, ll.Op)
		}
		act, err := ir.ParseActivation(ll.Activation)
		if err != nil {
			return ir.Node{}, fmt.Errorf("layer %s: %w", ll.Name, err)
		}
		return ir.Node{Name: ll.Name, Op: ir.Dense, Role: role, Inputs: inputs, Pos: ll.Pos,
			Attrs: ir.Attrs{Units: ll.Out, Activation: act, Alpha: ll.Alpha}}, nil
	}
	add := func(b *ir.Builder, ll legacyLayer, role ir.Role, inputs []string) error {
		n, err := node(ll, role, inputs)
		if err != nil {
			return err
		}
		_, err = b.Add(n)
		return err
	}
	enc := m.EncoderBuilder()
	for _, ll := range l.Encoder {
		if err := add(enc, ll, ir.Hidden, nil); err != nil {
			return nil, err
		}
	}
	h := enc.Last()
	if err := add(enc, l.Mu, ir.RoleMu, []string{h}); err != nil {
		return nil, err
	}
	if err := add(enc, l.Logvar, ir.RoleLogvar, []string{h}); err != nil {
		return nil, err
	}
	dec := m.DecoderBuilder()
	for _, ll := range l.Decoder {
		if err := add(dec, ll, ir.Hidden, nil); err != nil {
			return nil, err
		}
	}
	if err := add(dec, l.Output, ir.RoleOutput, nil); err != nil {
		return nil, err
	}
	// The declared table, not the derived one: Verify compares the two.
	m.Params = nil
	for _, p := range l.Params {
		init, err := parseText[ir.Init](p.Init)
		if err != nil {
			return nil, fmt.Errorf("parameter %s: %w", p.Name, err)
		}
		m.Params = append(m.Params, ir.Param{Name: p.Name, Shape: p.Shape, Init: init, FanIn: p.FanIn})
	}
	m.Objective = ir.Objective{Kind: ir.ELBO, Beta: l.Objective.Beta, Samples: l.Objective.Samples, WarmupEpochs: l.Objective.WarmupEpochs}
	t, op := l.Train, l.Train.Optimizer
	kind, err := ir.ParseOptimizer(op.Kind)
	if err != nil {
		return nil, err
	}
	m.Train = ir.Train{
		Optimizer: ir.Optimizer{Kind: kind, LearningRate: op.LearningRate, Beta1: op.Beta1, Beta2: op.Beta2,
			Epsilon: op.Epsilon, Momentum: op.Momentum, Rho: op.Rho},
		BatchSize: t.BatchSize, Epochs: t.Epochs, Seed: t.Seed, WeightDecay: t.WeightDecay, ClipNorm: t.ClipNorm,
		ValidationSplit: t.ValidationSplit, Patience: t.Patience,
	}
	src := func(ls legacySource) (ir.Source, error) {
		s := ir.Source{Path: ls.Path, Start: ls.Start, Limit: ls.Limit, Labels: ls.Labels, CSVHeader: ls.CSVHeader}
		var err error
		if s.Format, err = ir.ParseFormat(ls.Format); err != nil {
			return s, err
		}
		if ls.LabelFormat != "" {
			if s.LabelFormat, err = ir.ParseFormat(ls.LabelFormat); err != nil {
				return s, err
			}
		}
		return s, nil
	}
	if m.Data.Train, err = src(l.Data.Train); err != nil {
		return nil, err
	}
	if l.Data.Validation != nil {
		v, err := src(*l.Data.Validation)
		if err != nil {
			return nil, err
		}
		m.Data.Validation = &v
	}
	m.Export = l.Export
	return m, nil
}

// parseText decodes an IR enum from its name.
func parseText[E any, P interface {
	*E
	UnmarshalText([]byte) error
}](s string) (E, error) {
	var e E
	err := P(&e).UnmarshalText([]byte(s))
	return e, err
}
