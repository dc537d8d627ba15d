package graph

import (
	"fmt"
	"hash"
	"math"

	"github.com/chewxy/hm"
	"github.com/vaec/vaec/kernels"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// BatchNormAttrs are the attributes of a batch normalisation layer over C
// channels of P values each: an image [C, H, W] has P = H·W and is
// normalised per channel; a flat [D] input has C = D, P = 1 and is
// normalised per feature.
type BatchNormAttrs struct {
	Layer    string
	C, P     int
	Epsilon  float64 // added to the variance; PyTorch's default is 1e-5
	Momentum float64 // weight of the batch in the running statistics; PyTorch's default is 0.1
	// Training selects batch statistics (and updates the running ones);
	// otherwise the running statistics normalise, as for validation,
	// evaluation and the export.
	Training bool
	Act      kernels.Act
	Alpha    float32
}

// BatchNorm applies a fused batch normalisation layer,
//
//	y = act(scale·(x − mean)/√(var + ε) + shift)   per channel,
//
// to x [N, C·P], with scale, shift, runningMean and runningVar [1, C]
// (ONNX BatchNormalization's inputs, in its order). In training mode mean
// and var are the batch's (var biased, over the N·P values of a channel)
// and each run also updates the running statistics in place, as PyTorch
// does in the forward pass:
//
//	runningMean ← (1 − momentum)·runningMean + momentum·mean
//	runningVar  ← (1 − momentum)·runningVar + momentum·var·NP/(NP − 1)
//
// so the lowering binds runningMean and runningVar to the buffers the
// checkpoint keeps (they get no gradient). In inference mode they are
// read only. The output is [N, C·P].
func BatchNorm(x, scale, shift, runningMean, runningVar *G.Node, a BatchNormAttrs) (*G.Node, error) {
	switch {
	case a.C <= 0 || a.P <= 0 || a.C*a.P >= 1<<31:
		return nil, fmt.Errorf("batch_norm %s: %d channels of %d values: sizes out of range", a.Layer, a.C, a.P)
	case !(a.Epsilon > 0) || math.IsInf(a.Epsilon, 0):
		return nil, fmt.Errorf("batch_norm %s: epsilon %v must be positive and finite", a.Layer, a.Epsilon)
	case !(a.Momentum >= 0 && a.Momentum <= 1):
		return nil, fmt.Errorf("batch_norm %s: momentum %v must be in [0, 1]", a.Layer, a.Momentum)
	}
	op := batchNormOp{layer: a.Layer, c: a.C, p: a.P, eps: a.Epsilon, momentum: a.Momentum, training: a.Training, act: a.Act, alpha: a.Alpha}
	return G.ApplyOp(op, x, scale, shift, runningMean, runningVar)
}

// batchNormOp is BatchNorm. Inputs x, scale, shift, running mean, running
// variance; output y. Like denseOp its derivative reads the output y for
// the activation, and recomputes the batch statistics from x (one pass)
// rather than keeping them.
type batchNormOp struct {
	opBase
	layer         string
	c, p          int
	eps, momentum float64
	training      bool
	act           kernels.Act
	alpha         float32
}

func (op batchNormOp) Arity() int    { return 5 }
func (op batchNormOp) Type() hm.Type { return fnType(matF32, mats(5)...) }
func (op batchNormOp) String() string {
	return fmt.Sprintf("BatchNorm[%s,%d×%d,eps=%g,momentum=%g,training=%v,%v]", op.layer, op.c, op.p, op.eps, op.momentum, op.training, op.act)
}
func (op batchNormOp) WriteHash(h hash.Hash) { h.Write([]byte(op.String())) }
func (op batchNormOp) Hashcode() uint32      { return hashOf(op) }

func (op batchNormOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	if len(in) != 5 {
		return nil, fmt.Errorf("%v: %d inputs, want 5", op, len(in))
	}
	n, c, err := shape2(op, in[0], "x")
	if err != nil {
		return nil, err
	}
	if c != op.c*op.p {
		return nil, fmt.Errorf("%v: x has %d columns, want %d", op, c, op.c*op.p)
	}
	for i, name := range []string{"scale", "shift", "running mean", "running variance"} {
		if r, c, err := shape2(op, in[i+1], name); err != nil || r != 1 || c != op.c {
			return nil, fmt.Errorf("%v: %s is not (1, %d)", op, name, op.c)
		}
	}
	return tensor.Shape{n, c}, nil
}

func (op batchNormOp) Do(in ...G.Value) (G.Value, error) {
	if len(in) != 5 {
		return nil, fmt.Errorf("%v: %d inputs, want 5", op, len(in))
	}
	n, _, err := dims("x", in[0])
	if err != nil {
		return nil, err
	}
	return op.UsePreallocDo(newMatrix(tensor.Shape{n, op.c * op.p}), in...)
}

// read checks and returns x, scale, the running mean and variance (inputs
// 0, 1, 3, 4 of the forward op; the grad op has no shift and passes nil).
func (op batchNormOp) read(x, scale, mean, vari G.Value) (n int, xs, ss, ms, vs []float32, err error) {
	if n, _, err = dims("x", x); err != nil {
		return
	}
	if xs, err = data("x", x, n, op.c*op.p); err != nil {
		return
	}
	if ss, err = data("scale", scale, 1, op.c); err != nil {
		return
	}
	if ms, err = data("running mean", mean, 1, op.c); err != nil {
		return
	}
	vs, err = data("running variance", vari, 1, op.c)
	if err == nil && op.training && n*op.p < 2 {
		err = fmt.Errorf("training needs more than one value per channel, got %d×%d", n, op.p)
	}
	return
}

// channelStats returns the mean and biased variance of channel ch of the
// n images x, in float64 (two passes, in a fixed order).
func channelStats(x []float32, n, c, p, ch int) (mean, vari float64) {
	var s float64
	for im := 0; im < n; im++ {
		for _, v := range x[(im*c+ch)*p : (im*c+ch)*p+p] {
			s += float64(v)
		}
	}
	m := float64(n * p)
	mean = s / m
	var q float64
	for im := 0; im < n; im++ {
		for _, v := range x[(im*c+ch)*p : (im*c+ch)*p+p] {
			d := float64(v) - mean
			q += d * d
		}
	}
	return mean, q / m
}

// normaliser returns the statistics channel ch is normalised with: the
// batch's in training, the running ones otherwise.
func (op batchNormOp) normaliser(x, rm, rv []float32, n, ch int) (mean, istd, batchVar float64) {
	if op.training {
		mean, batchVar = channelStats(x, n, op.c, op.p, ch)
		return mean, 1 / math.Sqrt(batchVar+op.eps), batchVar
	}
	return float64(rm[ch]), 1 / math.Sqrt(float64(rv[ch])+op.eps), 0
}

func (op batchNormOp) UsePreallocDo(out G.Value, in ...G.Value) (G.Value, error) {
	if len(in) != 5 {
		return nil, fmt.Errorf("%v: %d inputs, want 5", op, len(in))
	}
	n, x, scale, rm, rv, err := op.read(in[0], in[1], in[3], in[4])
	if err != nil {
		return nil, err
	}
	shift, err := data("shift", in[2], 1, op.c)
	if err != nil {
		return nil, err
	}
	y, err := data("y", out, n, op.c*op.p)
	if err != nil {
		return nil, err
	}
	// Channels are independent: any split gives the same bits.
	parallelFor(op.c, max(1, (1<<14)/max(1, n*op.p)), func(lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			mean, istd, bv := op.normaliser(x, rm, rv, n, ch)
			a := float64(scale[ch]) * istd
			af, bf := float32(a), float32(float64(shift[ch])-mean*a)
			for im := 0; im < n; im++ {
				o := (im*op.c + ch) * op.p
				src, dst := x[o:o+op.p], y[o:o+op.p]
				for j, v := range src {
					dst[j] = af*v + bf
				}
				if op.act != kernels.Linear {
					kernels.AddBiasAct(dst, 1, op.p, nil, op.act, op.alpha)
				}
			}
			if op.training {
				m := op.momentum
				unbiased := bv * float64(n*op.p) / float64(n*op.p-1)
				rm[ch] = float32((1-m)*float64(rm[ch]) + m*mean)
				rv[ch] = float32((1-m)*float64(rv[ch]) + m*unbiased)
			}
		}
	})
	return out, nil
}

func (op batchNormOp) DiffWRT(int) []bool { return []bool{true, true, true, false, false} }

// SymDiff: with dz = dy·act'(y), dshift = Σ dz per channel, and dx, dscale
// from batchNormGradOp.
func (op batchNormOp) SymDiff(in G.Nodes, y, dy *G.Node) (G.Nodes, error) {
	if len(in) != 5 {
		return nil, fmt.Errorf("%v: %d inputs, want 5", op, len(in))
	}
	dz := dy
	if op.act != kernels.Linear {
		var err error
		if dz, err = G.ApplyOp(actGradOp{layer: op.layer, act: op.act, alpha: op.alpha}, y, dy); err != nil {
			return nil, err
		}
	}
	args := []*G.Node{in[0], in[1], in[3], in[4], dz}
	dx, err := G.ApplyOp(batchNormGradOp{fwd: op, wrtScale: false}, args...)
	if err != nil {
		return nil, err
	}
	dscale, err := G.ApplyOp(batchNormGradOp{fwd: op, wrtScale: true}, args...)
	if err != nil {
		return nil, err
	}
	dshift, err := G.ApplyOp(channelSumOp{layer: op.layer, c: op.c, p: op.p}, dz)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dx, dscale, dshift, nil, nil}, nil
}

// batchNormGradOp is batch norm's gradient with respect to x (output [N,
// C·P]) or to scale (wrtScale; output [1, C]), from the gradient dz of the
// normalised, scaled and shifted value. Inputs x, scale, running mean,
// running variance, dz. With x̂ = (x − mean)·istd and sums per channel over
// its M = N·P values,
//
//	training:   dx = scale·istd·(dz − Σdz/M − x̂·Σ(dz·x̂)/M)
//	inference:  dx = scale·istd·dz   (the running statistics are constants)
//	both:       dscale = Σ dz·x̂
type batchNormGradOp struct {
	opBase
	fwd      batchNormOp
	wrtScale bool
}

func (op batchNormGradOp) Arity() int    { return 5 }
func (op batchNormGradOp) Type() hm.Type { return fnType(matF32, mats(5)...) }
func (op batchNormGradOp) String() string {
	return fmt.Sprintf("BatchNormGrad[%v,scale=%v]", op.fwd, op.wrtScale)
}
func (op batchNormGradOp) WriteHash(h hash.Hash) { h.Write([]byte(op.String())) }
func (op batchNormGradOp) Hashcode() uint32      { return hashOf(op) }
func (op batchNormGradOp) DiffWRT(int) []bool    { return []bool{false, false, false, false, false} }
func (op batchNormGradOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("%v: second derivatives are not supported", op)
}

func (op batchNormGradOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	if len(in) != 5 {
		return nil, fmt.Errorf("%v: %d inputs, want 5", op, len(in))
	}
	n, c, err := shape2(op, in[0], "x")
	if err != nil {
		return nil, err
	}
	if op.wrtScale {
		return tensor.Shape{1, op.fwd.c}, nil
	}
	return tensor.Shape{n, c}, nil
}

func (op batchNormGradOp) Do(in ...G.Value) (G.Value, error) {
	if len(in) != 5 {
		return nil, fmt.Errorf("%v: %d inputs, want 5", op, len(in))
	}
	n, c, err := dims("x", in[0])
	if err != nil {
		return nil, err
	}
	s := tensor.Shape{n, c}
	if op.wrtScale {
		s = tensor.Shape{1, op.fwd.c}
	}
	return op.UsePreallocDo(newMatrix(s), in...)
}

func (op batchNormGradOp) UsePreallocDo(out G.Value, in ...G.Value) (G.Value, error) {
	if len(in) != 5 {
		return nil, fmt.Errorf("%v: %d inputs, want 5", op, len(in))
	}
	f := op.fwd
	n, x, scale, rm, rv, err := f.read(in[0], in[1], in[2], in[3])
	if err != nil {
		return nil, err
	}
	dz, err := data("dz", in[4], n, f.c*f.p)
	if err != nil {
		return nil, err
	}
	var res []float32
	if op.wrtScale {
		res, err = data("dscale", out, 1, f.c)
	} else {
		res, err = data("dx", out, n, f.c*f.p)
	}
	if err != nil {
		return nil, err
	}
	parallelFor(f.c, max(1, (1<<14)/max(1, n*f.p)), func(lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			mean, istd, _ := f.normaliser(x, rm, rv, n, ch)
			var sdz, sdzx float64 // Σdz and Σdz·x̂, in image order
			if op.wrtScale || f.training {
				for im := 0; im < n; im++ {
					o := (im*f.c + ch) * f.p
					g, xs := dz[o:o+f.p], x[o:o+f.p]
					for j, v := range g {
						sdz += float64(v)
						sdzx += float64(v) * (float64(xs[j]) - mean) * istd
					}
				}
			}
			if op.wrtScale {
				res[ch] = float32(sdzx)
				continue
			}
			// dx = a·dz + b·x + c, with the x̂ term expanded.
			k := float64(scale[ch]) * istd
			m := float64(n * f.p)
			a, b, c := k, 0.0, 0.0
			if f.training {
				b = -k * sdzx * istd / m
				c = -k*sdz/m - b*mean
			}
			af, bf, cf := float32(a), float32(b), float32(c)
			for im := 0; im < n; im++ {
				o := (im*f.c + ch) * f.p
				g, xs, dst := dz[o:o+f.p], x[o:o+f.p], res[o:o+f.p]
				for j, v := range g {
					dst[j] = af*v + bf*xs[j] + cf
				}
			}
		}
	})
	return out, nil
}
