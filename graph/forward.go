package graph

import (
	"math"
	"math/rand/v2"

	"github.com/vaec/vaec/checkpoint"
	"github.com/vaec/vaec/dataset"
	"github.com/vaec/vaec/ir"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// forward builds a one-off graph with a [n, cols] input called name, lowers
// body on it and returns the values of the nodes body returns, copied out.
func forward(m *ir.Model, w map[string]checkpoint.Tensor, name string, in, y []float32, n, cols int,
	body func(g *G.ExprGraph, x *G.Node, p *params) ([]*G.Node, error)) (out [][]float32, err error) {
	if err := checkModel(m); err != nil {
		return nil, err
	}
	if n <= 0 {
		return nil, errorf("%s: %d rows, need at least one", name, n)
	}
	if len(in) != n*cols {
		return nil, errorf("%s: %d values for %d rows of %d", name, len(in), n, cols)
	}
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, errorf("%s: graph failed: %v", name, r)
		}
	}()
	g := G.NewGraph()
	p, err := bindParams(g, m, w)
	if err != nil {
		return nil, err
	}
	if err := bindCondition(g, m, p, y, n); err != nil {
		return nil, err
	}
	xv := tensor.New(tensor.WithShape(n, cols), tensor.WithBacking(append([]float32(nil), in...)))
	x := G.NewMatrix(g, G.Float32, G.WithShape(n, cols), G.WithName(name), G.WithValue(xv))
	nodes, err := body(g, x, p)
	if err != nil {
		return nil, err
	}
	tp, err := newTape(g, nodes...)
	if err != nil {
		return nil, errorf("%s: %v", name, err)
	}
	if err := tp.run(); err != nil {
		return nil, errorf("%s: %v", name, err)
	}
	for _, nd := range nodes {
		v := nd.Value()
		if v == nil {
			return nil, errorf("%s: node %s has no value", name, nd.Name())
		}
		d, ok := v.Data().([]float32)
		if !ok {
			return nil, errorf("%s: node %s holds %T", name, nd.Name(), v.Data())
		}
		out = append(out, append([]float32(nil), d...))
	}
	return out, nil
}

// Encode runs the encoder on x [n, m.Input.Size] (row-major, already scaled)
// and returns mu and logvar [n, m.Latent].
func Encode(m *ir.Model, w map[string]checkpoint.Tensor, x []float32, n int) (mu, logvar []float32, err error) {
	return encodeWith(m, w, x, nil, n)
}

func encodeWith(m *ir.Model, w map[string]checkpoint.Tensor, x, y []float32, n int) (mu, logvar []float32, err error) {
	if m == nil {
		return nil, nil, errorf("nil model")
	}
	out, err := forward(m, w, ir.InputX, x, y, n, m.Input.Size, func(_ *G.ExprGraph, x *G.Node, p *params) ([]*G.Node, error) {
		mu, lv, err := encoder(m, x, p)
		return []*G.Node{mu, lv}, err
	})
	if err != nil {
		return nil, nil, err
	}
	return out[0], out[1], nil
}

// Decode runs the decoder on z [n, m.Latent] and returns one entry per
// m.DecoderOutputs(): "probs" = sigmoid(logits) for Bernoulli, "mean" (after
// the output activation) for the Gaussians, and for GaussianLearned "logvar",
// the learned log-variance repeated for every row ([n, D]).
func Decode(m *ir.Model, w map[string]checkpoint.Tensor, z []float32, n int) (map[string][]float32, error) {
	return decodeWith(m, w, z, nil, n)
}

func decodeWith(m *ir.Model, w map[string]checkpoint.Tensor, z, cond []float32, n int) (map[string][]float32, error) {
	if m == nil {
		return nil, errorf("nil model")
	}
	out, err := forward(m, w, ir.InputZ, z, cond, n, m.Latent, func(_ *G.ExprGraph, z *G.Node, p *params) ([]*G.Node, error) {
		y, err := decoder(m, z, p)
		if err != nil {
			return nil, err
		}
		if m.Likelihood.Kind == ir.Bernoulli {
			if y, err = G.Sigmoid(y); err != nil {
				return nil, errorf("layer %s: sigmoid: %v", m.Output().Name, err)
			}
		}
		return []*G.Node{y}, nil
	})
	if err != nil {
		return nil, err
	}
	res := map[string][]float32{}
	switch m.Likelihood.Kind {
	case ir.Bernoulli:
		res[ir.OutputProbs] = out[0]
	case ir.GaussianLearned:
		res[ir.OutputMean] = out[0]
		lv := w[m.Likelihood.Logvar].Data
		rep := make([]float32, 0, n*len(lv))
		for range n {
			rep = append(rep, lv...)
		}
		res[ir.OutputLogvar] = rep
	default:
		res[ir.OutputMean] = out[0]
	}
	return res, nil
}

// Metrics are per-example averages: ELBO = −(Recon + KL) in nats, Recon the
// expected negative log-likelihood (Monte Carlo over the z samples), KL the
// closed-form KL divergence to N(0, I).
type Metrics struct {
	ELBO  float64 `json:"elbo"`
	Recon float64 `json:"recon"`
	KL    float64 `json:"kl"`
	N     int     `json:"n"` // examples evaluated
	// Bound is the trained bound per example when the objective is not
	// the ELBO (iwae: the importance-weighted bound of the objective's
	// samples); it equals ELBO otherwise.
	Bound float64 `json:"bound"`
}

// evalBatch bounds the rows evaluated at once: large enough to keep the
// matrix multiplies efficient, small enough to keep memory modest.
const evalBatch = 500

// evaluator evaluates a model on data sets, reusing one graph per batch
// size. Its nets share the weight arrays given at creation.
type evaluator struct {
	m       *ir.Model
	w       map[string]checkpoint.Tensor
	samples int
	nets    map[int]*net
}

func newEvaluator(m *ir.Model, w map[string]checkpoint.Tensor, samples int) *evaluator {
	if samples < 1 {
		samples = 1
	}
	return &evaluator{m: m, w: w, samples: samples, nets: map[int]*net{}}
}

func (e *evaluator) net(batch int) (*net, error) {
	if n, ok := e.nets[batch]; ok {
		return n, nil
	}
	n, err := buildNet(e.m, e.w, batch, e.samples, false)
	if err != nil {
		return nil, err
	}
	e.nets[batch] = n
	return n, nil
}

func (e *evaluator) close() {
	for _, n := range e.nets {
		n.close()
	}
}

// evaluate runs every example of set (in order, the last batch smaller)
// with noise from a generator seeded with seed.
func (e *evaluator) evaluate(set *dataset.Set, seed uint64) (Metrics, error) {
	if set == nil || set.N == 0 {
		return Metrics{}, errorf("evaluate: empty data set")
	}
	if set.D != e.m.Input.Size || len(set.X) != set.N*set.D {
		return Metrics{}, errorf("evaluate: data has %d features (%d values for %d examples), the model takes %d", set.D, len(set.X), set.N, e.m.Input.Size)
	}
	rng := rand.New(rand.NewPCG(seed, streamEval))
	var recon, kl, bound float64
	for start := 0; start < set.N; start += evalBatch {
		b := min(evalBatch, set.N-start)
		n, err := e.net(b)
		if err != nil {
			return Metrics{}, err
		}
		copy(n.xv.Data().([]float32), set.X[start*set.D:(start+b)*set.D])
		if n.yv != nil {
			if err := fillCondition(n.yv.Data().([]float32), n.ysv.Data().([]float32), set.Labels, identity(b, start), e.m.Condition.Classes); err != nil {
				return Metrics{}, errorf("evaluate: %v", err)
			}
		}
		fillNormal(rng, n.epsv.Data().([]float32))
		r, k, _, err := n.run(1)
		if err != nil {
			return Metrics{}, err
		}
		recon += r
		kl += k
		if n.bound != nil {
			bound += n.bound.bound
		}
	}
	mt := Metrics{Recon: recon / float64(set.N), KL: kl / float64(set.N), N: set.N}
	mt.ELBO = -(mt.Recon + mt.KL)
	mt.Bound = mt.ELBO
	if e.m.Objective.Kind == ir.IWAE {
		mt.Bound = bound / float64(set.N)
	}
	return mt, nil
}

// Evaluate computes the per-example ELBO and its terms of the model with
// weights w on every example of set, drawing samples z per input (at least
// one) with noise seeded by seed.
func Evaluate(m *ir.Model, w map[string]checkpoint.Tensor, set *dataset.Set, samples int, seed uint64) (Metrics, error) {
	if err := checkModel(m); err != nil {
		return Metrics{}, err
	}
	if err := checkWeights(m, w); err != nil {
		return Metrics{}, errorf("%v", err)
	}
	e := newEvaluator(m, w, samples)
	defer e.close()
	return e.evaluate(set, seed)
}

// fillNormal fills dst with standard normal draws.
func fillNormal(rng *rand.Rand, dst []float32) {
	for i := range dst {
		dst[i] = float32(rng.NormFloat64())
	}
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
