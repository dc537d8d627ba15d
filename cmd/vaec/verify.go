package main

import (
	"fmt"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/vaec/vaec/checkpoint"
	"github.com/vaec/vaec/runtime/ort"
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
			&cli.StringFlag{Name: "dir", Value: defaultDir, Usage: "build directory holding model.json, the checkpoint and the ONNX files"},
			&cli.StringFlag{Name: "checkpoint", Usage: "checkpoint to compare with (default: DIR/" + lastCheckpoint + ")"},
			&cli.StringFlag{Name: "encoder", Usage: "encoder file (default: DIR/" + encoderFile + ")"},
			&cli.StringFlag{Name: "decoder", Usage: "decoder file (default: DIR/" + decoderFile + ")"},
			&cli.IntFlag{Name: "n", Value: defaultVerifyN, Usage: "number of inputs"},
			&cli.BoolFlag{Name: "random", Usage: "use random inputs instead of validation data"},
			&cli.Float64Flag{Name: "tol", Value: defaultVerifyTol, Usage: "tolerance: PASS when |got-want| <= tol*max(1,|want|) everywhere"},
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
	ckPath := or("checkpoint", lastCheckpoint)
	ck, err := checkpoint.Load(ckPath)
	if err != nil {
		return fmt.Errorf("reading the checkpoint: %w", err)
	}
	in, err := verifyInputs(m, c.Int("n"), c.Bool("random"))
	if err != nil {
		return err
	}
	cfg := verifyConfig{
		model: m, weights: ck.Weights,
		encoderPath: or("encoder", encoderFile), decoderPath: or("decoder", decoderFile),
		in: in, tol: c.Float64("tol"),
	}
	if c.Bool("onnxruntime") || c.String("ort-lib") != "" {
		cfg.useORT, cfg.ortLib = true, ort.FindLibrary(c.String("ort-lib"))
	}
	return runVerify(cfg, c.App.Writer)
}
