package graph

import (
	"context"
	"math/rand/v2"
	"os"
	"slices"
	"testing"

	"github.com/vaec/vaec/ir"
)

// pytorchExample is the configuration of PyTorch's VAE example:
// 784-400-20, ReLU, Bernoulli, Adam 1e-3, batch 128.
func pytorchExample() *ir.Model {
	m := mlp(784, []int{400}, 20, ir.ReLU, ir.Bernoulli)
	m.Train.BatchSize = 128
	m.Train.Epochs = 10
	m.Train.Seed = 1
	return m
}

// TestMNISTTenEpochs is the acceptance run: the PyTorch example's
// configuration on the first 9,000 MNIST test images, validated on the last
// 1,000, must reach a validation ELBO within 1 nat of PyTorch's on the same
// split (bench/pytorch_vae.py: −123.22 nats after 10 epochs), that is
// −124.2 or better. vaec reaches −123.07 (−123.05 before the first layer ran in bands).
// It takes a minute or more, so it runs only with VAEC_LONG=1.
func TestMNISTTenEpochs(t *testing.T) {
	if os.Getenv("VAEC_LONG") == "" {
		t.Skip("set VAEC_LONG=1 to run the 10-epoch MNIST training")
	}
	m := pytorchExample()
	o := runFiles(t.TempDir(), TrainOptions{Train: loadMNIST(t, 0, 9000), Val: loadMNIST(t, 9000, 1000)})
	res, err := Train(context.Background(), m, o)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range res.History {
		t.Logf("epoch %2d  train elbo %8.2f (recon %7.2f kl %5.2f)  val elbo %8.2f (recon %7.2f kl %5.2f)  %6.0f samples/s  %.1fs",
			e.Epoch, e.TrainELBO, e.TrainRecon, e.TrainKL, *e.ValELBO, *e.ValRecon, *e.ValKL, e.SamplesPerSec, e.Seconds)
	}
	if last := *res.History[len(res.History)-1].ValELBO; last < -124.2 {
		t.Errorf("validation ELBO after 10 epochs = %.2f, want ≥ -124.2 (PyTorch: -123.22)", last)
	}
}

// BenchmarkTrainEpochMNIST trains the PyTorch example's configuration for
// one epoch on the first 9,000 MNIST test images (what
// bench/pytorch_vae.py trains on) through Train, so that everything a real
// epoch does is counted (shuffling, batch copies, noise, the last partial
// batch, the optimizer); it reports training samples/s as Train measures
// them, comparable with the PyTorch script's figure.
func BenchmarkTrainEpochMNIST(b *testing.B) {
	m := pytorchExample()
	set := loadMNIST(b, 0, 9000)
	var sps []float64
	for i := 0; i < b.N; i++ {
		res, err := Train(context.Background(), m, TrainOptions{Train: set, Epochs: 1})
		if err != nil {
			b.Fatal(err)
		}
		sps = append(sps, res.History[0].SamplesPerSec)
	}
	slices.Sort(sps)
	b.ReportMetric(sps[len(sps)/2], "samples/s")
}

// BenchmarkTrainStep128 measures one optimizer step of the PyTorch example's
// configuration (batch 128) on MNIST as Train runs it: the fused lowering,
// data-parallel across the batch's shards (parallel.go); it reports
// training samples/s. With VAEC_OPPROFILE=1 it also prints the time per
// phase and per op kind. For a pprof profile:
//
//	go test -run='^$' -bench=TrainStep128 -cpuprofile cpu.out ./graph
//	go tool pprof -top graph.test cpu.out
func BenchmarkTrainStep128(b *testing.B) { benchmarkStep(b, pytorchExample()) }

// BenchmarkTrainStep128Unsharded is the fused step on one net for the
// whole batch, its products split across the cores: the step before the
// data-parallel one, for comparison.
func BenchmarkTrainStep128Unsharded(b *testing.B) { benchmarkTrainStep(b, pytorchExample(), false) }

// BenchmarkTrainStep128Primitive is the same step with Gorgonia's built-in
// ops on its TapeMachine: the reference lowering, for comparison.
func BenchmarkTrainStep128Primitive(b *testing.B) { benchmarkTrainStep(b, pytorchExample(), true) }

func benchmarkTrainStep(b *testing.B, m *ir.Model, primitive bool) {
	set := loadMNIST(b, 0, m.Train.BatchSize)
	w := InitWeights(m, 1)
	n, err := buildNetLowering(m, w, m.Train.BatchSize, 1, true, primitive)
	if err != nil {
		b.Fatal(err)
	}
	defer n.close()
	opt, err := newOptimizer(m)
	if err != nil {
		b.Fatal(err)
	}
	var data, grads [][]float32
	for _, p := range m.Trainable() {
		data = append(data, w[p.Name].Data)
	}
	grads = make([][]float32, len(data))
	copy(n.xv.Data().([]float32), set.X)
	rng := rand.New(rand.NewPCG(1, 2))
	fillNormal(rng, n.epsv.Data().([]float32))
	profile := n.tape != nil && os.Getenv("VAEC_OPPROFILE") != ""
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i == 1 && profile {
			n.tape.profile = true // the first run warms caches and pools
		}
		if _, _, _, err := n.run(1); err != nil {
			b.Fatal(err)
		}
		for j := range grads {
			if grads[j], err = n.grad(j); err != nil {
				b.Fatal(err)
			}
		}
		opt.step(int64(i+1), data, grads)
	}
	b.ReportMetric(float64(b.N*m.Train.BatchSize)/b.Elapsed().Seconds(), "samples/s")
	if profile && b.N > 1 {
		b.Logf("per-op time of the fused step (%d runs):\n%s", n.tape.runs, n.tape.report())
	}
}
