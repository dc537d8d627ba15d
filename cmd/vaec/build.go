package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"github.com/vaec/vaec/ir"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/vaec/vaec/builddir"
	"github.com/vaec/vaec/compiler"
	"github.com/vaec/vaec/internal/capped"
)

// defaultSpec is the spec `vaec build` compiles when given none.
const defaultSpec = "vaec.yaml"

func buildCommand() *cli.Command {
	return &cli.Command{
		Name:      "build",
		Usage:     "compile a spec, print its layer table, and write the build directory",
		ArgsUsage: "[spec.yaml]",
		Description: "Parses and checks the spec (all errors are reported, each with file:line:col),\n" +
			"infers the layer shapes and parameters, and writes " + modelFile + " and a copy of the\n" +
			"spec into the build directory, where train and export find them. With no\n" +
			"argument it compiles " + defaultSpec + " in the working directory.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "dir", Value: defaultDir, Usage: "build directory to write"},
			&cli.BoolFlag{Name: "json", Usage: "print the summary as JSON"},
		},
		Action: buildAction,
	}
}

func buildAction(c *cli.Context) error {
	var spec string
	switch c.NArg() {
	case 0:
		if _, err := os.Stat(defaultSpec); err != nil {
			return usagef("build: no spec given and no %s in the working directory; run `vaec build spec.yaml`", defaultSpec)
		}
		spec = defaultSpec
	case 1:
		spec = c.Args().First()
	default:
		return usagef("build: want one spec file, got %d arguments", c.NArg())
	}
	src, err := readSpec(spec)
	if err != nil {
		return fmt.Errorf("build: %w", err)
	}
	m, err := compileSpec(c.App.ErrWriter, spec, src)
	if err != nil {
		return err
	}
	est, err := checkMemory(m)
	if err != nil {
		return fmt.Errorf("build: %w", err)
	}
	dir := c.String("dir")
	d, err := openBuild(dir, c.App.ErrWriter)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := writeBuild(d, m, src); err != nil {
		return fmt.Errorf("build: %w", err)
	}
	if c.Bool("json") {
		return printBuildJSON(c.App.Writer, m, dir, est)
	}
	if err := printBuildTable(c.App.Writer, m, dir); err != nil {
		return err
	}
	_, err = fmt.Fprintf(c.App.Writer, "training memory: about %s\n", est)
	return err
}

// readSpec reads a spec, refusing more than capped.SpecLimit bytes (a
// spec is hand-written; /dev/zero is not one).
func readSpec(path string) ([]byte, error) {
	return capped.ReadFile(path, capped.SpecLimit)
}

// writeBuild writes the model and a copy of its spec into the build
// directory, each atomically.
func writeBuild(d *builddir.Dir, m *ir.Model, src []byte) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding the model: %w", err)
	}
	if err := d.WriteFile(specCopy, src); err != nil {
		return err
	}
	return d.WriteFile(modelFile, append(b, '\n'))
}

// loadModel reads the model of the build directory dir (defaultDir when
// empty). Every verb that works on a build uses it.
func loadModel(dir string) (*ir.Model, error) {
	if dir == "" {
		dir = defaultDir
	}
	path := filepath.Join(dir, modelFile)
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no build in %s/: run `vaec build spec.yaml` first", filepath.Clean(dir))
	}
	b, err := capped.ReadFile(path, capped.ModelLimit)
	if err != nil {
		return nil, fmt.Errorf("read model: %w", err)
	}
	return compiler.DecodeModel(path, b)
}

// tableRow is one row of the layer table.
type tableRow struct {
	Layer      string `json:"layer"`
	Op         string `json:"op"`
	Activation string `json:"activation,omitempty"`
	Shape      []int  `json:"shape"` // per sample; the batch dimension N is implied
	Params     int    `json:"params"`
	MACs       int    `json:"macs"`
}

// layerTable lists the model from input to output: what each layer
// computes and produces, in the order data flows.
func layerTable(m *ir.Model) []tableRow {
	rows := []tableRow{{Layer: ir.InputX, Op: "input", Shape: m.Input.Shape}}
	add := func(n *ir.Node, shape []int) {
		act := ""
		if slices.Contains(n.Op.Info().Attrs, "activation") {
			act = n.Activation.String()
		}
		if n.Activation.HasAlpha() {
			act += "(" + strconv.FormatFloat(n.Alpha, 'g', -1, 64) + ")"
		}
		params := 0
		for _, name := range n.Params {
			// Buffers (batch norm's running statistics) are not
			// parameters, as in the total and in PyTorch's count.
			if p, _ := m.Param(name); !p.Buffer {
				params += p.Size()
			}
		}
		rows = append(rows, tableRow{Layer: n.Name, Op: n.Op.String(), Activation: act, Shape: shape,
			Params: params, MACs: n.MACs()})
	}
	for i := range m.Encoder.Nodes {
		add(&m.Encoder.Nodes[i], m.Encoder.Nodes[i].Out)
	}
	rows = append(rows, tableRow{Layer: ir.InputZ, Op: "sample", Shape: []int{m.Latent}})
	for i := range m.Decoder.Nodes {
		n := &m.Decoder.Nodes[i]
		shape := []int(n.Out)
		if n.Role == ir.RoleOutput {
			shape = m.Input.Shape // the output is reshaped back to the input's shape
		}
		add(n, shape)
	}
	if m.Likelihood.Logvar != "" {
		p, _ := m.Param(m.Likelihood.Logvar)
		rows = append(rows, tableRow{Layer: p.Name, Op: "param", Shape: m.Input.Shape, Params: p.Size()})
	}
	return rows
}

// batchShape formats a per-sample shape with the batch dimension in front.
func batchShape(shape []int) string {
	parts := []string{"N"}
	for _, d := range shape {
		parts = append(parts, strconv.Itoa(d))
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// thousands formats n with comma separators: 652824 → "652,824".
func thousands(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func likelihoodText(m *ir.Model) string {
	switch m.Likelihood.Kind {
	case ir.GaussianFixed:
		return fmt.Sprintf("gaussian (sigma %g, mean %s)", m.Likelihood.Sigma, m.Output().Activation)
	case ir.GaussianLearned:
		return fmt.Sprintf("gaussian (learned variance, mean %s)", m.Output().Activation)
	}
	return m.Likelihood.Kind.String()
}

func printBuildTable(w io.Writer, m *ir.Model, dir string) error {
	fmt.Fprintf(w, "%s: latent %d, likelihood %s, spec hash %.12s\n\n", m.Name, m.Latent, likelihoodText(m), m.SpecHash)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "LAYER\tOP\tACTIVATION\tOUTPUT SHAPE\tPARAMS\tMACS")
	for _, r := range layerTable(m) {
		act := r.Activation
		if act == "" {
			act = "-"
		}
		params := "-"
		if r.Params > 0 {
			params = thousands(r.Params)
		}
		shape := batchShape(r.Shape)
		if r.Op == "param" {
			shape = shape[:1] + shape[4:] // a parameter has no batch dimension
		}
		macs := "-"
		if r.MACs > 0 {
			macs = thousands(r.MACs)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Layer, r.Op, act, shape, params, macs)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	o, t := m.Train.Optimizer, m.Train
	fmt.Fprintf(w, "\ntotal parameters: %s\nmultiply-adds per sample: %s\n", thousands(m.ParamCount()), thousands(m.MACs()))
	fmt.Fprintf(w, "training: %s lr %g, batch %d, %d epochs, seed %d; objective beta %g, %d sample(s), KL warm-up %d epochs\n",
		o.Kind, o.LearningRate, t.BatchSize, t.Epochs, t.Seed, m.Objective.Beta, m.Objective.Samples, m.Objective.WarmupEpochs)
	if v := variantSummary(m); v != "" {
		fmt.Fprintln(w, v)
	}
	_, err := fmt.Fprintf(w, "wrote %s\n", filepath.Join(dir, modelFile))
	return err
}

// buildSummary is the JSON form of the build output.
type buildSummary struct {
	Name          string     `json:"name"`
	SpecHash      string     `json:"spec_hash"`
	Latent        int        `json:"latent"`
	Likelihood    string     `json:"likelihood"`
	Layers        []tableRow `json:"layers"`
	TotalParams   int        `json:"total_params"`
	MACsPerSample int        `json:"macs_per_sample"`
	ModelFile     string     `json:"model_file"`
	// TrainingMemory is the estimate of train's peak memory, in bytes.
	TrainingMemory int64 `json:"training_memory_bytes"`
}

func printBuildJSON(w io.Writer, m *ir.Model, dir string, est memEstimate) error {
	s := buildSummary{
		Name: m.Name, SpecHash: m.SpecHash, Latent: m.Latent, Likelihood: m.Likelihood.Kind.String(),
		Layers: layerTable(m), TotalParams: m.ParamCount(), MACsPerSample: m.MACs(),
		ModelFile: filepath.Join(dir, modelFile), TrainingMemory: est.Total(),
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(s)
}
