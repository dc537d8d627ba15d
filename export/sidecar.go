package export

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/vaec/vaec/ir"
)

// SidecarFile is the name of the JSON description written beside the
// exported files: what a caller needs that ONNX Runtime's Node API cannot
// read from metadata_props.
const SidecarFile = "vaec-model.json"

// SidecarVersion is the version of the sidecar's layout.
const SidecarVersion = 1

// Sidecar describes an exported model.
type Sidecar struct {
	Version  int    `json:"vaec_model"`
	Name     string `json:"name"`
	SpecHash string `json:"spec_hash"`
	Producer string `json:"producer"`
	Epochs   int    `json:"epochs_trained"`

	Latent     int     `json:"latent"`
	Likelihood string  `json:"likelihood"`
	Sigma      float64 `json:"sigma,omitempty"`

	Input SidecarInput             `json:"input"`
	Files map[string]SidecarFileIO `json:"files"` // by role: encoder, decoder, score

	Score   SidecarScore    `json:"score"`
	Anomaly *SidecarAnomaly `json:"anomaly,omitempty"`
}

// SidecarInput says what the files' input x is and how raw data becomes
// model input (done inside the files unless Preprocessing is "caller").
type SidecarInput struct {
	Name          string    `json:"name"`
	Shape         []int     `json:"shape"` // per example; the batch dimension N comes first
	Columns       []string  `json:"columns,omitempty"`
	Preprocessing string    `json:"preprocessing"` // "inside": feed raw data; "caller": feed scaled data
	Scale         float64   `json:"scale"`
	Offset        float64   `json:"offset"`
	Normalize     string    `json:"normalize"`
	FeatureScale  []float64 `json:"feature_scale,omitempty"`
	FeatureShift  []float64 `json:"feature_shift,omitempty"`
	Missing       string    `json:"missing"`
	Fill          []float64 `json:"fill,omitempty"`
}

// SidecarFileIO lists a file's inputs and outputs by name.
type SidecarFileIO struct {
	File    string   `json:"file"`
	Inputs  []string `json:"inputs"`
	Outputs []string `json:"outputs"`
}

// SidecarScore defines the score of score.onnx and `vaec score`.
type SidecarScore struct {
	Output     string `json:"output"`
	Definition string `json:"definition"`
}

// SidecarAnomaly is the fitted outlier threshold.
type SidecarAnomaly struct {
	FalsePositiveRate float64 `json:"false_positive_rate"`
	Threshold         float64 `json:"threshold"`
	Rule              string  `json:"rule"`
}

// NewSidecar describes the export of m with opts (the same options the
// files were written with).
func NewSidecar(m *ir.Model, opts Options) *Sidecar {
	pre := "inside"
	if opts.NoPreprocess {
		pre = "caller"
	}
	pv := opts.Metadata.ProducerVersion
	if pv == "" {
		pv = "unknown"
	}
	s := &Sidecar{
		Version: SidecarVersion, Name: m.Name, SpecHash: m.SpecHash, Producer: ProducerName + " " + pv,
		Epochs: opts.Metadata.EpochsTrained, Latent: m.Latent, Likelihood: m.Likelihood.Kind.String(),
		Input: SidecarInput{
			Name: ir.InputX, Shape: m.Input.Shape, Columns: m.Input.Columns, Preprocessing: pre,
			Scale: m.Input.Scale, Offset: m.Input.Offset, Normalize: m.Input.Normalize.String(),
			FeatureScale: m.Input.FeatureScale, FeatureShift: m.Input.FeatureShift,
			Missing: m.Input.Missing.String(), Fill: m.Input.Fill,
		},
		Files: map[string]SidecarFileIO{
			RoleEncoder: {File: "encoder.onnx", Inputs: []string{ir.InputX}, Outputs: []string{ir.OutputMu, ir.OutputLogvar}},
			RoleDecoder: {File: "decoder.onnx", Inputs: []string{ir.InputZ}, Outputs: decoderOutputNames(m, !opts.NoPreprocess)},
			RoleScore:   {File: "score.onnx", Inputs: []string{ir.InputX}, Outputs: []string{ir.OutputScore, ir.OutputMu}},
		},
		Score: SidecarScore{Output: ir.OutputScore,
			Definition: "-log p(x | z = mu) + KL(q(z|x) || N(0, I)) in nats, mu the encoder's mean; higher is less like the training data"},
	}
	if m.Likelihood.Kind == ir.GaussianFixed {
		s.Sigma = m.Likelihood.Sigma
	}
	if t := opts.Metadata.Threshold; t != nil {
		s.Anomaly = &SidecarAnomaly{FalsePositiveRate: opts.Metadata.FalsePositiveRate, Threshold: *t,
			Rule: "outlier when score > threshold; the threshold is the (1 - false_positive_rate) quantile of the score over the validation records"}
	}
	return s
}

func decoderOutputNames(m *ir.Model, pre bool) []string {
	outs := m.DecoderOutputs()
	if pre {
		outs = append(outs, ir.OutputMeanRaw)
	}
	return outs
}

// Marshal returns the sidecar as indented JSON.
func (s *Sidecar) Marshal() ([]byte, error) {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// ReadSidecar parses a sidecar, refusing unknown fields and other versions.
func ReadSidecar(b []byte) (*Sidecar, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var s Sidecar
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("%s: %w", SidecarFile, err)
	}
	if s.Version != SidecarVersion {
		return nil, fmt.Errorf("%s: layout version %d, this vaec reads %d", SidecarFile, s.Version, SidecarVersion)
	}
	return &s, nil
}
