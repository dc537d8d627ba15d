package graph

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"

	"github.com/vaec/vaec/compiler"
	"github.com/vaec/vaec/ir"
)

func TestShardBounds(t *testing.T) {
	conv := convVAE(t, true) // batch norm: one shard whatever the batch
	for _, tc := range []struct {
		m     *ir.Model
		batch int
		want  []int
	}{
		{pytorchExample(), 1, []int{0, 1}},
		{pytorchExample(), 64, []int{0, 64}},
		{pytorchExample(), 127, []int{0, 127}},
		{pytorchExample(), 128, []int{0, 64, 128}},
		{pytorchExample(), 200, []int{0, 67, 134, 200}},
		{pytorchExample(), 256, []int{0, 64, 128, 192, 256}},
		{pytorchExample(), 40, []int{0, 40}},
		{pytorchExample(), 1 << 20, nil}, // capped: checked below
		{conv, 256, []int{0, 256}},
	} {
		got := shardBounds(tc.m, tc.batch)
		if tc.want == nil {
			if len(got)-1 != maxShards || got[len(got)-1] != tc.batch {
				t.Errorf("batch %d: %d shards ending at %d, want %d ending at %d", tc.batch, len(got)-1, got[len(got)-1], maxShards, tc.batch)
			}
			continue
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s batch %d: bounds %v, want %v", tc.m.Name, tc.batch, got, tc.want)
		}
	}
}

// TestShardedStepMatchesWhole: a step cut into shards computes the loss
// terms and the gradient of one net over the whole batch, to rounding,
// for equal shards (summed, then scaled) and unequal ones (weighted).
func TestShardedStepMatchesWhole(t *testing.T) {
	for _, tc := range []struct{ batch, hidden int }{{128, 48}, {193, 48}, {128, 400}, {193, 400}} {
		batch := tc.batch
		t.Run(fmt.Sprint(batch, "x", tc.hidden), func(t *testing.T) {
			m := mlp(784, []int{tc.hidden}, 6, ir.ReLU, ir.Bernoulli)
			m.Train.ClipNorm = 0
			// The shards' own gradients are compared: none left to the
			// update (wgrad.go).
			deferWeightGrads = false
			defer func() { deferWeightGrads = true }()
			set := loadMNIST(t, 0, batch)
			w := InitWeights(m, 3)
			var params [][]float32
			for _, p := range m.Trainable() {
				params = append(params, w[p.Name].Data)
			}
			s, err := newStepper(m, params, batch, 1, nil, func(rows int) (*net, error) { return buildNet(m, w, rows, 1, true) })
			if err != nil {
				t.Fatal(err)
			}
			defer s.close()
			if len(s.shards) < 2 {
				t.Fatalf("%d shards, want several", len(s.shards))
			}
			// The first layer runs in bands (bands.go): the whole net's
			// product is the reference for their partial sums too.
			if s.first == nil || len(s.first.packs) != len(s.shards) {
				t.Fatalf("first layer not in %d bands", len(s.shards))
			}
			// A hidden layer of 400 puts the decoder's output layer in
			// bands too (two of 200 inputs).
			if (s.out != nil) != (tc.hidden >= 2*bandMinRows) {
				t.Fatalf("output layer in bands: %v, hidden %d", s.out != nil, tc.hidden)
			}
			idx := make([]int, batch)
			for i := range idx {
				idx[i] = i
			}
			r, k, loss, _, err := s.forward(set.X, set.D, idx, rand.New(rand.NewPCG(5, 6)), 0.7)
			if err != nil {
				t.Fatal(err)
			}

			whole, err := buildNet(m, w, batch, 1, true)
			if err != nil {
				t.Fatal(err)
			}
			defer whole.close()
			copy(whole.xv.Data().([]float32), set.X)
			fillNormal(rand.New(rand.NewPCG(5, 6)), whole.epsv.Data().([]float32))
			wr, wk, wloss, err := whole.run(0.7)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct {
				name      string
				got, want float64
			}{{"recon", r, wr}, {"kl", k, wk}, {"loss", loss, wloss}} {
				if !closeTo(c.got, c.want, 1e-4, 1e-5) {
					t.Errorf("%s: sharded %v, whole %v", c.name, c.got, c.want)
				}
			}
			// The gradient the optimizer sees: the reduction of update,
			// times its gradient scale.
			scale := 1.0
			if s.equal {
				scale = 1 / float64(len(s.shards))
			}
			for i := range params {
				want, err := whole.grad(i)
				if err != nil {
					t.Fatal(err)
				}
				for j := range want {
					var got float64
					for sh := range s.shards {
						c := 1.0
						if !s.equal {
							c = float64(s.coef[sh])
						}
						got += c * float64(s.grads[sh][i][j])
					}
					got *= scale
					if !closeTo(got, float64(want[j]), 1e-6, 1e-4) {
						t.Fatalf("gradient of %s [%d]: sharded %v, whole %v", m.Trainable()[i].Name, j, got, want[j])
					}
				}
			}
		})
	}
}

// TestShardedTrainIndependentOfGOMAXPROCS trains with several shards per
// batch (3 unequal ones, then 2 in the short last batch), with and without
// gradient clipping (which sums and updates in two passes): the weights
// are bit-identical on 1 to 4 cores.
func TestShardedTrainIndependentOfGOMAXPROCS(t *testing.T) {
	for _, clip := range []float64{0, 0.5} {
		t.Run(fmt.Sprint("clip=", clip), func(t *testing.T) {
			m := mlp(784, []int{32}, 4, ir.ReLU, ir.Bernoulli)
			m.Train.BatchSize, m.Train.Epochs, m.Train.Seed, m.Train.ClipNorm = 200, 1, 9, clip
			o := TrainOptions{Train: loadMNIST(t, 0, 560)}
			if got := len(shardBounds(m, 200)) - 1; got != 3 {
				t.Fatalf("%d shards for a batch of 200, want 3", got)
			}
			sameWeightsOnCores(t, m, o, 4)
		})
	}
}

// TestShardedConvTrainIndependentOfGOMAXPROCS: the conv VAE without batch
// norm is cut into shards too (convolutions, transposed convolutions and
// upsampling inside each shard), with the same guarantee.
func TestShardedConvTrainIndependentOfGOMAXPROCS(t *testing.T) {
	m := convVAEWith(t, false, false)
	m.Train.BatchSize, m.Train.Epochs, m.Train.Seed = 128, 1, 4
	o := TrainOptions{Train: loadMNIST(t, 0, 300)}
	if got := len(shardBounds(m, 128)) - 1; got != 2 {
		t.Fatalf("%d shards for a batch of 128, want 2", got)
	}
	sameWeightsOnCores(t, m, o, 3)
}

// sameWeightsOnCores trains m with o at every GOMAXPROCS from 1 to
// maxProcs and checks that the weights are bit-identical.
func sameWeightsOnCores(t *testing.T, m *ir.Model, o TrainOptions, maxProcs int) {
	t.Helper()
	var first *Result
	for procs := 1; procs <= maxProcs; procs++ {
		prev := runtime.GOMAXPROCS(procs)
		r, err := Train(context.Background(), m, o)
		runtime.GOMAXPROCS(prev)
		if err != nil {
			t.Fatal(err)
		}
		if first == nil {
			first = r
			continue
		}
		sameWeights(t, first.Weights, r.Weights)
	}
}

// benchmarkStep measures the trainer's step (the data-parallel one of
// parallel.go) on one batch of m from MNIST: the draw of ε, every shard's
// forward and backward, the gradient sum and the optimizer. With
// VAEC_OPPROFILE=1 it prints the time per phase (and how idle the cores
// were in each) and the time per op kind of the first shard's tape.
func benchmarkStep(b *testing.B, m *ir.Model) {
	batch := m.Train.BatchSize
	set := loadMNIST(b, 0, batch)
	s, err := (&trainer{m: m, w: InitWeights(m, 1)}).probeStepper(batch)
	if err != nil {
		b.Fatal(err)
	}
	defer s.close()
	opt, err := newOptimizer(m)
	if err != nil {
		b.Fatal(err)
	}
	idx := make([]int, batch)
	for i := range idx {
		idx[i] = i
	}
	rng := rand.New(rand.NewPCG(1, 2))
	profile := os.Getenv("VAEC_OPPROFILE") != ""
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i == 1 && profile {
			// The first step warms caches and pools.
			s.prof = &stepProfile{}
			for _, n := range s.shards {
				n.tape.profile = true
			}
		}
		if _, _, _, _, err := s.forward(set.X, set.D, idx, rng, 1); err != nil {
			b.Fatal(err)
		}
		s.update(opt, int64(i+1))
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "samples/s")
	if profile && b.N > 1 {
		b.Logf("GOMAXPROCS=%d, %d shards of %v rows; per phase (%d steps):\n%s\nper op kind, shard 1 of %d (%d runs):\n%s",
			runtime.GOMAXPROCS(0), len(s.shards), s.lo, s.prof.steps, s.prof.report(runtime.GOMAXPROCS(0)),
			len(s.shards), s.shards[0].tape.runs, s.shards[0].tape.report())
	}
}

// BenchmarkTrainScaling runs BenchmarkTrainStep128's step at every
// GOMAXPROCS from 1 to runtime.NumCPU() and prints samples/s for each with
// the speed-up over one core:
//
//	go test -run='^$' -bench=TrainScaling ./graph
func BenchmarkTrainScaling(b *testing.B) { benchmarkScaling(b, pytorchExample()) }

// BenchmarkTrainStepConv128 is BenchmarkTrainStep128 for the conv VAE of
// testdata/specs/mnist-conv.yaml (no batch norm: two shards of 64 rows).
func BenchmarkTrainStepConv128(b *testing.B) { benchmarkStep(b, mnistConvSpec(b)) }

// BenchmarkTrainScalingConv is BenchmarkTrainScaling for the conv VAE.
func BenchmarkTrainScalingConv(b *testing.B) { benchmarkScaling(b, mnistConvSpec(b)) }

func mnistConvSpec(tb testing.TB) *ir.Model {
	m, err := compiler.CompileFile(filepath.Join("..", "testdata", "specs", "mnist-conv.yaml"))
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

func benchmarkScaling(b *testing.B, m *ir.Model) {
	var base float64
	for procs := 1; procs <= runtime.NumCPU(); procs++ {
		var sps float64
		b.Run(fmt.Sprintf("procs=%d", procs), func(b *testing.B) {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
			benchmarkStep(b, m)
			sps = float64(b.N*m.Train.BatchSize) / b.Elapsed().Seconds()
		})
		if procs == 1 {
			base = sps
		}
		if sps > 0 && base > 0 && !math.IsNaN(sps) {
			fmt.Printf("GOMAXPROCS=%-3d %10.0f samples/s  %5.2fx\n", procs, sps, sps/base)
		}
	}
}

// TestFirstLayerSkipsZeroPixels checks that the MNIST model's first-layer
// weight gradient takes the zero-skipping product (wgrad.data) and that
// a normal step finds every shard's output gradient finite, so the
// skipping is not silently off.
func TestFirstLayerSkipsZeroPixels(t *testing.T) {
	m := pytorchExample()
	batch := m.Train.BatchSize
	set := loadMNIST(t, 0, batch)
	s, err := (&trainer{m: m, w: InitWeights(m, 1)}).probeStepper(batch)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	idx := make([]int, batch)
	for i := range idx {
		idx[i] = i
	}
	if _, _, _, _, err := s.forward(set.X, set.D, idx, rand.New(rand.NewPCG(1, 2)), 1); err != nil {
		t.Fatal(err)
	}
	var data []string
	for i, wg := range s.wgrads {
		if wg == nil || !wg.data {
			continue
		}
		data = append(data, m.Trainable()[i].Name)
		for k, ok := range wg.finite {
			if !ok {
				t.Errorf("%s: shard %d's output gradient reported not finite", m.Trainable()[i].Name, k)
			}
		}
	}
	if first := m.Trainable()[0].Name; len(data) != 1 || data[0] != first {
		t.Fatalf("weights whose gradient skips zero inputs: %v, want the first layer's (%s) only", data, first)
	}
}
