package graph

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	"github.com/vaec/vaec/checkpoint"
	"github.com/vaec/vaec/dataset"
	"github.com/vaec/vaec/ir"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// A conditional model (ir.Condition) takes y, the one-hot label [rows, C],
// in both graphs: the training graph binds it as a second input, y [B, C]
// for the encoder and ys [S·B, C] (y repeated for each sample of z) for
// the decoder, and the concat node joins it to the first dense layer's
// input.

// concatOp is y = [a, b] along the features: a [R, P], b [R, Q] → [R, P+Q].
// Its gradient splits the incoming one; b (the condition) needs none.
type concatOp struct{ opBase }

func (op concatOp) Arity() int            { return 2 }
func (op concatOp) Type() hm.Type         { return fnType(matF32, mats(2)...) }
func (op concatOp) String() string        { return "ConcatY" }
func (op concatOp) WriteHash(h hash.Hash) { h.Write([]byte(op.String())) }
func (op concatOp) Hashcode() uint32      { return hashOf(op) }
func (op concatOp) DiffWRT(int) []bool    { return []bool{true, false} }

func (op concatOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	if len(in) != 2 {
		return nil, fmt.Errorf("%v: %d inputs, want 2", op, len(in))
	}
	r, p, err := shape2(op, in[0], "a")
	if err != nil {
		return nil, err
	}
	r2, q, err := shape2(op, in[1], "b")
	if err != nil {
		return nil, err
	}
	if r != r2 {
		return nil, fmt.Errorf("%v: %d rows and %d rows", op, r, r2)
	}
	return tensor.Shape{r, p + q}, nil
}

func (op concatOp) Do(in ...G.Value) (G.Value, error) {
	s, err := op.InferShape(in[0].Shape(), in[1].Shape())
	if err != nil {
		return nil, err
	}
	return op.UsePreallocDo(newMatrix(s), in...)
}

func (op concatOp) UsePreallocDo(out G.Value, in ...G.Value) (G.Value, error) {
	if len(in) != 2 {
		return nil, fmt.Errorf("%v: %d inputs, want 2", op, len(in))
	}
	r, p, err := dims("a", in[0])
	if err != nil {
		return nil, err
	}
	_, q, err := dims("b", in[1])
	if err != nil {
		return nil, err
	}
	a, err := data("a", in[0], r, p)
	if err != nil {
		return nil, err
	}
	b, err := data("b", in[1], r, q)
	if err != nil {
		return nil, err
	}
	y, err := data("y", out, r, p+q)
	if err != nil {
		return nil, err
	}
	for i := 0; i < r; i++ {
		copy(y[i*(p+q):], a[i*p:(i+1)*p])
		copy(y[i*(p+q)+p:], b[i*q:(i+1)*q])
	}
	return out, nil
}

func (op concatOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	p := in[0].Shape()[1]
	g, err := G.ApplyOp(concatGradOp{p: p, shape: in[0].Shape().Clone()}, grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{g, nil}, nil
}

// concatGradOp takes the first p columns of the incoming gradient.
type concatGradOp struct {
	opBase
	p     int
	shape tensor.Shape
}

func (op concatGradOp) Arity() int                                     { return 1 }
func (op concatGradOp) Type() hm.Type                                  { return fnType(matF32, matF32) }
func (op concatGradOp) String() string                                 { return fmt.Sprintf("ConcatYGrad[%d]", op.p) }
func (op concatGradOp) WriteHash(h hash.Hash)                          { h.Write([]byte(op.String())) }
func (op concatGradOp) Hashcode() uint32                               { return hashOf(op) }
func (op concatGradOp) DiffWRT(int) []bool                             { return []bool{false} }
func (op concatGradOp) InferShape(...G.DimSizer) (tensor.Shape, error) { return op.shape.Clone(), nil }
func (op concatGradOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("%v: second derivatives are not supported", op)
}
func (op concatGradOp) Do(in ...G.Value) (G.Value, error) {
	return op.UsePreallocDo(newMatrix(op.shape), in...)
}
func (op concatGradOp) UsePreallocDo(out G.Value, in ...G.Value) (G.Value, error) {
	r, c, err := dims("gradient", in[0])
	if err != nil {
		return nil, err
	}
	g, err := data("gradient", in[0], r, c)
	if err != nil {
		return nil, err
	}
	d, err := data("a gradient", out, r, op.p)
	if err != nil {
		return nil, err
	}
	for i := 0; i < r; i++ {
		copy(d[i*op.p:(i+1)*op.p], g[i*c:i*c+op.p])
	}
	return out, nil
}

// lowerConcat lowers ir.Concat: both operands are already [rows, features].
func lowerConcat(n *ir.Node, in []*G.Node, p *params) (*G.Node, error) {
	y, err := G.ApplyOpWithName(concatOp{}, n.Name, in[0], in[1])
	if err != nil {
		return nil, n.Errorf("concat: %v", err)
	}
	return y, nil
}

// OneHot returns the one-hot rows [len(labels), classes] of labels, or an
// error naming the first label outside 0..classes−1.
func OneHot(labels []int, classes int) ([]float32, error) {
	y := make([]float32, len(labels)*classes)
	for i, l := range labels {
		if l < 0 || l >= classes {
			return nil, fmt.Errorf("label %d of row %d is not a class 0 to %d", l, i, classes-1)
		}
		y[i*classes+l] = 1
	}
	return y, nil
}

// fillCondition writes the one-hot labels of rows idx of labels into y
// [B, C] and, repeated for each of the S samples, into ys [S·B, C].
func fillCondition(y, ys []float32, labels []int, idx []int, classes int) error {
	clear(y)
	for i, r := range idx {
		l := labels[r]
		if l < 0 || l >= classes {
			return fmt.Errorf("label %d of record %d is not a class 0 to %d", l, r, classes-1)
		}
		y[i*classes+l] = 1
	}
	for s := 0; s+len(y) <= len(ys); s += len(y) {
		copy(ys[s:], y)
	}
	return nil
}

// identity returns 0..n−1.
func identity(n, start int) []int {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = start + i
	}
	return idx
}

// EncodeY is Encode for a conditional model: y [n, classes] is the
// condition of each row (one-hot labels, or any real-valued vector of
// that length).
func EncodeY(m *ir.Model, w map[string]checkpoint.Tensor, x, y []float32, n int) (mu, logvar []float32, err error) {
	return encodeWith(m, w, x, y, n)
}

// DecodeY is Decode for a conditional model, y as for EncodeY.
func DecodeY(m *ir.Model, w map[string]checkpoint.Tensor, z, y []float32, n int) (map[string][]float32, error) {
	return decodeWith(m, w, z, y, n)
}

// DecodeLogitsY is DecodeLogits for a conditional model, y as for EncodeY.
func DecodeLogitsY(m *ir.Model, w map[string]checkpoint.Tensor, z, y []float32, n int) ([]float32, error) {
	return decodeLogitsWith(m, w, z, y, n)
}

// bindCondition binds y [n, classes] as the graphs' condition input in
// p, or checks that an unconditional model gets none.
func bindCondition(g *G.ExprGraph, m *ir.Model, p *params, y []float32, n int) error {
	if !m.Conditional() {
		if y != nil {
			return errorf("the model is not conditional: no y to give")
		}
		return nil
	}
	c := m.Condition.Classes
	if len(y) != n*c {
		return errorf("the model is conditional: y needs %d values (%d rows of %d classes), got %d", n*c, n, c, len(y))
	}
	yv := tensor.New(tensor.WithShape(n, c), tensor.WithBacking(append([]float32(nil), y...)))
	p.extra = map[string]*G.Node{ir.InputY: G.NewMatrix(g, G.Float32, G.WithShape(n, c), G.WithName(ir.InputY), G.WithValue(yv))}
	return nil
}

// checkLabels refuses a conditional model's data without labels, or with
// one outside its classes, before the first step.
func checkLabels(m *ir.Model, opts TrainOptions) error {
	if !m.Conditional() {
		return nil
	}
	for _, s := range []struct {
		name string
		set  *dataset.Set
	}{{"training", opts.Train}, {"validation", opts.Val}} {
		if s.set == nil {
			continue
		}
		if len(s.set.Labels) != s.set.N {
			return errorf("the model is conditional (condition.classes %d) but the %s data has no labels", m.Condition.Classes, s.name)
		}
		for i, l := range s.set.Labels {
			if l < 0 || l >= m.Condition.Classes {
				return errorf("%s label %d of record %d is not a class 0 to %d", s.name, l, i, m.Condition.Classes-1)
			}
		}
	}
	return nil
}
