package main

// This file holds `vaec encode` and what the four inference verbs (eval,
// sample, reconstruct, encode) share: where the model comes from (the build
// directory's checkpoint through the training graph, or the ONNX files alone
// through the runtime), which data they read, and the NPY/CSV writers.

import (
	"bytes"
	"encoding/binary"
	"encoding/csv"
	"errors"
	"fmt"
	"github.com/vaec/vaec/ir"
	"io/fs"
	"math"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/vaec/vaec/checkpoint"
	"github.com/vaec/vaec/dataset"
	"github.com/vaec/vaec/evaluate"
	"github.com/vaec/vaec/vae"
	"github.com/vaec/vaec/viz"
)

func encodeCommand() *cli.Command {
	return &cli.Command{
		Name:  "encode",
		Usage: "write the posterior means (and log-variances) of a data set: embeddings",
		Description: "Runs the encoder on a data set (default: the model's validation data) and writes\n" +
			"the posterior means mu [N, latent] to --out as NPY (float32) or CSV (by extension).\n" +
			"--logvar-out writes the log-variances the same way. --scatter draws the means as a\n" +
			"PNG, coloured by label when the data has labels (the two latent units that vary\n" +
			"most over the data when the latent space has more than two).\n" +
			"The model is the build directory's checkpoint, or the ONNX encoder alone\n" +
			"(--encoder FILE, or --onnx for DIR/" + encoderFile + ").\n" +
			"ONNX files from other tools (no vaec metadata) work too: names, sizes and\n" +
			"defaults are worked out and stated; the flags under \"ONNX files without vaec\n" +
			"metadata\" below change them, and give a conditional model its --label.",
		Flags: append(append(modelFlags(true, false), dataFlags(0, "colours of the --scatter plot")...),
			&cli.StringFlag{Name: "out", Usage: "output file, .npy or .csv (default: DIR/embeddings.npy)"},
			&cli.StringFlag{Name: "logvar-out", Usage: "also write the log-variances to this .npy or .csv file"},
			&cli.StringFlag{Name: "scatter", Usage: "also draw the posterior means as a PNG scatter plot"},
		),
		Action: encodeAction,
	}
}

func encodeAction(c *cli.Context) error {
	if c.Args().Present() {
		return usagef("encode takes no arguments, got %q", c.Args().Slice())
	}
	v, err := openVAE(c, true, false)
	if err != nil {
		return err
	}
	set, desc, err := loadData(c, v)
	if err != nil {
		return err
	}
	out := c.String("out")
	if out == "" {
		out = filepath.Join(c.String("dir"), "embeddings.npy")
	}
	for _, p := range []string{out, c.String("logvar-out")} {
		if p != "" && matrixFormat(p) == "" {
			return usagef("encode: %s: want a .npy or .csv file", p)
		}
	}
	if p := c.String("scatter"); p != "" && !strings.EqualFold(filepath.Ext(p), ".png") {
		return usagef("encode: --scatter %s: want a .png file", p)
	}
	mu, logvar, err := v.EncodeAll(set.X, set.N)
	if err != nil {
		return err
	}
	if err := writeMatrix(out, mu, set.N, v.Latent, "mu"); err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "encoded %s with %s: posterior means [%d, %d] → %s\n", desc, v.Origin, set.N, v.Latent, out)
	if p := c.String("logvar-out"); p != "" {
		if err := writeMatrix(p, logvar, set.N, v.Latent, "logvar"); err != nil {
			return err
		}
		fmt.Fprintf(c.App.Writer, "log-variances [%d, %d] → %s\n", set.N, v.Latent, p)
	}
	if p := c.String("scatter"); p != "" {
		xy, xl, yl, err := scatterPoints(mu, set.N, v.Latent)
		if err != nil {
			return err
		}
		if err := viz.Scatter(p, "posterior means: "+desc, xl, yl, xy, set.Labels); err != nil {
			return err
		}
		fmt.Fprintf(c.App.Writer, "scatter of %s against %s → %s\n", yl, xl, p)
	}
	return nil
}

// scatterPoints picks two latent units to plot: both of a 2-dimensional
// space, otherwise the two whose posterior means vary most over the data
// (the most informative pair), and returns their [n, 2] points and names.
func scatterPoints(mu []float32, n, latent int) (xy []float32, xlabel, ylabel string, err error) {
	if latent < 2 {
		return nil, "", "", fmt.Errorf("scatter: the latent space has %d dimension, a scatter needs 2", latent)
	}
	a, b := 0, 1
	if latent > 2 {
		_, vars, err := evaluate.ActiveUnits(mu, n, latent, evaluate.ActiveThreshold)
		if err != nil {
			return nil, "", "", err
		}
		a, b = -1, -1
		for j, v := range vars {
			switch {
			case a < 0 || v > vars[a]:
				a, b = j, a
			case b < 0 || v > vars[b]:
				b = j
			}
		}
		if a > b {
			a, b = b, a
		}
	}
	xy = make([]float32, 2*n)
	for i := 0; i < n; i++ {
		xy[2*i], xy[2*i+1] = mu[i*latent+a], mu[i*latent+b]
	}
	return xy, fmt.Sprintf("z%d", a), fmt.Sprintf("z%d", b), nil
}

// ---- Where the model comes from ----

// modelFlags are the flags that pick the model of an inference verb; enc
// and dec say which halves it runs, so its help lists only those files.
func modelFlags(enc, dec bool) []cli.Flag {
	flags := []cli.Flag{
		&cli.StringFlag{Name: "dir", Value: defaultDir, Usage: "build directory"},
		&cli.StringFlag{Name: "checkpoint", Usage: "weights to use (default: DIR/" + bestCheckpoint + " when the model has validation data, else DIR/" + lastCheckpoint + ")"},
	}
	var files []string
	if enc {
		flags = append(flags, &cli.StringFlag{Name: "encoder", Usage: "run this ONNX encoder in vaec's runtime instead of the checkpoint"})
		files = append(files, "DIR/"+encoderFile)
	}
	if dec {
		flags = append(flags, &cli.StringFlag{Name: "decoder", Usage: "run this ONNX decoder in vaec's runtime instead of the checkpoint"})
		files = append(files, "DIR/"+decoderFile)
	}
	flags = append(flags, &cli.BoolFlag{Name: "onnx", Usage: "run " + strings.Join(files, " and ") + " instead of the checkpoint"})
	return append(flags, foreignFlags(enc, dec)...)
}

// openVAE loads the model the flags name. needEnc and needDec say which
// halves the verb uses; in ONNX mode only those files are required.
func openVAE(c *cli.Context, needEnc, needDec bool) (*vae.Model, error) {
	dir := c.String("dir")
	encPath, decPath := c.String("encoder"), c.String("decoder")
	if c.Bool("onnx") {
		if encPath != "" || decPath != "" {
			return nil, usagef("give either --onnx or --encoder/--decoder, not both")
		}
		encPath, decPath = filepath.Join(dir, encoderFile), filepath.Join(dir, decoderFile)
	}
	if encPath != "" || decPath != "" {
		if c.String("checkpoint") != "" {
			return nil, usagef("give either --checkpoint or ONNX files, not both")
		}
		if needEnc && encPath == "" {
			return nil, usagef("%s needs the encoder too: add --encoder FILE.onnx", c.Command.Name)
		}
		if needDec && decPath == "" {
			return nil, usagef("%s needs the decoder too: add --decoder FILE.onnx", c.Command.Name)
		}
		if !needEnc {
			encPath = ""
		}
		if !needDec {
			decPath = ""
		}
		opts, err := onnxOptions(c)
		if err != nil {
			return nil, err
		}
		v, err := vae.FromONNX(encPath, decPath, opts)
		if err != nil {
			return nil, withFlagHint(err)
		}
		for _, n := range v.Notes {
			fmt.Fprintf(c.App.ErrWriter, "note: %s\n", n)
		}
		if len(v.Notes) > 0 {
			fmt.Fprintf(c.App.ErrWriter, "note: the flags under %q in `vaec %s --help` change these\n", foreignCategory, c.Command.Name)
		}
		// The build's model, if any, supplies the default data sources, and
		// only when it is the model the files were exported from.
		if m, err := loadModel(dir); err == nil && m.SpecHash == v.SpecHash {
			v.IR = m
		}
		warnStaleONNX(c.App.ErrWriter, dir, v)
		return v, nil
	}
	if f := usesForeignFlags(c); f != "" && f != "label" {
		return nil, usagef("--%s applies to ONNX files (--encoder/--decoder or --onnx), not to the checkpoint", f)
	}
	m, err := loadModel(dir)
	if err != nil {
		return nil, err
	}
	path := c.String("checkpoint")
	if path == "" {
		path = modelCheckpoint(dir, m)
	}
	v, err := vae.FromCheckpoint(m, path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no checkpoint %s: run `vaec train` first (or give --checkpoint, or ONNX files with --encoder/--decoder)", path)
	}
	if err != nil {
		return nil, fmt.Errorf("reading the checkpoint: %w", err)
	}
	if err := checkpointLabels(c, v); err != nil {
		return nil, err
	}
	for _, n := range v.Notes {
		fmt.Fprintf(c.App.ErrWriter, "note: %s\n", n)
	}
	return v, nil
}

// ---- Which data ----

// dataFlags are the flags that pick the data of a verb; n is the default
// --n (0 = every example); labels says what the verb does with labels
// ("" when it does nothing with them, and then has no --labels).
func dataFlags(n int, labels string) []cli.Flag {
	flags := []cli.Flag{
		&cli.StringFlag{Name: "data", Usage: "data file (IDX, NPY or CSV, optionally .gz) instead of the model's data; scaled as the model's input"},
		&cli.StringFlag{Name: "split", Value: "validation", Usage: "which of the model's data: validation or train"},
		&cli.IntFlag{Name: "n", Value: n, Usage: "use the first N examples (0 = all)"},
	}
	if labels != "" {
		flags = append(flags, &cli.StringFlag{Name: "labels", Usage: "labels file for --data (" + labels + ")"})
	}
	return flags
}

// loadData reads the data the flags name and describes it for messages.
func loadData(c *cli.Context, v *vae.Model) (*dataset.Set, string, error) {
	n := c.Int("n")
	if n < 0 {
		return nil, "", usagef("--n %d must not be negative", n)
	}
	var set *dataset.Set
	var desc string
	if p := c.String("data"); p != "" {
		src := ir.Source{Path: p, Format: dataset.InferFormat(p), Labels: c.String("labels")}
		if src.Labels != "" {
			src.LabelFormat = dataset.InferFormat(src.Labels)
		}
		if v.IR != nil {
			// A file laid out as the training file reads as it does: the
			// same header rule and columns. Adapt below also takes the
			// model's named columns from any header, and a file of exactly
			// the model's features (vaec's own CSV output) whole.
			t := v.IR.Data.Train
			src.CSVHeader, src.CSVNoHeader, src.Columns, src.Exclude = t.CSVHeader, t.CSVNoHeader, t.Columns, t.Exclude
		}
		opt := newLoadReporter(c.App.ErrWriter, c.Bool("quiet")).options()
		opt.Adapt = true
		var err error
		if set, err = dataset.LoadWith(src, v.Input, opt); err != nil {
			return nil, "", err
		}
		desc = p
	} else {
		if c.String("labels") != "" {
			return nil, "", usagef("--labels goes with --data")
		}
		split := c.String("split")
		if split != "validation" && split != "train" {
			return nil, "", usagef("--split %q: want validation or train", split)
		}
		if v.IR == nil {
			return nil, "", usagef("no build directory %s/ with the model these ONNX files come from: give the data with --data FILE", c.String("dir"))
		}
		train, val, err := dataset.LoadSplitsWith(v.IR, newLoadReporter(c.App.ErrWriter, c.Bool("quiet")).options())
		if err != nil {
			return nil, "", err
		}
		set, desc = val, "the validation split"
		if split == "train" || val == nil {
			if split == "validation" {
				fmt.Fprintln(c.App.ErrWriter, "note: the model has no validation data; using the training data")
			}
			set, desc = train, "the training split"
		}
	}
	if set.N == 0 {
		return nil, "", fmt.Errorf("%s has no examples", desc)
	}
	if n > 0 && n < set.N {
		idx := make([]int, n)
		for i := range idx {
			idx[i] = i
		}
		set = set.Subset(idx)
	}
	if err := dataLabels(c, v, set); err != nil {
		return nil, "", err
	}
	return set, fmt.Sprintf("%s (%d examples)", desc, set.N), nil
}

// ---- Output files ----

// matrixFormat returns "npy" or "csv" from a file name, or "".
func matrixFormat(path string) string {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".npy":
		return "npy"
	case ".csv":
		return "csv"
	}
	return ""
}

// writeMatrix writes data [n, cols] to path as NPY or CSV (by extension);
// CSV columns are named prefix_0, prefix_1, ...
func writeMatrix(path string, data []float32, n, cols int, prefix string) error {
	if len(data) != n*cols {
		return fmt.Errorf("writing %s: %d values are not %d rows of %d", path, len(data), n, cols)
	}
	var b []byte
	switch matrixFormat(path) {
	case "npy":
		b = encodeNPY(data, []int{n, cols})
	case "csv":
		var buf bytes.Buffer
		w := csv.NewWriter(&buf)
		rec := make([]string, cols)
		for j := range rec {
			rec[j] = fmt.Sprintf("%s_%d", prefix, j)
		}
		_ = w.Write(rec)
		for i := 0; i < n; i++ {
			for j := range rec {
				rec[j] = strconv.FormatFloat(float64(data[i*cols+j]), 'g', -1, 32)
			}
			_ = w.Write(rec)
		}
		w.Flush()
		if err := w.Error(); err != nil {
			return fmt.Errorf("writing %s: %w", path, err)
		}
		b = buf.Bytes()
	default:
		return usagef("%s: want a .npy or .csv file", path)
	}
	if err := checkpoint.WriteFileAtomic(path, b); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// encodeNPY returns data as a version 1.0 NPY file of little-endian float32
// in C order. The header is padded with spaces so the data starts at a
// multiple of 64 bytes, as NumPy writes it (lets readers map it aligned).
func encodeNPY(data []float32, shape []int) []byte {
	var dims []string
	for _, d := range shape {
		dims = append(dims, strconv.Itoa(d))
	}
	tuple := strings.Join(dims, ", ")
	if len(shape) == 1 {
		tuple += ","
	}
	hdr := fmt.Sprintf("{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }", tuple)
	// magic (6) + version (2) + length (2) + header + '\n'
	total := 10 + len(hdr) + 1
	hdr += strings.Repeat(" ", (64-total%64)%64) + "\n"
	out := make([]byte, 0, 10+len(hdr)+4*len(data))
	out = append(out, "\x93NUMPY\x01\x00"...)
	out = binary.LittleEndian.AppendUint16(out, uint16(len(hdr)))
	out = append(out, hdr...)
	for _, v := range data {
		out = binary.LittleEndian.AppendUint32(out, math.Float32bits(v))
	}
	return out
}
