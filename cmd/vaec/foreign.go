package main

// The flags of the inference verbs for ONNX files that vaec did not write
// (no metadata): which input and output is which, the input scaling, what
// the decoder output holds, and the values of a conditional model's extra
// inputs. Package vae does the work (vae.ONNXOptions); this file turns
// flags into options and the library's errors into flag hints.

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/vaec/vaec/dataset"
	"github.com/vaec/vaec/ir"
	"github.com/vaec/vaec/vae"
)

// foreignCategory groups these flags in the help.
const foreignCategory = "ONNX files without vaec metadata (other tools' exports)"

// foreignFlags are the flags for the halves a verb runs (enc, dec).
func foreignFlags(enc, dec bool) []cli.Flag {
	var flags []cli.Flag
	if enc {
		flags = append(flags,
			&cli.StringFlag{Name: "input-name", Category: foreignCategory, Usage: "the encoder's data input (default: x, or its only input)"},
			&cli.StringFlag{Name: "mu-name", Category: foreignCategory, Usage: "the encoder's posterior-mean output (default: mu, mean, z_mean or loc)"},
			&cli.StringFlag{Name: "logvar-name", Category: foreignCategory, Usage: "the encoder's log-variance output (default: logvar, log_var or z_log_var)"},
			&cli.StringFlag{Name: "input-scale", Category: foreignCategory, Usage: "scale raw data as x = raw*SCALE before the encoder, a number or a fraction like 1/255 (default 1; vaec's files record theirs)"},
		)
	}
	if dec {
		flags = append(flags,
			&cli.StringFlag{Name: "latent-name", Category: foreignCategory, Usage: "the decoder's latent input (default: z, or its only input left)"},
			&cli.StringFlag{Name: "output-name", Category: foreignCategory, Usage: "the decoder output to use (default: its only output, else probs, logits or mean)"},
			&cli.StringFlag{Name: "decoder-output", Category: foreignCategory, Usage: "what that output holds: probs, logits or mean (Gaussian, unit variance) (default: logits or mean when so named, else probs)"},
		)
	}
	return append(flags,
		&cli.StringFlag{Name: "label", Category: foreignCategory, Usage: "class label(s) K or K1,K2,... for a conditional model's one-hot input [N, classes]; row i gets the (i mod count)-th: one label for all rows, one per row, or a cycle"},
		&cli.StringSliceFlag{Name: "feed", Category: foreignCategory, Usage: "NAME=FILE.npy (or .csv): values for another input; rows cycle over the batch like --label (repeatable)"},
	)
}

// onnxOptions reads the flags above into options for vae.FromONNX.
func onnxOptions(c *cli.Context) (vae.ONNXOptions, error) {
	o := vae.ONNXOptions{
		Input: c.String("input-name"), Mu: c.String("mu-name"), Logvar: c.String("logvar-name"),
		Latent: c.String("latent-name"), Output: c.String("output-name"),
	}
	var err error
	if s := c.String("decoder-output"); s != "" {
		if o.Kind, err = vae.ParseOutputKind(s); err != nil || o.Kind == vae.Unstated {
			return o, usagef("--decoder-output %q: want probs, logits or mean", s)
		}
	}
	if s := c.String("input-scale"); s != "" {
		if o.Scale, err = parseScale(s); err != nil {
			return o, usagef("--input-scale: %v", err)
		}
	}
	if s := c.String("label"); s != "" {
		for _, p := range strings.Split(s, ",") {
			k, err := strconv.Atoi(strings.TrimSpace(p))
			if err != nil || k < 0 {
				return o, usagef("--label %q: want a class number K or a list K1,K2,... (numbers from 0)", s)
			}
			o.Labels = append(o.Labels, k)
		}
	}
	for _, f := range c.StringSlice("feed") {
		name, path, ok := strings.Cut(f, "=")
		if !ok || name == "" || path == "" {
			return o, usagef("--feed %q: want NAME=FILE.npy", f)
		}
		if _, dup := o.Feeds[name]; dup {
			return o, usagef("--feed: input %q is fed twice", name)
		}
		vals, err := readFeed(path)
		if err != nil {
			return o, fmt.Errorf("--feed %s: %w", name, err)
		}
		if o.Feeds == nil {
			o.Feeds = map[string][]float32{}
		}
		o.Feeds[name] = vals
	}
	return o, nil
}

// usesForeignFlags reports whether any flag of foreignFlags is set, for the
// checkpoint mode, which has no use for them.
func usesForeignFlags(c *cli.Context) string {
	for _, f := range []string{"input-name", "mu-name", "logvar-name", "input-scale", "latent-name", "output-name", "decoder-output", "label", "feed"} {
		if c.IsSet(f) {
			return f
		}
	}
	return ""
}

// readFeed reads a matrix file's values, unscaled, in row-major order.
func readFeed(path string) ([]float32, error) {
	format := dataset.InferFormat(path)
	h, err := dataset.ReadHeader(path, format, false, nil)
	if err != nil {
		return nil, err
	}
	in := ir.Input{Shape: ir.Shape{h.Features}, Size: h.Features, Scale: 1}
	set, err := dataset.Load(ir.Source{Path: path, Format: format}, in)
	if err != nil {
		return nil, err
	}
	return set.X, nil
}

// parseScale reads a positive number or a fraction "a/b".
func parseScale(s string) (float64, error) {
	v, err := strconv.ParseFloat(s, 64)
	if num, den, ok := strings.Cut(s, "/"); ok {
		a, err1 := strconv.ParseFloat(strings.TrimSpace(num), 64)
		b, err2 := strconv.ParseFloat(strings.TrimSpace(den), 64)
		v, err = a/b, errors.Join(err1, err2)
	}
	if err != nil || !(v > 0) || v > 1e30 {
		return 0, fmt.Errorf("%q: want a positive number or a fraction such as 1/255", s)
	}
	return v, nil
}

// roleFlags name the flag that sets each role of vae.NameError.
var roleFlags = map[vae.Role]string{
	vae.RoleInput: "--input-name", vae.RoleMu: "--mu-name", vae.RoleLogvar: "--logvar-name",
	vae.RoleLatent: "--latent-name", vae.RoleOutput: "--output-name",
	vae.RoleLabel: "--label K, or --feed NAME=FILE.npy", vae.RoleFeed: "--feed NAME=FILE.npy",
}

// withFlagHint adds to a naming error the flag that resolves it.
func withFlagHint(err error) error {
	var ne *vae.NameError
	if errors.As(err, &ne) {
		if f, ok := roleFlags[ne.Role]; ok {
			return fmt.Errorf("%w; set with %s", err, f)
		}
	}
	return err
}
