package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/vaec/vaec/checkpoint"
	"github.com/vaec/vaec/export"
	"github.com/vaec/vaec/internal/capped"
	"github.com/vaec/vaec/runtime/ort"
	"github.com/vaec/vaec/verify"
)

// verifyCommand checks the exported ONNX files against the training graph.
func verifyCommand() *cli.Command {
	return &cli.Command{
		Name:  "verify",
		Usage: "check that encoder.onnx and decoder.onnx compute what the trained graph computes",
		Description: "Runs the exported encoder and decoder in vaec's own ONNX runtime on N inputs\n" +
			"(validation data by default, or random ones) and compares every output with the\n" +
			"Gorgonia graph loaded from the checkpoint: max absolute and relative error, and\n" +
			"PASS or FAIL against the tolerance. Exits 1 when any output fails.\n" +
			"With --onnxruntime, ONNX Runtime is a second judge (library from --ort-lib,\n" +
			"$" + ort.EnvLib + ", or .tools/ort of the repository).",
		Flags: []cli.Flag{
			quietFlag(),
			&cli.StringFlag{Name: "dir", Value: defaultDir, Usage: "build directory holding model.json, the checkpoint and the ONNX files"},
			&cli.StringFlag{Name: "checkpoint", Usage: "checkpoint to compare with (default: DIR/" + bestCheckpoint + " when the model has validation data, else DIR/" + lastCheckpoint + ")"},
			&cli.StringFlag{Name: "encoder", Usage: "encoder file (default: DIR/" + encoderFile + ")"},
			&cli.StringFlag{Name: "decoder", Usage: "decoder file (default: DIR/" + decoderFile + ")"},
			&cli.IntFlag{Name: "n", Value: verify.DefaultN, Usage: "number of inputs"},
			&cli.BoolFlag{Name: "random", Usage: "use random inputs instead of validation data"},
			&cli.Float64Flag{Name: "tol", Value: verify.DefaultTol, Usage: "tolerance: PASS when |got-want| <= tol*max(1,|want|) everywhere"},
			&cli.BoolFlag{Name: "onnxruntime", Usage: "also run ONNX Runtime and compare it with the graph"},
			&cli.StringFlag{Name: "ort-lib", Usage: "path of libonnxruntime.so (implies --onnxruntime)"},
		},
		Action: verifyAction,
	}
}

func verifyAction(c *cli.Context) error {
	if c.Args().Present() {
		return usagef("verify takes no arguments, got %q", c.Args().Slice())
	}
	if tol := c.Float64("tol"); !(tol >= 0) {
		return usagef("--tol must be a non-negative number, got %v", tol)
	}
	dir := c.String("dir")
	m, err := loadModel(dir)
	if err != nil {
		return err
	}
	or := func(flag, file string) string {
		if v := c.String(flag); v != "" {
			return v
		}
		return filepath.Join(dir, file)
	}
	ckPath := c.String("checkpoint")
	if ckPath == "" {
		ckPath = modelCheckpoint(dir, m)
	}
	if !c.IsSet("checkpoint") && !exists(ckPath) {
		return fmt.Errorf("no trained checkpoint in %s/: run `vaec train` (then `vaec export`) first", filepath.Clean(dir))
	}
	cfg := verify.Config{
		EncoderPath: or("encoder", encoderFile), DecoderPath: or("decoder", decoderFile),
		Model: m, Tol: c.Float64("tol"),
	}
	for _, f := range []struct{ flag, path string }{{"encoder", cfg.EncoderPath}, {"decoder", cfg.DecoderPath}} {
		if !c.IsSet(f.flag) && !exists(f.path) {
			return fmt.Errorf("no %s in %s/: run `vaec export` first", filepath.Base(f.path), filepath.Clean(dir))
		}
	}
	ck, err := checkpoint.Load(ckPath)
	if err != nil {
		return fmt.Errorf("reading the checkpoint: %w", err)
	}
	if !ck.Checked {
		fmt.Fprintf(c.App.ErrWriter, "note: %s has no checksums (written by an earlier vaec): loaded unchecked\n", ckPath)
	}
	cfg.Weights = ck.Weights
	for _, p := range []string{cfg.EncoderPath, cfg.DecoderPath} {
		if err := checkDigest(p, c.App.ErrWriter); err != nil {
			return err
		}
	}
	if n := c.Int("n"); n <= 0 {
		return usagef("--n must be positive, got %d", n)
	}
	if c.Bool("random") {
		cfg.In = verify.RandomInputs(m, c.Int("n"))
	} else if cfg.In, err = verify.DataInputs(m, c.Int("n")); err != nil {
		return err
	}
	if c.Bool("onnxruntime") || c.String("ort-lib") != "" {
		cfg.ORT, cfg.ORTLib = true, ort.FindLibrary(c.String("ort-lib"))
	}
	return runVerify(cfg, outFor(c))
}

// checkDigest compares the SHA-256 of an ONNX file's initializers with the
// one its metadata records: a weight changed after export fails here, even
// where the numeric comparison would pass within its tolerance.
func checkDigest(path string, errOut io.Writer) error {
	b, err := capped.ReadFile(path, capped.FileLimit)
	if err != nil {
		return err
	}
	d, err := export.CheckDigest(b)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	switch {
	case d.Recorded == "":
		fmt.Fprintf(errOut, "note: %s records no digest of its weights (exported by an earlier vaec or another tool): not checked\n", path)
	case !d.OK():
		return fmt.Errorf("%s: its weights' SHA-256 is %.16s…, its metadata (%s) records %.16s…: the file was changed after export",
			path, d.Computed, export.MetaDigest, d.Recorded)
	}
	return nil
}

// exists reports whether path names an existing file.
func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
