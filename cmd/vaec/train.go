package main

import (
	"context"
	"errors"
	"fmt"
	"github.com/vaec/vaec/ir"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/vaec/vaec/builddir"
	"github.com/vaec/vaec/dataset"
	"github.com/vaec/vaec/graph"
	"github.com/vaec/vaec/viz"
)

// exitInterrupted is the exit code after Ctrl-C, as shells report a process
// killed by SIGINT (128+2), so scripts can tell it from a failure.
const exitInterrupted = 130

func trainCommand() *cli.Command {
	return &cli.Command{
		Name:      "train",
		Usage:     "train the model of the build directory",
		ArgsUsage: "[build-dir]",
		Description: "Trains the model that `vaec build` left in the build directory (default " + defaultDir + ")\n" +
			"on the data its spec names. After every epoch it writes " + lastCheckpoint + ",\n" +
			"keeps the checkpoint with the best validation ELBO as " + bestCheckpoint + ", and appends\n" +
			"one JSON line to " + metricsFile + ". The same spec, data and seed give bit-identical\n" +
			"weights. The three files are committed together once per epoch, so a crash\n" +
			"at any instant leaves the last completed epoch. Ctrl-C stops after the current\n" +
			"batch; --resume continues exactly where it stopped. A directory that already\n" +
			"holds a trained model is refused unless --resume or --force is given; with\n" +
			"--force its files stay until the new run's first epoch commits.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "dir", Value: defaultDir, Usage: "build directory (also accepted as the argument)"},
			&cli.BoolFlag{Name: "resume", Usage: "continue from DIR/" + lastCheckpoint},
			&cli.BoolFlag{Name: "force", Usage: "start over in a directory that holds a trained model"},
			&cli.IntFlag{Name: "epochs", Usage: fmt.Sprintf("total epochs to reach, %d to %s, overriding the spec's train.epochs", 1, thousands(maxEpochs))},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "no progress output, only the final summary"},
		},
		Action: trainAction,
	}
}

func trainAction(c *cli.Context) error {
	dir := c.String("dir")
	switch c.NArg() {
	case 0:
	case 1:
		if c.IsSet("dir") {
			return usagef("train: give the build directory either as argument or with --dir, not both")
		}
		dir = c.Args().First()
	default:
		return usagef("train: want at most one build directory, got %d arguments", c.NArg())
	}
	if err := checkEpochsFlag(c, "train"); err != nil {
		return err
	}
	if c.Bool("resume") && c.Bool("force") {
		return usagef("train: --resume continues the trained model and --force starts over: give one")
	}
	m, err := loadModel(dir)
	if err != nil {
		return err
	}
	d, err := openBuild(dir, c.App.ErrWriter)
	if err != nil {
		return err
	}
	defer d.Close()
	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		// After the first Ctrl-C, restore the default handling so that a
		// second one kills the process if saving hangs.
		<-ctx.Done()
		stop()
	}()
	return trainBuild(ctx, m, d, trainFlags{
		resume: c.Bool("resume"), force: c.Bool("force"), epochs: c.Int("epochs"), quiet: c.Bool("quiet"),
		out: c.App.Writer, errOut: c.App.ErrWriter,
	})
}

// maxEpochs is the top of the spec's range for train.epochs
// (compiler/check.go); the flag that overrides it obeys the same range.
const maxEpochs = 1_000_000

// checkEpochsFlag refuses an --epochs outside the spec's range.
func checkEpochsFlag(c *cli.Context, verb string) error {
	if !c.IsSet("epochs") {
		return nil
	}
	if n := c.Int("epochs"); n < 1 || n > maxEpochs {
		return usagef("%s: --epochs %d is out of range [1, %d]", verb, n, maxEpochs)
	}
	return nil
}

// openBuild opens the build directory dir for writing (the lock) and
// prints what it repaired.
func openBuild(dir string, errOut io.Writer) (*builddir.Dir, error) {
	d, err := builddir.Open(dir)
	if err != nil {
		return nil, err
	}
	printNotes(errOut, d)
	return d, nil
}

// printNotes prints and forgets the directory's notes.
func printNotes(w io.Writer, d *builddir.Dir) {
	for _, n := range d.Notes {
		fmt.Fprintf(w, "note: %s\n", escapeLines(n))
	}
	d.Notes = nil
}

type trainFlags struct {
	resume, force bool
	epochs        int
	quiet         bool
	out, errOut   io.Writer
}

// trainBuild trains m in the build directory d (also used by `vaec run`).
func trainBuild(ctx context.Context, m *ir.Model, d *builddir.Dir, f trainFlags) error {
	dir := d.Path
	ckpt := filepath.Join(dir, lastCheckpoint)
	epochs := f.epochs
	if epochs == 0 {
		epochs = m.Train.Epochs
	}
	last, err := d.Last()
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	if last != nil && !last.Checked {
		fmt.Fprintf(f.errOut, "note: %s has no checksums (written by an earlier vaec): loaded unchecked\n", ckpt)
	}
	switch {
	case f.resume && last == nil:
		return fmt.Errorf("train: --resume: no checkpoint %s; train without --resume first", ckpt)
	case f.resume && last.State.SpecHash == m.SpecHash && last.State.Epoch >= epochs:
		fmt.Fprintf(f.out, "%s is already at epoch %d of %d: nothing to do (raise --epochs to train longer)\n", ckpt, last.State.Epoch, epochs)
		return nil
	case !f.resume && last != nil && last.State.Epoch > 0 && !f.force:
		what := "this spec"
		if last.State.SpecHash != m.SpecHash {
			what = fmt.Sprintf("another spec (hash %.12s)", last.State.SpecHash)
		}
		return fmt.Errorf("train: %s already holds a model trained for %d epochs from %s; "+
			"give --resume to continue it, or --force to start over (its files stay until the new run's first epoch commits)",
			filepath.Clean(dir), last.State.Epoch, what)
	case !f.resume:
		d.ResetTraining()
	}
	train, val, err := dataset.LoadSplitsWith(m, newLoadReporter(f.errOut, f.quiet).options()) // progress: loading.go
	if err != nil {
		return err
	}
	opts := graph.TrainOptions{
		Train: train, Val: val,
		Store:  d,
		Resume: f.resume,
		Epochs: f.epochs,
	}
	valText := "no validation data"
	if val != nil {
		valText = fmt.Sprintf("%d validation examples", val.N)
	}
	if !f.quiet {
		fmt.Fprintf(f.out, "training %s: %d parameters, %d training examples, %s, batch %d, %d epochs, %s\n",
			m.Name, m.ParamCount(), train.N, valText, m.Train.BatchSize, epochs, m.Train.Optimizer.Kind)
	}
	rep := newReporter(f)
	opts.Progress = rep.progress
	res, err := graph.Train(ctx, m, opts)
	rep.close()
	if errors.Is(err, graph.ErrInterrupted) {
		return cli.Exit(fmt.Sprintf("train: %v", err), exitInterrupted)
	}
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	printNotes(f.errOut, d)
	// The plot is a convenience: failing to draw it does not fail training.
	metrics := filepath.Join(dir, metricsFile)
	curves := filepath.Join(dir, curvesFile)
	if err := viz.PlotCurves(metrics, curves); err != nil {
		fmt.Fprintf(f.errOut, "note: no training curves: %v\n", err)
		curves = ""
	}
	what := "validation"
	if val == nil {
		what = "training"
	}
	switch {
	case res.StoppedEarly:
		fmt.Fprintf(f.out, "stopped early after epoch %d: no %s improvement for %d epochs\n", res.Epoch, what, m.Train.Patience)
	case len(res.History) == 0:
		fmt.Fprintf(f.out, "nothing to train: already at epoch %d\n", res.Epoch)
	}
	bound := "ELBO"
	if m.Objective.Kind == ir.IWAE {
		bound = "IWAE bound" // what an IWAE model is trained, and kept as best, on
	}
	fmt.Fprintf(f.out, "done: %d epochs; best %s %s %.2f nats at epoch %d (%s); last: %s; metrics: %s\n",
		res.Epoch, what, bound, res.BestELBO, res.BestEpoch, filepath.Join(dir, bestCheckpoint), ckpt, metrics)
	if curves != "" {
		fmt.Fprintf(f.out, "curves: %s\n", curves)
	}
	return nil
}

// reporter shows training progress: a progress bar on a terminal, plain
// lines otherwise (logs, CI), and one summary line per epoch on stdout.
type reporter struct {
	f         trainFlags
	tty       bool
	bar       *progressbar.ProgressBar
	lastLine  time.Time
	lastEpoch int
}

// plainEvery is how often plain (non-terminal) progress lines appear
// within an epoch.
const plainEvery = 10 * time.Second

func newReporter(f trainFlags) *reporter {
	r := &reporter{f: f}
	if file, ok := f.errOut.(*os.File); ok && term.IsTerminal(int(file.Fd())) {
		r.tty = true
	}
	return r
}

func (r *reporter) progress(p graph.Progress) {
	if r.f.quiet {
		return
	}
	if p.Done != nil {
		if r.bar != nil {
			_ = r.bar.Finish()
			_ = r.bar.Clear()
			r.bar = nil
		}
		fmt.Fprintln(r.f.out, epochLine(p))
		return
	}
	if r.tty {
		if r.bar == nil || p.Epoch != r.lastEpoch {
			r.bar = progressbar.NewOptions(p.Batches,
				progressbar.OptionSetWriter(r.f.errOut),
				progressbar.OptionShowCount(),
				progressbar.OptionSetWidth(30),
				progressbar.OptionThrottle(100*time.Millisecond),
				progressbar.OptionSetPredictTime(true),
				progressbar.OptionClearOnFinish(),
			)
			r.lastEpoch = p.Epoch
		}
		r.bar.Describe(fmt.Sprintf("epoch %d/%d  loss %.2f  %.0f samples/s", p.Epoch, p.Epochs, p.Loss, p.SamplesPerSec))
		_ = r.bar.Set(p.Batch)
		return
	}
	if p.Epoch != r.lastEpoch {
		r.lastEpoch, r.lastLine = p.Epoch, time.Now()
		return
	}
	if time.Since(r.lastLine) >= plainEvery {
		r.lastLine = time.Now()
		fmt.Fprintf(r.f.errOut, "epoch %d/%d  batch %d/%d  loss %.2f  %.0f samples/s\n", p.Epoch, p.Epochs, p.Batch, p.Batches, p.Loss, p.SamplesPerSec)
	}
}

func (r *reporter) close() {
	if r.bar != nil {
		_ = r.bar.Exit()
		fmt.Fprintln(r.f.errOut)
	}
}

func epochLine(p graph.Progress) string {
	e := p.Done
	s := fmt.Sprintf("epoch %d/%d  train elbo %.2f (recon %.2f, kl %.2f)", e.Epoch, p.Epochs, e.TrainELBO, e.TrainRecon, e.TrainKL)
	if e.ValELBO != nil {
		s += fmt.Sprintf("  val elbo %.2f (recon %.2f, kl %.2f)", *e.ValELBO, *e.ValRecon, *e.ValKL)
	}
	return s + fmt.Sprintf("  kl weight %g  %.0f samples/s  %.1fs", e.KLWeight, e.SamplesPerSec, e.Seconds)
}
