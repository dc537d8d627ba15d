package ir

import "fmt"

// Builder appends nodes to one graph of a model, inferring each node's
// shapes through the op table and declaring its parameters in the model's
// table, in order. The compiler lowers a spec with it; tests build models
// with it by hand.
type Builder struct {
	m    *Model
	g    *Graph
	last string // the most recent node (or the graph input): the default input of the next

	// A conditional model's y (condition.go): pendingY until the concat
	// node is inserted, then every input yFrom reads yAt instead.
	pendingY   bool
	yFrom, yAt string
}

// EncoderBuilder starts the encoder of m: its input x has the shape of
// m.Input. It replaces any encoder m had.
func (m *Model) EncoderBuilder() *Builder {
	m.Encoder = Graph{Inputs: []Value{{Name: InputX, Shape: m.Input.Shape.Clone()}}}
	b := &Builder{m: m, g: &m.Encoder, last: InputX}
	if m.Conditional() {
		b.condition()
	}
	return b
}

// DecoderBuilder starts the decoder of m: its input z is [m.Latent]. It
// replaces any decoder m had.
func (m *Model) DecoderBuilder() *Builder {
	m.Decoder = Graph{Inputs: []Value{{Name: InputZ, Shape: Shape{m.Latent}}}}
	b := &Builder{m: m, g: &m.Decoder, last: InputZ}
	if m.Conditional() {
		b.condition()
	}
	return b
}

// Last is the name of the most recently added node, or the graph input.
func (b *Builder) Last() string { return b.last }

// shapeOf returns the shape of the graph input or node called name.
func (g *Graph) shapeOf(name string) (Shape, bool) {
	for _, v := range g.Inputs {
		if v.Name == name {
			return v.Shape, true
		}
	}
	for i := range g.Nodes {
		if g.Nodes[i].Name == name {
			return g.Nodes[i].Out, true
		}
	}
	return nil, false
}

// Add appends n. Left empty, n.Inputs is the previous node (or the graph
// input). Add fills In and Out by shape inference and Params from the op
// table, appends the parameters to the model, and returns the node as
// stored. A shape that does not fit is an error at n's position, and
// nothing is added.
//
// In a conditional model's graphs the first dense node is preceded by the
// concat node that appends y to its input (see Condition).
func (b *Builder) Add(n Node) (*Node, error) {
	n.Inputs = append([]string(nil), n.Inputs...)
	if err := b.rewire(&n); err != nil {
		return nil, err
	}
	return b.add(n)
}

func (b *Builder) add(n Node) (*Node, error) {
	info := n.Op.Info()
	if !n.Op.Valid() {
		return nil, n.Errorf("unknown op %v", n.Op)
	}
	if len(n.Inputs) == 0 {
		n.Inputs = []string{b.last}
	}
	if len(n.Inputs) != info.Arity {
		return nil, n.Errorf("%s takes %d inputs, got %d", info.Name, info.Arity, len(n.Inputs))
	}
	n.In = nil
	for _, in := range n.Inputs {
		s, ok := b.g.shapeOf(in)
		if !ok {
			return nil, n.Errorf("input %q is not defined before it", in)
		}
		n.In = append(n.In, s.Clone())
	}
	out, err := info.Infer(&n, n.In)
	if err != nil {
		return nil, n.Errorf("%s: %v", info.Name, err)
	}
	n.Out = out
	n.Params = nil
	for _, p := range info.Params(&n) {
		name := n.Name + "." + p.Suffix
		n.Params = append(n.Params, name)
		b.m.Params = append(b.m.Params, Param{Name: name, Shape: p.Shape, Init: p.Init, FanIn: p.FanIn, Buffer: p.Buffer})
	}
	b.g.Nodes = append(b.g.Nodes, n)
	b.last = n.Name
	return &b.g.Nodes[len(b.g.Nodes)-1], nil
}

// AddLikelihoodParams declares the likelihood's own parameters (the
// learned output log-variance), after both graphs' nodes.
func (m *Model) AddLikelihoodParams() {
	if m.Likelihood.Kind == GaussianLearned {
		m.Likelihood.Logvar = "decoder.logvar"
		m.Params = append(m.Params, Param{Name: m.Likelihood.Logvar, Shape: Shape{m.Input.Size}, Init: InitZeros})
	}
}

// DenseLayer is one hidden dense layer of NewMLP.
type DenseLayer struct {
	Units      int
	Activation Activation
	Alpha      float64
}

// NewMLP returns the model of an MLP VAE with the given hidden layers:
// encoder.0 … encoder.{k-1}, the heads encoder.mu and encoder.logvar, the
// decoder layers and the output decoder.out with activation outAct
// (Linear for Bernoulli logits). Settings other than the architecture
// (objective, training, data) are left zero for the caller.
func NewMLP(name string, shape Shape, latent int, enc, dec []DenseLayer, lik Likelihood, outAct Activation) (*Model, error) {
	return newMLP(nil, name, shape, latent, enc, dec, lik, outAct)
}

func newMLP(set func(*Model), name string, shape Shape, latent int, enc, dec []DenseLayer, lik Likelihood, outAct Activation) (*Model, error) {
	m := &Model{Format: FormatVersion, Version: 1, Name: name, Latent: latent,
		Input: Input{Shape: shape.Clone(), Size: shape.Size(), Scale: 1}, Likelihood: lik}
	if set != nil {
		set(m)
	}
	b := m.EncoderBuilder()
	for i, l := range enc {
		if _, err := b.Add(Node{Name: fmt.Sprintf("encoder.%d", i), Op: Dense, Attrs: Attrs{Units: l.Units, Activation: l.Activation, Alpha: l.Alpha}}); err != nil {
			return nil, err
		}
	}
	h := b.Last()
	for _, head := range []struct {
		name string
		role Role
	}{{"encoder.mu", RoleMu}, {"encoder.logvar", RoleLogvar}} {
		if _, err := b.Add(Node{Name: head.name, Op: Dense, Role: head.role, Inputs: []string{h}, Attrs: Attrs{Units: latent}}); err != nil {
			return nil, err
		}
	}
	d := m.DecoderBuilder()
	for i, l := range dec {
		if _, err := d.Add(Node{Name: fmt.Sprintf("decoder.%d", i), Op: Dense, Attrs: Attrs{Units: l.Units, Activation: l.Activation, Alpha: l.Alpha}}); err != nil {
			return nil, err
		}
	}
	if _, err := d.Add(Node{Name: "decoder.out", Op: Dense, Role: RoleOutput, Attrs: Attrs{Units: m.Input.Size, Activation: outAct}}); err != nil {
		return nil, err
	}
	m.AddLikelihoodParams()
	return m, nil
}
