package ir

import (
	"fmt"
	"strings"
)

// Op is the kind of a node. The table below is the one place an op is
// described: its form, arity, attributes, parameters, shape inference and
// cost. The verifier, the compiler's layer table and `vaec build` read it;
// graph and export each hold one lowering per op.
type Op uint8

const (
	OpInvalid Op = iota

	// Dense: y = act(flatten(x)·W + b). x [D] (or [C, H, W], flattened
	// row-major to D = C·H·W), W [D, Units] (input-major, not PyTorch's
	// [Units, D]), b [Units]; y [Units]. Attributes: units, activation,
	// alpha (elu, leaky_relu).
	Dense
)

// ParamSpec is one parameter an op implies for a node: its name is the
// node's name, a dot and Suffix ("encoder.0" + ".weight").
type ParamSpec struct {
	Suffix string
	Shape  Shape
	Init   Init
	FanIn  int // for InitFanInUniform
}

// OpInfo describes an op.
type OpInfo struct {
	Name  string   // as spelt in specs and model.json: "dense"
	Form  string   // one line: what it computes
	Arity int      // number of inputs
	Attrs []string // the attributes it reads; the others must be left zero

	// Params lists the parameters of n, whose In shapes are known.
	Params func(n *Node) []ParamSpec
	// Infer returns n's output shape for the given input shapes, or an
	// error saying what does not fit (with the numbers).
	Infer func(n *Node, in []Shape) (Shape, error)
	// MACs is the multiply-adds per example.
	MACs func(n *Node) int
}

// ops is the op table, indexed by Op. RegisterOp appends to it.
var ops = []OpInfo{
	OpInvalid: {Name: "invalid"},
	Dense: {
		Name:  "dense",
		Form:  "y = act(flatten(x)·W + b)",
		Arity: 1,
		Attrs: []string{"units", "activation", "alpha"},
		Params: func(n *Node) []ParamSpec {
			d := n.In[0].Size()
			// PyTorch's nn.Linear draws both weight and bias from U(±1/sqrt(in)).
			return []ParamSpec{
				{Suffix: "weight", Shape: Shape{d, n.Units}, Init: InitFanInUniform, FanIn: d},
				{Suffix: "bias", Shape: Shape{n.Units}, Init: InitFanInUniform, FanIn: d},
			}
		},
		Infer: func(n *Node, in []Shape) (Shape, error) {
			if n.Units < 1 {
				return nil, fmt.Errorf("units %d, want at least 1", n.Units)
			}
			return Shape{n.Units}, nil
		},
		MACs: func(n *Node) int { return n.In[0].Size() * n.Units },
	},
}

// Info returns the op's table entry; an unknown op gets the entry of
// OpInvalid.
func (o Op) Info() *OpInfo {
	if int(o) >= len(ops) {
		return &ops[OpInvalid]
	}
	return &ops[o]
}

// Valid tells whether o is in the table.
func (o Op) Valid() bool { return o != OpInvalid && int(o) < len(ops) }

func (o Op) String() string {
	if !o.Valid() {
		return fmt.Sprintf("op(%d)", uint8(o))
	}
	return ops[o].Name
}

func (o Op) MarshalText() ([]byte, error) {
	if !o.Valid() {
		return nil, fmt.Errorf("invalid op %d", uint8(o))
	}
	return []byte(ops[o].Name), nil
}

func (o *Op) UnmarshalText(b []byte) error {
	op, err := ParseOp(string(b))
	if err != nil {
		return err
	}
	*o = op
	return nil
}

// ParseOp returns the op called name.
func ParseOp(name string) (Op, error) {
	for i := 1; i < len(ops); i++ {
		if ops[i].Name == name {
			return Op(i), nil
		}
	}
	return OpInvalid, fmt.Errorf("unknown op %q (one of %s)", name, strings.Join(OpNames(), ", "))
}

// OpNames lists the ops' names in table order.
func OpNames() []string {
	var names []string
	for i := 1; i < len(ops); i++ {
		names = append(names, ops[i].Name)
	}
	return names
}

// RegisterOp adds an op to the table and returns it. It exists for tests
// and for experiments that add an op without editing this file; the ops
// vaec ships are the constants above. It is not safe for concurrent use
// with anything that reads the table: call it before building models.
func RegisterOp(info OpInfo) (Op, error) {
	if info.Name == "" || info.Arity < 1 || info.Infer == nil || info.Params == nil || info.MACs == nil {
		return OpInvalid, fmt.Errorf("register op %q: name, arity, Infer, Params and MACs are required", info.Name)
	}
	if _, err := ParseOp(info.Name); err == nil {
		return OpInvalid, fmt.Errorf("register op %q: the name is taken", info.Name)
	}
	if len(ops) >= 255 {
		return OpInvalid, fmt.Errorf("register op %q: the table is full", info.Name)
	}
	ops = append(ops, info)
	return Op(len(ops) - 1), nil
}
