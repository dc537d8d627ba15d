package evaluate

import (
	"context"
	"testing"

	"github.com/vaec/vaec/ir"
)

// BenchmarkOverhead784 measures what Run adds to the encoder and decoder
// (drawing z, log q, log p(z), the Bernoulli log-likelihood of 784 pixels,
// log-mean-exp) per decoded row, with a decoder that only copies logits.
func BenchmarkOverhead784(b *testing.B) {
	const D, L, K = 784, 20, 100
	logits := make([]float32, 1024*D)
	for i := range logits {
		logits[i] = float32(i%17) - 8
	}
	m := funcModel{
		enc: func(x []float32, n int) ([]float32, []float32, error) {
			return make([]float32, n*L), make([]float32, n*L), nil
		},
		dec: func(z []float32, n int) (Decoded, error) { return Decoded{Logits: logits[:n*D]}, nil },
	}
	x := make([]float32, 10*D)
	for i := range x {
		x[i] = float32(i%3) / 2
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Run(context.Background(), m, Likelihood{Kind: ir.Bernoulli}, x, 10, D, Options{K: K}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*10*K), "ns/row")
}
