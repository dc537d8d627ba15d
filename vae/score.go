package vae

import (
	"context"
	"fmt"

	"github.com/vaec/vaec/dataset"
	"github.com/vaec/vaec/evaluate"
)

// Score evaluates every example of set (model input, as dataset.Load
// returns it) with k importance samples and the deterministic score
// (evaluate.Options.Score): one row per example, in input order.
func (v *Model) Score(ctx context.Context, set *dataset.Set, k int, seed uint64, progress func(done, total int)) (*evaluate.Result, error) {
	if set == nil || set.N == 0 {
		return nil, fmt.Errorf("vae: no examples to score")
	}
	if !v.HasEncoder() || !v.HasDecoder() {
		return nil, fmt.Errorf("vae: scoring needs both the encoder and the decoder")
	}
	opts := evaluate.Options{K: k, Seed: seed, Prior: v.Prior, Score: true, Progress: progress}
	if c := v.Classes(); c > 0 {
		labels, err := v.ExampleLabels(set.N)
		if err != nil {
			return nil, err
		}
		opts.Labels, opts.Classes = labels, c
	}
	return evaluate.Run(ctx, v, v.Likelihood, set.X, set.N, set.D, opts)
}

// FitThreshold returns the outlier threshold for fpr on the validation
// records val: the (1 − fpr) quantile of their deterministic scores.
func (v *Model) FitThreshold(ctx context.Context, val *dataset.Set, fpr float64) (float64, error) {
	res, err := v.Score(ctx, val, 1, 1, nil)
	if err != nil {
		return 0, err
	}
	return evaluate.Threshold(res.Score, fpr)
}
