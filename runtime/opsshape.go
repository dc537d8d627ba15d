package runtime

import "fmt"

// Operators that move data without arithmetic: Transpose, Concat,
// Squeeze, Unsqueeze, Slice, Gather, Pad. They work on float32 and on
// int64 values (shape arithmetic: Shape → Gather → Unsqueeze → Concat →
// Reshape is how PyTorch exports x.view(x.size(0), -1)).

// like returns a new value of v's type and the given shape.
func like(v *value, shape []int) *value {
	if v.isInt {
		return newInt(shape)
	}
	return newFloat(shape)
}

// copyElem copies element si of src to element di of dst (same type).
func copyElem(dst, src *value, di, si int) {
	if dst.isInt {
		dst.i[di] = src.i[si]
	} else {
		dst.f[di] = src.f[si]
	}
}

// strides returns row-major strides of shape.
func strides(shape []int) []int {
	st := make([]int, len(shape))
	acc := 1
	for i := len(shape) - 1; i >= 0; i-- {
		st[i] = acc
		acc *= shape[i]
	}
	return st
}

// gatherIndex calls f(o, i) for every output element o in row-major order,
// with i = Σ idx[d]·srcStride[d] over the output shape: a strided view of
// the source.
func gatherIndex(shape, srcStride []int, base int, f func(o, i int)) {
	n := shapeSize(shape)
	if n == 0 {
		return
	}
	r := len(shape)
	idx := make([]int, r)
	i := base
	for o := 0; o < n; o++ {
		f(o, i)
		for d := r - 1; d >= 0; d-- {
			idx[d]++
			i += srcStride[d]
			if idx[d] < shape[d] {
				break
			}
			i -= srcStride[d] * shape[d]
			idx[d] = 0
		}
	}
}

func buildTranspose(a attrs, _ []*value) (kernel, error) {
	perm := a.ints("perm")
	return func(in []*value) (*value, error) {
		x := in[0]
		r := len(x.shape)
		p := make([]int, r)
		if perm == nil {
			for i := range p {
				p[i] = r - 1 - i
			}
		} else {
			if len(perm) != r {
				return nil, fmt.Errorf("perm %v has %d entries for rank %d", perm, len(perm), r)
			}
			seen := make([]bool, r)
			for i, v := range perm {
				if v < 0 || v >= int64(r) || seen[v] {
					return nil, fmt.Errorf("perm %v is not a permutation of 0..%d", perm, r-1)
				}
				seen[v] = true
				p[i] = int(v)
			}
		}
		shape := make([]int, r)
		for i := range p {
			shape[i] = x.shape[p[i]]
		}
		if x.shapeOnly {
			return &value{shape: shape, shapeOnly: true, isInt: x.isInt}, nil
		}
		xs := strides(x.shape)
		ss := make([]int, r)
		for i := range p {
			ss[i] = xs[p[i]]
		}
		y := like(x, shape)
		gatherIndex(shape, ss, 0, func(o, i int) { copyElem(y, x, o, i) })
		return y, nil
	}, nil
}

func buildConcat(a attrs, _ []*value) (kernel, error) {
	if !a.has("axis") {
		return nil, fmt.Errorf("attribute axis is required")
	}
	axis := a.int("axis", 0)
	return func(in []*value) (*value, error) {
		x0 := in[0]
		r := len(x0.shape)
		ax, err := normAxis(axis, r, "axis")
		if err != nil {
			return nil, err
		}
		shape := append([]int(nil), x0.shape...)
		shape[ax] = 0
		for j, v := range in {
			if v.isInt != x0.isInt {
				return nil, fmt.Errorf("input %d is %s, input 0 is %s", j, v.dtype(), x0.dtype())
			}
			if len(v.shape) != r {
				return nil, fmt.Errorf("input %d has shape %v, input 0 has %v", j, v.shape, x0.shape)
			}
			for d := range v.shape {
				if d != ax && v.shape[d] != x0.shape[d] {
					return nil, fmt.Errorf("input %d has shape %v, input 0 has %v (must agree off axis %d)", j, v.shape, x0.shape, ax)
				}
			}
			shape[ax] += v.shape[ax]
		}
		if _, err := checkedSize(shape); err != nil {
			return nil, err
		}
		if anyShapeOnly(in...) {
			return &value{shape: shape, shapeOnly: true, isInt: x0.isInt}, nil
		}
		y := like(x0, shape)
		outer, inner := shapeSize(shape[:ax]), shapeSize(shape[ax+1:])
		row := shape[ax] * inner
		off := 0
		for _, v := range in {
			w := v.shape[ax] * inner
			for o := 0; o < outer; o++ {
				if y.isInt {
					copy(y.i[o*row+off:o*row+off+w], v.i[o*w:(o+1)*w])
				} else {
					copy(y.f[o*row+off:o*row+off+w], v.f[o*w:(o+1)*w])
				}
			}
			off += w
		}
		return y, nil
	}, nil
}

// axesArg reads the axes of Squeeze/Unsqueeze: an attribute before opset
// 13, an int64 input from 13 (optional for Squeeze).
func axesArg(a attrs, in []*value) ([]int64, bool, error) {
	if a.opset < 13 {
		return a.ints("axes"), a.has("axes"), nil
	}
	if len(in) < 2 || in[1] == nil {
		return nil, false, nil
	}
	if err := needData(in[1]); err != nil {
		return nil, false, err
	}
	ax, err := intsOf(in[1], "axes input")
	return ax, true, err
}

func axesAttrCheck(a attrs) error {
	if a.opset >= 13 && a.has("axes") {
		return fmt.Errorf("attribute axes belongs to opsets before 13; from 13 it is an input")
	}
	return nil
}

// view returns x with another shape and the same data.
func view(x *value, shape []int) *value {
	return &value{shape: shape, f: x.f, i: x.i, isInt: x.isInt, shapeOnly: x.shapeOnly}
}

func buildSqueeze(a attrs, _ []*value) (kernel, error) {
	if err := axesAttrCheck(a); err != nil {
		return nil, err
	}
	return func(in []*value) (*value, error) {
		x := in[0]
		axes, given, err := axesArg(a, in)
		if err != nil {
			return nil, err
		}
		r := len(x.shape)
		drop := make([]bool, r)
		for _, ax := range axes {
			k, err := normAxis(ax, r, "axis")
			if err != nil {
				return nil, err
			}
			if x.shape[k] != 1 {
				return nil, fmt.Errorf("cannot squeeze axis %d of shape %v (size %d)", ax, x.shape, x.shape[k])
			}
			drop[k] = true
		}
		shape := []int{}
		for k, d := range x.shape {
			if !drop[k] && (given || d != 1) {
				shape = append(shape, d)
			}
		}
		return view(x, shape), nil
	}, nil
}

func buildUnsqueeze(a attrs, _ []*value) (kernel, error) {
	if err := axesAttrCheck(a); err != nil {
		return nil, err
	}
	return func(in []*value) (*value, error) {
		x := in[0]
		axes, given, err := axesArg(a, in)
		if err != nil {
			return nil, err
		}
		if !given {
			return nil, fmt.Errorf("axes are required")
		}
		r := len(x.shape) + len(axes)
		if r > maxRank {
			return nil, fmt.Errorf("result would have rank %d, more than %d", r, maxRank)
		}
		ins := make([]bool, r)
		for _, ax := range axes {
			k, err := normAxis(ax, r, "axis")
			if err != nil {
				return nil, err
			}
			if ins[k] {
				return nil, fmt.Errorf("axis %d given twice", ax)
			}
			ins[k] = true
		}
		shape := make([]int, 0, r)
		j := 0
		for k := 0; k < r; k++ {
			if ins[k] {
				shape = append(shape, 1)
			} else {
				shape = append(shape, x.shape[j])
				j++
			}
		}
		return view(x, shape), nil
	}, nil
}

// buildSlice: starts, ends and optional axes and steps are int64 inputs
// from opset 10, attributes (no steps) before.
func buildSlice(a attrs, _ []*value) (kernel, error) {
	if a.opset >= 10 && (a.has("starts") || a.has("ends") || a.has("axes")) {
		return nil, fmt.Errorf("attributes starts/ends/axes belong to opsets before 10; from 10 they are inputs")
	}
	return func(in []*value) (*value, error) {
		x := in[0]
		var starts, ends, axes, steps []int64
		if a.opset < 10 {
			starts, ends, axes = a.ints("starts"), a.ints("ends"), a.ints("axes")
		} else {
			for j, dst := range []*[]int64{&starts, &ends, &axes, &steps} {
				v := in[j+1]
				if v == nil {
					if j < 2 {
						return nil, fmt.Errorf("input %d is required", j+1)
					}
					continue
				}
				if err := needData(v); err != nil {
					return nil, err
				}
				var err error
				if *dst, err = intsOf(v, "slice argument"); err != nil {
					return nil, err
				}
			}
		}
		r := len(x.shape)
		if len(ends) != len(starts) || axes != nil && len(axes) != len(starts) || steps != nil && len(steps) != len(starts) {
			return nil, fmt.Errorf("starts %v, ends %v, axes %v, steps %v differ in length", starts, ends, axes, steps)
		}
		shape := append([]int(nil), x.shape...)
		begin := make([]int, r)
		step := make([]int, r)
		for k := range step {
			step[k] = 1
		}
		done := make([]bool, r)
		for i := range starts {
			ax := int64(i)
			if axes != nil {
				ax = axes[i]
			}
			k, err := normAxis(ax, r, "axis")
			if err != nil {
				return nil, err
			}
			if done[k] {
				return nil, fmt.Errorf("axis %d given twice", ax)
			}
			done[k] = true
			st := int64(1)
			if steps != nil {
				st = steps[i]
			}
			if st == 0 {
				return nil, fmt.Errorf("step 0 on axis %d", ax)
			}
			d := int64(x.shape[k])
			b, e := starts[i], ends[i]
			if b < 0 {
				b += d
			}
			if e < 0 {
				e += d
			}
			st = min(max(st, -1<<40), 1<<40) // beyond any dimension; keeps -st and sums in range
			var n int64
			if st > 0 {
				b, e = min(max(b, 0), d), min(max(e, 0), d)
				if e > b {
					n = (e-b-1)/st + 1
				}
			} else {
				b, e = min(max(b, 0), d-1), min(max(e, -1), d-1)
				if b > e {
					n = (b-e-1)/(-st) + 1
				}
			}
			shape[k], begin[k], step[k] = int(n), int(b), int(st)
		}
		if x.shapeOnly {
			return &value{shape: shape, shapeOnly: true, isInt: x.isInt}, nil
		}
		xs := strides(x.shape)
		base := 0
		ss := make([]int, r)
		for k := range xs {
			base += begin[k] * xs[k]
			ss[k] = step[k] * xs[k]
		}
		y := like(x, shape)
		gatherIndex(shape, ss, base, func(o, i int) { copyElem(y, x, o, i) })
		return y, nil
	}, nil
}

func buildGather(a attrs, _ []*value) (kernel, error) {
	axis := a.int("axis", 0)
	return func(in []*value) (*value, error) {
		x, idx := in[0], in[1]
		if !idx.isInt {
			return nil, fmt.Errorf("indices are %s, want int64", idx.dtype())
		}
		r := len(x.shape)
		ax, err := normAxis(axis, r, "axis")
		if err != nil {
			return nil, err
		}
		shape := append(append(append([]int{}, x.shape[:ax]...), idx.shape...), x.shape[ax+1:]...)
		if len(shape) > maxRank {
			return nil, fmt.Errorf("result would have rank %d, more than %d", len(shape), maxRank)
		}
		if _, err := checkedSize(shape); err != nil {
			return nil, err
		}
		if anyShapeOnly(x, idx) {
			return &value{shape: shape, shapeOnly: true, isInt: x.isInt}, nil
		}
		d := x.shape[ax]
		outer, inner := shapeSize(x.shape[:ax]), shapeSize(x.shape[ax+1:])
		y := like(x, shape)
		o := 0
		for b := 0; b < outer; b++ {
			for _, j := range idx.i {
				if j < 0 {
					j += int64(d)
				}
				if j < 0 || j >= int64(d) {
					return nil, fmt.Errorf("index %d out of range for axis of size %d", j, d)
				}
				src := (b*d + int(j)) * inner
				if y.isInt {
					copy(y.i[o:o+inner], x.i[src:src+inner])
				} else {
					copy(y.f[o:o+inner], x.f[src:src+inner])
				}
				o += inner
			}
		}
		return y, nil
	}, nil
}

// buildPad: modes constant, reflect and edge. Pads (begin values for every
// axis, then end values; negative pads crop) and the constant are
// attributes before opset 11, inputs from 11; opset 18's axes input is
// supported.
func buildPad(a attrs, _ []*value) (kernel, error) {
	mode := a.str("mode", "constant")
	switch mode {
	case "constant", "reflect", "edge":
	default:
		return nil, fmt.Errorf("mode %q is not supported (constant, reflect, edge)", mode)
	}
	if a.opset >= 11 && (a.has("pads") || a.has("value")) {
		return nil, fmt.Errorf("attributes pads/value belong to opsets before 11; from 11 they are inputs")
	}
	return func(in []*value) (*value, error) {
		x := in[0]
		r := len(x.shape)
		pads, cval := a.ints("pads"), float64(a.float("value", 0))
		var axes []int64
		if a.opset >= 11 {
			if in[1] == nil {
				return nil, fmt.Errorf("input pads is required")
			}
			if err := needData(in[1]); err != nil {
				return nil, err
			}
			var err error
			if pads, err = intsOfN(in[1], "pads input", 2*maxRank); err != nil {
				return nil, err
			}
			if v := in[2]; v != nil {
				if v.isInt != x.isInt || shapeSize(v.shape) != 1 {
					return nil, fmt.Errorf("constant_value must be a scalar of the input's type")
				}
				if !v.shapeOnly {
					if v.isInt {
						cval = float64(v.i[0])
					} else {
						cval = float64(v.f[0])
					}
				}
			}
			if len(in) > 3 && in[3] != nil {
				if err := needData(in[3]); err != nil {
					return nil, err
				}
				if axes, err = intsOf(in[3], "axes input"); err != nil {
					return nil, err
				}
			}
		}
		if axes == nil {
			for k := 0; k < r; k++ {
				axes = append(axes, int64(k))
			}
		}
		if len(pads) != 2*len(axes) {
			return nil, fmt.Errorf("pads %v has %d values, want %d", pads, len(pads), 2*len(axes))
		}
		pb, pe := make([]int, r), make([]int, r)
		for i, ax := range axes {
			k, err := normAxis(ax, r, "axis")
			if err != nil {
				return nil, err
			}
			p0, p1 := pads[i], pads[i+len(axes)]
			if p0 < -maxRunElems || p0 > maxRunElems || p1 < -maxRunElems || p1 > maxRunElems {
				return nil, fmt.Errorf("pads %v out of range", pads)
			}
			pb[k], pe[k] = int(p0), int(p1)
		}
		shape := make([]int, r)
		for k := range shape {
			shape[k] = x.shape[k] + pb[k] + pe[k]
			if shape[k] < 0 {
				return nil, fmt.Errorf("pads %v crop more than axis %d's %d values", pads, k, x.shape[k])
			}
			if mode != "constant" && shape[k] > 0 && x.shape[k] == 0 {
				return nil, fmt.Errorf("mode %s cannot pad an empty axis", mode)
			}
		}
		if _, err := checkedSize(shape); err != nil {
			return nil, err
		}
		if x.shapeOnly {
			return &value{shape: shape, shapeOnly: true, isInt: x.isInt}, nil
		}
		// For each axis, the source index of each output index (-1: the
		// constant).
		src := make([][]int, r)
		for k := range src {
			d := x.shape[k]
			src[k] = make([]int, shape[k])
			for o := range src[k] {
				i := o - pb[k]
				switch {
				case i >= 0 && i < d:
				case mode == "constant":
					i = -1
				case mode == "edge":
					i = min(max(i, 0), d-1)
				default: // reflect: mirror without repeating the edge
					if d == 1 {
						i = 0
						break
					}
					period := 2 * (d - 1)
					i = ((i % period) + period) % period
					if i >= d {
						i = period - i
					}
				}
				src[k][o] = i
			}
		}
		y := like(x, shape)
		xs := strides(x.shape)
		n := shapeSize(shape)
		idx := make([]int, r)
		for o := 0; o < n; o++ {
			si := 0
			for k := 0; k < r; k++ {
				j := src[k][idx[k]]
				if j < 0 {
					si = -1
					break
				}
				si += j * xs[k]
			}
			switch {
			case si >= 0:
				copyElem(y, x, o, si)
			case y.isInt:
				y.i[o] = int64(cval)
			default:
				y.f[o] = float32(cval)
			}
			for k := r - 1; k >= 0; k-- {
				if idx[k]++; idx[k] < shape[k] {
					break
				}
				idx[k] = 0
			}
		}
		return y, nil
	}, nil
}

// intsOfN reads a 1-D int64 tensor of at most limit entries.
func intsOfN(v *value, what string, limit int) ([]int64, error) {
	if !v.isInt {
		return nil, fmt.Errorf("%s is %s, want int64", what, v.dtype())
	}
	if len(v.shape) != 1 || len(v.i) > limit {
		return nil, fmt.Errorf("%s has shape %v, want 1-D of at most %d", what, v.shape, limit)
	}
	return v.i, nil
}
