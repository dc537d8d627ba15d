package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/vaec/vaec/checkpoint"
	"github.com/vaec/vaec/compiler"
	"github.com/vaec/vaec/dataset"
	"github.com/vaec/vaec/evaluate"
	"github.com/vaec/vaec/graph"
	"github.com/vaec/vaec/vae"
)

// The experiment of issue 15: on the MNIST example (9,000 training and
// 1,000 validation images, the 784-400-20 MLP), train each variant for
// -epochs with each seed and compare importance-sampled log p(x) on the
// validation split, the same evaluation seed for every model, per image
// and paired across models of the same seed:
//
//	iwae5    objective {type: iwae, samples: 5}   vs  vae5 (the ELBO of 5 plain samples)
//	vamp100  prior {type: vamp, components: 100}  vs  vae1 (N(0, I), 1 sample)
//
// Each run is a directory <dir>/<model>-s<seed> holding spec.yaml and,
// once trained, checkpoint.safetensors: a vaec build directory made by
// `vaec build` and `vaec train` from the same spec.yaml works too, and a
// run whose checkpoint has reached -epochs is not trained again, so the
// command resumes where it stopped. Evaluations are kept beside the
// checkpoint (eval-k<K>-seed<S>.json).

// variant is one model of the experiment: the lines its spec adds to the
// MNIST example.
type variant struct {
	name, lines string
	latent      int  // 0: the example's 20
	ablation    bool // run only when -models names it
}

var variants = []variant{
	{"vae5", "objective: {samples: 5}", 0, false},
	{"iwae5", "objective: {type: iwae, samples: 5}", 0, false},
	{"vae1", "objective: {samples: 1}", 0, false},
	{"vamp100", "prior: {type: vamp, components: 100}", 0, false},
	{"cvae", "condition: {classes: 10}", 0, false},
	// Ablations of the conditional model's latent size: the smaller z, the
	// more the decoder must take the class from y.
	{"cvae8", "condition: {classes: 10}", 8, true},
	{"cvae4", "condition: {classes: 10}", 4, true},
	{"cvae2", "condition: {classes: 10}", 2, true},
	// ... and of its KL weight at the example's latent size: β > 1 makes z
	// cost more, so the decoder takes more of the class from y.
	{"cvae-beta2", "condition: {classes: 10}\nobjective: {beta: 2}", 0, true},
	{"cvae-beta3", "condition: {classes: 10}\nobjective: {beta: 3}", 0, true},
}

// comparisons are the paired tests: the first model should have the
// higher log p(x).
var comparisons = [][2]string{{"iwae5", "vae5"}, {"vamp100", "vae1"}}

// variantSpec is the MNIST example with the variant's lines, epochs and
// seed; data paths are absolute so the spec works from any directory.
const variantSpec = `vaec: 1
name: %[1]s
input:
  shape: [784]
  scale: 1/255
latent: %[6]d
encoder:
  - units: 400
decoder:
  - units: 400
likelihood: bernoulli
%[2]s
train:
  optimizer: {type: adam, learning_rate: 1e-3}
  batch_size: 128
  epochs: %[3]d
  seed: %[4]d
data:
  train:
    path: %[5]s/t10k-images-idx3-ubyte.gz
    limit: 9000
    labels: %[5]s/t10k-labels-idx1-ubyte.gz
  validation:
    path: %[5]s/t10k-images-idx3-ubyte.gz
    start: 9000
    labels: %[5]s/t10k-labels-idx1-ubyte.gz
export: {opset: 17}
`

// variantEval is what the experiment keeps of one evaluation.
type variantEval struct {
	ELBO, IWAE5, LogPx float64
	ActiveUnits        int
	Epoch              int
	ExampleLogPx       []float64

	// Conditional models: log p(x | y+1 mod 10) per image, and the 5-NN
	// accuracy of 100 samples per label (per label and overall).
	LogPxWrong        float64   `json:",omitempty"`
	ExampleLogPxWrong []float64 `json:",omitempty"`
	KNNAccuracy       float64   `json:",omitempty"`
	KNNPerLabel       []float64 `json:",omitempty"`
}

func variantsMain(args []string, out io.Writer) error {
	fs := newFlags("variants")
	dir := fs.String("dir", filepath.Join(os.TempDir(), "vaec-variants"), "directory of the runs")
	epochs := fs.Int("epochs", 50, "epochs per run")
	seeds := fs.String("seeds", "1,2,3", "training seeds")
	k := fs.Int("k", 1000, "importance samples for log p(x)")
	evalSeed := fs.Uint64("eval-seed", 1, "noise seed of every evaluation")
	only := fs.String("models", "", "comma-separated subset of "+variantNames())
	if err := fs.Parse(args); err != nil {
		return err
	}
	seedList, err := intList(*seeds)
	if err != nil {
		return fmt.Errorf("-seeds %w", err)
	}
	root, err := repoRoot()
	if err != nil {
		return err
	}
	var models []variant
	for _, v := range variants {
		if !v.ablation {
			models = append(models, v)
		}
	}
	if *only != "" {
		models = nil
		for _, name := range strings.Split(*only, ",") {
			i := variantIndex(name)
			if i < 0 {
				return fmt.Errorf("-models: unknown model %q (want %s)", name, variantNames())
			}
			models = append(models, variants[i])
		}
	}
	mnist := filepath.Join(root, "testdata", "mnist")
	ctx := context.Background()
	results := map[string][]*variantEval{}
	fmt.Fprintf(out, "variants on MNIST (9,000 train / 1,000 validation), %d epochs, seeds %v, log p(x) with K=%d, evaluation seed %d; load average %s\n",
		*epochs, seedList, *k, *evalSeed, loadAverage())
	for _, v := range models {
		for _, seed := range seedList {
			run := filepath.Join(*dir, fmt.Sprintf("%s-s%d", v.name, seed))
			latent := v.latent
			if latent == 0 {
				latent = 20
			}
			spec := fmt.Sprintf(variantSpec, v.name, v.lines, *epochs, seed, mnist, latent)
			if err := trainVariant(ctx, run, spec, *epochs, out); err != nil {
				return fmt.Errorf("%s: %w", run, err)
			}
			ev, err := evalVariant(ctx, run, *k, *evalSeed)
			if err != nil {
				return fmt.Errorf("%s: %w", run, err)
			}
			results[v.name] = append(results[v.name], ev)
		}
	}
	printVariants(out, models, seedList, results)
	for _, v := range models {
		if rs := results[v.name]; len(rs) > 0 && strings.Contains(v.lines, "condition") {
			printConditional(out, v.name, seedList, rs)
		}
	}
	for _, c := range comparisons {
		a, b := results[c[0]], results[c[1]]
		if len(a) == 0 || len(b) == 0 {
			continue
		}
		printPaired(out, c[0], c[1], seedList, a, b)
	}
	return nil
}

func variantNames() string {
	var s []string
	for _, v := range variants {
		s = append(s, v.name)
	}
	return strings.Join(s, ",")
}

func variantIndex(name string) int {
	for i, v := range variants {
		if v.name == name {
			return i
		}
	}
	return -1
}

// trainVariant trains run from spec unless its checkpoint has reached
// epochs. A spec.yaml already there must be the same text (or a vaec
// build's copy of it): the figures then belong to this spec.
func trainVariant(ctx context.Context, run, spec string, epochs int, out io.Writer) error {
	if err := os.MkdirAll(run, 0o755); err != nil {
		return err
	}
	specPath := filepath.Join(run, "spec.yaml")
	old, err := os.ReadFile(specPath)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.WriteFile(specPath, []byte(spec), 0o644); err != nil {
			return err
		}
	case err != nil:
		return err
	case string(old) != spec:
		return fmt.Errorf("spec.yaml differs from the experiment's spec; remove the run to redo it")
	}
	ckPath := filepath.Join(run, "checkpoint.safetensors")
	if ck, err := checkpoint.Load(ckPath); err == nil && ck.State.Epoch >= epochs {
		return nil
	}
	m, err := compiler.CompileFile(specPath)
	if err != nil {
		return err
	}
	train, err := dataset.Load(m.Data.Train, m.Input)
	if err != nil {
		return err
	}
	val, err := dataset.Load(*m.Data.Validation, m.Input)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "training %s (%d epochs)\n", run, epochs)
	_, err = graph.Train(ctx, m, graph.TrainOptions{Train: train, Val: val, Epochs: epochs,
		Checkpoint: ckPath, Metrics: filepath.Join(run, "metrics.jsonl")})
	return err
}

// evalVariant evaluates run's last checkpoint on the validation split, or
// reads the evaluation kept from an earlier call.
func evalVariant(ctx context.Context, run string, k int, seed uint64) (*variantEval, error) {
	cache := filepath.Join(run, fmt.Sprintf("eval-k%d-seed%d.json", k, seed))
	ckPath := filepath.Join(run, "checkpoint.safetensors")
	ck, err := checkpoint.Load(ckPath)
	if err != nil {
		return nil, err
	}
	if b, err := os.ReadFile(cache); err == nil {
		var ev variantEval
		if json.Unmarshal(b, &ev) == nil && ev.Epoch == ck.State.Epoch {
			return &ev, nil
		}
	}
	m, err := compiler.CompileFile(filepath.Join(run, "spec.yaml"))
	if err != nil {
		return nil, err
	}
	v, err := vae.FromWeights(m, ck.Weights, ck.State.Epoch, ckPath)
	if err != nil {
		return nil, err
	}
	val, err := dataset.Load(*m.Data.Validation, m.Input)
	if err != nil {
		return nil, err
	}
	// BoundK 5 for every model: the IWAE-5 bound of the first five draws,
	// the figure the iwae5 model maximises. A conditional model gets the
	// true labels.
	opts := evaluate.Options{K: k, Seed: seed, Prior: v.Prior, BoundK: 5}
	if c := m.Condition.Classes; c > 0 {
		opts.Labels, opts.Classes = val.Labels, c
	}
	res, err := evaluate.Run(ctx, v, v.Likelihood, val.X, val.N, val.D, opts)
	if err != nil {
		return nil, err
	}
	ev := &variantEval{ELBO: res.ELBO, IWAE5: res.IWAE, LogPx: res.LogPx, ActiveUnits: res.ActiveUnits,
		Epoch: ck.State.Epoch, ExampleLogPx: res.ExampleLogPx}
	if m.Conditional() {
		if err := conditionalFigures(ctx, m, v, val, opts, ev); err != nil {
			return nil, err
		}
	}
	b, err := json.Marshal(ev)
	if err != nil {
		return nil, err
	}
	return ev, checkpoint.WriteFileAtomic(cache, b)
}

func printVariants(out io.Writer, models []variant, seeds []int, results map[string][]*variantEval) {
	fmt.Fprintln(out)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "model\tseed\tepochs\tELBO\tIWAE-5 bound\tlog p(x)\tactive units\t\n")
	for _, v := range models {
		var e, b, l, au float64
		rs := results[v.name]
		for i, r := range rs {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%.2f\t%.2f\t%.2f\t%d\t\n", v.name, seeds[i], r.Epoch, r.ELBO, r.IWAE5, r.LogPx, r.ActiveUnits)
			e, b, l, au = e+r.ELBO, b+r.IWAE5, l+r.LogPx, au+float64(r.ActiveUnits)
		}
		n := float64(len(rs))
		fmt.Fprintf(tw, "%s\tmean\t\t%.2f\t%.2f\t%.2f\t%.1f\t\n", v.name, e/n, b/n, l/n, au/n)
	}
	tw.Flush()
}

// printPaired prints the per-image difference of log p(x) between models
// a and b: per seed (same seed against same seed), and averaged over the
// seeds per image, with a 95% interval from the images' spread.
func printPaired(out io.Writer, a, b string, seeds []int, ra, rb []*variantEval) {
	n := len(ra[0].ExampleLogPx)
	avg := make([]float64, n)
	fmt.Fprintf(out, "\nlog p(x) of %s minus %s, per validation image (paired: same image, same training seed):\n", a, b)
	for s := range ra {
		d := make([]float64, n)
		for i := range d {
			d[i] = ra[s].ExampleLogPx[i] - rb[s].ExampleLogPx[i]
			avg[i] += d[i] / float64(len(ra))
		}
		m, lo, hi := meanCI95(d)
		fmt.Fprintf(out, "  seed %d: mean %+.3f nats, 95%% interval [%+.3f, %+.3f]\n", seeds[s], m, lo, hi)
	}
	m, lo, hi := meanCI95(avg)
	fmt.Fprintf(out, "  over the %d seeds (per image, averaged over seeds): mean %+.3f nats, 95%% interval [%+.3f, %+.3f]\n", len(ra), m, lo, hi)
}

// meanCI95 returns the mean of d and its 95% interval, mean ± 1.96·s/√n
// (the normal approximation; n is 1,000 images here).
func meanCI95(d []float64) (mean, lo, hi float64) {
	for _, v := range d {
		mean += v
	}
	mean /= float64(len(d))
	var ss float64
	for _, v := range d {
		ss += (v - mean) * (v - mean)
	}
	se := math.Sqrt(ss / float64(len(d)-1) / float64(len(d)))
	return mean, mean - 1.96*se, mean + 1.96*se
}
