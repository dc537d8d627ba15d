package main

import (
	"errors"
	"fmt"
	"github.com/vaec/vaec/ir"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/vaec/vaec/builddir"
	"github.com/vaec/vaec/checkpoint"
	"github.com/vaec/vaec/export"
	"github.com/vaec/vaec/vae"
	"github.com/vaec/vaec/verify"
)

// roundTripFile is the optional single model x, eps → reconstruction.
const roundTripFile = "roundtrip.onnx"

// scoreFile is x → the anomaly score and mu, preprocessing inside.
const scoreFile = "score.onnx"

// exportCommand writes encoder.onnx and decoder.onnx from the build
// directory's model and checkpoint, then verifies them.
func exportCommand() *cli.Command {
	return &cli.Command{
		Name:      "export",
		Usage:     "write the trained model as encoder.onnx, decoder.onnx and score.onnx",
		ArgsUsage: " ",
		Description: "Reads model.json and the checkpoint of the build directory and writes\n" +
			"encoder.onnx (x → mu, logvar), decoder.onnx (z → the likelihood's parameters, and\n" +
			"mean_raw, E[x|z] in the data's units) and score.onnx (x → the anomaly score and mu),\n" +
			"taking raw data as the data file holds it (--no-preprocess: scaled input, round 1),\n" +
			"ONNX IR version 8, opset 17 unless --opset says otherwise. The files are replaced\n" +
			"as one set (both new or both old); identical inputs give identical bytes; each\n" +
			"records the SHA-256 of its weights, which verify checks. Afterwards both files are\n" +
			"run in vaec's runtime and compared with the training graph (skip with --no-verify).",
		Flags: []cli.Flag{
			quietFlag(),
			&cli.BoolFlag{Name: "onnx", Usage: "export to ONNX (the only format, and the default)"},
			&cli.StringFlag{Name: "dir", Value: defaultDir, Usage: "build directory holding model.json and the checkpoint"},
			&cli.StringFlag{Name: "checkpoint", Usage: "checkpoint to export (default: DIR/" + bestCheckpoint + " when the model has validation data, else DIR/" + lastCheckpoint + ")"},
			&cli.StringFlag{Name: "out", Usage: "directory to write the ONNX files to (default: DIR)"},
			&cli.IntFlag{Name: "opset", Usage: fmt.Sprintf("ONNX opset, %d to %d (default: the spec's, else %d)",
				export.SupportedOpsets[0], export.SupportedOpsets[len(export.SupportedOpsets)-1], export.DefaultOpset)},
			&cli.BoolFlag{Name: "roundtrip", Usage: "also write " + roundTripFile + ": inputs x and eps, outputs the reconstruction"},
			&cli.BoolFlag{Name: "no-verify", Usage: "skip comparing the files with the training graph"},
			&cli.BoolFlag{Name: "no-preprocess", Usage: "round 1's form: the encoder takes input already scaled (and normalised) as its metadata states, the decoder has no mean_raw"},
			tritonFlag(),
		},
		Action: withTriton(exportAction),
	}
}

// exportConfig is what the export verb needs, resolved from its flags.
type exportConfig struct {
	dir, checkpoint, out string
	opset                int
	roundTrip, verify    bool
	noPreprocess         bool
}

func exportAction(c *cli.Context) error {
	if c.Args().Present() {
		return usagef("export takes no arguments, got %q (use --dir, --checkpoint, --out)", c.Args().Slice())
	}
	cfg := exportConfig{
		dir: c.String("dir"), checkpoint: c.String("checkpoint"), out: c.String("out"),
		opset: c.Int("opset"), roundTrip: c.Bool("roundtrip"), verify: !c.Bool("no-verify"),
		noPreprocess: c.Bool("no-preprocess"),
	}
	if c.IsSet("opset") {
		if _, err := export.ResolveOpset(nil, export.Options{Opset: cfg.opset}); err != nil || cfg.opset == 0 {
			return usagef("--opset %d: the exporter writes opsets %d to %d", cfg.opset,
				export.SupportedOpsets[0], export.SupportedOpsets[len(export.SupportedOpsets)-1])
		}
	}
	return runExport(cfg, nil, c.App.ErrWriter, outFor(c))
}

// exportFile is one file to write.
type exportFile struct {
	path string
	fn   func(*ir.Model, map[string]checkpoint.Tensor, export.Options) ([]byte, error)
	data []byte
}

// runExport loads the build, lowers it, writes the files and verifies them.
// d, when not nil, is the build directory already opened for writing (by
// `vaec run`); otherwise the output directory is opened (locked) here.
func runExport(cfg exportConfig, d *builddir.Dir, errOut, out io.Writer) error {
	if cfg.dir == "" {
		cfg.dir = defaultDir
	}
	m, err := loadModel(cfg.dir)
	if err != nil {
		return err
	}
	ckPath := cfg.checkpoint
	if ckPath == "" {
		ckPath = modelCheckpoint(cfg.dir, m)
	}
	ck, err := loadTrainedCheckpoint(ckPath, cfg.checkpoint == "", cfg.dir, m)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "exporting %s (epoch %d)\n", ckPath, ck.State.Epoch)
	if !ck.Checked {
		fmt.Fprintf(errOut, "note: %s has no checksums (written by an earlier vaec): loaded unchecked\n", ckPath)
	}
	source, err := builddir.FileSHA256(ckPath)
	if err != nil {
		return err
	}
	opts := export.Options{
		Opset:        cfg.opset,
		Digest:       true,
		NoPreprocess: cfg.noPreprocess,
		Metadata: export.Metadata{
			ProducerVersion: version,
			EpochsTrained:   ck.State.Epoch,
			ValELBO:         ck.State.ValELBO,
		},
	}
	if m.Anomaly.FalsePositiveRate > 0 {
		v, err := vae.FromWeights(m, ck.Weights, ck.State.Epoch, ckPath)
		if err != nil {
			return err
		}
		if opts.Metadata.Threshold, err = exportThreshold(v); err != nil {
			return fmt.Errorf("fitting the outlier threshold: %w", err)
		}
		opts.Metadata.FalsePositiveRate = m.Anomaly.FalsePositiveRate
	}
	if m.Prior.Learned() {
		// A VampPrior's components (the encoder at its pseudo-inputs) are
		// constants of prior.onnx and score.onnx.
		v, err := vae.FromWeights(m, ck.Weights, ck.State.Epoch, ckPath)
		if err != nil {
			return err
		}
		opts.Prior = v.Prior
	}
	outDir := cfg.out
	if outDir == "" {
		outDir = cfg.dir
	}
	files := []*exportFile{
		{path: filepath.Join(outDir, encoderFile), fn: export.Encoder},
		{path: filepath.Join(outDir, decoderFile), fn: export.Decoder},
		{path: filepath.Join(outDir, scoreFile), fn: export.Score},
	}
	if cfg.roundTrip {
		files = append(files, &exportFile{path: filepath.Join(outDir, roundTripFile), fn: export.RoundTrip})
	}
	if m.Prior.Learned() {
		files = append(files, &exportFile{path: filepath.Join(outDir, export.RolePrior+".onnx"), fn: export.Prior})
	}
	// Lower everything before writing anything, so that a failure leaves
	// the directory as it was.
	for _, f := range files {
		if f.data, err = f.fn(m, ck.Weights, opts); err != nil {
			return fmt.Errorf("exporting %s: %w", ckPath, err)
		}
	}
	if d == nil || filepath.Clean(d.Path) != filepath.Clean(outDir) {
		if d, err = openBuild(outDir, errOut); err != nil {
			return err
		}
		defer d.Close()
	}
	set := map[string][]byte{}
	for _, f := range files {
		set[filepath.Base(f.path)] = f.data
	}
	sidecar, err := export.NewSidecar(m, opts).Marshal()
	if err != nil {
		return err
	}
	set[export.SidecarFile] = sidecar
	if err := d.CommitExport(set, source); err != nil {
		return err
	}
	for _, f := range files {
		info, err := export.Inspect(f.data)
		if err != nil {
			return fmt.Errorf("%s: %w", f.path, err)
		}
		fmt.Fprintf(out, "wrote %s (%s bytes, %s parameters, opset %d)\n",
			f.path, thousands(len(f.data)), thousands(int(info.Params)), info.Opsets[0].Version)
	}
	if !cfg.verify {
		return nil
	}
	return verifyExport(m, ck.Weights, files[0].path, files[1].path, verify.DefaultTol, out)
}

// loadTrainedCheckpoint reads the checkpoint to export and refuses one that
// is missing, untrained or trained for another spec.
func loadTrainedCheckpoint(path string, isDefault bool, dir string, m *ir.Model) (*checkpoint.Checkpoint, error) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		if isDefault {
			return nil, fmt.Errorf("no trained checkpoint in %s/: run `vaec train` first", filepath.Clean(dir))
		}
		return nil, fmt.Errorf("checkpoint %s does not exist", path)
	}
	ck, err := checkpoint.Load(path)
	if err != nil {
		return nil, fmt.Errorf("reading the checkpoint: %w", err)
	}
	if ck.State.Epoch <= 0 {
		return nil, fmt.Errorf("%s is untrained (0 epochs completed): run `vaec train` first", path)
	}
	if ck.State.SpecHash != m.SpecHash {
		return nil, fmt.Errorf("%s was trained for another spec (hash %.12s, model.json has %.12s): run `vaec train` again after `vaec build`",
			path, ck.State.SpecHash, m.SpecHash)
	}
	return ck, nil
}
