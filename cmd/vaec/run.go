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

	"github.com/vaec/vaec/compiler"
)

// runCommand chains build, train, export and verify: the whole pipeline in
// one command, as the README's quick start runs it.
func runCommand() *cli.Command {
	return &cli.Command{
		Name:      "run",
		Usage:     "build, train, export and verify a spec in one go",
		ArgsUsage: "spec.yaml",
		Description: "Does what `vaec build spec.yaml && vaec train && vaec export --onnx` do, in the\n" +
			"build directory: compiles the spec, trains it (resuming with --resume), writes\n" +
			"encoder.onnx and decoder.onnx and checks them against the training graph.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "dir", Value: defaultDir, Usage: "build directory to write"},
			&cli.IntFlag{Name: "epochs", Usage: "total epochs to reach, overriding the spec's train.epochs"},
			&cli.BoolFlag{Name: "resume", Usage: "continue training from DIR/" + lastCheckpoint},
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
	if c.Int("epochs") < 0 {
		return usagef("run: --epochs %d must be positive", c.Int("epochs"))
	}
	spec, dir, out := c.Args().First(), c.String("dir"), c.App.Writer
	src, err := os.ReadFile(spec)
	if err != nil {
		return fmt.Errorf("run: %w", err)
	}
	m, err := compiler.Compile(spec, src)
	if err != nil {
		return err
	}
	if err := writeBuild(dir, m, src); err != nil {
		return fmt.Errorf("run: %w", err)
	}
	section(out, "build")
	if err := printBuildTable(out, m, dir); err != nil {
		return err
	}

	section(out, "train")
	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop() // a second Ctrl-C kills the process if saving hangs
	}()
	if err := trainBuild(ctx, m, dir, trainFlags{
		resume: c.Bool("resume"), epochs: c.Int("epochs"), quiet: c.Bool("quiet"),
		out: out, errOut: c.App.ErrWriter,
	}); err != nil {
		return err
	}

	section(out, "export")
	if err := runExport(exportConfig{dir: dir, opset: c.Int("opset"), verify: true}, out); err != nil {
		return err
	}
	printServingHint(out, m, dir)
	return nil
}

// section prints a heading between the pipeline's stages.
func section(w io.Writer, name string) {
	fmt.Fprintf(w, "\n== %s ==\n", name)
}

// printServingHint tells the user where the files are and how to load them
// outside vaec.
func printServingHint(w io.Writer, m *ir.Model, dir string) {
	enc, dec := filepath.Join(dir, encoderFile), filepath.Join(dir, decoderFile)
	fmt.Fprintf(w, "\nThe model is ready:\n  %s  x [N, %s] -> mu, logvar [N, %d]\n  %s  z [N, %d] -> %v\n",
		enc, dimsText(m.Input.Shape), m.Latent, dec, m.Latent, m.DecoderOutputs())
	fmt.Fprintf(w, "Inputs are scaled as x = raw*%g + %g. Load them in ONNX Runtime, for example from Python:\n", m.Input.Scale, m.Input.Offset)
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
