package runtime

import (
	"errors"
	"fmt"
	"math"
)

// Tensor is a dense array in row-major order. Float32 tensors (every VAE
// input and output) hold their values in Data; int64 tensors (shapes and
// indices: a Reshape target or a Gather index fed as a graph input, a Shape
// result as a graph output) hold them in Int64, with Data nil; bool tensors
// (masks: an IsNaN or a comparison as a graph output, a Where condition
// fed as a graph input) hold them in Bool. The model's IOInfo.Type says
// which an input needs and an output has.
type Tensor struct {
	Shape []int
	Data  []float32
	Int64 []int64
	Bool  []bool
}

// DType is the element type of a graph input or output.
type DType int

const (
	Float32 DType = iota // ONNX FLOAT; values in Tensor.Data
	Int64                // ONNX INT64; values in Tensor.Int64
	Bool                 // ONNX BOOL; values in Tensor.Bool
)

func (d DType) String() string {
	switch d {
	case Int64:
		return "int64"
	case Bool:
		return "bool"
	}
	return "float32"
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

// value is a tensor flowing through the graph: float32 data, int64 data
// for shape arithmetic (Shape, Reshape's shape input, Expand's shape
// input), or bool data for masks (IsNaN, the comparisons, Where's
// condition). Kernels written before bool existed test isInt alone and
// would read a bool value's absent f: exec refuses a bool input to any
// operator whose opSpec.boolIn does not allow it, so they never see one.
type value struct {
	shape  []int
	f      []float32
	i      []int64
	b      []bool
	isInt  bool
	isBool bool
	// shapeOnly marks a value whose data was never computed: Load's
	// shape check propagates shapes through the graph without arithmetic
	// (so a hostile file cannot make Load compute or allocate much).
	shapeOnly bool
	// unknown marks a value whose shape the shape check could not compute
	// because it depends on data it does not have (an int64 graph input
	// used as a Reshape target, say); only isInt and isBool are
	// meaningful.
	unknown bool
}

// errNoData is returned by a kernel, during Load's shape check only, when
// the output shape depends on the data of an input that has none.
var errNoData = errors.New("shape depends on data not known at load")

// needData returns errNoData when v has no data (Load's shape check).
func needData(v *value) error {
	if v != nil && v.shapeOnly {
		return errNoData
	}
	return nil
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

func (v *value) dtype() string { return v.dt().String() }

// dt is the value's element type.
func (v *value) dt() DType {
	switch {
	case v.isInt:
		return Int64
	case v.isBool:
		return Bool
	}
	return Float32
}

func newBool(shape []int) *value {
	return &value{shape: shape, b: make([]bool, shapeSize(shape)), isBool: true}
}

func newInt(shape []int) *value {
	return &value{shape: shape, i: make([]int64, shapeSize(shape)), isInt: true}
}

func newFloat(shape []int) *value {
	return &value{shape: shape, f: make([]float32, shapeSize(shape))}
}
