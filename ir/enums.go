package ir

import (
	"fmt"
	"strings"
)

// Every kind that the spec and model.json spell as a word is a typed enum
// here: a small integer with String and text (JSON) marshalling through one
// names table, so a misspelt kind is an error at decode time rather than a
// string compared deep inside a lowering.

func enumString[E ~uint8](names []string, e E) string {
	if int(e) < len(names) && names[e] != "" {
		return names[e]
	}
	return fmt.Sprintf("%d?", uint8(e))
}

func parseEnum[E ~uint8](what string, names []string, s string) (E, error) {
	for i, n := range names {
		if n != "" && n == s {
			return E(i), nil
		}
	}
	var known []string
	for _, n := range names {
		if n != "" {
			known = append(known, n)
		}
	}
	return 0, fmt.Errorf("unknown %s %q (one of %s)", what, s, strings.Join(known, ", "))
}

// Activation is an elementwise function applied after a layer's affine map.
type Activation uint8

const (
	Linear    Activation = iota // y = x
	ReLU                        // y = max(0, x)
	Tanh                        // y = tanh(x)
	Sigmoid                     // y = 1 / (1 + exp(-x))
	ELU                         // y = x if x > 0 else alpha·(exp(x) - 1), alpha = Node.Alpha
	LeakyReLU                   // y = x if x > 0 else alpha·x, alpha = Node.Alpha (the slope)
	Softplus                    // y = log(1 + exp(x))
)

var activationNames = []string{"linear", "relu", "tanh", "sigmoid", "elu", "leaky_relu", "softplus"}

// Activations lists every activation, in a fixed order.
var Activations = []Activation{Linear, ReLU, Tanh, Sigmoid, ELU, LeakyReLU, Softplus}

func (a Activation) String() string               { return enumString(activationNames, a) }
func (a Activation) MarshalText() ([]byte, error) { return marshalKnown(activationNames, a) }
func (a *Activation) UnmarshalText(b []byte) error {
	return unmarshalEnum(a, "activation", activationNames, b)
}

// HasAlpha tells whether the activation takes the Alpha attribute.
func (a Activation) HasAlpha() bool { return a == ELU || a == LeakyReLU }

// ParseActivation returns the activation called s.
func ParseActivation(s string) (Activation, error) {
	return parseEnum[Activation]("activation", activationNames, s)
}

// Role is what a node means to the rest of the pipeline beyond its op.
type Role uint8

const (
	Hidden     Role = iota // an inner layer
	RoleMu                 // the encoder's mean head: output "mu"
	RoleLogvar             // the encoder's log-variance head: output "logvar"
	RoleOutput             // the decoder's output layer: the likelihood's parameters (logits or mean)
)

var roleNames = []string{"hidden", "mu", "logvar", "output"}

func (r Role) String() string                { return enumString(roleNames, r) }
func (r Role) MarshalText() ([]byte, error)  { return marshalKnown(roleNames, r) }
func (r *Role) UnmarshalText(b []byte) error { return unmarshalEnum(r, "role", roleNames, b) }

// LikelihoodKind is the decoder's observation model p(x|z).
type LikelihoodKind uint8

const (
	// Bernoulli: the output node gives logits; the exported decoder
	// returns probabilities sigmoid(logits).
	Bernoulli LikelihoodKind = iota
	// GaussianFixed: the output node gives the mean; sigma is a constant.
	GaussianFixed
	// GaussianLearned: the output node gives the mean; a learned
	// per-dimension log-variance parameter [D], independent of z, gives the
	// variance.
	GaussianLearned
)

var likelihoodNames = []string{"bernoulli", "gaussian_fixed", "gaussian_learned"}

func (k LikelihoodKind) String() string               { return enumString(likelihoodNames, k) }
func (k LikelihoodKind) MarshalText() ([]byte, error) { return marshalKnown(likelihoodNames, k) }
func (k *LikelihoodKind) UnmarshalText(b []byte) error {
	return unmarshalEnum(k, "likelihood", likelihoodNames, b)
}

// PriorKind is the prior p(z).
type PriorKind uint8

const (
	PriorNormal PriorKind = iota // N(0, I)
	PriorVamp                    // VampPrior: (1/K) Σ_k q(z | u_k), u_k learned pseudo-inputs
)

var priorNames = []string{"normal", "vamp"}

func (k PriorKind) String() string                { return enumString(priorNames, k) }
func (k PriorKind) MarshalText() ([]byte, error)  { return marshalKnown(priorNames, k) }
func (k *PriorKind) UnmarshalText(b []byte) error { return unmarshalEnum(k, "prior", priorNames, b) }

// ObjectiveKind is the bound training maximises.
type ObjectiveKind uint8

const (
	ELBO ObjectiveKind = iota // the evidence lower bound with beta on the KL term
	IWAE                      // the importance-weighted bound of Samples draws (Burda et al. 2015)
)

var objectiveNames = []string{"elbo", "iwae"}

func (k ObjectiveKind) String() string               { return enumString(objectiveNames, k) }
func (k ObjectiveKind) MarshalText() ([]byte, error) { return marshalKnown(objectiveNames, k) }
func (k *ObjectiveKind) UnmarshalText(b []byte) error {
	return unmarshalEnum(k, "objective", objectiveNames, b)
}

// OptimizerKind names the optimizer.
type OptimizerKind uint8

const (
	Adam OptimizerKind = iota
	Adagrad
	SGD
	RMSProp
)

var optimizerNames = []string{"adam", "adagrad", "sgd", "rmsprop"}

// OptimizerKinds lists every optimizer, in a fixed order.
var OptimizerKinds = []OptimizerKind{Adam, Adagrad, SGD, RMSProp}

func (k OptimizerKind) String() string               { return enumString(optimizerNames, k) }
func (k OptimizerKind) MarshalText() ([]byte, error) { return marshalKnown(optimizerNames, k) }
func (k *OptimizerKind) UnmarshalText(b []byte) error {
	return unmarshalEnum(k, "optimizer", optimizerNames, b)
}

// ParseOptimizer returns the optimizer called s.
func ParseOptimizer(s string) (OptimizerKind, error) {
	return parseEnum[OptimizerKind]("optimizer", optimizerNames, s)
}

// Format is the encoding of a data file. The zero value means "not set"
// (inferred from the file name).
type Format uint8

const (
	FormatNone  Format = iota
	FormatIDX          // IDX (MNIST's format)
	FormatIDXGz        // gzip-compressed IDX
	FormatNPY          // NumPy .npy
	FormatNPYGz        // gzip-compressed .npy
	FormatCSV          // comma-separated numbers
	FormatCSVGz        // gzip-compressed CSV
)

var formatNames = []string{"", "idx", "idx.gz", "npy", "npy.gz", "csv", "csv.gz"}

// Formats lists every data format, in a fixed order.
var Formats = []Format{FormatIDX, FormatIDXGz, FormatNPY, FormatNPYGz, FormatCSV, FormatCSVGz}

func (f Format) String() string { return enumString(formatNames, f) }
func (f Format) MarshalText() ([]byte, error) {
	if f == FormatNone {
		return nil, nil
	}
	return marshalKnown(formatNames, f)
}
func (f *Format) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*f = FormatNone
		return nil
	}
	return unmarshalEnum(f, "data format", formatNames, b)
}

// ParseFormat returns the format called s.
func ParseFormat(s string) (Format, error) { return parseEnum[Format]("data format", formatNames, s) }

// Gzip tells whether the format is gzip-compressed.
func (f Format) Gzip() bool { return f == FormatIDXGz || f == FormatNPYGz || f == FormatCSVGz }

// Base is the format without compression.
func (f Format) Base() Format {
	switch f {
	case FormatIDXGz:
		return FormatIDX
	case FormatNPYGz:
		return FormatNPY
	case FormatCSVGz:
		return FormatCSV
	}
	return f
}

// Init names how a parameter is initialised before training.
type Init uint8

const (
	// InitFanInUniform: U(-1/sqrt(fanIn), 1/sqrt(fanIn)), PyTorch's default
	// for nn.Linear (and convolution) weights and biases; chosen so that
	// results compare with PyTorch references.
	InitFanInUniform Init = iota
	InitZeros             // all zeros
	InitOnes              // all ones
	InitUniform01         // U(0, 1): a VampPrior's pseudo-inputs, noise images in the scaled input's range
)

var initNames = []string{"fan_in_uniform", "zeros", "ones", "uniform01"}

func (i Init) String() string                { return enumString(initNames, i) }
func (i Init) MarshalText() ([]byte, error)  { return marshalKnown(initNames, i) }
func (i *Init) UnmarshalText(b []byte) error { return unmarshalEnum(i, "init", initNames, b) }

func marshalKnown[E ~uint8](names []string, e E) ([]byte, error) {
	if int(e) >= len(names) || names[e] == "" {
		return nil, fmt.Errorf("invalid enum value %d", uint8(e))
	}
	return []byte(names[e]), nil
}

func unmarshalEnum[E ~uint8](dst *E, what string, names []string, b []byte) error {
	v, err := parseEnum[E](what, names, string(b))
	if err != nil {
		return err
	}
	*dst = v
	return nil
}

// ParseLikelihood returns the likelihood kind called s.
func ParseLikelihood(s string) (LikelihoodKind, error) {
	return parseEnum[LikelihoodKind]("likelihood", likelihoodNames, s)
}

// Normalize is the per-feature normalisation fitted on the training
// records and applied after the input's scalar scaling.
type Normalize uint8

const (
	NormalizeNone        Normalize = iota // x as scaled
	NormalizeStandardize                  // (x − mean) / std per feature
	NormalizeMinMax                       // (x − min) / (max − min) per feature
)

var normalizeNames = []string{"none", "standardize", "minmax"}

func (k Normalize) String() string               { return enumString(normalizeNames, k) }
func (k Normalize) MarshalText() ([]byte, error) { return marshalKnown(normalizeNames, k) }
func (k *Normalize) UnmarshalText(b []byte) error {
	return unmarshalEnum(k, "normalize", normalizeNames, b)
}

// ParseNormalize returns the normalisation called s.
func ParseNormalize(s string) (Normalize, error) {
	return parseEnum[Normalize]("normalize", normalizeNames, s)
}

// Missing says what becomes of an empty or NaN value in the data.
type Missing uint8

const (
	MissingError Missing = iota // refused, naming line and column
	MissingMean                 // replaced by the feature's training mean (Input.Fill)
)

var missingNames = []string{"error", "mean"}

func (k Missing) String() string                { return enumString(missingNames, k) }
func (k Missing) MarshalText() ([]byte, error)  { return marshalKnown(missingNames, k) }
func (k *Missing) UnmarshalText(b []byte) error { return unmarshalEnum(k, "missing", missingNames, b) }

// ParseMissing returns the missing-value rule called s.
func ParseMissing(s string) (Missing, error) { return parseEnum[Missing]("missing", missingNames, s) }
