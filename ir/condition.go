package ir

import (
	"fmt"
	"strings"
)

// Condition makes the model a conditional VAE: with Classes > 0 both
// graphs take a second input y, the label one-hot encoded as a float
// vector [Classes] (so a real-valued condition vector of that length
// fits the same graphs). y enters each graph once, concatenated to the
// flattened input of its first dense node: for an MLP encoder that is the
// flattened image, [x, y]; for a convolutional encoder it is the flattened
// output of the last convolution, where the dense layers (or the mu and
// logvar heads) begin; for the decoder it is z, [z, y]. Builder inserts
// the concat node (named "encoder.concat_y" and "decoder.concat_y").
type Condition struct {
	Classes int `json:"classes,omitempty"`
}

// MaxClasses bounds a condition's classes.
const MaxClasses = 100000

// Conditional reports whether m takes a condition y.
func (m *Model) Conditional() bool { return m.Condition.Classes > 0 }

// conditionInput is y as a graph input.
func (m *Model) conditionInput() Value {
	return Value{Name: InputY, Shape: Shape{m.Condition.Classes}}
}

var concatInfo = OpInfo{
	Name:   "concat",
	Form:   "y = [flatten(a), b]",
	Arity:  2,
	Params: func(n *Node) []ParamSpec { return nil },
	Infer: func(n *Node, in []Shape) (Shape, error) {
		if len(in[1]) != 1 {
			return nil, fmt.Errorf("second input %v, want a vector", in[1])
		}
		return Shape{in[0].Size() + in[1][0]}, nil
	},
	MACs: func(n *Node) int { return 0 },
}

// condition makes b insert y before the first dense node it is given.
func (b *Builder) condition() {
	b.g.Inputs = append(b.g.Inputs, b.m.conditionInput())
	b.pendingY = true
}

// rewire maps the inputs of n through the concat node once it exists and
// inserts it before n when n is the first dense node.
func (b *Builder) rewire(n *Node) error {
	if len(n.Inputs) == 0 {
		n.Inputs = []string{b.last}
	}
	for i, in := range n.Inputs {
		if in == b.yFrom && b.yAt != "" {
			n.Inputs[i] = b.yAt
		}
	}
	if !b.pendingY || n.Op != Dense {
		return nil
	}
	b.pendingY = false
	from := n.Inputs[0]
	name := strings.SplitN(n.Name, ".", 2)[0] + ".concat_y"
	c, err := b.add(Node{Name: name, Op: Concat, Inputs: []string{from, InputY}, Pos: n.Pos, Path: n.Path})
	if err != nil {
		return err
	}
	b.yFrom, b.yAt = from, c.Name
	n.Inputs[0] = c.Name
	return nil
}

// NewMLPWith is NewMLP with set applied to the model before its graphs are
// built, for settings the builders read (a Condition).
func NewMLPWith(set func(*Model), name string, shape Shape, latent int, enc, dec []DenseLayer, lik Likelihood, outAct Activation) (*Model, error) {
	return newMLP(set, name, shape, latent, enc, dec, lik, outAct)
}
