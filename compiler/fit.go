package compiler

import (
	"fmt"
	"math"
	"os"
	"strings"

	"github.com/vaec/vaec/dataset"
	"github.com/vaec/vaec/ir"
)

// The checks that need the data's values, not only its header, and the fit
// of the input normalisation. They run once the spec itself is sound.

// disparity is the ratio of feature spreads above which an unnormalised
// input draws a warning: a model then mostly learns the widest features.
const disparity = 1e3

// fitData loads the training records (those left after validation_split,
// which splits the same way training does), fits the normalisation when
// the spec asks for one, and checks what only the values show: a Bernoulli
// likelihood needs inputs in [0, 1], and features on very different scales
// want normalising. Files above fullCheckBytes are not read here unless a
// normalisation must be fitted; training checks their range at its start.
func (c *checker) fitData() {
	m := &c.m
	src := m.Data.Train
	fi, err := os.Stat(src.Path)
	if err != nil {
		return // reported by the source check
	}
	if m.Input.Normalize == ir.NormalizeNone && m.Input.Missing != ir.MissingMean && fi.Size() > fullCheckBytes {
		return
	}
	raw := m.Input
	raw.Normalize, raw.FeatureScale, raw.FeatureShift = ir.NormalizeNone, nil, nil
	set, err := dataset.Load(src, raw)
	if err != nil {
		return // reported by the source check (or a larger file, refused by training the same way)
	}
	if m.Data.Validation == nil && m.Train.ValidationSplit > 0 {
		set, _ = set.Split(m.Train.ValidationSplit, m.Train.Seed)
		if set.N == 0 {
			return
		}
	}
	if !c.fitMissing(set) { // compiler/missing.go
		return
	}
	switch m.Input.Normalize {
	case ir.NormalizeNone:
		c.checkSpread(set)
	default:
		fit, err := dataset.FitNormalization(set, m.Input.Normalize)
		if err != nil {
			c.errorf(c.normalizeNode, "input.normalize", "", "%v", err)
			return
		}
		m.Input.FeatureScale, m.Input.FeatureShift = fit.Scale, fit.Shift
		if len(fit.Constant) > 0 {
			c.warnf(c.normalizeNode, "input.normalize", "", "%s constant in the training records (%s); it maps to 0",
				plural(len(fit.Constant), "feature is", "features are"), c.featureNames(fit.Constant, 8))
		}
	}
	if m.Likelihood.Kind == ir.Bernoulli && c.likelihoodOK && !c.bernoulliReported {
		lo, hi := math.Inf(1), math.Inf(-1)
		for i, v := range set.X {
			x := float64(v)
			if m.Input.FeatureScale != nil {
				d := i % set.D
				x = x*m.Input.FeatureScale[d] + m.Input.FeatureShift[d]
			}
			lo, hi = math.Min(lo, x), math.Max(hi, x)
		}
		if lo < 0 || hi > 1+1e-6 {
			hint := "scale the data into [0, 1] (input.scale and input.offset, or input.normalize: minmax), or use likelihood: gaussian"
			c.errorf(c.trainPathNode, "data.train", hint,
				"the bernoulli likelihood needs inputs in [0, 1], but the training records span [%s, %s] after scaling", fmtNum(lo), fmtNum(hi))
		}
	}
}

// checkSpread warns when the features' magnitudes (largest |x| of each,
// features that are all zero left out) differ by more than disparity: the
// units of a table's columns (0.05 against 4,254), not the quiet border
// pixels of an image, whose largest value is still a pixel's.
func (c *checker) checkSpread(set *dataset.Set) {
	big := make([]float64, set.D)
	for i, v := range set.X {
		d := i % set.D
		big[d] = math.Max(big[d], math.Abs(float64(v)))
	}
	lo, hi, loD, hiD := math.Inf(1), 0.0, -1, -1
	for d, s := range big {
		if s > 0 && s < lo {
			lo, loD = s, d
		}
		if s > hi {
			hi, hiD = s, d
		}
	}
	if loD >= 0 && hiD >= 0 && hi > disparity*lo {
		c.warnf(c.inputNode, "input", "add normalize: standardize to input",
			"feature magnitudes differ by a factor of %.3g (up to %.4g in %s, %.4g in %s): without normalisation the model mostly learns the largest",
			hi/lo, hi, c.featureNames([]int{hiD}, 1), lo, c.featureNames([]int{loD}, 1))
	}
}

// featureNames names features by column name when the input has them,
// else by index, at most max of them.
func (c *checker) featureNames(idx []int, max int) string {
	var parts []string
	for i, d := range idx {
		if i == max {
			parts = append(parts, fmt.Sprintf("and %d more", len(idx)-max))
			break
		}
		if d < len(c.m.Input.Columns) {
			parts = append(parts, fmt.Sprintf("%q", c.m.Input.Columns[d]))
		} else {
			parts = append(parts, fmt.Sprintf("feature %d", d))
		}
	}
	return strings.Join(parts, ", ")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
