package dataset

import (
	"fmt"
	"math"

	"github.com/vaec/vaec/ir"
)

// Fit is a per-feature normalisation fitted on a set: model input is
// x_d·Scale[d] + Shift[d].
type Fit struct {
	Scale, Shift []float64
	// Constant lists the features with a single value over the set
	// (standardize: std 0; minmax: max = min). They map to 0.
	Constant []int
}

// FitNormalization fits kind on s (already scaled as the spec says), in
// float64 with two passes, so that the mean is exact before deviations
// are summed.
func FitNormalization(s *Set, kind ir.Normalize) (*Fit, error) {
	if s == nil || s.N == 0 || s.D == 0 {
		return nil, fmt.Errorf("dataset: fitting %s on an empty set", kind)
	}
	f := &Fit{Scale: make([]float64, s.D), Shift: make([]float64, s.D)}
	switch kind {
	case ir.NormalizeStandardize:
		mean := make([]float64, s.D)
		for i := 0; i < s.N; i++ {
			for d, v := range s.X[i*s.D : (i+1)*s.D] {
				mean[d] += float64(v)
			}
		}
		for d := range mean {
			mean[d] /= float64(s.N)
		}
		ss := make([]float64, s.D)
		for i := 0; i < s.N; i++ {
			for d, v := range s.X[i*s.D : (i+1)*s.D] {
				r := float64(v) - mean[d]
				ss[d] += r * r
			}
		}
		for d := range ss {
			// The population standard deviation, as scikit-learn's
			// StandardScaler uses.
			std := math.Sqrt(ss[d] / float64(s.N))
			if !(std > 0) || std < 1e-12*math.Max(1, math.Abs(mean[d])) {
				f.Constant = append(f.Constant, d)
				f.Scale[d], f.Shift[d] = 1, -mean[d]
				continue
			}
			f.Scale[d], f.Shift[d] = 1/std, -mean[d]/std
		}
	case ir.NormalizeMinMax:
		lo, hi := make([]float64, s.D), make([]float64, s.D)
		for d := range lo {
			lo[d], hi[d] = math.Inf(1), math.Inf(-1)
		}
		for i := 0; i < s.N; i++ {
			for d, v := range s.X[i*s.D : (i+1)*s.D] {
				lo[d], hi[d] = math.Min(lo[d], float64(v)), math.Max(hi[d], float64(v))
			}
		}
		for d := range lo {
			if !(hi[d] > lo[d]) {
				f.Constant = append(f.Constant, d)
				f.Scale[d], f.Shift[d] = 1, -lo[d]
				continue
			}
			f.Scale[d], f.Shift[d] = 1/(hi[d]-lo[d]), -lo[d]/(hi[d]-lo[d])
		}
	default:
		return nil, fmt.Errorf("dataset: cannot fit normalization %s", kind)
	}
	return f, nil
}

// applyFeatures maps x [n, len(scale)] to x_d·scale[d] + shift[d] in place,
// in float64 with one rounding.
func applyFeatures(x []float32, scale, shift []float64) {
	d := len(scale)
	for i := 0; i+d <= len(x); i += d {
		row := x[i : i+d]
		for j, v := range row {
			row[j] = float32(float64(v)*scale[j] + shift[j])
		}
	}
}

// RawInput is in with the scaling and normalisation removed: loading with
// it gives the data as the file holds it, what exported models with their
// preprocessing inside take.
func RawInput(in ir.Input) ir.Input {
	raw := in
	raw.Scale, raw.Offset = 1, 0
	raw.Normalize, raw.FeatureScale, raw.FeatureShift = ir.NormalizeNone, nil, nil
	return raw
}

// Preprocess maps raw examples (as the file holds them, [n, in.Size]) to
// model input exactly as Load does: the scalar scaling rounded to float32,
// then the per-feature normalisation rounded again.
func Preprocess(in ir.Input, raw []float32) []float32 {
	x := make([]float32, len(raw))
	for i, v := range raw {
		x[i] = float32(float64(v)*in.Scale + in.Offset)
	}
	if in.FeatureScale != nil {
		applyFeatures(x, in.FeatureScale, in.FeatureShift)
	}
	return x
}

// LoadSplits reads the training and validation sets m names, as training
// uses them: without a validation source, train.validation_split holds out
// a fraction of the training data chosen by the spec's seed (the examples
// Set.Split chooses). val is nil when there is no validation data.
func LoadSplits(m *ir.Model) (train, val *Set, err error) {
	return LoadSplitsWith(m, Options{})
}

// LoadSplitsWith is LoadSplits with options (progress). It holds the data
// once: a validation split is taken with Set.Partition, which moves the
// training examples within the loaded memory instead of copying them.
func LoadSplitsWith(m *ir.Model, opt Options) (train, val *Set, err error) {
	if train, err = LoadWith(m.Data.Train, m.Input, opt); err != nil {
		return nil, nil, fmt.Errorf("training data: %w", err)
	}
	switch {
	case m.Data.Validation != nil:
		if val, err = LoadWith(*m.Data.Validation, m.Input, opt); err != nil {
			return nil, nil, fmt.Errorf("validation data: %w", err)
		}
	case m.Train.ValidationSplit > 0:
		train, val = train.Partition(m.Train.ValidationSplit, m.Train.Seed)
		if val.N == 0 {
			val = nil
		}
		if train.N == 0 {
			return nil, nil, fmt.Errorf("training data: validation_split %v leaves no training examples", m.Train.ValidationSplit)
		}
	}
	return train, val, nil
}

// FitMissing fits the fill of missing values on s, a set loaded with
// in.Missing MissingMean and no fill (its missing values are NaN, scaled
// as in says): each feature's fill is the mean of its present values, in
// raw units as ir.Input.Fill holds it. It replaces s's NaNs by the fill,
// scaled as the loader scales it, so that s then holds what Load with the
// fill gives. A feature with no value at all in s is an error naming it.
func FitMissing(s *Set, in ir.Input) ([]float64, error) {
	if s == nil || s.N == 0 || s.D == 0 {
		return nil, fmt.Errorf("dataset: fitting missing values on an empty set")
	}
	if in.Scale == 0 {
		return nil, fmt.Errorf("dataset: input scale 0: the raw mean of a feature cannot be recovered")
	}
	sum, n := make([]float64, s.D), make([]int, s.D)
	for i, v := range s.X {
		if v == v {
			sum[i%s.D] += float64(v)
			n[i%s.D]++
		}
	}
	fill := make([]float64, s.D)
	for d := range fill {
		if n[d] == 0 {
			name := fmt.Sprintf("feature %d", d)
			if d < len(s.Columns) {
				name = fmt.Sprintf("feature %d (%q)", d, s.Columns[d])
			}
			return nil, fmt.Errorf("%s has no value in the training records: nothing to fill it with", name)
		}
		// The mean of the scaled values, back in raw units.
		fill[d] = (sum[d]/float64(n[d]) - in.Offset) / in.Scale
	}
	for i, v := range s.X {
		if v != v {
			s.X[i] = float32(fill[i%s.D]*in.Scale + in.Offset)
		}
	}
	return fill, nil
}
