package graph

import (
	"slices"

	G "gorgonia.org/gorgonia"

	"github.com/vaec/vaec/kernels"
)

// An MLP's large layers in bands of their inputs (model parallelism
// inside the data-parallel step).
//
// The first dense layer of an MLP VAE and its decoder's output layer hold
// almost all of its weights (784×400 each in the MNIST model: 627,200 of
// its 652,824 parameters). Shared by the shards, every core would read
// all of both every step while the update rewrites them, each core its
// band of rows: each step each core reads the rows the other core wrote
// and writes lines the other core read. On the 2-core EPYC VM those lines
// crossing between the cores cost more than the arithmetic they feed
// when the host places the two vCPUs far apart.
//
// Here such a layer's products are split by the layer's inputs instead:
// band c is rows [cuts[c], cuts[c+1]) of W, and everything about it
// stays with one worker (the crew gives worker c item c of a phase, and
// the update's claim order gives it the band's chunks): a phase computes
// the band's partial product P_c = in[:, band]·W[band, :] for the whole
// batch; the update computes the band's weight gradient and updates
// those rows; and the band's packed copies of W[band, :], written by that
// update and read by the next step, never leave the worker's core. Each
// shard then adds the partial products of its rows in band order, the
// bias and the activation. What crosses between the cores is
// activations: for the MNIST model 64 rows × 400 or 784 values a phase
// each way, instead of half of each weight and its packed copies.
//
//   - The first layer's input is the model's input: its band phase comes
//     first in the step, each worker gathering its band's columns of the
//     batch from the data set (which the update's weight gradient reads
//     again, in the worker's cache).
//   - The decoder's output layer (the loss's input, linear) splits the
//     shards' graphs in three: the shards run to the layer's input, a
//     band phase computes the partial logits, the shards run the loss
//     and its gradient dl at the logits, a second band phase computes the
//     input gradient's columns of the band, dl·W[band, :]ᵀ (the whole sum
//     over the outputs, so no partial sums there), and the shards run
//     the rest of the backward pass. Two more barriers a step, in
//     exchange for the largest weight after W1 staying put.
//
// The partial sums are another summation order than the whole product's
// (its k-blocks added left to right), so the weights differ from a step
// without bands in the last bits; the bands are fixed by the model and
// the shard count, never by GOMAXPROCS, so a run is still bit-identical
// on any number of cores.

// bandLayer is a dense layer cut into bands of its inputs (rows of W).
type bandLayer struct {
	w, b    int // the parameters: W [in, out] and the bias [out]
	in, out int
	act     kernels.Act
	alpha   float32
	cuts    []int         // band c is rows [cuts[c], cuts[c+1]) of W
	packs   []*packedCopy // per band: W[band, :] packed, a row per row of the band
	h       [][]float32   // per shard: the layer's output, rows × out (the skipped step's value)
	part    [][]float32   // per band: the partial product for the batch [batch, out]
	err     []error       // per band: from the last band phase

	// The first layer: xs holds per band the band's columns of the
	// batch's inputs [batch, width], gathered by the band's forward pass;
	// xAt the step they are from.
	xs  [][]float32
	xAt []uint64

	// The output layer (src non-nil): per shard, the layer's input, the
	// loss's gradient at its output, and the input gradient (the skipped
	// product's value); per band, W[band, :]ᵀ packed for dl·W[band, :]ᵀ.
	src, dl, dh [][]float32
	tpacks      []*packedCopy

	copies [][]*packedCopy // per band: packs[c], and tpacks[c] if any
}

// bandLayers enables the bands; tests compare with them off.
var bandLayers = true

// bandMinRows is the fewest rows of W a band has: a band's product is a
// k-block of its own.
const bandMinRows = 128

// Segments of a shard's tape when the output layer is in bands: the
// steps before the layer's output, those between it and the input
// gradient, and the rest.
const (
	segHead = iota
	segLoss
	segBack
	numSegs
)

// setupBands cuts the first layer and the output layer into bands where
// it can. It runs before the update's chunks are cut, and drops the
// shards' products by those weights from the packed copies.
func (s *stepper) setupBands() error {
	if !bandLayers || len(s.shards) < 2 {
		return nil
	}
	for _, n := range s.shards {
		if n.tape == nil {
			return nil
		}
	}
	if err := s.setupFirstBands(); err != nil {
		return err
	}
	return s.setupOutBands()
}

// trainedIndex maps shard n's trained parameter nodes to their indexes.
func trainedIndex(n *net) map[*G.Node]int {
	param := map[*G.Node]int{}
	for i, p := range n.p.trained {
		param[p] = i
	}
	return param
}

// newBands cuts a layer of in×out weights into bands: min(shards, in/128)
// of them, or nil for fewer than two.
func (s *stepper) newBands(wi, bi, in, out int, act kernels.Act, alpha float32, transposed bool) (*bandLayer, error) {
	bands := min(len(s.shards), in/bandMinRows)
	if bands < 2 || len(s.params[wi]) != in*out || len(s.params[bi]) != out {
		return nil, nil
	}
	bl := &bandLayer{w: wi, b: bi, in: in, out: out, act: act, alpha: alpha}
	for c := 0; c <= bands; c++ {
		bl.cuts = append(bl.cuts, c*in/bands&^7)
	}
	bl.cuts[bands] = in
	for c := range bands {
		rows := bl.cuts[c+1] - bl.cuts[c]
		p, err := kernels.NewPackedPanels(false, rows, out)
		if err != nil {
			return nil, err
		}
		bl.packs = append(bl.packs, &packedCopy{p: p, at: make([]uint64, rows)})
		if transposed {
			p, err := kernels.NewPackedPanels(true, out, rows)
			if err != nil {
				return nil, err
			}
			bl.tpacks = append(bl.tpacks, &packedCopy{p: p, at: make([]uint64, rows)})
		}
		bl.part = append(bl.part, make([]float32, s.batch*out))
	}
	bl.err = make([]error, bands)
	for c := range bands {
		bl.copies = append(bl.copies, []*packedCopy{bl.packs[c]})
		if transposed {
			bl.copies[c] = append(bl.copies[c], bl.tpacks[c])
		}
	}
	return bl, nil
}

// dropPacked removes the shards' packed copies of weight wi (both
// orientations with all set, else x·W only): its bands have their own.
func (s *stepper) dropPacked(wi int, all bool) {
	drop := func(pw *packedWeight) bool { return pw.param == wi && (all || !pw.transB) }
	for k := range s.uses {
		s.uses[k] = slices.DeleteFunc(s.uses[k], func(u packedUse) bool { return drop(u.w) })
	}
	s.packed[wi] = slices.DeleteFunc(s.packed[wi], drop)
}

// setupFirstBands bands the first layer: a fused dense layer on the
// model's input in every shard.
func (s *stepper) setupFirstBands() error {
	var bl *bandLayer
	var steps []*tapeStep
	for _, n := range s.shards {
		param := trainedIndex(n)
		t := n.tape
		var st *tapeStep
		var op denseOp
		for k := range t.steps {
			o, ok := t.steps[k].op.(denseOp)
			if ok && len(t.steps[k].in) == 3 && t.nodes[t.steps[k].in[0]] == n.x {
				st, op = &t.steps[k], o
				break
			}
		}
		if st == nil {
			return nil
		}
		wi, ok1 := param[t.nodes[st.in[1]]]
		bi, ok2 := param[t.nodes[st.in[2]]]
		ws := t.nodes[st.in[1]].Shape()
		if !ok1 || !ok2 || len(ws) != 2 {
			return nil
		}
		hv, err := data("h", t.vals[st.at], n.batch, ws[1])
		if err != nil {
			return nil
		}
		if bl == nil {
			if bl, err = s.newBands(wi, bi, ws[0], ws[1], op.act, op.alpha, false); bl == nil || err != nil {
				return err
			}
		} else if bl.w != wi || bl.b != bi || bl.act != op.act || bl.alpha != op.alpha {
			return nil
		}
		bl.h = append(bl.h, hv)
		steps = append(steps, st)
	}
	for c := range bl.packs {
		bl.xs = append(bl.xs, make([]float32, s.batch*(bl.cuts[c+1]-bl.cuts[c])))
	}
	bl.xAt = make([]uint64, len(bl.packs))
	for _, st := range steps {
		st.skip = true
	}
	s.dropPacked(bl.w, false)
	s.first = bl
	return nil
}

// setupOutBands bands the decoder's output layer: in every shard a fused
// linear dense layer whose output is the loss's (NegELBO's) input, whose
// input is computed in the shard, and whose input gradient dl·Wᵀ is a
// product of the shard; one sample of z per example (the decoder's rows
// are the shard's).
func (s *stepper) setupOutBands() error {
	if s.samples != 1 {
		return nil
	}
	var bl *bandLayer
	var dense, back []*tapeStep
	for _, n := range s.shards {
		param := trainedIndex(n)
		t := n.tape
		producer := map[int]int{} // node index → step index
		for k := range t.steps {
			producer[t.steps[k].at] = k
		}
		var loss, dlStep, dk, mk = -1, -1, -1, -1
		for k := range t.steps {
			switch o := t.steps[k].op.(type) {
			case *elboOp:
				loss = k
			case *elboGradOp:
				if o.which == elboOut {
					dlStep = k
				}
			}
		}
		if loss < 0 || dlStep < 0 {
			return nil
		}
		if p, ok := producer[t.steps[loss].in[elboOut]]; ok {
			if o, ok := t.steps[p].op.(denseOp); ok && o.act == kernels.Linear && len(t.steps[p].in) == 3 {
				dk = p
			}
		}
		if dk < 0 {
			return nil
		}
		st := &t.steps[dk]
		wnode := t.nodes[st.in[1]]
		if _, ok := producer[st.in[0]]; !ok {
			return nil // the layer's input is a leaf
		}
		for k := range t.steps {
			o, ok := t.steps[k].op.(matMulOp)
			if ok && o.transB && !o.transA && t.steps[k].in[0] == t.steps[dlStep].at && t.nodes[t.steps[k].in[1]] == wnode {
				mk = k
			}
		}
		wi, ok1 := param[wnode]
		bi, ok2 := param[t.nodes[st.in[2]]]
		ws := wnode.Shape()
		if mk < 0 || !ok1 || !ok2 || len(ws) != 2 || (s.first != nil && s.first.w == wi) {
			return nil
		}
		in, out := ws[0], ws[1]
		var vals [4][]float32
		for j, v := range []struct {
			at         int
			rows, cols int
		}{{st.at, n.batch, out}, {st.in[0], n.batch, in}, {t.steps[dlStep].at, n.batch, out}, {t.steps[mk].at, n.batch, in}} {
			d, err := data("band", t.vals[v.at], v.rows, v.cols)
			if err != nil {
				return nil
			}
			vals[j] = d
		}
		if bl == nil {
			var err error
			if bl, err = s.newBands(wi, bi, in, out, kernels.Linear, 0, true); bl == nil || err != nil {
				return err
			}
		} else if bl.w != wi || bl.b != bi {
			return nil
		}
		bl.h, bl.src, bl.dl, bl.dh = append(bl.h, vals[0]), append(bl.src, vals[1]), append(bl.dl, vals[2]), append(bl.dh, vals[3])
		dense, back = append(dense, st), append(back, &t.steps[mk])
	}
	// Segments: a step runs in the first segment its inputs are all
	// available in; the layer's output is available from segLoss on, the
	// input gradient from segBack on.
	for k, n := range s.shards {
		t := n.tape
		avail := make([]int, len(t.nodes))
		avail[dense[k].at], avail[back[k].at] = segLoss, segBack
		for j := range t.steps {
			st := &t.steps[j]
			if st == dense[k] || st == back[k] {
				continue
			}
			seg := segHead
			for _, i := range st.in {
				seg = max(seg, avail[i])
			}
			st.seg, avail[st.at] = seg, seg
		}
		t.segmented = true
	}
	for k := range dense {
		dense[k].skip, back[k].skip = true, true
	}
	s.dropPacked(bl.w, true)
	s.out = bl
	return nil
}

// bandsOf returns the banded layer whose weight is parameter i, or nil.
func (s *stepper) bandsOf(i int) *bandLayer {
	for _, bl := range []*bandLayer{s.first, s.out} {
		if bl != nil && bl.w == i {
			return bl
		}
	}
	return nil
}

// catchUpBand brings band c's packed copies up to date: the rows another
// update (another stepper's, or a chunk this band's worker did not run)
// changed since they were packed.
func (s *stepper) catchUpBand(bl *bandLayer, c int) error {
	wt := s.params[bl.w][bl.cuts[c]*bl.out:]
	for _, pc := range bl.copiesOf(c) {
		if err := pc.catchUp(wt, bl.out, s.packs.version, nil); err != nil {
			return err
		}
	}
	return nil
}

// copiesOf returns band c's packed copies: W[band, :], and for the
// output layer its transpose.
func (bl *bandLayer) copiesOf(c int) []*packedCopy { return bl.copies[c] }

// firstForward gathers the first layer's band c of inputs for the batch
// (rows idx of x, [*, d] row-major), brings the band's packed weights up
// to date and computes its partial product.
func (s *stepper) firstForward(c int, x []float32, d int, idx []int) {
	bl := s.first
	k0, k1 := bl.cuts[c], bl.cuts[c+1]
	kb := k1 - k0
	xs := bl.xs[c]
	for i, r := range idx {
		copy(xs[i*kb:(i+1)*kb], x[r*d+k0:r*d+k1])
	}
	bl.xAt[c] = s.nstep
	if bl.err[c] = s.catchUpBand(bl, c); bl.err[c] != nil {
		return
	}
	bl.packs[c].p.MulBiasActRows(0, s.batch, xs, kb, bl.part[c], bl.out, nil, kernels.Linear, 0, nil)
}

// outForward computes the output layer's band c of partial products, for
// every shard's rows.
func (s *stepper) outForward(c int) {
	bl := s.out
	if bl.err[c] = s.catchUpBand(bl, c); bl.err[c] != nil {
		return
	}
	k0 := bl.cuts[c]
	for k, src := range bl.src {
		lo, hi := s.lo[k], s.lo[k+1]
		bl.packs[c].p.MulBiasActRows(0, hi-lo, src[k0:], bl.in, bl.part[c][lo*bl.out:], bl.out, nil, kernels.Linear, 0, nil)
	}
}

// outBackward computes the output layer's input gradient for band c's
// columns, dl·W[band, :]ᵀ, for every shard's rows.
func (s *stepper) outBackward(c int) {
	bl := s.out
	k0 := bl.cuts[c]
	for k, dl := range bl.dl {
		rows := s.lo[k+1] - s.lo[k]
		bl.tpacks[c].p.MulBiasActRows(0, rows, dl, bl.out, bl.dh[k][k0:], bl.in, nil, kernels.Linear, 0, nil)
	}
}

// bandOutput sets shard k's output of a banded layer: its rows of the
// bands' partial products added in band order, then the bias and
// activation.
func (s *stepper) bandOutput(bl *bandLayer, k int) {
	lo, hi := s.lo[k]*bl.out, s.lo[k+1]*bl.out
	h := bl.h[k]
	copy(h, bl.part[0][lo:hi])
	for _, p := range bl.part[1:] {
		kernels.AddTo(h, p[lo:hi])
	}
	kernels.AddBiasAct(h, s.lo[k+1]-s.lo[k], bl.out, s.params[bl.b], bl.act, bl.alpha)
}

// bandChunks returns the update's chunks of a banded weight: whole rows,
// about optChunk elements each, none across a band's edge.
func bandChunks(bl *bandLayer) []chunk {
	rows := chunkRows(bl.out)
	var out []chunk
	for c := range bl.packs {
		for r0 := bl.cuts[c]; r0 < bl.cuts[c+1]; r0 += rows {
			r1 := min(bl.cuts[c+1], r0+rows)
			out = append(out, chunk{i: bl.w, lo: r0 * bl.out, hi: r1 * bl.out, band: c + 1})
		}
	}
	return out
}

// bandInputs returns, for the weight gradient of chunk c of the first
// layer's weight, the inputs of shard k from row r0 of W on, with their
// leading dimension: the band's gathered inputs when they are this
// step's, else the shard's copy of the same values.
func (s *stepper) bandInputs(c chunk, k, r0 int) ([]float32, int) {
	bl := s.first
	if b := c.band - 1; b >= 0 && bl.xAt[b] == s.nstep {
		kb := bl.cuts[b+1] - bl.cuts[b]
		return bl.xs[b][s.lo[k]*kb+r0-bl.cuts[b]:], kb
	}
	return s.wgrads[c.i].x[k][r0:], bl.in
}

// repackBand refreshes chunk c's rows in its band's packed copies, just
// updated and still in cache, for the version the update is making.
func (s *stepper) repackBand(c chunk) {
	bl := s.bandsOf(c.i)
	b := c.band - 1
	k0 := bl.cuts[b]
	for _, pc := range bl.copiesOf(b) {
		pc.refresh(s.params[c.i][k0*bl.out:], bl.out, c.lo/bl.out-k0, c.hi/bl.out-k0, s.packs.version+1)
	}
}
