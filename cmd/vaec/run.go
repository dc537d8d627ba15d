package main

import (
	"fmt"
	"github.com/vaec/vaec/ir"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/vaec/vaec/builddir"
)

// runCommand chains build, train, export and verify: the whole pipeline in
// one command, as the README's quick start runs it.
func runCommand() *cli.Command {
	return &cli.Command{
		Name:      "run",
		Usage:     "build, train, export and verify a spec in one go",
		ArgsUsage: "spec.yaml",
		Description: "Does what `vaec build spec.yaml && vaec train && vaec export --onnx` do, in the\n" +
			"build directory: compiles the spec, trains it, writes encoder.onnx and decoder.onnx\n" +
			"and checks them against the training graph. Like make, it does only what is out of\n" +
			"date: a directory trained from the same spec to its epochs is not trained again\n" +
			"(one trained part of the way continues), and the ONNX files are rewritten only when\n" +
			"missing or exported from another checkpoint. A directory trained from a different\n" +
			"spec is refused unless --force.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "dir", Value: defaultDir, Usage: "build directory to write"},
			&cli.IntFlag{Name: "epochs", Usage: fmt.Sprintf("total epochs to reach, 1 to %s, overriding the spec's train.epochs", thousands(maxEpochs))},
			&cli.BoolFlag{Name: "resume", Usage: "continue training from DIR/" + lastCheckpoint + " (what run does anyway for the same spec)"},
			&cli.BoolFlag{Name: "force", Usage: "start over in a directory trained from a different spec"},
			&cli.IntFlag{Name: "opset", Usage: "ONNX opset (default: the spec's, else 17)"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "no progress output"},
		},
		Action: runAction,
	}
}

func runAction(c *cli.Context) error {
	if c.NArg() != 1 {
		return usagef("run: want one spec file, got %d arguments", c.NArg())
	}
	if err := checkEpochsFlag(c, "run"); err != nil {
		return err
	}
	spec, dir, out := c.Args().First(), c.String("dir"), c.App.Writer
	src, err := readSpec(spec)
	if err != nil {
		return fmt.Errorf("run: %w", err)
	}
	m, err := compileSpec(c.App.ErrWriter, spec, src)
	if err != nil {
		return err
	}
	if _, err := checkMemory(m); err != nil {
		return fmt.Errorf("run: %w", err)
	}
	d, err := openBuild(dir, c.App.ErrWriter)
	if err != nil {
		return err
	}
	defer d.Close()
	epochs := c.Int("epochs")
	if epochs == 0 {
		epochs = m.Train.Epochs
	}
	trained, hash, err := builddir.Trained(dir)
	if err != nil {
		return fmt.Errorf("run: %w", err)
	}
	if trained > 0 && hash != m.SpecHash && !c.Bool("force") {
		return fmt.Errorf("run: %s holds a model trained for %d epochs from another spec (hash %.12s, %s has %.12s); "+
			"give --force to replace it, or --dir for another directory", filepath.Clean(dir), trained, hash, spec, m.SpecHash)
	}
	same := trained > 0 && hash == m.SpecHash

	section(out, "build")
	if err := writeBuild(d, m, src); err != nil {
		return fmt.Errorf("run: %w", err)
	}
	if err := printBuildTable(out, m, dir); err != nil {
		return err
	}

	section(out, "train")
	if same && trained >= epochs {
		fmt.Fprintf(out, "up to date: %s is trained from this spec to epoch %d\n", filepath.Join(dir, lastCheckpoint), trained)
	} else {
		if same {
			fmt.Fprintf(out, "continuing from epoch %d\n", trained)
		}
		ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
		defer stop()
		go func() {
			<-ctx.Done()
			stop() // a second Ctrl-C kills the process if saving hangs
		}()
		if err := trainBuild(ctx, m, d, trainFlags{
			resume: same, force: true, epochs: c.Int("epochs"), quiet: c.Bool("quiet"),
			out: out, errOut: c.App.ErrWriter,
		}); err != nil {
			return err
		}
	}

	section(out, "export")
	if fresh, why := exportUpToDate(dir, c.Int("opset")); fresh {
		fmt.Fprintf(out, "up to date: %s and %s were exported from this checkpoint\n", filepath.Join(dir, encoderFile), filepath.Join(dir, decoderFile))
	} else {
		fmt.Fprintf(out, "exporting: %s\n", why)
		if err := runExport(exportConfig{dir: dir, opset: c.Int("opset"), verify: true}, d, c.App.ErrWriter, out); err != nil {
			return err
		}
	}
	printServingHint(out, m, dir)
	return nil
}

// exportUpToDate tells whether the export set of dir was exported from the
// checkpoint now committed, and if not, why.
func exportUpToDate(dir string, opset int) (bool, string) {
	if opset != 0 {
		return false, "--opset given"
	}
	rec, ok, err := builddir.Exported(dir)
	switch {
	case err != nil:
		return false, err.Error()
	case !ok || !exists(filepath.Join(dir, encoderFile)) || !exists(filepath.Join(dir, decoderFile)):
		return false, "no ONNX files yet"
	}
	m, err := loadModel(dir)
	if err != nil {
		return false, err.Error()
	}
	sum, err := builddir.FileSHA256(modelCheckpoint(dir, m))
	if err != nil {
		return false, err.Error()
	}
	if sum != rec.Source {
		return false, "the ONNX files come from another checkpoint"
	}
	return true, ""
}

// section prints a heading between the pipeline's stages.
func section(w io.Writer, name string) {
	fmt.Fprintf(w, "\n== %s ==\n", name)
}

// printServingHint tells the user where the files are and how to load them
// outside vaec.
func printServingHint(w io.Writer, m *ir.Model, dir string) {
	enc, dec := filepath.Join(dir, encoderFile), filepath.Join(dir, decoderFile)
	score := filepath.Join(filepath.Dir(dec), scoreFile)
	fmt.Fprintf(w, "\nThe model is ready:\n  %s  x [N, %s] -> mu, logvar [N, %d]\n  %s  z [N, %d] -> %v\n  %s  x [N, %s] -> score [N], mu [N, %d]\n",
		enc, dimsText(m.Input.Shape), m.Latent, dec, m.Latent, append(m.DecoderOutputs(), ir.OutputMeanRaw), score, dimsText(m.Input.Shape), m.Latent)
	fmt.Fprintf(w, "x is raw data as the data file holds it (the scaling x*%g + %g is inside). Load the files in ONNX Runtime, for example from Python:\n", m.Input.Scale, m.Input.Offset)
	fmt.Fprintf(w, "  import onnxruntime as ort, numpy as np\n")
	fmt.Fprintf(w, "  dec = ort.InferenceSession(%q)\n", dec)
	fmt.Fprintf(w, "  out = dec.run(None, {%q: np.random.randn(16, %d).astype(np.float32)})\n", ir.InputZ, m.Latent)
	fmt.Fprintf(w, "More: vaec sample, vaec reconstruct, vaec encode, vaec eval, vaec inspect %s\n", dec)
}

// dimsText prints a per-sample shape without brackets: "784" or "1, 28, 28".
func dimsText(shape []int) string {
	s := ""
	for i, d := range shape {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprint(d)
	}
	return s
}
