package graph

import (
	"errors"
	"fmt"
	"math"

	"github.com/vaec/vaec/checkpoint"
	"github.com/vaec/vaec/ir"
	"github.com/vaec/vaec/kernels"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func errorf(format string, a ...any) error { return fmt.Errorf("graph: "+format, a...) }

// checkModel runs the IR's verifier: the lowering below relies on a
// verified model (chained shapes, declared parameters) and checks nothing
// itself; Gorgonia panics on some shapes it was not meant to see.
func checkModel(m *ir.Model) error {
	if err := ir.VerifyArchitecture(m); err != nil {
		return errorf("%v", err)
	}
	return nil
}

// params binds a model's parameters to nodes of one graph. The node values
// share their backing arrays with the caller's weight map, so an optimizer
// that updates the map in place updates the graph too.
type params struct {
	// primitive selects Gorgonia's built-in ops for every layer and the
	// loss (the reference lowering) instead of the fused ops.
	primitive bool
	// training selects batch statistics in batch norm layers (which then
	// update their running statistics in place); otherwise the running
	// statistics normalise, as for validation, evaluation and the export.
	training bool
	trained  G.Nodes              // the trainable ones (not buffers), in m.Params order: what G.Grad differentiates
	named    map[string]*G.Node   // by IR name
	data     map[string][]float32 // the shared backing arrays
	// extra binds graph inputs besides the first (a conditional model's
	// y, condition.go) for the lowering in progress.
	extra map[string]*G.Node
}

// bindParams creates one node per parameter of m in g. Vectors (biases, the
// Gaussian output log-variance) become [1, n] matrices because Gorgonia's
// broadcasting wants operands of equal rank; the data is the same.
func bindParams(g *G.ExprGraph, m *ir.Model, w map[string]checkpoint.Tensor) (*params, error) {
	if err := checkWeights(m, w); err != nil {
		return nil, errorf("%v", err)
	}
	p := &params{named: make(map[string]*G.Node, len(m.Params)), data: make(map[string][]float32, len(m.Params))}
	for _, decl := range m.Params {
		t := w[decl.Name]
		shape := append([]int(nil), decl.Shape...)
		switch len(shape) {
		case 1:
			shape = []int{1, shape[0]}
		case 2:
		case 4:
			// Convolution weights [a, b, kh, kw] as the fused ops take
			// them: [a, b·kh·kw], the same row-major data.
			shape = []int{shape[0], shape[1] * shape[2] * shape[3]}
		default:
			return nil, errorf("parameter %q: shape %v, only vectors, matrices and convolution weights are supported", decl.Name, decl.Shape)
		}
		v := tensor.New(tensor.WithShape(shape...), tensor.WithBacking(t.Data))
		n := G.NewMatrix(g, G.Float32, G.WithShape(shape...), G.WithName(decl.Name), G.WithValue(v))
		if !decl.Buffer {
			p.trained = append(p.trained, n)
		}
		p.named[decl.Name] = n
		p.data[decl.Name] = t.Data
	}
	return p, nil
}

// activationFunc returns the primitive lowering of n's activation: the one
// place graph maps IR activations to Gorgonia's ops.
func activationFunc(n *ir.Node) (func(*G.Node) (*G.Node, error), error) {
	switch n.Activation {
	case ir.Linear:
		return func(x *G.Node) (*G.Node, error) { return x, nil }, nil
	case ir.ReLU:
		return G.Rectify, nil
	case ir.Tanh:
		return G.Tanh, nil
	case ir.Sigmoid:
		return G.Sigmoid, nil
	case ir.Softplus:
		return G.Softplus, nil
	case ir.LeakyReLU:
		alpha := n.Alpha
		return func(x *G.Node) (*G.Node, error) { return G.LeakyRelu(x, alpha) }, nil
	case ir.ELU:
		alpha := float32(n.Alpha)
		// elu(x) = max(x, 0) + alpha·expm1(min(x, 0)), written so that exp
		// only ever sees non-positive arguments.
		return func(x *G.Node) (*G.Node, error) {
			pos, err := G.Rectify(x)
			if err != nil {
				return nil, err
			}
			nx, err := G.Neg(x)
			if err != nil {
				return nil, err
			}
			rn, err := G.Rectify(nx)
			if err != nil {
				return nil, err
			}
			mn, err := G.Neg(rn)
			if err != nil {
				return nil, err
			}
			e, err := G.Expm1(mn)
			if err != nil {
				return nil, err
			}
			ae, err := G.Mul(e, G.NewConstant(alpha))
			if err != nil {
				return nil, err
			}
			return G.Add(pos, ae)
		}, nil
	}
	return nil, n.Errorf("activation %s has no Gorgonia lowering", n.Activation)
}

// fusedAct returns the kernels activation of n when the fused ops cover
// it: every activation, but ELU and leaky ReLU only with a positive alpha
// (their derivative is then a function of the output alone).
func fusedAct(n *ir.Node) (kernels.Act, bool) {
	act, ok := kernelActs[n.Activation]
	if !ok || (n.Activation.HasAlpha() && !(n.Alpha > 0)) {
		return 0, false
	}
	return act, true
}

// kernelActs maps IR activations to the fused kernels' ones.
var kernelActs = map[ir.Activation]kernels.Act{
	ir.Linear: kernels.Linear, ir.ReLU: kernels.ReLU, ir.Tanh: kernels.Tanh, ir.Sigmoid: kernels.Sigmoid,
	ir.ELU: kernels.ELU, ir.LeakyReLU: kernels.LeakyReLU, ir.Softplus: kernels.Softplus,
}

// lowerFunc lowers one node given its inputs' Gorgonia nodes.
type lowerFunc func(n *ir.Node, in []*G.Node, p *params) (*G.Node, error)

// lowerings holds graph's lowering of every op: adding an op to the IR
// means adding its function here.
var lowerings = map[ir.Op]lowerFunc{
	ir.Dense:           dense,
	ir.Conv2D:          conv2d,
	ir.ConvTranspose2D: conv2d,
	ir.Upsample:        upsample,
	ir.BatchNorm:       batchNorm,
	ir.Reshape:         reshape,
	ir.Concat:          lowerConcat,
}

// The image layers have only the fused lowering (Gorgonia has no
// transposed convolution, and its Conv2d wants 4-d tensors where this graph
// keeps [N, C·H·W] matrices), so p.primitive does not change them: the
// primitive lowering stays a reference for everything else around them.

// conv2d lowers conv2d and conv_transpose2d to the fused ops, the
// activation applied in their kernels.
func conv2d(n *ir.Node, in []*G.Node, p *params) (*G.Node, error) {
	act, ok := fusedAct(n)
	if !ok {
		return nil, n.Errorf("activation %s (alpha %v) has no fused kernel", n.Activation, n.Alpha)
	}
	x := n.In[0]
	a := ConvAttrs{Layer: n.Name, InC: x[0], InH: x[1], InW: x[2], OutC: n.Filters,
		KH: n.Kernel[0], KW: n.Kernel[1], SH: n.Stride[0], SW: n.Stride[1], PH: n.Padding[0], PW: n.Padding[1],
		Act: act, Alpha: float32(n.Alpha)}
	w, b := p.named[n.Params[0]], p.named[n.Params[1]]
	var y *G.Node
	var err error
	if n.Op == ir.ConvTranspose2D {
		a.OutPadH, a.OutPadW = n.OutputPadding[0], n.OutputPadding[1]
		y, err = ConvTranspose2D(in[0], w, b, a)
	} else {
		y, err = Conv2D(in[0], w, b, a)
	}
	if err != nil {
		return nil, errorf("layer %s: %v", n.Name, err)
	}
	return y, nil
}

func upsample(n *ir.Node, in []*G.Node, p *params) (*G.Node, error) {
	x := n.In[0]
	y, err := UpsampleNearest(in[0], n.Name, x[0], x[1], x[2], n.Factor[0], n.Factor[1])
	if err != nil {
		return nil, errorf("layer %s: %v", n.Name, err)
	}
	return y, nil
}

// batchNorm lowers batch_norm: batch statistics in a training graph, the
// running ones otherwise. The running statistics are the buffers
// n.Params[2:4], bound to the checkpoint's arrays, so the training
// forward pass updates what the next checkpoint saves.
func batchNorm(n *ir.Node, in []*G.Node, p *params) (*G.Node, error) {
	act, ok := fusedAct(n)
	if !ok {
		return nil, n.Errorf("activation %s (alpha %v) has no fused kernel", n.Activation, n.Alpha)
	}
	c := ir.BatchNormChannels(n.In[0])
	a := BatchNormAttrs{Layer: n.Name, C: c, P: n.In[0].Size() / c, Epsilon: n.Epsilon, Momentum: n.Momentum,
		Training: p.training, Act: act, Alpha: float32(n.Alpha)}
	pn := func(i int) *G.Node { return p.named[n.Params[i]] }
	y, err := BatchNorm(in[0], pn(0), pn(1), pn(2), pn(3), a)
	if err != nil {
		return nil, errorf("layer %s: %v", n.Name, err)
	}
	return y, nil
}

// reshape is free: every value is a [rows, C·H·W] matrix in row-major
// order, whatever per-example shape the IR gives it.
func reshape(n *ir.Node, in []*G.Node, p *params) (*G.Node, error) { return in[0], nil }

// dense lowers y = act(x·W + b), as one fused op where it can.
func dense(n *ir.Node, in []*G.Node, p *params) (*G.Node, error) {
	// Every value of this graph is a [rows, features] matrix, images
	// flattened row-major ([C, H, W] → C·H·W), so flattening is free.
	x := in[0]
	w, b := p.named[n.Params[0]], p.named[n.Params[1]]
	wrap := func(err error) error { return errorf("layer %s: %v", n.Name, err) }
	if act, ok := fusedAct(n); ok && !p.primitive {
		y, err := G.ApplyOp(denseOp{layer: n.Name, act: act, alpha: float32(n.Alpha)}, x, w, b)
		if err != nil {
			return nil, wrap(err)
		}
		return y, nil
	}
	xw, err := G.Mul(x, w)
	if err != nil {
		return nil, wrap(err)
	}
	y, err := G.BroadcastAdd(xw, b, nil, []byte{0})
	if err != nil {
		return nil, wrap(err)
	}
	act, err := activationFunc(n)
	if err != nil {
		return nil, err
	}
	if y, err = act(y); err != nil {
		return nil, wrap(err)
	}
	return y, nil
}

// lowerGraph lowers the nodes of g in order, the graph input bound to in,
// and returns every node's value by name.
func lowerGraph(g *ir.Graph, in *G.Node, p *params) (map[string]*G.Node, error) {
	vals := map[string]*G.Node{g.Inputs[0].Name: in}
	for _, v := range g.Inputs[1:] {
		x, ok := p.extra[v.Name]
		if !ok {
			return nil, errorf("graph input %s is not bound", v.Name)
		}
		vals[v.Name] = x
	}
	for i := range g.Nodes {
		n := &g.Nodes[i]
		f, ok := lowerings[n.Op]
		if !ok {
			return nil, n.Errorf("no Gorgonia lowering for op %s", n.Op)
		}
		args := make([]*G.Node, len(n.Inputs))
		for j, name := range n.Inputs {
			args[j] = vals[name]
		}
		y, err := f(n, args, p)
		if err != nil {
			return nil, err
		}
		vals[n.Name] = y
	}
	return vals, nil
}

// encoder lowers the encoder and returns its two heads.
func encoder(m *ir.Model, x *G.Node, p *params) (mu, logvar *G.Node, err error) {
	vals, err := lowerGraph(&m.Encoder, x, p)
	if err != nil {
		return nil, nil, err
	}
	return vals[m.Mu().Name], vals[m.Logvar().Name], nil
}

// decoder lowers the decoder up to its output node: Bernoulli logits or the
// Gaussian mean (after the output activation).
func decoder(m *ir.Model, z *G.Node, p *params) (out *G.Node, err error) {
	vals, err := lowerGraph(&m.Decoder, z, p)
	if err != nil {
		return nil, err
	}
	return vals[m.Output().Name], nil
}

// reparameterize returns mu + exp(½·logvar)·eps.
func reparameterize(mu, logvar, eps *G.Node) (*G.Node, error) {
	half, err := G.Mul(logvar, G.NewConstant(float32(0.5)))
	if err != nil {
		return nil, err
	}
	std, err := G.Exp(half)
	if err != nil {
		return nil, err
	}
	noise, err := G.HadamardProd(std, eps)
	if err != nil {
		return nil, err
	}
	return G.Add(mu, noise)
}

// klDivergence returns Σ ½(exp(logvar) + mu² − 1 − logvar) over all
// elements: KL(N(mu, exp(logvar)) ‖ N(0, I)) summed over the batch.
func klDivergence(mu, logvar *G.Node) (*G.Node, error) {
	ev, err := G.Exp(logvar)
	if err != nil {
		return nil, err
	}
	mu2, err := G.Square(mu)
	if err != nil {
		return nil, err
	}
	s, err := G.Add(ev, mu2)
	if err != nil {
		return nil, err
	}
	if s, err = G.Sub(s, logvar); err != nil {
		return nil, err
	}
	total, err := G.Sum(s)
	if err != nil {
		return nil, err
	}
	// The −1 per element is a constant, added once to the sum.
	count := float32(mu.Shape().TotalSize())
	if total, err = G.Sub(total, G.NewConstant(count)); err != nil {
		return nil, err
	}
	return G.Mul(total, G.NewConstant(float32(0.5)))
}

// bernoulliNLL returns Σ −log Bernoulli(x | sigmoid(logits)) =
// Σ softplus(l) − x·l. Gorgonia's softplus is the stable form (log1p(exp(l))
// for moderate l, l itself above 14, 0 below −103), so the loss never takes
// the log of a sigmoid and stays finite for any logit.
func bernoulliNLL(logits, x *G.Node) (*G.Node, error) {
	sp, err := G.Softplus(logits)
	if err != nil {
		return nil, err
	}
	xl, err := G.HadamardProd(x, logits)
	if err != nil {
		return nil, err
	}
	d, err := G.Sub(sp, xl)
	if err != nil {
		return nil, err
	}
	return G.Sum(d)
}

var log2Pi = math.Log(2 * math.Pi)

// gaussianFixedNLL returns Σ ½[log 2π + 2·log σ + (x − mean)²/σ²].
func gaussianFixedNLL(mean, x *G.Node, sigma float64) (*G.Node, error) {
	d, err := G.Sub(x, mean)
	if err != nil {
		return nil, err
	}
	if d, err = G.Square(d); err != nil {
		return nil, err
	}
	s, err := G.Sum(d)
	if err != nil {
		return nil, err
	}
	if s, err = G.Mul(s, G.NewConstant(float32(0.5/(sigma*sigma)))); err != nil {
		return nil, err
	}
	c := 0.5 * float64(x.Shape().TotalSize()) * (log2Pi + 2*math.Log(sigma))
	return G.Add(s, G.NewConstant(float32(c)))
}

// gaussianLearnedNLL returns Σ ½[log 2π + lv + (x − mean)²·exp(−lv)], the
// per-dimension log-variance lv [1, D] shared by every row.
func gaussianLearnedNLL(mean, x, lv *G.Node) (*G.Node, error) {
	d, err := G.Sub(x, mean)
	if err != nil {
		return nil, err
	}
	if d, err = G.Square(d); err != nil {
		return nil, err
	}
	nlv, err := G.Neg(lv)
	if err != nil {
		return nil, err
	}
	prec, err := G.Exp(nlv)
	if err != nil {
		return nil, err
	}
	wd, err := G.BroadcastHadamardProd(d, prec, nil, []byte{0})
	if err != nil {
		return nil, err
	}
	s, err := G.Sum(wd)
	if err != nil {
		return nil, err
	}
	slv, err := G.Sum(lv)
	if err != nil {
		return nil, err
	}
	rows := float32(x.Shape()[0])
	if slv, err = G.Mul(slv, G.NewConstant(rows)); err != nil {
		return nil, err
	}
	if s, err = G.Add(s, slv); err != nil {
		return nil, err
	}
	if s, err = G.Mul(s, G.NewConstant(float32(0.5))); err != nil {
		return nil, err
	}
	c := 0.5 * float64(x.Shape().TotalSize()) * log2Pi
	return G.Add(s, G.NewConstant(float32(c)))
}

// negLogLikelihood lowers −log p(x | decoder output) for m's likelihood,
// summed over every element.
func negLogLikelihood(m *ir.Model, out, x *G.Node, p *params) (*G.Node, error) {
	switch m.Likelihood.Kind {
	case ir.Bernoulli:
		return bernoulliNLL(out, x)
	case ir.GaussianFixed:
		return gaussianFixedNLL(out, x, m.Likelihood.Sigma)
	case ir.GaussianLearned:
		return gaussianLearnedNLL(out, x, p.named[m.Likelihood.Logvar])
	}
	return nil, errorf("likelihood %q is not supported", m.Likelihood)
}

// tile stacks n copies of x along axis 0 (n ≥ 1).
func tile(x *G.Node, n int) (*G.Node, error) {
	if n == 1 {
		return x, nil
	}
	copies := make(G.Nodes, n)
	for i := range copies {
		copies[i] = x
	}
	return G.Concat(0, copies...)
}

// net is the whole training graph for one batch size: inputs x [B, D] and
// eps [S·B, L] and the KL weight; outputs the summed reconstruction term
// (averaged over the S samples), the summed KL and the loss
// (recon + w·KL)/B. With grads set it also holds ∂loss/∂param for every
// parameter, in m.Params order.
//
// The fused lowering (the default) runs on a tape (tape.go); the primitive
// one, Gorgonia's built-in ops throughout, on Gorgonia's TapeMachine. Tests
// check one against the other, and the benchmark compares their speed.
type net struct {
	batch, samples int
	g              *G.ExprGraph
	p              *params
	x, eps, klw    *G.Node
	xv, epsv       *tensor.Dense // the input values, overwritten before each run
	klwv           *G.F32        // the KL weight's value, set before each run
	recon, kl      *G.Node
	loss           *G.Node
	grads          G.Nodes
	elbo           *elboOp       // fused lowering: the loss op, which keeps the terms in float64
	bound          *boundOp      // fused lowering of iwae or a learned prior (bound.go), instead of elbo
	boundSum       *G.Node       // with bound: the summed trained bound
	tape           *tape         // fused lowering
	ys             *G.Node       // conditional: the decoder's y [S·B, C]
	yv, ysv        *tensor.Dense // conditional: y and ys, filled before each run (fillCondition)
	vm             G.VM          // primitive lowering
}

// buildNet lowers m for batch size batch with samples draws of z per input.
// When train is set it adds the gradient graph.
func buildNet(m *ir.Model, w map[string]checkpoint.Tensor, batch, samples int, train bool) (n *net, err error) {
	return buildNetLowering(m, w, batch, samples, train, false)
}

// buildNetLowering is buildNet with the choice of lowering: fused ops on a
// tape, or (primitive set) Gorgonia's built-in ops on its TapeMachine.
func buildNetLowering(m *ir.Model, w map[string]checkpoint.Tensor, batch, samples int, train, primitive bool) (n *net, err error) {
	if err := checkModel(m); err != nil {
		return nil, err
	}
	if batch <= 0 || samples <= 0 {
		return nil, errorf("batch size %d and samples %d must be positive", batch, samples)
	}
	defer func() {
		// Gorgonia panics on some internal failures; report them as errors.
		if r := recover(); r != nil {
			n, err = nil, errorf("building the graph for batch %d: %v", batch, r)
		}
	}()
	g := G.NewGraph()
	p, err := bindParams(g, m, w)
	if err != nil {
		return nil, err
	}
	p.primitive = primitive
	p.training = train
	n = &net{batch: batch, samples: samples, g: g, p: p}
	d, l := m.Input.Size, m.Latent
	n.xv = tensor.New(tensor.WithShape(batch, d), tensor.Of(tensor.Float32))
	n.epsv = tensor.New(tensor.WithShape(samples*batch, l), tensor.Of(tensor.Float32))
	n.klwv = G.NewF32(1)
	n.x = G.NewMatrix(g, G.Float32, G.WithShape(batch, d), G.WithName(ir.InputX), G.WithValue(n.xv))
	n.eps = G.NewMatrix(g, G.Float32, G.WithShape(samples*batch, l), G.WithName(ir.InputEps), G.WithValue(n.epsv))
	n.klw = G.NewScalar(g, G.Float32, G.WithName("kl_weight"), G.WithValue(n.klwv))
	if m.Conditional() {
		// y for the encoder's rows, ys for the decoder's S·B rows.
		c := m.Condition.Classes
		n.yv = tensor.New(tensor.WithShape(batch, c), tensor.Of(tensor.Float32))
		n.ysv = tensor.New(tensor.WithShape(samples*batch, c), tensor.Of(tensor.Float32))
		p.extra = map[string]*G.Node{ir.InputY: G.NewMatrix(g, G.Float32, G.WithShape(batch, c), G.WithName(ir.InputY), G.WithValue(n.yv))}
		n.ys = G.NewMatrix(g, G.Float32, G.WithShape(samples*batch, c), G.WithName("y_samples"), G.WithValue(n.ysv))
	}

	mu, logvar, err := encoder(m, n.x, p)
	if err != nil {
		return nil, err
	}
	if n.ys != nil {
		p.extra = map[string]*G.Node{ir.InputY: n.ys}
	}
	if primitive {
		err = n.primitiveObjective(m, mu, logvar)
	} else {
		err = n.fusedObjective(m, mu, logvar)
	}
	if err != nil {
		return nil, err
	}
	if train {
		if n.grads, err = G.Grad(n.loss, p.trained...); err != nil {
			return nil, errorf("differentiating the loss: %v", err)
		}
	}
	if primitive {
		n.vm = G.NewTapeMachine(g)
		return n, nil
	}
	outs := append(G.Nodes{n.loss, n.recon, n.kl}, n.grads...)
	if n.boundSum != nil {
		outs = append(outs, n.boundSum)
	}
	if n.tape, err = newTape(g, outs...); err != nil {
		return nil, err
	}
	return n, nil
}

// checkPrior is graph's dispatch on the prior: both objectives compute the
// closed-form KL from N(0, I) (klTerm in the fused ELBO op, klDivergence in
// the primitive lowering), the only prior this lowering has.
func checkPrior(m *ir.Model) error {
	if m.Prior.Kind != ir.PriorNormal {
		return errorf("prior %v has no Gorgonia lowering", m.Prior.Kind)
	}
	return nil
}

// fusedObjective lowers sampling, decoder and objective with the fused ops:
// z = reparameterize(mu, logvar, eps) for all S samples at once, the decoder
// on z, and one op for the negative ELBO.
func (n *net) fusedObjective(m *ir.Model, mu, logvar *G.Node) error {
	if usesBound(m) {
		return n.boundObjective(m, mu, logvar)
	}
	if err := checkPrior(m); err != nil {
		return err
	}
	z, err := G.ApplyOp(reparamOp{}, mu, logvar, n.eps)
	if err != nil {
		return errorf("reparameterization: %v", err)
	}
	out, err := decoder(m, z, n.p)
	if err != nil {
		return err
	}
	n.elbo = &elboOp{lik: m.Likelihood.Kind, sigma: m.Likelihood.Sigma}
	args := G.Nodes{out, n.x, mu, logvar, n.klw}
	if m.Likelihood.Kind == ir.GaussianLearned {
		args = append(args, n.p.named[m.Likelihood.Logvar])
	}
	if n.loss, err = G.ApplyOpWithName(n.elbo, "loss", args...); err != nil {
		return errorf("objective: %v", err)
	}
	if n.recon, err = G.ApplyOpWithName(&termOp{parent: n.elbo}, "recon", n.loss); err != nil {
		return errorf("objective: %v", err)
	}
	if n.kl, err = G.ApplyOpWithName(&termOp{parent: n.elbo, kl: true}, "kl", n.loss); err != nil {
		return errorf("objective: %v", err)
	}
	return nil
}

// primitiveObjective lowers sampling, decoder and objective with Gorgonia's
// built-in ops: the reference the fused ops are tested against.
func (n *net) primitiveObjective(m *ir.Model, mu, logvar *G.Node) error {
	if err := checkPrior(m); err != nil {
		return err
	}
	// Several samples per input: the encoder runs once, its outputs are
	// stacked S times so that row s·B+i of z belongs to input i.
	muT, err := tile(mu, n.samples)
	if err != nil {
		return err
	}
	lvT, err := tile(logvar, n.samples)
	if err != nil {
		return err
	}
	z, err := reparameterize(muT, lvT, n.eps)
	if err != nil {
		return err
	}
	out, err := decoder(m, z, n.p)
	if err != nil {
		return err
	}
	xT, err := tile(n.x, n.samples)
	if err != nil {
		return err
	}
	nll, err := negLogLikelihood(m, out, xT, n.p)
	if err != nil {
		return err
	}
	if n.recon, err = G.Mul(nll, G.NewConstant(float32(1/float64(n.samples)))); err != nil {
		return err
	}
	if n.kl, err = klDivergence(mu, logvar); err != nil {
		return err
	}
	wkl, err := G.Mul(n.kl, n.klw)
	if err != nil {
		return err
	}
	total, err := G.Add(n.recon, wkl)
	if err != nil {
		return err
	}
	n.loss, err = G.Mul(total, G.NewConstant(float32(1/float64(n.batch))))
	return err
}

// run evaluates the graph on the current input values with KL weight klw
// and returns the summed reconstruction term and KL and the loss.
func (n *net) run(klw float32) (recon, kl, loss float64, err error) {
	return n.runSeg(klw, -1)
}

// runSeg is run for segment seg of a segmented tape (bands.go): the
// terms are returned by the last segment only. seg −1 runs everything.
func (n *net) runSeg(klw float32, seg int) (recon, kl, loss float64, err error) {
	if seg <= 0 {
		*n.klwv = G.F32(klw)
	}
	if n.tape != nil {
		if err := n.tape.runSeg(seg); err != nil {
			return 0, 0, 0, errorf("running the graph (batch %d): %v", n.batch, err)
		}
		if seg >= 0 && seg < numSegs-1 {
			return 0, 0, 0, nil
		}
		l, err := scalar(n.loss)
		if n.bound != nil {
			return n.bound.recon, n.bound.kl, l, err
		}
		return n.elbo.recon, n.elbo.kl, l, err
	}
	n.vm.Reset()
	if err := n.vm.RunAll(); err != nil {
		return 0, 0, 0, errorf("running the graph (batch %d): %v", n.batch, err)
	}
	r, err1 := scalar(n.recon)
	k, err2 := scalar(n.kl)
	l, err3 := scalar(n.loss)
	if err := errors.Join(err1, err2, err3); err != nil {
		return 0, 0, 0, err
	}
	return r, k, l, nil
}

// grad returns the gradient of trainable parameter i (m.Trainable order)
// from the last run.
func (n *net) grad(i int) ([]float32, error) {
	v := n.grads[i].Value()
	if v == nil {
		return nil, errorf("no gradient for %s", n.p.trained[i].Name())
	}
	s := v.Shape()
	d, err := data("gradient", v, s[0], s.TotalSize()/max(s[0], 1))
	if len(s) != 2 || err != nil {
		return nil, errorf("gradient of %s: unexpected value %T %v", n.p.trained[i].Name(), v, s)
	}
	return d, nil
}

func (n *net) close() {
	if n != nil && n.vm != nil {
		n.vm.Close()
	}
}

func scalar(n *G.Node) (float64, error) {
	v := n.Value()
	if v == nil {
		return 0, errorf("node %s has no value", n.Name())
	}
	switch d := v.Data().(type) {
	case float32:
		return float64(d), nil
	case []float32:
		if len(d) == 1 {
			return float64(d[0]), nil
		}
	}
	return 0, errorf("node %s: expected a scalar, got %v", n.Name(), v.Shape())
}

// fill copies rows idx of x ([*, d], row-major) into dst.
func fillRows(dst []float32, x []float32, d int, idx []int) {
	for i, r := range idx {
		copy(dst[i*d:(i+1)*d], x[r*d:(r+1)*d])
	}
}
