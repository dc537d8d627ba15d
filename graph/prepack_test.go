package graph

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/vaec/vaec/ir"
)

// TestPrepackedTrainMatchesUnpacked trains with the shared packed weights
// and without them, and with the weight gradients computed by the update
// (wgrad.go) and by the shards: the weights must be bit-identical, since
// both are Sgemm's arithmetic in the same order. A copy that lagged behind
// an update would change the gradients, so this also shows the copies stay
// current on two cores, one per worker or one for all (copyMode, held or
// switched every few steps): each worker's rows refreshed by its update,
// the other worker's rows caught up before its next shard, and every row
// caught up after the other stepper (the short last batch) has changed
// the weights, with and without clipping (whose update is a second pass).
func TestPrepackedTrainMatchesUnpacked(t *testing.T) {
	mlpModel := func(batch int, clip float64) *ir.Model {
		m := mlp(784, []int{64}, 4, ir.ReLU, ir.Bernoulli)
		m.Train.BatchSize, m.Train.Epochs, m.Train.Seed, m.Train.ClipNorm = batch, 2, 9, clip
		return m
	}
	mnistShape := func() *ir.Model {
		m := mlp(784, []int{400}, 20, ir.ReLU, ir.Bernoulli)
		m.Train.BatchSize, m.Train.Epochs, m.Train.Seed = 128, 1, 3
		return m
	}
	conv := convVAEWith(t, false, false)
	conv.Train.BatchSize, conv.Train.Epochs, conv.Train.Seed = 128, 1, 4
	for _, tc := range []struct {
		name string
		m    *ir.Model
		n    int
	}{
		{"mlp", mlpModel(192, 0), 560},         // 3 equal shards, then 2 in the last batch
		{"mlp-clip", mlpModel(192, 0.5), 560},  // clipping: the shards compute every gradient
		{"mlp-unequal", mlpModel(200, 0), 560}, // unequal shards: likewise
		{"mlp-last-1", mlpModel(192, 0), 577},  // a last batch of one row: no copies of its own
		{"mnist-shape", mnistShape(), 300},     // 784-400-20: heads of 20 columns over 2 k-blocks
		{"conv", conv, 300},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := TrainOptions{Train: loadMNIST(t, 0, tc.n)}
			// The packed path must be in use for the comparison to mean
			// anything.
			s, err := (&trainer{m: tc.m, w: InitWeights(tc.m, 1)}).probeStepper(tc.m.Train.BatchSize)
			if err != nil {
				t.Fatal(err)
			}
			if len(s.uses[0]) == 0 {
				t.Fatal("no weight is packed")
			}
			deferred := 0
			for _, w := range s.wgrads {
				if w != nil {
					deferred++
				}
			}
			if want := tc.m.Train.ClipNorm == 0 && s.equal; (deferred > 0) != want {
				t.Fatalf("%d weight gradients left to the update, want some: %v", deferred, want)
			}
			s.close()
			prev := runtime.GOMAXPROCS(2)
			defer runtime.GOMAXPROCS(prev)
			// Both on (the default), then each off.
			var runs []*Result
			for _, on := range [][2]bool{{true, true}, {false, true}, {true, false}} {
				prepack, deferWeightGrads = on[0], on[1]
				r, err := Train(context.Background(), tc.m, o)
				prepack, deferWeightGrads = true, true
				if err != nil {
					t.Fatal(err)
				}
				runs = append(runs, r)
			}
			sameWeights(t, runs[0].Weights, runs[1].Weights)
			sameWeights(t, runs[0].Weights, runs[2].Weights)
			// The copy mode (copyMode) held or switched every few steps:
			// each switch leaves some copy behind, which must be caught
			// up before it is read.
			for _, hook := range []func(n int) int{
				func(int) int { return modeShared },
				func(int) int { return modePrivate },
				func(int) int { return modeEvict },
				func(int) int { return modeDirect },
				func(n int) int { return n % numModes },
				func(n int) int { return (n / 2) % numModes },
				func(n int) int { return n % 5 % numModes },
			} {
				copyModeHook = hook
				r, err := Train(context.Background(), tc.m, o)
				copyModeHook = nil
				if err != nil {
					t.Fatal(err)
				}
				sameWeights(t, runs[0].Weights, r.Weights)
			}
		})
	}
}

// probeStepper builds a stepper for batch rows of t.m over t.w, with the
// model's samples of z per example, as the trainer does.
func (t *trainer) probeStepper(batch int) (*stepper, error) {
	var params [][]float32
	for _, p := range t.m.Trainable() {
		params = append(params, t.w[p.Name].Data)
	}
	samples := max(t.m.Objective.Samples, 1) // as the trainer's steppers
	s, err := newStepper(t.m, params, batch, samples, nil, func(rows int) (*net, error) { return buildNet(t.m, t.w, rows, samples, true) })
	if err != nil {
		return nil, fmt.Errorf("stepper: %w", err)
	}
	return s, nil
}

// TestFastAddMatchesGorgonia: the gradient sums G.Grad inserts, run by
// fastAdd instead of Gorgonia's Add, leave the trained weights
// bit-identical (the MLP's encoder output feeds two heads, its latent
// input the decoder and the KL term: three such sums a step).
func TestFastAddMatchesGorgonia(t *testing.T) {
	m := mlp(784, []int{64}, 4, ir.ReLU, ir.Bernoulli)
	m.Train.BatchSize, m.Train.Epochs, m.Train.Seed = 128, 2, 5
	o := TrainOptions{Train: loadMNIST(t, 0, 400)}
	n, err := buildNet(m, InitWeights(m, 1), 64, 1, true)
	if err != nil {
		t.Fatal(err)
	}
	adds := 0
	for _, st := range n.tape.steps {
		if _, ok := st.pre.(fastAdd); ok {
			adds++
		}
	}
	n.close()
	if adds == 0 {
		t.Fatal("no gradient sum runs as fastAdd")
	}
	var runs []*Result
	for _, on := range []bool{true, false} {
		fastAdds = on
		r, err := Train(context.Background(), m, o)
		fastAdds = true
		if err != nil {
			t.Fatal(err)
		}
		runs = append(runs, r)
	}
	sameWeights(t, runs[0].Weights, runs[1].Weights)
}

// TestCopyModeKeepsTheFastest drives copyMode with synthetic step times,
// each mode with its own cost, and checks where it settles: on the
// fastest mode whichever it starts from, and not on a mode less than
// modeGain faster (noise must not flip it).
func TestCopyModeKeepsTheFastest(t *testing.T) {
	for _, tc := range []struct {
		name string
		cost [numModes]time.Duration
		want int
	}{
		{"shared fastest", [numModes]time.Duration{ms(1.7), ms(1.9), ms(2.0), ms(1.95)}, modeShared},
		{"private fastest", [numModes]time.Duration{ms(2.0), ms(1.8), ms(1.9), ms(1.95)}, modePrivate},
		{"evict fastest", [numModes]time.Duration{ms(2.0), ms(1.9), ms(1.7), ms(1.95)}, modeEvict},
		{"direct fastest", [numModes]time.Duration{ms(2.0), ms(1.9), ms(1.95), ms(1.7)}, modeDirect},
		{"within the margin", [numModes]time.Duration{ms(1.99), ms(2.0), ms(2.01), ms(1.98)}, modePrivate},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newCopyMode()
			counts := [numModes]int{}
			for step := range 2000 {
				d := tc.cost[m.cur]
				if step >= 1000 {
					counts[m.cur]++
				}
				m.next(d)
			}
			if m.base != tc.want {
				t.Fatalf("settled on mode %d, want %d", m.base, tc.want)
			}
			// Trials take modeTrial steps of every modePeriod.
			if got, min := counts[tc.want], 1000*(modePeriod-modeTrial)/modePeriod-modePeriod; got < min {
				t.Errorf("%d of the last 1,000 steps in mode %d, want at least %d", got, tc.want, min)
			}
		})
	}
}

// TestCopyModeFollowsTheHost: when the costs change mid-run (the host
// moved the vCPUs), copyMode moves to the new fastest mode.
func TestCopyModeFollowsTheHost(t *testing.T) {
	near := [numModes]time.Duration{ms(1.7), ms(1.9), ms(2.0), ms(1.95)}
	far := [numModes]time.Duration{ms(2.2), ms(1.9), ms(1.95), ms(2.0)}
	m := newCopyMode()
	for _, phase := range []struct {
		cost [numModes]time.Duration
		want int
	}{{near, modeShared}, {far, modePrivate}, {near, modeShared}} {
		for range 500 {
			m.next(phase.cost[m.cur])
		}
		if m.base != phase.want {
			t.Fatalf("settled on mode %d, want %d", m.base, phase.want)
		}
	}
}

// ms is f milliseconds.
func ms(f float64) time.Duration { return time.Duration(f * float64(time.Millisecond)) }
