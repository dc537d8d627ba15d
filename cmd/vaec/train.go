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

	"github.com/vaec/vaec/checkpoint"
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
			"weights. Ctrl-C stops after the current batch and saves the last completed\n" +
			"epoch; --resume continues exactly where it stopped.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "dir", Value: defaultDir, Usage: "build directory (also accepted as the argument)"},
			&cli.BoolFlag{Name: "resume", Usage: "continue from DIR/" + lastCheckpoint},
			&cli.IntFlag{Name: "epochs", Usage: "total epochs to reach, overriding the spec's train.epochs"},
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
	if c.Int("epochs") < 0 {
		return usagef("train: --epochs %d must be positive", c.Int("epochs"))
	}
	m, err := loadModel(dir)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		// After the first Ctrl-C, restore the default handling so that a
		// second one kills the process if saving hangs.
		<-ctx.Done()
		stop()
	}()
	return trainBuild(ctx, m, dir, trainFlags{
		resume: c.Bool("resume"), epochs: c.Int("epochs"), quiet: c.Bool("quiet"),
		out: c.App.Writer, errOut: c.App.ErrWriter,
	})
}

type trainFlags struct {
	resume      bool
	epochs      int
	quiet       bool
	out, errOut io.Writer
}

// loadTrainingData reads the training and validation sets the model names.
// Without a validation source, train.validation_split holds out a seeded
// fraction of the training data.
func loadTrainingData(m *ir.Model) (train, val *dataset.Set, err error) {
	if train, err = dataset.Load(m.Data.Train, m.Input); err != nil {
		return nil, nil, fmt.Errorf("training data: %w", err)
	}
	switch {
	case m.Data.Validation != nil:
		if val, err = dataset.Load(*m.Data.Validation, m.Input); err != nil {
			return nil, nil, fmt.Errorf("validation data: %w", err)
		}
	case m.Train.ValidationSplit > 0:
		train, val = train.Split(m.Train.ValidationSplit, m.Train.Seed)
		if val.N == 0 {
			val = nil
		}
		if train.N == 0 {
			return nil, nil, fmt.Errorf("training data: validation_split %v leaves no training examples", m.Train.ValidationSplit)
		}
	}
	return train, val, nil
}

// trainBuild trains m in the build directory dir (also used by `vaec run`).
func trainBuild(ctx context.Context, m *ir.Model, dir string, f trainFlags) error {
	train, val, err := loadTrainingData(m)
	if err != nil {
		return err
	}
	ckpt := filepath.Join(dir, lastCheckpoint)
	opts := graph.TrainOptions{
		Train: train, Val: val,
		Checkpoint: ckpt,
		Best:       filepath.Join(dir, bestCheckpoint),
		Metrics:    filepath.Join(dir, metricsFile),
		Resume:     f.resume,
		Epochs:     f.epochs,
	}
	epochs := f.epochs
	if epochs == 0 {
		epochs = m.Train.Epochs
	}
	if f.resume {
		c, err := checkpoint.Load(ckpt)
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("train: --resume: no checkpoint %s; train without --resume first", ckpt)
		}
		if err != nil {
			return fmt.Errorf("train: --resume: %w", err)
		}
		if c.State.SpecHash == m.SpecHash && c.State.Epoch >= epochs {
			fmt.Fprintf(f.out, "%s is already at epoch %d of %d: nothing to do (raise --epochs to train longer)\n", ckpt, c.State.Epoch, epochs)
			return nil
		}
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
	// The plot is a convenience: failing to draw it does not fail training.
	curves := filepath.Join(dir, curvesFile)
	if err := viz.PlotCurves(opts.Metrics, curves); err != nil {
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
	fmt.Fprintf(f.out, "done: %d epochs; best %s ELBO %.2f nats at epoch %d (%s); last: %s; metrics: %s\n",
		res.Epoch, what, res.BestELBO, res.BestEpoch, opts.Best, opts.Checkpoint, opts.Metrics)
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
