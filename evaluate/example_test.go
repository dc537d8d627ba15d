package evaluate_test

import (
	"context"
	"fmt"
	"math"

	"github.com/vaec/vaec/evaluate"
	"github.com/vaec/vaec/ir"
)

// coin is a one-pixel "VAE" whose decoder ignores z: p(x=1|z) = 0.8.
type coin struct{}

func (coin) Encode(x []float32, n int) ([]float32, []float32, error) {
	return make([]float32, n), make([]float32, n), nil // q(z|x) = N(0, 1) = p(z)
}

func (coin) Decode(z []float32, n int) (evaluate.Decoded, error) {
	l := make([]float32, n)
	for i := range l {
		l[i] = float32(math.Log(0.8 / 0.2)) // logit of 0.8
	}
	return evaluate.Decoded{Logits: l}, nil
}

func ExampleRun() {
	x := []float32{1, 1, 1, 0} // four one-pixel examples
	res, err := evaluate.Run(context.Background(), coin{}, evaluate.Likelihood{Kind: ir.Bernoulli}, x, 4, 1, evaluate.Options{K: 100, Seed: 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	// With q equal to the prior and a decoder that ignores z, the ELBO and
	// the estimate both equal the exact log-likelihood (3·log 0.8 + log 0.2)/4.
	fmt.Printf("ELBO %.4f, log p(x) %.4f, exact %.4f, active units %d\n",
		res.ELBO, res.LogPx, (3*math.Log(0.8)+math.Log(0.2))/4, res.ActiveUnits)
	// Output: ELBO -0.5697, log p(x) -0.5697, exact -0.5697, active units 0
}

func ExampleLogMeanExp() {
	// Log-weights of images are around −100 to −10⁴ nats: exp underflows,
	// LogMeanExp does not.
	fmt.Printf("%.4f\n", evaluate.LogMeanExp([]float64{-5000, -5001, -5002}))
	// Output: -5000.6910
}

func ExampleActiveUnits() {
	// Posterior means of four examples in a 2-dimensional latent space: the
	// first unit tells them apart, the second barely moves (collapsed).
	mu := []float32{
		-1.0, 0.01,
		-0.5, 0.00,
		0.5, 0.02,
		1.0, 0.01,
	}
	n, vars, _ := evaluate.ActiveUnits(mu, 4, 2, evaluate.ActiveThreshold)
	fmt.Printf("%d active; variances %.3g\n", n, vars)
	// Output: 1 active; variances [0.625 5e-05]
}
