package evaluate

import (
	"fmt"
	"math"
	"slices"
)

// Threshold returns the outlier threshold for a false-positive rate: the
// smallest score such that at most ⌊fpr·n⌋ of the given (normal) scores
// lie above it — the (1 − fpr) quantile, taken as an order statistic so
// that the share of the fitting set flagged never exceeds fpr. A record
// is an outlier when its score is greater than the threshold.
func Threshold(scores []float64, fpr float64) (float64, error) {
	if !(fpr > 0 && fpr < 0.5) {
		return 0, fmt.Errorf("evaluate: false-positive rate %v: want one in (0, 0.5)", fpr)
	}
	if len(scores) == 0 {
		return 0, fmt.Errorf("evaluate: no scores to fit a threshold on")
	}
	s := slices.Clone(scores)
	for i, v := range s {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return 0, fmt.Errorf("evaluate: score %d is %v", i, v)
		}
	}
	slices.Sort(s)
	above := int(math.Floor(fpr * float64(len(s)))) // scores allowed above the threshold
	return s[len(s)-1-above], nil
}
