package runtime

import "fmt"

// Masks: the bool element type and the operators that make or read it.
// IsNaN and Where are what an exported model needs to impute missing
// values inside the graph (Where(IsNaN(x), fill, x)); the comparisons and
// the logical operators come with them because they share the broadcast
// loop. Bool values are typed like the others: a kernel that does not
// take one never sees one (step.checkBoolIn), and Load's shape check
// meets every type mismatch before the first Run. Bool initializers and
// Constant tensors are refused by the pre-pass (only graph inputs and
// outputs, and values computed inside the graph, can be bool).

// outRule says what element type an operator's output has, for Load's
// shape check when it cannot compute the value itself (an unknown shape).
type outRule uint8

const (
	outFirst  outRule = iota // the type of input 0 (most operators)
	outInt64                 // int64 (Shape)
	outBool                  // bool (IsNaN, comparisons, logic)
	outSecond                // the type of input 1 (Where: X)
)

// buildIsNaN: Y = (X is NaN), elementwise. IsNaN-9, -13 and -20 differ
// only in the float types they admit beyond float32, so one kernel serves
// all three. Infinities are not NaN (IsInf's business).
func buildIsNaN(attrs, []*value) (kernel, error) {
	return func(in []*value) (*value, error) {
		x := in[0]
		if x.isInt {
			return nil, fmt.Errorf("input is int64, IsNaN takes float32")
		}
		if x.shapeOnly {
			return &value{shape: x.shape, shapeOnly: true, isBool: true}, nil
		}
		y := newBool(x.shape)
		for i, v := range x.f {
			y.b[i] = v != v
		}
		return y, nil
	}, nil
}

// buildWhere: output = condition ? X : Y, the three inputs broadcast
// together (multidirectional). Where-9 and -16 differ only in admitting
// bfloat16. X and Y are float32, int64 or bool, of one type.
func buildWhere(attrs, []*value) (kernel, error) {
	return func(in []*value) (*value, error) {
		c, x, y := in[0], in[1], in[2]
		if !c.isBool {
			return nil, fmt.Errorf("condition is %s, want bool", c.dtype())
		}
		if x.dt() != y.dt() {
			return nil, fmt.Errorf("X is %s and Y is %s; Where takes one type for both", x.dtype(), y.dtype())
		}
		shape, err := broadcastShapes(c.shape, x.shape)
		if err == nil {
			shape, err = broadcastShapes(shape, y.shape)
		}
		if err != nil {
			return nil, fmt.Errorf("condition %v, X %v and Y %v do not broadcast", c.shape, x.shape, y.shape)
		}
		if _, err := checkedSize(shape); err != nil {
			return nil, err
		}
		if anyShapeOnly(c, x, y) {
			return &value{shape: shape, shapeOnly: true, isInt: x.isInt, isBool: x.isBool}, nil
		}
		st := [3][]int{bstrides(c.shape, shape), bstrides(x.shape, shape), bstrides(y.shape, shape)}
		var out *value
		switch x.dt() {
		case Int64:
			out = newInt(shape)
			forEachRun3(shape, st, func(o, n int, off, inc [3]int) { selectRun(out.i[o:o+n], c.b, x.i, y.i, off, inc) })
		case Bool:
			out = newBool(shape)
			forEachRun3(shape, st, func(o, n int, off, inc [3]int) { selectRun(out.b[o:o+n], c.b, x.b, y.b, off, inc) })
		default:
			out = newFloat(shape)
			forEachRun3(shape, st, func(o, n int, off, inc [3]int) { selectRun(out.f[o:o+n], c.b, x.f, y.f, off, inc) })
		}
		return out, nil
	}, nil
}

// selectRun writes one run of Where's output: dst[k] = c ? x : y, each
// input starting at off and advancing by inc (0 along a broadcast axis).
func selectRun[T any](dst []T, c []bool, x, y []T, off, inc [3]int) {
	ic, ix, iy := off[0], off[1], off[2]
	for k := range dst {
		if c[ic] {
			dst[k] = x[ix]
		} else {
			dst[k] = y[iy]
		}
		ic, ix, iy = ic+inc[0], ix+inc[1], iy+inc[2]
	}
}

// forEachRun3 is forEachBroadcast for three inputs: f(o, n, off, inc) for
// each run of n consecutive output elements along the innermost axis,
// input k's elements starting at off[k] and advancing by inc[k] (0 or 1).
func forEachRun3(out []int, st [3][]int, f func(o, n int, off, inc [3]int)) {
	r := len(out)
	if r == 0 {
		f(0, 1, [3]int{}, [3]int{})
		return
	}
	n, total := out[r-1], shapeSize(out)
	if n == 0 || total == 0 {
		return
	}
	inc := [3]int{st[0][r-1], st[1][r-1], st[2][r-1]}
	idx := make([]int, r)
	var off [3]int
	for o := 0; o < total; o += n {
		f(o, n, off, inc)
		for d := r - 2; d >= 0; d-- { // the odometer over the outer axes
			idx[d]++
			for k := range off {
				off[k] += st[k][d]
			}
			if idx[d] < out[d] {
				break
			}
			for k := range off {
				off[k] -= st[k][d] * out[d]
			}
			idx[d] = 0
		}
	}
}

// compareOp is one of the comparison operators.
type compareOp uint8

const (
	cmpEqual   compareOp = iota // A == B
	cmpLess                     // A < B
	cmpGreater                  // A > B
)

// buildCompare: C = A op B, broadcast, A and B of one type, C bool.
// Float32 and int64 compare as numbers (NaN equals nothing and orders
// with nothing, as in IEEE 754); Equal also compares bools. The types each
// version admits: Equal-7 integers and bool, floats from 11; Less-7 and
// Greater-7 floats, integers from 9.
func buildCompare(op compareOp) func(attrs, []*value) (kernel, error) {
	return func(a attrs, _ []*value) (kernel, error) {
		return func(in []*value) (*value, error) {
			x, y := in[0], in[1]
			if x.dt() != y.dt() {
				return nil, fmt.Errorf("inputs are %s and %s, want one type", x.dtype(), y.dtype())
			}
			switch {
			case op == cmpEqual && x.dt() == Float32 && a.opset < 11:
				return nil, fmt.Errorf("float32 inputs need opset 11 (Equal-7 compares integers and bools), model has %d", a.opset)
			case op != cmpEqual && x.dt() == Int64 && a.opset < 9:
				return nil, fmt.Errorf("int64 inputs need opset 9 (the version 7 comparison takes floats), model has %d", a.opset)
			}
			return broadcastBool(x, y, func(dst []bool, ia, ib, sa, sb int) {
				switch {
				case x.isBool: // Equal only: boolIn lets no other comparison see one
					pairRun(dst, x.b, y.b, ia, ib, sa, sb, func(p, q bool) bool { return p == q })
				case x.isInt:
					pairRun(dst, x.i, y.i, ia, ib, sa, sb, intCompare[op])
				default:
					pairRun(dst, x.f, y.f, ia, ib, sa, sb, floatCompare[op])
				}
			})
		}, nil
	}
}

var (
	floatCompare = [...]func(p, q float32) bool{
		cmpEqual:   func(p, q float32) bool { return p == q },
		cmpLess:    func(p, q float32) bool { return p < q },
		cmpGreater: func(p, q float32) bool { return p > q },
	}
	intCompare = [...]func(p, q int64) bool{
		cmpEqual:   func(p, q int64) bool { return p == q },
		cmpLess:    func(p, q int64) bool { return p < q },
		cmpGreater: func(p, q int64) bool { return p > q },
	}
)

// buildLogic: C = A op B on bools, broadcast (And-7, Or-7; version 1's
// broadcast and axis attributes are not implemented).
func buildLogic(op func(p, q bool) bool) func(attrs, []*value) (kernel, error) {
	return func(attrs, []*value) (kernel, error) {
		return func(in []*value) (*value, error) {
			x, y := in[0], in[1]
			if !x.isBool || !y.isBool {
				return nil, fmt.Errorf("inputs are %s and %s, want bool", x.dtype(), y.dtype())
			}
			return broadcastBool(x, y, func(dst []bool, ia, ib, sa, sb int) {
				pairRun(dst, x.b, y.b, ia, ib, sa, sb, op)
			})
		}, nil
	}
}

// buildNot: Y = !X on bools.
func buildNot(attrs, []*value) (kernel, error) {
	return func(in []*value) (*value, error) {
		x := in[0]
		if !x.isBool {
			return nil, fmt.Errorf("input is %s, want bool", x.dtype())
		}
		if x.shapeOnly {
			return &value{shape: x.shape, shapeOnly: true, isBool: true}, nil
		}
		y := newBool(x.shape)
		for i, v := range x.b {
			y.b[i] = !v
		}
		return y, nil
	}, nil
}

// broadcastBool makes the bool result of a broadcast binary operator;
// run fills one innermost run (dst) from inputs starting at ia, ib and
// advancing by sa, sb.
func broadcastBool(x, y *value, run func(dst []bool, ia, ib, sa, sb int)) (*value, error) {
	shape, err := broadcastShapes(x.shape, y.shape)
	if err != nil {
		return nil, err
	}
	if _, err := checkedSize(shape); err != nil {
		return nil, err
	}
	if anyShapeOnly(x, y) {
		return &value{shape: shape, shapeOnly: true, isBool: true}, nil
	}
	out := newBool(shape)
	forEachBroadcast(shape, bstrides(x.shape, shape), bstrides(y.shape, shape), func(o, ia, ib, n, sa, sb int) {
		run(out.b[o:o+n], ia, ib, sa, sb)
	})
	return out, nil
}

// pairRun writes dst[k] = op(a[ia+k·sa], b[ib+k·sb]).
func pairRun[T any](dst []bool, a, b []T, ia, ib, sa, sb int, op func(p, q T) bool) {
	for k := range dst {
		dst[k] = op(a[ia], b[ib])
		ia, ib = ia+sa, ib+sb
	}
}
