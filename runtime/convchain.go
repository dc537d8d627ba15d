package runtime

import (
	"slices"
	"strings"

	"github.com/vaec/vaec/kernels"
)

// convChain is a run of 2-D Conv steps (each with its fused activation),
// each reading only the previous one's output, whose weights and biases
// are initializers: one step through kernels.ConvChain, which takes a
// chunk of images through every convolution while it is in cache, each
// writing straight into the padded channels-last images the next one
// reads (no NCHW intermediate, no transposes between them). The weights
// are prepared at load, for the spatial size the shape check found, so a
// call neither prepares nor checks them.
//
// When the last convolution's output is read only by a Flatten (axis 1)
// whose output only Gemm steps read, as input A with a constant B, the
// Flatten is folded too: the chain writes the flattened output
// channels-last, [N, H·W·K] in (pixel, channel) order, and those Gemms
// get B with its rows permuted to match (a new constant, so that B's
// other readers are unchanged). A dense layer's sum then runs over its
// inputs in another order, a rounding difference only.
//
// A call whose input has another spatial size (or no data) runs the
// original steps instead, and permutes a folded Flatten's result alike.
type convChain struct {
	stages  []kernels.ConvStage
	inShape []int  // [C, H, W] the stages were prepared for
	outDims []int  // the output shape without N
	nhwc    bool   // the Flatten is folded: channels-last output
	k, np   int    // the last stage's channels and pixels (nhwc's permutation)
	orig    []step // the steps replaced, in order
}

// chainConv returns the activation of the Conv step s (fused into it or
// Linear) and whether s is a Conv at all.
func chainConvAct(s step) (gemmAct, bool) {
	switch {
	case s.op == "Conv":
		return gemmAct{act: kernels.Linear}, true
	case s.conv != nil:
		return *s.conv, true
	}
	return gemmAct{}, false
}

// fuseConvs replaces runs of Conv steps (and a Flatten feeding dense
// layers after them) by convChain steps. It runs after fuse and before
// prepareDense, which then packs the permuted weights.
func (m *Model) fuseConvs() {
	if !useConvChain {
		return
	}
	shapes := m.dryShapes()
	if shapes == nil {
		return
	}
	consumers := make([][]int, m.nslots) // by slot: the steps reading it
	for i, s := range m.steps {
		for _, k := range s.in {
			if k >= 0 && !slices.Contains(consumers[k], i) {
				consumers[k] = append(consumers[k], i)
			}
		}
	}
	isOutput := make([]bool, m.nslots)
	for _, k := range m.outputSlots {
		isOutput[k] = true
	}
	// only returns the step that alone reads slot k, or -1.
	only := func(k int) int {
		if isOutput[k] || len(consumers[k]) != 1 {
			return -1
		}
		return consumers[k][0]
	}
	drop := make([]bool, len(m.steps))
	for i := range m.steps {
		if drop[i] {
			continue
		}
		st, ok := m.chainStage(m.steps[i], shapes)
		if !ok {
			continue
		}
		c := &convChain{stages: []kernels.ConvStage{st}, inShape: slices.Clone(shapes[m.steps[i].in[0]][1:]), orig: []step{m.steps[i]}}
		members := []int{i}
		last := m.steps[i]
		for {
			j := only(last.out)
			if j < 0 || drop[j] || m.steps[j].in[0] != last.out {
				break
			}
			st, ok := m.chainStage(m.steps[j], shapes)
			if !ok {
				break
			}
			c.stages = append(c.stages, st)
			c.orig = append(c.orig, m.steps[j])
			members = append(members, j)
			last = m.steps[j]
		}
		out := last.out
		g := c.stages[len(c.stages)-1].P.Geom()
		c.k, c.np = g.K, g.OutH()*g.OutW()
		c.outDims = []int{g.K, g.OutH(), g.OutW()}
		if f := only(out); f >= 0 && !drop[f] && m.foldFlatten(m.steps[f], c.k*c.np, consumers, isOutput) {
			c.orig = append(c.orig, m.steps[f])
			members = append(members, f)
			c.nhwc = true
			c.outDims = []int{c.k * c.np}
			out = m.steps[f].out
			m.permuteFlattenReaders(out, c.k, c.np)
		}
		names, opNames := make([]string, len(c.orig)), make([]string, len(c.orig))
		for k, s := range c.orig {
			names[k], opNames[k] = s.name, s.op
		}
		first := m.steps[i]
		m.steps[i] = step{name: strings.Join(names, "+"), op: strings.Join(opNames, "+"), in: []int{first.in[0]}, out: out,
			run: first.run, chain: c}
		for _, j := range members[1:] {
			drop[j] = true
		}
	}
	m.dropSteps(drop)
}

// useConvChain is a variable so that tests can compare the chains with
// the steps they replace.
var useConvChain = true

// chainStage prepares the Conv step s as a stage, when it qualifies: a
// constant float weight and bias, and a geometry of kernels.ConvGeom at
// the input shape the shape check found.
func (m *Model) chainStage(s step, shapes [][]int) (kernels.ConvStage, bool) {
	act, ok := chainConvAct(s)
	if !ok || len(s.in) < 2 || s.in[0] < 0 || s.in[1] < 0 {
		return kernels.ConvStage{}, false
	}
	x, w := shapes[s.in[0]], m.consts[s.in[1]]
	if len(x) != 4 || w == nil || w.isInt || w.isBool || len(w.shape) != 4 {
		return kernels.ConvStage{}, false
	}
	var bias []float32
	if len(s.in) > 2 && s.in[2] >= 0 {
		b := m.consts[s.in[2]]
		if b == nil || b.isInt || b.isBool || len(b.shape) != 1 || b.shape[0] != w.shape[0] {
			return kernels.ConvStage{}, false
		}
		bias = b.f
	}
	p, err := parseConvParams(s.attrs, 2, w.shape[2:], false)
	if err != nil || x[1] != w.shape[1] {
		return kernels.ConvStage{}, false
	}
	ws, err := p.forward(x[2:], false)
	if err != nil {
		return kernels.ConvStage{}, false
	}
	g, ok := kernelsGeom(ws, x[1], w.shape[0], p.group)
	if !ok {
		return kernels.ConvStage{}, false
	}
	pc, err := kernels.NewPackedConv(g, w.f)
	if err != nil {
		return kernels.ConvStage{}, false
	}
	return kernels.ConvStage{P: pc, Bias: bias, Act: act.act, Alpha: act.alpha}, true
}

// foldFlatten reports whether the Flatten step f, on a chain's output of
// n values per image, can be folded (see convChain), and if so gives its
// Gemm readers B with rows permuted from (channel, pixel) to (pixel,
// channel) order.
func (m *Model) foldFlatten(f step, n int, consumers [][]int, isOutput []bool) bool {
	if f.op != "Flatten" || f.attrs.int("axis", 1) != 1 || isOutput[f.out] || len(consumers[f.out]) == 0 {
		return false
	}
	for _, j := range consumers[f.out] {
		s := m.steps[j]
		if s.op != "Gemm" && !strings.HasPrefix(s.op, "Gemm+") || s.gemm == nil {
			return false
		}
		if s.in[0] != f.out || slices.Contains(s.in[1:], f.out) || s.attrs.int("transA", 0) != 0 {
			return false
		}
		b := m.consts[s.in[1]]
		if b == nil || b.isInt || b.isBool || len(b.shape) != 2 {
			return false
		}
		k := b.shape[0]
		if s.attrs.int("transB", 0) != 0 {
			k = b.shape[1]
		}
		if k != n {
			return false
		}
	}
	return true
}

// permuteFlattenReaders gives every Gemm reading slot the constant B with
// rows (columns when transposed) permuted from index ch·np + p to p·K +
// ch.
func (m *Model) permuteFlattenReaders(slot, K, np int) {
	for i := range m.steps {
		s := &m.steps[i]
		if s.chain != nil || len(s.in) < 2 || s.in[0] != slot {
			continue
		}
		b := m.consts[s.in[1]]
		pb := &value{shape: slices.Clone(b.shape), f: make([]float32, len(b.f))}
		if s.attrs.int("transB", 0) == 0 {
			n := b.shape[1]
			for ch := 0; ch < K; ch++ {
				for p := 0; p < np; p++ {
					copy(pb.f[(p*K+ch)*n:(p*K+ch+1)*n], b.f[(ch*np+p)*n:(ch*np+p+1)*n])
				}
			}
		} else {
			rows, kin := b.shape[0], b.shape[1]
			for r := 0; r < rows; r++ {
				for ch := 0; ch < K; ch++ {
					for p := 0; p < np; p++ {
						pb.f[r*kin+p*K+ch] = b.f[r*kin+ch*np+p]
					}
				}
			}
		}
		k := m.nslots
		m.nslots++
		m.slotNames = append(m.slotNames, m.slotNames[s.in[1]]+"/channels-last")
		m.consts[k] = pb
		m.constSlots = append(m.constSlots, k)
		m.constVals = append(m.constVals, pb)
		s.in = append([]int{s.in[0], k}, s.in[2:]...)
	}
}

// dryShapes returns every slot's shape from a shape-only pass at batch
// size 1 (nil for an unknown shape), or nil when the pass fails.
func (m *Model) dryShapes() [][]int {
	st := m.getState() // not put back: fuseConvs may add slots after
	if err := m.seedDry(st); err != nil {
		return nil
	}
	if err := m.exec(st, true); err != nil {
		return nil
	}
	shapes := make([][]int, m.nslots)
	for k, v := range st.vals {
		if v != nil && !v.unknown && !v.isInt && !v.isBool {
			shapes[k] = slices.Clone(v.shape)
		}
	}
	return shapes
}

// run computes the chain on x into st's slot, reporting false when x is
// not the input it was prepared for.
func (c *convChain) run(m *Model, st *execState, x *value, out int) bool {
	if x == nil || x.isInt || x.isBool || x.shapeOnly || x.unknown || len(x.shape) != 4 || !slices.Equal(x.shape[1:], c.inShape) {
		return false
	}
	n := x.shape[0]
	if len(x.f) != n*shapeSize(c.inShape) {
		return false
	}
	if _, err := checkedSize(append([]int{n}, c.outDims...)); err != nil {
		return false
	}
	y := st.outShape(m, out, n, c.outDims)
	if err := kernels.ConvChain(n, x.f, c.stages, y.f, c.nhwc); err != nil {
		st.vals[out] = nil
		return false // not reached: the shapes were checked; orig reports
	}
	return true
}

// fallback runs the original steps, and turns a folded Flatten's
// (channel, pixel) result into the (pixel, channel) order the permuted
// Gemms expect.
func (c *convChain) fallback(m *Model, st *execState, out int, dry bool) error {
	for _, o := range c.orig {
		if err := m.execStep(st, o, dry); err != nil {
			return err
		}
	}
	v := st.vals[out]
	if !c.nhwc || dry || v == nil || v.shapeOnly || v.unknown || v.isInt || len(v.shape) != 2 || v.shape[1] != c.k*c.np {
		return nil
	}
	p := &value{shape: slices.Clone(v.shape), f: make([]float32, len(v.f))}
	per := c.k * c.np
	for im := 0; im < v.shape[0]; im++ {
		src, dst := v.f[im*per:(im+1)*per], p.f[im*per:(im+1)*per]
		for ch := 0; ch < c.k; ch++ {
			for q := 0; q < c.np; q++ {
				dst[q*c.k+ch] = src[ch*c.np+q]
			}
		}
	}
	st.vals[out] = p
	return nil
}
