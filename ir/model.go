package ir

import (
	"fmt"
	"strconv"
)

// FormatVersion is the version of the model.json layout written by this
// package. Version 1 (no "format" key) had the encoder heads and the output
// layer as fields; compiler.DecodeModel still reads it.
const FormatVersion = 2

// Names of the exported graphs' inputs and outputs. They are part of the
// public contract: users address them by name from ONNX Runtime.
const (
	InputX       = "x"      // encoder input [N, input shape...]
	InputY       = "y"      // a condition (conditional VAEs) [N, classes]
	InputZ       = "z"      // decoder input [N, latent]
	InputEps     = "eps"    // round-trip model input [N, latent]
	OutputMu     = "mu"     // encoder output [N, latent]
	OutputLogvar = "logvar" // encoder output [N, latent]; also the Gaussian-learned decoder output [N, D]
	OutputProbs  = "probs"  // Bernoulli decoder output [N, input shape...]
	OutputMean   = "mean"   // Gaussian decoder output [N, input shape...]
	// OutputMeanRaw is E[x|z] in the data's raw units (the input's
	// scaling and normalisation undone): decoder output [N, input shape...].
	OutputMeanRaw = "mean_raw"
	OutputScore   = "score" // score model output [N]: −log p(x|z=mu) + KL(q(z|x) ‖ p(z))
)

// Pos is a position in a spec file (1-based line and column).
type Pos struct {
	File string `json:"file,omitempty"`
	Line int    `json:"line,omitempty"`
	Col  int    `json:"col,omitempty"`
}

// String formats p as file:line:col, leaving out what is unknown.
func (p Pos) String() string {
	file := p.File
	if file == "" {
		file = "<spec>"
	}
	if p.Line == 0 {
		return file
	}
	return fmt.Sprintf("%s:%d:%d", file, p.Line, p.Col)
}

// Param is one trainable tensor. Its Name is the single name it carries
// everywhere: Gorgonia node, checkpoint entry, ONNX initializer.
type Param struct {
	Name  string `json:"name"`  // e.g. "encoder.0.weight"
	Shape Shape  `json:"shape"` // row-major
	Init  Init   `json:"init"`
	FanIn int    `json:"fan_in"` // used by InitFanInUniform
	// Buffer marks state that is not trained: batch norm's running
	// statistics. The forward pass in training mode updates a buffer in
	// place; the optimizer never sees it (no gradient, no moments) and
	// ParamCount leaves it out, as PyTorch's parameters() does. Checkpoints
	// keep it beside the parameters and the export writes it as an
	// initializer.
	Buffer bool `json:"buffer,omitempty"`
}

// Size is the number of elements of p.
func (p Param) Size() int { return p.Shape.Size() }

// Value is a named input of a graph.
type Value struct {
	Name  string `json:"name"`
	Shape Shape  `json:"shape"`
}

// Attrs are the attributes of a node. Each op reads the ones its table
// entry lists; the others stay zero (ir.Verify checks it).
type Attrs struct {
	Units      int        `json:"units,omitempty"` // dense: output features
	Activation Activation `json:"activation"`      // applied to the op's result
	Alpha      float64    `json:"alpha,omitempty"` // slope of leaky_relu, alpha of elu

	// Image layers. Pairs are [h, w].
	Filters       int   `json:"filters,omitempty"`        // conv2d, conv_transpose2d: output channels
	Kernel        []int `json:"kernel,omitempty"`         // conv2d, conv_transpose2d
	Stride        []int `json:"stride,omitempty"`         // conv2d, conv_transpose2d
	Padding       []int `json:"padding,omitempty"`        // conv2d, conv_transpose2d: zeros on each side
	OutputPadding []int `json:"output_padding,omitempty"` // conv_transpose2d: added to one side of the output
	Factor        []int `json:"factor,omitempty"`         // upsample
	// Momentum and Epsilon are batch_norm's (PyTorch's meaning and
	// defaults 0.1 and 1e-5).
	Momentum float64 `json:"momentum,omitempty"`
	Epsilon  float64 `json:"epsilon,omitempty"`
	Target   Shape   `json:"shape,omitempty"` // reshape: the output's per-example shape
}

// Node is one operation of a graph.
type Node struct {
	Name   string   `json:"name"` // unique in the model: "encoder.0", "encoder.mu", "decoder.out"
	Op     Op       `json:"op"`
	Role   Role     `json:"role"`
	Inputs []string `json:"inputs"` // graph inputs or earlier nodes, by name
	In     []Shape  `json:"in"`     // the inputs' shapes, one per input
	Out    Shape    `json:"out"`    // the result's shape
	Attrs
	Params []string `json:"params"` // parameter names, in the op's order
	Pos    Pos      `json:"pos"`    // where the spec declared it (the list entry, or the key it follows from)
	Path   string   `json:"path"`   // its key path in the spec: "encoder[1]", "latent"
}

// MACs is the number of multiply-adds per example of the node.
func (n *Node) MACs() int { return n.Op.Info().MACs(n) }

// Where names the node for messages: "spec.yaml:12:5: encoder[2]" (or the
// node's name when it has no spec path).
func (n *Node) Where() string {
	what := n.Path
	switch {
	case what == "":
		what = n.Name
	case n.Role != Hidden:
		// Heads and the output follow from a key (latent, likelihood)
		// that does not name them.
		what += ": " + n.Name
	}
	if n.Pos.Line == 0 {
		return what
	}
	return n.Pos.String() + ": " + what
}

// Errorf returns an error at n: "spec.yaml:12:5: encoder[2]: msg".
func (n *Node) Errorf(format string, args ...any) error {
	return fmt.Errorf("%s: %s", n.Where(), fmt.Sprintf(format, args...))
}

// Graph is the encoder or the decoder: a DAG of nodes over named inputs,
// in topological order.
type Graph struct {
	Inputs []Value `json:"inputs"`
	Nodes  []Node  `json:"nodes"`
}

// Role returns the node with role r, or nil.
func (g *Graph) Role(r Role) *Node {
	for i := range g.Nodes {
		if g.Nodes[i].Role == r {
			return &g.Nodes[i]
		}
	}
	return nil
}

// Hidden returns the graph's hidden nodes, in order.
func (g *Graph) Hidden() []Node {
	var out []Node
	for _, n := range g.Nodes {
		if n.Role == Hidden {
			out = append(out, n)
		}
	}
	return out
}

// Input describes the data the model consumes and how raw data becomes
// model input: per feature d,
//
//	x_d = (raw_d·Scale + Offset)·FeatureScale_d + FeatureShift_d
//
// with a missing raw value first replaced by Fill_d. The exported encoder
// (and score model) start with these nodes, so callers feed raw data.
type Input struct {
	Shape Shape `json:"shape"` // per-example shape: [D] or [C, H, W]
	Size  int   `json:"size"`  // product of Shape: the flattened feature count D
	// Scalar scaling, as the spec gives it (for example Scale = 1/255 for
	// 8-bit images).
	Scale  float64 `json:"scale"`
	Offset float64 `json:"offset"`
	// Normalize is the per-feature normalisation; FeatureScale and
	// FeatureShift ([D] each) are its fit on the training records (both
	// nil when Normalize is none).
	Normalize    Normalize `json:"normalize,omitempty"`
	FeatureScale []float64 `json:"feature_scale,omitempty"`
	FeatureShift []float64 `json:"feature_shift,omitempty"`
	// Missing says what an empty or NaN value becomes; Fill ([D], raw
	// units: the training means) is set when it is MissingMean.
	Missing Missing   `json:"missing,omitempty"`
	Fill    []float64 `json:"fill,omitempty"`
	// Columns names the features when the data has a header (CSV).
	Columns []string `json:"columns,omitempty"`
}

// Affine returns the per-feature map from (filled) raw data to model
// input, x_d = raw_d·a_d + b_d, combining the scalar scaling and the
// fitted normalisation.
func (in Input) Affine() (a, b []float64) {
	a, b = make([]float64, in.Size), make([]float64, in.Size)
	for d := range a {
		a[d], b[d] = in.Scale, in.Offset
		if in.FeatureScale != nil {
			a[d] *= in.FeatureScale[d]
			b[d] = b[d]*in.FeatureScale[d] + in.FeatureShift[d]
		}
	}
	return a, b
}

// Anomaly holds the outlier threshold fitted on the validation records.
type Anomaly struct {
	// FalsePositiveRate is the share of normal records the threshold
	// flags; the threshold is the (1 − rate) quantile of the score over
	// the validation records (0: no threshold).
	FalsePositiveRate float64 `json:"false_positive_rate,omitempty"`
}

// Likelihood is the decoder's observation model.
type Likelihood struct {
	Kind  LikelihoodKind `json:"kind"`
	Sigma float64        `json:"sigma,omitempty"` // GaussianFixed
	// Logvar names the learned per-dimension log-variance parameter
	// [Input.Size] for GaussianLearned, "" otherwise.
	Logvar string `json:"logvar,omitempty"`
}

// Outputs names the decoder's outputs for the likelihood, in order.
func (l Likelihood) Outputs() []string {
	switch l.Kind {
	case Bernoulli:
		return []string{OutputProbs}
	case GaussianLearned:
		return []string{OutputMean, OutputLogvar}
	default:
		return []string{OutputMean}
	}
}

// String is the likelihood's kind, with sigma when fixed.
func (l Likelihood) String() string {
	if l.Kind == GaussianFixed {
		return fmt.Sprintf("%s (sigma %g)", l.Kind, l.Sigma)
	}
	return l.Kind.String()
}

// Objective is the training objective: negative ELBO with β on the KL term.
type Objective struct {
	Kind         ObjectiveKind `json:"kind"`
	Beta         float64       `json:"beta"`          // KL weight (1 = plain VAE)
	Samples      int           `json:"samples"`       // Monte Carlo samples of z per input
	WarmupEpochs int           `json:"warmup_epochs"` // KL weight ramps linearly from 0 to Beta over this many epochs (0 = none)
}

// Optimizer holds the optimizer and its hyper-parameters (all filled by defaults).
type Optimizer struct {
	Kind         OptimizerKind `json:"kind"`
	LearningRate float64       `json:"learning_rate"`
	Beta1        float64       `json:"beta1,omitempty"`    // adam
	Beta2        float64       `json:"beta2,omitempty"`    // adam
	Epsilon      float64       `json:"epsilon,omitempty"`  // adam, adagrad, rmsprop
	Momentum     float64       `json:"momentum,omitempty"` // sgd
	Rho          float64       `json:"rho,omitempty"`      // rmsprop decay
}

// Train holds the training settings.
type Train struct {
	Optimizer   Optimizer `json:"optimizer"`
	BatchSize   int       `json:"batch_size"`
	Epochs      int       `json:"epochs"`
	Seed        uint64    `json:"seed"`
	WeightDecay float64   `json:"weight_decay"` // L2 added to the gradient (0 = none)
	ClipNorm    float64   `json:"clip_norm"`    // global gradient-norm clip (0 = none)
	// ValidationSplit is the fraction of the training source held out for
	// validation when no validation source is given (0 = no validation).
	ValidationSplit float64 `json:"validation_split"`
	Patience        int     `json:"patience"` // early stopping after this many epochs without improvement (0 = off)
}

// Source is one data file, with optional labels.
type Source struct {
	Path   string `json:"path"`   // absolute or relative to the process's working directory (resolved against the spec's directory by the compiler)
	Format Format `json:"format"` // inferred from the name when the spec omits it
	// Optional range of records to use: [Start, Start+Limit); Limit 0 = to the end.
	Start       int    `json:"start,omitempty"`
	Limit       int    `json:"limit,omitempty"`
	Labels      string `json:"labels,omitempty"` // optional labels file (used only for plots)
	LabelFormat Format `json:"label_format,omitempty"`
	CSVHeader   bool   `json:"csv_header,omitempty"` // first CSV line is a header (header: true)
	// CSVNoHeader says the first CSV line is data even when it is not
	// numeric (header: false); with neither set, a first line that is not
	// all numbers is taken as a header.
	CSVNoHeader bool `json:"csv_no_header,omitempty"`
	// Columns (the feature columns, in order) or Exclude (every column
	// but these) select a CSV file's features, so that an id or a label
	// column can stay in the file. Both empty: every column.
	Columns []Column `json:"columns,omitempty"`
	Exclude []Column `json:"exclude,omitempty"`
}

// Column names a CSV column: by its header name, or by its 0-based index
// when Name is empty.
type Column struct {
	Name  string `json:"name,omitempty"`
	Index int    `json:"index,omitempty"`
}

func (c Column) String() string {
	if c.Name != "" {
		return strconv.Quote(c.Name)
	}
	return strconv.Itoa(c.Index)
}

// Data holds the data sources.
type Data struct {
	Train      Source  `json:"train"`
	Validation *Source `json:"validation,omitempty"`
}

// Export holds the export settings.
type Export struct {
	Opset int `json:"opset"`
}

// Model is the compiled spec: the one description of a VAE that every
// later phase consumes. graph (training) and export (ONNX) are sibling
// lowerings of it; neither sees the YAML. It round-trips through JSON so
// that `vaec build` can leave it in the build directory.
type Model struct {
	Format   int    `json:"format"` // FormatVersion
	Version  int    `json:"vaec"`   // the spec's version
	Name     string `json:"name"`
	SpecFile string `json:"spec_file"`
	// SpecHash is the hex SHA-256 of the normalised spec. A checkpoint
	// records it; resuming under another hash is refused.
	SpecHash string `json:"spec_hash"`

	Input  Input `json:"input"`
	Latent int   `json:"latent"`

	// Encoder maps x to the heads mu and logvar (nodes with those roles).
	Encoder Graph `json:"encoder"`
	// Decoder maps z to the output node (role RoleOutput): Bernoulli
	// logits, or the Gaussian mean after its activation.
	Decoder Graph `json:"decoder"`

	Likelihood Likelihood `json:"likelihood"`
	Prior      Prior      `json:"prior"`
	// Condition makes the model a conditional VAE (zero: unconditional).
	Condition Condition `json:"condition,omitzero"`

	// Params lists every parameter once, in a fixed order: the encoder's
	// nodes, the decoder's nodes, then the likelihood's.
	Params []Param `json:"params"`

	Objective Objective `json:"objective"`
	Train     Train     `json:"train"`
	Data      Data      `json:"data"`
	Export    Export    `json:"export"`
	Anomaly   Anomaly   `json:"anomaly,omitempty"`
}

// Param returns the parameter called name.
func (m *Model) Param(name string) (Param, bool) {
	for _, p := range m.Params {
		if p.Name == name {
			return p, true
		}
	}
	return Param{}, false
}

// ParamCount is the total number of trainable scalars (buffers left out).
func (m *Model) ParamCount() int {
	n := 0
	for _, p := range m.Params {
		if !p.Buffer {
			n += p.Size()
		}
	}
	return n
}

// Trainable returns the parameters the optimizer updates (every one but
// the buffers), in m.Params order.
func (m *Model) Trainable() []Param {
	var out []Param
	for _, p := range m.Params {
		if !p.Buffer {
			out = append(out, p)
		}
	}
	return out
}

// MACs is the multiply-adds of one forward pass (encoder and decoder) per example.
func (m *Model) MACs() int {
	n := 0
	for _, g := range []*Graph{&m.Encoder, &m.Decoder} {
		for i := range g.Nodes {
			n += g.Nodes[i].MACs()
		}
	}
	return n
}

// DecoderOutputs names the decoder's outputs, in order.
func (m *Model) DecoderOutputs() []string { return m.Likelihood.Outputs() }

// Mu, Logvar and Output return the heads and the output node.
func (m *Model) Mu() *Node     { return m.Encoder.Role(RoleMu) }
func (m *Model) Logvar() *Node { return m.Encoder.Role(RoleLogvar) }
func (m *Model) Output() *Node { return m.Decoder.Role(RoleOutput) }
