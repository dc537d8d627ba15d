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
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/vaec/vaec/checkpoint"
	"github.com/vaec/vaec/dataset"
	"github.com/vaec/vaec/evaluate"
	"github.com/vaec/vaec/export"
	"github.com/vaec/vaec/graph"
	"github.com/vaec/vaec/runtime"
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
			"(--encoder FILE, or --onnx for DIR/" + encoderFile + ").",
		Flags: append(append(modelFlags(), dataFlags(0)...),
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
	mu, logvar, err := v.encodeAll(set.X, set.N)
	if err != nil {
		return err
	}
	if err := writeMatrix(out, mu, set.N, v.latent, "mu"); err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "encoded %s with %s: posterior means [%d, %d] → %s\n", desc, v.origin, set.N, v.latent, out)
	if p := c.String("logvar-out"); p != "" {
		if err := writeMatrix(p, logvar, set.N, v.latent, "logvar"); err != nil {
			return err
		}
		fmt.Fprintf(c.App.Writer, "log-variances [%d, %d] → %s\n", set.N, v.latent, p)
	}
	if p := c.String("scatter"); p != "" {
		xy, xl, yl, err := scatterPoints(mu, set.N, v.latent)
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

// modelFlags are the flags that pick the model of an inference verb.
func modelFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "dir", Value: defaultDir, Usage: "build directory"},
		&cli.StringFlag{Name: "checkpoint", Usage: "weights to use (default: DIR/" + bestCheckpoint + ", else DIR/" + lastCheckpoint + ")"},
		&cli.StringFlag{Name: "encoder", Usage: "run this ONNX encoder in vaec's runtime instead of the checkpoint"},
		&cli.StringFlag{Name: "decoder", Usage: "run this ONNX decoder in vaec's runtime instead of the checkpoint"},
		&cli.BoolFlag{Name: "onnx", Usage: "run DIR/" + encoderFile + " and DIR/" + decoderFile + " instead of the checkpoint"},
	}
}

// vae is a trained model, from a checkpoint or from ONNX files, behind one
// interface (it implements evaluate.Model).
type vae struct {
	origin string    // for messages: the checkpoint or the ONNX files
	model  *ir.Model // nil when only ONNX files and no build directory exist
	input  ir.Input
	latent int
	lik    evaluate.Likelihood

	weights  map[string]checkpoint.Tensor // checkpoint mode
	enc, dec *runtime.Model               // ONNX mode
}

// openVAE loads the model the flags name. needEnc and needDec say which
// halves the verb uses; in ONNX mode only those files are required.
func openVAE(c *cli.Context, needEnc, needDec bool) (*vae, error) {
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
		return openONNX(dir, encPath, decPath)
	}
	m, err := loadModel(dir)
	if err != nil {
		return nil, err
	}
	path := c.String("checkpoint")
	if path == "" {
		path = filepath.Join(dir, bestCheckpoint)
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			path = filepath.Join(dir, lastCheckpoint)
		}
	}
	ck, err := checkpoint.Load(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no checkpoint %s: run `vaec train` first (or give --checkpoint, or ONNX files with --encoder/--decoder)", path)
	}
	if err != nil {
		return nil, fmt.Errorf("reading the checkpoint: %w", err)
	}
	if h := ck.State.SpecHash; h != "" && h != m.SpecHash {
		return nil, fmt.Errorf("%s was trained from another spec (hash %.12s, the build has %.12s): rebuild, or point --dir at its build", path, h, m.SpecHash)
	}
	for _, p := range m.Params {
		t, ok := ck.Weights[p.Name]
		if !ok {
			return nil, fmt.Errorf("%s: parameter %q is missing", path, p.Name)
		}
		if t.Size() != p.Size() || len(t.Data) != p.Size() {
			return nil, fmt.Errorf("%s: parameter %q has shape %v, the model needs %v", path, p.Name, t.Shape, p.Shape)
		}
	}
	return &vae{
		origin: path, model: m, input: m.Input, latent: m.Latent,
		lik:     evaluate.Likelihood{Kind: m.Likelihood.Kind, Sigma: m.Likelihood.Sigma},
		weights: ck.Weights,
	}, nil
}

// openONNX loads the given ONNX files ("" = not needed) and reads what the
// verbs need from their metadata (written by `vaec export`): latent size,
// likelihood, input shape and scaling. The build directory's model, when
// there is one, only supplies the default data sources.
func openONNX(dir, encPath, decPath string) (*vae, error) {
	v := &vae{}
	var names []string
	var meta map[string]string
	for _, f := range []struct {
		path string
		dst  **runtime.Model
	}{{encPath, &v.enc}, {decPath, &v.dec}} {
		if f.path == "" {
			continue
		}
		data, err := os.ReadFile(f.path)
		if err != nil {
			return nil, err
		}
		info, err := export.Inspect(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.path, err)
		}
		md := map[string]string{}
		for _, p := range info.Metadata {
			md[p.Key] = p.Value
		}
		if meta == nil {
			meta = md
		}
		if md[export.MetaSpecHash] != meta[export.MetaSpecHash] {
			return nil, fmt.Errorf("%s and %s come from different specs (%s %q and %q)", encPath, decPath, export.MetaSpecHash, meta[export.MetaSpecHash], md[export.MetaSpecHash])
		}
		if *f.dst, err = runtime.Load(data); err != nil {
			return nil, fmt.Errorf("%s: %w", f.path, err)
		}
		names = append(names, f.path)
	}
	v.origin = strings.Join(names, " + ")
	where := names[0]
	get := func(key string) (string, error) {
		s, ok := meta[key]
		if !ok {
			return "", fmt.Errorf("%s: metadata %q is missing: was the file written by `vaec export`?", where, key)
		}
		return s, nil
	}
	num := func(key string) (float64, error) {
		s, err := get(key)
		if err != nil {
			return 0, err
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return 0, fmt.Errorf("%s: metadata %s = %q is not a finite number", where, key, s)
		}
		return f, nil
	}
	lat, err := num(export.MetaLatent)
	if err != nil {
		return nil, err
	}
	if lat < 1 || lat > 1<<20 || lat != math.Trunc(lat) {
		return nil, fmt.Errorf("%s: metadata %s = %v is not a latent size", where, export.MetaLatent, lat)
	}
	v.latent = int(lat)
	lik, err := get(export.MetaLikelihood)
	if err != nil {
		return nil, err
	}
	kind, kerr := ir.ParseLikelihood(lik)
	v.lik.Kind = kind
	switch {
	case kerr != nil:
		return nil, fmt.Errorf("%s: metadata %s = %q is not a likelihood vaec knows", where, export.MetaLikelihood, lik)
	case kind == ir.Bernoulli, kind == ir.GaussianLearned:
	case kind == ir.GaussianFixed:
		if v.lik.Sigma, err = num(export.MetaSigma); err != nil {
			return nil, err
		}
	}
	shape, err := get(export.MetaInputShape)
	if err != nil {
		return nil, err
	}
	v.input.Size = 1
	for _, p := range strings.Split(shape, ",") {
		d, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || d <= 0 || d > 1<<24 || v.input.Size > (1<<30)/d {
			return nil, fmt.Errorf("%s: metadata %s = %q is not a shape", where, export.MetaInputShape, shape)
		}
		v.input.Shape = append(v.input.Shape, d)
		v.input.Size *= d
	}
	if v.input.Scale, err = num(export.MetaInputScale); err != nil {
		return nil, err
	}
	if v.input.Offset, err = num(export.MetaInputOffset); err != nil {
		return nil, err
	}
	// The build's model, if any, is used for its data sources only, and only
	// when it is the model the files were exported from.
	if m, err := loadModel(dir); err == nil && m.SpecHash == meta[export.MetaSpecHash] {
		v.model = m
	}
	return v, nil
}

// rowsPerCall bounds the rows of one encoder or decoder call: large enough
// for efficient matrix products, small enough to keep memory modest.
const rowsPerCall = 1000

// Encode returns mu and logvar [n, latent] for x [n, D].
func (v *vae) Encode(x []float32, n int) (mu, logvar []float32, err error) {
	if v.weights != nil {
		return graph.Encode(v.model, v.weights, x, n)
	}
	if v.enc == nil {
		return nil, nil, errors.New("no encoder loaded")
	}
	out, err := v.enc.Run(map[string]runtime.Tensor{
		ir.InputX: {Shape: append([]int{n}, v.input.Shape...), Data: x},
	})
	if err != nil {
		return nil, nil, fmt.Errorf("encoder: %w", err)
	}
	mu, logvar = out[ir.OutputMu].Data, out[ir.OutputLogvar].Data
	if len(mu) != n*v.latent || len(logvar) != n*v.latent {
		return nil, nil, fmt.Errorf("encoder returned %d means and %d log-variances for %d rows of latent size %d", len(mu), len(logvar), n, v.latent)
	}
	return mu, logvar, nil
}

// encodeAll encodes every row of x in calls of rowsPerCall.
func (v *vae) encodeAll(x []float32, n int) (mu, logvar []float32, err error) {
	d := v.input.Size
	for s := 0; s < n; s += rowsPerCall {
		b := min(rowsPerCall, n-s)
		m, l, err := v.Encode(x[s*d:(s+b)*d], b)
		if err != nil {
			return nil, nil, fmt.Errorf("encoding examples %d to %d: %w", s, s+b-1, err)
		}
		mu, logvar = append(mu, m...), append(logvar, l...)
	}
	return mu, logvar, nil
}

// decodeRaw runs the decoder and returns its outputs by name.
func (v *vae) decodeRaw(z []float32, n int) (map[string][]float32, error) {
	if v.weights != nil {
		return graph.Decode(v.model, v.weights, z, n)
	}
	if v.dec == nil {
		return nil, errors.New("no decoder loaded")
	}
	out, err := v.dec.Run(map[string]runtime.Tensor{ir.InputZ: {Shape: []int{n, v.latent}, Data: z}})
	if err != nil {
		return nil, fmt.Errorf("decoder: %w", err)
	}
	res := map[string][]float32{}
	for k, t := range out {
		res[k] = t.Data
	}
	return res, nil
}

// Decode returns what the likelihood needs (evaluate.Model). From ONNX,
// Bernoulli logits are recovered from the probabilities: exact except
// where a float32 probability has saturated to 0 or 1, where the logit is
// clamped to about ±16 (the cost of a confidently wrong pixel is then
// understated; right pixels are unaffected to 1e-7 nats).
func (v *vae) Decode(z []float32, n int) (evaluate.Decoded, error) {
	d := v.input.Size
	if v.weights != nil && v.lik.Kind == ir.Bernoulli {
		l, err := graph.DecodeLogits(v.model, v.weights, z, n)
		return evaluate.Decoded{Logits: l}, err
	}
	out, err := v.decodeRaw(z, n)
	if err != nil {
		return evaluate.Decoded{}, err
	}
	switch v.lik.Kind {
	case ir.Bernoulli:
		p := out[ir.OutputProbs]
		if len(p) != n*d {
			return evaluate.Decoded{}, fmt.Errorf("decoder returned %d probabilities for %d rows of %d", len(p), n, d)
		}
		const eps = 1e-7
		l := make([]float32, len(p))
		for i, pv := range p {
			q := math.Min(math.Max(float64(pv), eps), 1-eps)
			l[i] = float32(math.Log(q) - math.Log1p(-q))
		}
		return evaluate.Decoded{Logits: l}, nil
	default:
		return evaluate.Decoded{Mean: out[ir.OutputMean], Logvar: out[ir.OutputLogvar]}, nil
	}
}

// expected returns E[x|z] for z [n, latent] (Bernoulli probabilities or the
// Gaussian mean): what the pictures show.
func (v *vae) expected(z []float32, n int) ([]float32, error) {
	var res []float32
	for s := 0; s < n; s += rowsPerCall {
		b := min(rowsPerCall, n-s)
		out, err := v.decodeRaw(z[s*v.latent:(s+b)*v.latent], b)
		if err != nil {
			return nil, err
		}
		name := ir.OutputMean
		if v.lik.Kind == ir.Bernoulli {
			name = ir.OutputProbs
		}
		x, ok := out[name]
		if !ok || len(x) != b*v.input.Size {
			return nil, fmt.Errorf("decoder output %q: got %d values for %d rows of %d", name, len(x), b, v.input.Size)
		}
		res = append(res, x...)
	}
	return res, nil
}

// ---- Which data ----

// dataFlags are the flags that pick the data of a verb; n is the default
// --n (0 = every example).
func dataFlags(n int) []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "data", Usage: "data file (IDX, NPY or CSV) instead of the model's data; scaled as the model's input"},
		&cli.StringFlag{Name: "labels", Usage: "labels file for --data (used for colours only)"},
		&cli.StringFlag{Name: "split", Value: "validation", Usage: "which of the model's data: validation or train"},
		&cli.IntFlag{Name: "n", Value: n, Usage: "use the first N examples (0 = all)"},
	}
}

// loadData reads the data the flags name and describes it for messages.
func loadData(c *cli.Context, v *vae) (*dataset.Set, string, error) {
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
		var err error
		if set, err = dataset.Load(src, v.input); err != nil {
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
		if v.model == nil {
			return nil, "", usagef("no build directory %s/ with the model these ONNX files come from: give the data with --data FILE", c.String("dir"))
		}
		train, val, err := loadTrainingData(v.model)
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
