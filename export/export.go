// Package export lowers a compiled VAE (the IR, *ir.Model) plus its
// trained weights to ONNX, the format ONNX Runtime serves from any language.
//
// It is a sibling of package graph: both read the same IR and neither sees
// the other. Three models can be written:
//
//   - Encoder: input "x" [N, input shape...] float32 → "mu", "logvar" [N, latent].
//   - Decoder: input "z" [N, latent] → the likelihood's parameters: "probs"
//     (Bernoulli, sigmoid of the logits), or "mean" (Gaussian) and, when the
//     variance is learned, "logvar" [N, D].
//   - RoundTrip: inputs "x" and "eps" [N, latent] → the decoder's outputs for
//     z = mu + exp(logvar/2)·eps, for users who want reconstructions in one call.
//
// Sampling stays outside the encoder and decoder: ε is the caller's, so every
// export is deterministic. The batch dimension is the symbol "N". Files use
// IR version 8 and one default-domain opset from SupportedOpsets (17 unless
// asked otherwise), and only operators that every runtime of that era
// implements (Gemm, Flatten, Reshape, Shape, Expand, Constant, Add, Mul, Exp
// and the activations). Parameters are initializers named exactly as in the
// IR ("encoder.0.weight"), float32 little-endian in raw_data. Identical
// inputs give identical bytes: no timestamps, fixed field order, sorted
// metadata and deterministic protobuf marshalling.
//
// Dump renders any ONNX file as readable text (golden tests use it) and
// Inspect summarises one (vaec inspect); both return errors, never panic, on
// malformed bytes.
package export

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/vaec/vaec/checkpoint"
	"github.com/vaec/vaec/internal/onnxpb"
	"github.com/vaec/vaec/ir"
	"google.golang.org/protobuf/proto"
)

// IRVersion is the ONNX IR version of every exported file.
const IRVersion = 8

// DefaultOpset is the opset used when neither Options nor the spec names one.
const DefaultOpset = 17

// SupportedOpsets lists the default-domain opset versions the exporter can
// target, ascending. Every operator it emits has the same meaning in each.
var SupportedOpsets = []int{13, 14, 15, 16, 17}

// ProducerName is written as the model's producer_name.
const ProducerName = "vaec"

// Metadata is what the exporter cannot learn from the IR: facts about the
// training run and the tool. All of it lands in the file's metadata.
type Metadata struct {
	ProducerVersion string   // vaec's version; "" is written as "unknown"
	ModelVersion    int64    // model_version; 0 is written as 1
	EpochsTrained   int      // completed training epochs
	ValELBO         *float64 // final validation ELBO (nats per example); nil when not measured
	// Threshold is the outlier threshold on the score fitted on the
	// validation records for FalsePositiveRate (nil: none).
	Threshold         *float64
	FalsePositiveRate float64
}

// Options control an export.
type Options struct {
	// Opset is the default-domain opset version; 0 means the model's
	// Export.Opset, or DefaultOpset when that is 0 too.
	Opset    int
	Metadata Metadata
	// Digest records MetaDigest, the SHA-256 of the initializers, which
	// `vaec verify` checks. It is an option so that exports without it keep
	// the bytes of earlier vaec versions (round-1 golden files).
	Digest bool
	// NoPreprocess writes round 1's form: the encoder takes input already
	// scaled (and normalised) as the metadata states, and the decoder has
	// no mean_raw output. By default the files take raw data.
	NoPreprocess bool
	// Prior is the model's prior with a VampPrior's components attached
	// (vae.FromWeights binds them), for prior.onnx and score.onnx's KL;
	// unused for N(0, I).
	Prior ir.Prior
}

// Metadata keys written to metadata_props.
const (
	MetaRole        = "vaec.role" // "encoder", "decoder" or "roundtrip"
	MetaModelName   = "vaec.model_name"
	MetaSpecHash    = "vaec.spec_hash"
	MetaLatent      = "vaec.latent"
	MetaLikelihood  = "vaec.likelihood"
	MetaSigma       = "vaec.sigma" // gaussian_fixed only
	MetaInputShape  = "vaec.input_shape"
	MetaInputScale  = "vaec.input_scale"
	MetaInputOffset = "vaec.input_offset"
	MetaEpochs      = "vaec.epochs_trained"
	MetaValELBO     = "vaec.val_elbo" // absent when not measured
	// MetaDigest is the hex SHA-256 of the initializers (see
	// InitializerDigest), written when Options.Digest is set.
	MetaDigest = "vaec.initializers_sha256"
	// MetaPreprocess is "inside" when the file takes raw data (scaling and
	// normalisation are its first nodes); absent in round 1's form, whose
	// input is scaled by the caller.
	MetaPreprocess = "vaec.preprocess"
	MetaNormalize  = "vaec.normalize" // standardize or minmax; absent without one
	// The fitted per-feature map after the scalar scaling, x·scale + shift,
	// comma-separated, D values each (with MetaNormalize).
	MetaNormalizeScale = "vaec.normalize_scale"
	MetaNormalizeShift = "vaec.normalize_shift"
	// The outlier threshold on the score and the false-positive rate it
	// was fitted for (absent without one).
	MetaThreshold = "vaec.threshold"
	// MetaColumns names the input's features, a JSON array of strings,
	// when the data had a header.
	MetaColumns = "vaec.columns"
	// MetaMissing is "mean" when missing values (NaN) are replaced inside
	// the file by the training means, MetaFill (comma-separated, raw
	// units); absent otherwise.
	MetaMissing = "vaec.missing"
	MetaFill    = "vaec.fill"
	MetaFPR     = "vaec.false_positive_rate"
)

// Roles of the exported models.
const (
	RoleEncoder   = "encoder"
	RoleDecoder   = "decoder"
	RoleRoundTrip = "roundtrip"
	RoleScore     = "score"
)

// Encoder returns encoder.onnx: x → mu, logvar.
func Encoder(m *ir.Model, w map[string]checkpoint.Tensor, opts Options) ([]byte, error) {
	return build(m, w, opts, RoleEncoder)
}

// Decoder returns decoder.onnx: z → the likelihood's parameters
// (m.DecoderOutputs(), in that order).
func Decoder(m *ir.Model, w map[string]checkpoint.Tensor, opts Options) ([]byte, error) {
	return build(m, w, opts, RoleDecoder)
}

// RoundTrip returns one model with inputs x and eps whose outputs are the
// decoder's (m.DecoderOutputs()) at z = mu + exp(logvar/2)·eps.
func RoundTrip(m *ir.Model, w map[string]checkpoint.Tensor, opts Options) ([]byte, error) {
	return build(m, w, opts, RoleRoundTrip)
}

// Score returns score.onnx: x → score [N], mu [N, latent], the
// deterministic anomaly score −log p(x | z = mu) + KL(q(z|x) ‖ p(z)) with
// the preprocessing inside (unless opts.NoPreprocess).
func Score(m *ir.Model, w map[string]checkpoint.Tensor, opts Options) ([]byte, error) {
	return build(m, w, opts, RoleScore)
}

// ResolveOpset returns the opset an export with opts would use, or an error
// naming the supported range.
func ResolveOpset(m *ir.Model, opts Options) (int, error) {
	v := opts.Opset
	if v == 0 && m != nil {
		v = m.Export.Opset
	}
	if v == 0 {
		v = DefaultOpset
	}
	for _, s := range SupportedOpsets {
		if s == v {
			return v, nil
		}
	}
	return 0, fmt.Errorf("opset %d is not supported: the exporter writes opsets %d to %d", v, SupportedOpsets[0], SupportedOpsets[len(SupportedOpsets)-1])
}

func build(m *ir.Model, w map[string]checkpoint.Tensor, opts Options, role string) ([]byte, error) {
	if m == nil {
		return nil, fmt.Errorf("export %s: no model", role)
	}
	opset, err := ResolveOpset(m, opts)
	if err != nil {
		return nil, fmt.Errorf("export %s: %w", role, err)
	}
	// The lowering relies on a verified model and checks nothing itself.
	if err := ir.VerifyArchitecture(m); err != nil {
		return nil, fmt.Errorf("export %s: model %q: %w", role, m.Name, err)
	}
	b := newBuilder(m, w)
	b.pre = !opts.NoPreprocess
	b.prior = opts.Prior
	switch role {
	case RoleEncoder:
		err = b.encoderGraph()
	case RoleDecoder:
		err = b.decoderGraph()
	case RoleScore:
		err = b.scoreGraph()
	case RolePrior:
		err = b.priorGraph()
	default:
		err = b.roundTripGraph()
	}
	if err != nil {
		return nil, fmt.Errorf("export %s: model %q: %w", role, m.Name, err)
	}
	model := b.model(role, opset, opts)
	if opts.Digest {
		model.MetadataProps = append(model.MetadataProps, &onnxpb.StringStringEntryProto{
			Key: proto.String(MetaDigest), Value: proto.String(initializerDigest(b.g.Initializer))})
		slices.SortFunc(model.MetadataProps, func(a, b *onnxpb.StringStringEntryProto) int { return strings.Compare(a.GetKey(), b.GetKey()) })
	}
	out, err := proto.MarshalOptions{Deterministic: true}.Marshal(model)
	if err != nil {
		return nil, fmt.Errorf("export %s: marshalling: %w", role, err)
	}
	return out, nil
}

// model wraps the built graph with versions and metadata.
func (b *builder) model(role string, opset int, opts Options) *onnxpb.ModelProto {
	md := opts.Metadata
	m := b.m
	b.g.Name = proto.String(graphName(m, role))
	pv := md.ProducerVersion
	if pv == "" {
		pv = "unknown"
	}
	mv := md.ModelVersion
	if mv == 0 {
		mv = 1
	}
	return &onnxpb.ModelProto{
		IrVersion:       proto.Int64(IRVersion),
		OpsetImport:     []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(int64(opset))}},
		ProducerName:    proto.String(ProducerName),
		ProducerVersion: proto.String(pv),
		ModelVersion:    proto.Int64(mv),
		DocString:       proto.String(docString(m, role, b.pre)),
		Graph:           b.g,
		MetadataProps:   metadataProps(m, role, md, b.pre),
	}
}

func graphName(m *ir.Model, role string) string {
	name := m.Name
	if name == "" {
		name = "vae"
	}
	return name + "." + role
}

// metadataProps returns the metadata sorted by key, so the bytes are stable.
func metadataProps(m *ir.Model, role string, md Metadata, pre bool) []*onnxpb.StringStringEntryProto {
	kv := map[string]string{
		MetaRole:        role,
		MetaModelName:   m.Name,
		MetaSpecHash:    m.SpecHash,
		MetaLatent:      strconv.Itoa(m.Latent),
		MetaLikelihood:  m.Likelihood.Kind.String(),
		MetaInputShape:  shapeString(m.Input.Shape),
		MetaInputScale:  formatFloat(m.Input.Scale),
		MetaInputOffset: formatFloat(m.Input.Offset),
		MetaEpochs:      strconv.Itoa(md.EpochsTrained),
	}
	if m.Likelihood.Kind == ir.GaussianFixed {
		kv[MetaSigma] = formatFloat(m.Likelihood.Sigma)
	}
	if m.Conditional() {
		kv[MetaConditionClasses] = strconv.Itoa(m.Condition.Classes)
	}
	if m.Prior.Kind == ir.PriorVamp {
		// Absent for N(0, I), so that earlier files keep their bytes.
		kv[MetaPrior] = fmt.Sprintf("%s %d", m.Prior.Kind, m.Prior.Components)
	}
	if md.ValELBO != nil {
		kv[MetaValELBO] = formatFloat(*md.ValELBO)
	}
	if m.Input.Missing == ir.MissingMean && pre {
		kv[MetaMissing] = m.Input.Missing.String()
		kv[MetaFill] = floatList(m.Input.Fill)
	}
	if m.Input.Columns != nil {
		b, _ := json.Marshal(m.Input.Columns) // strings always marshal
		kv[MetaColumns] = string(b)
	}
	if md.Threshold != nil {
		kv[MetaThreshold] = formatFloat(*md.Threshold)
		kv[MetaFPR] = formatFloat(md.FalsePositiveRate)
	}
	if pre {
		kv[MetaPreprocess] = "inside"
	}
	if m.Input.Normalize != ir.NormalizeNone {
		kv[MetaNormalize] = m.Input.Normalize.String()
		kv[MetaNormalizeScale] = floatList(m.Input.FeatureScale)
		kv[MetaNormalizeShift] = floatList(m.Input.FeatureShift)
	}
	keys := make([]string, 0, len(kv))
	for k := range kv {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	props := make([]*onnxpb.StringStringEntryProto, len(keys))
	for i, k := range keys {
		props[i] = &onnxpb.StringStringEntryProto{Key: proto.String(k), Value: proto.String(kv[k])}
	}
	return props
}

// docString says, in words, what the file computes and what it expects.
func docString(m *ir.Model, role string, pre bool) string {
	var sb strings.Builder
	name := m.Name
	if name == "" {
		name = "unnamed"
	}
	in := "x [N, " + strings.ReplaceAll(shapeString(m.Input.Shape), ",", ", ") + "] float32"
	fmt.Fprintf(&sb, "vaec %s of the variational autoencoder %q (latent size %d, %s likelihood). ", role, name, m.Latent, m.Likelihood.Kind)
	outs := decoderOutputDocs(m)
	if pre {
		outs += fmt.Sprintf(", and mean_raw [N, %s], E[x|z] in the data's raw units", strings.ReplaceAll(shapeString(m.Input.Shape), ",", ", "))
	}
	switch role {
	case RoleEncoder:
		fmt.Fprintf(&sb, "Input: %s. Outputs: mu [N, %d] and logvar [N, %d], the mean and log-variance of the Gaussian q(z|x). ", in, m.Latent, m.Latent)
	case RoleDecoder:
		fmt.Fprintf(&sb, "Input: z [N, %d] float32, a latent code. Outputs: %s. ", m.Latent, outs)
	case RoleScore:
		if m.Prior.Kind == ir.PriorVamp {
			fmt.Fprintf(&sb, "Input: %s. Outputs: score [N], the anomaly score -log p(x|z=mu) + log q(mu|x) - log p(mu) in nats under the VampPrior p (higher: less like the training data), and mu [N, %d]. ", in, m.Latent)
			break
		}
		fmt.Fprintf(&sb, "Input: %s. Outputs: score [N], the anomaly score -log p(x|z=mu) + KL(q(z|x) || N(0, I)) in nats (higher: less like the training data), and mu [N, %d]. ", in, m.Latent)
	case RolePrior:
		fmt.Fprintf(&sb, "The VampPrior p(z) = (1/%d) sum_k q(z|u_k) of this model's %d learned pseudo-inputs u_k. Input: component [N, %d] float32, a one-hot choice of k. Outputs: mu [N, %d] and logvar [N, %d] of q(z|u_k); to sample p(z), pick k uniformly and take z = mu + exp(logvar/2)*eps, eps standard normal, then run decoder.onnx on z. ", m.Prior.Components, m.Prior.Components, m.Prior.Components, m.Latent, m.Latent)
	default:
		fmt.Fprintf(&sb, "Inputs: %s and eps [N, %d] float32 standard normal noise; z = mu + exp(logvar/2)*eps. Outputs: %s. ", in, m.Latent, outs)
	}
	sb.WriteString(conditionDoc(m))
	norm := ""
	if m.Input.Normalize != ir.NormalizeNone {
		norm = ", then the per-feature " + m.Input.Normalize.String() + " fitted on the training records"
	}
	if pre {
		fmt.Fprintf(&sb, "x is raw data as the data file holds it: the scaling x*%s + %s%s is done inside. N is the batch size.", formatFloat(m.Input.Scale), formatFloat(m.Input.Offset), norm)
	} else {
		fmt.Fprintf(&sb, "Input scaling: x = raw*%s + %s%s (the model expects already-scaled input). N is the batch size.", formatFloat(m.Input.Scale), formatFloat(m.Input.Offset), norm)
	}
	return sb.String()
}

func decoderOutputDocs(m *ir.Model) string {
	shape := "[N, " + strings.ReplaceAll(shapeString(m.Input.Shape), ",", ", ") + "]"
	switch m.Likelihood.Kind {
	case ir.Bernoulli:
		return "probs " + shape + ", the Bernoulli probabilities (sigmoid of the logits)"
	case ir.GaussianLearned:
		return fmt.Sprintf("mean %s, the Gaussian mean, and logvar [N, %d], its learned per-dimension log-variance", shape, m.Input.Size)
	default:
		return fmt.Sprintf("mean %s, the Gaussian mean (fixed sigma %s)", shape, formatFloat(m.Likelihood.Sigma))
	}
}

func shapeString(s []int) string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = strconv.Itoa(d)
	}
	return strings.Join(parts, ",")
}

func formatFloat(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

func floatList(v []float64) string {
	parts := make([]string, len(v))
	for i, x := range v {
		parts[i] = formatFloat(x)
	}
	return strings.Join(parts, ",")
}
