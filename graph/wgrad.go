package graph

import (
	"sync"

	G "gorgonia.org/gorgonia"

	"github.com/vaec/vaec/kernels"
)

// Weight gradients computed in the update.
//
// A dense layer's weight gradient is the sum over shards of xₛᵀ·dzₛ
// (its input and the gradient at its output, rows of shard s). Computed
// in the shards, each writes a gradient the size of the weight (1.25 MB
// for a 784×400 layer), which the update then reads back, one core's
// copies read by the other. Instead the shards leave that product out
// (their tape skips it) and keep xₛ and dzₛ, and the update computes the
// gradient of each chunk's rows itself, straight into a small buffer in
// cache: the first shard's product, then each next one added onto it by
// the same kernel (Sgemm with beta 1), then the optimizer over the block.
// The per-shard products are those the shards computed (the same kernel
// on the same k-block of rows), and adding them in shard order gives the
// sum the update formed before, so the weights are bit-identical; no
// gradient of such a weight is ever written to memory.
//
// It applies with equal shards and no gradient clipping (whose norm needs
// every gradient before any update), to weights with at least a panel's
// worth of columns (narrower products are computed transposed by Sgemm,
// a different summation) and chunks of at least two rows.

// wgrad is one weight whose gradient the update computes.
type wgrad struct {
	in, out int
	x, dz   [][]float32 // per shard: its input [rows×in] and output gradient [rows×out]
	rows    []int
	// data: x is the model's input, where images have most of their
	// pixels zero: the product skips them (kernels.SgemmZeroA, the same
	// bits while dz is finite). finite says, per shard, whether its dz
	// is, checked once a step by the shard's worker (checkFinite) for all
	// the update's chunks.
	data   bool
	finite []bool
}

// deferGrads makes the update compute the gradients of the weights it can
// (see above); it runs before the chunks are cut. It returns nothing to
// do unless every shard's tape has the product in the same form.
func (s *stepper) deferGrads(noClip bool) {
	s.wgrads = make([]*wgrad, len(s.params))
	if !deferWeightGrads || !noClip || !s.equal {
		return
	}
	nr := kernels.PanelWidth()
	for i := range s.params {
		var w wgrad
		var steps []*tapeStep
		for _, n := range s.shards {
			if n.tape == nil {
				return
			}
			st := n.tape.producer(n.grads[i])
			if st == nil || len(st.in) != 2 {
				break
			}
			op, ok := st.op.(matMulOp)
			if !ok || !op.transA || op.transB || op.packed != nil {
				break
			}
			xs, ds := n.tape.nodes[st.in[0]].Shape(), n.tape.nodes[st.in[1]].Shape()
			if len(xs) != 2 || len(ds) != 2 || xs[0] != ds[0] {
				break
			}
			x, err1 := data("x", n.tape.vals[st.in[0]], xs[0], xs[1])
			dz, err2 := data("dz", n.tape.vals[st.in[1]], ds[0], ds[1])
			if err1 != nil || err2 != nil {
				break
			}
			w.in, w.out = xs[1], ds[1]
			w.data = n.tape.nodes[st.in[0]] == n.x
			w.x, w.dz, w.rows = append(w.x, x), append(w.dz, dz), append(w.rows, xs[0])
			steps = append(steps, st)
		}
		// A chunk of one row would be a matrix-vector product in Sgemm,
		// another summation than the shards' whole product.
		if len(steps) != len(s.shards) || w.out < nr || w.in*w.out != len(s.params[i]) || w.in%chunkRows(w.out) == 1 {
			continue
		}
		for _, st := range steps {
			st.skip = true
		}
		w.finite = make([]bool, len(w.dz))
		s.wgrads[i] = &w
	}
}

// checkFinite records whether shard k's output gradients that the update
// multiplies by the model's input are finite (wgrad.finite); the shard's
// worker calls it after the shard's run, while they are in its cache.
func (s *stepper) checkFinite(k int) {
	for _, w := range s.wgrads {
		if w != nil && w.data {
			w.finite[k] = kernels.AllFinite(w.dz[k])
		}
	}
}

// chunkRows is the number of rows in the update's chunks of a weight
// with cols columns whose chunks are whole rows: about optChunk elements,
// a multiple of 8 rows (the packers' transposes work on 8 at a time).
func chunkRows(cols int) int { return max(8, optChunk/cols&^7) }

// deferWeightGrads enables the deferral; tests compare with it off.
var deferWeightGrads = true

// producer returns the step that computes node n, or nil.
func (t *tape) producer(n *G.Node) *tapeStep {
	for k := range t.steps {
		if t.nodes[t.steps[k].at] == n {
			return &t.steps[k]
		}
	}
	return nil
}

// blockPool holds the gradient blocks of the update's chunks.
var blockPool = sync.Pool{New: func() any { return new([]float32) }}

// updateDeferred computes the gradient of chunk c's rows (whole rows of
// weight c.i) and updates them.
func (s *stepper) updateDeferred(o *optimizer, c chunk) {
	w := s.wgrads[c.i]
	r0, r1 := c.lo/w.out, c.hi/w.out
	bp := blockPool.Get().(*[]float32)
	if cap(*bp) < c.hi-c.lo {
		*bp = make([]float32, c.hi-c.lo)
	}
	g := (*bp)[:c.hi-c.lo]
	for k := range w.x {
		beta := float32(1)
		if k == 0 {
			beta = 0
		}
		a, lda := w.x[k][r0:], w.in
		if c.band > 0 && s.first != nil && c.i == s.first.w {
			a, lda = s.bandInputs(c, k, r0)
		}
		if w.data && w.finite[k] {
			kernels.SgemmZeroA(true, false, r1-r0, w.out, w.rows[k], 1, a, lda, w.dz[k], w.out, beta, g, w.out)
			continue
		}
		kernels.Sgemm(true, false, r1-r0, w.out, w.rows[k], 1, a, lda, w.dz[k], w.out, beta, g, w.out)
	}
	o.updateBlock(c.i, s.params[c.i], g, c.lo, c.hi)
	blockPool.Put(bp)
}
