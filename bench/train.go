package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/vaec/vaec/dataset"
	"github.com/vaec/vaec/graph"
	"github.com/vaec/vaec/ir"
)

// trainRun is one training run's figures.
type trainRun struct {
	samplesPerSec float64 // training examples per second of training time (validation excluded)
	valELBO       float64 // after the last epoch
}

func trainMain(args []string, out io.Writer) error {
	fs := newFlags("train")
	rounds := fs.Int("rounds", 3, "interleaved rounds (vaec, then PyTorch, each round)")
	epochs := fs.Int("epochs", 10, "epochs per run")
	spec := fs.String("spec", "testdata/specs/mnist.yaml", "spec to train (relative to the repository)")
	python := fs.String("python", "/usr/bin/python3", "Python with torch (Debian's python3-torch)")
	threads := fs.String("torch-threads", "1", "PyTorch thread counts to run each round; the best median is the baseline")
	skipTorch := fs.Bool("skip-torch", false, "measure vaec only")
	torchScript := fs.String("torch-script", "", "the PyTorch reference script (default: bench/pytorch_conv_vae.py for specs with convolutions, bench/pytorch_vae.py otherwise)")
	seedPerRound := fs.Bool("seed-per-round", false, "round r trains with seed r (vaec and PyTorch), so that the ELBO medians are over seeds; otherwise every round uses the spec's seed (PyTorch: 1)")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of vaec's training runs to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	threadCounts, err := intList(*threads)
	if err != nil {
		return fmt.Errorf("-torch-threads %w", err)
	}
	root, m, err := compileSpec(*spec)
	if err != nil {
		return err
	}
	if m.Data.Validation == nil {
		return fmt.Errorf("%s has no data.validation source; the comparison needs the fixed split", *spec)
	}
	train, err := dataset.Load(m.Data.Train, m.Input)
	if err != nil {
		return err
	}
	val, err := dataset.Load(*m.Data.Validation, m.Input)
	if err != nil {
		return err
	}
	script := *torchScript
	if script == "" {
		script = filepath.Join("bench", torchReference(m))
	}
	fmt.Fprintf(out, "training %s (%d parameters) on %d examples, validating on %d, batch %d, %d epochs, %d rounds; PyTorch reference %s; load average %s\n",
		m.Name, m.ParamCount(), train.N, val.N, m.Train.BatchSize, *epochs, *rounds, script, loadAverage())

	stop, err := startProfile(*cpuprofile)
	if err != nil {
		return err
	}
	var vaecRuns []trainRun
	torchRuns := map[int][]trainRun{}
	ctx := context.Background()
	torchSeed := 1
	for r := 1; r <= *rounds; r++ {
		if *seedPerRound {
			m.Train.Seed, torchSeed = uint64(r), r
		}
		res, err := graph.Train(ctx, m, graph.TrainOptions{Train: train, Val: val, Epochs: *epochs})
		if err != nil {
			return fmt.Errorf("vaec: %w", err)
		}
		run := vaecFigures(res, train.N)
		vaecRuns = append(vaecRuns, run)
		fmt.Fprintf(out, "round %d  vaec              %8.0f samples/s  val ELBO %.2f\n", r, run.samplesPerSec, run.valELBO)
		if *skipTorch {
			continue
		}
		for _, t := range threadCounts {
			run, err := torchTrain(ctx, *python, root, script, *epochs, t, torchSeed)
			if err != nil {
				return err
			}
			torchRuns[t] = append(torchRuns[t], run)
			fmt.Fprintf(out, "round %d  pytorch %d thread%s %8.0f samples/s  val ELBO %.2f\n", r, t, plural(t), run.samplesPerSec, run.valELBO)
		}
	}
	stop()

	vs, ve := columns(vaecRuns)
	fmt.Fprintf(out, "\nvaec:    median %.0f samples/s [%s]; val ELBO after %d epochs: median %.2f [%s]\n",
		median(vs), figures(vs, "%.0f"), *epochs, median(ve), figures(ve, "%.2f"))
	if *skipTorch {
		return nil
	}
	bestT, bestS, bestE := 0, 0.0, 0.0
	for _, t := range threadCounts {
		s, e := columns(torchRuns[t])
		ms, me := median(s), median(e)
		fmt.Fprintf(out, "pytorch (%d thread%s): median %.0f samples/s [%s]; val ELBO: median %.2f [%s]\n",
			t, plural(t), ms, figures(s, "%.0f"), me, figures(e, "%.2f"))
		if ms > bestS {
			bestT, bestS, bestE = t, ms, me
		}
	}
	fmt.Fprintf(out, "\nspeed: vaec / pytorch (%d thread%s, its best) = %.2fx\n", bestT, plural(bestT), median(vs)/bestS)
	fmt.Fprintf(out, "quality: vaec val ELBO - pytorch val ELBO = %+.2f nats (positive: vaec better)\n", median(ve)-bestE)
	return nil
}

// vaecFigures turns a training result into samples/s over all epochs'
// training time, and the last validation ELBO.
func vaecFigures(res *graph.Result, n int) trainRun {
	var secs float64
	for _, h := range res.History {
		secs += float64(n) / h.SamplesPerSec
	}
	run := trainRun{samplesPerSec: float64(n*len(res.History)) / secs}
	if last := res.History[len(res.History)-1]; last.ValELBO != nil {
		run.valELBO = *last.ValELBO
	}
	return run
}

// torchTrain runs the PyTorch reference and reads its summary line.
func torchTrain(ctx context.Context, python, root, script string, epochs, threads, seed int) (trainRun, error) {
	if !filepath.IsAbs(script) {
		script = filepath.Join(root, script)
	}
	images := filepath.Join(root, "testdata", "mnist", "t10k-images-idx3-ubyte.gz")
	stdout, err := runPython(ctx, python, torchEnv(), os.Stderr, script, "--images", images,
		"--epochs", fmt.Sprint(epochs), "--threads", fmt.Sprint(threads), "--seed", fmt.Sprint(seed))
	if err != nil {
		return trainRun{}, fmt.Errorf("pytorch: %w (install Debian's python3-torch, or pass -skip-torch)", err)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	var s struct {
		Summary       bool    `json:"summary"`
		SamplesPerSec float64 `json:"samples_per_s"`
		ValELBO       float64 `json:"val_elbo"`
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &s); err != nil || !s.Summary {
		return trainRun{}, fmt.Errorf("pytorch: no summary line in its output:\n%s", stdout)
	}
	return trainRun{samplesPerSec: s.SamplesPerSec, valELBO: s.ValELBO}, nil
}

// torchReference names the PyTorch script that trains the same model as
// m: the conv VAE of issue 11 when m has image layers, the MLP otherwise.
// Both train on the same MNIST split with the same settings.
func torchReference(m *ir.Model) string {
	for _, g := range []*ir.Graph{&m.Encoder, &m.Decoder} {
		for _, n := range g.Nodes {
			if n.Op != ir.Dense {
				return "pytorch_conv_vae.py"
			}
		}
	}
	return "pytorch_vae.py"
}

// torchEnv gives PyTorch its fastest setting on this hardware: Debian's
// OpenBLAS 0.3.21 mis-detects AVX-512 Xeons and falls back to slow kernels
// unless told the core type (41 vs 27 GFLOP/s measured here).
func torchEnv() []string {
	env := os.Environ()
	if os.Getenv("OPENBLAS_CORETYPE") != "" {
		return env
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil && strings.Contains(string(b), " avx512f") {
		env = append(env, "OPENBLAS_CORETYPE=SkylakeX")
	}
	return env
}

func columns(runs []trainRun) (speed, elbo []float64) {
	for _, r := range runs {
		speed = append(speed, r.samplesPerSec)
		elbo = append(elbo, r.valELBO)
	}
	return speed, elbo
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
