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

	// Conv2D: y = act(conv(x, W) + b), PyTorch's Conv2d and ONNX Conv.
	// x [C, H, W], W [Filters, C, kh, kw], b [Filters]; y [Filters, OH, OW]
	// with OH = (H + 2·ph − kh)/sh + 1 rounded down (OW likewise).
	// Attributes: filters, kernel, stride, padding (each [h, w]), activation,
	// alpha.
	Conv2D
	// ConvTranspose2D: y = act(convᵀ(x, W) + b), PyTorch's ConvTranspose2d
	// and ONNX ConvTranspose. x [C, H, W], W [C, Filters, kh, kw],
	// b [Filters]; y [Filters, OH, OW] with OH = (H − 1)·sh − 2·ph + kh + oph.
	// Attributes: filters, kernel, stride, padding, output_padding (each
	// [h, w], output_padding below the stride), activation, alpha.
	ConvTranspose2D
	// Upsample: y[c, i, j] = x[c, i/fh, j/fw], nearest-neighbour upsampling
	// by integer factors. x [C, H, W]; y [C, H·fh, W·fw]. Attribute: factor.
	Upsample
	// BatchNorm: y = act(scale·(x − mean)/√(var + ε) + shift) per channel
	// of an image [C, H, W] (or per feature of a vector [D]). Training
	// normalises with the batch's statistics and updates the running ones
	// (running ← (1 − momentum)·running + momentum·batch, the variance
	// unbiased, as PyTorch); everything else uses the running ones.
	// Parameters weight (scale) and bias (shift), and the buffers
	// running_mean and running_var, all [C]. Attributes: momentum,
	// epsilon, activation, alpha.
	BatchNorm
	// Reshape: y = x with the per-example shape Shape (same element count,
	// row-major order kept): how a dense layer's vector becomes an image.
	// Attribute: shape.
	Reshape
	// Concat: y = [flatten(a), b], b a vector: how a conditional model's
	// label y joins the first dense layer's input (see Condition).
	Concat
)

// ParamSpec is one parameter an op implies for a node: its name is the
// node's name, a dot and Suffix ("encoder.0" + ".weight").
type ParamSpec struct {
	Suffix string
	Shape  Shape
	Init   Init
	FanIn  int // for InitFanInUniform
	// Buffer marks a tensor that is state rather than a trained parameter
	// (batch norm's running statistics): see Param.Buffer.
	Buffer bool
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
	Conv2D: {
		Name:  "conv2d",
		Form:  "y = act(conv(x, W) + b)",
		Arity: 1,
		Attrs: []string{"filters", "kernel", "stride", "padding", "activation", "alpha"},
		Params: func(n *Node) []ParamSpec {
			// PyTorch's _ConvNd: fan_in = weight.size(1)·kh·kw = C_in·kh·kw,
			// for the weight and the bias alike.
			c, kh, kw := n.In[0][0], n.Kernel[0], n.Kernel[1]
			fan := c * kh * kw
			return []ParamSpec{
				{Suffix: "weight", Shape: Shape{n.Filters, c, kh, kw}, Init: InitFanInUniform, FanIn: fan},
				{Suffix: "bias", Shape: Shape{n.Filters}, Init: InitFanInUniform, FanIn: fan},
			}
		},
		Infer: func(n *Node, in []Shape) (Shape, error) {
			x, err := convInput(n, in[0])
			if err != nil {
				return nil, err
			}
			oh, ow := (x[1]+2*n.Padding[0]-n.Kernel[0])/n.Stride[0]+1, (x[2]+2*n.Padding[1]-n.Kernel[1])/n.Stride[1]+1
			return Shape{n.Filters, oh, ow}, nil
		},
		MACs: func(n *Node) int { return n.Out.Size() * n.In[0][0] * n.Kernel[0] * n.Kernel[1] },
	},
	ConvTranspose2D: {
		Name:  "conv_transpose2d",
		Form:  "y = act(convᵀ(x, W) + b)",
		Arity: 1,
		Attrs: []string{"filters", "kernel", "stride", "padding", "output_padding", "activation", "alpha"},
		Params: func(n *Node) []ParamSpec {
			// The weight is [C_in, C_out, kh, kw], and PyTorch computes
			// fan_in from its second dimension: C_out·kh·kw.
			c, kh, kw := n.In[0][0], n.Kernel[0], n.Kernel[1]
			fan := n.Filters * kh * kw
			return []ParamSpec{
				{Suffix: "weight", Shape: Shape{c, n.Filters, kh, kw}, Init: InitFanInUniform, FanIn: fan},
				{Suffix: "bias", Shape: Shape{n.Filters}, Init: InitFanInUniform, FanIn: fan},
			}
		},
		Infer: func(n *Node, in []Shape) (Shape, error) {
			x, err := convInput(n, in[0])
			if err != nil {
				return nil, err
			}
			op := n.OutputPadding
			if len(op) != 2 || op[0] < 0 || op[1] < 0 {
				return nil, fmt.Errorf("output_padding %v, want [h, w] of sizes at least 0", op)
			}
			if op[0] >= n.Stride[0] || op[1] >= n.Stride[1] {
				return nil, fmt.Errorf("output_padding %s must be smaller than the stride %s", pair(op), pair(n.Stride))
			}
			oh := ConvTransposeOut(x[1], n.Kernel[0], n.Stride[0], n.Padding[0], op[0])
			ow := ConvTransposeOut(x[2], n.Kernel[1], n.Stride[1], n.Padding[1], op[1])
			if oh < 1 || ow < 1 {
				return nil, fmt.Errorf("output %d×%d from input %d×%d: padding %s is too large for kernel %s", oh, ow, x[1], x[2], pair(n.Padding), pair(n.Kernel))
			}
			return Shape{n.Filters, oh, ow}, nil
		},
		MACs: func(n *Node) int { return n.In[0].Size() * n.Filters * n.Kernel[0] * n.Kernel[1] },
	},
	Upsample: {
		Name:   "upsample",
		Form:   "y[c, i, j] = x[c, i/fh, j/fw]",
		Arity:  1,
		Attrs:  []string{"factor"},
		Params: func(n *Node) []ParamSpec { return nil },
		Infer: func(n *Node, in []Shape) (Shape, error) {
			if len(in[0]) != 3 {
				return nil, fmt.Errorf("needs an image [C, H, W], the input is %v", in[0])
			}
			f := n.Factor
			if len(f) != 2 || f[0] < 1 || f[1] < 1 {
				return nil, fmt.Errorf("factor %v, want [h, w] of integers at least 1", f)
			}
			if in[0][1] > MaxInputSize/f[0] || in[0][2] > MaxInputSize/f[1] {
				return nil, fmt.Errorf("factor %s makes the image %v too large", pair(f), in[0])
			}
			return Shape{in[0][0], in[0][1] * f[0], in[0][2] * f[1]}, nil
		},
		MACs: func(n *Node) int { return 0 },
	},
	BatchNorm: {
		Name:  "batch_norm",
		Form:  "y = act(scale·(x − mean)/√(var + ε) + shift)",
		Arity: 1,
		Attrs: []string{"momentum", "epsilon", "activation", "alpha"},
		Params: func(n *Node) []ParamSpec {
			c := Shape{BatchNormChannels(n.In[0])}
			// PyTorch's BatchNorm: weight 1, bias 0, running mean 0,
			// running variance 1.
			return []ParamSpec{
				{Suffix: "weight", Shape: c, Init: InitOnes},
				{Suffix: "bias", Shape: c.Clone(), Init: InitZeros},
				{Suffix: "running_mean", Shape: c.Clone(), Init: InitZeros, Buffer: true},
				{Suffix: "running_var", Shape: c.Clone(), Init: InitOnes, Buffer: true},
			}
		},
		Infer: func(n *Node, in []Shape) (Shape, error) {
			if len(in[0]) != 1 && len(in[0]) != 3 {
				return nil, fmt.Errorf("input %v, want [D] or [C, H, W]", in[0])
			}
			if !(n.Momentum >= 0 && n.Momentum <= 1) {
				return nil, fmt.Errorf("momentum %v, want in [0, 1]", n.Momentum)
			}
			if !(n.Epsilon > 0) || !finite(n.Epsilon) {
				return nil, fmt.Errorf("epsilon %v, want > 0", n.Epsilon)
			}
			return in[0].Clone(), nil
		},
		MACs: func(n *Node) int { return n.In[0].Size() },
	},
	Reshape: {
		Name:   "reshape",
		Form:   "y = x viewed as shape",
		Arity:  1,
		Attrs:  []string{"shape"},
		Params: func(n *Node) []ParamSpec { return nil },
		Infer: func(n *Node, in []Shape) (Shape, error) {
			s := n.Target
			if len(s) != 1 && len(s) != 3 {
				return nil, fmt.Errorf("shape %v, want [D] or [C, H, W]", s)
			}
			size, ok := s.checkedSize(MaxInputSize)
			if !ok {
				return nil, fmt.Errorf("shape %v: dimensions must be positive, at most %d values", s, MaxInputSize)
			}
			if size != in[0].Size() {
				return nil, fmt.Errorf("shape %v holds %d values, the input %v has %d", s, size, in[0], in[0].Size())
			}
			return s.Clone(), nil
		},
		MACs: func(n *Node) int { return 0 },
	},
	Concat: concatInfo,
}

// BatchNormChannels is the number of channels a batch norm over values of
// shape s normalises separately: C for an image [C, H, W], D for a vector.
func BatchNormChannels(s Shape) int {
	if len(s) == 0 {
		return 0
	}
	return s[0]
}

// ConvTransposeOut is a transposed convolution's output size along one
// axis: (in − 1)·stride − 2·pad + kernel + outPad.
func ConvTransposeOut(in, kernel, stride, pad, outPad int) int {
	return (in-1)*stride - 2*pad + kernel + outPad
}

// convInput checks what conv2d and conv_transpose2d share: an image input,
// filters, and kernel, stride and padding pairs that fit it. It returns
// the input.
func convInput(n *Node, x Shape) (Shape, error) {
	if len(x) != 3 {
		return nil, fmt.Errorf("needs an image [C, H, W], the input is %v", x)
	}
	if n.Filters < 1 {
		return nil, fmt.Errorf("filters %d, want at least 1", n.Filters)
	}
	for _, a := range []struct {
		name string
		v    []int
		lo   int
	}{{"kernel", n.Kernel, 1}, {"stride", n.Stride, 1}, {"padding", n.Padding, 0}} {
		if len(a.v) != 2 {
			return nil, fmt.Errorf("%s %v, want [h, w]", a.name, a.v)
		}
		if a.v[0] < a.lo || a.v[1] < a.lo || a.v[0] > MaxInputSize || a.v[1] > MaxInputSize {
			return nil, fmt.Errorf("%s %s, want at least %d", a.name, pair(a.v), a.lo)
		}
	}
	if n.Op == Conv2D {
		ph, pw := x[1]+2*n.Padding[0], x[2]+2*n.Padding[1]
		if n.Kernel[0] > ph || n.Kernel[1] > pw {
			return nil, fmt.Errorf("kernel %s is larger than the padded input %d×%d (input %d×%d, padding %s)",
				pair(n.Kernel), ph, pw, x[1], x[2], pair(n.Padding))
		}
	}
	return x, nil
}

// pair prints an [h, w] attribute as "4" when both are equal, "4×3" otherwise.
func pair(v []int) string {
	if len(v) == 2 && v[0] == v[1] {
		return fmt.Sprint(v[0])
	}
	if len(v) == 2 {
		return fmt.Sprintf("%d×%d", v[0], v[1])
	}
	return fmt.Sprint(v)
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
