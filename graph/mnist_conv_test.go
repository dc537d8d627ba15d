package graph

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/vaec/vaec/compiler"
)

// TestMNISTConvTenEpochs is issue 11's acceptance run: the conv VAE of
// testdata/specs/mnist-conv.yaml (1,691,369 parameters) trained for 10
// epochs on the first 9,000 MNIST test images with seeds 1, 2 and 3, the
// median validation ELBO on the last 1,000 within 1 nat of PyTorch's on
// the same model and split (bench/pytorch_conv_vae.py: −117.53, −126.92
// and −117.85; median −117.85), that is −118.85 or better. A conv VAE
// this short is seed-sensitive, so medians of seeds are compared. It
// takes about 10 to 15 minutes on two cores, so it runs only with
// VAEC_LONG=1.
func TestMNISTConvTenEpochs(t *testing.T) {
	if os.Getenv("VAEC_LONG") == "" {
		t.Skip("set VAEC_LONG=1 to run the 10-epoch conv VAE training (three seeds)")
	}
	m, err := compiler.CompileFile(filepath.Join("..", "testdata", "specs", "mnist-conv.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if got := m.ParamCount(); got != 1_691_369 {
		t.Fatalf("%d parameters, want PyTorch's 1,691,369", got)
	}
	train, val := loadMNIST(t, 0, 9000), loadMNIST(t, 9000, 1000)
	var finals []float64
	for _, seed := range []uint64{1, 2, 3} {
		m.Train.Seed = seed
		res, err := Train(context.Background(), m, TrainOptions{Train: train, Val: val})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range res.History {
			t.Logf("seed %d epoch %2d  train elbo %8.2f  val elbo %8.2f (recon %7.2f kl %5.2f)  %6.0f samples/s  %.1fs",
				seed, e.Epoch, e.TrainELBO, *e.ValELBO, *e.ValRecon, *e.ValKL, e.SamplesPerSec, e.Seconds)
		}
		finals = append(finals, *res.History[len(res.History)-1].ValELBO)
	}
	sorted := slices.Clone(finals)
	slices.Sort(sorted)
	t.Logf("validation ELBO after 10 epochs, seeds 1, 2, 3: %.2f; median %.2f (PyTorch: −117.53, −126.92, −117.85; median −117.85)", finals, sorted[1])
	if sorted[1] < -118.85 {
		t.Errorf("median validation ELBO %.2f, want ≥ −118.85", sorted[1])
	}
}
