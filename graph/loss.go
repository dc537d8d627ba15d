package graph

import (
	"fmt"
	"hash"
	"math"

	"github.com/chewxy/hm"
	"github.com/vaec/vaec/ir"
	"github.com/vaec/vaec/kernels"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// elboOp is the whole objective in one op: the negative log-likelihood of
// the data under the decoder's output (Bernoulli from logits, Gaussian with
// fixed σ, or Gaussian with a learned per-dimension log-variance), the
// closed-form KL divergence of q(z|x) from N(0, I), the KL weight and the
// per-example mean:
//
//	loss = (NLL/S + w·KL) / B
//
// Inputs: out [S·B, D] (logits or mean), x [B, D], mu and logvar [B, L], the
// KL weight w (a scalar), and for GaussianLearned the log-variance
// parameter [1, D]. Row s·B+i of out is scored against row i of x.
//
// The gradient of the loss with respect to each input costs almost nothing
// once the value is computed (the Bernoulli gradient sigmoid(l) − x reuses
// the exponential of softplus(l)), so the op computes both in one pass when
// the graph is differentiated and keeps the gradients for elboGradOp, the
// way Gorgonia's own CTC loss keeps its forward tables for its backward
// pass. It also keeps the two terms for termOp, so that reporting them costs
// no second pass either. Sums are accumulated in float64 in a fixed order.
type elboOp struct {
	opBase
	lik   ir.LikelihoodKind
	sigma float64 // GaussianFixed

	grad bool // set by SymDiff: compute the gradients too

	// Results of the last run.
	recon, kl float64 // summed over the batch; recon averaged over the samples
	dOut      []float32
	dMu, dLv  []float32
	// dOutInto, set by the tape, is the value of the node that reads dOut
	// (elboGradOp's): the loss writes its output gradient there directly.
	// On two cores that buffer's lines were last read by the other core
	// (the update's weight gradient), and writing them while computing,
	// rather than in a copy afterwards, hides the wait.
	dOutInto []float32
	dLvp     []float32
	rowSum   []float64 // Bernoulli: NLL per row
}

const (
	elboOut = iota
	elboX
	elboMu
	elboLogvar
	elboKLW
	elboLvp
)

func (op *elboOp) arity() int {
	if op.lik == ir.GaussianLearned {
		return 6
	}
	return 5
}

func (op *elboOp) Arity() int { return op.arity() }
func (op *elboOp) Type() hm.Type {
	args := append(mats(4), hm.Type(G.Float32))
	if op.lik == ir.GaussianLearned {
		args = append(args, matF32)
	}
	return fnType(G.Float32, args...)
}
func (op *elboOp) String() string        { return fmt.Sprintf("NegELBO[%s]", op.lik) }
func (op *elboOp) WriteHash(h hash.Hash) { h.Write([]byte(op.String())) }
func (op *elboOp) Hashcode() uint32      { return hashOf(op) }

func (op *elboOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	if len(in) != op.arity() {
		return nil, fmt.Errorf("%v: %d inputs, want %d", op, len(in), op.arity())
	}
	sb, d, err := shape2(op, in[elboOut], "out")
	if err != nil {
		return nil, err
	}
	b, d2, err := shape2(op, in[elboX], "x")
	if err != nil {
		return nil, err
	}
	if d != d2 || b <= 0 || sb%b != 0 {
		return nil, fmt.Errorf("%v: output is (%d, %d), data is (%d, %d)", op, sb, d, b, d2)
	}
	return tensor.ScalarShape(), nil
}

func (op *elboOp) Do(in ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, in...) }

func (op *elboOp) DiffWRT(int) []bool {
	return []bool{true, false, true, true, false, true}[:op.arity()]
}

// SymDiff returns, for each differentiable input, a node that reads the
// gradient the forward pass kept, times the incoming gradient.
func (op *elboOp) SymDiff(in G.Nodes, loss, dLoss *G.Node) (G.Nodes, error) {
	if len(in) != op.arity() {
		return nil, fmt.Errorf("%v: %d inputs, want %d", op, len(in), op.arity())
	}
	op.grad = true
	grads := make(G.Nodes, len(in))
	for i, ok := range op.DiffWRT(len(in)) {
		if !ok {
			continue
		}
		g, err := G.ApplyOp(&elboGradOp{parent: op, which: i, shape: in[i].Shape()}, loss, dLoss)
		if err != nil {
			return nil, err
		}
		grads[i] = g
	}
	return grads, nil
}

func (op *elboOp) UsePreallocDo(prealloc G.Value, in ...G.Value) (G.Value, error) {
	if len(in) != op.arity() {
		return nil, fmt.Errorf("%v: %d inputs, want %d", op, len(in), op.arity())
	}
	lvpAt := -1
	if op.lik == ir.GaussianLearned {
		lvpAt = elboLvp
	}
	li, err := lossInputs(op, in, elboOut, elboX, elboMu, elboLogvar, elboKLW, lvpAt)
	if err != nil {
		return nil, err
	}
	sb, b, d, l, s := li.sb, li.b, li.d, li.l, li.s
	out, x, mu, lv, klw, lvp := li.out, li.x, li.mu, li.lv, li.klw, li.lvp
	if op.grad {
		if len(op.dOutInto) == sb*d {
			op.dOut = op.dOutInto
		} else {
			op.dOut = resize(op.dOut, sb*d)
		}
		op.dMu = resize(op.dMu, b*l)
		op.dLv = resize(op.dLv, b*l)
		if lvp != nil {
			op.dLvp = resize(op.dLvp, d)
		}
	}

	// ∂loss/∂out = ∂NLL/∂out / (S·B).
	scale := float32(1 / float64(sb))
	var nll float64
	switch op.lik {
	case ir.Bernoulli:
		if cap(op.rowSum) < sb {
			op.rowSum = make([]float64, sb)
		}
		nll = bernoulliRows(out, x, b, d, op.gradOrNil(op.dOut), op.rowSum[:sb], scale)
	case ir.GaussianFixed:
		nll = gaussianFixedRows(out, x, b, d, op.sigma, op.gradOrNil(op.dOut), scale)
	case ir.GaussianLearned:
		nll = gaussianLearnedRows(out, x, b, d, lvp, op.gradOrNil(op.dOut), op.gradOrNil(op.dLvp), scale)
	default:
		return nil, fmt.Errorf("%v: likelihood %q is not supported", op, op.lik)
	}
	op.recon = nll / float64(s)
	op.kl = klTerm(mu, lv, klw, b, op.gradOrNil(op.dMu), op.gradOrNil(op.dLv))
	loss := float32((op.recon + float64(klw)*op.kl) / float64(b))
	return setScalar(prealloc, loss), nil
}

// lossIn are the checked inputs of a loss op: the decoder's output out
// [S·B, D] (S samples of each example) against x [B, D], the encoder's mu
// and logvar [B, L], the KL weight, and for a learned output variance its
// log [1, D] (lvp, else nil).
type lossIn struct {
	out, x, mu, lv, lvp []float32
	klw                 float32
	sb, b, d, l, s      int
}

// lossInputs unpacks and checks the inputs of op at the given positions
// (lvpAt < 0: the op has no output log-variance).
func lossInputs(op fmt.Stringer, in []G.Value, outAt, xAt, muAt, lvAt, klwAt, lvpAt int) (lossIn, error) {
	var li lossIn
	var err error
	if li.sb, li.d, err = dims("out", in[outAt]); err != nil {
		return li, err
	}
	if li.b, li.l, err = dims("mu", in[muAt]); err != nil {
		return li, err
	}
	if li.b <= 0 || li.sb%li.b != 0 {
		return li, fmt.Errorf("%v: output has %d rows, not a multiple of the batch %d", op, li.sb, li.b)
	}
	li.s = li.sb / li.b
	if li.out, err = data("out", in[outAt], li.sb, li.d); err != nil {
		return li, err
	}
	if li.x, err = data("x", in[xAt], li.b, li.d); err != nil {
		return li, err
	}
	if li.mu, err = data("mu", in[muAt], li.b, li.l); err != nil {
		return li, err
	}
	if li.lv, err = data("logvar", in[lvAt], li.b, li.l); err != nil {
		return li, err
	}
	if li.klw, err = scalarValue("kl weight", in[klwAt]); err != nil {
		return li, err
	}
	if lvpAt >= 0 {
		if li.lvp, err = data("output logvar", in[lvpAt], 1, li.d); err != nil {
			return li, err
		}
	}
	return li, nil
}

func (op *elboOp) gradOrNil(g []float32) []float32 {
	if op.grad {
		return g
	}
	return nil
}

func resize(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

var log2Pi64 = math.Log(2 * math.Pi)

// bernoulliRows returns Σ softplus(l) − x·l = Σ −log Bernoulli(x | sigmoid(l))
// over out [S·B, D] against x [B, D], and, when g is set, writes
// g = (sigmoid(l) − x)·scale: kernels.BernoulliRow, one pass per row (16
// lanes at once with AVX-512, stable for any logit), each row's sum in
// float64 into rowSum. Blocks of rows run on both cores; the row sums are
// added in row order afterwards, so the result does not depend on the
// split.
func bernoulliRows(out, x []float32, b, d int, g []float32, rowSum []float64, scale float32) float64 {
	rows := len(out) / d
	parallelFor(rows, max(1, 8192/d), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			var gr []float32
			if g != nil {
				gr = g[r*d : (r+1)*d]
			}
			rowSum[r] = kernels.BernoulliRow(out[r*d:(r+1)*d], x[(r%b)*d:(r%b+1)*d], gr, scale)
		}
	})
	var total float64
	for _, s := range rowSum[:rows] {
		total += s
	}
	return total
}

// gaussianFixedRows returns Σ ½[log 2π + 2·log σ + (x − mean)²/σ²] and, when
// g is set, g = (mean − x)/σ²·scale.
func gaussianFixedRows(out, x []float32, b, d int, sigma float64, g []float32, scale float32) float64 {
	inv := 1 / (sigma * sigma)
	gs := float32(inv) * scale
	var sq float64
	rows := len(out) / d
	for r := 0; r < rows; r++ {
		mr := out[r*d : (r+1)*d]
		xr := x[(r%b)*d : (r%b+1)*d]
		var s float64
		for j, m := range mr {
			diff := m - xr[j]
			s += float64(diff) * float64(diff)
			if g != nil {
				g[r*d+j] = diff * gs
			}
		}
		sq += s
	}
	return 0.5*sq*inv + 0.5*float64(len(out))*(log2Pi64+2*math.Log(sigma))
}

// gaussianLearnedRows returns Σ ½[log 2π + lv + (x − mean)²·exp(−lv)] with
// lv [D] shared by all rows and, when g and glv are set, the gradients
// g = (mean − x)·exp(−lv)·scale and glv = Σ_rows ½[1 − (x − mean)²·exp(−lv)]·scale.
func gaussianLearnedRows(out, x []float32, b, d int, lv []float32, g, glv []float32, scale float32) float64 {
	rows := len(out) / d
	var total float64
	if glv != nil {
		clear(glv)
	}
	for j := 0; j < d; j++ {
		prec := math.Exp(-float64(lv[j]))
		var sq float64
		for r := 0; r < rows; r++ {
			diff := float64(out[r*d+j]) - float64(x[(r%b)*d+j])
			sq += diff * diff
			if g != nil {
				g[r*d+j] = float32(diff*prec) * scale
			}
		}
		total += 0.5 * (float64(rows)*(log2Pi64+float64(lv[j])) + sq*prec)
		if glv != nil {
			glv[j] = float32(0.5*(float64(rows)-sq*prec)) * scale
		}
	}
	return total
}

// klTerm returns Σ ½(exp(lv) + mu² − 1 − lv), the KL divergence of
// N(mu, exp(lv)) from N(0, I) summed over the batch, and, when gmu and glv
// are set, the gradients of w·KL/B: gmu = w·mu/B, glv = w·½(exp(lv) − 1)/B.
func klTerm(mu, lv []float32, w float32, b int, gmu, glv []float32) float64 {
	var kl float64
	c := float64(w) / float64(b)
	for i, m := range mu {
		v := float64(lv[i])
		e := math.Exp(v)
		mm := float64(m)
		kl += 0.5 * (e + mm*mm - 1 - v)
		if gmu != nil {
			gmu[i] = float32(c * mm)
			glv[i] = float32(c * 0.5 * (e - 1))
		}
	}
	return kl
}

// elboGradOp reads one gradient kept by its elboOp, times the incoming
// gradient of the loss (1 for the loss itself). Inputs: the loss node
// (which orders it after the forward pass) and the incoming gradient.
type elboGradOp struct {
	opBase
	parent *elboOp
	which  int
	shape  tensor.Shape
}

var elboInputNames = [...]string{"out", "x", "mu", "logvar", "kl_weight", "output_logvar"}

func (op *elboGradOp) Arity() int    { return 2 }
func (op *elboGradOp) Type() hm.Type { return fnType(matF32, G.Float32, G.Float32) }
func (op *elboGradOp) String() string {
	return fmt.Sprintf("NegELBOGrad[%s,%s]", op.parent.lik, elboInputNames[op.which])
}
func (op *elboGradOp) WriteHash(h hash.Hash) { h.Write([]byte(op.String())) }
func (op *elboGradOp) Hashcode() uint32      { return hashOf(op) }
func (op *elboGradOp) DiffWRT(int) []bool    { return []bool{false, false} }
func (op *elboGradOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("%v: second derivatives are not supported", op)
}
func (op *elboGradOp) InferShape(...G.DimSizer) (tensor.Shape, error) { return op.shape.Clone(), nil }

func (op *elboGradOp) Do(in ...G.Value) (G.Value, error) {
	return op.UsePreallocDo(newMatrix(op.shape), in...)
}

func (op *elboGradOp) UsePreallocDo(out G.Value, in ...G.Value) (G.Value, error) {
	if len(in) != 2 {
		return nil, fmt.Errorf("%v: %d inputs, want 2", op, len(in))
	}
	g, err := scalarValue("incoming gradient", in[1])
	if err != nil {
		return nil, err
	}
	var src []float32
	switch op.which {
	case elboOut:
		src = op.parent.dOut
	case elboMu:
		src = op.parent.dMu
	case elboLogvar:
		src = op.parent.dLv
	case elboLvp:
		src = op.parent.dLvp
	}
	dst, err := data("gradient", out, op.shape[0], op.shape[1])
	if err != nil {
		return nil, err
	}
	if len(src) != len(dst) {
		return nil, fmt.Errorf("%v: the loss was not computed with gradients (%d values kept, want %d)", op, len(src), len(dst))
	}
	if g == 1 {
		if len(dst) > 0 && &dst[0] != &src[0] { // the loss wrote it in place otherwise
			copy(dst, src)
		}
	} else {
		for i, v := range src {
			dst[i] = v * g
		}
	}
	return out, nil
}

// termOp reads one term of the objective kept by its elboOp: the summed
// reconstruction NLL (averaged over the samples) or the summed KL. Its input
// is the loss node, which orders it after the forward pass.
type termOp struct {
	opBase
	parent *elboOp
	kl     bool
}

func (op *termOp) Arity() int    { return 1 }
func (op *termOp) Type() hm.Type { return fnType(G.Float32, G.Float32) }
func (op *termOp) String() string {
	if op.kl {
		return "KL"
	}
	return "ReconNLL"
}
func (op *termOp) WriteHash(h hash.Hash)                          { h.Write([]byte(op.String())) }
func (op *termOp) Hashcode() uint32                               { return hashOf(op) }
func (op *termOp) DiffWRT(int) []bool                             { return []bool{false} }
func (op *termOp) InferShape(...G.DimSizer) (tensor.Shape, error) { return tensor.ScalarShape(), nil }
func (op *termOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("%v: not differentiable", op)
}
func (op *termOp) Do(in ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, in...) }
func (op *termOp) UsePreallocDo(out G.Value, in ...G.Value) (G.Value, error) {
	v := op.parent.recon
	if op.kl {
		v = op.parent.kl
	}
	return setScalar(out, float32(v)), nil
}
