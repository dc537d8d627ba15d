package export

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"google.golang.org/protobuf/encoding/protowire"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/vaec/vaec/internal/onnxpb"
	"google.golang.org/protobuf/proto"
)

// Info summarises an ONNX file: what vaec inspect prints.
type Info struct {
	IRVersion       int64
	Opsets          []Opset
	ProducerName    string
	ProducerVersion string
	Domain          string
	ModelVersion    int64
	DocString       string
	GraphName       string
	Inputs          []Value // graph inputs that are not initializers
	Outputs         []Value
	Operators       []OpCount // sorted by domain, then op type; subgraphs included
	Metadata        []Prop    // in file order
	Nodes           int       // nodes of the main graph and its subgraphs
	Initializers    int       // initializers of the main graph
	// Params is the element count of the main graph's initializers: the
	// parameter count for vaec's files and for most exporters'.
	Params int64
	// ParamBytes is their size in bytes as stored (0 for external data).
	ParamBytes int64
}

// Opset is one imported operator set; Domain "" is the default ONNX domain.
type Opset struct {
	Domain  string
	Version int64
}

// Value is a named, typed graph input or output.
type Value struct {
	Name string `json:"name"`
	Type string `json:"type"` // for example "float32[N,784]"; "?" marks an unknown dimension
}

// OpCount counts the nodes of one operator.
type OpCount struct {
	Domain string
	OpType string
	Count  int
}

// Prop is one metadata_props entry.
type Prop struct {
	Key, Value string
}

// Meta returns the metadata value of key and whether it is present.
func (in *Info) Meta(key string) (string, bool) {
	for _, p := range in.Metadata {
		if p.Key == key {
			return p.Value, true
		}
	}
	return "", false
}

// parse decodes an ONNX model; malformed bytes give an error, never a panic
// (the protobuf runtime bounds recursion and checks every length).
func parse(data []byte) (*onnxpb.ModelProto, error) {
	if len(data) == 0 {
		return nil, fmt.Errorf("not an ONNX model: the input is empty")
	}
	var m onnxpb.ModelProto
	if err := proto.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("not an ONNX model: %s (protobuf: %v)", wireError(data), err)
	}
	if m.IrVersion == nil || m.Graph == nil {
		return nil, fmt.Errorf("not an ONNX model: no ir_version or no graph")
	}
	return &m, nil
}

// Inspect summarises any ONNX file.
func Inspect(data []byte) (*Info, error) {
	m, err := parse(data)
	if err != nil {
		return nil, err
	}
	g := m.GetGraph()
	in := &Info{
		IRVersion:       m.GetIrVersion(),
		ProducerName:    m.GetProducerName(),
		ProducerVersion: m.GetProducerVersion(),
		Domain:          m.GetDomain(),
		ModelVersion:    m.GetModelVersion(),
		DocString:       m.GetDocString(),
		GraphName:       g.GetName(),
		Initializers:    len(g.GetInitializer()),
	}
	for _, o := range m.GetOpsetImport() {
		in.Opsets = append(in.Opsets, Opset{Domain: o.GetDomain(), Version: o.GetVersion()})
	}
	for _, p := range m.GetMetadataProps() {
		in.Metadata = append(in.Metadata, Prop{Key: p.GetKey(), Value: p.GetValue()})
	}
	inits := map[string]bool{}
	for _, t := range g.GetInitializer() {
		inits[t.GetName()] = true
		n, err := tensorElems(t)
		if err != nil {
			return nil, fmt.Errorf("initializer %q: %w", t.GetName(), err)
		}
		if in.Params > math.MaxInt64-n {
			return nil, fmt.Errorf("initializer %q: parameter count overflows", t.GetName())
		}
		in.Params += n
		in.ParamBytes += tensorBytes(t)
	}
	// Before IR version 4 initializers had to be listed as inputs too; they
	// are parameters, not inputs a caller feeds.
	for _, v := range g.GetInput() {
		if !inits[v.GetName()] {
			in.Inputs = append(in.Inputs, Value{Name: v.GetName(), Type: typeString(v.GetType())})
		}
	}
	for _, v := range g.GetOutput() {
		in.Outputs = append(in.Outputs, Value{Name: v.GetName(), Type: typeString(v.GetType())})
	}
	counts := map[[2]string]int{}
	in.Nodes = countOps(g, counts)
	for k, n := range counts {
		in.Operators = append(in.Operators, OpCount{Domain: k[0], OpType: k[1], Count: n})
	}
	sort.Slice(in.Operators, func(i, j int) bool {
		a, b := in.Operators[i], in.Operators[j]
		if a.Domain != b.Domain {
			return a.Domain < b.Domain
		}
		return a.OpType < b.OpType
	})
	return in, nil
}

// countOps counts the operators of g and of the graphs in its nodes'
// attributes (If, Loop, Scan bodies) and returns the number of nodes.
func countOps(g *onnxpb.GraphProto, counts map[[2]string]int) int {
	n := 0
	for _, node := range g.GetNode() {
		n++
		counts[[2]string{node.GetDomain(), node.GetOpType()}]++
		for _, a := range node.GetAttribute() {
			if a.GetG() != nil {
				n += countOps(a.GetG(), counts)
			}
			for _, sub := range a.GetGraphs() {
				n += countOps(sub, counts)
			}
		}
	}
	return n
}

// tensorElems is the element count of t's dims, refusing negative or
// overflowing dimensions.
func tensorElems(t *onnxpb.TensorProto) (int64, error) {
	n := int64(1)
	for _, d := range t.GetDims() {
		if d < 0 || (d > 0 && n > math.MaxInt64/d) {
			return 0, fmt.Errorf("dims %v are negative or too large", t.GetDims())
		}
		n *= d
	}
	return n, nil
}

// tensorBytes is the stored size of t's data, whichever field holds it.
func tensorBytes(t *onnxpb.TensorProto) int64 {
	switch {
	case t.RawData != nil:
		return int64(len(t.RawData))
	case len(t.FloatData) > 0:
		return 4 * int64(len(t.FloatData))
	case len(t.Int32Data) > 0:
		return 4 * int64(len(t.Int32Data))
	case len(t.Int64Data) > 0:
		return 8 * int64(len(t.Int64Data))
	case len(t.DoubleData) > 0:
		return 8 * int64(len(t.DoubleData))
	case len(t.Uint64Data) > 0:
		return 8 * int64(len(t.Uint64Data))
	}
	var n int64
	for _, s := range t.StringData {
		n += int64(len(s))
	}
	return n
}

// elemNames maps ONNX data types to the names users know from numpy.
var elemNames = map[onnxpb.TensorProto_DataType]string{
	onnxpb.TensorProto_FLOAT:      "float32",
	onnxpb.TensorProto_UINT8:      "uint8",
	onnxpb.TensorProto_INT8:       "int8",
	onnxpb.TensorProto_UINT16:     "uint16",
	onnxpb.TensorProto_INT16:      "int16",
	onnxpb.TensorProto_INT32:      "int32",
	onnxpb.TensorProto_INT64:      "int64",
	onnxpb.TensorProto_STRING:     "string",
	onnxpb.TensorProto_BOOL:       "bool",
	onnxpb.TensorProto_FLOAT16:    "float16",
	onnxpb.TensorProto_DOUBLE:     "float64",
	onnxpb.TensorProto_UINT32:     "uint32",
	onnxpb.TensorProto_UINT64:     "uint64",
	onnxpb.TensorProto_COMPLEX64:  "complex64",
	onnxpb.TensorProto_COMPLEX128: "complex128",
	onnxpb.TensorProto_BFLOAT16:   "bfloat16",
}

func elemName(t int32) string {
	dt := onnxpb.TensorProto_DataType(t)
	if s, ok := elemNames[dt]; ok {
		return s
	}
	if s, ok := onnxpb.TensorProto_DataType_name[t]; ok {
		return strings.ToLower(s)
	}
	return "type" + strconv.Itoa(int(t))
}

// typeString renders a value type: "float32[N,784]", "seq(float32[?])", ….
// Depth is bounded by the protobuf decoder's recursion limit.
func typeString(t *onnxpb.TypeProto) string {
	switch {
	case t == nil:
		return "?"
	case t.GetTensorType() != nil:
		tt := t.GetTensorType()
		return elemName(tt.GetElemType()) + shapeText(tt.GetShape())
	case t.GetSparseTensorType() != nil:
		st := t.GetSparseTensorType()
		return "sparse " + elemName(st.GetElemType()) + shapeText(st.GetShape())
	case t.GetSequenceType() != nil:
		return "seq(" + typeString(t.GetSequenceType().GetElemType()) + ")"
	case t.GetMapType() != nil:
		mt := t.GetMapType()
		return "map(" + elemName(mt.GetKeyType()) + ", " + typeString(mt.GetValueType()) + ")"
	case t.GetOptionalType() != nil:
		return "optional(" + typeString(t.GetOptionalType().GetElemType()) + ")"
	}
	return "?"
}

func shapeText(s *onnxpb.TensorShapeProto) string {
	if s == nil {
		return "[...]" // rank unknown
	}
	parts := make([]string, len(s.GetDim()))
	for i, d := range s.GetDim() {
		switch v := d.GetValue().(type) {
		case *onnxpb.TensorShapeProto_Dimension_DimValue:
			parts[i] = strconv.FormatInt(v.DimValue, 10)
		case *onnxpb.TensorShapeProto_Dimension_DimParam:
			parts[i] = v.DimParam
		default:
			parts[i] = "?"
		}
	}
	return "[" + strings.Join(parts, ",") + "]"
}

// Dump renders an ONNX file as stable, readable text: versions, metadata,
// inputs, outputs, initializers (shape, a digest and the first values) and
// nodes with their attributes. Golden tests compare dumps rather than bytes,
// so that a difference reads as a difference in the model.
func Dump(data []byte) (string, error) {
	m, err := parse(data)
	if err != nil {
		return "", err
	}
	var d dumper
	d.printf("ir_version: %d\n", m.GetIrVersion())
	for _, o := range m.GetOpsetImport() {
		d.printf("opset_import: %s %d\n", domainName(o.GetDomain()), o.GetVersion())
	}
	d.printf("producer: %s %s\n", strconv.Quote(m.GetProducerName()), strconv.Quote(m.GetProducerVersion()))
	if m.Domain != nil {
		d.printf("domain: %s\n", strconv.Quote(m.GetDomain()))
	}
	d.printf("model_version: %d\n", m.GetModelVersion())
	d.printf("doc_string: %s\n", strconv.Quote(m.GetDocString()))
	d.printf("metadata_props:\n")
	for _, p := range m.GetMetadataProps() {
		d.printf("  %s: %s\n", p.GetKey(), strconv.Quote(p.GetValue()))
	}
	if u := len(m.ProtoReflect().GetUnknown()); u > 0 {
		d.printf("unknown model fields: %d bytes\n", u)
	}
	d.graph(m.GetGraph(), "")
	return d.sb.String(), nil
}

type dumper struct{ sb strings.Builder }

func (d *dumper) printf(format string, a ...any) { fmt.Fprintf(&d.sb, format, a...) }

func (d *dumper) graph(g *onnxpb.GraphProto, indent string) {
	d.printf("%sgraph %s\n", indent, strconv.Quote(g.GetName()))
	indent += "  "
	if g.DocString != nil {
		d.printf("%sdoc_string: %s\n", indent, strconv.Quote(g.GetDocString()))
	}
	for _, v := range g.GetInput() {
		d.printf("%sinput %s: %s\n", indent, v.GetName(), typeString(v.GetType()))
	}
	for _, v := range g.GetOutput() {
		d.printf("%soutput %s: %s\n", indent, v.GetName(), typeString(v.GetType()))
	}
	for _, v := range g.GetValueInfo() {
		d.printf("%svalue_info %s: %s\n", indent, v.GetName(), typeString(v.GetType()))
	}
	for _, t := range g.GetInitializer() {
		d.printf("%sinitializer %s: %s\n", indent, t.GetName(), tensorText(t))
	}
	for _, n := range g.GetNode() {
		op := n.GetOpType()
		if n.GetDomain() != "" {
			op = n.GetDomain() + "." + op
		}
		d.printf("%snode %s: %s(%s) -> (%s)\n", indent, strconv.Quote(n.GetName()), op, strings.Join(n.GetInput(), ", "), strings.Join(n.GetOutput(), ", "))
		for _, a := range n.GetAttribute() {
			d.attr(a, indent+"  ")
		}
	}
	if u := len(g.ProtoReflect().GetUnknown()); u > 0 {
		d.printf("%sunknown graph fields: %d bytes\n", indent, u)
	}
}

func (d *dumper) attr(a *onnxpb.AttributeProto, indent string) {
	name := a.GetName()
	switch a.GetType() {
	case onnxpb.AttributeProto_FLOAT:
		d.printf("%s%s = %s\n", indent, name, strconv.FormatFloat(float64(a.GetF()), 'g', -1, 32))
	case onnxpb.AttributeProto_INT:
		d.printf("%s%s = %d\n", indent, name, a.GetI())
	case onnxpb.AttributeProto_STRING:
		d.printf("%s%s = %s\n", indent, name, strconv.Quote(string(a.GetS())))
	case onnxpb.AttributeProto_TENSOR:
		d.printf("%s%s = %s\n", indent, name, tensorText(a.GetT()))
	case onnxpb.AttributeProto_GRAPH:
		d.printf("%s%s =\n", indent, name)
		d.graph(a.GetG(), indent+"  ")
	case onnxpb.AttributeProto_FLOATS:
		fs := make([]string, len(a.GetFloats()))
		for i, f := range a.GetFloats() {
			fs[i] = strconv.FormatFloat(float64(f), 'g', -1, 32)
		}
		d.printf("%s%s = [%s]\n", indent, name, strings.Join(fs, ", "))
	case onnxpb.AttributeProto_INTS:
		d.printf("%s%s = %v\n", indent, name, a.GetInts())
	case onnxpb.AttributeProto_STRINGS:
		ss := make([]string, len(a.GetStrings()))
		for i, s := range a.GetStrings() {
			ss[i] = strconv.Quote(string(s))
		}
		d.printf("%s%s = [%s]\n", indent, name, strings.Join(ss, ", "))
	case onnxpb.AttributeProto_GRAPHS:
		d.printf("%s%s = %d graphs\n", indent, name, len(a.GetGraphs()))
		for _, g := range a.GetGraphs() {
			d.graph(g, indent+"  ")
		}
	default:
		d.printf("%s%s: attribute of type %s\n", indent, name, a.GetType())
	}
}

// tensorText renders a tensor's type, its values when there are few, and
// otherwise a digest of its data and its first values.
func tensorText(t *onnxpb.TensorProto) string {
	if t == nil {
		return "<nil>"
	}
	var sb strings.Builder
	sb.WriteString(elemName(t.GetDataType()))
	dims := make([]string, len(t.GetDims()))
	for i, x := range t.GetDims() {
		dims[i] = strconv.FormatInt(x, 10)
	}
	sb.WriteString("[" + strings.Join(dims, ",") + "]")
	if t.GetDataLocation() == onnxpb.TensorProto_EXTERNAL {
		sb.WriteString(" external")
		return sb.String()
	}
	vals, complete := tensorValues(t, 4)
	if !complete {
		sum := sha256.Sum256(tensorDigestInput(t))
		fmt.Fprintf(&sb, " sha256:%s", hex.EncodeToString(sum[:6]))
	}
	if len(vals) > 0 {
		sb.WriteString(" [" + strings.Join(vals, " "))
		if !complete {
			sb.WriteString(" ...")
		}
		sb.WriteString("]")
	}
	return sb.String()
}

// tensorValues returns up to limit values as text (up to 2·limit when that
// is all of them) and whether they are all the tensor's values.
func tensorValues(t *onnxpb.TensorProto, limit int) ([]string, bool) {
	var all []string
	add := func(n int, at func(i int) string) bool {
		max := n
		if n > 2*limit {
			max = limit
		}
		for i := 0; i < max; i++ {
			all = append(all, at(i))
		}
		return max == n
	}
	raw := t.GetRawData()
	switch dt := onnxpb.TensorProto_DataType(t.GetDataType()); {
	case raw != nil && dt == onnxpb.TensorProto_FLOAT:
		return all, add(len(raw)/4, func(i int) string {
			return strconv.FormatFloat(float64(math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))), 'g', -1, 32)
		}) && len(raw)%4 == 0
	case raw != nil && dt == onnxpb.TensorProto_INT64:
		return all, add(len(raw)/8, func(i int) string {
			return strconv.FormatInt(int64(binary.LittleEndian.Uint64(raw[8*i:])), 10)
		}) && len(raw)%8 == 0
	case raw != nil:
		return nil, len(raw) == 0
	case len(t.FloatData) > 0:
		return all, add(len(t.FloatData), func(i int) string { return strconv.FormatFloat(float64(t.FloatData[i]), 'g', -1, 32) })
	case len(t.Int64Data) > 0:
		return all, add(len(t.Int64Data), func(i int) string { return strconv.FormatInt(t.Int64Data[i], 10) })
	case len(t.Int32Data) > 0:
		return all, add(len(t.Int32Data), func(i int) string { return strconv.FormatInt(int64(t.Int32Data[i]), 10) })
	case len(t.DoubleData) > 0:
		return all, add(len(t.DoubleData), func(i int) string { return strconv.FormatFloat(t.DoubleData[i], 'g', -1, 64) })
	}
	return nil, false
}

// tensorDigestInput is the tensor's data fields, deterministically encoded.
func tensorDigestInput(t *onnxpb.TensorProto) []byte {
	c := &onnxpb.TensorProto{
		RawData: t.RawData, FloatData: t.FloatData, Int32Data: t.Int32Data, Int64Data: t.Int64Data,
		DoubleData: t.DoubleData, Uint64Data: t.Uint64Data, StringData: t.StringData,
	}
	b, _ := proto.MarshalOptions{Deterministic: true}.Marshal(c)
	return b
}

func domainName(d string) string {
	if d == "" {
		return "ai.onnx"
	}
	return d
}

// wireError locates the first malformed protobuf field of data, walking
// the wire format down through length-delimited fields that parse as
// messages, and says where: "byte 7: field 3 of type 5 runs past the end".
func wireError(data []byte) string {
	off, msg := wireWalk(data, 0, 0)
	if off < 0 {
		return "the wire format reads, but not as a ModelProto"
	}
	return fmt.Sprintf("byte %d: %s", off, msg)
}

// wireWalk returns the offset (relative to the whole input, base) of the
// first malformed field of b, or -1 when b is well-formed; depth bounds
// the descent.
func wireWalk(b []byte, base, depth int) (int, string) {
	for i := 0; i < len(b); {
		num, typ, n := protowire.ConsumeTag(b[i:])
		if n < 0 {
			return base + i, "a field tag that does not read (" + protowire.ParseError(n).Error() + ")"
		}
		m := protowire.ConsumeFieldValue(num, typ, b[i+n:])
		if m < 0 {
			return base + i, fmt.Sprintf("field %d of wire type %d: %v", num, typ, protowire.ParseError(m))
		}
		if typ == protowire.BytesType && depth < 8 {
			v, k := protowire.ConsumeBytes(b[i+n:])
			// A nested message that is itself malformed; strings and raw
			// tensor data that happen not to parse are not errors, so only
			// descend when most of the value reads as fields.
			if k > 0 && len(v) > 0 {
				if off, msg := wireWalk(v, base+i+n+(k-len(v)), depth+1); off >= 0 && looksLikeMessage(v) {
					return off, msg
				}
			}
		}
		i += n + m
	}
	return -1, ""
}

// looksLikeMessage tells whether b starts with a well-formed tag of a
// small field number, as ONNX messages do (strings usually do not).
func looksLikeMessage(b []byte) bool {
	num, typ, n := protowire.ConsumeTag(b)
	return n > 0 && num > 0 && num < 64 && typ <= protowire.Fixed32Type
}
