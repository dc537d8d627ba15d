package main

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/vaec/vaec/evaluate"
	"github.com/vaec/vaec/ir"
)

// defaultK is eval's default number of importance samples. The cost grows
// linearly with K: on the MNIST example (784-400-20) one thousand examples
// take about 18 s of CPU at K = 100 and 3 minutes at K = 1000 (measured:
// 177 s). 100 is quick enough to run after every training and already
// closes most of the gap to the K = 1000 figure; pass --k 1000 or more for a
// figure to publish.
const defaultK = 100

func evalCommand() *cli.Command {
	return &cli.Command{
		Name:  "eval",
		Usage: "measure the model: ELBO, importance-sampled log p(x), active units",
		Description: "On a data set (default: the model's validation data) reports, per example in nats:\n" +
			"the ELBO = E_q[log p(x|z)] − KL(q(z|x) ‖ p(z)) with its two terms, and the\n" +
			"importance-sampled estimate log p(x) ≈ log (1/K) Σ_k p(x|z_k)p(z_k)/q(z_k|x) with\n" +
			"z_k ~ q(z|x) (K = --k draws per example), a lower bound on log p(x) at least as\n" +
			"tight as the ELBO (in expectation) that approaches log p(x) as K grows; and the\n" +
			"number of active latent units (variance over the data of the posterior mean\n" +
			"> 0.01). A table, or JSON with --json.\n" +
			"The model is the build directory's checkpoint, or the ONNX files alone.\n" +
			"ONNX files from other tools (no vaec metadata) work too: names, sizes and\n" +
			"defaults are worked out and stated; the flags under \"ONNX files without vaec\n" +
			"metadata\" below change them, and give a conditional model its --label.",
		Flags: append(append(modelFlags(true, true), dataFlags(0, "")...),
			&cli.IntFlag{Name: "k", Value: defaultK, Usage: "importance samples per example"},
			&cli.Uint64Flag{Name: "seed", Value: 1, Usage: "seed of the z draws"},
			&cli.BoolFlag{Name: "json", Usage: "print JSON instead of a table"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "no progress lines"},
		),
		Action: evalAction,
	}
}

// evalReport is eval's JSON output.
type evalReport struct {
	Model string `json:"model"` // the checkpoint or the ONNX files
	Data  string `json:"data"`
	Seed  uint64 `json:"seed"`
	*evaluate.Result
	Gap     float64 `json:"gap"` // log_px − elbo
	Seconds float64 `json:"seconds"`
}

func evalAction(c *cli.Context) error {
	if c.Args().Present() {
		return usagef("eval takes no arguments, got %q", c.Args().Slice())
	}
	k := c.Int("k")
	if k < 1 || k > 1<<20 {
		return usagef("--k %d: want 1 to %d importance samples", k, 1<<20)
	}
	v, err := openVAE(c, true, true)
	if err != nil {
		return err
	}
	if v.PerRow() {
		// Importance sampling repeats and regroups the examples, so values
		// that change from row to row would meet the wrong example.
		return usagef("eval takes one --label (and --feed files of one row) for all examples")
	}
	set, desc, err := loadData(c, v)
	if err != nil {
		return err
	}
	start := time.Now()
	last := start
	opts := evaluate.Options{K: k, Seed: c.Uint64("seed"), Prior: v.Prior}
	if v.Classes() > 0 {
		// A conditional model: each example's label (the data's, or --label).
		if opts.Labels, err = v.ExampleLabels(set.N); err != nil {
			return err
		}
		opts.Classes = v.Classes()
	}
	if v.IR != nil && v.IR.Objective.Kind == ir.IWAE {
		// Also the bound the model was trained on, from the first draws.
		opts.BoundK = min(v.IR.Objective.Samples, k)
	}
	if !c.Bool("quiet") {
		opts.Progress = func(done, total int) {
			if time.Since(last) >= 10*time.Second && done < total {
				last = time.Now()
				fmt.Fprintf(c.App.ErrWriter, "eval: %d/%d examples, %.0fs\n", done, total, time.Since(start).Seconds())
			}
		}
	}
	res, err := evaluate.Run(c.Context, v, v.Likelihood, set.X, set.N, set.D, opts)
	if err != nil {
		return fmt.Errorf("eval: %w", err)
	}
	rep := evalReport{
		Model: v.Origin, Data: desc, Seed: opts.Seed, Result: res,
		Gap: res.LogPx - res.ELBO, Seconds: time.Since(start).Seconds(),
	}
	if c.Bool("json") {
		enc := json.NewEncoder(c.App.Writer)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	return printEval(c.App.Writer, rep)
}

func printEval(w io.Writer, r evalReport) error {
	fmt.Fprintf(w, "model  %s\ndata   %s\n\n", r.Model, r.Data)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "nats per example\tvalue\t± s.e.\t\n")
	fmt.Fprintf(tw, "ELBO\t%.2f\t%.2f\t\n", r.ELBO, r.ELBOStdErr)
	fmt.Fprintf(tw, "  reconstruction −E_q[log p(x|z)]\t%.2f\t\t\n", r.Recon)
	fmt.Fprintf(tw, "  KL(q(z|x) ‖ p(z))\t%.2f\t\t\n", r.KL)
	if r.BoundK > 0 {
		fmt.Fprintf(tw, "IWAE bound (K=%d, the trained objective)\t%.2f\t\t\n", r.BoundK, r.IWAE)
	}
	fmt.Fprintf(tw, "log p(x), importance-sampled (K=%d)\t%.2f\t%.2f\t\n", r.K, r.LogPx, r.LogPxStdErr)
	fmt.Fprintf(tw, "gap log p(x) − ELBO\t%.2f\t\t\n", r.Gap)
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nactive units  %d of %d (variance of the posterior mean > %g)\n", r.ActiveUnits, r.Latent, evaluate.ActiveThreshold)
	fmt.Fprintf(w, "seed %d, %.1fs\n", r.Seed, r.Seconds)
	return nil
}
