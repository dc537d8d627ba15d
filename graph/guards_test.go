package graph

import (
	"context"
	"strings"
	"testing"

	"github.com/vaec/vaec/dataset"
	"github.com/vaec/vaec/ir"
)

// TestTrainingGuards: training refuses data a Bernoulli likelihood cannot
// model before the first step, and stops (with an error naming epoch and
// batch, not a success) when the loss is astronomically large, as it is on
// raw features in the hundreds of thousands under a unit-variance Gaussian.
func TestTrainingGuards(t *testing.T) {
	const d, n = 6, 40
	set := func(scale float32) *dataset.Set {
		x := make([]float32, n*d)
		for i := range x {
			x[i] = scale * float32(i%7)
		}
		return &dataset.Set{X: x, N: n, D: d}
	}
	tests := []struct {
		name string
		lik  ir.LikelihoodKind
		data *dataset.Set
		want string
	}{
		{"bernoulli on 0..16", ir.Bernoulli, set(16.0 / 6), "the bernoulli likelihood needs inputs in [0, 1], but the records span [0, 16]"},
		{"gaussian on raw values of 1e5", ir.GaussianFixed, set(1e5), "nats per example, beyond 1e+08"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := mlp(d, []int{4}, 2, ir.Tanh, tt.lik)
			m.Train.BatchSize = 20
			_, err := Train(context.Background(), m, TrainOptions{Train: tt.data, Epochs: 1})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Train = %v, want an error containing %q", err, tt.want)
			}
		})
	}
	// Data in range trains.
	m := mlp(d, []int{4}, 2, ir.Tanh, ir.Bernoulli)
	m.Train.BatchSize = 20
	if _, err := Train(context.Background(), m, TrainOptions{Train: set(1.0 / 6), Epochs: 1}); err != nil {
		t.Fatal(err)
	}
}
