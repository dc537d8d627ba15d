package graph

import (
	"fmt"
	"hash"
	"math"

	"github.com/chewxy/hm"
	"github.com/vaec/vaec/ir"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// boundOp is the objective for what elboOp cannot express: the
// importance-weighted bound (IWAE), and either bound under a VampPrior,
// whose KL has no closed form. It works from the S log-weights of each
// example,
//
//	log w_si = log p(x_i | z_si) + log p(z_si) − log q(z_si | x_i),
//
// with z_si = mu_i + exp(½·logvar_i)·ε_si recomputed in float64 from the
// same ε the reparameterization used, and log q taken from ε directly.
//
//	iwae:  loss = −(1/B) Σ_i log (1/S) Σ_s w_si
//	elbo:  loss = (1/B) Σ_i (1/S) Σ_s [−log p(x_i|z_si) + kw·(log q − log p)(z_si)]
//
// The second is the ELBO with the single-sample Monte Carlo KL per draw
// (Tomczak and Welling's estimate for the VampPrior). The log-sum-exp runs
// in float64 with the maximum factored out, so any S is stable; every sum
// runs in a fixed order, so the result does not depend on GOMAXPROCS.
//
// Inputs: out [S·B, D], x [B, D], mu and logvar [B, L], eps [S·B, L], the KL
// weight, then the Gaussian output log-variance [1, D] for GaussianLearned,
// then for the VampPrior its components' means and log-variances [K, L]
// (the encoder at the pseudo-inputs). The gradient with respect to out,
// mu, logvar, the output log-variance and the components is computed in
// the same pass and kept for boundGradOp, as elboOp does. The gradient
// with respect to mu and logvar here is the part through log p(z) and
// log q; the part through the decoder reaches them through the
// reparameterization's own gradient.
type boundOp struct {
	opBase
	iwae  bool
	lik   ir.LikelihoodKind
	sigma float64
	vamp  bool

	grad bool

	// Results of the last run, summed over the batch.
	recon, kl float64 // recon averaged over the samples; kl closed form (normal) or Monte Carlo
	bound     float64 // the trained bound: Σ_i L_i
	// Gradients, by input index.
	d map[int][]float32

	// scratch
	nll, logw, lp []float64
	gz            []float64 // ∂log p(z)/∂z, [S·B, L]
	resp          []float64 // vamp: responsibilities of the components, [S·B, K]
	gout          []float32
	rowSum        []float64
}

const (
	boundOut = iota
	boundX
	boundMu
	boundLogvar
	boundEps
	boundKLW
)

// index of the optional inputs
func (op *boundOp) lvpIndex() int {
	if op.lik == ir.GaussianLearned {
		return boundKLW + 1
	}
	return -1
}

func (op *boundOp) priorIndex() int {
	if !op.vamp {
		return -1
	}
	if op.lik == ir.GaussianLearned {
		return boundKLW + 2
	}
	return boundKLW + 1
}

func (op *boundOp) arity() int {
	n := 6
	if op.lik == ir.GaussianLearned {
		n++
	}
	if op.vamp {
		n += 2
	}
	return n
}

func (op *boundOp) Arity() int { return op.arity() }
func (op *boundOp) Type() hm.Type {
	args := append(mats(5), hm.Type(G.Float32))
	for i := 6; i < op.arity(); i++ {
		args = append(args, matF32)
	}
	return fnType(G.Float32, args...)
}
func (op *boundOp) String() string {
	kind, prior := "ELBO", "normal"
	if op.iwae {
		kind = "IWAE"
	}
	if op.vamp {
		prior = "vamp"
	}
	return fmt.Sprintf("Neg%s[%s,%s]", kind, op.lik, prior)
}
func (op *boundOp) WriteHash(h hash.Hash) { h.Write([]byte(op.String())) }
func (op *boundOp) Hashcode() uint32      { return hashOf(op) }

func (op *boundOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	if len(in) != op.arity() {
		return nil, fmt.Errorf("%v: %d inputs, want %d", op, len(in), op.arity())
	}
	return tensor.ScalarShape(), nil
}

func (op *boundOp) Do(in ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, in...) }

func (op *boundOp) DiffWRT(int) []bool {
	w := make([]bool, op.arity())
	w[boundOut], w[boundMu], w[boundLogvar] = true, true, true
	if i := op.lvpIndex(); i >= 0 {
		w[i] = true
	}
	if i := op.priorIndex(); i >= 0 {
		w[i], w[i+1] = true, true
	}
	return w
}

func (op *boundOp) SymDiff(in G.Nodes, loss, dLoss *G.Node) (G.Nodes, error) {
	if len(in) != op.arity() {
		return nil, fmt.Errorf("%v: %d inputs, want %d", op, len(in), op.arity())
	}
	op.grad = true
	grads := make(G.Nodes, len(in))
	for i, ok := range op.DiffWRT(len(in)) {
		if !ok {
			continue
		}
		g, err := G.ApplyOp(&boundGradOp{parent: op, which: i, shape: in[i].Shape()}, loss, dLoss)
		if err != nil {
			return nil, err
		}
		grads[i] = g
	}
	return grads, nil
}

func resize64(s []float64, n int) []float64 {
	if cap(s) < n {
		return make([]float64, n)
	}
	s = s[:n]
	clear(s)
	return s
}

func (op *boundOp) gradBuf(i, n int) []float32 {
	if !op.grad {
		return nil
	}
	if op.d == nil {
		op.d = map[int][]float32{}
	}
	g := resize(op.d[i], n)
	clear(g)
	op.d[i] = g
	return g
}

func (op *boundOp) UsePreallocDo(prealloc G.Value, in ...G.Value) (G.Value, error) {
	if len(in) != op.arity() {
		return nil, fmt.Errorf("%v: %d inputs, want %d", op, len(in), op.arity())
	}
	li, err := lossInputs(op, in, boundOut, boundX, boundMu, boundLogvar, boundKLW, op.lvpIndex())
	if err != nil {
		return nil, err
	}
	sb, b, d, l, s := li.sb, li.b, li.d, li.l, li.s
	out, x, mu, lv, klw, lvp := li.out, li.x, li.mu, li.lv, li.klw, li.lvp
	eps, err := data("eps", in[boundEps], sb, l)
	if err != nil {
		return nil, err
	}
	var pmu, plv []float32
	k := 0
	if i := op.priorIndex(); i >= 0 {
		if k, _, err = dims("prior mu", in[i]); err != nil {
			return nil, err
		}
		if pmu, err = data("prior mu", in[i], k, l); err != nil {
			return nil, err
		}
		if plv, err = data("prior logvar", in[i+1], k, l); err != nil {
			return nil, err
		}
	}

	// 1. Per-row negative log-likelihood and its unscaled gradient.
	op.nll = resize64(op.nll, sb)
	var gout []float32
	if op.grad {
		op.gout = resize(op.gout, sb*d)
		gout = op.gout
	}
	switch op.lik {
	case ir.Bernoulli:
		op.rowSum = resize64(op.rowSum, sb)
		bernoulliRows(out, x, b, d, gout, op.rowSum, 1)
		copy(op.nll, op.rowSum)
	case ir.GaussianFixed:
		gaussianRowsNLL(out, x, b, d, nil, op.sigma, gout, op.nll)
	case ir.GaussianLearned:
		gaussianRowsNLL(out, x, b, d, lvp, 0, gout, op.nll)
	default:
		return nil, fmt.Errorf("%v: likelihood %q is not supported", op, op.lik)
	}

	// 2. log p(z) with its gradient in z, and log q from ε.
	op.lp = resize64(op.lp, sb)
	op.gz = resize64(op.gz, sb*l)
	op.logw = resize64(op.logw, sb)
	zr := make([]float64, l)
	var prec []float64 // exp(−logvar) of the components, once per run
	if op.vamp {
		prec = make([]float64, k*l)
		for i, v := range plv {
			prec[i] = math.Exp(-float64(v))
		}
		op.resp = resize64(op.resp, sb*k)
	}
	for r := 0; r < sb; r++ {
		i := r % b
		var lq float64
		for j := 0; j < l; j++ {
			e := float64(eps[r*l+j])
			v := float64(lv[i*l+j])
			zr[j] = float64(mu[i*l+j]) + math.Exp(0.5*v)*e
			lq += -0.5 * (log2Pi64 + v + e*e)
		}
		gz := op.gz[r*l : (r+1)*l]
		if op.vamp {
			op.lp[r] = vampLogDensity(zr, pmu, plv, prec, k, l, op.resp[r*k:(r+1)*k], gz)
		} else {
			var ss float64
			for j, z := range zr {
				ss += z * z
				gz[j] = -z
			}
			op.lp[r] = -0.5 * (float64(l)*log2Pi64 + ss)
		}
		op.logw[r] = -op.nll[r] + op.lp[r] - lq
	}

	// 3. The bound and the coefficients: alpha on each row's NLL, beta on
	// its log q − log p (the derivatives of the loss with respect to them).
	alpha := make([]float64, sb)
	beta := make([]float64, sb)
	op.recon, op.kl, op.bound = 0, 0, 0
	lw := make([]float64, s)
	for i := 0; i < b; i++ {
		var nllSum, klSum float64
		for si := 0; si < s; si++ {
			r := si*b + i
			lw[si] = op.logw[r]
			nllSum += op.nll[r]
			klSum += -op.logw[r] - op.nll[r] // log q − log p
		}
		op.recon += nllSum / float64(s)
		if op.vamp {
			op.kl += klSum / float64(s)
		}
		if op.iwae {
			mx := math.Inf(-1)
			for _, v := range lw {
				mx = max(mx, v)
			}
			var sum float64
			for _, v := range lw {
				sum += math.Exp(v - mx)
			}
			op.bound += mx + math.Log(sum/float64(s))
			for si := 0; si < s; si++ {
				a := math.Exp(lw[si]-mx) / sum / float64(b)
				alpha[si*b+i], beta[si*b+i] = a, a
			}
		} else {
			for si := 0; si < s; si++ {
				alpha[si*b+i] = 1 / float64(sb)
				beta[si*b+i] = float64(klw) / float64(sb)
			}
		}
	}
	if !op.vamp {
		// The closed-form KL for reporting, as elboOp reports it.
		op.kl = klTerm(mu, lv, 1, b, nil, nil)
	}
	var loss float64
	if op.iwae {
		loss = -op.bound / float64(b)
	} else {
		loss = (op.recon + float64(klw)*op.kl) / float64(b)
		op.bound = -(op.recon + op.kl)
	}

	if op.grad {
		op.gradients(out, x, mu, lv, eps, lvp, pmu, prec, alpha, beta, b, s, d, l, k)
	}
	return setScalar(prealloc, float32(loss)), nil
}

// gradients fills op.d from the coefficients of step 3.
func (op *boundOp) gradients(out, x, mu, lv, eps, lvp, pmu []float32, prec []float64, alpha, beta []float64, b, s, d, l, k int) {
	sb := s * b
	dOut := op.gradBuf(boundOut, sb*d)
	for r := 0; r < sb; r++ {
		a := float32(alpha[r])
		g := op.gout[r*d : (r+1)*d]
		o := dOut[r*d : (r+1)*d]
		for j, v := range g {
			o[j] = v * a
		}
	}
	if i := op.lvpIndex(); i >= 0 {
		glv := op.gradBuf(i, d)
		for j := 0; j < d; j++ {
			prec := math.Exp(-float64(lvp[j]))
			var acc float64
			for r := 0; r < sb; r++ {
				diff := float64(out[r*d+j]) - float64(x[(r%b)*d+j])
				acc += alpha[r] * 0.5 * (1 - diff*diff*prec)
			}
			glv[j] = float32(acc)
		}
	}
	// loss = … + β·(log q − log p): ∂/∂z = −β·gz; z = mu + σε, and
	// ∂log q/∂logvar = −½ (log q from ε).
	dMu := make([]float64, b*l)
	dLv := make([]float64, b*l)
	for r := 0; r < sb; r++ {
		i := r % b
		for j := 0; j < l; j++ {
			gz := -beta[r] * op.gz[r*l+j]
			dMu[i*l+j] += gz
			dLv[i*l+j] += gz*0.5*math.Exp(0.5*float64(lv[i*l+j]))*float64(eps[r*l+j]) - 0.5*beta[r]
		}
	}
	gm, gl := op.gradBuf(boundMu, b*l), op.gradBuf(boundLogvar, b*l)
	for i := range dMu {
		gm[i], gl[i] = float32(dMu[i]), float32(dLv[i])
	}
	if pi := op.priorIndex(); pi >= 0 {
		// ∂log p(z)/∂mu_k = ρ_k·(z − mu_k)/σ²_k, ∂/∂logvar_k = −½ρ_k(1 − (z − mu_k)²/σ²_k).
		gpm := make([]float64, k*l)
		gpl := make([]float64, k*l)
		zr := make([]float64, l)
		for r := 0; r < sb; r++ {
			i := r % b
			for j := 0; j < l; j++ {
				zr[j] = float64(mu[i*l+j]) + math.Exp(0.5*float64(lv[i*l+j]))*float64(eps[r*l+j])
			}
			resp := op.resp[r*k : (r+1)*k]
			for c := 0; c < k; c++ {
				w := -beta[r] * resp[c]
				if w == 0 {
					continue
				}
				for j := 0; j < l; j++ {
					p := prec[c*l+j]
					diff := zr[j] - float64(pmu[c*l+j])
					gpm[c*l+j] += w * diff * p
					gpl[c*l+j] += w * -0.5 * (1 - diff*diff*p)
				}
			}
		}
		a, c := op.gradBuf(pi, k*l), op.gradBuf(pi+1, k*l)
		for i := range gpm {
			a[i], c[i] = float32(gpm[i]), float32(gpl[i])
		}
	}
}

// vampLogDensity returns log (1/K) Σ_k N(z; mu_k, exp(lv_k)) (prec holds
// exp(−lv)), leaves the
// responsibilities ρ_k in resp and, when gz is set, writes
// ∂/∂z = Σ_k ρ_k·(mu_k − z)/σ²_k into it.
func vampLogDensity(z []float64, pmu, plv []float32, prec []float64, k, l int, resp, gz []float64) float64 {
	mx := math.Inf(-1)
	for c := 0; c < k; c++ {
		var s float64
		for j := 0; j < l; j++ {
			diff := z[j] - float64(pmu[c*l+j])
			s += float64(plv[c*l+j]) + diff*diff*prec[c*l+j]
		}
		resp[c] = -0.5 * (float64(l)*log2Pi64 + s)
		mx = max(mx, resp[c])
	}
	var sum float64
	for c := range resp {
		resp[c] = math.Exp(resp[c] - mx)
		sum += resp[c]
	}
	for c := range resp {
		resp[c] /= sum
	}
	if gz != nil {
		clear(gz)
		for c := 0; c < k; c++ {
			for j := 0; j < l; j++ {
				gz[j] += resp[c] * (float64(pmu[c*l+j]) - z[j]) * prec[c*l+j]
			}
		}
	}
	return mx + math.Log(sum/float64(k))
}

// gaussianRowsNLL writes each row's ½Σ[log 2π + log σ²_j + (x − mean)²/σ²_j]
// into nll and, when g is set, (mean − x)/σ²_j into g; σ² is exp(lv_j) when
// lv is set, sigma² otherwise.
func gaussianRowsNLL(out, x []float32, b, d int, lv []float32, sigma float64, g []float32, nll []float64) {
	prec := make([]float64, d)
	var logSum float64
	for j := range prec {
		if lv != nil {
			prec[j] = math.Exp(-float64(lv[j]))
			logSum += float64(lv[j])
		} else {
			prec[j] = 1 / (sigma * sigma)
			logSum += 2 * math.Log(sigma)
		}
	}
	for r := range nll {
		var sq float64
		for j := 0; j < d; j++ {
			diff := float64(out[r*d+j]) - float64(x[(r%b)*d+j])
			sq += diff * diff * prec[j]
			if g != nil {
				g[r*d+j] = float32(diff * prec[j])
			}
		}
		nll[r] = 0.5 * (float64(d)*log2Pi64 + logSum + sq)
	}
}

// boundGradOp reads one gradient kept by its boundOp, times the incoming
// gradient.
type boundGradOp struct {
	opBase
	parent *boundOp
	which  int
	shape  tensor.Shape
}

func (op *boundGradOp) Arity() int    { return 2 }
func (op *boundGradOp) Type() hm.Type { return fnType(matF32, G.Float32, G.Float32) }
func (op *boundGradOp) String() string {
	return fmt.Sprintf("%vGrad[%d]", op.parent, op.which)
}
func (op *boundGradOp) WriteHash(h hash.Hash) { h.Write([]byte(op.String())) }
func (op *boundGradOp) Hashcode() uint32      { return hashOf(op) }
func (op *boundGradOp) DiffWRT(int) []bool    { return []bool{false, false} }
func (op *boundGradOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("%v: second derivatives are not supported", op)
}
func (op *boundGradOp) InferShape(...G.DimSizer) (tensor.Shape, error) { return op.shape.Clone(), nil }
func (op *boundGradOp) Do(in ...G.Value) (G.Value, error) {
	return op.UsePreallocDo(newMatrix(op.shape), in...)
}

func (op *boundGradOp) UsePreallocDo(out G.Value, in ...G.Value) (G.Value, error) {
	if len(in) != 2 {
		return nil, fmt.Errorf("%v: %d inputs, want 2", op, len(in))
	}
	g, err := scalarValue("incoming gradient", in[1])
	if err != nil {
		return nil, err
	}
	src := op.parent.d[op.which]
	dst, err := data("gradient", out, op.shape[0], op.shape[1])
	if err != nil {
		return nil, err
	}
	if len(src) != len(dst) {
		return nil, fmt.Errorf("%v: the loss was not computed with gradients (%d values kept, want %d)", op, len(src), len(dst))
	}
	for i, v := range src {
		dst[i] = v * g
	}
	return out, nil
}

// boundTermOp reads one figure kept by its boundOp: the summed
// reconstruction NLL, the summed KL, or the summed bound.
type boundTermOp struct {
	opBase
	parent *boundOp
	which  string // "recon", "kl", "bound"
}

func (op *boundTermOp) Arity() int            { return 1 }
func (op *boundTermOp) Type() hm.Type         { return fnType(G.Float32, G.Float32) }
func (op *boundTermOp) String() string        { return "BoundTerm[" + op.which + "]" }
func (op *boundTermOp) WriteHash(h hash.Hash) { h.Write([]byte(op.String())) }
func (op *boundTermOp) Hashcode() uint32      { return hashOf(op) }
func (op *boundTermOp) DiffWRT(int) []bool    { return []bool{false} }
func (op *boundTermOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.ScalarShape(), nil
}
func (op *boundTermOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("%v: not differentiable", op)
}
func (op *boundTermOp) Do(in ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, in...) }
func (op *boundTermOp) UsePreallocDo(out G.Value, in ...G.Value) (G.Value, error) {
	v := op.parent.recon
	switch op.which {
	case "kl":
		v = op.parent.kl
	case "bound":
		v = op.parent.bound
	}
	return setScalar(out, float32(v)), nil
}

// usesBound reports whether m's objective needs boundOp rather than the
// closed-form elboOp.
func usesBound(m *ir.Model) bool {
	return m.Objective.Kind == ir.IWAE || m.Prior.Kind == ir.PriorVamp
}

// boundObjective lowers the objective through boundOp: sampling, the
// decoder, for a VampPrior the encoder at the pseudo-inputs, and the op.
func (n *net) boundObjective(m *ir.Model, mu, logvar *G.Node) error {
	z, err := G.ApplyOp(reparamOp{}, mu, logvar, n.eps)
	if err != nil {
		return errorf("reparameterization: %v", err)
	}
	out, err := decoder(m, z, n.p)
	if err != nil {
		return err
	}
	n.bound = &boundOp{iwae: m.Objective.Kind == ir.IWAE, lik: m.Likelihood.Kind, sigma: m.Likelihood.Sigma, vamp: m.Prior.Kind == ir.PriorVamp}
	args := G.Nodes{out, n.x, mu, logvar, n.eps, n.klw}
	if m.Likelihood.Kind == ir.GaussianLearned {
		args = append(args, n.p.named[m.Likelihood.Logvar])
	}
	if n.bound.vamp {
		for _, node := range m.Encoder.Nodes {
			if node.Op == ir.BatchNorm {
				return errorf("prior vamp: encoder node %s is a batch norm, whose batch statistics would mix the pseudo-inputs with the data", node.Name)
			}
		}
		u, ok := n.p.named[m.Prior.PseudoInputs]
		if !ok {
			return errorf("prior vamp: no parameter %q", m.Prior.PseudoInputs)
		}
		pmu, plv, err := encoder(m, u, n.p)
		if err != nil {
			return errorf("prior vamp: the encoder at the pseudo-inputs: %v", err)
		}
		args = append(args, pmu, plv)
	}
	if n.loss, err = G.ApplyOpWithName(n.bound, "loss", args...); err != nil {
		return errorf("objective: %v", err)
	}
	for _, t := range []struct {
		which string
		dst   **G.Node
	}{{"recon", &n.recon}, {"kl", &n.kl}, {"bound", &n.boundSum}} {
		if *t.dst, err = G.ApplyOpWithName(&boundTermOp{parent: n.bound, which: t.which}, t.which, n.loss); err != nil {
			return errorf("objective: %v", err)
		}
	}
	return nil
}
