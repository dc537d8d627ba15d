package main

import (
	"fmt"
	"github.com/vaec/vaec/ir"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/vaec/vaec/vae"
	"github.com/vaec/vaec/viz"
)

// sampleStream is the second PCG seed word of sample's generator, so that
// --seed alone decides the draws.
const sampleStream = 0x7661_6563_7361_6d70 // "vaecsamp"

func sampleCommand() *cli.Command {
	return &cli.Command{
		Name:  "sample",
		Usage: "draw z from the prior and decode: new examples from the model",
		Description: "Draws N latent points from the prior (N(0, I)) with --seed and decodes them. For\n" +
			"image inputs it writes a PNG grid of the decoded means (Bernoulli: probabilities)\n" +
			"to --out (default DIR/samples.png); otherwise, or with an .npy/.csv --out, the\n" +
			"decoded values as a matrix [N, D].\n" +
			"Latent pictures: --traversal FILE.png sweeps each latent unit over [-span, span]\n" +
			"around z = 0 (one row per unit); --manifold FILE.png decodes a grid over the\n" +
			"latent plane (2-dimensional latent spaces only).\n" +
			"The model is the build directory's checkpoint, or the ONNX decoder alone\n" +
			"(--decoder FILE, or --onnx for DIR/" + decoderFile + ").\n" +
			"ONNX files from other tools (no vaec metadata) work too: names, sizes and\n" +
			"defaults are worked out and stated; the flags under \"ONNX files without vaec\n" +
			"metadata\" below change them, and give a conditional model its --label.",
		Flags: append(modelFlags(false, true),
			&cli.IntFlag{Name: "n", Value: 64, Usage: "number of samples"},
			&cli.Uint64Flag{Name: "seed", Value: 1, Usage: "seed of the latent draws"},
			&cli.StringFlag{Name: "out", Usage: "output: .png grid, or .npy/.csv matrix (default: DIR/samples.png for images, DIR/samples.npy otherwise)"},
			&cli.IntFlag{Name: "cols", Value: 8, Usage: "images per row of the grid"},
			zoomFlag(),
			&cli.StringFlag{Name: "shape", Usage: "draw each example as an image of this shape, HxW or CxHxW (default: the input shape when it is [C,H,W]; a square for flat inputs like MNIST's 784)"},
			&cli.StringFlag{Name: "traversal", Usage: "also write latent traversals (one row per unit) to this PNG"},
			&cli.StringFlag{Name: "manifold", Usage: "also write the decoded latent plane to this PNG (2-dimensional latent space)"},
			&cli.IntFlag{Name: "steps", Value: 11, Usage: "images per traversal row, and per side of the manifold"},
			&cli.Float64Flag{Name: "span", Value: 3, Usage: "traversals sweep each unit over [-span, span]"},
		),
		Action: sampleAction,
	}
}

func sampleAction(c *cli.Context) error {
	if c.Args().Present() {
		return usagef("sample takes no arguments, got %q", c.Args().Slice())
	}
	n, cols := c.Int("n"), c.Int("cols")
	if n <= 0 || n > 1<<20 {
		return usagef("--n %d: want 1 to %d samples", n, 1<<20)
	}
	if cols <= 0 {
		return usagef("--cols %d must be positive", cols)
	}
	for _, f := range []string{"traversal", "manifold"} {
		if p := c.String(f); p != "" && !strings.EqualFold(filepath.Ext(p), ".png") {
			return usagef("--%s %s: want a .png file", f, p)
		}
	}
	v, err := openVAE(c, false, true)
	if err != nil {
		return err
	}
	// Every picture's arguments are checked before any file is written, so
	// a bad --manifold cannot leave a new samples.png behind it.
	steps, span := c.Int("steps"), c.Float64("span")
	var zt, zm []float32
	if c.String("traversal") != "" {
		if zt, err = viz.TraversalZ(make([]float32, v.Latent), steps, span); err != nil {
			return usagef("--traversal: %v", err)
		}
	}
	if c.String("manifold") != "" {
		if v.Latent != 2 {
			return fmt.Errorf("--manifold: the latent space has %d dimensions; the manifold picture needs 2 (use --traversal)", v.Latent)
		}
		if zm, err = viz.ManifoldZ(v.Prior, steps); err != nil {
			return usagef("--manifold: %v", err)
		}
	}
	out := c.String("out")
	if out == "" {
		out = filepath.Join(c.String("dir"), "samples.npy")
		if _, _, _, err := imageShape(v.Input, c.String("shape")); err == nil {
			out = filepath.Join(c.String("dir"), "samples.png")
		}
	}
	rng := rand.New(rand.NewPCG(c.Uint64("seed"), sampleStream))
	z := make([]float32, n*v.Latent)
	if err := v.Prior.Sample(rng.NormFloat64, z); err != nil {
		return err
	}
	x, err := v.Expected(z, n)
	if err != nil {
		return err
	}
	if err := writeExamples(out, x, n, v.Input, c.String("shape"), cols, c.Int("zoom")); err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "%d samples from %s (seed %d) → %s\n", n, v.Origin, c.Uint64("seed"), out)

	if p := c.String("traversal"); p != "" {
		if err := decodeGrid(v, zt, p, c.String("shape"), steps, c.Int("zoom")); err != nil {
			return err
		}
		fmt.Fprintf(c.App.Writer, "traversals of %d latent units over [-%g, %g] → %s\n", v.Latent, span, span, p)
	}
	if p := c.String("manifold"); p != "" {
		if err := decodeGrid(v, zm, p, c.String("shape"), steps, c.Int("zoom")); err != nil {
			return err
		}
		fmt.Fprintf(c.App.Writer, "latent manifold, %d×%d → %s\n", steps, steps, p)
	}
	return nil
}

// decodeGrid decodes latent points and writes them as a PNG grid.
func decodeGrid(v *vae.Model, z []float32, path, shape string, cols, zoom int) error {
	n := len(z) / v.Latent
	x, err := v.Expected(z, n)
	if err != nil {
		return err
	}
	return writeExamples(path, x, n, v.Input, shape, cols, zoom)
}

// zoomFlag enlarges the pictures, for documents that show them large.
func zoomFlag() cli.Flag {
	return &cli.IntFlag{Name: "zoom", Value: 1, Usage: "enlarge PNG grids by this integer factor (sharp pixels)"}
}

// writeGrid draws images (CHW, model scale) as a PNG grid: rescaled to
// [0, 1] when outside it, zoomed, written atomically.
func writeGrid(path string, imgs [][]float32, c, h, w, cols, zoom int) error {
	viz.Rescale(imgs)
	img, err := viz.Grid(imgs, c, h, w, cols)
	if err != nil {
		return err
	}
	if img, err = viz.Zoom(img, zoom); err != nil {
		return usagef("--zoom: %v", err)
	}
	return viz.WritePNG(path, img)
}

// writeExamples writes n decoded examples x [n, D]: a PNG grid for .png
// paths (the examples must be images), a matrix otherwise.
func writeExamples(path string, x []float32, n int, in ir.Input, shape string, cols, zoom int) error {
	if matrixFormat(path) != "" {
		return writeMatrix(path, x, n, in.Size, "x")
	}
	if !strings.EqualFold(filepath.Ext(path), ".png") {
		return usagef("%s: want a .png, .npy or .csv file", path)
	}
	ch, h, w, err := imageShape(in, shape)
	if err != nil {
		return err
	}
	imgs, err := viz.Split(append([]float32(nil), x...), n, in.Size)
	if err != nil {
		return err
	}
	return writeGrid(path, imgs, ch, h, w, cols, zoom)
}

// imageShape decides how to draw one example: the --shape flag (HxW or
// CxHxW), else the input shape when it is [C, H, W] with 1 or 3 channels or
// [H, W], else a square for a flat input whose size is a perfect square
// (MNIST's 784 = 28×28, stored flat by the usual specs).
func imageShape(in ir.Input, flag string) (c, h, w int, err error) {
	if flag != "" {
		var dims []int
		for _, p := range strings.Split(strings.ToLower(flag), "x") {
			d, err := strconv.Atoi(strings.TrimSpace(p))
			if err != nil || d <= 0 {
				return 0, 0, 0, usagef("--shape %q: want HxW or CxHxW, for example 28x28", flag)
			}
			dims = append(dims, d)
		}
		switch len(dims) {
		case 2:
			c, h, w = 1, dims[0], dims[1]
		case 3:
			c, h, w = dims[0], dims[1], dims[2]
		default:
			return 0, 0, 0, usagef("--shape %q: want HxW or CxHxW, for example 28x28", flag)
		}
		if c != 1 && c != 3 {
			return 0, 0, 0, usagef("--shape %q: images have 1 or 3 channels", flag)
		}
		if c*h*w != in.Size {
			return 0, 0, 0, usagef("--shape %q has %d values, the model's examples have %d", flag, c*h*w, in.Size)
		}
		return c, h, w, nil
	}
	if c, h, w, ok := viz.ImageShape(in.Shape); ok {
		return c, h, w, nil
	}
	switch len(in.Shape) {
	case 2:
		return 1, in.Shape[0], in.Shape[1], nil
	case 1:
		s := int(math.Round(math.Sqrt(float64(in.Size))))
		if s >= 4 && s*s == in.Size {
			return 1, s, s, nil
		}
	}
	return 0, 0, 0, fmt.Errorf("examples of shape %v are not images: give --shape HxW, or write .npy/.csv", in.Shape)
}
