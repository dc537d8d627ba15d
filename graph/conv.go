package graph

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	"github.com/vaec/vaec/kernels"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// The fused image layers: convolution, transposed convolution and nearest
// upsampling (this file), batch normalisation (conv_bn.go). Images keep the
// graph's one convention: a batch is a [N, C·H·W] float32 matrix, each row
// an image in NCHW row-major order, so the tape, its buffers and the loss
// see matrices as before; each op carries its geometry as attributes.
// Weights are matrices too, holding the ONNX/PyTorch arrays row-major:
//
//	conv2d            W [C_out, C_in·kh·kw]  (ONNX Conv W [C_out, C_in, kh, kw])
//	conv_transpose2d  W [C_in, C_out·kh·kw]  (ONNX ConvTranspose W [C_in, C_out, kh, kw])
//	biases            b [1, C_out]
//
// A transposed convolution is the adjoint of the convolution from its
// output back to its input, with the same weight array; both ops are
// described by that convolution's geometry (kernels.ConvGeom) and share
// their gradient ops: the input gradient of one is the forward of the other.

// ConvAttrs are the attributes of a convolution or transposed convolution
// layer, as a lowering reads them from the IR.
type ConvAttrs struct {
	Layer            string // the IR node's name, for errors and profiles
	InC, InH, InW    int    // input image [C, H, W]
	OutC             int    // output channels (filters)
	KH, KW           int    // kernel
	SH, SW           int    // stride
	PH, PW           int    // zero padding on each side
	OutPadH, OutPadW int    // output_padding: transposed only, < stride
	Act              kernels.Act
	Alpha            float32 // LeakyReLU slope, ELU scale (must be > 0 for those)
}

// geom returns the convolution of a conv2d layer.
func (a ConvAttrs) convGeom() (kernels.ConvGeom, error) {
	if a.OutPadH != 0 || a.OutPadW != 0 {
		return kernels.ConvGeom{}, fmt.Errorf("conv2d %s: output_padding applies only to conv_transpose2d", a.Layer)
	}
	g := kernels.ConvGeom{C: a.InC, H: a.InH, W: a.InW, K: a.OutC, KH: a.KH, KW: a.KW, SH: a.SH, SW: a.SW, PH: a.PH, PW: a.PW}
	if err := g.Check(); err != nil {
		return g, fmt.Errorf("conv2d %s: %v", a.Layer, err)
	}
	return g, nil
}

// ConvTransposeOut returns a transposed convolution's output size along one
// axis: (in − 1)·stride − 2·pad + kernel + outPad.
func ConvTransposeOut(in, kernel, stride, pad, outPad int) int {
	return (in-1)*stride - 2*pad + kernel + outPad
}

// transposedGeom returns the convolution whose adjoint a conv_transpose2d
// layer is: from the layer's output [OutC, Hout, Wout] to its input.
func (a ConvAttrs) transposedGeom() (kernels.ConvGeom, error) {
	if a.SH <= 0 || a.SW <= 0 {
		return kernels.ConvGeom{}, fmt.Errorf("conv_transpose2d %s: stride %d×%d must be positive", a.Layer, a.SH, a.SW)
	}
	if a.OutPadH < 0 || a.OutPadW < 0 || a.OutPadH >= a.SH || a.OutPadW >= a.SW {
		return kernels.ConvGeom{}, fmt.Errorf("conv_transpose2d %s: output_padding %d×%d must be at least 0 and less than the stride %d×%d", a.Layer, a.OutPadH, a.OutPadW, a.SH, a.SW)
	}
	g := kernels.ConvGeom{
		C: a.OutC, H: ConvTransposeOut(a.InH, a.KH, a.SH, a.PH, a.OutPadH), W: ConvTransposeOut(a.InW, a.KW, a.SW, a.PW, a.OutPadW),
		K: a.InC, KH: a.KH, KW: a.KW, SH: a.SH, SW: a.SW, PH: a.PH, PW: a.PW,
	}
	if a.InC <= 0 || a.InH <= 0 || a.InW <= 0 {
		return g, fmt.Errorf("conv_transpose2d %s: input %d×%d×%d must be positive", a.Layer, a.InC, a.InH, a.InW)
	}
	if err := g.Check(); err != nil {
		return g, fmt.Errorf("conv_transpose2d %s: output %d×%d: %v", a.Layer, g.H, g.W, err)
	}
	if g.OutH() != a.InH || g.OutW() != a.InW { // cannot happen with outPad < stride; kept as a guard
		return g, fmt.Errorf("conv_transpose2d %s: output %d×%d does not map back to the input %d×%d", a.Layer, g.H, g.W, a.InH, a.InW)
	}
	return g, nil
}

// Conv2D applies a fused convolution layer, y = act(conv(x, W) + b):
// x [N, InC·InH·InW], W [OutC, InC·KH·KW], b [1, OutC]; y [N, OutC·OH·OW]
// with OH = (InH + 2·PH − KH)/SH + 1 (rounded down), OW likewise.
func Conv2D(x, w, b *G.Node, a ConvAttrs) (*G.Node, error) {
	g, err := a.convGeom()
	if err != nil {
		return nil, err
	}
	return G.ApplyOp(convOp{layer: a.Layer, g: g, act: a.Act, alpha: a.Alpha}, x, w, b)
}

// ConvTranspose2D applies a fused transposed convolution layer (PyTorch's
// ConvTranspose2d, ONNX ConvTranspose), y = act(convᵀ(x, W) + b):
// x [N, InC·InH·InW], W [InC, OutC·KH·KW], b [1, OutC]; y [N, OutC·OH·OW]
// with OH = ConvTransposeOut(InH, KH, SH, PH, OutPadH), OW likewise.
func ConvTranspose2D(x, w, b *G.Node, a ConvAttrs) (*G.Node, error) {
	g, err := a.transposedGeom()
	if err != nil {
		return nil, err
	}
	return G.ApplyOp(convOp{layer: a.Layer, g: g, transposed: true, act: a.Act, alpha: a.Alpha}, x, w, b)
}

// ---------------------------------------------------------------------------
// convolution and transposed convolution

// convOp is a convolution layer (transposed false: kernels.Conv over g) or
// a transposed one (kernels.ConvAdjoint over g), with its bias and
// activation fused. Inputs x, W, b; output y. Like denseOp, its derivative
// needs only y for the activation (ActGrad), so no pre-activation is kept.
type convOp struct {
	opBase
	layer      string
	g          kernels.ConvGeom
	transposed bool
	act        kernels.Act
	alpha      float32
}

// sizes returns the per-image input and output sizes and the bias length.
func (op convOp) sizes() (in, out, bias int) {
	if op.transposed {
		return op.g.OutSize(), op.g.InSize(), op.g.C
	}
	return op.g.InSize(), op.g.OutSize(), op.g.K
}

func (op convOp) Arity() int    { return 3 }
func (op convOp) Type() hm.Type { return fnType(matF32, mats(3)...) }
func (op convOp) String() string {
	kind := "Conv2D"
	if op.transposed {
		kind = "ConvTranspose2D"
	}
	return fmt.Sprintf("%s[%s,%v,%v]", kind, op.layer, op.g, op.act)
}
func (op convOp) WriteHash(h hash.Hash) { h.Write([]byte(op.String())) }
func (op convOp) Hashcode() uint32      { return hashOf(op) }

func (op convOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	if len(in) != 3 {
		return nil, fmt.Errorf("%v: %d inputs, want 3", op, len(in))
	}
	inSz, outSz, nb := op.sizes()
	n, c, err := shape2(op, in[0], "x")
	if err != nil {
		return nil, err
	}
	if c != inSz {
		return nil, fmt.Errorf("%v: x has %d columns, want %d", op, c, inSz)
	}
	if r, c, err := shape2(op, in[1], "W"); err != nil || r != op.g.K || c != op.g.PatchSize() {
		return nil, fmt.Errorf("%v: W is not (%d, %d)", op, op.g.K, op.g.PatchSize())
	}
	if r, c, err := shape2(op, in[2], "b"); err != nil || r != 1 || c != nb {
		return nil, fmt.Errorf("%v: b is not (1, %d)", op, nb)
	}
	return tensor.Shape{n, outSz}, nil
}

func (op convOp) Do(in ...G.Value) (G.Value, error) {
	if len(in) != 3 {
		return nil, fmt.Errorf("%v: %d inputs, want 3", op, len(in))
	}
	n, _, err := dims("x", in[0])
	if err != nil {
		return nil, err
	}
	_, outSz, _ := op.sizes()
	return op.UsePreallocDo(newMatrix(tensor.Shape{n, outSz}), in...)
}

func (op convOp) UsePreallocDo(out G.Value, in ...G.Value) (G.Value, error) {
	if len(in) != 3 {
		return nil, fmt.Errorf("%v: %d inputs, want 3", op, len(in))
	}
	inSz, outSz, nb := op.sizes()
	n, _, err := dims("x", in[0])
	if err != nil {
		return nil, err
	}
	x, err := data("x", in[0], n, inSz)
	if err != nil {
		return nil, err
	}
	w, err := data("W", in[1], op.g.K, op.g.PatchSize())
	if err != nil {
		return nil, err
	}
	b, err := data("b", in[2], 1, nb)
	if err != nil {
		return nil, err
	}
	y, err := data("y", out, n, outSz)
	if err != nil {
		return nil, err
	}
	if op.transposed {
		err = kernels.ConvAdjoint(op.g, n, x, w, b, op.act, op.alpha, y)
	} else {
		err = kernels.Conv(op.g, n, x, w, b, op.act, op.alpha, y)
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (op convOp) DiffWRT(int) []bool { return []bool{true, true, true} }

// SymDiff: with dz = dy·act'(y), dx is the other direction's convolution
// of dz, dW the filter gradient and db the sum of dz per channel.
func (op convOp) SymDiff(in G.Nodes, y, dy *G.Node) (G.Nodes, error) {
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
	dx, err := G.ApplyOp(convDataGradOp{layer: op.layer, g: op.g, transposed: op.transposed}, dz, in[1])
	if err != nil {
		return nil, err
	}
	dw, err := G.ApplyOp(convFilterGradOp{layer: op.layer, g: op.g, transposed: op.transposed}, in[0], dz)
	if err != nil {
		return nil, err
	}
	_, outSz, nb := op.sizes()
	db, err := G.ApplyOp(channelSumOp{layer: op.layer, c: nb, p: outSz / nb}, dz)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dx, dw, db}, nil
}

// convDataGradOp is the gradient of a convOp with respect to its input:
// inputs dz (the gradient of the pre-activation) and W; output dx. For a
// convolution it is the transposed convolution of dz, and the other way
// round.
type convDataGradOp struct {
	opBase
	layer      string
	g          kernels.ConvGeom
	transposed bool // of the forward op
}

func (op convDataGradOp) Arity() int    { return 2 }
func (op convDataGradOp) Type() hm.Type { return fnType(matF32, mats(2)...) }
func (op convDataGradOp) String() string {
	return fmt.Sprintf("ConvDataGrad[%s,%v,transposed=%v]", op.layer, op.g, op.transposed)
}
func (op convDataGradOp) WriteHash(h hash.Hash) { h.Write([]byte(op.String())) }
func (op convDataGradOp) Hashcode() uint32      { return hashOf(op) }
func (op convDataGradOp) DiffWRT(int) []bool    { return []bool{false, false} }
func (op convDataGradOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("%v: second derivatives are not supported", op)
}

// sizes returns the per-image sizes of dz (the forward output) and dx.
func (op convDataGradOp) sizes() (dz, dx int) {
	if op.transposed {
		return op.g.InSize(), op.g.OutSize()
	}
	return op.g.OutSize(), op.g.InSize()
}

func (op convDataGradOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	if len(in) != 2 {
		return nil, fmt.Errorf("%v: %d inputs, want 2", op, len(in))
	}
	n, c, err := shape2(op, in[0], "dz")
	if err != nil {
		return nil, err
	}
	dzSz, dxSz := op.sizes()
	if c != dzSz {
		return nil, fmt.Errorf("%v: dz has %d columns, want %d", op, c, dzSz)
	}
	return tensor.Shape{n, dxSz}, nil
}

func (op convDataGradOp) Do(in ...G.Value) (G.Value, error) {
	if len(in) != 2 {
		return nil, fmt.Errorf("%v: %d inputs, want 2", op, len(in))
	}
	n, _, err := dims("dz", in[0])
	if err != nil {
		return nil, err
	}
	_, dxSz := op.sizes()
	return op.UsePreallocDo(newMatrix(tensor.Shape{n, dxSz}), in...)
}

func (op convDataGradOp) UsePreallocDo(out G.Value, in ...G.Value) (G.Value, error) {
	if len(in) != 2 {
		return nil, fmt.Errorf("%v: %d inputs, want 2", op, len(in))
	}
	dzSz, dxSz := op.sizes()
	n, _, err := dims("dz", in[0])
	if err != nil {
		return nil, err
	}
	dz, err := data("dz", in[0], n, dzSz)
	if err != nil {
		return nil, err
	}
	w, err := data("W", in[1], op.g.K, op.g.PatchSize())
	if err != nil {
		return nil, err
	}
	dx, err := data("dx", out, n, dxSz)
	if err != nil {
		return nil, err
	}
	if op.transposed {
		err = kernels.Conv(op.g, n, dz, w, nil, kernels.Linear, 0, dx)
	} else {
		err = kernels.ConvAdjoint(op.g, n, dz, w, nil, kernels.Linear, 0, dx)
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// convFilterGradOp is the gradient of a convOp with respect to its weights:
// inputs x (the forward input) and dz; output dW, shaped as W.
type convFilterGradOp struct {
	opBase
	layer      string
	g          kernels.ConvGeom
	transposed bool // of the forward op
}

func (op convFilterGradOp) Arity() int    { return 2 }
func (op convFilterGradOp) Type() hm.Type { return fnType(matF32, mats(2)...) }
func (op convFilterGradOp) String() string {
	return fmt.Sprintf("ConvFilterGrad[%s,%v,transposed=%v]", op.layer, op.g, op.transposed)
}
func (op convFilterGradOp) WriteHash(h hash.Hash) { h.Write([]byte(op.String())) }
func (op convFilterGradOp) Hashcode() uint32      { return hashOf(op) }
func (op convFilterGradOp) DiffWRT(int) []bool    { return []bool{false, false} }
func (op convFilterGradOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("%v: second derivatives are not supported", op)
}

func (op convFilterGradOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	if len(in) != 2 {
		return nil, fmt.Errorf("%v: %d inputs, want 2", op, len(in))
	}
	return tensor.Shape{op.g.K, op.g.PatchSize()}, nil
}

func (op convFilterGradOp) Do(in ...G.Value) (G.Value, error) {
	if len(in) != 2 {
		return nil, fmt.Errorf("%v: %d inputs, want 2", op, len(in))
	}
	return op.UsePreallocDo(newMatrix(tensor.Shape{op.g.K, op.g.PatchSize()}), in...)
}

func (op convFilterGradOp) UsePreallocDo(out G.Value, in ...G.Value) (G.Value, error) {
	if len(in) != 2 {
		return nil, fmt.Errorf("%v: %d inputs, want 2", op, len(in))
	}
	// The image side of g (its input) and the output side: for a
	// transposed layer, dz is on g's input side.
	img, grad, imgSz, gradSz := in[0], in[1], op.g.InSize(), op.g.OutSize()
	if op.transposed {
		img, grad = in[1], in[0]
	}
	n, _, err := dims("x", in[0])
	if err != nil {
		return nil, err
	}
	x, err := data("image", img, n, imgSz)
	if err != nil {
		return nil, err
	}
	dy, err := data("gradient", grad, n, gradSz)
	if err != nil {
		return nil, err
	}
	dw, err := data("dW", out, op.g.K, op.g.PatchSize())
	if err != nil {
		return nil, err
	}
	if err := kernels.ConvFilterGrad(op.g, n, x, dy, dw); err != nil {
		return nil, err
	}
	return out, nil
}

// channelSumOp sums a [N, C·P] batch of images over images and pixels into
// [1, C]: the bias gradient of a convolution, the shift gradient of batch
// normalisation.
type channelSumOp struct {
	opBase
	layer string
	c, p  int
}

func (op channelSumOp) Arity() int    { return 1 }
func (op channelSumOp) Type() hm.Type { return fnType(matF32, matF32) }
func (op channelSumOp) String() string {
	return fmt.Sprintf("ChannelSum[%s,%d×%d]", op.layer, op.c, op.p)
}
func (op channelSumOp) WriteHash(h hash.Hash) { h.Write([]byte(op.String())) }
func (op channelSumOp) Hashcode() uint32      { return hashOf(op) }
func (op channelSumOp) DiffWRT(int) []bool    { return []bool{false} }
func (op channelSumOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("%v: second derivatives are not supported", op)
}

func (op channelSumOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	if len(in) != 1 {
		return nil, fmt.Errorf("%v: %d inputs, want 1", op, len(in))
	}
	if _, c, err := shape2(op, in[0], "x"); err != nil || c != op.c*op.p {
		return nil, fmt.Errorf("%v: x does not have %d columns", op, op.c*op.p)
	}
	return tensor.Shape{1, op.c}, nil
}

func (op channelSumOp) Do(in ...G.Value) (G.Value, error) {
	if len(in) != 1 {
		return nil, fmt.Errorf("%v: %d inputs, want 1", op, len(in))
	}
	return op.UsePreallocDo(newMatrix(tensor.Shape{1, op.c}), in...)
}

func (op channelSumOp) UsePreallocDo(out G.Value, in ...G.Value) (G.Value, error) {
	if len(in) != 1 {
		return nil, fmt.Errorf("%v: %d inputs, want 1", op, len(in))
	}
	n, _, err := dims("x", in[0])
	if err != nil {
		return nil, err
	}
	x, err := data("x", in[0], n, op.c*op.p)
	if err != nil {
		return nil, err
	}
	s, err := data("sum", out, 1, op.c)
	if err != nil {
		return nil, err
	}
	if err := kernels.ChannelSum(s, x, n, op.c, op.p); err != nil {
		return nil, err
	}
	return out, nil
}

// ---------------------------------------------------------------------------
// nearest upsampling

// UpsampleNearest repeats every pixel of x [N, C·H·W] fh times down and fw
// times across: y [N, C·(H·fh)·(W·fw)], y[c, i, j] = x[c, i/fh, j/fw]
// (ONNX Resize, mode nearest, asymmetric coordinates, nearest_mode floor,
// scales [1, 1, fh, fw]).
func UpsampleNearest(x *G.Node, layer string, c, h, w, fh, fw int) (*G.Node, error) {
	if c <= 0 || h <= 0 || w <= 0 || fh <= 0 || fw <= 0 {
		return nil, fmt.Errorf("upsample %s: image %d×%d×%d, factor %d×%d: every size must be positive", layer, c, h, w, fh, fw)
	}
	if c*h*fh*w*fw >= 1<<31 {
		return nil, fmt.Errorf("upsample %s: output %d×%d×%d is too large", layer, c, h*fh, w*fw)
	}
	return G.ApplyOp(upsampleOp{layer: layer, c: c, h: h, w: w, fh: fh, fw: fw}, x)
}

// upsampleOp is nearest upsampling (grad false) or its gradient (grad
// true: dx[c, i, j] = Σ of dy over the fh×fw block that pixel became,
// summed along each of its fh rows, then the rows in order).
type upsampleOp struct {
	opBase
	layer           string
	c, h, w, fh, fw int
	grad            bool
}

func (op upsampleOp) Arity() int    { return 1 }
func (op upsampleOp) Type() hm.Type { return fnType(matF32, matF32) }
func (op upsampleOp) String() string {
	kind := "Upsample"
	if op.grad {
		kind = "UpsampleGrad"
	}
	return fmt.Sprintf("%s[%s,%d×%d×%d,×%d×%d]", kind, op.layer, op.c, op.h, op.w, op.fh, op.fw)
}
func (op upsampleOp) WriteHash(h hash.Hash) { h.Write([]byte(op.String())) }
func (op upsampleOp) Hashcode() uint32      { return hashOf(op) }

// sizes returns the per-image sizes of the op's input and output.
func (op upsampleOp) sizes() (in, out int) {
	small, big := op.c*op.h*op.w, op.c*op.h*op.fh*op.w*op.fw
	if op.grad {
		return big, small
	}
	return small, big
}

func (op upsampleOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	if len(in) != 1 {
		return nil, fmt.Errorf("%v: %d inputs, want 1", op, len(in))
	}
	n, c, err := shape2(op, in[0], "x")
	if err != nil {
		return nil, err
	}
	inSz, outSz := op.sizes()
	if c != inSz {
		return nil, fmt.Errorf("%v: x has %d columns, want %d", op, c, inSz)
	}
	return tensor.Shape{n, outSz}, nil
}

func (op upsampleOp) Do(in ...G.Value) (G.Value, error) {
	if len(in) != 1 {
		return nil, fmt.Errorf("%v: %d inputs, want 1", op, len(in))
	}
	n, _, err := dims("x", in[0])
	if err != nil {
		return nil, err
	}
	_, outSz := op.sizes()
	return op.UsePreallocDo(newMatrix(tensor.Shape{n, outSz}), in...)
}

func (op upsampleOp) UsePreallocDo(out G.Value, in ...G.Value) (G.Value, error) {
	if len(in) != 1 {
		return nil, fmt.Errorf("%v: %d inputs, want 1", op, len(in))
	}
	inSz, outSz := op.sizes()
	n, _, err := dims("x", in[0])
	if err != nil {
		return nil, err
	}
	x, err := data("x", in[0], n, inSz)
	if err != nil {
		return nil, err
	}
	y, err := data("y", out, n, outSz)
	if err != nil {
		return nil, err
	}
	ow, fw := op.w*op.fw, op.fw
	// Row by row of the small image: its row r becomes rows r·fh … r·fh+fh−1.
	// Rows are independent in both directions, so any split of them across
	// goroutines gives the same bits.
	parallelFor(n*op.c*op.h, max(1, (1<<14)/(ow*op.fh)), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			small := r * op.w
			if op.grad {
				dst := y[small : small+op.w]
				clear(dst)
				for a := 0; a < op.fh; a++ {
					big := (r*op.fh + a) * ow
					src := x[big : big+ow]
					for j := range dst {
						var s float32
						for _, v := range src[j*fw : j*fw+fw] {
							s += v
						}
						dst[j] += s
					}
				}
				continue
			}
			first := y[r*op.fh*ow : r*op.fh*ow+ow]
			for j, v := range x[small : small+op.w] {
				blk := first[j*fw : j*fw+fw]
				for b := range blk {
					blk[b] = v
				}
			}
			for a := 1; a < op.fh; a++ { // the same row again
				copy(y[(r*op.fh+a)*ow:(r*op.fh+a+1)*ow], first)
			}
		}
	})
	return out, nil
}

func (op upsampleOp) DiffWRT(int) []bool { return []bool{!op.grad} }

func (op upsampleOp) SymDiff(in G.Nodes, _, dy *G.Node) (G.Nodes, error) {
	if op.grad {
		return nil, fmt.Errorf("%v: second derivatives are not supported", op)
	}
	g := op
	g.grad = true
	dx, err := G.ApplyOp(g, dy)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dx}, nil
}
