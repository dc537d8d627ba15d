package graph

import (
	"fmt"
	"hash"
	"hash/fnv"
	"math"

	"github.com/chewxy/hm"
	"github.com/vaec/vaec/kernels"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// The fused operators of the training graph. Each is a Gorgonia Op (so that
// ApplyOp type- and shape-checks it and any Gorgonia VM can run it) with a
// symbolic derivative (SDOp) built from further ops of this file, so that
// G.Grad differentiates a fused graph as it does a primitive one.
//
// Every op computes into a value it is given (UsePreallocDo): the tape
// executor (tape.go) hands each node the same buffer every step, which makes
// a steady-state step free of allocation. Do, for other VMs, allocates the
// output and calls UsePreallocDo.
//
// Ops never panic on values they did not expect; they return an error that
// names the op.

// matF32 is the type of every tensor here: a float32 matrix.
var matF32 = G.TensorType{Dims: 2, Of: G.Float32}

// fnType returns the function type of an op taking args and returning ret.
func fnType(ret hm.Type, args ...hm.Type) hm.Type {
	return hm.NewFnType(append(args, ret)...)
}

// mats returns n copies of the matrix type.
func mats(n int) []hm.Type {
	t := make([]hm.Type, n)
	for i := range t {
		t[i] = matF32
	}
	return t
}

// opBase supplies the methods every op here shares.
type opBase struct{}

func (opBase) ReturnsPtr() bool     { return false }
func (opBase) CallsExtern() bool    { return false }
func (opBase) OverwritesInput() int { return -1 }

func hashOf(s fmt.Stringer) uint32 {
	h := fnv.New32a()
	h.Write([]byte(s.String()))
	return h.Sum32()
}

// data returns the float32 elements of v, a rows×cols matrix, or an error
// naming the argument. (The tape adds the node and the op to errors; the
// op is not passed here because boxing it would allocate on every call.)
func data(arg string, v G.Value, rows, cols int) ([]float32, error) {
	t, ok := v.(*tensor.Dense)
	if !ok {
		return nil, fmt.Errorf("%s is %T, want a float32 matrix", arg, v)
	}
	if t.Dtype() != tensor.Float32 {
		return nil, fmt.Errorf("%s holds %v, want float32", arg, t.Dtype())
	}
	if t.IsMaterializable() {
		return nil, fmt.Errorf("%s is a view (%v), want a plain matrix", arg, t.Shape())
	}
	d := t.Float32s() // Data() would allocate through reflect
	if len(d) != rows*cols {
		return nil, fmt.Errorf("%s has shape %v, want (%d, %d)", arg, t.Shape(), rows, cols)
	}
	return d, nil
}

// dims returns the rows and columns of a matrix value.
func dims(arg string, v G.Value) (int, int, error) {
	s := v.Shape()
	if len(s) != 2 {
		return 0, 0, fmt.Errorf("%s has shape %v, want a matrix", arg, s)
	}
	return s[0], s[1], nil
}

// scalarValue reads a float32 scalar (a Gorgonia scalar or a one-element tensor).
func scalarValue(arg string, v G.Value) (float32, error) {
	switch s := v.(type) {
	case *G.F32:
		return float32(*s), nil
	case *tensor.Dense:
		if s.Dtype() == tensor.Float32 && s.Shape().TotalSize() == 1 {
			if s.IsScalar() {
				return s.Data().(float32), nil
			}
			return s.Float32s()[0], nil
		}
	}
	return 0, fmt.Errorf("%s is %T (%v), want a float32 scalar", arg, v, v.Shape())
}

// setScalar writes v into a scalar output value, or allocates one.
func setScalar(prealloc G.Value, v float32) G.Value {
	if p, ok := prealloc.(*G.F32); ok {
		*p = G.F32(v)
		return p
	}
	return G.NewF32(v)
}

// newMatrix allocates an output for ops run by VMs that do not preallocate.
func newMatrix(s tensor.Shape) *tensor.Dense {
	return tensor.New(tensor.WithShape(s...), tensor.Of(tensor.Float32))
}

func shape2(op fmt.Stringer, in G.DimSizer, arg string) (int, int, error) {
	r, err1 := in.DimSize(0)
	c, err2 := in.DimSize(1)
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("%v: %s is not a matrix", op, arg)
	}
	return r, c, nil
}

// ---------------------------------------------------------------------------
// dense: y = act(x·W + b)

// denseOp is one dense layer, fused: a matrix multiply, the bias and the
// activation in one pass over the output (kernels.Sgemm, then
// kernels.AddBiasAct while the rows are still in cache). Inputs x [B, In],
// W [In, Out], b [1, Out]; output y [B, Out]. Its derivative needs only the
// output y (kernels.ActGrad takes act' from y), so no pre-activation is kept.
type denseOp struct {
	opBase
	layer string
	act   kernels.Act
	alpha float32
	// packed, when set, holds W packed for the product (prepack.go): the
	// copy of the worker running a training step's shard.
	packed *packedRef
}

func (op denseOp) Arity() int            { return 3 }
func (op denseOp) Type() hm.Type         { return fnType(matF32, mats(3)...) }
func (op denseOp) String() string        { return fmt.Sprintf("Dense[%s,%v]", op.layer, op.act) }
func (op denseOp) WriteHash(h hash.Hash) { h.Write([]byte(op.String())) }
func (op denseOp) Hashcode() uint32      { return hashOf(op) }

func (op denseOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	if len(in) != 3 {
		return nil, fmt.Errorf("%v: %d inputs, want 3", op, len(in))
	}
	b, k, err := shape2(op, in[0], "x")
	if err != nil {
		return nil, err
	}
	k2, n, err := shape2(op, in[1], "W")
	if err != nil {
		return nil, err
	}
	if k != k2 {
		return nil, fmt.Errorf("%v: x has %d columns, W has %d rows", op, k, k2)
	}
	return tensor.Shape{b, n}, nil
}

func (op denseOp) Do(in ...G.Value) (G.Value, error) {
	if len(in) != 3 {
		return nil, fmt.Errorf("%v: %d inputs, want 3", op, len(in))
	}
	b, _, err := dims("x", in[0])
	if err != nil {
		return nil, err
	}
	_, n, err := dims("W", in[1])
	if err != nil {
		return nil, err
	}
	return op.UsePreallocDo(newMatrix(tensor.Shape{b, n}), in...)
}

func (op denseOp) UsePreallocDo(out G.Value, in ...G.Value) (G.Value, error) {
	if len(in) != 3 {
		return nil, fmt.Errorf("%v: %d inputs, want 3", op, len(in))
	}
	b, k, err := dims("x", in[0])
	if err != nil {
		return nil, err
	}
	_, n, err := dims("W", in[1])
	if err != nil {
		return nil, err
	}
	x, err := data("x", in[0], b, k)
	if err != nil {
		return nil, err
	}
	w, err := data("W", in[1], k, n)
	if err != nil {
		return nil, err
	}
	bias, err := data("b", in[2], 1, n)
	if err != nil {
		return nil, err
	}
	y, err := data("y", out, b, n)
	if err != nil {
		return nil, err
	}
	if op.packed != nil && op.packed.p != nil {
		p := op.packed.p
		if p.K() != k || p.N() != n {
			return nil, fmt.Errorf("%v: packed W is %d×%d, want %d×%d", op, p.K(), p.N(), k, n)
		}
		p.Gemm(b, x, k, y, n, bias, op.act, op.alpha)
		return out, nil
	}
	kernels.Sgemm(false, false, b, n, k, 1, x, k, w, n, 0, y, n)
	kernels.AddBiasAct(y, b, n, bias, op.act, op.alpha)
	return out, nil
}

func (op denseOp) DiffWRT(int) []bool { return []bool{true, true, true} }

// SymDiff: with dz = dy·act'(y), dx = dz·Wᵀ, dW = xᵀ·dz, db = Σ rows of dz.
func (op denseOp) SymDiff(in G.Nodes, y, dy *G.Node) (G.Nodes, error) {
	if len(in) != 3 {
		return nil, fmt.Errorf("%v: %d inputs, want 3", op, len(in))
	}
	dz := dy
	if op.act != kernels.Linear {
		var err error
		if dz, err = G.ApplyOp(actGradOp{layer: op.layer, act: op.act, alpha: op.alpha}, y, dy); err != nil {
			return nil, err
		}
	}
	dx, err := G.ApplyOp(matMulOp{transB: true}, dz, in[1])
	if err != nil {
		return nil, err
	}
	dw, err := G.ApplyOp(matMulOp{transA: true}, in[0], dz)
	if err != nil {
		return nil, err
	}
	db, err := G.ApplyOp(colSumOp{}, dz)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dx, dw, db}, nil
}

// actGradOp is the backward pass of an activation: dz = dy·act'(y), from
// the activation's output y. Inputs y, dy; output dz, all [B, Out].
type actGradOp struct {
	opBase
	layer string
	act   kernels.Act
	alpha float32
}

func (op actGradOp) Arity() int            { return 2 }
func (op actGradOp) Type() hm.Type         { return fnType(matF32, mats(2)...) }
func (op actGradOp) String() string        { return fmt.Sprintf("ActGrad[%s,%v]", op.layer, op.act) }
func (op actGradOp) WriteHash(h hash.Hash) { h.Write([]byte(op.String())) }
func (op actGradOp) Hashcode() uint32      { return hashOf(op) }
func (op actGradOp) DiffWRT(int) []bool    { return []bool{false, false} }
func (op actGradOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("%v: second derivatives are not supported", op)
}

func (op actGradOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	if len(in) != 2 {
		return nil, fmt.Errorf("%v: %d inputs, want 2", op, len(in))
	}
	r, c, err := shape2(op, in[0], "y")
	return tensor.Shape{r, c}, err
}

func (op actGradOp) Do(in ...G.Value) (G.Value, error) {
	if len(in) != 2 {
		return nil, fmt.Errorf("%v: %d inputs, want 2", op, len(in))
	}
	return op.UsePreallocDo(newMatrix(in[0].Shape()), in...)
}

func (op actGradOp) UsePreallocDo(out G.Value, in ...G.Value) (G.Value, error) {
	if len(in) != 2 {
		return nil, fmt.Errorf("%v: %d inputs, want 2", op, len(in))
	}
	r, c, err := dims("y", in[0])
	if err != nil {
		return nil, err
	}
	y, err := data("y", in[0], r, c)
	if err != nil {
		return nil, err
	}
	dy, err := data("dy", in[1], r, c)
	if err != nil {
		return nil, err
	}
	dz, err := data("dz", out, r, c)
	if err != nil {
		return nil, err
	}
	kernels.ActGrad(dz, dy, y, op.act, op.alpha)
	return out, nil
}

// matMulOp is C = op(A)·op(B) with op(X) = Xᵀ where transX is set: the
// matrix products of a dense layer's backward pass.
type matMulOp struct {
	opBase
	transA, transB bool
	// packed, when set, holds op(B) packed (prepack.go): the input
	// gradient dz·Wᵀ of a training step's shard reads its worker's copy
	// of Wᵀ instead of transposing W in every product.
	packed *packedRef
}

func (op matMulOp) Arity() int            { return 2 }
func (op matMulOp) Type() hm.Type         { return fnType(matF32, mats(2)...) }
func (op matMulOp) String() string        { return fmt.Sprintf("MatMul[%v,%v]", op.transA, op.transB) }
func (op matMulOp) WriteHash(h hash.Hash) { h.Write([]byte(op.String())) }
func (op matMulOp) Hashcode() uint32      { return hashOf(op) }
func (op matMulOp) DiffWRT(int) []bool    { return []bool{false, false} }
func (op matMulOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("%v: second derivatives are not supported", op)
}

// mnk returns the product's sizes from the stored shapes of A and B.
func (op matMulOp) mnk(ar, ac, br, bc int) (m, n, k int, err error) {
	m, k = ar, ac
	if op.transA {
		m, k = ac, ar
	}
	k2, n := br, bc
	if op.transB {
		k2, n = bc, br
	}
	if k != k2 {
		return 0, 0, 0, fmt.Errorf("%v: inner sizes differ: A is %d×%d, B is %d×%d", op, ar, ac, br, bc)
	}
	return m, n, k, nil
}

func (op matMulOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	if len(in) != 2 {
		return nil, fmt.Errorf("%v: %d inputs, want 2", op, len(in))
	}
	ar, ac, err := shape2(op, in[0], "A")
	if err != nil {
		return nil, err
	}
	br, bc, err := shape2(op, in[1], "B")
	if err != nil {
		return nil, err
	}
	m, n, _, err := op.mnk(ar, ac, br, bc)
	return tensor.Shape{m, n}, err
}

func (op matMulOp) Do(in ...G.Value) (G.Value, error) {
	if len(in) != 2 {
		return nil, fmt.Errorf("%v: %d inputs, want 2", op, len(in))
	}
	s, err := op.InferShape(in[0].Shape(), in[1].Shape())
	if err != nil {
		return nil, err
	}
	return op.UsePreallocDo(newMatrix(s), in...)
}

func (op matMulOp) UsePreallocDo(out G.Value, in ...G.Value) (G.Value, error) {
	if len(in) != 2 {
		return nil, fmt.Errorf("%v: %d inputs, want 2", op, len(in))
	}
	ar, ac, err := dims("A", in[0])
	if err != nil {
		return nil, err
	}
	br, bc, err := dims("B", in[1])
	if err != nil {
		return nil, err
	}
	m, n, k, err := op.mnk(ar, ac, br, bc)
	if err != nil {
		return nil, err
	}
	a, err := data("A", in[0], ar, ac)
	if err != nil {
		return nil, err
	}
	b, err := data("B", in[1], br, bc)
	if err != nil {
		return nil, err
	}
	c, err := data("C", out, m, n)
	if err != nil {
		return nil, err
	}
	if op.packed != nil {
		p := op.packed.p
		if op.transA || p.K() != k || p.N() != n {
			return nil, fmt.Errorf("%v: packed B is %d×%d, want %d×%d", op, p.K(), p.N(), k, n)
		}
		p.Gemm(m, a, ac, c, n, nil, kernels.Linear, 0)
		return out, nil
	}
	kernels.Sgemm(op.transA, op.transB, m, n, k, 1, a, ac, b, bc, 0, c, n)
	return out, nil
}

// colSumOp sums the rows of a [B, N] matrix into [1, N]: a bias gradient.
type colSumOp struct{ opBase }

func (op colSumOp) Arity() int            { return 1 }
func (op colSumOp) Type() hm.Type         { return fnType(matF32, matF32) }
func (op colSumOp) String() string        { return "ColSum" }
func (op colSumOp) WriteHash(h hash.Hash) { h.Write([]byte(op.String())) }
func (op colSumOp) Hashcode() uint32      { return hashOf(op) }
func (op colSumOp) DiffWRT(int) []bool    { return []bool{false} }
func (op colSumOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("%v: second derivatives are not supported", op)
}

func (op colSumOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	if len(in) != 1 {
		return nil, fmt.Errorf("%v: %d inputs, want 1", op, len(in))
	}
	_, c, err := shape2(op, in[0], "x")
	return tensor.Shape{1, c}, err
}

func (op colSumOp) Do(in ...G.Value) (G.Value, error) {
	if len(in) != 1 {
		return nil, fmt.Errorf("%v: %d inputs, want 1", op, len(in))
	}
	_, c, err := dims("x", in[0])
	if err != nil {
		return nil, err
	}
	return op.UsePreallocDo(newMatrix(tensor.Shape{1, c}), in...)
}

func (op colSumOp) UsePreallocDo(out G.Value, in ...G.Value) (G.Value, error) {
	if len(in) != 1 {
		return nil, fmt.Errorf("%v: %d inputs, want 1", op, len(in))
	}
	r, c, err := dims("x", in[0])
	if err != nil {
		return nil, err
	}
	x, err := data("x", in[0], r, c)
	if err != nil {
		return nil, err
	}
	s, err := data("sum", out, 1, c)
	if err != nil {
		return nil, err
	}
	kernels.ColSum(s, x, r, c)
	return out, nil
}

// ---------------------------------------------------------------------------
// reparameterization: z = mu + exp(½·logvar)·eps

// reparamOp draws the latent samples: inputs mu, logvar [B, L] and eps
// [S·B, L]; output z [S·B, L] with row s·B+i = mu[i] + exp(½·logvar[i])·eps[s·B+i].
// The S copies of mu and logvar are never materialised.
type reparamOp struct{ opBase }

func (op reparamOp) Arity() int            { return 3 }
func (op reparamOp) Type() hm.Type         { return fnType(matF32, mats(3)...) }
func (op reparamOp) String() string        { return "Reparameterize" }
func (op reparamOp) WriteHash(h hash.Hash) { h.Write([]byte(op.String())) }
func (op reparamOp) Hashcode() uint32      { return hashOf(op) }

func (op reparamOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	if len(in) != 3 {
		return nil, fmt.Errorf("%v: %d inputs, want 3", op, len(in))
	}
	b, l, err := shape2(op, in[0], "mu")
	if err != nil {
		return nil, err
	}
	sb, l2, err := shape2(op, in[2], "eps")
	if err != nil {
		return nil, err
	}
	if l != l2 || b <= 0 || sb%b != 0 {
		return nil, fmt.Errorf("%v: eps is (%d, %d), want a multiple of (%d, %d)", op, sb, l2, b, l)
	}
	return tensor.Shape{sb, l}, nil
}

func (op reparamOp) Do(in ...G.Value) (G.Value, error) {
	if len(in) != 3 {
		return nil, fmt.Errorf("%v: %d inputs, want 3", op, len(in))
	}
	return op.UsePreallocDo(newMatrix(in[2].Shape()), in...)
}

// operands checks and returns mu, logvar and eps with their sizes.
func reparamOperands(mu, lv, eps G.Value) (m, v, e []float32, b, l, s int, err error) {
	if b, l, err = dims("mu", mu); err != nil {
		return
	}
	sb, _, err := dims("eps", eps)
	if err != nil {
		return
	}
	if b <= 0 || sb%b != 0 {
		err = fmt.Errorf("eps has %d rows, not a multiple of %d", sb, b)
		return
	}
	s = sb / b
	if m, err = data("mu", mu, b, l); err != nil {
		return
	}
	if v, err = data("logvar", lv, b, l); err != nil {
		return
	}
	e, err = data("eps", eps, s*b, l)
	return
}

func (op reparamOp) UsePreallocDo(out G.Value, in ...G.Value) (G.Value, error) {
	if len(in) != 3 {
		return nil, fmt.Errorf("%v: %d inputs, want 3", op, len(in))
	}
	mu, lv, eps, b, l, s, err := reparamOperands(in[0], in[1], in[2])
	if err != nil {
		return nil, err
	}
	z, err := data("z", out, s*b, l)
	if err != nil {
		return nil, err
	}
	for i, v := range lv {
		std := float32(math.Exp(0.5 * float64(v)))
		for r := 0; r < s; r++ {
			j := r*b*l + i
			z[j] = mu[i] + std*eps[j]
		}
	}
	return out, nil
}

func (op reparamOp) DiffWRT(int) []bool { return []bool{true, true, false} }

func (op reparamOp) SymDiff(in G.Nodes, _, dz *G.Node) (G.Nodes, error) {
	if len(in) != 3 {
		return nil, fmt.Errorf("%v: %d inputs, want 3", op, len(in))
	}
	dmu, err := G.ApplyOp(reparamGradOp{wrtLogvar: false}, in[0], in[1], in[2], dz)
	if err != nil {
		return nil, err
	}
	dlv, err := G.ApplyOp(reparamGradOp{wrtLogvar: true}, in[0], in[1], in[2], dz)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dmu, dlv, nil}, nil
}

// reparamGradOp is reparamOp's derivative, summed over the S samples:
// ∂/∂mu[i] = Σ_s dz[s·B+i], ∂/∂logvar[i] = Σ_s dz[s·B+i]·eps[s·B+i]·½·exp(½·logvar[i]).
// Inputs mu, logvar, eps, dz; output [B, L].
type reparamGradOp struct {
	opBase
	wrtLogvar bool
}

func (op reparamGradOp) Arity() int    { return 4 }
func (op reparamGradOp) Type() hm.Type { return fnType(matF32, mats(4)...) }
func (op reparamGradOp) String() string {
	return fmt.Sprintf("ReparameterizeGrad[logvar=%v]", op.wrtLogvar)
}
func (op reparamGradOp) WriteHash(h hash.Hash) { h.Write([]byte(op.String())) }
func (op reparamGradOp) Hashcode() uint32      { return hashOf(op) }
func (op reparamGradOp) DiffWRT(int) []bool    { return []bool{false, false, false, false} }
func (op reparamGradOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("%v: second derivatives are not supported", op)
}

func (op reparamGradOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	if len(in) != 4 {
		return nil, fmt.Errorf("%v: %d inputs, want 4", op, len(in))
	}
	r, c, err := shape2(op, in[0], "mu")
	return tensor.Shape{r, c}, err
}

func (op reparamGradOp) Do(in ...G.Value) (G.Value, error) {
	if len(in) != 4 {
		return nil, fmt.Errorf("%v: %d inputs, want 4", op, len(in))
	}
	return op.UsePreallocDo(newMatrix(in[0].Shape()), in...)
}

func (op reparamGradOp) UsePreallocDo(out G.Value, in ...G.Value) (G.Value, error) {
	if len(in) != 4 {
		return nil, fmt.Errorf("%v: %d inputs, want 4", op, len(in))
	}
	_, lv, eps, b, l, s, err := reparamOperands(in[0], in[1], in[2])
	if err != nil {
		return nil, err
	}
	dz, err := data("dz", in[3], s*b, l)
	if err != nil {
		return nil, err
	}
	g, err := data("grad", out, b, l)
	if err != nil {
		return nil, err
	}
	for i := range g {
		var acc float32
		if op.wrtLogvar {
			half := 0.5 * float32(math.Exp(0.5*float64(lv[i])))
			for r := 0; r < s; r++ {
				j := r*b*l + i
				acc += dz[j] * eps[j] * half
			}
		} else {
			for r := 0; r < s; r++ {
				acc += dz[r*b*l+i]
			}
		}
		g[i] = acc
	}
	return out, nil
}
