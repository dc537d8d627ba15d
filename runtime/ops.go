package runtime

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"gorgonia.org/tensor"

	"github.com/vaec/vaec/kernels"
)

// kernel computes one node's single output from its inputs (nil for an
// absent optional input). Kernels never modify their inputs, so a Model
// can run concurrently.
type kernel func(in []*value) (*value, error)

// attrType is the Go type onnx-go gives an attribute of each ONNX type.
type attrType int

const (
	aFloat attrType = iota
	aInt
	aTensor
	aFloats
	aInts
	aString
)

func (t attrType) String() string {
	return [...]string{"float", "int", "tensor", "floats", "ints", "string"}[t]
}

// opSpec describes one supported operator.
type opSpec struct {
	minIn, maxIn int
	variadic     bool // any number of inputs from minIn (Concat)
	attrs        map[string]attrType
	// minOpset is the first default-domain opset whose definition of the
	// operator the runtime implements; later versions up to
	// maxSupportedOpset keep it, or the kernel reads the model's opset
	// where they differ (attributes that became inputs, Softmax's axis).
	minOpset int64
	// build checks the attributes and returns the kernel. Inputs that are
	// initializers are passed (nil otherwise) so that kernels can prepare
	// them once, e.g. transpose a Gemm weight.
	build func(a attrs, consts []*value) (kernel, error)
	// shapeIn marks (bit j for input j) small float inputs whose values
	// decide the output shape (Resize's scales): Load's shape check gives
	// the kernel their data.
	shapeIn uint
	// boolIn marks (bit j for input j) the inputs that may be bool; exec
	// refuses a bool anywhere else (step.checkBoolIn).
	boolIn uint
	// outType is the output's element type rule (outFirst unless set).
	outType outRule
	// view: the output shares the input's data (no new buffer).
	view bool
	// extraOut says why a node with more than one output is refused.
	extraOut string
}

var (
	noAttrs   = map[string]attrType{}
	convAttrs = map[string]attrType{"auto_pad": aString, "dilations": aInts, "group": aInt, "kernel_shape": aInts, "pads": aInts, "strides": aInts}
)

// ops lists every operator the runtime executes.
var ops = map[string]opSpec{
	"Gemm":      {minIn: 2, maxIn: 3, attrs: map[string]attrType{"alpha": aFloat, "beta": aFloat, "transA": aInt, "transB": aInt}, minOpset: 7, build: buildGemm},
	"MatMul":    {minIn: 2, maxIn: 2, minOpset: 1, build: buildMatMul},
	"Add":       {minIn: 2, maxIn: 2, minOpset: 7, build: elementwise(binAdd)},
	"Sub":       {minIn: 2, maxIn: 2, minOpset: 7, build: elementwise(binSub)},
	"Mul":       {minIn: 2, maxIn: 2, minOpset: 7, build: elementwise(binMul)},
	"Div":       {minIn: 2, maxIn: 2, minOpset: 7, build: elementwise(binDiv)},
	"Pow":       {minIn: 2, maxIn: 2, minOpset: 7, build: buildPow},
	"Relu":      {minIn: 1, maxIn: 1, minOpset: 6, build: buildAct(kernels.ReLU, 0)},
	"Tanh":      {minIn: 1, maxIn: 1, minOpset: 6, build: buildAct(kernels.Tanh, 0)},
	"Sigmoid":   {minIn: 1, maxIn: 1, minOpset: 6, build: buildAct(kernels.Sigmoid, 0)},
	"Softplus":  {minIn: 1, maxIn: 1, minOpset: 1, build: buildAct(kernels.Softplus, 0)},
	"Exp":       {minIn: 1, maxIn: 1, minOpset: 6, build: unary(actExp)},
	"Log":       {minIn: 1, maxIn: 1, minOpset: 6, build: unary(actLog)},
	"Neg":       {minIn: 1, maxIn: 1, minOpset: 6, build: unary(actNeg)},
	"Sqrt":      {minIn: 1, maxIn: 1, minOpset: 6, build: unary(actSqrt)},
	"Elu":       {minIn: 1, maxIn: 1, attrs: map[string]attrType{"alpha": aFloat}, minOpset: 6, build: buildAct(kernels.ELU, 1.0)},
	"LeakyRelu": {minIn: 1, maxIn: 1, attrs: map[string]attrType{"alpha": aFloat}, minOpset: 6, build: buildAct(kernels.LeakyReLU, 0.01)},
	"Clip":      {minIn: 1, maxIn: 3, attrs: map[string]attrType{"min": aFloat, "max": aFloat}, minOpset: 6, build: buildClip},
	"Softmax":   {minIn: 1, maxIn: 1, attrs: map[string]attrType{"axis": aInt}, minOpset: 1, build: buildSoftmax},
	"Identity":  {minIn: 1, maxIn: 1, minOpset: 1, build: buildIdentity, view: true},
	"Flatten":   {minIn: 1, maxIn: 1, attrs: map[string]attrType{"axis": aInt}, minOpset: 1, build: buildFlatten, view: true},
	"Reshape":   {minIn: 2, maxIn: 2, attrs: map[string]attrType{"allowzero": aInt}, minOpset: 5, build: buildReshape, view: true},
	"Squeeze":   {minIn: 1, maxIn: 2, attrs: map[string]attrType{"axes": aInts}, minOpset: 1, build: buildSqueeze, view: true},
	"Unsqueeze": {minIn: 1, maxIn: 2, attrs: map[string]attrType{"axes": aInts}, minOpset: 1, build: buildUnsqueeze, view: true},
	"Expand":    {minIn: 2, maxIn: 2, minOpset: 8, build: buildExpand},
	"Shape":     {minIn: 1, maxIn: 1, attrs: map[string]attrType{"start": aInt, "end": aInt}, minOpset: 1, build: buildShape, outType: outInt64},
	"Constant": {minIn: 0, maxIn: 0, attrs: map[string]attrType{
		"value": aTensor, "value_float": aFloat, "value_floats": aFloats, "value_int": aInt, "value_ints": aInts,
	}, minOpset: 1, build: buildConstant},
	"Transpose": {minIn: 1, maxIn: 1, attrs: map[string]attrType{"perm": aInts}, minOpset: 1, build: buildTranspose},
	"Concat":    {minIn: 1, variadic: true, attrs: map[string]attrType{"axis": aInt}, minOpset: 4, build: buildConcat},
	"Slice":     {minIn: 1, maxIn: 5, attrs: map[string]attrType{"starts": aInts, "ends": aInts, "axes": aInts}, minOpset: 1, build: buildSlice},
	"Gather":    {minIn: 2, maxIn: 2, attrs: map[string]attrType{"axis": aInt}, minOpset: 1, build: buildGather},
	"Pad": {minIn: 1, maxIn: 4, attrs: map[string]attrType{"mode": aString, "pads": aInts, "value": aFloat},
		minOpset: 2, build: buildPad},
	"ReduceSum": {minIn: 1, maxIn: 2, attrs: map[string]attrType{"axes": aInts, "keepdims": aInt, "noop_with_empty_axes": aInt},
		minOpset: 1, build: buildReduce(false)},
	"ReduceMean": {minIn: 1, maxIn: 2, attrs: map[string]attrType{"axes": aInts, "keepdims": aInt, "noop_with_empty_axes": aInt},
		minOpset: 1, build: buildReduce(true)},
	"Conv":          {minIn: 2, maxIn: 3, attrs: convAttrs, minOpset: 1, build: buildConv},
	"ConvTranspose": {minIn: 2, maxIn: 3, attrs: withAttrs(convAttrs, map[string]attrType{"output_padding": aInts, "output_shape": aInts}), minOpset: 1, build: buildConvTranspose},
	"MaxPool": {minIn: 1, maxIn: 1, attrs: map[string]attrType{"auto_pad": aString, "ceil_mode": aInt, "dilations": aInts, "kernel_shape": aInts,
		"pads": aInts, "storage_order": aInt, "strides": aInts}, minOpset: 1, build: buildPool(true), extraOut: "the Indices output is not supported"},
	"AveragePool": {minIn: 1, maxIn: 1, attrs: map[string]attrType{"auto_pad": aString, "ceil_mode": aInt, "count_include_pad": aInt, "dilations": aInts,
		"kernel_shape": aInts, "pads": aInts, "strides": aInts}, minOpset: 7, build: buildPool(false)},
	"BatchNormalization": {minIn: 5, maxIn: 5, attrs: map[string]attrType{"epsilon": aFloat, "momentum": aFloat, "spatial": aInt, "training_mode": aInt},
		minOpset: 7, build: buildBatchNorm, extraOut: "training mode (running mean and variance outputs) is not supported; export the model in eval mode"},
	"Resize": {minIn: 1, maxIn: 4, attrs: map[string]attrType{"mode": aString, "coordinate_transformation_mode": aString, "nearest_mode": aString,
		"cubic_coeff_a": aFloat, "exclude_outside": aInt, "extrapolation_value": aFloat, "antialias": aInt, "axes": aInts, "keep_aspect_ratio_policy": aString},
		minOpset: 10, build: buildResize, shapeIn: 1<<1 | 1<<2},
	"Upsample": {minIn: 2, maxIn: 2, attrs: map[string]attrType{"mode": aString}, minOpset: 9, build: buildUpsample, shapeIn: 1 << 1},
	// Masks (opsbool.go).
	"IsNaN":   {minIn: 1, maxIn: 1, minOpset: 9, build: buildIsNaN, outType: outBool},
	"Where":   {minIn: 3, maxIn: 3, minOpset: 9, build: buildWhere, boolIn: 1<<0 | 1<<1 | 1<<2, outType: outSecond},
	"Equal":   {minIn: 2, maxIn: 2, minOpset: 7, build: buildCompare(cmpEqual), boolIn: 1<<0 | 1<<1, outType: outBool},
	"Less":    {minIn: 2, maxIn: 2, minOpset: 7, build: buildCompare(cmpLess), outType: outBool},
	"Greater": {minIn: 2, maxIn: 2, minOpset: 7, build: buildCompare(cmpGreater), outType: outBool},
	"And":     {minIn: 2, maxIn: 2, minOpset: 7, build: buildLogic(func(x, y bool) bool { return x && y }), boolIn: 1<<0 | 1<<1, outType: outBool},
	"Or":      {minIn: 2, maxIn: 2, minOpset: 7, build: buildLogic(func(x, y bool) bool { return x || y }), boolIn: 1<<0 | 1<<1, outType: outBool},
	"Not":     {minIn: 1, maxIn: 1, minOpset: 1, build: buildNot, boolIn: 1 << 0, outType: outBool},
}

func withAttrs(a, b map[string]attrType) map[string]attrType {
	m := map[string]attrType{}
	for k, v := range a {
		m[k] = v
	}
	for k, v := range b {
		m[k] = v
	}
	return m
}

// SupportedOps lists the operators the runtime executes, sorted.
func SupportedOps() []string {
	var s []string
	for k := range ops {
		s = append(s, k)
	}
	sort.Strings(s)
	return s
}

// attrs gives typed access to one node's attributes, already checked
// against the operator's list.
type attrs struct {
	m     map[string]any
	opset int64
}

func (a attrs) float(name string, def float32) float32 {
	if v, ok := a.m[name].(float32); ok {
		return v
	}
	return def
}

func (a attrs) int(name string, def int64) int64 {
	if v, ok := a.m[name].(int64); ok {
		return v
	}
	return def
}

func (a attrs) has(name string) bool { _, ok := a.m[name]; return ok }

func (a attrs) str(name, def string) string {
	if v, ok := a.m[name].(string); ok {
		return v
	}
	return def
}

// ints returns an ints attribute (nil when absent).
func (a attrs) ints(name string) []int64 {
	v, _ := a.m[name].([]int64)
	return v
}

// checkAttrs refuses attributes the operator does not define or that have
// the wrong type, naming them.
func checkAttrs(spec opSpec, m map[string]any) error {
	var names []string
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		want, ok := spec.attrs[k]
		if !ok {
			return fmt.Errorf("unsupported attribute %q", k)
		}
		var good bool
		switch m[k].(type) {
		case float32:
			good = want == aFloat
		case int64:
			good = want == aInt
		case tensor.Tensor:
			good = want == aTensor
		case []float32:
			good = want == aFloats
		case []int64:
			good = want == aInts
		case string:
			good = want == aString
		}
		if !good {
			return fmt.Errorf("attribute %q has type %T, want %v", k, m[k], want)
		}
	}
	return nil
}

// ---- elementwise ----

// act applies a function to src, writing dst (which may alias src).
type act func(dst, src []float32)

func unary(f act) func(attrs, []*value) (kernel, error) {
	return func(attrs, []*value) (kernel, error) {
		return func(in []*value) (*value, error) {
			x := in[0]
			if x.isInt {
				return nil, fmt.Errorf("input is int64, want float32")
			}
			if x.shapeOnly {
				return &value{shape: x.shape, shapeOnly: true}, nil
			}
			y := newFloat(x.shape)
			f(y.f, x.f)
			return y, nil
		}, nil
	}
}

func actNeg(dst, src []float32) {
	dst = dst[:len(src)]
	for i, x := range src {
		dst[i] = -x
	}
}

// Exp and Log compute in float64 and round once, so they are correctly
// rounded in practice.

func actExp(dst, src []float32) {
	dst = dst[:len(src)]
	for i, x := range src {
		dst[i] = float32(math.Exp(float64(x)))
	}
}

func actSqrt(dst, src []float32) {
	dst = dst[:len(src)]
	for i, x := range src {
		dst[i] = float32(math.Sqrt(float64(x)))
	}
}

func actLog(dst, src []float32) {
	dst = dst[:len(src)]
	for i, x := range src {
		dst[i] = float32(math.Log(float64(x)))
	}
}

// actOps maps the activation operators to package kernels' activations,
// which both the standalone operators and Gemm fused with its following
// activation use (vectorized where the CPU allows).
var actOps = map[string]kernels.Act{
	"Relu": kernels.ReLU, "Tanh": kernels.Tanh, "Sigmoid": kernels.Sigmoid, "Softplus": kernels.Softplus,
	"Elu": kernels.ELU, "LeakyRelu": kernels.LeakyReLU,
}

// actAlpha returns the alpha attribute of an activation with its ONNX
// default (1 for Elu, 0.01 for LeakyRelu, unused by the others).
func actAlpha(op string, a attrs) (float32, error) {
	def := float32(0)
	switch op {
	case "Elu":
		def = 1
	case "LeakyRelu":
		def = 0.01
	}
	alpha := a.float("alpha", def)
	if math.IsNaN(float64(alpha)) || math.IsInf(float64(alpha), 0) {
		return 0, fmt.Errorf("attribute alpha is %v", alpha)
	}
	return alpha, nil
}

// buildAct builds an activation operator; def is its default alpha.
func buildAct(act kernels.Act, def float32) func(attrs, []*value) (kernel, error) {
	return func(a attrs, _ []*value) (kernel, error) {
		alpha := a.float("alpha", def)
		if math.IsNaN(float64(alpha)) || math.IsInf(float64(alpha), 0) {
			return nil, fmt.Errorf("attribute alpha is %v", alpha)
		}
		return func(in []*value) (*value, error) {
			x := in[0]
			if x.isInt {
				return nil, fmt.Errorf("input is int64, want float32")
			}
			if x.shapeOnly {
				return &value{shape: x.shape, shapeOnly: true}, nil
			}
			y := &value{shape: x.shape, f: append([]float32(nil), x.f...)}
			kernels.AddBiasAct(y.f, 1, len(y.f), nil, act, alpha)
			return y, nil
		}, nil
	}
}

// ---- broadcasting ----

// broadcastShapes returns the numpy-style broadcast of a and b.
func broadcastShapes(a, b []int) ([]int, error) {
	r := max(len(a), len(b))
	out := make([]int, r)
	for i := 0; i < r; i++ {
		da, db := 1, 1
		if j := len(a) - r + i; j >= 0 {
			da = a[j]
		}
		if j := len(b) - r + i; j >= 0 {
			db = b[j]
		}
		switch {
		case da == db, db == 1:
			out[i] = da
		case da == 1:
			out[i] = db
		default:
			return nil, fmt.Errorf("shapes %v and %v do not broadcast", a, b)
		}
	}
	return out, nil
}

// bstrides returns strides of a tensor of shape s viewed as shape out
// (rank ≥ len(s)), 0 along broadcast dimensions.
func bstrides(s, out []int) []int {
	st := make([]int, len(out))
	acc := 1
	for i := len(s) - 1; i >= 0; i-- {
		j := len(out) - len(s) + i
		if s[i] != 1 {
			st[j] = acc
		}
		acc *= s[i]
	}
	return st
}

// forEachBroadcast calls f(o, ia, ib, n) for runs of n consecutive output
// elements starting at o whose inputs start at ia, ib and advance by the
// innermost strides sa, sb (0 or 1).
func forEachBroadcast(out, as, bs []int, f func(o, ia, ib, n, sa, sb int)) {
	r := len(out)
	if r == 0 {
		f(0, 0, 0, 1, 0, 0)
		return
	}
	n := out[r-1]
	total := shapeSize(out)
	if n == 0 || total == 0 {
		return
	}
	idx := make([]int, r)
	ia, ib := 0, 0
	for o := 0; o < total; o += n {
		f(o, ia, ib, n, as[r-1], bs[r-1])
		// advance the odometer over the outer dimensions
		for d := r - 2; d >= 0; d-- {
			idx[d]++
			ia += as[d]
			ib += bs[d]
			if idx[d] < out[d] {
				break
			}
			ia -= as[d] * out[d]
			ib -= bs[d] * out[d]
			idx[d] = 0
		}
	}
}

func elementwise(op binOp) func(attrs, []*value) (kernel, error) {
	return func(attrs, []*value) (kernel, error) {
		return func(in []*value) (*value, error) {
			a, b := in[0], in[1]
			if a.isInt || b.isInt {
				return nil, fmt.Errorf("inputs are %s and %s, want float32", a.dtype(), b.dtype())
			}
			shape, err := broadcastShapes(a.shape, b.shape)
			if err != nil {
				return nil, err
			}
			if _, err := checkedSize(shape); err != nil {
				return nil, err
			}
			if anyShapeOnly(a, b) {
				return &value{shape: shape, shapeOnly: true}, nil
			}
			y := newFloat(shape)
			// The common cases in one pass: equal shapes, or one operand a
			// single value (an input's scale, a constant 1 or 0.5).
			switch {
			case len(a.f) == len(y.f) && len(b.f) == len(y.f):
				op.vv(y.f, a.f, b.f)
				return y, nil
			case len(a.f) == len(y.f) && len(b.f) == 1:
				op.vs(y.f, a.f, b.f[0])
				return y, nil
			case len(b.f) == len(y.f) && len(a.f) == 1:
				op.sv(y.f, a.f[0], b.f)
				return y, nil
			}
			forEachBroadcast(shape, bstrides(a.shape, shape), bstrides(b.shape, shape), func(o, ia, ib, n, sa, sb int) {
				dst := y.f[o : o+n]
				switch {
				case sa == 1 && sb == 1:
					op.vv(dst, a.f[ia:ia+n], b.f[ib:ib+n])
				case sa == 1:
					op.vs(dst, a.f[ia:ia+n], b.f[ib])
				case sb == 1:
					op.sv(dst, a.f[ia], b.f[ib:ib+n])
				default:
					op.sv(dst, a.f[ia], b.f[ib:ib+1]) // one value, repeated
				}
			})
			return y, nil
		}, nil
	}
}

// binOp is one of the four elementwise arithmetic operators. Its loops
// are written out per operator (or are kernels.ApplyScalar's), not
// called through a function value per element: at batch 256 an input
// scaling is 200,000 of them.
type binOp uint8

const (
	binAdd binOp = iota
	binSub
	binMul
	binDiv
)

// vv sets dst[i] = x[i] op y[i].
func (op binOp) vv(dst, x, y []float32) {
	x, y = x[:len(dst)], y[:len(dst)]
	switch op {
	case binAdd:
		for i := range dst {
			dst[i] = x[i] + y[i]
		}
	case binSub:
		for i := range dst {
			dst[i] = x[i] - y[i]
		}
	case binMul:
		for i := range dst {
			dst[i] = x[i] * y[i]
		}
	case binDiv:
		for i := range dst {
			dst[i] = x[i] / y[i]
		}
	}
}

// scalarOps are the kernels' forms of x op c and c op x.
var scalarOps = [...][2]kernels.ScalarOp{
	binAdd: {kernels.AddScalar, kernels.AddScalar},
	binSub: {kernels.SubScalar, kernels.RSubScalar},
	binMul: {kernels.MulScalar, kernels.MulScalar},
	binDiv: {kernels.DivScalar, kernels.RDivScalar},
}

// vs sets dst[i] = x[i] op y (kernels.ApplyScalar: one rounded float32
// operation each, 16 at a time where the CPU allows).
func (op binOp) vs(dst, x []float32, y float32) {
	kernels.ApplyScalar(dst, x, scalarOps[op][0], y)
}

// sv sets dst[i] = x op y[i], or x op y[0] for every i when y has one
// element.
func (op binOp) sv(dst []float32, x float32, y []float32) {
	if len(y) == 1 && len(dst) > 1 {
		var v [1]float32
		kernels.ApplyScalar(v[:], y, scalarOps[op][1], x)
		for i := range dst {
			dst[i] = v[0]
		}
		return
	}
	kernels.ApplyScalar(dst, y, scalarOps[op][1], x)
}

// ---- shape operators ----

func buildIdentity(attrs, []*value) (kernel, error) {
	return func(in []*value) (*value, error) { return in[0], nil }, nil
}

func buildFlatten(a attrs, _ []*value) (kernel, error) {
	axis := a.int("axis", 1)
	return func(in []*value) (*value, error) {
		x := in[0]
		r := int64(len(x.shape))
		ax := axis
		if ax < 0 {
			ax += r
		}
		if ax < 0 || ax > r {
			return nil, fmt.Errorf("axis %d out of range for rank %d", axis, r)
		}
		outer := shapeSize(x.shape[:ax])
		return &value{shape: []int{outer, shapeSize(x.shape[ax:])}, f: x.f, i: x.i, isInt: x.isInt, shapeOnly: x.shapeOnly}, nil
	}, nil
}

// intsOf reads a 1-D int64 tensor (a shape argument).
func intsOf(v *value, what string) ([]int64, error) {
	if err := needData(v); err != nil {
		return nil, err
	}
	if !v.isInt {
		return nil, fmt.Errorf("%s is %s, want int64", what, v.dtype())
	}
	if len(v.shape) != 1 {
		return nil, fmt.Errorf("%s has shape %v, want 1-D", what, v.shape)
	}
	if len(v.i) > maxRank {
		return nil, fmt.Errorf("%s has %d entries, more than %d dimensions", what, len(v.i), maxRank)
	}
	return v.i, nil
}

func buildReshape(a attrs, _ []*value) (kernel, error) {
	allowZero := a.int("allowzero", 0) != 0
	if a.has("allowzero") && a.opset < 14 {
		return nil, fmt.Errorf("attribute allowzero needs opset 14, model has %d", a.opset)
	}
	return func(in []*value) (*value, error) {
		x := in[0]
		spec, err := intsOf(in[1], "shape input")
		if err != nil {
			return nil, err
		}
		shape := make([]int, len(spec))
		infer := -1
		known := 1
		for i, d := range spec {
			switch {
			case d == -1:
				if infer >= 0 {
					return nil, fmt.Errorf("shape %v has more than one -1", spec)
				}
				infer = i
				continue
			case d == 0 && !allowZero:
				if i >= len(x.shape) {
					return nil, fmt.Errorf("shape %v copies dimension %d, input %v has none", spec, i, x.shape)
				}
				shape[i] = x.shape[i]
			case d < 0 || d > maxRunElems:
				return nil, fmt.Errorf("shape %v has invalid dimension %d", spec, d)
			default:
				shape[i] = int(d)
			}
			if shape[i] != 0 && known > maxRunElems/shape[i] {
				return nil, fmt.Errorf("shape %v is too large", spec)
			}
			known *= shape[i]
		}
		n := shapeSize(x.shape)
		if infer >= 0 {
			if known == 0 || n%known != 0 {
				return nil, fmt.Errorf("cannot reshape %v (%d elements) to %v", x.shape, n, spec)
			}
			shape[infer] = n / known
		} else if known != n {
			return nil, fmt.Errorf("cannot reshape %v (%d elements) to %v", x.shape, n, spec)
		}
		return &value{shape: shape, f: x.f, i: x.i, isInt: x.isInt, shapeOnly: x.shapeOnly}, nil
	}, nil
}

func buildExpand(attrs, []*value) (kernel, error) {
	return func(in []*value) (*value, error) {
		x := in[0]
		spec, err := intsOf(in[1], "shape input")
		if err != nil {
			return nil, err
		}
		target := make([]int, len(spec))
		for i, d := range spec {
			if d < 0 || d > maxRunElems {
				return nil, fmt.Errorf("shape %v has invalid dimension %d", spec, d)
			}
			target[i] = int(d)
		}
		shape, err := broadcastShapes(x.shape, target)
		if err != nil {
			return nil, err
		}
		if _, err := checkedSize(shape); err != nil {
			return nil, err
		}
		if x.shapeOnly {
			return &value{shape: shape, shapeOnly: true}, nil
		}
		y := &value{shape: shape, isInt: x.isInt}
		n := shapeSize(shape)
		if x.isInt {
			y.i = make([]int64, n)
		} else {
			y.f = make([]float32, n)
		}
		xs := bstrides(x.shape, shape)
		forEachBroadcast(shape, xs, make([]int, len(shape)), func(o, ia, _, n, sa, _ int) {
			for k := 0; k < n; k++ {
				if x.isInt {
					y.i[o+k] = x.i[ia+k*sa]
				} else {
					y.f[o+k] = x.f[ia+k*sa]
				}
			}
		})
		return y, nil
	}, nil
}

func buildShape(a attrs, _ []*value) (kernel, error) {
	if (a.has("start") || a.has("end")) && a.opset < 15 {
		return nil, fmt.Errorf("attributes start/end need opset 15, model has %d", a.opset)
	}
	start, end := a.int("start", 0), a.int("end", math.MaxInt32)
	return func(in []*value) (*value, error) {
		r := int64(len(in[0].shape))
		clamp := func(v int64) int64 {
			if v < 0 {
				v += r
			}
			return min(max(v, 0), r)
		}
		s, e := clamp(start), clamp(end)
		var out []int64
		for _, d := range in[0].shape[s:max(s, e)] {
			out = append(out, int64(d))
		}
		return &value{shape: []int{len(out)}, i: out, isInt: true}, nil
	}, nil
}

func buildConstant(a attrs, _ []*value) (kernel, error) {
	if len(a.m) != 1 {
		var names []string
		for k := range a.m {
			names = append(names, k)
		}
		sort.Strings(names)
		return nil, fmt.Errorf("needs exactly one value attribute, has [%s]", strings.Join(names, " "))
	}
	var v *value
	switch x := a.m[firstKey(a.m)].(type) {
	case tensor.Tensor:
		var err error
		if v, err = fromGorgonia(x); err != nil {
			return nil, fmt.Errorf("attribute value: %w", err)
		}
	case float32:
		v = &value{shape: []int{}, f: []float32{x}}
	case int64:
		v = &value{shape: []int{}, i: []int64{x}, isInt: true}
	case []float32:
		v = &value{shape: []int{len(x)}, f: append([]float32(nil), x...)}
	case []int64:
		v = &value{shape: []int{len(x)}, i: append([]int64(nil), x...), isInt: true}
	}
	return func([]*value) (*value, error) { return v, nil }, nil
}

func firstKey(m map[string]any) string {
	for k := range m {
		return k
	}
	return ""
}

// fromGorgonia copies a tensor that onnx-go decoded into a value.
func fromGorgonia(t tensor.Tensor) (*value, error) {
	if t == nil {
		return nil, fmt.Errorf("no tensor")
	}
	shape := append([]int{}, t.Shape()...)
	n := shapeSize(shape)
	switch d := t.Data().(type) {
	case []float32:
		if len(d) != n {
			return nil, fmt.Errorf("shape %v needs %d values, tensor has %d", shape, n, len(d))
		}
		return &value{shape: shape, f: append([]float32(nil), d...)}, nil
	case float32: // a scalar
		if n != 1 {
			return nil, fmt.Errorf("shape %v with a scalar value", shape)
		}
		return &value{shape: shape, f: []float32{d}}, nil
	case []int64:
		if len(d) != n {
			return nil, fmt.Errorf("shape %v needs %d values, tensor has %d", shape, n, len(d))
		}
		return &value{shape: shape, i: append([]int64(nil), d...), isInt: true}, nil
	case int64:
		if n != 1 {
			return nil, fmt.Errorf("shape %v with a scalar value", shape)
		}
		return &value{shape: shape, i: []int64{d}, isInt: true}, nil
	}
	return nil, fmt.Errorf("element type %v is not supported (float32 and int64 only)", t.Dtype())
}
