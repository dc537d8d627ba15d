package compiler

import (
	"github.com/vaec/vaec/dataset"
	"github.com/vaec/vaec/ir"
)

// fitMissing fits the fill of missing values (data.train's missing: mean)
// on the training records in set, which were loaded with their missing
// values kept as NaN: each feature's mean over its present values, stored
// in raw units as ir.Input.Fill. The NaNs of set become the fill, so that
// what is fitted afterwards (the normalisation) sees the records as
// training will. It reports false when a feature has no value to average.
func (c *checker) fitMissing(set *dataset.Set) bool {
	m := &c.m
	if m.Input.Missing != ir.MissingMean {
		return true
	}
	fill, err := dataset.FitMissing(set, m.Input)
	if err != nil {
		c.errorf(c.trainPathNode, "data.train", "leave the column out with exclude", "missing: mean: %v", err)
		return false
	}
	m.Input.Fill = fill
	return true
}
