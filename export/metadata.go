package export

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/vaec/vaec/ir"
)

// FileMeta is what an exported file's metadata_props say about the model:
// the reader beside the writer (metadataProps), so the two cannot drift.
type FileMeta struct {
	Role       string // RoleEncoder, RoleDecoder or RoleRoundTrip
	ModelName  string
	SpecHash   string
	Latent     int
	Likelihood ir.Likelihood // Kind and Sigma (Logvar is not recorded)
	Input      ir.Input      // shape, size and scaling
	Epochs     int
	ValELBO    *float64 // nil when not recorded
	// Preprocess: the file takes raw data (MetaPreprocess "inside"); else
	// input scaled and normalised as Input says.
	Preprocess bool
	// Threshold on the score for FalsePositiveRate; nil when none.
	Threshold         *float64
	FalsePositiveRate float64
	// Prior is the prior's kind and size (MetaPrior; N(0, I) when absent).
	// A VampPrior's components are not in the metadata: prior.onnx holds
	// them.
	Prior ir.Prior
	// Condition is a conditional model's class count (MetaConditionClasses).
	Condition ir.Condition
}

// ReadMetadata parses the metadata_props of a file written by Encoder,
// Decoder or RoundTrip (as runtime.Model.Metadata returns them). A missing
// or malformed key is an error naming it, with a hint when the file does
// not look like vaec's at all.
func ReadMetadata(md map[string]string) (*FileMeta, error) {
	get := func(key string) (string, error) {
		s, ok := md[key]
		if !ok {
			return "", fmt.Errorf("metadata %q is missing: was the file written by `vaec export`?", key)
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
			return 0, fmt.Errorf("metadata %s = %q is not a finite number", key, s)
		}
		return f, nil
	}
	integer := func(key string, lo, hi int) (int, error) {
		f, err := num(key)
		if err != nil {
			return 0, err
		}
		if f < float64(lo) || f > float64(hi) || f != math.Trunc(f) {
			return 0, fmt.Errorf("metadata %s = %v is not an integer in [%d, %d]", key, f, lo, hi)
		}
		return int(f), nil
	}
	fm := &FileMeta{Role: md[MetaRole], ModelName: md[MetaModelName], SpecHash: md[MetaSpecHash]}
	var err error
	if fm.Latent, err = integer(MetaLatent, 1, ir.MaxUnits); err != nil {
		return nil, err
	}
	lik, err := get(MetaLikelihood)
	if err != nil {
		return nil, err
	}
	if fm.Likelihood.Kind, err = ir.ParseLikelihood(lik); err != nil {
		return nil, fmt.Errorf("metadata %s = %q is not a likelihood vaec knows", MetaLikelihood, lik)
	}
	if fm.Likelihood.Kind == ir.GaussianFixed {
		if fm.Likelihood.Sigma, err = num(MetaSigma); err != nil {
			return nil, err
		}
		if !(fm.Likelihood.Sigma > 0) {
			return nil, fmt.Errorf("metadata %s = %v is not a positive sigma", MetaSigma, fm.Likelihood.Sigma)
		}
	}
	shape, err := get(MetaInputShape)
	if err != nil {
		return nil, err
	}
	for _, p := range strings.Split(shape, ",") {
		d, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || d <= 0 || d > ir.MaxInputSize {
			return nil, fmt.Errorf("metadata %s = %q is not a shape", MetaInputShape, shape)
		}
		fm.Input.Shape = append(fm.Input.Shape, d)
	}
	if len(fm.Input.Shape) != 1 && len(fm.Input.Shape) != 3 || fm.Input.Shape.Size() > ir.MaxInputSize {
		return nil, fmt.Errorf("metadata %s = %q is not a shape [D] or [C, H, W]", MetaInputShape, shape)
	}
	fm.Input.Size = fm.Input.Shape.Size()
	if fm.Input.Scale, err = num(MetaInputScale); err != nil {
		return nil, err
	}
	if fm.Input.Offset, err = num(MetaInputOffset); err != nil {
		return nil, err
	}
	fm.Preprocess = md[MetaPreprocess] == "inside"
	if fm.Condition, err = readCondition(md); err != nil {
		return nil, err
	}
	if s, ok := md[MetaPrior]; ok {
		var kind string
		var k int
		if n, err := fmt.Sscanf(s, "%s %d", &kind, &k); n != 2 || err != nil || kind != ir.PriorVamp.String() || k < 1 || k > ir.MaxComponents {
			return nil, fmt.Errorf("metadata %s = %q: want \"vamp K\" with 1 <= K <= %d", MetaPrior, s, ir.MaxComponents)
		}
		fm.Prior = ir.Prior{Kind: ir.PriorVamp, Components: k, PseudoInputs: ir.PseudoInputsParam}
	}
	if k, ok := md[MetaNormalize]; ok {
		if fm.Input.Normalize, err = ir.ParseNormalize(k); err != nil || fm.Input.Normalize == ir.NormalizeNone {
			return nil, fmt.Errorf("metadata %s = %q is not a normalisation vaec knows", MetaNormalize, k)
		}
		for _, f := range []struct {
			key string
			dst *[]float64
		}{{MetaNormalizeScale, &fm.Input.FeatureScale}, {MetaNormalizeShift, &fm.Input.FeatureShift}} {
			s, err := get(f.key)
			if err != nil {
				return nil, err
			}
			parts := strings.Split(s, ",")
			if len(parts) != fm.Input.Size {
				return nil, fmt.Errorf("metadata %s has %d values, the input %d features", f.key, len(parts), fm.Input.Size)
			}
			for _, p := range parts {
				v, err := strconv.ParseFloat(p, 64)
				if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
					return nil, fmt.Errorf("metadata %s: %q is not a finite number", f.key, p)
				}
				*f.dst = append(*f.dst, v)
			}
		}
	}
	if k, ok := md[MetaMissing]; ok {
		if fm.Input.Missing, err = ir.ParseMissing(k); err != nil || fm.Input.Missing != ir.MissingMean {
			return nil, fmt.Errorf("metadata %s = %q is not a missing-value rule vaec writes", MetaMissing, k)
		}
		s, err := get(MetaFill)
		if err != nil {
			return nil, err
		}
		parts := strings.Split(s, ",")
		if len(parts) != fm.Input.Size {
			return nil, fmt.Errorf("metadata %s has %d values, the input %d features", MetaFill, len(parts), fm.Input.Size)
		}
		for _, p := range parts {
			v, err := strconv.ParseFloat(p, 64)
			if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("metadata %s: %q is not a finite number", MetaFill, p)
			}
			fm.Input.Fill = append(fm.Input.Fill, v)
		}
	}
	if c, ok := md[MetaColumns]; ok {
		if err := json.Unmarshal([]byte(c), &fm.Input.Columns); err != nil || len(fm.Input.Columns) != fm.Input.Size {
			return nil, fmt.Errorf("metadata %s is not a JSON array of %d column names", MetaColumns, fm.Input.Size)
		}
	}
	if _, ok := md[MetaThreshold]; ok {
		v, err := num(MetaThreshold)
		if err != nil {
			return nil, err
		}
		if fm.FalsePositiveRate, err = num(MetaFPR); err != nil {
			return nil, err
		}
		fm.Threshold = &v
	}
	if _, ok := md[MetaEpochs]; ok {
		if fm.Epochs, err = integer(MetaEpochs, 0, math.MaxInt32); err != nil {
			return nil, err
		}
	}
	if _, ok := md[MetaValELBO]; ok {
		v, err := num(MetaValELBO)
		if err != nil {
			return nil, err
		}
		fm.ValELBO = &v
	}
	return fm, nil
}
