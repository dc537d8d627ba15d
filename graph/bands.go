package graph

import (
	"fmt"
	"slices"

	G "gorgonia.org/gorgonia"

	"github.com/vaec/vaec/kernels"
)

// The first layer in bands of its inputs (model parallelism inside the
// data-parallel step).
//
// The first dense layer of an MLP VAE holds most of its weights (W1 is
// 784×400 of the MNIST model's 652,824 parameters). Shared by the shards,
// every core would read all of W1 every step (x·W1 for its rows) while
// the update rewrites it, each core its band of rows: each step each core
// reads the rows the other core wrote and writes lines the other core
// read. On the 2-core EPYC VM those lines crossing between the cores cost
// more than the arithmetic they feed when the host places the two vCPUs
// far apart.
//
// Here the layer's product is split by its depth instead: band c is rows
// [cuts[c], cuts[c+1]) of W1 (inputs cuts[c]… of x), and everything about
// it stays with one worker (the crew gives worker c item c of a phase,
// and the update's claim order gives it the band's chunks): a phase
// before the shards gathers the band's columns of the batch's inputs
// from the data set and computes the partial product
// P_c = x[:, band]·W1[band, :] for the whole batch; the update computes
// the band's weight gradient from the same gathered inputs and updates
// those rows; and the band's packed copy of W1[band, :], written by that
// update and read by the next forward pass, never leaves the worker's
// core. Each shard then adds the partial products of its rows in band
// order, the bias, and the activation, and runs the rest of its graph
// (the layer's own step is skipped). What crosses between cores per
// step is the other band's partial product for a shard's rows and the
// other shard's output gradient (64 rows × 400 each way on the MNIST
// model), instead of half of W1 and its packed copy.
//
// The partial sums are a different summation order from the whole
// product's (its k-blocks added left to right), so the weights differ
// from a step without bands in the last bits; the bands are fixed by the
// model and the shard count, never by GOMAXPROCS, so a run is still
// bit-identical on any number of cores.

// bandLayer is the model's first dense layer, cut into bands of rows.
type bandLayer struct {
	w, b    int // the parameters: W [in, out] and the bias [out]
	in, out int
	act     kernels.Act
	alpha   float32
	cuts    []int       // band c is rows [cuts[c], cuts[c+1]) of W
	packs   []*bandPack // per band: W[band, :] packed
	h       [][]float32 // per shard: the layer's output, rows × out (the skipped step's value)
	part    [][]float32 // per band: the partial product for the batch [batch, out]
	// xs holds per band the band's columns of the batch's inputs
	// [batch, width], gathered by the band's forward pass; xAt the step
	// they are from.
	xs  [][]float32
	xAt []uint64
	err []error // per band: from the last forward pass
}

// bandPack is one band's packed weights.
type bandPack struct {
	p  *kernels.PackedB
	at []uint64 // per row of the band: the packSet version the packed row reflects
}

// bandFirstLayer enables the bands; tests compare with them off.
var bandFirstLayer = true

// bandMinRows is the fewest rows of W a band has: a band's product is a
// k-block of its own.
const bandMinRows = 128

// setupBands cuts the first layer into bands when it can: a fused dense
// layer on the model's input in every shard, with at least two bands'
// worth of inputs. It runs before the update's chunks are cut, and drops
// the shards' products by that W from the packed copies.
func (s *stepper) setupBands() error {
	if !bandFirstLayer || len(s.shards) < 2 {
		return nil
	}
	var bl *bandLayer
	var steps []*tapeStep
	for _, n := range s.shards {
		if n.tape == nil {
			return nil
		}
		param := map[*G.Node]int{}
		for i, p := range n.p.trained {
			param[p] = i
		}
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
		if !ok1 || !ok2 || len(ws) != 2 || len(s.params[wi]) != ws[0]*ws[1] || len(s.params[bi]) != ws[1] {
			return nil
		}
		hv, err := data("h", t.vals[st.at], n.batch, ws[1])
		if err != nil {
			return nil
		}
		if bl == nil {
			bl = &bandLayer{w: wi, b: bi, in: ws[0], out: ws[1], act: op.act, alpha: op.alpha}
		} else if bl.w != wi || bl.b != bi || bl.act != op.act || bl.alpha != op.alpha {
			return nil
		}
		bl.h = append(bl.h, hv)
		steps = append(steps, st)
	}
	bands := min(len(s.shards), bl.in/bandMinRows)
	if bands < 2 {
		return nil
	}
	for c := 0; c <= bands; c++ {
		bl.cuts = append(bl.cuts, c*bl.in/bands&^7)
	}
	bl.cuts[bands] = bl.in
	for c := range bands {
		rows := bl.cuts[c+1] - bl.cuts[c]
		p, err := kernels.NewPackedPanels(false, rows, bl.out)
		if err != nil {
			return err
		}
		bl.packs = append(bl.packs, &bandPack{p: p, at: make([]uint64, rows)})
		bl.part = append(bl.part, make([]float32, s.batch*bl.out))
		bl.xs = append(bl.xs, make([]float32, s.batch*rows))
	}
	bl.xAt = make([]uint64, bands)
	bl.err = make([]error, bands)
	for _, st := range steps {
		st.skip = true
	}
	// The shards no longer multiply by W: no packed copies of it for them.
	for k := range s.uses {
		s.uses[k] = slices.DeleteFunc(s.uses[k], func(u packedUse) bool { return u.w.param == bl.w && !u.w.transB })
	}
	s.packed[bl.w] = slices.DeleteFunc(s.packed[bl.w], func(pw *packedWeight) bool { return !pw.transB })
	s.band = bl
	return nil
}

// bandOf returns the band holding row r of the banded weight.
func (bl *bandLayer) bandOf(r int) int {
	c, _ := slices.BinarySearch(bl.cuts, r+1)
	return c - 1
}

// bandForward gathers band c's inputs for the batch (rows idx of x,
// [*, d] row-major), brings the band's packed weights up to date and
// computes its partial product.
func (s *stepper) bandForward(c int, x []float32, d int, idx []int) {
	bl := s.band
	bl.err[c] = nil
	k0, k1 := bl.cuts[c], bl.cuts[c+1]
	kb := k1 - k0
	xs := bl.xs[c]
	for i, r := range idx {
		copy(xs[i*kb:(i+1)*kb], x[r*d+k0:r*d+k1])
	}
	bl.xAt[c] = s.nstep
	bp := bl.packs[c]
	wt := s.params[bl.w][k0*bl.out:]
	v := s.packs.version
	for r0 := 0; r0 < kb; {
		if bp.at[r0] == v {
			r0++
			continue
		}
		r1 := r0 + 1
		for r1 < kb && bp.at[r1] != v {
			r1++
		}
		if err := bp.p.PackRows(wt, bl.out, r0, r1); err != nil {
			bl.err[c] = fmt.Errorf("packing weights: %w", err)
			return
		}
		for r := r0; r < r1; r++ {
			bp.at[r] = v
		}
		r0 = r1
	}
	bp.p.MulBiasActRows(0, s.batch, xs, kb, bl.part[c], bl.out, nil, kernels.Linear, 0, nil)
}

// bandOutput sets shard k's output of the layer: its rows of the bands'
// partial products added in band order, then the bias and activation.
func (s *stepper) bandOutput(k int) {
	bl := s.band
	lo, hi := s.lo[k]*bl.out, s.lo[k+1]*bl.out
	h := bl.h[k]
	copy(h, bl.part[0][lo:hi])
	for _, p := range bl.part[1:] {
		kernels.AddTo(h, p[lo:hi])
	}
	kernels.AddBiasAct(h, s.lo[k+1]-s.lo[k], bl.out, s.params[bl.b], bl.act, bl.alpha)
}

// bandChunks returns the update's chunks of the banded weight: whole rows,
// about optChunk elements each, none across a band's edge.
func (s *stepper) bandChunks() []chunk {
	bl := s.band
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

// bandInputs returns, for the weight gradient of band chunk c, the
// inputs of shard k from row r0 of W on, with their leading dimension:
// the band's gathered inputs when they are this step's, else the shard's
// copy of the same values.
func (s *stepper) bandInputs(c chunk, k, r0 int) ([]float32, int) {
	bl := s.band
	if b := c.band - 1; b >= 0 && bl.xAt[b] == s.nstep {
		kb := bl.cuts[b+1] - bl.cuts[b]
		return bl.xs[b][s.lo[k]*kb+r0-bl.cuts[b]:], kb
	}
	return s.wgrads[c.i].x[k][r0:], bl.in
}

// repackBand refreshes band chunk c's rows in its band's packed copy,
// just updated and still in cache, for the version the update is making.
func (s *stepper) repackBand(c chunk) {
	bl := s.band
	b := c.band - 1
	k0 := bl.cuts[b]
	r0, r1 := c.lo/bl.out-k0, c.hi/bl.out-k0
	pk := bl.packs[b]
	if err := pk.p.PackRows(s.params[c.i][k0*bl.out:], bl.out, r0, r1); err != nil {
		return // the rows stay behind: the next forward pass packs them and reports the error
	}
	next := s.packs.version + 1
	for r := r0; r < r1; r++ {
		pk.at[r] = next
	}
}
