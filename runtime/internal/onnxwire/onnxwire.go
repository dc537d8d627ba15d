// Package onnxwire writes small ONNX models straight onto the protobuf wire
// format. Tests of the runtime use it to build the tiny and the deliberately
// broken graphs they need without depending on the exporter (whose faults
// the runtime must be able to expose) or on Python.
package onnxwire

import (
	"encoding/binary"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// ONNX enum values used here.
const (
	dtFloat  = 1 // TensorProto.FLOAT
	dtInt64  = 7 // TensorProto.INT64
	atFloat  = 1 // AttributeProto.FLOAT
	atInt    = 2 // AttributeProto.INT
	atString = 3 // AttributeProto.STRING
	atInts   = 7 // AttributeProto.INTS
)

// PB is a protobuf message under construction.
type PB []byte

// Str appends a string field.
func (b PB) Str(num protowire.Number, s string) PB {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

// Msg appends a message field.
func (b PB) Msg(num protowire.Number, m PB) PB {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, m)
}

// Int appends a varint field.
func (b PB) Int(num protowire.Number, v int64) PB {
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, uint64(v))
}

// F32 appends a fixed32 float field.
func (b PB) F32(num protowire.Number, v float32) PB {
	b = protowire.AppendTag(b, num, protowire.Fixed32Type)
	return protowire.AppendFixed32(b, math.Float32bits(v))
}

// Tensor is a TensorProto with raw little-endian data.
func Tensor(name string, dims []int64, data []float32) PB {
	var t PB
	for _, d := range dims {
		t = t.Int(1, d)
	}
	t = t.Int(2, dtFloat).Str(8, name)
	raw := make([]byte, 4*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
	}
	return t.Msg(9, raw)
}

// Int64Tensor is a 1-D INT64 TensorProto (a shape argument).
func Int64Tensor(name string, vals []int64) PB {
	t := PB(nil).Int(1, int64(len(vals))).Int(2, dtInt64).Str(8, name)
	raw := make([]byte, 8*len(vals))
	for i, v := range vals {
		binary.LittleEndian.PutUint64(raw[8*i:], uint64(v))
	}
	return t.Msg(9, raw)
}

// Element types for TypedValueInfo and BoolTensor's data_type.
const (
	DtFloat = dtFloat
	DtInt64 = dtInt64
	DtBool  = 9 // TensorProto.BOOL
)

// BoolTensor is a BOOL TensorProto with raw data, one byte per value.
func BoolTensor(name string, dims []int64, vals []bool) PB {
	var t PB
	for _, d := range dims {
		t = t.Int(1, d)
	}
	raw := make([]byte, len(vals))
	for i, v := range vals {
		if v {
			raw[i] = 1
		}
	}
	return t.Int(2, DtBool).Str(8, name).Msg(9, raw)
}

// ValueInfo declares a float tensor; dims are ints or strings (symbolic).
func ValueInfo(name string, dims ...any) PB { return TypedValueInfo(name, dtFloat, dims...) }

// TypedValueInfo declares a tensor of an element type (DtFloat, DtInt64,
// DtBool or any other TensorProto.DataType value).
func TypedValueInfo(name string, elemType int64, dims ...any) PB {
	var shape PB
	for _, d := range dims {
		switch d := d.(type) {
		case int:
			shape = shape.Msg(1, PB(nil).Int(1, int64(d)))
		case string:
			shape = shape.Msg(1, PB(nil).Str(2, d))
		}
	}
	tt := PB(nil).Int(1, elemType).Msg(2, shape)
	return PB(nil).Str(1, name).Msg(2, PB(nil).Msg(1, tt))
}

// Attr is a node attribute: a float, an int or a list of ints.
type Attr struct {
	Name string
	F    *float32
	I    *int64
	S    *string
	Ints []int64
}

// FloatAttr, IntAttr, StrAttr and IntsAttr make attributes.
func FloatAttr(name string, v float32) Attr { return Attr{Name: name, F: &v} }
func IntAttr(name string, v int64) Attr     { return Attr{Name: name, I: &v} }
func StrAttr(name, v string) Attr           { return Attr{Name: name, S: &v} }
func IntsAttr(name string, v ...int64) Attr {
	return Attr{Name: name, Ints: v}
}

// Node is a NodeProto.
func Node(name, op string, in, out []string, attrs ...Attr) PB {
	var n PB
	for _, s := range in {
		n = n.Str(1, s)
	}
	for _, s := range out {
		n = n.Str(2, s)
	}
	n = n.Str(3, name).Str(4, op)
	for _, a := range attrs {
		ap := PB(nil).Str(1, a.Name)
		switch {
		case a.F != nil:
			ap = ap.F32(2, *a.F).Int(20, atFloat)
		case a.I != nil:
			ap = ap.Int(3, *a.I).Int(20, atInt)
		case a.S != nil:
			ap = ap.Str(4, *a.S).Int(20, atString)
		default:
			for _, v := range a.Ints {
				ap = ap.Int(8, v)
			}
			ap = ap.Int(20, atInts)
		}
		n = n.Msg(5, ap)
	}
	return n
}

// Graph is a small graph to serialise.
type Graph struct {
	Opset   int64
	Nodes   []PB
	Inits   []PB
	Inputs  []PB
	Outputs []PB
	// Doc and Metadata become the model's doc_string and metadata_props
	// (written in Keys order, so that a test can repeat a key).
	Doc      string
	Metadata map[string]string
	Keys     []string
}

// Bytes serialises g as a ModelProto (IR 8, default opset g.Opset or 17).
func (g Graph) Bytes() []byte {
	var gr PB
	for _, n := range g.Nodes {
		gr = gr.Msg(1, n)
	}
	gr = gr.Str(2, "test")
	for _, t := range g.Inits {
		gr = gr.Msg(5, t)
	}
	for _, v := range g.Inputs {
		gr = gr.Msg(11, v)
	}
	for _, v := range g.Outputs {
		gr = gr.Msg(12, v)
	}
	opset := g.Opset
	if opset == 0 {
		opset = 17
	}
	m := PB(nil).Int(1, 8).Str(2, "runtime test").Msg(7, gr)
	if g.Doc != "" {
		m = m.Str(6, g.Doc)
	}
	for _, k := range g.Keys {
		m = m.Msg(14, PB(nil).Str(1, k).Str(2, g.Metadata[k]))
	}
	return m.Msg(8, PB(nil).Str(1, "").Int(2, opset))
}

// Dense is x[N,in] → Gemm(W[in,out], b[out]) → act → y[N,out].
func Dense(in, out int, act string, attrs ...Attr) Graph {
	w := make([]float32, in*out)
	for i := range w {
		w[i] = float32(i%7-3) / 8
	}
	b := make([]float32, out)
	for i := range b {
		b[i] = float32(i%3-1) / 4
	}
	nodes := []PB{Node("fc", "Gemm", []string{"x", "W", "b"}, []string{"h"})}
	last := "h"
	if act != "" {
		nodes = append(nodes, Node("act", act, []string{"h"}, []string{"y"}, attrs...))
		last = "y"
	}
	return Graph{
		Nodes:   nodes,
		Inits:   []PB{Tensor("W", []int64{int64(in), int64(out)}, w), Tensor("b", []int64{int64(out)}, b)},
		Inputs:  []PB{ValueInfo("x", "N", in)},
		Outputs: []PB{ValueInfo(last, "N", out)},
	}
}
