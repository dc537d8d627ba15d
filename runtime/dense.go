package runtime

import (
	"fmt"
	"slices"
	"unsafe"

	"github.com/vaec/vaec/kernels"
)

// denseStep is a Gemm whose weight is an initializer, with its bias and
// fused activation: y = act(x·W + b), every dense layer an exporter writes.
// Load packs W once (kernels.PackedB) so that a call does no packing, runs
// single rows through a streaming matrix-vector kernel split across cores,
// and applies bias and activation to each block of the product while it is
// in cache. Sibling layers reading the same input with the same activation
// (a VAE encoder's mu and log-variance heads) are merged into one product
// over their concatenated weights, whose columns are then copied out to
// each output. Column j's arithmetic does not depend on its position in W,
// so merging changes no result.
type denseStep struct {
	k, n   int
	pb     *kernels.PackedB
	bias   []float32 // nil, or n values
	act    kernels.Act
	alpha  float32
	outs   []int // output slots
	widths []int // columns of each output; they sum to n
	// orig are the steps this one replaces, run instead when the input
	// does not fit (they then report the error).
	orig []step
	// w is W as a k×n row-major matrix while Load prepares the step
	// (merging and folding rewrite it); nil afterwards.
	w []float32
	// tails are elementwise steps on the output folded into this step
	// (fuseTails); their steps are at the end of orig.
	tails []denseTail
	// joinNext: the next step of the plan is dense and reads this one's
	// only output, an intermediate value (joinDense).
	joinNext bool
}

// gemmDense returns the dense form of the Gemm step s, or nil when s is not
// a plain dense layer (alpha ≠ 1, transposed A, non-constant weight, or a
// bias that is not a constant row added with beta 1); those keep the
// general kernel.
func (m *Model) gemmDense(s *step) *denseStep {
	if s.gemm == nil {
		return nil
	}
	a := s.attrs
	if a.float("alpha", 1) != 1 || a.int("transA", 0) != 0 {
		return nil
	}
	transB := a.int("transB", 0)
	if transB != 0 && transB != 1 {
		return nil
	}
	if len(s.in) < 2 || s.in[1] < 0 {
		return nil
	}
	W := m.consts[s.in[1]]
	if W == nil || W.isInt || len(W.shape) != 2 {
		return nil
	}
	k, n := W.shape[0], W.shape[1]
	if transB == 1 {
		k, n = n, k
	}
	var bias []float32
	if len(s.in) > 2 && s.in[2] >= 0 {
		C := m.consts[s.in[2]]
		beta := a.float("beta", 1)
		switch {
		case beta == 0:
		case C == nil || C.isInt || beta != 1 || len(C.f) != n || len(C.shape) > 2 || len(C.shape) == 2 && C.shape[0] != 1:
			return nil
		default:
			bias = C.f
		}
	}
	w := W.f
	if transB == 1 {
		w = make([]float32, k*n)
		for j := 0; j < n; j++ {
			for p := 0; p < k; p++ {
				w[p*n+j] = W.f[j*k+p]
			}
		}
	}
	return &denseStep{k: k, n: n, w: w, bias: bias, act: s.gemm.act, alpha: s.gemm.alpha,
		outs: []int{s.out}, widths: []int{n}, orig: []step{*s}}
}

// pack packs d.w into d.pb and drops d.w.
func (d *denseStep) pack() bool {
	pb, err := kernels.NewPackedB(false, d.k, d.n, d.w, max(d.n, 1))
	if err != nil {
		return false // not reached: the shape check at load passed
	}
	d.pb, d.w = pb, nil
	return true
}

// mergeDense merges d2 into d1 (same input, same activation): one
// product over [W1 | W2]. It reports false when they do not qualify.
func mergeDense(d1, d2 *denseStep) (*denseStep, bool) {
	if d1.k != d2.k || d1.act != d2.act || d1.alpha != d2.alpha || (d1.bias == nil) != (d2.bias == nil) {
		return nil, false
	}
	k, n := d1.k, d1.n+d2.n
	w := make([]float32, k*n)
	for p := 0; p < k; p++ {
		copy(w[p*n:p*n+d1.n], d1.w[p*d1.n:(p+1)*d1.n])
		copy(w[p*n+d1.n:(p+1)*n], d2.w[p*d2.n:(p+1)*d2.n])
	}
	var bias []float32
	if d1.bias != nil {
		bias = append(append([]float32{}, d1.bias...), d2.bias...)
	}
	return &denseStep{k: k, n: n, w: w, bias: bias, act: d1.act, alpha: d1.alpha,
		outs: append(append([]int{}, d1.outs...), d2.outs...), widths: append(append([]int{}, d1.widths...), d2.widths...)}, true
}

// prepareDense gives every qualifying Gemm step its dense form and merges
// siblings. A slot that only dense steps read, and that is not a graph
// output, is marked for the per-call arena: its buffer is reused from call
// to call, since nothing can keep a reference to it.
func (m *Model) prepareDense() {
	if !useDense {
		m.arenaSlot = make([]bool, m.nslots)
		return
	}
	for i := range m.steps {
		m.steps[i].dense = m.gemmDense(&m.steps[i])
	}
	// Merge pairs of siblings: a later dense step reading the same input.
	drop := make([]bool, len(m.steps))
	for i := range m.steps {
		si := &m.steps[i]
		if si.dense == nil || drop[i] {
			continue
		}
		for j := i + 1; j < len(m.steps); j++ {
			sj := &m.steps[j]
			if drop[j] || sj.dense == nil || sj.in[0] != si.in[0] {
				continue
			}
			merged, ok := mergeDense(si.dense, sj.dense)
			if !ok {
				continue
			}
			merged.orig = append(append([]step{}, si.dense.orig...), sj.dense.orig...)
			si.dense = merged
			si.name, si.op = si.name+"+"+sj.name, si.op+"+"+sj.op
			drop[j] = true
			break // pairs only, as exporters write them (mu and log-variance)
		}
	}
	m.dropSteps(drop)
	m.foldAffine()
	m.fuseTails()
	for i := range m.steps {
		if d := m.steps[i].dense; d != nil {
			d.pack() // on failure (not reached) runDense leaves every call to orig
		}
	}

	// Arena slots: written by dense or chain steps, read only as their
	// first input (which neither keeps nor returns).
	denseOnly := make([]bool, m.nslots)
	for _, s := range m.steps {
		if s.dense != nil || s.chain != nil {
			for _, o := range stepOuts(s) {
				denseOnly[o] = true
			}
		}
	}
	for _, s := range m.steps {
		for j, k := range s.in {
			if k >= 0 && (s.dense == nil && s.chain == nil || j > 0) {
				denseOnly[k] = false
			}
		}
	}
	for _, k := range m.outputSlots {
		denseOnly[k] = false
	}
	m.arenaSlot = denseOnly
	m.joinDense()
}

// runDense runs d on the input A into st's slots. It reports false when A
// is not a float [m, k] matrix with data, for the general kernel to
// handle (and to report).
func (d *denseStep) runDense(m *Model, st *execState, A *value) bool {
	if !d.fits(A) {
		return false
	}
	rows := A.shape[0]
	c := d.begin(m, st, A.f, rows)
	c.all(rows)
	return true
}

// fits reports whether A is an input runDense can take: a float [m, k]
// matrix with data, whose product has a representable size.
func (d *denseStep) fits(A *value) bool {
	if d.pb == nil || A == nil || A.isInt || A.shapeOnly || len(A.shape) != 2 || A.shape[1] != d.k || len(A.f) != A.shape[0]*d.k {
		return false
	}
	_, err := checkedSize([]int{A.shape[0], d.n})
	return err == nil
}

// denseCall is one call of a dense step: its input and the buffers it
// writes, set up by begin, so that its rows can then be computed in
// blocks (rows) or all at once (all).
type denseCall struct {
	d    *denseStep
	a    []float32   // the input, rows×k
	y    []float32   // the product, rows×n: the output, or scratch when merged
	outs [][]float32 // merged outputs: columns of y by d.widths
	then func(i0, i1, c0, c1 int)
}

// begin sets up st's output slots of d for rows rows of input a.
func (d *denseStep) begin(m *Model, st *execState, a []float32, rows int) denseCall {
	c := denseCall{d: d, a: a}
	switch {
	case len(d.outs) == 1:
		c.y = st.out(m, d.outs[0], rows, d.n).f
		if len(d.tails) > 0 {
			c.then = d.tailsThen(m, st, c.y, rows)
		}
	default:
		c.y = st.scratch(rows * d.n)
		c.outs = st.denseOuts[:0]
		for i, o := range d.outs {
			c.outs = append(c.outs, st.out(m, o, rows, d.widths[i]).f)
		}
		st.denseOuts = c.outs
	}
	return c
}

// all computes every row, split across cores by MulBiasActThen.
func (c *denseCall) all(rows int) {
	d := c.d
	d.pb.MulBiasActThen(rows, c.a, max(d.k, 1), c.y, max(d.n, 1), d.bias, d.act, d.alpha, c.then)
	c.split(0, rows)
}

// rows computes rows [i0, i1) on the calling goroutine.
func (c *denseCall) rows(i0, i1 int) {
	d := c.d
	d.pb.MulBiasActRows(i0, i1, c.a, max(d.k, 1), c.y, max(d.n, 1), d.bias, d.act, d.alpha, c.then)
	c.split(i0, i1)
}

// split copies rows [i0, i1) of a merged product out to its outputs.
func (c *denseCall) split(i0, i1 int) {
	n, col := c.d.n, 0
	for i, y := range c.outs {
		w := c.d.widths[i]
		for r := i0; r < i1; r++ {
			copy(y[r*w:(r+1)*w], c.y[r*n+col:r*n+col+w])
		}
		col += w
	}
}

// useDense is a variable so that tests can compare the dense form with the
// general kernels.
var useDense = true

// execState is one call's working memory, recycled through Model.states:
// the slot values and the arena buffers of intermediate slots, so that a
// steady stream of calls allocates little more than its outputs.
type execState struct {
	vals      []*value
	in        []*value
	arena     [][]float32 // by slot
	vbuf      []value     // by slot: the value headers of dense outputs
	shp       [][2]int    // by slot: their shapes
	shapes    [][]int     // by slot: the shapes of chain outputs
	tmp       []float32
	tailData  [][]float32 // tailsThen's outputs
	denseOuts [][]float32 // begin's merged outputs
	calls     []denseCall // runJoined's
	bind      [][]float32 // by slot: RunInto's buffers
	syms      []symDim
	track     *liveTrack // Load's peak measurement only
}

func (m *Model) getState() *execState {
	if st, ok := m.states.Get().(*execState); ok {
		return st
	}
	return &execState{
		vals:   make([]*value, m.nslots),
		arena:  make([][]float32, m.nslots),
		vbuf:   make([]value, m.nslots),
		shp:    make([][2]int, m.nslots),
		shapes: make([][]int, m.nslots),
	}
}

func (m *Model) putState(st *execState) {
	clear(st.vals) // drop references to the caller's tensors
	clear(st.bind)
	m.states.Put(st)
}

// bound returns the caller's buffer for slot (RunInto), or nil.
func (st *execState) bound(slot int) []float32 {
	if st.bind == nil {
		return nil
	}
	return st.bind[slot]
}

// bind records RunInto's buffers by output slot, after checking that none
// overlaps an input or another buffer: a kernel must never write where it
// reads.
func (m *Model) bind(st *execState, inputs map[string]Tensor, into map[string][]float32) error {
	if len(into) == 0 {
		return nil
	}
	if st.bind == nil {
		st.bind = make([][]float32, m.nslots)
	}
	type span struct {
		name   string
		lo, hi uintptr
	}
	var spans []span
	add := func(name string, f []float32) {
		if len(f) > 0 {
			lo := uintptr(unsafe.Pointer(&f[0]))
			spans = append(spans, span{name, lo, lo + uintptr(len(f))*4})
		}
	}
	for name, t := range inputs {
		add("input "+name, t.Data)
	}
	for name, buf := range into {
		i := slices.IndexFunc(m.outputs, func(o IOInfo) bool { return o.Name == name })
		if i < 0 {
			return fmt.Errorf("RunInto: model has no output %q (outputs: %v)", name, m.outputs)
		}
		if m.outputs[i].Type != Float32 {
			return fmt.Errorf("RunInto: output %q is %v, buffers are for float32 outputs", name, m.outputs[i].Type)
		}
		add("output "+name, buf)
		for _, sp := range spans[:len(spans)-1] {
			last := spans[len(spans)-1]
			if len(buf) > 0 && sp.lo < last.hi && last.lo < sp.hi {
				return fmt.Errorf("RunInto: the buffer for output %q overlaps %s", name, sp.name)
			}
		}
		st.bind[m.outputSlots[i]] = buf
	}
	return nil
}

// out returns the value for a dense output slot of rows×n: an arena buffer
// for intermediate slots, a fresh one (the caller's to keep) otherwise.
func (st *execState) out(m *Model, slot, rows, n int) *value {
	v := &st.vbuf[slot]
	st.shp[slot] = [2]int{rows, n}
	*v = value{shape: st.shp[slot][:]}
	if m.arenaSlot[slot] {
		if cap(st.arena[slot]) < rows*n {
			st.arena[slot] = make([]float32, rows*n)
		}
		v.f = st.arena[slot][:rows*n]
	} else if b := st.bound(slot); len(b) >= rows*n {
		v.f = b[:rows*n]
	} else {
		v.f = make([]float32, rows*n) // the caller's to keep
	}
	st.vals[slot] = v
	return v
}

// outShape is out for a value of shape [n, dims...].
func (st *execState) outShape(m *Model, slot, n int, dims []int) *value {
	v := &st.vbuf[slot]
	shp := append(append(st.shapes[slot][:0], n), dims...)
	st.shapes[slot] = shp
	size := shapeSize(shp)
	*v = value{shape: shp}
	if m.arenaSlot[slot] {
		if cap(st.arena[slot]) < size {
			st.arena[slot] = make([]float32, size)
		}
		v.f = st.arena[slot][:size]
	} else if b := st.bound(slot); len(b) >= size {
		v.f = b[:size]
	} else {
		v.f = make([]float32, size) // the caller's to keep
	}
	st.vals[slot] = v
	return v
}

func (st *execState) scratch(n int) []float32 {
	if cap(st.tmp) < n {
		st.tmp = make([]float32, n)
	}
	return st.tmp[:n]
}
