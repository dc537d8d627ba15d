package export

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"

	"github.com/vaec/vaec/checkpoint"
	"github.com/vaec/vaec/internal/onnxpb"
	"github.com/vaec/vaec/ir"
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
	m      *ir.Model
	w      map[string]checkpoint.Tensor
	g      *onnxpb.GraphProto
	values map[string]bool
	pre    bool     // raw data in: preprocessing nodes first, mean_raw out
	prior  ir.Prior // Options.Prior: a learned prior's components (prior.go)
}

func newBuilder(m *ir.Model, w map[string]checkpoint.Tensor) *builder {
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
	if err := b.input(ir.InputX, b.m.Input.Shape); err != nil {
		return err
	}
	x, err := b.preprocess(ir.InputX)
	if err != nil {
		return err
	}
	if err := b.encoderBody(x, ir.OutputMu, ir.OutputLogvar); err != nil {
		return err
	}
	b.output(ir.OutputMu, []int{b.m.Latent})
	b.output(ir.OutputLogvar, []int{b.m.Latent})
	return nil
}

// decoderGraph: z → the likelihood's parameters.
func (b *builder) decoderGraph() error {
	if err := b.input(ir.InputZ, []int{b.m.Latent}); err != nil {
		return err
	}
	if err := b.decoderBody(ir.InputZ); err != nil {
		return err
	}
	b.decoderOutputs()
	return b.rawMean(b.expectName())
}

// roundTripGraph: x, eps → the decoder's outputs at z = mu + exp(logvar/2)·eps.
func (b *builder) roundTripGraph() error {
	if err := b.input(ir.InputX, b.m.Input.Shape); err != nil {
		return err
	}
	if err := b.input(ir.InputEps, []int{b.m.Latent}); err != nil {
		return err
	}
	x, err := b.preprocess(ir.InputX)
	if err != nil {
		return err
	}
	if err := b.encoderBody(x, rtMu, rtLogvar); err != nil {
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
		{"Mul", "reparam.noise", []string{"reparam.std", ir.InputEps}},
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
	return b.rawMean(b.expectName())
}

// encoderBody lowers the encoder's nodes from x and writes the two heads
// to mu and logvar.
func (b *builder) encoderBody(x, mu, logvar string) error {
	names := map[string]string{b.m.Mu().Name: mu, b.m.Logvar().Name: logvar}
	_, err := b.lowerGraph(&b.m.Encoder, x, names)
	return err
}

// decoderBody lowers the decoder from z, then the likelihood: the outputs
// named by Model.DecoderOutputs, image outputs reshaped to [N, C, H, W].
func (b *builder) decoderBody(z string) error {
	m := b.m
	out := m.Output()
	image := !out.Out.Equal(m.Input.Shape)
	// flatName is the value that becomes output name, directly or through
	// a Reshape to the input's shape.
	flatName := func(name string) string {
		if image {
			return name + ".flat"
		}
		return name
	}
	var main string
	names := map[string]string{}
	switch m.Likelihood.Kind {
	case ir.Bernoulli:
		main = ir.OutputProbs
	default:
		// The output node gives the mean itself.
		main = ir.OutputMean
		names[out.Name] = flatName(main)
	}
	vals, err := b.lowerGraph(&m.Decoder, z, names)
	if err != nil {
		return err
	}
	mainFlat := flatName(main)
	if m.Likelihood.Kind == ir.Bernoulli {
		if err := b.node("Sigmoid", "probs/Sigmoid", []string{vals[out.Name]}, mainFlat); err != nil {
			return err
		}
	}
	if m.Likelihood.Kind == ir.GaussianLearned {
		// The log-variance does not depend on z: broadcast the [D]
		// parameter to the batch with Expand to the flat mean's shape.
		if err := b.param(m.Likelihood.Logvar, "output log-variance"); err != nil {
			return err
		}
		like := mainFlat
		if len(out.Out) > 1 {
			// An image-shaped mean (a convolutional output layer): the
			// log-variance output is [N, D], so take the shape of the
			// flattened mean.
			like = main + ".flat"
			if err := b.node("Flatten", "logvar/Flatten", []string{mainFlat}, like, attrInt("axis", 1)); err != nil {
				return err
			}
		}
		if err := b.node("Shape", "logvar/Shape", []string{like}, "logvar.shape"); err != nil {
			return err
		}
		if err := b.node("Expand", "logvar/Expand", []string{m.Likelihood.Logvar, "logvar.shape"}, ir.OutputLogvar); err != nil {
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

// lowerFunc lowers one node: in are the ONNX values of its inputs, out the
// name its result must get. It returns that name.
type lowerFunc func(b *builder, n *ir.Node, in []string, out string) (string, error)

// lowerings holds export's lowering of every op: adding an op to the IR
// means adding its function here.
var lowerings = map[ir.Op]lowerFunc{
	ir.Dense:           (*builder).dense,
	ir.Conv2D:          (*builder).conv,
	ir.ConvTranspose2D: (*builder).conv,
	ir.Upsample:        (*builder).upsample,
	ir.BatchNorm:       (*builder).batchNorm,
	ir.Reshape:         (*builder).reshape,
	ir.Concat:          (*builder).concat,
}

// lowerGraph lowers g's nodes in order, its input bound to the value in.
// A node's result is named after the node, or rename[node] when given (the
// heads become the outputs mu and logvar). It returns every node's value.
func (b *builder) lowerGraph(g *ir.Graph, in string, rename map[string]string) (map[string]string, error) {
	vals := map[string]string{g.Inputs[0].Name: in}
	if err := b.bindExtraInputs(g, vals); err != nil {
		return nil, err
	}
	for i := range g.Nodes {
		n := &g.Nodes[i]
		f, ok := lowerings[n.Op]
		if !ok {
			return nil, n.Errorf("no ONNX lowering for op %s", n.Op)
		}
		args := make([]string, len(n.Inputs))
		for j, name := range n.Inputs {
			args[j] = vals[name]
		}
		out := n.Name
		if r, ok := rename[n.Name]; ok {
			out = r
		}
		y, err := f(b, n, args, out)
		if err != nil {
			return nil, err
		}
		vals[n.Name] = y
	}
	return vals, nil
}

func (b *builder) decoderOutputs() {
	m := b.m
	for _, name := range m.DecoderOutputs() {
		shape := m.Input.Shape
		if name == ir.OutputLogvar {
			shape = []int{m.Input.Size}
		}
		b.output(name, shape)
	}
}

// onnxActivation is the one place export maps IR activations to ONNX
// operators ("" for linear) and their attributes.
func onnxActivation(n *ir.Node) (string, []*onnxpb.AttributeProto, error) {
	switch n.Activation {
	case ir.Linear:
		return "", nil, nil
	case ir.ReLU:
		return "Relu", nil, nil
	case ir.Tanh:
		return "Tanh", nil, nil
	case ir.Sigmoid:
		return "Sigmoid", nil, nil
	case ir.Softplus:
		return "Softplus", nil, nil
	case ir.ELU:
		return "Elu", []*onnxpb.AttributeProto{attrFloat("alpha", float32(n.Alpha))}, nil
	case ir.LeakyReLU:
		return "LeakyRelu", []*onnxpb.AttributeProto{attrFloat("alpha", float32(n.Alpha))}, nil
	}
	return "", nil, n.Errorf("activation %s has no ONNX lowering", n.Activation)
}

// flatten returns in as [N, D]: an image input ([N, C, H, W]) goes
// through a Flatten node first.
func (b *builder) flatten(n *ir.Node, in string) (string, error) {
	if len(n.In[0]) <= 1 {
		return in, nil
	}
	out := in + ".flat"
	if b.values[out] {
		return out, nil // a sibling (the other head) flattened it already
	}
	name := in + "/Flatten"
	if in == ir.InputX {
		name = "input/Flatten"
	}
	return out, b.node("Flatten", name, []string{in}, out, attrInt("axis", 1))
}

// dense lowers y = act(flatten(x)·W + b) and returns the name of y (out).
// W is stored [In, Out], exactly Gemm's B with transB = 0, so the weights
// are written as trained, without a transpose.
func (b *builder) dense(n *ir.Node, in []string, out string) (string, error) {
	x, err := b.flatten(n, in[0])
	if err != nil {
		return "", err
	}
	weight, bias := n.Params[0], n.Params[1]
	if err := b.param(weight, "layer "+n.Name+" weight"); err != nil {
		return "", err
	}
	if err := b.param(bias, "layer "+n.Name+" bias"); err != nil {
		return "", err
	}
	act, attrs, err := onnxActivation(n)
	if err != nil {
		return "", err
	}
	gemmOut := out
	if act != "" {
		gemmOut = n.Name + ".linear"
	}
	if err := b.node("Gemm", n.Name+"/Gemm", []string{x, weight, bias}, gemmOut); err != nil {
		return "", fmt.Errorf("layer %s: %w", n.Name, err)
	}
	if act != "" {
		if err := b.node(act, n.Name+"/"+act, []string{gemmOut}, out, attrs...); err != nil {
			return "", fmt.Errorf("layer %s: %w", n.Name, err)
		}
	}
	return out, nil
}

// activate applies n's activation to y, writing out, and returns out; a
// linear node's y must already be out.
func (b *builder) activate(n *ir.Node, y, out string, act string, attrs []*onnxpb.AttributeProto) (string, error) {
	if act == "" {
		return out, nil
	}
	if err := b.node(act, n.Name+"/"+act, []string{y}, out, attrs...); err != nil {
		return "", fmt.Errorf("layer %s: %w", n.Name, err)
	}
	return out, nil
}

// conv lowers conv2d to Conv and conv_transpose2d to ConvTranspose, with
// every attribute written out: pads and output_padding explicit, never
// auto_pad, whose meaning exporters and runtimes disagree on. The weights
// are stored as PyTorch and ONNX lay them out, so they go in as trained.
// Images are [N, C, H, W] values in the ONNX graph.
func (b *builder) conv(n *ir.Node, in []string, out string) (string, error) {
	weight, bias := n.Params[0], n.Params[1]
	if err := b.param(weight, "layer "+n.Name+" weight"); err != nil {
		return "", err
	}
	if err := b.param(bias, "layer "+n.Name+" bias"); err != nil {
		return "", err
	}
	act, actAttrs, err := onnxActivation(n)
	if err != nil {
		return "", err
	}
	attrs := []*onnxpb.AttributeProto{
		attrInts("dilations", []int{1, 1}),
		attrInt("group", 1),
		attrInts("kernel_shape", n.Kernel),
		attrInts("pads", []int{n.Padding[0], n.Padding[1], n.Padding[0], n.Padding[1]}),
		attrInts("strides", n.Stride),
	}
	op := "Conv"
	if n.Op == ir.ConvTranspose2D {
		op = "ConvTranspose"
		attrs = append(attrs, attrInts("output_padding", n.OutputPadding))
	}
	y := out
	if act != "" {
		y = n.Name + ".linear"
	}
	if err := b.node(op, n.Name+"/"+op, []string{in[0], weight, bias}, y, attrs...); err != nil {
		return "", fmt.Errorf("layer %s: %w", n.Name, err)
	}
	return b.activate(n, y, out, act, actAttrs)
}

// upsample lowers nearest upsampling to Resize (the exported opsets, 13 to
// 17, have no Upsample) with scales [1, 1, fh, fw] and the coordinate rule
// written out: asymmetric coordinates and floor give y[i] = x[i/f], the
// graph's op, whatever a runtime's defaults.
func (b *builder) upsample(n *ir.Node, in []string, out string) (string, error) {
	raw := make([]byte, 0, 16)
	for _, f := range []int{1, 1, n.Factor[0], n.Factor[1]} {
		raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(float32(f)))
	}
	scales, err := b.constant(n.Name+".scales", &onnxpb.TensorProto{
		DataType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)), Dims: []int64{4}, RawData: raw})
	if err != nil {
		return "", err
	}
	attrs := []*onnxpb.AttributeProto{
		attrString("coordinate_transformation_mode", "asymmetric"),
		attrString("mode", "nearest"),
		attrString("nearest_mode", "floor"),
	}
	// roi is unused by these coordinates: left out ("").
	if err := b.node("Resize", n.Name+"/Resize", []string{in[0], "", scales}, out, attrs...); err != nil {
		return "", fmt.Errorf("layer %s: %w", n.Name, err)
	}
	return out, nil
}

// batchNorm lowers batch_norm in inference form: BatchNormalization with
// the running statistics as initializers (not folded into a neighbouring
// convolution, so that the file shows the layer as trained and a batch
// norm after an activation or first in a graph needs nothing special).
func (b *builder) batchNorm(n *ir.Node, in []string, out string) (string, error) {
	for i, what := range []string{"scale", "shift", "running mean", "running variance"} {
		if err := b.param(n.Params[i], "layer "+n.Name+" "+what); err != nil {
			return "", err
		}
	}
	act, actAttrs, err := onnxActivation(n)
	if err != nil {
		return "", err
	}
	y := out
	if act != "" {
		y = n.Name + ".linear"
	}
	attrs := []*onnxpb.AttributeProto{attrFloat("epsilon", float32(n.Epsilon)), attrFloat("momentum", float32(n.Momentum))}
	if err := b.node("BatchNormalization", n.Name+"/BatchNormalization", append([]string{in[0]}, n.Params...), y, attrs...); err != nil {
		return "", fmt.Errorf("layer %s: %w", n.Name, err)
	}
	return b.activate(n, y, out, act, actAttrs)
}

// reshape lowers reshape to Reshape with target [0, shape...]: 0 copies
// the batch dimension, which stays symbolic.
func (b *builder) reshape(n *ir.Node, in []string, out string) (string, error) {
	shape, err := b.constant(n.Name+".shape", int64Tensor(append([]int64{0}, int64s(n.Target)...)))
	if err != nil {
		return "", err
	}
	if err := b.node("Reshape", n.Name+"/Reshape", []string{in[0], shape}, out); err != nil {
		return "", fmt.Errorf("layer %s: %w", n.Name, err)
	}
	return out, nil
}

// param adds the weights of the IR parameter name as an initializer after
// checking the checkpoint's tensor against the IR's shape.
func (b *builder) param(name string, what string) error {
	p, ok := b.m.Param(name)
	if !ok {
		return fmt.Errorf("%s: parameter %q is not declared in the model's params", what, name)
	}
	want := []int(p.Shape)
	t, ok := b.w[name]
	if !ok {
		return fmt.Errorf("%s: no weights for parameter %q in the checkpoint", what, name)
	}
	if !slices.Equal(t.Shape, want) {
		return fmt.Errorf("%s: checkpoint tensor %q has shape %v, the model needs %v", what, name, ir.Shape(t.Shape), p.Shape)
	}
	if len(t.Data) != p.Size() {
		return fmt.Errorf("%s: checkpoint tensor %q has %d values, shape %v needs %d", what, name, len(t.Data), p.Shape, p.Size())
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
		if v != "" && !b.values[v] { // "" leaves an optional input out
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

func attrInts(name string, v []int) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INTS.Enum(), Ints: int64s(v)}
}

func attrString(name, v string) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_STRING.Enum(), S: []byte(v)}
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
