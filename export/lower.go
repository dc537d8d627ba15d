package export

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"

	"github.com/vaec/vaec/checkpoint"
	"github.com/vaec/vaec/compiler"
	"github.com/vaec/vaec/internal/onnxpb"
	"google.golang.org/protobuf/proto"
)

// BatchDim is the symbolic name of the batch dimension of every input and output.
const BatchDim = "N"

// Names of the internal values of the round-trip model: the encoder's
// heads are not outputs there, and the decoder may have its own "logvar".
const (
	rtMu     = "q.mu"
	rtLogvar = "q.logvar"
	rtZ      = "z"
)

// builder lowers the IR to one ONNX graph. Value names must be defined once
// (ONNX graphs are in SSA form); define enforces that, so a malformed IR
// (two layers with one name) becomes an error instead of an invalid file.
type builder struct {
	m      *compiler.Model
	w      map[string]checkpoint.Tensor
	g      *onnxpb.GraphProto
	values map[string]bool
}

func newBuilder(m *compiler.Model, w map[string]checkpoint.Tensor) *builder {
	return &builder{m: m, w: w, g: &onnxpb.GraphProto{}, values: map[string]bool{}}
}

func (b *builder) define(name string) error {
	if name == "" {
		return fmt.Errorf("empty value name")
	}
	if b.values[name] {
		return fmt.Errorf("value %q defined twice (layer and parameter names must be unique)", name)
	}
	b.values[name] = true
	return nil
}

// encoderGraph: x → mu, logvar.
func (b *builder) encoderGraph() error {
	if err := b.input(compiler.InputX, b.m.Input.Shape); err != nil {
		return err
	}
	if err := b.encoderBody(compiler.InputX, compiler.OutputMu, compiler.OutputLogvar); err != nil {
		return err
	}
	b.output(compiler.OutputMu, []int{b.m.Latent})
	b.output(compiler.OutputLogvar, []int{b.m.Latent})
	return nil
}

// decoderGraph: z → the likelihood's parameters.
func (b *builder) decoderGraph() error {
	if err := b.input(compiler.InputZ, []int{b.m.Latent}); err != nil {
		return err
	}
	if err := b.decoderBody(compiler.InputZ); err != nil {
		return err
	}
	b.decoderOutputs()
	return nil
}

// roundTripGraph: x, eps → the decoder's outputs at z = mu + exp(logvar/2)·eps.
func (b *builder) roundTripGraph() error {
	if err := b.input(compiler.InputX, b.m.Input.Shape); err != nil {
		return err
	}
	if err := b.input(compiler.InputEps, []int{b.m.Latent}); err != nil {
		return err
	}
	if err := b.encoderBody(compiler.InputX, rtMu, rtLogvar); err != nil {
		return err
	}
	half, err := b.constant("reparam.half", scalarFloat(0.5))
	if err != nil {
		return err
	}
	steps := []struct {
		op, out string
		in      []string
	}{
		{"Mul", "reparam.half_logvar", []string{rtLogvar, half}},
		{"Exp", "reparam.std", []string{"reparam.half_logvar"}},
		{"Mul", "reparam.noise", []string{"reparam.std", compiler.InputEps}},
		{"Add", rtZ, []string{rtMu, "reparam.noise"}},
	}
	for _, s := range steps {
		if err := b.node(s.op, s.out+"/"+s.op, s.in, s.out); err != nil {
			return err
		}
	}
	if err := b.decoderBody(rtZ); err != nil {
		return err
	}
	b.decoderOutputs()
	return nil
}

// encoderBody flattens x when it is an image, runs the hidden layers and
// writes the two heads to mu and logvar.
func (b *builder) encoderBody(x, mu, logvar string) error {
	h := x
	if len(b.m.Input.Shape) > 1 {
		h = x + ".flat"
		if err := b.node("Flatten", "input/Flatten", []string{x}, h, attrInt("axis", 1)); err != nil {
			return err
		}
	}
	for _, l := range b.m.Encoder {
		var err error
		if h, err = b.dense(l, h, l.Name); err != nil {
			return err
		}
	}
	if _, err := b.dense(b.m.Mu, h, mu); err != nil {
		return err
	}
	_, err := b.dense(b.m.Logvar, h, logvar)
	return err
}

// decoderBody runs the decoder from z to the outputs named by
// Model.DecoderOutputs, reshaping image outputs to [N, C, H, W].
func (b *builder) decoderBody(z string) error {
	m := b.m
	h := z
	for _, l := range m.Decoder {
		var err error
		if h, err = b.dense(l, h, l.Name); err != nil {
			return err
		}
	}
	image := len(m.Input.Shape) > 1
	// flatName is the [N, D] value that becomes output name, directly or
	// through a Reshape.
	flatName := func(name string) string {
		if image {
			return name + ".flat"
		}
		return name
	}
	var main, mainFlat string
	switch m.Likelihood {
	case compiler.Bernoulli:
		main = compiler.OutputProbs
		mainFlat = flatName(main)
		logits, err := b.dense(m.Output, h, m.Output.Name)
		if err != nil {
			return err
		}
		if err := b.node("Sigmoid", "probs/Sigmoid", []string{logits}, mainFlat); err != nil {
			return err
		}
	default:
		main = compiler.OutputMean
		mainFlat = flatName(main)
		if _, err := b.dense(m.Output, h, mainFlat); err != nil {
			return err
		}
	}
	if m.Likelihood == compiler.GaussianLearned {
		// The log-variance does not depend on z: broadcast the [D]
		// parameter to the batch with Expand to the flat mean's shape.
		if err := b.param(m.OutputLogvar, []int{m.Input.Size}, "output log-variance"); err != nil {
			return err
		}
		if err := b.node("Shape", "logvar/Shape", []string{mainFlat}, "logvar.shape"); err != nil {
			return err
		}
		if err := b.node("Expand", "logvar/Expand", []string{m.OutputLogvar, "logvar.shape"}, compiler.OutputLogvar); err != nil {
			return err
		}
	}
	if image {
		// 0 in Reshape's shape copies that dimension from the input, which
		// keeps the batch symbolic (and works for N = 0, unlike -1).
		target := append([]int64{0}, int64s(m.Input.Shape)...)
		shape, err := b.constant("output.shape", int64Tensor(target))
		if err != nil {
			return err
		}
		if err := b.node("Reshape", main+"/Reshape", []string{mainFlat, shape}, main); err != nil {
			return err
		}
	}
	return nil
}

func (b *builder) decoderOutputs() {
	m := b.m
	for _, name := range m.DecoderOutputs() {
		shape := m.Input.Shape
		if name == compiler.OutputLogvar {
			shape = []int{m.Input.Size}
		}
		b.output(name, shape)
	}
}

// dense lowers y = act(x·W + b) and returns the name of y (out). W is
// stored [In, Out], exactly Gemm's B with transB = 0, so the weights are
// written as trained, without a transpose.
func (b *builder) dense(l compiler.Layer, in, out string) (string, error) {
	if err := b.param(l.Weight, []int{l.In, l.Out}, "layer "+l.Name+" weight"); err != nil {
		return "", err
	}
	if err := b.param(l.Bias, []int{l.Out}, "layer "+l.Name+" bias"); err != nil {
		return "", err
	}
	var act string
	var attrs []*onnxpb.AttributeProto
	switch l.Activation {
	case compiler.Linear, "":
	case compiler.ReLU:
		act = "Relu"
	case compiler.Tanh:
		act = "Tanh"
	case compiler.Sigmoid:
		act = "Sigmoid"
	case compiler.Softplus:
		act = "Softplus"
	case compiler.ELU:
		act = "Elu"
		attrs = append(attrs, attrFloat("alpha", float32(l.Alpha)))
	case compiler.LeakyReLU:
		act = "LeakyRelu"
		attrs = append(attrs, attrFloat("alpha", float32(l.Alpha)))
	default:
		return "", fmt.Errorf("layer %s%s: activation %q has no ONNX lowering", l.Name, at(l.Pos), l.Activation)
	}
	gemmOut := out
	if act != "" {
		gemmOut = l.Name + ".linear"
	}
	if err := b.node("Gemm", l.Name+"/Gemm", []string{in, l.Weight, l.Bias}, gemmOut); err != nil {
		return "", fmt.Errorf("layer %s: %w", l.Name, err)
	}
	if act != "" {
		if err := b.node(act, l.Name+"/"+act, []string{gemmOut}, out, attrs...); err != nil {
			return "", fmt.Errorf("layer %s: %w", l.Name, err)
		}
	}
	return out, nil
}

// param adds the weights of the IR parameter name as an initializer after
// checking them against the IR's shape and the shape the layer needs.
func (b *builder) param(name string, want []int, what string) error {
	p, ok := b.m.Param(name)
	if !ok {
		return fmt.Errorf("%s: parameter %q is not declared in the model's params", what, name)
	}
	if !slices.Equal(p.Shape, want) {
		return fmt.Errorf("%s: parameter %q has IR shape %v, the layer needs %v", what, name, p.Shape, want)
	}
	t, ok := b.w[name]
	if !ok {
		return fmt.Errorf("%s: no weights for parameter %q in the checkpoint", what, name)
	}
	if !slices.Equal(t.Shape, want) {
		return fmt.Errorf("%s: checkpoint tensor %q has shape %v, the model needs %v", what, name, t.Shape, want)
	}
	if len(t.Data) != p.Size() {
		return fmt.Errorf("%s: checkpoint tensor %q has %d values, shape %v needs %d", what, name, len(t.Data), want, p.Size())
	}
	raw := make([]byte, 4*len(t.Data))
	for i, v := range t.Data {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("%s: checkpoint tensor %q holds %v at index %d: training diverged?", what, name, v, i)
		}
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
	}
	if err := b.define(name); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	b.g.Initializer = append(b.g.Initializer, &onnxpb.TensorProto{
		Name:     proto.String(name),
		DataType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)),
		Dims:     int64s(want),
		RawData:  raw,
	})
	return nil
}

// node appends one operator that writes a single value.
func (b *builder) node(op, name string, in []string, out string, attrs ...*onnxpb.AttributeProto) error {
	for _, v := range in {
		if !b.values[v] {
			return fmt.Errorf("node %s (%s): input %q is not defined before it", name, op, v)
		}
	}
	if err := b.define(out); err != nil {
		return fmt.Errorf("node %s (%s): %w", name, op, err)
	}
	b.g.Node = append(b.g.Node, &onnxpb.NodeProto{
		Name:      proto.String(name),
		OpType:    proto.String(op),
		Input:     in,
		Output:    []string{out},
		Attribute: attrs,
	})
	return nil
}

// constant adds a Constant node rather than an initializer, so that
// initializers are exactly the model's parameters and their element count
// is its parameter count.
func (b *builder) constant(name string, t *onnxpb.TensorProto) (string, error) {
	attr := &onnxpb.AttributeProto{Name: proto.String("value"), Type: onnxpb.AttributeProto_TENSOR.Enum(), T: t}
	return name, b.node("Constant", name+"/Constant", nil, name, attr)
}

func (b *builder) input(name string, shape []int) error {
	if err := b.define(name); err != nil {
		return err
	}
	b.g.Input = append(b.g.Input, valueInfo(name, shape))
	return nil
}

func (b *builder) output(name string, shape []int) {
	b.g.Output = append(b.g.Output, valueInfo(name, shape))
}

// valueInfo is a float32 tensor [N, shape...].
func valueInfo(name string, shape []int) *onnxpb.ValueInfoProto {
	dims := []*onnxpb.TensorShapeProto_Dimension{{Value: &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: BatchDim}}}
	for _, d := range shape {
		dims = append(dims, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: int64(d)}})
	}
	return &onnxpb.ValueInfoProto{
		Name: proto.String(name),
		Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{
			ElemType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)),
			Shape:    &onnxpb.TensorShapeProto{Dim: dims},
		}}},
	}
}

func attrInt(name string, v int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INT.Enum(), I: proto.Int64(v)}
}

func attrFloat(name string, v float32) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_FLOAT.Enum(), F: proto.Float32(v)}
}

func scalarFloat(v float32) *onnxpb.TensorProto {
	raw := binary.LittleEndian.AppendUint32(nil, math.Float32bits(v))
	return &onnxpb.TensorProto{DataType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)), RawData: raw}
}

func int64Tensor(v []int64) *onnxpb.TensorProto {
	raw := make([]byte, 0, 8*len(v))
	for _, x := range v {
		raw = binary.LittleEndian.AppendUint64(raw, uint64(x))
	}
	return &onnxpb.TensorProto{DataType: proto.Int32(int32(onnxpb.TensorProto_INT64)), Dims: []int64{int64(len(v))}, RawData: raw}
}

func int64s(v []int) []int64 {
	out := make([]int64, len(v))
	for i, x := range v {
		out[i] = int64(x)
	}
	return out
}

// at renders a spec position for messages (" (spec.yaml:12:5)"), or "".
func at(p compiler.Pos) string {
	if p.Line == 0 {
		return ""
	}
	if p.File == "" {
		return fmt.Sprintf(" (line %d:%d)", p.Line, p.Col)
	}
	return fmt.Sprintf(" (%s:%d:%d)", p.File, p.Line, p.Col)
}
