package runtime

import (
	"fmt"
	"math"
)

// Resize and Upsample, nearest and linear modes. Both interpolations are
// separable, so the tensor is resized one axis at a time (axes whose
// size and coordinates do not change are skipped). Coordinates are
// computed in float64, as ONNX's reference does.

// resizeSpec is what a Resize node computes, fixed at load.
type resizeSpec struct {
	linear  bool
	coord   string // coordinate_transformation_mode
	nearest string // nearest_mode
}

func buildResize(a attrs, _ []*value) (kernel, error) {
	rs := resizeSpec{coord: a.str("coordinate_transformation_mode", "half_pixel"), nearest: a.str("nearest_mode", "round_prefer_floor")}
	switch mode := a.str("mode", "nearest"); mode {
	case "nearest":
	case "linear":
		rs.linear = true
	default:
		return nil, fmt.Errorf("mode %q is not supported (nearest and linear are)", mode)
	}
	if a.opset < 11 {
		// Resize-10: inputs X and scales, asymmetric coordinates.
		rs.coord, rs.nearest = "asymmetric", "floor"
		if a.has("coordinate_transformation_mode") || a.has("nearest_mode") {
			return nil, fmt.Errorf("coordinate_transformation_mode and nearest_mode need opset 11, model has %d", a.opset)
		}
	}
	switch rs.coord {
	case "half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric", "tf_half_pixel_for_nearest":
	default:
		return nil, fmt.Errorf("coordinate_transformation_mode %q is not supported", rs.coord)
	}
	switch rs.nearest {
	case "round_prefer_floor", "round_prefer_ceil", "floor", "ceil":
	default:
		return nil, fmt.Errorf("nearest_mode %q is not supported", rs.nearest)
	}
	if a.int("antialias", 0) != 0 {
		return nil, fmt.Errorf("antialias=1 is not supported")
	}
	if a.has("axes") {
		return nil, fmt.Errorf("attribute axes is not supported")
	}
	if p := a.str("keep_aspect_ratio_policy", "stretch"); p != "stretch" {
		return nil, fmt.Errorf("keep_aspect_ratio_policy %q is not supported", p)
	}
	return func(in []*value) (*value, error) {
		x := in[0]
		var scales, sizes *value
		if a.opset < 11 {
			scales = in[1]
		} else {
			scales, sizes = in[2], in[3]
			if scales != nil && !scales.shapeOnly && len(scales.f) == 0 && len(scales.shape) == 1 {
				scales = nil // an empty scales tensor stands for "use sizes"
			}
		}
		return resize(x, scales, sizes, rs)
	}, nil
}

// buildUpsample: Upsample-9 and -10, X and scales, asymmetric
// coordinates, nearest rounding down.
func buildUpsample(a attrs, _ []*value) (kernel, error) {
	rs := resizeSpec{coord: "asymmetric", nearest: "floor"}
	switch mode := a.str("mode", "nearest"); mode {
	case "nearest":
	case "linear", "bilinear":
		rs.linear = true
	default:
		return nil, fmt.Errorf("mode %q is not supported (nearest and linear are)", mode)
	}
	return func(in []*value) (*value, error) { return resize(in[0], in[1], nil, rs) }, nil
}

func resize(x, scales, sizes *value, rs resizeSpec) (*value, error) {
	if err := floatIn(x, "input X"); err != nil {
		return nil, err
	}
	r := len(x.shape)
	if (scales == nil) == (sizes == nil) {
		return nil, fmt.Errorf("exactly one of scales and sizes must be given")
	}
	out := make([]int, r)
	scale := make([]float64, r)
	if scales != nil {
		if err := floatIn(scales, "scales"); err != nil {
			return nil, err
		}
		if len(scales.shape) != 1 || scales.shape[0] != r {
			return nil, fmt.Errorf("scales has shape %v, want [%d]", scales.shape, r)
		}
		if err := needData(scales); err != nil {
			return nil, err
		}
		for k, s := range scales.f {
			f := float64(s)
			if !(f > 0) || math.IsInf(f, 0) {
				return nil, fmt.Errorf("scale %v on axis %d must be positive and finite", s, k)
			}
			o := math.Floor(f * float64(x.shape[k]))
			if o > maxRunElems {
				return nil, fmt.Errorf("scale %v makes axis %d larger than %d", s, k, maxRunElems)
			}
			out[k], scale[k] = int(o), f
		}
	} else {
		if err := needData(sizes); err != nil {
			return nil, err
		}
		sz, err := intsOf(sizes, "sizes")
		if err != nil {
			return nil, err
		}
		if len(sz) != r {
			return nil, fmt.Errorf("sizes %v has %d values for rank %d", sz, len(sz), r)
		}
		for k, s := range sz {
			if s < 0 || s > maxRunElems {
				return nil, fmt.Errorf("size %d on axis %d out of range", s, k)
			}
			out[k] = int(s)
			if x.shape[k] > 0 {
				scale[k] = float64(s) / float64(x.shape[k])
			}
		}
	}
	if _, err := checkedSize(out); err != nil {
		return nil, err
	}
	if x.shapeOnly {
		return &value{shape: out, shapeOnly: true}, nil
	}
	for k := 0; k < r; k++ {
		if out[k] > 0 && x.shape[k] == 0 {
			return nil, fmt.Errorf("cannot resize an empty axis %d to %d", k, out[k])
		}
	}
	y := x
	for k := 0; k < r; k++ {
		if out[k] == x.shape[k] && scale[k] == 1 {
			continue // same coordinates in every mode
		}
		y = resizeAxis(y, k, out[k], scale[k], rs)
	}
	if y == x {
		y = &value{shape: x.shape, f: append([]float32(nil), x.f...)}
	}
	return y, nil
}

// resizeAxis resizes x along axis k to n values.
func resizeAxis(x *value, k, n int, scale float64, rs resizeSpec) *value {
	in := x.shape[k]
	// ONNX's reference measures the resized axis as scale·in, which is
	// the output size when sizes are given and may be fractional when
	// scales are (align_corners then maps the ends of that length).
	length := scale * float64(in)
	i0, i1 := make([]int, n), make([]int, n)
	w := make([]float64, n)
	for o := 0; o < n; o++ {
		var c float64 // source coordinate of output index o
		switch rs.coord {
		case "half_pixel":
			c = (float64(o)+0.5)/scale - 0.5
		case "pytorch_half_pixel":
			c = -0.5
			if length > 1 {
				c = (float64(o)+0.5)/scale - 0.5
			}
		case "align_corners":
			if length > 1 {
				c = float64(o) * float64(in-1) / (length - 1)
			}
		case "asymmetric":
			c = float64(o) / scale
		case "tf_half_pixel_for_nearest":
			c = (float64(o) + 0.5) / scale
		}
		f := math.Floor(c)
		frac := c - f
		lo := int(f)
		clamp := func(i int) int { return min(max(i, 0), in-1) }
		if rs.linear {
			i0[o], i1[o], w[o] = clamp(lo), clamp(lo+1), frac
			continue
		}
		pick := lo
		if frac != 0 {
			switch rs.nearest {
			case "round_prefer_floor":
				if frac > 0.5 {
					pick++
				}
			case "round_prefer_ceil":
				if frac >= 0.5 {
					pick++
				}
			case "ceil":
				pick++
			}
		}
		i0[o] = clamp(pick)
	}
	shape := append([]int(nil), x.shape...)
	shape[k] = n
	y := newFloat(shape)
	outer, inner := shapeSize(x.shape[:k]), shapeSize(x.shape[k+1:])
	for b := 0; b < outer; b++ {
		src := x.f[b*in*inner : (b+1)*in*inner]
		dst := y.f[b*n*inner : (b+1)*n*inner]
		for o := 0; o < n; o++ {
			d := dst[o*inner : (o+1)*inner]
			s0 := src[i0[o]*inner : (i0[o]+1)*inner]
			if !rs.linear {
				copy(d, s0)
				continue
			}
			s1 := src[i1[o]*inner : (i1[o]+1)*inner]
			wt := w[o]
			for j := range d {
				d[j] = float32(float64(s0[j])*(1-wt) + float64(s1[j])*wt)
			}
		}
	}
	return y
}
