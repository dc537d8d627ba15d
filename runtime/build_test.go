package runtime

import (
	"encoding/binary"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// A minimal ONNX writer for tests, straight onto the protobuf wire format,
// so that the runtime's tests depend neither on the exporter nor on Python
// for the small and deliberately broken graphs they need.

type pb []byte

func (b pb) str(num protowire.Number, s string) pb {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

func (b pb) msg(num protowire.Number, m pb) pb {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, m)
}

func (b pb) int(num protowire.Number, v int64) pb {
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, uint64(v))
}

func (b pb) f32(num protowire.Number, v float32) pb {
	b = protowire.AppendTag(b, num, protowire.Fixed32Type)
	return protowire.AppendFixed32(b, math.Float32bits(v))
}

// tensorPB is a TensorProto with raw little-endian data.
func tensorPB(name string, dims []int64, data []float32) pb {
	var t pb
	for _, d := range dims {
		t = t.int(1, d)
	}
	t = t.int(2, dtFloat).str(8, name)
	raw := make([]byte, 4*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
	}
	return t.msg(9, raw)
}

func int64TensorPB(name string, vals []int64) pb {
	t := pb(nil).int(1, int64(len(vals))).int(2, dtInt64).str(8, name)
	raw := make([]byte, 8*len(vals))
	for i, v := range vals {
		binary.LittleEndian.PutUint64(raw[8*i:], uint64(v))
	}
	return t.msg(9, raw)
}

// valueInfoPB declares a float tensor; dims are ints or strings (symbolic).
func valueInfoPB(name string, dims ...any) pb {
	var shape pb
	for _, d := range dims {
		switch d := d.(type) {
		case int:
			shape = shape.msg(1, pb(nil).int(1, int64(d)))
		case string:
			shape = shape.msg(1, pb(nil).str(2, d))
		}
	}
	tt := pb(nil).int(1, dtFloat).msg(2, shape)
	return pb(nil).str(1, name).msg(2, pb(nil).msg(1, tt))
}

type attrPB struct {
	name string
	f    *float32
	i    *int64
	ints []int64
}

func fattr(name string, v float32) attrPB { return attrPB{name: name, f: &v} }
func iattr(name string, v int64) attrPB   { return attrPB{name: name, i: &v} }
func intsAttr(name string, v ...int64) attrPB {
	return attrPB{name: name, ints: v}
}

func nodePB(name, op string, in, out []string, attrs ...attrPB) pb {
	var n pb
	for _, s := range in {
		n = n.str(1, s)
	}
	for _, s := range out {
		n = n.str(2, s)
	}
	n = n.str(3, name).str(4, op)
	for _, a := range attrs {
		ap := pb(nil).str(1, a.name)
		switch {
		case a.f != nil:
			ap = ap.f32(2, *a.f).int(20, atFloat)
		case a.i != nil:
			ap = ap.int(3, *a.i).int(20, atInt)
		default:
			for _, v := range a.ints {
				ap = ap.int(8, v)
			}
			ap = ap.int(20, atInts)
		}
		n = n.msg(5, ap)
	}
	return n
}

// graphSpec is a small graph to serialise.
type graphSpec struct {
	opset   int64
	nodes   []pb
	inits   []pb
	inputs  []pb
	outputs []pb
}

func (g graphSpec) bytes() []byte {
	var gr pb
	for _, n := range g.nodes {
		gr = gr.msg(1, n)
	}
	gr = gr.str(2, "test")
	for _, t := range g.inits {
		gr = gr.msg(5, t)
	}
	for _, v := range g.inputs {
		gr = gr.msg(11, v)
	}
	for _, v := range g.outputs {
		gr = gr.msg(12, v)
	}
	opset := g.opset
	if opset == 0 {
		opset = 17
	}
	m := pb(nil).int(1, 8).str(2, "runtime test").msg(7, gr)
	return m.msg(8, pb(nil).str(1, "").int(2, opset))
}

// denseGraph is x[N,in] → Gemm(W[in,out], b[out]) → act → y[N,out].
func denseGraph(in, out int, act string, attrs ...attrPB) graphSpec {
	w := make([]float32, in*out)
	for i := range w {
		w[i] = float32(i%7-3) / 8
	}
	b := make([]float32, out)
	for i := range b {
		b[i] = float32(i%3-1) / 4
	}
	nodes := []pb{nodePB("fc", "Gemm", []string{"x", "W", "b"}, []string{"h"})}
	last := "h"
	if act != "" {
		nodes = append(nodes, nodePB("act", act, []string{"h"}, []string{"y"}, attrs...))
		last = "y"
	}
	return graphSpec{
		nodes:   nodes,
		inits:   []pb{tensorPB("W", []int64{int64(in), int64(out)}, w), tensorPB("b", []int64{int64(out)}, b)},
		inputs:  []pb{valueInfoPB("x", "N", in)},
		outputs: []pb{valueInfoPB(last, "N", out)},
	}
}
