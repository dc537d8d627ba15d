package runtime

import (
	"errors"
	"fmt"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// This file is a bounds-checking pre-pass over the raw ONNX protobuf. It runs
// before onnx-go's decoder sees the bytes, because that decoder trusts the
// file: it allocates tensors of whatever size a value_info declares and
// builds Gorgonia tensors whose backing may not match their dims (a panic
// or a multi-gigabyte allocation on a hostile file). The scan reads the wire
// format directly with protowire, keeps only what the runtime needs that
// onnx-go drops (opset imports, symbolic dimension names, node names), and
// checks every size against the data actually present.

// Limits on what a file may declare. They are far above any VAE vaec
// exports and far below what would hurt the machine.
const (
	maxRank           = 8       // dimensions of any tensor
	maxDeclaredElems  = 1 << 26 // elements of one declared (value_info) tensor: onnx-go allocates it
	maxTotalDeclared  = 1 << 27 // elements of all declared tensors together
	maxRunElems       = 1 << 26 // elements of any tensor computed by Run (256 MiB of float32)
	maxNodes          = 1 << 16 // nodes in a graph
	maxNameLen        = 4096    // bytes in any name
	maxMetadata       = 1024    // metadata_props entries
	maxTextLen        = 1 << 20 // bytes of a doc_string or a metadata value
	maxSupportedOpset = 21
)

// ONNX TensorProto.DataType values the runtime knows.
const (
	dtFloat = 1
	dtInt64 = 7
	dtBool  = 9 // graph inputs and outputs only: bool tensors in the file are refused
)

// dtName names an ONNX TensorProto.DataType for messages.
func dtName(t int64) string {
	names := []string{"UNDEFINED", "FLOAT", "UINT8", "INT8", "UINT16", "INT16", "INT32", "INT64", "STRING",
		"BOOL", "FLOAT16", "DOUBLE", "UINT32", "UINT64", "COMPLEX64", "COMPLEX128", "BFLOAT16"}
	if t >= 0 && t < int64(len(names)) {
		return names[t]
	}
	return fmt.Sprintf("type %d", t)
}

// ONNX AttributeProto.AttributeType values.
const (
	atFloat   = 1
	atInt     = 2
	atString  = 3
	atTensor  = 4
	atGraph   = 5
	atFloats  = 6
	atInts    = 7
	atStrings = 8
)

// Dim is one dimension of a declared shape: a fixed size, or a symbolic
// name (Param) such as "N" for the batch.
type Dim struct {
	Value int64  // fixed size; meaningful when Param == ""
	Param string // symbolic name; "" for a fixed dimension
}

func (d Dim) String() string {
	if d.Param != "" {
		return d.Param
	}
	if d.Value < 0 {
		return "?"
	}
	return fmt.Sprint(d.Value)
}

// pbValueInfo is a graph input, output or value_info entry.
type pbValueInfo struct {
	name     string
	elemType int64
	hasShape bool
	dims     []Dim
	tensor   bool   // the type is a tensor type (not sequence, map, …)
	kind     string // the type's kind when it is not a tensor ("sequence_type", …)
}

// pbTensor is an initializer or a tensor attribute, sizes checked.
type pbTensor struct {
	name     string
	dataType int64
	dims     []int64
}

// pbAttr is one node attribute.
type pbAttr struct {
	name string
	typ  int64
}

// pbNode is one graph node.
type pbNode struct {
	name, opType, domain string
	inputs, outputs      []string
	attrs                []pbAttr
}

// pbModel is what the pre-pass keeps.
type pbModel struct {
	irVersion    int64
	opsets       map[string]int64 // domain ("" for the default) → version
	producer     string
	docString    string
	metadata     map[string]string // metadata_props
	inputs       []pbValueInfo
	outputs      []pbValueInfo
	valueInfo    []pbValueInfo
	initializers []pbTensor
	nodes        []pbNode
}

// wireReader walks one message's fields.
type wireReader struct {
	b    []byte
	off  int // offset of b[0] in the file, for error messages
	pos  int
	what string // message being read, for errors
}

// once refuses a second occurrence of a singular message field. Protobuf
// merges repeated occurrences of such a field (so a second "graph" adds
// its nodes and inputs to the first); onnx-go's decoder would see the
// merged message while this scan saw two, so a file could slip sizes past
// the checks. No ONNX writer emits them; they are refused.
func (r *wireReader) once(f wireField, seen *bool, what string) error {
	if *seen {
		return fmt.Errorf("%s: field %d occurs twice (at byte %d)", what, f.num, f.off)
	}
	*seen = true
	return nil
}

type wireField struct {
	num protowire.Number
	typ protowire.Type
	v   uint64 // varint / fixed value
	b   []byte // bytes payload
	off int    // file offset of the payload
}

func (r *wireReader) next() (wireField, bool, error) {
	if r.pos >= len(r.b) {
		return wireField{}, false, nil
	}
	num, typ, n := protowire.ConsumeTag(r.b[r.pos:])
	if n < 0 {
		return wireField{}, false, fmt.Errorf("%s: bad field tag at byte %d: %w", r.what, r.off+r.pos, protowire.ParseError(n))
	}
	start := r.pos
	r.pos += n
	f := wireField{num: num, typ: typ, off: r.off + r.pos}
	switch typ {
	case protowire.VarintType:
		f.v, n = protowire.ConsumeVarint(r.b[r.pos:])
	case protowire.Fixed32Type:
		var v uint32
		v, n = protowire.ConsumeFixed32(r.b[r.pos:])
		f.v = uint64(v)
	case protowire.Fixed64Type:
		f.v, n = protowire.ConsumeFixed64(r.b[r.pos:])
	case protowire.BytesType:
		f.b, n = protowire.ConsumeBytes(r.b[r.pos:])
		if n >= 0 {
			f.off = r.off + r.pos + (n - len(f.b))
		}
	default:
		n = protowire.ConsumeFieldValue(num, typ, r.b[r.pos:])
	}
	if n < 0 {
		return wireField{}, false, fmt.Errorf("%s: field %d at byte %d: %w (truncated or corrupt file)", r.what, num, r.off+start, protowire.ParseError(n))
	}
	r.pos += n
	return f, true, nil
}

func sub(f wireField, what string) *wireReader {
	return &wireReader{b: f.b, off: f.off, what: what}
}

func (f wireField) str(what string) (string, error) {
	if f.typ != protowire.BytesType {
		return "", fmt.Errorf("%s: wrong wire type %d at byte %d", what, f.typ, f.off)
	}
	if len(f.b) > maxNameLen {
		return "", fmt.Errorf("%s: %d-byte string at byte %d is longer than %d", what, len(f.b), f.off, maxNameLen)
	}
	return string(f.b), nil
}

// text reads a free-text string field (a doc string, a metadata value),
// which may be longer than a name.
func (f wireField) text(what string) (string, error) {
	if f.typ != protowire.BytesType {
		return "", fmt.Errorf("%s: wrong wire type %d at byte %d", what, f.typ, f.off)
	}
	if len(f.b) > maxTextLen {
		return "", fmt.Errorf("%s: %d-byte string at byte %d is longer than %d", what, len(f.b), f.off, maxTextLen)
	}
	return string(f.b), nil
}

func (f wireField) int(what string) (int64, error) {
	if f.typ != protowire.VarintType {
		return 0, fmt.Errorf("%s: wrong wire type %d at byte %d", what, f.typ, f.off)
	}
	return int64(f.v), nil
}

// ints reads a repeated int64 field, packed or not, appending to dst.
func (f wireField) ints(dst []int64, what string, limit int) ([]int64, error) {
	switch f.typ {
	case protowire.VarintType:
		return append(dst, int64(f.v)), nil
	case protowire.BytesType:
		b := f.b
		for len(b) > 0 {
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return nil, fmt.Errorf("%s: packed varint at byte %d: %w", what, f.off+len(f.b)-len(b), protowire.ParseError(n))
			}
			if len(dst) >= limit {
				return nil, fmt.Errorf("%s: more than %d values", what, limit)
			}
			dst = append(dst, int64(v))
			b = b[n:]
		}
		return dst, nil
	}
	return nil, fmt.Errorf("%s: wrong wire type %d at byte %d", what, f.typ, f.off)
}

// countValues counts the elements of a repeated scalar field occurrence
// (packed or not) whose fixed width is width bytes (0 for varints).
func (f wireField) countValues(width int, what string) (int64, error) {
	switch {
	case f.typ == protowire.BytesType && width > 0:
		if len(f.b)%width != 0 {
			return 0, fmt.Errorf("%s: packed data of %d bytes at byte %d is not a multiple of %d", what, len(f.b), f.off, width)
		}
		return int64(len(f.b) / width), nil
	case f.typ == protowire.BytesType:
		var n int64
		b := f.b
		for len(b) > 0 {
			_, k := protowire.ConsumeVarint(b)
			if k < 0 {
				return 0, fmt.Errorf("%s: packed varint at byte %d: %w", what, f.off+len(f.b)-len(b), protowire.ParseError(k))
			}
			b = b[k:]
			n++
		}
		return n, nil
	case width == 4 && f.typ == protowire.Fixed32Type, width == 8 && f.typ == protowire.Fixed64Type, width == 0 && f.typ == protowire.VarintType:
		return 1, nil
	}
	return 0, fmt.Errorf("%s: wrong wire type %d at byte %d", what, f.typ, f.off)
}

// scanModel reads and checks a ModelProto.
func scanModel(data []byte) (*pbModel, error) {
	if len(data) == 0 {
		return nil, errors.New("empty file")
	}
	m := &pbModel{opsets: map[string]int64{}, metadata: map[string]string{}}
	r := &wireReader{b: data, what: "model"}
	var graph *wireField
	for {
		f, ok, err := r.next()
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
		switch f.num {
		case 1: // ir_version
			if m.irVersion, err = f.int("model.ir_version"); err != nil {
				return nil, err
			}
		case 2: // producer_name
			if m.producer, err = f.str("model.producer_name"); err != nil {
				return nil, err
			}
		case 6: // doc_string
			if m.docString, err = f.text("model.doc_string"); err != nil {
				return nil, err
			}
		case 14: // metadata_props
			if len(m.metadata) >= maxMetadata {
				return nil, fmt.Errorf("model.metadata_props: more than %d entries", maxMetadata)
			}
			k, v, err := scanStringEntry(f)
			if err != nil {
				return nil, err
			}
			if _, dup := m.metadata[k]; dup {
				return nil, fmt.Errorf("model.metadata_props: key %q occurs twice", k)
			}
			m.metadata[k] = v
		case 7: // graph
			if graph != nil {
				return nil, fmt.Errorf("model: graph occurs twice (at byte %d)", f.off)
			}
			if f.typ != protowire.BytesType {
				return nil, fmt.Errorf("model.graph: wrong wire type %d at byte %d", f.typ, f.off)
			}
			g := f
			graph = &g
		case 8: // opset_import
			dom, ver, err := scanOpset(f)
			if err != nil {
				return nil, err
			}
			if old, dup := m.opsets[dom]; dup && old != ver {
				return nil, fmt.Errorf("model.opset_import: domain %q imported twice (versions %d and %d)", dom, old, ver)
			}
			m.opsets[dom] = ver
		case 20: // functions (IR 8): local functions are not supported
			return nil, fmt.Errorf("model.functions at byte %d: model-local functions are not supported", f.off)
		}
	}
	if graph == nil {
		return nil, errors.New("model has no graph (not an ONNX model file, or truncated)")
	}
	if err := scanGraph(*graph, m); err != nil {
		return nil, err
	}
	return m, nil
}

func scanOpset(f wireField) (string, int64, error) {
	if f.typ != protowire.BytesType {
		return "", 0, fmt.Errorf("model.opset_import: wrong wire type at byte %d", f.off)
	}
	r := sub(f, "model.opset_import")
	var dom string
	var ver int64
	for {
		g, ok, err := r.next()
		if err != nil {
			return "", 0, err
		}
		if !ok {
			break
		}
		switch g.num {
		case 1:
			if dom, err = g.str("opset_import.domain"); err != nil {
				return "", 0, err
			}
		case 2:
			if ver, err = g.int("opset_import.version"); err != nil {
				return "", 0, err
			}
		}
	}
	if dom == "ai.onnx" {
		dom = ""
	}
	return dom, ver, nil
}

// scanStringEntry reads a StringStringEntryProto (key 1, value 2).
func scanStringEntry(f wireField) (key, value string, err error) {
	const what = "model.metadata_props"
	if f.typ != protowire.BytesType {
		return "", "", fmt.Errorf("%s: wrong wire type at byte %d", what, f.off)
	}
	r := sub(f, what)
	for {
		g, ok, err := r.next()
		if err != nil {
			return "", "", err
		}
		if !ok {
			break
		}
		switch g.num {
		case 1:
			if key, err = g.str(what + ".key"); err != nil {
				return "", "", err
			}
		case 2:
			if value, err = g.text(what + ".value"); err != nil {
				return "", "", err
			}
		}
	}
	return key, value, nil
}

func scanGraph(gf wireField, m *pbModel) error {
	r := sub(gf, "graph")
	var declared int64
	addDeclared := func(vi pbValueInfo, where string) error {
		n := int64(1)
		for _, d := range vi.dims {
			if d.Param == "" && d.Value >= 0 {
				n *= max(d.Value, 1)
			}
		}
		declared += n
		if declared > maxTotalDeclared {
			return fmt.Errorf("%s %q: declared tensors exceed %d elements in total", where, vi.name, maxTotalDeclared)
		}
		return nil
	}
	for {
		f, ok, err := r.next()
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		switch f.num {
		case 1: // node
			if len(m.nodes) >= maxNodes {
				return fmt.Errorf("graph: more than %d nodes", maxNodes)
			}
			n, err := scanNode(f, len(m.nodes))
			if err != nil {
				return err
			}
			m.nodes = append(m.nodes, n)
		case 5: // initializer
			t, err := scanTensor(f, fmt.Sprintf("graph.initializer[%d]", len(m.initializers)))
			if err != nil {
				return err
			}
			if t.name == "" {
				return fmt.Errorf("graph.initializer[%d] at byte %d has no name", len(m.initializers), f.off)
			}
			m.initializers = append(m.initializers, t)
		case 11, 12, 13: // input, output, value_info
			where := map[protowire.Number]string{11: "graph.input", 12: "graph.output", 13: "graph.value_info"}[f.num]
			vi, err := scanValueInfo(f, where)
			if err != nil {
				return err
			}
			if err := addDeclared(vi, where); err != nil {
				return err
			}
			switch f.num {
			case 11:
				m.inputs = append(m.inputs, vi)
			case 12:
				m.outputs = append(m.outputs, vi)
			default:
				m.valueInfo = append(m.valueInfo, vi)
			}
		case 15: // sparse_initializer
			return fmt.Errorf("graph.sparse_initializer at byte %d: sparse tensors are not supported", f.off)
		}
	}
	return nil
}

func scanNode(f wireField, idx int) (pbNode, error) {
	what := fmt.Sprintf("graph.node[%d]", idx)
	if f.typ != protowire.BytesType {
		return pbNode{}, fmt.Errorf("%s: wrong wire type at byte %d", what, f.off)
	}
	r := sub(f, what)
	var n pbNode
	for {
		g, ok, err := r.next()
		if err != nil {
			return n, err
		}
		if !ok {
			break
		}
		var s string
		switch g.num {
		case 1, 2, 3, 4, 7:
			if s, err = g.str(what); err != nil {
				return n, err
			}
		}
		switch g.num {
		case 1:
			n.inputs = append(n.inputs, s)
		case 2:
			n.outputs = append(n.outputs, s)
		case 3:
			n.name = s
		case 4:
			n.opType = s
		case 7:
			n.domain = s
		case 5:
			a, err := scanAttr(g, what)
			if err != nil {
				return n, err
			}
			n.attrs = append(n.attrs, a)
		}
	}
	if n.domain == "ai.onnx" {
		n.domain = ""
	}
	// Trailing optional outputs may be named "" (absent).
	for len(n.outputs) > 1 && n.outputs[len(n.outputs)-1] == "" {
		n.outputs = n.outputs[:len(n.outputs)-1]
	}
	return n, nil
}

func scanAttr(f wireField, node string) (pbAttr, error) {
	what := node + ".attribute"
	if f.typ != protowire.BytesType {
		return pbAttr{}, fmt.Errorf("%s: wrong wire type at byte %d", what, f.off)
	}
	r := sub(f, what)
	var a pbAttr
	var seenT bool
	for {
		g, ok, err := r.next()
		if err != nil {
			return a, err
		}
		if !ok {
			break
		}
		switch g.num {
		case 1:
			if a.name, err = g.str(what + ".name"); err != nil {
				return a, err
			}
		case 20:
			if a.typ, err = g.int(what + ".type"); err != nil {
				return a, err
			}
		case 5: // t: onnx-go turns it into a tensor, so its sizes must hold
			if err := r.once(g, &seenT, what+".t"); err != nil {
				return a, err
			}
			if _, err := scanTensor(g, what+".t"); err != nil {
				return a, err
			}
		case 10, 11, 6, 22, 23: // tensors, graphs, g, sparse_tensor, sparse_tensors
			return a, fmt.Errorf("%s %q: attribute field %d (subgraphs, tensor lists, sparse tensors) is not supported", what, a.name, g.num)
		case 21:
			return a, fmt.Errorf("%s %q: ref_attr_name is only valid inside functions", what, a.name)
		case 7, 8: // floats, ints: bounded by the file size; nothing to allocate beyond it
		}
	}
	return a, nil
}

func scanValueInfo(f wireField, where string) (pbValueInfo, error) {
	if f.typ != protowire.BytesType {
		return pbValueInfo{}, fmt.Errorf("%s: wrong wire type at byte %d", where, f.off)
	}
	r := sub(f, where)
	var vi pbValueInfo
	var seenType bool
	for {
		g, ok, err := r.next()
		if err != nil {
			return vi, err
		}
		if !ok {
			break
		}
		switch g.num {
		case 1:
			if vi.name, err = g.str(where + ".name"); err != nil {
				return vi, err
			}
		case 2:
			if err := r.once(g, &seenType, fmt.Sprintf("%s %q: type", where, vi.name)); err != nil {
				return vi, err
			}
			if err := scanType(g, &vi, where); err != nil {
				return vi, err
			}
		}
	}
	if vi.name == "" {
		return vi, fmt.Errorf("%s at byte %d has no name", where, f.off)
	}
	n := int64(1)
	for i, d := range vi.dims {
		if d.Param != "" || d.Value < 0 {
			continue
		}
		if d.Value > maxDeclaredElems || n*max(d.Value, 1) > maxDeclaredElems {
			return vi, fmt.Errorf("%s %q: dimension %d = %d makes the tensor larger than %d elements", where, vi.name, i, d.Value, maxDeclaredElems)
		}
		n *= max(d.Value, 1)
	}
	return vi, nil
}

func scanType(f wireField, vi *pbValueInfo, where string) error {
	if f.typ != protowire.BytesType {
		return fmt.Errorf("%s.type: wrong wire type at byte %d", where, f.off)
	}
	r := sub(f, where+".type")
	var seenTensor bool
	for {
		g, ok, err := r.next()
		if err != nil {
			return err
		}
		if !ok {
			return nil
		}
		if g.num != 1 { // anything but tensor_type
			switch g.num {
			case 6: // denotation
			case 4:
				vi.kind = "sequence_type"
			case 5:
				vi.kind = "map_type"
			case 9:
				vi.kind = "optional_type"
			case 8:
				vi.kind = "sparse_tensor_type"
			default:
				vi.kind = fmt.Sprintf("type field %d", g.num)
			}
			continue
		}
		if g.typ != protowire.BytesType {
			return fmt.Errorf("%s.type.tensor_type: wrong wire type at byte %d", where, g.off)
		}
		if err := r.once(g, &seenTensor, where+".type"); err != nil {
			return err
		}
		vi.tensor = true
		tr := sub(g, where+".type.tensor_type")
		var seenShape bool
		for {
			h, ok, err := tr.next()
			if err != nil {
				return err
			}
			if !ok {
				break
			}
			switch h.num {
			case 1:
				if vi.elemType, err = h.int(where + ".elem_type"); err != nil {
					return err
				}
			case 2:
				if err := tr.once(h, &seenShape, where+".type.tensor_type"); err != nil {
					return err
				}
				vi.hasShape = true
				if err := scanShape(h, vi, where); err != nil {
					return err
				}
			}
		}
	}
}

func scanShape(f wireField, vi *pbValueInfo, where string) error {
	if f.typ != protowire.BytesType {
		return fmt.Errorf("%s.shape: wrong wire type at byte %d", where, f.off)
	}
	r := sub(f, where+".shape")
	for {
		g, ok, err := r.next()
		if err != nil {
			return err
		}
		if !ok {
			return nil
		}
		if g.num != 1 {
			continue
		}
		if g.typ != protowire.BytesType {
			return fmt.Errorf("%s.shape.dim: wrong wire type at byte %d", where, g.off)
		}
		if len(vi.dims) >= maxRank {
			return fmt.Errorf("%s %q: more than %d dimensions", where, vi.name, maxRank)
		}
		d := Dim{Value: -1}
		dr := sub(g, where+".shape.dim")
		for {
			h, ok, err := dr.next()
			if err != nil {
				return err
			}
			if !ok {
				break
			}
			switch h.num {
			case 1:
				if d.Value, err = h.int(where + ".dim_value"); err != nil {
					return err
				}
				if d.Value < 0 {
					return fmt.Errorf("%s %q: negative dimension %d", where, vi.name, d.Value)
				}
				d.Param = ""
			case 2:
				if d.Param, err = h.str(where + ".dim_param"); err != nil {
					return err
				}
				d.Value = -1
			}
		}
		vi.dims = append(vi.dims, d)
	}
}

// scanTensor checks a TensorProto: float32 or int64, dims within limits,
// data present in exactly one field and of exactly the size the dims say.
func scanTensor(f wireField, what string) (pbTensor, error) {
	if f.typ != protowire.BytesType {
		return pbTensor{}, fmt.Errorf("%s: wrong wire type at byte %d", what, f.off)
	}
	r := sub(f, what)
	var t pbTensor
	var raw, floats, int64s, other int64
	var hasRaw, hasFloats, hasInts bool
	for {
		g, ok, err := r.next()
		if err != nil {
			return t, err
		}
		if !ok {
			break
		}
		switch g.num {
		case 1:
			if t.dims, err = g.ints(t.dims, what+".dims", maxRank); err != nil {
				return t, err
			}
			if len(t.dims) > maxRank {
				return t, fmt.Errorf("%s: more than %d dimensions", what, maxRank)
			}
		case 2:
			if t.dataType, err = g.int(what + ".data_type"); err != nil {
				return t, err
			}
		case 3:
			return t, fmt.Errorf("%s: segmented tensors are not supported", what)
		case 4:
			n, err := g.countValues(4, what+".float_data")
			if err != nil {
				return t, err
			}
			floats += n
			hasFloats = true
		case 7:
			n, err := g.countValues(0, what+".int64_data")
			if err != nil {
				return t, err
			}
			int64s += n
			hasInts = true
		case 5, 6, 10, 11: // int32_data, string_data, double_data, uint64_data
			other++
		case 8:
			if t.name, err = g.str(what + ".name"); err != nil {
				return t, err
			}
		case 9:
			if g.typ != protowire.BytesType {
				return t, fmt.Errorf("%s.raw_data: wrong wire type at byte %d", what, g.off)
			}
			raw = int64(len(g.b))
			hasRaw = true
		case 13, 14: // external_data, data_location
			if g.num == 14 && g.typ == protowire.VarintType && g.v == 0 {
				continue // DEFAULT location
			}
			return t, fmt.Errorf("%s %q: external data is not supported", what, t.name)
		}
	}
	if t.name != "" {
		what = fmt.Sprintf("%s %q", what, t.name)
	}
	n := int64(1)
	for i, d := range t.dims {
		if d < 0 {
			return t, fmt.Errorf("%s: negative dimension %d at index %d", what, d, i)
		}
		if d > math.MaxInt32 || n*d > maxRunElems {
			return t, fmt.Errorf("%s: dims %v exceed %d elements", what, t.dims, maxRunElems)
		}
		n *= d
	}
	var width int64
	var typed int64
	var hasTyped bool
	switch t.dataType {
	case dtFloat:
		width, typed, hasTyped = 4, floats, hasFloats
		if hasInts {
			return t, fmt.Errorf("%s: float tensor carries int64_data", what)
		}
	case dtInt64:
		width, typed, hasTyped = 8, int64s, hasInts
		if hasFloats {
			return t, fmt.Errorf("%s: int64 tensor carries float_data", what)
		}
	case 0:
		return t, fmt.Errorf("%s: data_type is undefined", what)
	default:
		return t, fmt.Errorf("%s: data type %s is not supported (only FLOAT and INT64)", what, dtName(t.dataType))
	}
	if other > 0 {
		return t, fmt.Errorf("%s: carries data in a field that does not match its type", what)
	}
	switch {
	case hasRaw && hasTyped:
		return t, fmt.Errorf("%s: data given both as raw_data and as typed values", what)
	case hasRaw:
		if raw != n*width {
			return t, fmt.Errorf("%s: dims %v need %d bytes of raw_data, file has %d", what, t.dims, n*width, raw)
		}
	case hasTyped:
		if typed != n {
			return t, fmt.Errorf("%s: dims %v need %d values, file has %d", what, t.dims, n, typed)
		}
	default:
		return t, fmt.Errorf("%s: no data (dims %v)", what, t.dims)
	}
	if n == 0 {
		// onnx-go would build an empty Gorgonia tensor from nil backing,
		// which panics; no vaec model needs one.
		return t, fmt.Errorf("%s: empty tensors are not supported", what)
	}
	return t, nil
}
