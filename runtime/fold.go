package runtime

import (
	"fmt"
	"math"
	"slices"
)

// foldAffine folds a constant per-feature scaling or shift of a dense
// layer's input into the layer: (x·s + t)·W + b = x·(diag(s)·W) + (t·W + b).
// vaec's exports (and other tools' with a normalisation layer in front)
// scale raw input this way before the first layer; folded, the runtime
// reads the caller's x directly instead of writing and re-reading a scaled
// copy of it, the whole cost of that node. The results differ from the
// unfolded graph's by rounding only (the products are formed in another
// order), far inside the 1e-5 the runtime is held to against ONNX
// Runtime.
//
// A Mul, Add or Sub(x, c) qualifies when its output is read by the dense
// step alone, is not a graph output, and c is a float32 constant of shape
// [], [1], [k] or [1, k] for the layer's k inputs. The folded steps move
// into the dense step's orig, so a call whose input does not fit the
// dense form (x of another shape that broadcasts) still runs them as
// the file says.
func (m *Model) foldAffine() {
	for {
		consumers := make([]int, m.nslots)
		for _, s := range m.steps {
			ins := stepIns(s) // a dense step's orig read the same slots again
			for j, k := range ins {
				if !slices.Contains(ins[:j], k) {
					consumers[k]++
				}
			}
		}
		for _, k := range m.outputSlots {
			consumers[k]++
		}
		producer := map[int]int{}
		for i, s := range m.steps {
			producer[s.out] = i
		}
		folded := -1
		for i := range m.steps {
			s := &m.steps[i]
			d := s.dense
			if d == nil || d.w == nil {
				continue
			}
			a := s.in[0]
			p, ok := producer[a]
			if !ok || consumers[a] != 1 {
				continue
			}
			src, ok := m.foldInto(d, m.steps[p])
			if !ok {
				continue
			}
			d.orig = append([]step{m.steps[p]}, d.orig...)
			s.in = append([]int{src}, s.in[1:]...) // orig's steps keep theirs
			folded = p
			break
		}
		if folded < 0 {
			return
		}
		m.steps = append(m.steps[:folded], m.steps[folded+1:]...)
	}
}

// foldInto folds the step p, which computes d's input, into d, and returns
// the slot p reads instead. It reports false, changing nothing, when p
// does not qualify.
func (m *Model) foldInto(d *denseStep, p step) (int, bool) {
	if len(p.in) != 2 || p.in[0] < 0 || p.in[1] < 0 {
		return 0, false
	}
	x, c := p.in[0], m.consts[p.in[1]]
	if p.op != "Sub" && c == nil {
		x, c = p.in[1], m.consts[p.in[0]] // Mul(c, x), Add(c, x)
	}
	if c == nil || c.isInt || c.isBool || m.consts[x] != nil {
		return 0, false
	}
	switch {
	case len(c.shape) == 0, len(c.shape) == 1 && (c.shape[0] == 1 || c.shape[0] == d.k),
		len(c.shape) == 2 && c.shape[0] == 1 && c.shape[1] == d.k:
	default:
		return 0, false
	}
	if len(c.f) != 1 && len(c.f) != d.k {
		return 0, false
	}
	at := func(q int) float64 {
		if len(c.f) == 1 {
			return float64(c.f[0])
		}
		return float64(c.f[q])
	}
	for q := range d.k {
		if v := at(q); math.IsNaN(v) || math.IsInf(v, 0) {
			return 0, false // folding would turn one bad feature into NaN everywhere
		}
	}
	k, n := d.k, d.n
	switch p.op {
	case "Mul":
		w := make([]float32, len(d.w))
		for q := range k {
			s := float32(at(q))
			for j := range n {
				w[q*n+j] = d.w[q*n+j] * s
			}
		}
		d.w = w
	case "Add", "Sub":
		sign := 1.0
		if p.op == "Sub" {
			sign = -1
		}
		bias := make([]float32, n)
		for j := range n {
			var sum float64
			if d.bias != nil {
				sum = float64(d.bias[j])
			}
			for q := range k {
				sum += sign * at(q) * float64(d.w[q*n+j])
			}
			bias[j] = float32(sum)
		}
		d.bias = bias
	default:
		return 0, false
	}
	return x, true
}

// foldConstantNodes evaluates the Constant nodes once, at load, and makes
// their values constants of the plan like initializers: exporters write
// small constants (an input's scale) as nodes, and a later pass (fuse,
// foldAffine) can only use a value it knows at load.
func (m *Model) foldConstantNodes() error {
	kept := m.steps[:0]
	for _, s := range m.steps {
		if s.op != "Constant" || len(s.in) != 0 {
			kept = append(kept, s)
			continue
		}
		v, err := s.run(nil)
		if err != nil {
			return fmt.Errorf("%s: %w", s.where(), err)
		}
		m.consts[s.out] = v
		m.constSlots = append(m.constSlots, s.out)
		m.constVals = append(m.constVals, v)
	}
	m.steps = kept
	return nil
}

// denseTail is an elementwise Add, Sub, Mul or Div of a dense step's
// output (or of an earlier tail's) with a constant scalar or row, folded
// into the dense step: it runs on each block of the product as soon as
// the block is final, on the core that computed it, while the block is in
// cache. vaec's decoders derive mean_raw, the output in data units, from
// the probabilities this way; unfused it is another pass over two
// batch-sized tensors. The arithmetic is the elementwise kernel's, element
// for element.
type denseTail struct {
	src, dst int // slots: the dense output or an earlier tail's dst; the result
	op       binOp
	c        []float32 // one value, or one per column
	cFirst   bool      // c op x rather than x op c
}

// fuseTails folds into each single-output dense step the elementwise
// steps that qualify (see denseTail): one operand is the dense output or
// an earlier tail's result, the other a float32 constant of shape [], [1],
// [n] or [1, n].
func (m *Model) fuseTails() {
	ops := map[string]binOp{"Add": binAdd, "Sub": binSub, "Mul": binMul, "Div": binDiv}
	drop := make([]bool, len(m.steps))
	for i := range m.steps {
		d := m.steps[i].dense
		if d == nil || len(d.outs) != 1 {
			continue
		}
		have := []int{d.outs[0]} // slots whose values the step computes
		for j := i + 1; j < len(m.steps); j++ {
			t := m.steps[j]
			op, ok := ops[t.op]
			if !ok || drop[j] || len(t.in) != 2 || t.in[0] < 0 || t.in[1] < 0 {
				continue
			}
			x, c, cFirst := t.in[0], m.consts[t.in[1]], false
			if !slices.Contains(have, x) {
				x, c, cFirst = t.in[1], m.consts[t.in[0]], true
			}
			if !slices.Contains(have, x) || c == nil || c.isInt || c.isBool || !rowConst(c, d.n) {
				continue
			}
			d.tails = append(d.tails, denseTail{src: x, dst: t.out, op: op, c: c.f, cFirst: cFirst})
			d.orig = append(d.orig, t)
			have = append(have, t.out)
			drop[j] = true
		}
	}
	m.dropSteps(drop)
}

// rowConst reports whether c broadcasts as a single value or as one row
// of n values.
func rowConst(c *value, n int) bool {
	switch {
	case len(c.f) == 1 && shapeSize(c.shape) == 1 && len(c.shape) <= 2:
		return true
	case len(c.f) == n && (len(c.shape) == 1 || len(c.shape) == 2 && c.shape[0] == 1):
		return true
	}
	return false
}

// tailsThen sets up the outputs of d's tails for rows rows and returns
// the epilogue that computes them, block by block, from y (d's output).
func (d *denseStep) tailsThen(m *Model, st *execState, y []float32, rows int) func(i0, i1, c0, c1 int) {
	n := d.n
	data := st.tailData[:0]
	for _, t := range d.tails {
		data = append(data, st.out(m, t.dst, rows, n).f)
	}
	st.tailData = data
	src := func(slot int) []float32 {
		if slot == d.outs[0] {
			return y
		}
		for k, t := range d.tails {
			if t.dst == slot {
				return data[k]
			}
		}
		return nil // not reached: fuseTails only takes computed sources
	}
	return func(i0, i1, c0, c1 int) {
		for k, t := range d.tails {
			x, out := src(t.src), data[k]
			for r := i0; r < i1; r++ {
				xr, or := x[r*n+c0:r*n+c1], out[r*n+c0:r*n+c1]
				switch {
				case len(t.c) == 1 && t.cFirst:
					t.op.sv(or, t.c[0], xr)
				case len(t.c) == 1:
					t.op.vs(or, xr, t.c[0])
				case t.cFirst:
					t.op.vv(or, t.c[c0:c1], xr)
				default:
					t.op.vv(or, xr, t.c[c0:c1])
				}
			}
		}
	}
}
