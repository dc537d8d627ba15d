package runtime

import (
	"fmt"
	"math"
)

// Tensor is a dense float32 array in row-major order: the only type a
// model's inputs and outputs may have.
type Tensor struct {
	Shape []int
	Data  []float32
}

// Size is the element count implied by Shape.
func (t Tensor) Size() int { return shapeSize(t.Shape) }

// Compare returns the largest absolute difference between got and want and
// the largest relative difference |got-want|/|want| over elements whose
// want is not zero. A NaN or an infinity on one side only counts as an
// infinite difference; NaN on both sides counts as equal. Lengths must
// match; when they do not, both results are +Inf.
func Compare(got, want []float32) (maxAbs, maxRel float64) {
	if len(got) != len(want) {
		return math.Inf(1), math.Inf(1)
	}
	for i := range got {
		g, w := float64(got[i]), float64(want[i])
		d := math.Abs(g - w)
		switch {
		case math.IsNaN(g) && math.IsNaN(w), g == w:
			continue // includes equal infinities
		case math.IsNaN(d) || math.IsInf(d, 0):
			return math.Inf(1), math.Inf(1)
		}
		maxAbs = math.Max(maxAbs, d)
		if w != 0 {
			maxRel = math.Max(maxRel, d/math.Abs(w))
		}
	}
	return maxAbs, maxRel
}

// Within reports whether every element of got is within tol of want in the
// mixed sense |got-want| ≤ tol·max(1, |want|): an absolute tolerance for
// values of magnitude up to 1 and a relative one above, so that neither
// near-zero outputs (where relative error is meaningless) nor large ones
// (where float32 spacing exceeds tol) decide the verdict alone. It also
// returns the index of the worst element (-1 when all agree exactly).
func Within(got, want []float32, tol float64) (ok bool, worst int) {
	if len(got) != len(want) {
		return false, -1
	}
	worst = -1
	var worstRatio float64
	for i := range got {
		g, w := float64(got[i]), float64(want[i])
		if g == w || (math.IsNaN(g) && math.IsNaN(w)) {
			continue
		}
		r := math.Abs(g-w) / math.Max(1, math.Abs(w))
		if math.IsNaN(r) {
			r = math.Inf(1)
		}
		if worst < 0 || r > worstRatio {
			worst, worstRatio = i, r
		}
	}
	return worst < 0 || worstRatio <= tol, worst
}

func shapeSize(s []int) int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}

// checkedSize is shapeSize with a bound and negative-dimension check, for
// shapes that come from data (Reshape, Expand targets).
func checkedSize(s []int) (int, error) {
	n := 1
	for i, d := range s {
		if d < 0 {
			return 0, fmt.Errorf("negative dimension %d at index %d of shape %v", d, i, s)
		}
		if d > 0 && n > maxRunElems/d {
			return 0, fmt.Errorf("shape %v has more than %d elements", s, maxRunElems)
		}
		n *= d
	}
	return n, nil
}

// value is a tensor flowing through the graph: float32 data, or int64 data
// for shape arithmetic (Shape, Reshape's shape input, Expand's shape input).
type value struct {
	shape []int
	f     []float32
	i     []int64
	isInt bool
	// shapeOnly marks a float value whose data was never computed: Load's
	// shape check propagates shapes through the graph without arithmetic
	// (so a hostile file cannot make Load compute or allocate much).
	shapeOnly bool
}

// anyShapeOnly reports whether any input lacks data.
func anyShapeOnly(in ...*value) bool {
	for _, v := range in {
		if v != nil && v.shapeOnly {
			return true
		}
	}
	return false
}

func (v *value) dtype() string {
	if v.isInt {
		return "int64"
	}
	return "float32"
}

func newFloat(shape []int) *value {
	return &value{shape: shape, f: make([]float32, shapeSize(shape))}
}
