package graph

import (
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
)

// TestBandsFirstLayer checks the banded first layer of the MNIST model
// (784-400-20, batch 128: two shards, two bands of 392 inputs) against
// the layer computed in float64 from its definition, relu(x·W1 + b1),
// on one core and on two, and that the stepper without bands (the whole
// product in each shard) gives the same loss to float32 rounding.
func TestBandsFirstLayer(t *testing.T) {
	m := pytorchExample()
	batch := m.Train.BatchSize
	set := loadMNIST(t, 0, batch)
	w := InitWeights(m, 1)
	// Biases start at zero; give them values so that they are tested.
	b1 := w[m.Trainable()[1].Name].Data
	for j := range b1 {
		b1[j] = float32(j%7-3) * 0.01
	}
	var params [][]float32
	for _, p := range m.Trainable() {
		params = append(params, w[p.Name].Data)
	}
	newS := func(bands bool) *stepper {
		bandFirstLayer = bands
		defer func() { bandFirstLayer = true }()
		s, err := newStepper(m, params, batch, 1, nil, func(rows int) (*net, error) { return buildNet(m, w, rows, 1, true) })
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.close)
		return s
	}
	idx := make([]int, batch)
	for i := range idx {
		idx[i] = batch - 1 - i // not the identity: the gather must follow idx
	}
	W := params[0]
	in, out := set.D, len(b1)
	for _, procs := range []int{1, 2} {
		prev := runtime.GOMAXPROCS(procs)
		s, s0 := newS(true), newS(false)
		if s.band == nil || !slices.Equal(s.band.cuts, []int{0, 392, 784}) {
			runtime.GOMAXPROCS(prev)
			t.Fatalf("GOMAXPROCS=%d: bands %v, want cuts [0 392 784]", procs, s.band)
		}
		if s0.band != nil {
			t.Fatal("bands with bandFirstLayer off")
		}
		_, _, loss, _, err := s.forward(set.X, set.D, idx, rand.New(rand.NewPCG(1, 2)), 1)
		_, _, loss0, _, err0 := s0.forward(set.X, set.D, idx, rand.New(rand.NewPCG(1, 2)), 1)
		runtime.GOMAXPROCS(prev)
		if err != nil || err0 != nil {
			t.Fatal(err, err0)
		}
		if !closeTo(loss, loss0, 1e-6, 1e-6) {
			t.Errorf("GOMAXPROCS=%d: loss %v with bands, %v without", procs, loss, loss0)
		}
		worst := 0.0
		for k := range s.shards {
			h := s.band.h[k]
			for i := 0; i < s.lo[k+1]-s.lo[k]; i++ {
				x := set.X[idx[s.lo[k]+i]*in:][:in]
				for o := 0; o < out; o++ {
					sum, mag := float64(b1[o]), math.Abs(float64(b1[o]))
					for j, v := range x {
						sum += float64(v) * float64(W[j*out+o])
						mag += math.Abs(float64(v) * float64(W[j*out+o]))
					}
					want := max(sum, 0)
					// float32 sums of 784 terms: a few ulps of the magnitude.
					if d := math.Abs(float64(h[i*out+o]) - want); d > 1e-5*mag+1e-7 {
						t.Fatalf("GOMAXPROCS=%d: shard %d row %d unit %d: %v, want %v", procs, k, i, o, h[i*out+o], want)
					} else if mag > 0 {
						worst = max(worst, d/mag)
					}
				}
			}
		}
		t.Logf("GOMAXPROCS=%d: largest error relative to Σ|x·w|: %.2g", procs, worst)
	}
}
