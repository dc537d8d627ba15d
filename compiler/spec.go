package compiler

import (
	"fmt"
	"github.com/vaec/vaec/ir"
	"math"
	"strings"
)

// The spec's vocabulary: every section and key the compiler accepts, with
// its documentation and JSON Schema fragment. The checker rejects keys not
// listed here and Schema() is generated from the same tables, so the two
// cannot drift apart.

// Defaults taken from the PyTorch VAE example where it has one.
const (
	DefaultActivation      = ir.ReLU
	DefaultLeakySlope      = 0.01
	DefaultELUAlpha        = 1.0
	DefaultSigma           = 1.0
	DefaultBatchSize       = 128
	DefaultEpochs          = 10
	DefaultSeed            = 1
	DefaultValidationSplit = 0.1
	DefaultOpset           = 17
)

// section is one mapping of the spec.
type section struct {
	def      string // name under $defs in the schema; "" for the document
	where    string // where it appears, for hints: "train", "encoder[i]"
	title    string // what it is, for messages
	doc      string
	fields   []field
	required []string
}

// field is one key of a section.
type field struct {
	name   string
	doc    string
	schema map[string]any
}

func (s *section) field(name string) *field {
	for i := range s.fields {
		if s.fields[i].name == name {
			return &s.fields[i]
		}
	}
	return nil
}

func (s *section) names() []string {
	out := make([]string, len(s.fields))
	for i, f := range s.fields {
		out[i] = f.name
	}
	return out
}

// unknownHint explains an unknown key: a near miss, the section where the
// key belongs, or the list of keys this section knows.
func (s *section) unknownHint(name string) string {
	if h := didYouMean(name, s.names()); h != "" {
		return h
	}
	for _, other := range allSections() {
		if other != s && other.field(name) != nil {
			return fmt.Sprintf("%q belongs under %s", name, other.where)
		}
	}
	return "known keys: " + strings.Join(s.names(), ", ")
}

// Schema fragments.

func sInt(lo, hi int64) map[string]any {
	return map[string]any{"type": "integer", "minimum": lo, "maximum": hi}
}

func sNum(r interval) map[string]any {
	m := map[string]any{"type": "number"}
	if !math.IsInf(r.lo, 0) {
		if r.loOpen {
			m["exclusiveMinimum"] = r.lo
		} else {
			m["minimum"] = r.lo
		}
	}
	if !math.IsInf(r.hi, 0) {
		if r.hiOpen {
			m["exclusiveMaximum"] = r.hi
		} else {
			m["maximum"] = r.hi
		}
	}
	return m
}

func sStr() map[string]any { return map[string]any{"type": "string", "minLength": 1} }

func sEnum(values ...string) map[string]any {
	return map[string]any{"type": "string", "enum": values}
}

func sRef(def string) map[string]any { return map[string]any{"$ref": "#/$defs/" + def} }

func sOneOf(alts ...map[string]any) map[string]any {
	return map[string]any{"oneOf": alts}
}

func sBool() map[string]any { return map[string]any{"type": "boolean"} }

func activationNames() []string { return enumNames(ir.Activations) }

// enumNames lists the names of an IR enum's values, for messages and the schema.
func enumNames[E fmt.Stringer](values []E) []string {
	out := make([]string, len(values))
	for i, v := range values {
		out[i] = v.String()
	}
	return out
}

var (
	optimizerKinds = enumNames(ir.OptimizerKinds)
	formats        = enumNames(ir.Formats)
	meanActs       = []string{ir.Linear.String(), ir.Sigmoid.String()}
	normalizeKinds = []string{ir.NormalizeNone.String(), ir.NormalizeStandardize.String(), ir.NormalizeMinMax.String()}
	likelihoods    = []string{"bernoulli", "gaussian"}
	varianceKinds  = []string{"fixed", "learned"}
	scaleRange     = interval{math.Inf(-1), math.Inf(1), true, true}
	rateRange      = interval{0, 10, true, false}
	epsRange       = interval{0, 1, true, false}
)

var topSection = &section{
	where: "the top level",
	title: "the spec",
	doc:   "A variational autoencoder for vaec (https://github.com/vaec/vaec).",
	fields: []field{
		{"vaec", "Spec version; 1 is the only one.", map[string]any{"const": 1}},
		{"name", "Model name, stored in the exported models.", map[string]any{"type": "string", "pattern": namePattern, "maxLength": 64}},
		{"input", "The data the model consumes.", sRef("input")},
		{"latent", "Dimension of the latent space.", sInt(1, ir.MaxUnits)},
		{"encoder", "Hidden layers from the input to the latent heads (the mu and logvar heads are added).", map[string]any{"type": "array", "maxItems": ir.MaxLayers, "items": sRef("layer")}},
		{"decoder", "Hidden layers from z to the output layer (the output layer is added).", map[string]any{"type": "array", "maxItems": ir.MaxLayers, "items": sRef("layer")}},
		{"likelihood", "Observation model p(x|z): bernoulli (default) or gaussian.", sOneOf(sEnum(likelihoods...), sRef("likelihood"))},
		{"objective", "The training objective: the ELBO (default) or the importance-weighted bound.", sRef("objective")},
		{"prior", "The prior p(z): normal (default) or {type: vamp, components: K}.", sOneOf(sEnum(priorTypes...), sRef("prior"))},
		{"condition", "A conditional VAE on the sources' labels: {classes: C}.", sRef("condition")},
		{"train", "Training settings.", sRef("train")},
		{"data", "Data sources.", sRef("data")},
		{"export", "ONNX export settings.", sRef("export")},
		{"anomaly", "Anomaly detection: the outlier threshold fitted on the validation records.", sRef("anomaly")},
	},
	required: []string{"vaec", "name", "input", "latent", "encoder", "decoder", "data"},
}

var inputSection = &section{
	def: "input", where: "input", title: "the input",
	doc: "Per-sample shape and the scaling x = raw*scale + offset applied to raw data.",
	fields: []field{
		{"shape", "[D] for vectors or [C, H, W] for images (dense layers flatten).", map[string]any{"type": "array", "items": sInt(1, ir.MaxInputSize), "minItems": 1, "maxItems": 3}},
		{"scale", "Multiplier for raw data, a number or a fraction string such as \"1/255\"; default 1.", sOneOf(map[string]any{"type": "number"}, map[string]any{"type": "string", "pattern": fractionPattern})},
		{"offset", "Added after scaling; default 0.", map[string]any{"type": "number"}},
		{"normalize", "Per-feature normalisation fitted on the training records: none (default), standardize ((x-mean)/std) or minmax ((x-min)/(max-min)).", sEnum(normalizeKinds...)},
	},
	required: []string{"shape"},
}

var anomalySection = &section{
	def: "anomaly", where: "anomaly", title: "the anomaly settings",
	doc: "The threshold above which `vaec score` and score.onnx's users call a record an outlier.",
	fields: []field{
		{"false_positive_rate", "Share of normal records flagged: the threshold is the (1 - rate) quantile of the score over the validation records; in (0, 0.5).", sNum(interval{0, 0.5, false, false})},
	},
	required: []string{"false_positive_rate"},
}

var layerSection = &section{
	def: "layer", where: "encoder[i] or decoder[i]", title: "a layer",
	doc: "One hidden layer. Images are [C, H, W]; a dense layer flattens its input, and reshape turns its output into an image.",
	fields: []field{
		{"type", "Layer type: dense (the default), conv2d, conv_transpose2d, upsample or batch_norm.", sEnum(layerTypes...)},
		{"units", "dense: output features.", sInt(1, ir.MaxUnits)},
		{"activation", "Activation after the layer; default relu (linear for batch_norm).", sEnum(activationNames()...)},
		{"slope", "Negative slope of leaky_relu; default 0.01.", sNum(positive)},
		{"alpha", "Alpha of elu; default 1.", sNum(positive)},
		{"reshape", "dense: the output's shape, [C, H, W] for the image layers after it (C·H·W = units).", map[string]any{"type": "array", "items": sInt(1, ir.MaxInputSize), "minItems": 1, "maxItems": 3}},
		{"filters", "conv2d, conv_transpose2d: output channels.", sInt(1, ir.MaxUnits)},
		{"kernel", "conv2d, conv_transpose2d: kernel size, k or [kh, kw].", sPair(1)},
		{"stride", "conv2d, conv_transpose2d: stride, s or [sh, sw]; default 1.", sPair(1)},
		{"padding", "conv2d, conv_transpose2d: zeros added on each side, p or [ph, pw]; default 0.", sPair(0)},
		{"output_padding", "conv_transpose2d: rows and columns added to one side of the output (less than the stride); default 0.", sPair(0)},
		{"factor", "upsample: integer factor, f or [fh, fw].", sPair(1)},
		{"mode", "upsample: nearest (the only mode).", sEnum("nearest")},
		{"momentum", "batch_norm: weight of each batch in the running statistics; default 0.1.", sNum(interval{0, 1, false, false})},
		{"epsilon", "batch_norm: added to the variance; default 1e-5.", sNum(epsRange)},
	},
}

// layerTypes are the spec's layer types: the ops a layer can be (reshape
// is a key of dense layers, not a layer of its own).
var layerTypes = []string{ir.Dense.String(), ir.Conv2D.String(), ir.ConvTranspose2D.String(), ir.Upsample.String(), ir.BatchNorm.String()}

// layerKeys are the keys each layer type reads, and requires.
var layerKeys = map[ir.Op]struct{ keys, required []string }{
	ir.Dense:           {[]string{"type", "units", "activation", "slope", "alpha", "reshape"}, []string{"units"}},
	ir.Conv2D:          {[]string{"type", "filters", "kernel", "stride", "padding", "activation", "slope", "alpha"}, []string{"filters", "kernel"}},
	ir.ConvTranspose2D: {[]string{"type", "filters", "kernel", "stride", "padding", "output_padding", "activation", "slope", "alpha"}, []string{"filters", "kernel"}},
	ir.Upsample:        {[]string{"type", "factor", "mode"}, []string{"factor"}},
	ir.BatchNorm:       {[]string{"type", "momentum", "epsilon", "activation", "slope", "alpha"}, nil},
}

// Defaults of the image layers, PyTorch's.
const (
	DefaultBatchNormMomentum = 0.1
	DefaultBatchNormEpsilon  = 1e-5
)

// sPair is an integer, or a list [h, w] of two, each at least lo.
func sPair(lo int64) map[string]any {
	return sOneOf(sInt(lo, ir.MaxInputSize), map[string]any{"type": "array", "items": sInt(lo, ir.MaxInputSize), "minItems": 2, "maxItems": 2})
}

var likelihoodSection = &section{
	def: "likelihood", where: "likelihood", title: "a likelihood",
	doc: "The decoder's observation model.",
	fields: []field{
		{"type", "bernoulli or gaussian.", sEnum(likelihoods...)},
		{"sigma", "Fixed standard deviation of the gaussian; default 1.", sNum(positive)},
		{"variance", "gaussian variance: fixed (sigma) or learned (one log-variance per input dimension).", sEnum(varianceKinds...)},
		{"mean_activation", "Activation of the gaussian mean; default linear.", sEnum(meanActs...)},
	},
	required: []string{"type"},
}

var objectiveSection = &section{
	def: "objective", where: "objective", title: "the objective",
	doc: "Negative ELBO with a weight on the KL term, or the importance-weighted bound (IWAE).",
	fields: []field{
		{"type", "elbo (default): the samples-sample ELBO; iwae: the importance-weighted bound of samples draws (Burda et al. 2015), beta 1 and no warm-up.", sEnum(objectiveTypes...)},
		{"beta", "Weight of the KL term (1: plain VAE, >1: β-VAE); default 1.", sNum(nonNegative)},
		{"samples", "Monte Carlo samples of z per input; default 1.", sInt(1, 1000)},
		{"kl_warmup_epochs", "Epochs over which the KL weight rises linearly from 0 to beta; default 0.", sInt(0, 1_000_000)},
	},
}

var trainSection = &section{
	def: "train", where: "train", title: "the training settings",
	doc: "Optimizer and training loop.",
	fields: []field{
		{"optimizer", "adam (default), adagrad, sgd or rmsprop, or a mapping with its parameters.", sOneOf(sEnum(optimizerKinds...), sRef("optimizer"))},
		{"batch_size", "Examples per step; default 128.", sInt(1, 1<<20)},
		{"epochs", "Passes over the training data; default 10.", sInt(1, 1_000_000)},
		{"seed", "Seed of every random choice (initialisation, shuffling, ε); default 1.", sInt(0, math.MaxInt64)},
		{"weight_decay", "L2 coefficient added to the gradient; default 0.", sNum(nonNegative)},
		{"clip_norm", "Global gradient-norm clip; 0 (default) disables it.", sNum(nonNegative)},
		{"validation_split", "Fraction of the training source held out when data.validation is absent; default 0.1.", sNum(unitOpen)},
		{"patience", "Stop after this many epochs without a better validation loss; 0 (default) disables it.", sInt(0, 1_000_000)},
	},
}

var optimizerSection = &section{
	def: "optimizer", where: "train.optimizer", title: "an optimizer",
	doc: "An optimizer and its hyper-parameters; unset ones take the optimizer's defaults.",
	fields: []field{
		{"type", "adam, adagrad, sgd or rmsprop.", sEnum(optimizerKinds...)},
		{"learning_rate", "Step size; default 1e-3 for adam, 0.01 otherwise.", sNum(rateRange)},
		{"beta1", "adam: first-moment decay; default 0.9.", sNum(unitOpen)},
		{"beta2", "adam: second-moment decay; default 0.999.", sNum(unitOpen)},
		{"epsilon", "adam (1e-8), adagrad (1e-10), rmsprop (1e-8): denominator guard.", sNum(epsRange)},
		{"momentum", "sgd: momentum; default 0.", sNum(unitOpen)},
		{"rho", "rmsprop: decay of the squared-gradient average; default 0.99.", sNum(unitOpen)},
	},
	required: []string{"type"},
}

var dataSection = &section{
	def: "data", where: "data", title: "the data sources",
	doc: "Training and optional validation sources; relative paths are relative to the spec file.",
	fields: []field{
		{"train", "The training source: a path or a mapping.", sOneOf(sStr(), sRef("source"))},
		{"validation", "The validation source: a path or a mapping.", sOneOf(sStr(), sRef("source"))},
	},
	required: []string{"train"},
}

var sourceSection = &section{
	def: "source", where: "data.train or data.validation", title: "a data source",
	doc: "A data file, with an optional record range and labels.",
	fields: []field{
		{"path", "The data file, relative to the spec file.", sStr()},
		{"format", "idx, idx.gz, npy or csv; inferred from the name (.gz, .idx or -ubyte, .npy, .csv) when absent.", sEnum(formats...)},
		{"start", "First record used; default 0.", sInt(0, math.MaxInt32)},
		{"limit", "Number of records used; 0 (default) means to the end.", sInt(0, math.MaxInt32)},
		{"labels", "Labels file (used only for plots); the same record range applies.", sStr()},
		{"label_format", "Format of the labels file; inferred from its name when absent.", sEnum(formats...)},
		{"header", "csv: true: the first line is a header; false: it is data; absent: a header when none of its fields is a number.", sBool()},
		{"columns", "csv: the feature columns, in order, by header name or 0-based index; default all.", sColumns()},
		{"exclude", "csv: columns left out (an id, a label), by header name or 0-based index; not with columns.", sColumns()},
		{"missing", "data.train only: error (default: empty and NaN values are refused) or mean (they become the feature's mean over the training records, in training and inside the exported graphs).", sEnum(missingKinds...)},
	},
	required: []string{"path"},
}

// sColumns is a list of column names or 0-based indices.
func sColumns() map[string]any {
	return map[string]any{"type": "array", "minItems": 1,
		"items": sOneOf(sStr(), sInt(0, math.MaxInt32))}
}

// missingKinds are the values of a source's missing key.
var missingKinds = []string{ir.MissingError.String(), ir.MissingMean.String()}

var exportSection = &section{
	def: "export", where: "export", title: "the export settings",
	doc: "ONNX export settings.",
	fields: []field{
		{"opset", "ONNX opset; default 17.", sInt(ir.MinOpset, ir.MaxOpset)},
	},
}

// allSections lists every section, the document first.
func allSections() []*section {
	return []*section{topSection, inputSection, layerSection, likelihoodSection, objectiveSection, priorSection, conditionSection,
		trainSection, optimizerSection, dataSection, sourceSection, exportSection, anomalySection}
}

const (
	namePattern     = `^[A-Za-z0-9][A-Za-z0-9._-]*$`
	fractionPattern = `^\s*[0-9.eE+-]+\s*/\s*[0-9.eE+-]+\s*$`
)
