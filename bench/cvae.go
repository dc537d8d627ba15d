package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"text/tabwriter"

	"github.com/vaec/vaec/dataset"
	"github.com/vaec/vaec/evaluate"
	"github.com/vaec/vaec/ir"
	"github.com/vaec/vaec/vae"
)

// The conditional VAE's figures (issue 15): does the decoder use y?
//
//   - log p(x|y) with the true label against the wrong label y+1 mod C, per
//     validation image, the same noise for both;
//   - 100 samples per label (z from the prior, E[x|z, y] as vaec sample
//     draws it), each classified by its 5 nearest training images
//     (Euclidean distance on the scaled pixels, majority vote, ties to the
//     nearer): the fraction that carries its label.

// samplesPerLabel and knnK are the experiment's sizes.
const (
	samplesPerLabel = 100
	knnK            = 5
	sampleSeed      = 1
)

func conditionalFigures(ctx context.Context, m *ir.Model, v *vae.Model, val *dataset.Set, opts evaluate.Options, ev *variantEval) error {
	c := m.Condition.Classes
	wrong := make([]int, len(val.Labels))
	for i, l := range val.Labels {
		wrong[i] = (l + 1) % c
	}
	opts.Labels = wrong
	res, err := evaluate.Run(ctx, v, v.Likelihood, val.X, val.N, val.D, opts)
	if err != nil {
		return err
	}
	ev.LogPxWrong, ev.ExampleLogPxWrong = res.LogPx, res.ExampleLogPx

	train, err := dataset.Load(m.Data.Train, m.Input)
	if err != nil {
		return err
	}
	n := samplesPerLabel * c
	labels := make([]int, n)
	for i := range labels {
		labels[i] = i / samplesPerLabel
	}
	if err := v.SetLabels(labels); err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(sampleSeed, 0))
	z := make([]float32, n*m.Latent)
	if err := v.Prior.Sample(rng.NormFloat64, z); err != nil {
		return err
	}
	x, err := v.Expected(z, n)
	if err != nil {
		return err
	}
	ev.KNNPerLabel = make([]float64, c)
	var right int
	for i := range n {
		if knnClass(train, x[i*m.Input.Size:(i+1)*m.Input.Size], knnK) == labels[i] {
			right++
			ev.KNNPerLabel[labels[i]] += 1 / float64(samplesPerLabel)
		}
	}
	ev.KNNAccuracy = float64(right) / float64(n)
	return nil
}

// knnClass is the majority label of the k training images nearest to x.
func knnClass(train *dataset.Set, x []float32, k int) int {
	type nb struct {
		d     float64
		label int
	}
	best := make([]nb, 0, k+1)
	d := train.D
	for r := 0; r < train.N; r++ {
		row := train.X[r*d : (r+1)*d]
		var s float64
		for j, v := range row {
			e := float64(v - x[j])
			s += e * e
		}
		if len(best) == k && s >= best[k-1].d {
			continue
		}
		best = append(best, nb{s, train.Labels[r]})
		slices.SortFunc(best, func(a, b nb) int {
			switch {
			case a.d < b.d:
				return -1
			case a.d > b.d:
				return 1
			}
			return 0
		})
		if len(best) > k {
			best = best[:k]
		}
	}
	votes := map[int]int{}
	for _, b := range best {
		votes[b.label]++
	}
	// Majority; a tie goes to the label of the nearer neighbour.
	winner, most := -1, 0
	for _, b := range best {
		if votes[b.label] > most {
			winner, most = b.label, votes[b.label]
		}
	}
	return winner
}

func printConditional(out io.Writer, name string, seeds []int, rs []*variantEval) {
	fmt.Fprintln(out, "\n"+name+": log p(x|y) with the true label and with y+1 mod 10 (K as above), and 5-NN labels of 100 samples per label:")
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "seed\tlog p(x|y)\tlog p(x|y+1)\tmean difference\t95%% interval\t5-NN accuracy\tper label 0..9\t\n")
	for i, r := range rs {
		d := make([]float64, len(r.ExampleLogPx))
		for j := range d {
			d[j] = r.ExampleLogPx[j] - r.ExampleLogPxWrong[j]
		}
		m, lo, hi := meanCI95(d)
		per := ""
		for _, a := range r.KNNPerLabel {
			per += fmt.Sprintf(" %.2f", a)
		}
		fmt.Fprintf(tw, "%d\t%.2f\t%.2f\t%+.2f\t[%+.2f, %+.2f]\t%.3f\t%s\t\n", seeds[i], r.LogPx, r.LogPxWrong, m, lo, hi, r.KNNAccuracy, per)
	}
	tw.Flush()
}
