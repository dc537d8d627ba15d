package graph

import (
	"fmt"
	"slices"
	"time"

	G "gorgonia.org/gorgonia"

	"github.com/vaec/vaec/kernels"
)

// Weights packed once per step: one copy, or one per worker.
//
// Every shard of a step multiplies by the same weights: x·W in each dense
// layer and dz·Wᵀ for each input gradient. Left to Sgemm, each of those
// products reads W on its own: in place, rows a stride apart (x·W), or
// transposed into a packed copy first (dz·Wᵀ, 7% of a step on the MNIST
// model), once per shard. Instead the shards' products read a copy of W
// in the micro-kernel's panel layout (kernels.NewPackedPanels), which the
// update refreshes row by row as it changes the weights, while the rows
// are in cache. The arithmetic is Sgemm's blocked path exactly (the same
// kernels over the same k-blocks), so weights are bit-identical with and
// without the copies; products Sgemm computes another way (a single row,
// or fewer columns than a panel, which it transposes) keep calling Sgemm.
//
// Each worker of the step's parallel phases (crew.go: the caller is
// worker 0) may have a copy of its own. Writing a cache line that the
// other core has read costs that core's copy of the line to be
// invalidated first: on the 2-core EPYC, with its vCPUs far apart, this
// was measured at 176–207 µs to rewrite 1.3 MB that the other core had
// read, against 13 µs for lines only this core had touched, and 45 µs to
// read 1.3 MB the other core had just written. One shared copy, read by
// every shard and rewritten by every update, pays the first price on
// every line every step (the repacking took 5 times the CPU time on two
// cores that it took on one). With a copy per worker, the update writes
// the rows it updated into its worker's copy only (lines only that core
// reads), and a worker starting a shard brings its copy up to date first,
// packing the rows the other workers updated: it reads them from the
// other core's cache, the cheaper direction, and its products then read
// lines of its own. With the vCPUs close the one copy is faster, so the
// stepper measures (copyMode, below). Every row of every copy carries the
// version of the parameters it reflects, so a copy that missed updates,
// in whichever mode, is caught up before it is read. On one core there is
// one copy and it is always current.

// packedWeight is one trainable matrix in one orientation, packed, with
// one copy per worker.
type packedWeight struct {
	param  int // index in stepper.params
	cols   int // the parameter's row length (B's leading dimension)
	rows   int // the parameter's rows, the unit of freshness
	transB bool
	k, n   int
	copies []*packedCopy // per worker; nil until that worker needs one
}

// packedCopy is one worker's copy of a packed weight.
type packedCopy struct {
	p *kernels.PackedB
	// at holds, per row of the parameter, the packSet version the row's
	// packed values reflect; 0 for never packed.
	at []uint64
}

// packSet holds a trainer's packed weights, shared by its steppers (one
// per batch size: the full batches and the short last one), so that a
// weight has one copy per orientation and worker however many steppers
// read it.
type packSet struct {
	byKey map[packKey]*packedWeight
	// version is 1 plus the number of updates of the parameters; a row of
	// a copy is current when its at equals it.
	version uint64
}

func newPackSet() *packSet { return &packSet{byKey: map[packKey]*packedWeight{}, version: 1} }

// packKey names a packed weight: a parameter in one orientation.
type packKey struct {
	param  int
	transB bool
}

// packedRef is what a shard's product multiplies by: the copy of the
// worker running the shard, set before each run.
type packedRef struct{ p *kernels.PackedB }

// packedUse ties a shard's reference to the weight it reads.
type packedUse struct {
	ref *packedRef
	w   *packedWeight
}

// prepack enables the packed copies; tests compare with it off.
var prepack = true

// attachPacked gives the shards' products that multiply by a trainable
// matrix a reference to a packed copy of it.
func (s *stepper) attachPacked() error {
	s.packed = make([][]*packedWeight, len(s.params))
	s.uses = make([][]packedUse, len(s.shards))
	if !prepack {
		return nil
	}
	nr := kernels.PanelWidth()
	for sh, n := range s.shards {
		if n.tape == nil {
			continue // the primitive lowering: Gorgonia's ops
		}
		param := map[*G.Node]int{}
		for i, p := range n.p.trained {
			param[p] = i
		}
		t := n.tape
		for k := range t.steps {
			st := &t.steps[k]
			if len(st.in) < 2 {
				continue
			}
			i, ok := param[t.nodes[st.in[1]]]
			if !ok {
				continue
			}
			ws := t.nodes[st.in[1]].Shape()
			as := t.nodes[st.in[0]].Shape()
			if len(ws) != 2 || len(as) != 2 {
				continue
			}
			rows, in, out := as[0], ws[0], ws[1]
			// x·W in a dense layer (k = In, n = Out), or dz·Wᵀ for its
			// input gradient (k = Out, n = In).
			var kk, nn int
			var transB bool
			switch o := st.op.(type) {
			case denseOp:
				kk, nn = in, out
			case matMulOp:
				if !o.transB || o.transA {
					continue
				}
				kk, nn, transB = out, in, true
			default:
				continue
			}
			if rows < 2 || nn < nr {
				continue
			}
			pw, err := s.packedFor(packKey{i, transB}, transB, kk, nn, out)
			if err != nil {
				return err
			}
			ref := &packedRef{}
			s.uses[sh] = append(s.uses[sh], packedUse{ref, pw})
			var op G.UsePreallocDoer
			switch o := st.op.(type) {
			case denseOp:
				o.packed = ref
				op = o
			case matMulOp:
				o.packed = ref
				op = o
			}
			st.op, st.pre = op.(G.Op), op
		}
	}
	return nil
}

// packedFor returns the packed weight for a key, creating it.
func (s *stepper) packedFor(k packKey, transB bool, kk, nn, cols int) (*packedWeight, error) {
	if len(s.params[k.param]) != kk*nn {
		return nil, errorf("packing parameter %d: %d values, want %d×%d", k.param, len(s.params[k.param]), kk, nn)
	}
	pw := s.packs.byKey[k]
	if slices.Contains(s.packed[k.param], pw) {
		return pw, nil // another shard of this stepper made it its own
	}
	if pw == nil {
		pw = &packedWeight{param: k.param, cols: cols, rows: kk * nn / cols, transB: transB, k: kk, n: nn}
		s.packs.byKey[k] = pw
	}
	s.packed[k.param] = append(s.packed[k.param], pw)
	return pw, nil
}

// growCopies makes room for the copies of workers [0, workers) in every
// weight this stepper reads, before a parallel phase, so that a worker
// allocating its own copy during the phase writes only its own slot.
func (s *stepper) growCopies(workers int) {
	if len(s.caught) < workers {
		s.caught = append(s.caught, make([][]chunk, workers-len(s.caught))...)
	}
	for _, ps := range s.packed {
		for _, pw := range ps {
			if len(pw.copies) < workers {
				pw.copies = append(pw.copies, make([]*packedCopy, workers-len(pw.copies))...)
			}
		}
	}
}

// prepareShard points shard k's products at worker w's copies, first
// bringing each up to date: allocated if the worker has none, and the
// rows another worker's update (or another stepper's) changed since it
// last packed them packed again from the parameters. In modeEvict those
// rows are then evicted from the caches (kernels.Evict): the worker that
// updated them writes them again in the next update, and finds no copy
// of them here to invalidate first. In modeDirect the products by W read
// W itself and only the transposed copies are kept.
func (s *stepper) prepareShard(k, w int) error {
	caught := s.caught[w][:0]
	for _, u := range s.uses[k] {
		if s.stepMode == modeDirect && !u.w.transB {
			u.ref.p = nil // x·W reads W in place (Sgemm)
			continue
		}
		c, err := s.currentCopy(u.w, w, &caught)
		if err != nil {
			return err
		}
		u.ref.p = c.p
	}
	if s.stepMode == modeEvict {
		for i, r := range caught {
			if !slices.Contains(caught[:i], r) {
				kernels.Evict(s.params[r.i][r.lo:r.hi])
			}
		}
	}
	s.caught[w] = caught
	return nil
}

// currentCopy returns worker w's copy of pw, with every row current,
// adding the parameter ranges it packed to caught.
func (s *stepper) currentCopy(pw *packedWeight, w int, caught *[]chunk) (*packedCopy, error) {
	c := pw.copies[w]
	if c == nil {
		p, err := kernels.NewPackedPanels(pw.transB, pw.k, pw.n)
		if err != nil {
			return nil, err
		}
		c = &packedCopy{p: p, at: make([]uint64, pw.rows)}
		pw.copies[w] = c
	}
	err := c.catchUp(s.params[pw.param], pw.cols, s.packs.version, func(r0, r1 int) {
		if caught != nil {
			*caught = append(*caught, chunk{i: pw.param, lo: r0 * pw.cols, hi: r1 * pw.cols})
		}
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// catchUp packs again, from b (leading dimension ldb), every row of the
// copy not at version v, and marks it so; packed, when non-nil, is told
// each run of rows [r0, r1) it packed.
func (c *packedCopy) catchUp(b []float32, ldb int, v uint64, packed func(r0, r1 int)) error {
	for r0 := 0; r0 < len(c.at); {
		if c.at[r0] == v {
			r0++
			continue
		}
		r1 := r0 + 1
		for r1 < len(c.at) && c.at[r1] != v {
			r1++
		}
		if err := c.p.PackRows(b, ldb, r0, r1); err != nil {
			return fmt.Errorf("packing weights: %w", err)
		}
		for r := r0; r < r1; r++ {
			c.at[r] = v
		}
		if packed != nil {
			packed(r0, r1)
		}
		r0 = r1
	}
	return nil
}

// refresh packs rows [r0, r1) of the copy from b (leading dimension ldb),
// just updated, and marks them current for version next. On an error the
// rows stay behind, for the next catching up to pack and report.
func (c *packedCopy) refresh(b []float32, ldb, r0, r1 int, next uint64) {
	if c.p.PackRows(b, ldb, r0, r1) != nil {
		return
	}
	for r := r0; r < r1; r++ {
		c.at[r] = next
	}
}

// repack refreshes worker w's copies of chunk c's parameter for the
// chunk's rows, just updated and still in cache, and marks them current
// for the version the update is making. The chunk is whole rows
// (newStepper). Other copies of these rows are now behind; each is
// caught up before it is read next (prepareShard, catchUp). A worker
// without a copy (it ran no shard yet, or there are more cores than
// shards) packs nothing, nor does one in modeDirect for the products by
// W, and an error leaves the rows behind, to be packed, and the error
// reported, by the next catching up.
func (s *stepper) repack(w int, c chunk) {
	if c.band > 0 {
		s.repackBand(c)
	}
	next := s.packs.version + 1
	for _, pw := range s.packed[c.i] {
		if w >= len(pw.copies) || pw.copies[w] == nil || s.stepMode == modeDirect && !pw.transB {
			continue
		}
		pw.copies[w].refresh(s.params[c.i], pw.cols, c.lo/pw.cols, c.hi/pw.cols, next)
	}
}

// copyFor returns the copy worker w writes and reads in this step.
func (s *stepper) copyFor(w int) int {
	if s.stepMode == modeShared {
		return 0
	}
	return w
}

// catchUp brings worker w's copy of every weight up to date, on the
// calling goroutine; with one copy for all workers, the caller does so
// before the shards phase.
func (s *stepper) catchUp(w int) error {
	for _, ps := range s.packed {
		for _, pw := range ps {
			if _, err := s.currentCopy(pw, w, nil); err != nil {
				return err
			}
		}
	}
	return nil
}

// pointShard points shard k's products at copy w, which is current.
func (s *stepper) pointShard(k, w int) {
	for _, u := range s.uses[k] {
		u.ref.p = u.w.copies[w].p
	}
}

// copyMode chooses, every step on more than one worker, how the workers
// share the packed weights: one copy that all read and the update writes
// (modeShared), a copy per worker (modePrivate), a copy per worker
// with the evictions of modeEvict (the parameter rows a worker caught up,
// and a shard's buffers the other worker's update read, kernels.Evict),
// or a copy per worker of the transposed weights only, x·W reading W in
// place through Sgemm's strided path (modeDirect: half the catching up,
// at the price of the forward products reading the other worker's rows
// of W where the update left them).
//
// None changes a result; which is fastest depends on where the host puts
// the VM's vCPUs, which it changes while a process runs. On the 2-core
// EPYC, with the vCPUs far apart (a 460–500 ns ping-pong), a copy each was
// 3–9% faster than one; in rounds where one copy ran at 81–85k samples/s,
// a copy each with evictions ran at 71–72k, catching up and evicting being
// pure cost there; and separate runs disagreed on whether evicting pays.
// So the stepper tries another mode for a few steps every period, in
// turn, and keeps the fastest: a step's work is the same from step to
// step, so its wall time compares the modes directly.
type copyMode struct {
	cur          int // the mode of the next step
	base         int // the mode outside trials
	trialMode    int // the mode of the current period's trial
	periods      int
	n            int // steps counted in the current period
	trial, steps []time.Duration
}

const (
	modeShared = iota
	modePrivate
	modeEvict
	modeDirect
	numModes
)

const (
	modePeriod = 64 // steps per period, the first modeTrial a trial of another mode
	modeTrial  = 6  // the first step after a switch is not compared (it catches up a whole copy)
	// modeGain is how much faster (as a fraction) the trial must be for
	// the stepper to switch, so that noise does not flip the mode back
	// and forth.
	modeGain = 0.02
)

// copyModeHook, when set (tests), chooses the mode of step n instead.
var copyModeHook func(n int) int

func newCopyMode() copyMode {
	// The first period starts with its trial, like every other.
	m := copyMode{base: modePrivate, trialMode: modeShared, cur: modeShared}
	if copyModeHook != nil {
		m.cur = copyModeHook(0)
	}
	return m
}

// next records the duration of the step just run and sets the mode of the
// next one.
func (m *copyMode) next(d time.Duration) {
	m.n++
	if copyModeHook != nil {
		m.cur = copyModeHook(m.n)
		return
	}
	i := m.n - 1 // the step just run, in the period
	switch {
	case i >= 1 && i < modeTrial:
		m.trial = append(m.trial, d)
	case i >= modeTrial && i >= m.periodLen()-(modeTrial-1):
		m.steps = append(m.steps, d)
	}
	if m.n == m.periodLen() {
		if len(m.trial) > 0 && len(m.steps) > 0 && float64(median(m.trial)) < (1-modeGain)*float64(median(m.steps)) {
			m.base = m.trialMode
		}
		// The next trial: the other modes in turn.
		m.periods++
		m.trialMode = (m.base + 1 + m.periods%(numModes-1)) % numModes
		m.n, m.trial, m.steps = 0, m.trial[:0], m.steps[:0]
	}
	m.cur = m.base
	if m.n < modeTrial {
		m.cur = m.trialMode
	}
}

// periodLen is the number of steps in the current period. The first is
// short, so that a process that starts in the slower mode leaves it after
// 16 steps rather than 64.
func (m *copyMode) periodLen() int {
	if m.periods == 0 {
		return 16
	}
	return modePeriod
}

// median returns the median of d, reordering it.
func median(d []time.Duration) time.Duration {
	slices.Sort(d)
	return d[len(d)/2]
}
