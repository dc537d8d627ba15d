package graph

import (
	"github.com/vaec/vaec/checkpoint"
	"github.com/vaec/vaec/ir"
	G "gorgonia.org/gorgonia"
)

// DecodeLogits runs the decoder of a Bernoulli model on z [n, m.Latent] and
// returns the output layer's logits [n, m.Input.Size], before the sigmoid
// that Decode applies. Evaluation needs them: log p(x|z) = x·l − softplus(l)
// stays exact where sigmoid(l) rounds to 0 or 1 in float32 and log(probs)
// would give −Inf. Gaussian models have no logits (Decode's mean and
// log-variance are already what the likelihood needs); they get an error.
func DecodeLogits(m *ir.Model, w map[string]checkpoint.Tensor, z []float32, n int) ([]float32, error) {
	return decodeLogitsWith(m, w, z, nil, n)
}

func decodeLogitsWith(m *ir.Model, w map[string]checkpoint.Tensor, z, cond []float32, n int) ([]float32, error) {
	if m == nil {
		return nil, errorf("nil model")
	}
	if m.Likelihood.Kind != ir.Bernoulli {
		return nil, errorf("DecodeLogits: likelihood %s has no logits (use Decode)", m.Likelihood)
	}
	out, err := forward(m, w, ir.InputZ, z, cond, n, m.Latent, func(_ *G.ExprGraph, z *G.Node, p *params) ([]*G.Node, error) {
		y, err := decoder(m, z, p)
		return []*G.Node{y}, err
	})
	if err != nil {
		return nil, err
	}
	return out[0], nil
}
