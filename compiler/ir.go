package compiler

// The IR: the one description of a VAE that every later phase consumes.
// graph (training) and export (ONNX) are sibling lowerings of a *Model; they
// never see the YAML. The IR is plain data and round-trips through JSON so
// that `vaec build` can leave it in the build directory for `vaec train` and
// `vaec export`.

// Pos is a position in a spec file (1-based line and column).
type Pos struct {
	File string `json:"file,omitempty"`
	Line int    `json:"line,omitempty"`
	Col  int    `json:"col,omitempty"`
}

// Activation is an elementwise function applied after a layer's affine map.
type Activation string

const (
	Linear    Activation = "linear"     // y = x
	ReLU      Activation = "relu"       // y = max(0, x)
	Tanh      Activation = "tanh"       // y = tanh(x)
	Sigmoid   Activation = "sigmoid"    // y = 1 / (1 + exp(-x))
	ELU       Activation = "elu"        // y = x if x > 0 else alpha·(exp(x) - 1), alpha = Layer.Alpha (default 1)
	LeakyReLU Activation = "leaky_relu" // y = x if x > 0 else alpha·x, alpha = Layer.Alpha (the slope)
	Softplus  Activation = "softplus"   // y = log(1 + exp(x))
)

// Activations lists every activation the compiler accepts, in a fixed order.
var Activations = []Activation{Linear, ReLU, Tanh, Sigmoid, ELU, LeakyReLU, Softplus}

// Op is the kind of a layer.
type Op string

const (
	// Dense: y = act(x·W + b), x [N, In], W [In, Out], b [Out].
	// Note W is stored input-major ([In, Out]), not PyTorch's [Out, In].
	Dense Op = "dense"
)

// Likelihood is the decoder's observation model p(x|z).
type Likelihood string

const (
	// Bernoulli: the decoder output layer produces logits; the exported
	// decoder returns probabilities sigmoid(logits).
	Bernoulli Likelihood = "bernoulli"
	// GaussianFixed: the output layer produces the mean; sigma is
	// Model.Sigma, a constant.
	GaussianFixed Likelihood = "gaussian_fixed"
	// GaussianLearned: the output layer produces the mean; a learned
	// per-dimension log-variance vector (parameter Model.OutputLogvar,
	// shape [D], independent of z) gives the variance.
	GaussianLearned Likelihood = "gaussian_learned"
)

// Names of the exported graphs' inputs and outputs. They are part of the
// public contract: users address them by name from ONNX Runtime.
const (
	InputX       = "x"      // encoder input [N, input shape...]
	OutputMu     = "mu"     // encoder output [N, latent]
	OutputLogvar = "logvar" // encoder output [N, latent]; also the Gaussian-learned decoder output [N, D]
	InputZ       = "z"      // decoder input [N, latent]
	OutputProbs  = "probs"  // Bernoulli decoder output [N, input shape...]
	OutputMean   = "mean"   // Gaussian decoder output [N, input shape...]
	InputEps     = "eps"    // round-trip model input [N, latent]
)

// Init names how a parameter is initialised before training.
type Init string

const (
	// InitFanInUniform: U(-1/sqrt(fanIn), 1/sqrt(fanIn)), PyTorch's default for
	// nn.Linear weights and biases; chosen so that results compare with the
	// PyTorch example.
	InitFanInUniform Init = "fan_in_uniform"
	InitZeros        Init = "zeros" // all zeros
)

// Param is one trainable tensor. Its Name is the single name it carries
// everywhere: Gorgonia node, checkpoint entry, ONNX initializer.
type Param struct {
	Name  string `json:"name"`  // e.g. "encoder.0.weight"
	Shape []int  `json:"shape"` // row-major
	Init  Init   `json:"init"`
	FanIn int    `json:"fan_in"` // used by InitFanInUniform
}

// Size is the number of elements of p.
func (p Param) Size() int {
	n := 1
	for _, d := range p.Shape {
		n *= d
	}
	return n
}

// Layer is one layer of the encoder or decoder.
type Layer struct {
	Name       string     `json:"name"` // e.g. "encoder.0", "encoder.mu", "decoder.out"
	Op         Op         `json:"op"`
	In         int        `json:"in"`  // input features (flattened)
	Out        int        `json:"out"` // output features
	Activation Activation `json:"activation"`
	Alpha      float64    `json:"alpha,omitempty"` // slope of leaky_relu, alpha of elu
	Weight     string     `json:"weight"`          // parameter name, shape [In, Out]
	Bias       string     `json:"bias"`            // parameter name, shape [Out]
	Pos        Pos        `json:"pos"`             // where the spec declared it (the list entry, or the key it follows from)
}

// MACs is the number of multiply-adds per sample of the layer.
func (l Layer) MACs() int { return l.In * l.Out }

// Input describes the data the model consumes.
type Input struct {
	Shape []int `json:"shape"` // per-sample shape: [D] or [C, H, W]
	Size  int   `json:"size"`  // product of Shape: the flattened feature count D
	// Raw data is mapped to model input as x = raw*Scale + Offset (for
	// example Scale = 1/255 for 8-bit images). Exported models expect
	// already-scaled input and record the scaling in their metadata.
	Scale  float64 `json:"scale"`
	Offset float64 `json:"offset"`
}

// Objective is the training objective: negative ELBO with β on the KL term.
type Objective struct {
	Beta         float64 `json:"beta"`          // KL weight (1 = plain VAE)
	Samples      int     `json:"samples"`       // Monte Carlo samples of z per input
	WarmupEpochs int     `json:"warmup_epochs"` // KL weight ramps linearly from 0 to Beta over this many epochs (0 = none)
}

// Optimizer kinds.
const (
	Adam    = "adam"
	Adagrad = "adagrad"
	SGD     = "sgd"
	RMSProp = "rmsprop"
)

// Optimizer holds the optimizer and its hyper-parameters (all filled by defaults).
type Optimizer struct {
	Kind         string  `json:"kind"` // Adam, Adagrad, SGD, RMSProp
	LearningRate float64 `json:"learning_rate"`
	Beta1        float64 `json:"beta1,omitempty"`    // adam
	Beta2        float64 `json:"beta2,omitempty"`    // adam
	Epsilon      float64 `json:"epsilon,omitempty"`  // adam, adagrad, rmsprop
	Momentum     float64 `json:"momentum,omitempty"` // sgd
	Rho          float64 `json:"rho,omitempty"`      // rmsprop decay
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

// Data formats.
const (
	FormatIDX   = "idx"
	FormatIDXGz = "idx.gz"
	FormatNPY   = "npy"
	FormatCSV   = "csv"
)

// Source is one data file, with optional labels.
type Source struct {
	Path   string `json:"path"`   // absolute or relative to the process's working directory (resolved against the spec's directory by the compiler)
	Format string `json:"format"` // one of the Format constants (inferred from the name when the spec omits it)
	// Optional range of records to use: [Start, Start+Limit); Limit 0 = to the end.
	Start       int    `json:"start,omitempty"`
	Limit       int    `json:"limit,omitempty"`
	Labels      string `json:"labels,omitempty"` // optional labels file (used only for plots)
	LabelFormat string `json:"label_format,omitempty"`
	CSVHeader   bool   `json:"csv_header,omitempty"` // first CSV line is a header
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

// Model is the compiled spec.
type Model struct {
	Version  int    `json:"vaec"`
	Name     string `json:"name"`
	SpecFile string `json:"spec_file"`
	// SpecHash is the hex SHA-256 of the normalised spec (defaults filled,
	// positions dropped, data paths as written). A checkpoint records it;
	// resuming under another hash is refused.
	SpecHash string `json:"spec_hash"`

	Input  Input `json:"input"`
	Latent int   `json:"latent"`

	// Encoder hidden layers, in order; the first takes the flattened input.
	Encoder []Layer `json:"encoder"`
	// Mu and Logvar are the encoder heads; both read the last hidden output
	// (or the input when Encoder is empty). Activation is always Linear.
	Mu     Layer `json:"mu"`
	Logvar Layer `json:"logvar"`
	// Decoder hidden layers; the first takes z.
	Decoder []Layer `json:"decoder"`
	// Output is the decoder's output layer, Out = Input.Size. Bernoulli:
	// logits (Activation Linear). Gaussian: the mean, after Activation.
	Output Layer `json:"output"`

	Likelihood Likelihood `json:"likelihood"`
	Sigma      float64    `json:"sigma,omitempty"` // GaussianFixed
	// OutputLogvar names the learned per-dimension log-variance parameter
	// [Input.Size] for GaussianLearned, "" otherwise.
	OutputLogvar string `json:"output_logvar,omitempty"`

	// Params lists every parameter once, in a fixed order: encoder layers
	// (weight, bias), mu, logvar, decoder layers, output, output logvar.
	Params []Param `json:"params"`

	Objective Objective `json:"objective"`
	Train     Train     `json:"train"`
	Data      Data      `json:"data"`
	Export    Export    `json:"export"`
}

// EncoderLayers returns the encoder's hidden layers followed by the two heads.
func (m *Model) EncoderLayers() []Layer {
	return append(append([]Layer(nil), m.Encoder...), m.Mu, m.Logvar)
}

// DecoderLayers returns the decoder's hidden layers followed by the output layer.
func (m *Model) DecoderLayers() []Layer {
	return append(append([]Layer(nil), m.Decoder...), m.Output)
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

// ParamCount is the total number of trainable scalars.
func (m *Model) ParamCount() int {
	n := 0
	for _, p := range m.Params {
		n += p.Size()
	}
	return n
}

// MACs is the multiply-adds of one forward pass (encoder and decoder) per sample.
func (m *Model) MACs() int {
	n := 0
	for _, l := range m.EncoderLayers() {
		n += l.MACs()
	}
	for _, l := range m.DecoderLayers() {
		n += l.MACs()
	}
	return n
}

// DecoderOutputs names the decoder's outputs for the model's likelihood, in order.
func (m *Model) DecoderOutputs() []string {
	switch m.Likelihood {
	case Bernoulli:
		return []string{OutputProbs}
	case GaussianLearned:
		return []string{OutputMean, OutputLogvar}
	default:
		return []string{OutputMean}
	}
}
