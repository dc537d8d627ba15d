package main

import (
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/vaec/vaec/viz"
)

// reconstructStream is the second PCG seed word of --sample's draws.
const reconstructStream = 0x7661_6563_7265_636f // "vaecreco"

func reconstructCommand() *cli.Command {
	return &cli.Command{
		Name:  "reconstruct",
		Usage: "encode examples and decode them again: originals beside reconstructions",
		Description: "Encodes the first N examples of a data set (default: the model's validation data)\n" +
			"and decodes their posterior means (with --sample, one draw z ~ q(z|x) each). Writes\n" +
			"a PNG grid with each original left of its reconstruction to --out (default\n" +
			"DIR/reconstructions.png); an .npy/.csv --out gets the reconstructions as a matrix.\n" +
			"The model is the build directory's checkpoint, or the ONNX files alone\n" +
			"(--encoder and --decoder, or --onnx for the build directory's).\n" +
			"ONNX files from other tools (no vaec metadata) work too: names, sizes and\n" +
			"defaults are worked out and stated; the flags under \"ONNX files without vaec\n" +
			"metadata\" below change them, and give a conditional model its --label.",
		Flags: append(append(modelFlags(true, true), dataFlags(32, "")...),
			&cli.StringFlag{Name: "out", Usage: "output: .png grid, or .npy/.csv matrix of reconstructions (default: DIR/reconstructions.png)"},
			&cli.IntFlag{Name: "pairs", Value: 8, Usage: "original/reconstruction pairs per row of the grid"},
			zoomFlag(),
			&cli.StringFlag{Name: "shape", Usage: "draw each example as an image of this shape, HxW or CxHxW"},
			&cli.BoolFlag{Name: "sample", Usage: "decode one draw from q(z|x) instead of its mean"},
			&cli.Uint64Flag{Name: "seed", Value: 1, Usage: "seed of the --sample draws"},
		),
		Action: reconstructAction,
	}
}

func reconstructAction(c *cli.Context) error {
	if c.Args().Present() {
		return usagef("reconstruct takes no arguments, got %q", c.Args().Slice())
	}
	if c.Int("pairs") <= 0 {
		return usagef("--pairs %d must be positive", c.Int("pairs"))
	}
	v, err := openVAE(c, true, true)
	if err != nil {
		return err
	}
	out := c.String("out")
	if out == "" {
		out = filepath.Join(c.String("dir"), "reconstructions.png")
	}
	isPNG := strings.EqualFold(filepath.Ext(out), ".png")
	if !isPNG && matrixFormat(out) == "" {
		return usagef("%s: want a .png, .npy or .csv file", out)
	}
	if isPNG {
		// Fail before the work when the examples cannot be drawn.
		if _, _, _, err := imageShape(v.Input, c.String("shape")); err != nil {
			return err
		}
	}
	set, desc, err := loadData(c, v)
	if err != nil {
		return err
	}
	mu, logvar, err := v.EncodeAll(set.X, set.N)
	if err != nil {
		return err
	}
	z := mu
	how := "posterior means"
	if c.Bool("sample") {
		rng := rand.New(rand.NewPCG(c.Uint64("seed"), reconstructStream))
		z = make([]float32, len(mu))
		for i := range z {
			z[i] = float32(float64(mu[i]) + math.Exp(0.5*float64(logvar[i]))*rng.NormFloat64())
		}
		how = fmt.Sprintf("one draw from q(z|x) each, seed %d", c.Uint64("seed"))
	}
	rec, err := v.Expected(z, set.N)
	if err != nil {
		return err
	}
	if !isPNG {
		if err := writeMatrix(out, rec, set.N, v.Input.Size, "x"); err != nil {
			return err
		}
	} else {
		orig, err := viz.Split(append([]float32(nil), set.X...), set.N, set.D)
		if err != nil {
			return err
		}
		recs, err := viz.Split(rec, set.N, v.Input.Size)
		if err != nil {
			return err
		}
		pairs, err := viz.Pairs(orig, recs)
		if err != nil {
			return err
		}
		ch, h, w, err := imageShape(v.Input, c.String("shape"))
		if err != nil {
			return err
		}
		if err := writeGrid(out, pairs, ch, h, w, 2*c.Int("pairs"), c.Int("zoom")); err != nil {
			return err
		}
	}
	fmt.Fprintf(c.App.Writer, "reconstructed %s with %s (%s) → %s\n", desc, v.Origin, how, out)
	return nil
}
