package runtime

import (
	"fmt"
	"math"
)

// Arithmetic operators beyond the elementwise four: Pow, Clip, Softmax,
// the reductions and BatchNormalization (inference).

// floatIn refuses an int64 input of a float-only operator.
func floatIn(v *value, what string) error {
	if v != nil && v.isInt {
		return fmt.Errorf("%s is int64, want float32", what)
	}
	return nil
}

// buildPow: Z = X^Y with multidirectional broadcasting. The result has
// X's type; an int64 exponent of a float base and a float exponent of an
// int64 base are allowed (ONNX Pow-12 and later), the latter truncated.
func buildPow(attrs, []*value) (kernel, error) {
	return func(in []*value) (*value, error) {
		a, b := in[0], in[1]
		shape, err := broadcastShapes(a.shape, b.shape)
		if err != nil {
			return nil, err
		}
		if _, err := checkedSize(shape); err != nil {
			return nil, err
		}
		if anyShapeOnly(a, b) {
			return &value{shape: shape, shapeOnly: true, isInt: a.isInt}, nil
		}
		at := func(v *value, i int) float64 {
			if v.isInt {
				return float64(v.i[i])
			}
			return float64(v.f[i])
		}
		var y *value
		if a.isInt {
			y = newInt(shape)
		} else {
			y = newFloat(shape)
		}
		forEachBroadcast(shape, bstrides(a.shape, shape), bstrides(b.shape, shape), func(o, ia, ib, n, sa, sb int) {
			for k := 0; k < n; k++ {
				x, e := at(a, ia+k*sa), at(b, ib+k*sb)
				switch {
				case a.isInt && b.isInt:
					y.i[o+k] = ipow(a.i[ia+k*sa], b.i[ib+k*sb])
				case a.isInt:
					y.i[o+k] = int64(math.Pow(x, e))
				default:
					y.f[o+k] = float32(math.Pow(x, e))
				}
			}
		})
		return y, nil
	}, nil
}

// ipow is integer exponentiation by squaring (wrapping on overflow, as
// C's int64 does); negative exponents give 0 except for bases ±1.
func ipow(x, e int64) int64 {
	if e < 0 {
		switch x {
		case 1:
			return 1
		case -1:
			if e%2 == 0 {
				return 1
			}
			return -1
		}
		return 0
	}
	r := int64(1)
	for e > 0 {
		if e&1 == 1 {
			r *= x
		}
		x *= x
		e >>= 1
	}
	return r
}

// buildClip: Y = min(max(X, min), max). Before opset 11 the bounds are
// attributes; from 11 they are optional scalar inputs.
func buildClip(a attrs, _ []*value) (kernel, error) {
	if a.opset >= 11 && (a.has("min") || a.has("max")) {
		return nil, fmt.Errorf("attributes min/max belong to opsets before 11; from 11 they are inputs")
	}
	lo0, hi0 := a.float("min", float32(math.Inf(-1))), a.float("max", float32(math.Inf(1)))
	return func(in []*value) (*value, error) {
		x := in[0]
		if err := floatIn(x, "input"); err != nil {
			return nil, err
		}
		lo, hi := lo0, hi0
		for j, bound := range []*float32{&lo, &hi} {
			v := in[j+1]
			if v == nil {
				continue
			}
			if err := floatIn(v, "bound"); err != nil {
				return nil, err
			}
			if shapeSize(v.shape) != 1 || len(v.shape) > 1 {
				return nil, fmt.Errorf("bound %d has shape %v, want a scalar", j+1, v.shape)
			}
			if !v.shapeOnly {
				*bound = v.f[0]
			}
		}
		if anyShapeOnly(in...) {
			return &value{shape: x.shape, shapeOnly: true}, nil
		}
		y := newFloat(x.shape)
		for i, v := range x.f {
			y.f[i] = min(max(v, lo), hi)
			if v != v { // NaN stays NaN (Go's min/max would too; kept explicit)
				y.f[i] = v
			}
		}
		return y, nil
	}, nil
}

// buildSoftmax: before opset 13 the input is seen as a matrix
// [prod(dims[:axis]), prod(dims[axis:])] (axis default 1) and each row is
// normalised; from 13 the normalisation runs along the one axis (default
// -1). Exponentials and sums are computed in float64.
func buildSoftmax(a attrs, _ []*value) (kernel, error) {
	legacy := a.opset < 13
	def := int64(-1)
	if legacy {
		def = 1
	}
	axis := a.int("axis", def)
	return func(in []*value) (*value, error) {
		x := in[0]
		if err := floatIn(x, "input"); err != nil {
			return nil, err
		}
		r := len(x.shape)
		ax, err := normAxis(axis, r, "axis")
		if err != nil {
			return nil, err
		}
		if x.shapeOnly {
			return &value{shape: x.shape, shapeOnly: true}, nil
		}
		// Rows of n values at stride inner, outer·inner of them.
		outer, n, inner := shapeSize(x.shape[:ax]), 1, 1
		if legacy {
			n = shapeSize(x.shape[ax:])
		} else {
			n, inner = x.shape[ax], shapeSize(x.shape[ax+1:])
		}
		y := newFloat(x.shape)
		e := make([]float64, n)
		for o := 0; o < outer; o++ {
			for i := 0; i < inner; i++ {
				base := o*n*inner + i
				m := math.Inf(-1)
				for k := 0; k < n; k++ {
					m = math.Max(m, float64(x.f[base+k*inner]))
				}
				var sum float64
				for k := 0; k < n; k++ {
					e[k] = math.Exp(float64(x.f[base+k*inner]) - m)
					sum += e[k]
				}
				for k := 0; k < n; k++ {
					y.f[base+k*inner] = float32(e[k] / sum)
				}
			}
		}
		return y, nil
	}, nil
}

// normAxis maps a possibly negative axis into [0, r).
func normAxis(axis int64, r int, what string) (int, error) {
	if axis < -int64(r) || axis >= int64(r) {
		return 0, fmt.Errorf("%s %d out of range for rank %d", what, axis, r)
	}
	if axis < 0 {
		axis += int64(r)
	}
	return int(axis), nil
}

// buildReduce builds ReduceSum (mean false) and ReduceMean. The axes are
// an attribute before opset 13 (ReduceSum) or 18 (ReduceMean), an
// optional int64 input after. No axes means all, unless
// noop_with_empty_axes, which makes the operator an identity.
func buildReduce(mean bool) func(attrs, []*value) (kernel, error) {
	return func(a attrs, _ []*value) (kernel, error) {
		inputFrom := int64(13)
		if mean {
			inputFrom = 18
		}
		axesInput := a.opset >= inputFrom
		if axesInput && a.has("axes") {
			return nil, fmt.Errorf("attribute axes belongs to opsets before %d; from %d it is an input", inputFrom, inputFrom)
		}
		if !axesInput && a.has("noop_with_empty_axes") {
			return nil, fmt.Errorf("attribute noop_with_empty_axes needs opset %d, model has %d", inputFrom, a.opset)
		}
		keep := a.int("keepdims", 1) != 0
		noop := a.int("noop_with_empty_axes", 0) != 0
		attrAxes := a.ints("axes")
		return func(in []*value) (*value, error) {
			x := in[0]
			if err := floatIn(x, "input"); err != nil {
				return nil, err
			}
			axes := attrAxes
			if axesInput && len(in) > 1 && in[1] != nil {
				if err := needData(in[1]); err != nil {
					return nil, err
				}
				var err error
				if axes, err = intsOf(in[1], "axes input"); err != nil {
					return nil, err
				}
			}
			r := len(x.shape)
			if len(axes) == 0 && noop {
				return x, nil
			}
			red := make([]bool, r)
			for _, ax := range axes {
				k, err := normAxis(ax, r, "axis")
				if err != nil {
					return nil, err
				}
				red[k] = true
			}
			if len(axes) == 0 {
				for k := range red {
					red[k] = true
				}
			}
			var shape, kept []int
			for k, d := range x.shape {
				switch {
				case !red[k]:
					shape = append(shape, d)
					kept = append(kept, d)
				case keep:
					kept = append(kept, 1)
				}
			}
			if keep {
				shape = kept
			}
			if shape == nil {
				shape = []int{}
			}
			if x.shapeOnly {
				return &value{shape: shape, shapeOnly: true}, nil
			}
			// Sum in float64 into the kept-dims layout, by strides.
			ks := make([]int, r) // stride in the output of each input dim, 0 if reduced
			acc := 1
			for k := r - 1; k >= 0; k-- {
				if !red[k] {
					ks[k] = acc
					acc *= x.shape[k]
				}
			}
			sums := make([]float64, shapeSize(shape))
			idx := make([]int, r)
			o := 0
			for _, v := range x.f {
				sums[o] += float64(v)
				for k := r - 1; k >= 0; k-- {
					idx[k]++
					o += ks[k]
					if idx[k] < x.shape[k] {
						break
					}
					o -= ks[k] * x.shape[k]
					idx[k] = 0
				}
			}
			cnt := 1
			if mean && len(x.f) > 0 {
				cnt = len(x.f) / max(len(sums), 1)
			}
			y := newFloat(shape)
			for i, s := range sums {
				y.f[i] = float32(s / float64(cnt))
			}
			return y, nil
		}, nil
	}
}

// buildBatchNorm: inference-mode batch normalisation over axis 1,
// Y = (X − mean)/sqrt(var + epsilon)·scale + B. Training mode (the
// training_mode attribute, or the running statistics as extra outputs,
// refused at load) is not supported.
func buildBatchNorm(a attrs, _ []*value) (kernel, error) {
	if a.int("training_mode", 0) != 0 {
		return nil, fmt.Errorf("training_mode=1 is not supported (inference only; export the model in eval mode)")
	}
	if a.has("spatial") && (a.opset >= 9 || a.int("spatial", 1) != 1) {
		return nil, fmt.Errorf("attribute spatial=%d is not supported", a.int("spatial", 1))
	}
	eps := float64(a.float("epsilon", 1e-5))
	return func(in []*value) (*value, error) {
		x := in[0]
		for j, v := range in {
			if err := floatIn(v, fmt.Sprintf("input %d", j)); err != nil {
				return nil, err
			}
		}
		if len(x.shape) < 2 {
			return nil, fmt.Errorf("input has shape %v, want [N, C, ...]", x.shape)
		}
		c := x.shape[1]
		for j := 1; j < 5; j++ {
			if len(in[j].shape) != 1 || in[j].shape[0] != c {
				return nil, fmt.Errorf("input %d has shape %v, want [%d]", j, in[j].shape, c)
			}
		}
		if anyShapeOnly(in...) {
			return &value{shape: x.shape, shapeOnly: true}, nil
		}
		scale, bias, mean, vr := in[1].f, in[2].f, in[3].f, in[4].f
		mul, add := make([]float32, c), make([]float32, c)
		for k := 0; k < c; k++ {
			s := float64(scale[k]) / math.Sqrt(float64(vr[k])+eps)
			mul[k] = float32(s)
			add[k] = float32(float64(bias[k]) - float64(mean[k])*s)
		}
		y := newFloat(x.shape)
		inner := shapeSize(x.shape[2:])
		for i := 0; i < len(x.f); i += inner {
			k := (i / inner) % c
			src, dst := x.f[i:i+inner], y.f[i:i+inner]
			for j, v := range src {
				dst[j] = v*mul[k] + add[k]
			}
		}
		return y, nil
	}, nil
}
