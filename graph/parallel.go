package graph

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/vaec/vaec/ir"
	"github.com/vaec/vaec/kernels"
)

// The data-parallel training step.
//
// A batch of B examples is cut into shards of consecutive rows, each with
// a net of its own (graph, tape, buffers) built for its row count and
// sharing the parameters' arrays, which nothing writes while the shards
// run. One step is two phases, each ended by one barrier, with more for
// an MLP's large layers:
//
//  0. first layer (bands.go): the layer on the model's input, cut into
//     bands of its inputs, each band's partial product for the whole
//     batch computed by one goroutine, which also updates those rows of
//     the weight, so that they never move between cores.
//  1. shards: each shard copies its rows of x and ε into its net and runs
//     forward and backward (with the decoder's output layer in bands too,
//     in three segments: up to that layer's input; its band phase; the
//     loss and its gradient; the band phase of the layer's input
//     gradient; the rest); shards are claimed by up to
//     min(GOMAXPROCS, shards) goroutines, and every product inside a
//     shard runs on kernels.Threads() goroutines (one, on two cores).
//     The caller then adds the shards' loss terms in shard order.
//  2. update: the parameters are cut into chunks of optChunk elements at
//     fixed boundaries; for each chunk, claimed by whichever goroutine is
//     free, the shards' gradients are added in shard order and the
//     optimizer updates the chunk while it is in cache. With global-norm
//     clipping the sum and the update are two passes (the norm needs every
//     gradient), a third barrier.
//
// The shard boundaries depend only on the model and the batch size
// (shardBounds), the chunk boundaries only on the parameter shapes, and
// each shard and chunk computes the same operations whichever goroutine
// runs it, so weights are bit-identical for any GOMAXPROCS. They differ
// from an unsharded step's (the gradient of a weight is a sum of per-shard
// sums instead of one sum over the batch), which is why the shard size is
// a constant of the design rather than a tuning knob.

// shardRows is the number of rows a shard aims at. 64 rows keep a
// shard's products large enough for the micro-kernel (8 rows a tile)
// and its gradient GEMMs (k = rows) efficient, while a batch of 128 gives
// two shards, one per core of the development machine; see the scaling
// notes in doc.go for larger machines.
const shardRows = 64

// maxShards bounds the nets built per batch size.
const maxShards = 64

// optChunk is the number of parameter elements one update task covers:
// its gradients, values and moments (5 arrays of 64 KB for Adam with two
// shards) stay in a core's L2 while the sum and the update pass over them.
const optChunk = 1 << 14

// shardBounds returns the first row of every shard and, last, batch:
// batch/shardRows shards (at least one), the remainder spread over the
// first ones. A model with batch norm has one shard, because its batch
// statistics couple all rows of the batch.
func shardBounds(m *ir.Model, batch int) []int {
	shards := min(max(1, batch/shardRows), maxShards)
	if hasBatchNorm(m) {
		shards = 1
	}
	lo := make([]int, shards+1)
	q, r := batch/shards, batch%shards
	for k := range shards {
		lo[k+1] = lo[k] + q
		if k < r {
			lo[k+1]++
		}
	}
	return lo
}

func hasBatchNorm(m *ir.Model) bool {
	for _, g := range []*ir.Graph{&m.Encoder, &m.Decoder} {
		for i := range g.Nodes {
			if g.Nodes[i].Op == ir.BatchNorm {
				return true
			}
		}
	}
	return false
}

// stepper runs data-parallel training steps for one batch size.
type stepper struct {
	batch, samples, latent int
	lo                     []int  // shard row bounds, len(shards)+1
	shards                 []*net // one per shard
	equal                  bool   // every shard has the same rows
	coef                   []float32

	// labels and classes: a conditional model's y (condition.go), the
	// training set's labels indexed like x.
	labels  []int
	classes int

	params [][]float32 // the trainable parameters, shared with the trainer
	chunks []chunk
	// orders holds the update's claim orders of chunks by worker count
	// (claimOrder).
	orders map[int][]int
	ss     []float64 // per chunk: Σ g² (clipping only)
	eps    []float32 // the whole batch's ε, drawn in one sequence

	res   []shardResult // per shard, from the last run
	grads [][][]float32 // per shard, per parameter: the gradient arrays its tape writes

	// packed lists per parameter the packed weights the shards' products
	// read (prepack.go), uses per shard its products' references to them.
	packed [][]*packedWeight
	uses   [][]packedUse
	caught [][]chunk  // per worker: the rows its last catching up packed (prepack.go)
	wgrads []*wgrad   // per parameter: non-nil when the update computes its gradient (wgrad.go)
	first  *bandLayer // the first layer in bands of its inputs, or nil (bands.go)
	out    *bandLayer // the decoder's output layer in bands of its inputs, or nil
	nstep  uint64     // steps begun: which step a band's gathered inputs are from (bands.go)
	packs  *packSet   // the trainer's packed weights, shared by its steppers

	// mode chooses between a packed copy per worker (with or without
	// evicting, or of the transposed weights only) and one for all;
	// stepMode is the mode of the current step (modeShared on one
	// worker), began the step's start.
	mode     copyMode
	stepMode int
	began    time.Time

	prof *stepProfile // nil unless profiling
	crew *crew        // helper goroutines for the parallel phases (crew.go)
}

// shardResult is what one shard's run returns.
type shardResult struct {
	recon, kl, loss, bound float64
	err                    error
}

// chunk is elements [lo, hi) of parameter i; band is 1 plus the band of
// the banded first layer (bands.go) the rows are in, 0 for other weights.
type chunk struct{ i, lo, hi, band int }

// newStepper builds the shards' nets for batch rows of m. params are the
// trainable parameters' arrays, in m.Trainable order, backing w.
func newStepper(m *ir.Model, params [][]float32, batch, samples int, packs *packSet, build func(rows int) (*net, error)) (*stepper, error) {
	if packs == nil {
		packs = newPackSet()
	}
	s := &stepper{batch: batch, samples: samples, latent: m.Latent, lo: shardBounds(m, batch), params: params, packs: packs}
	s.equal = true
	for k := 0; k+1 < len(s.lo); k++ {
		rows := s.lo[k+1] - s.lo[k]
		n, err := build(rows)
		if err != nil {
			s.close()
			return nil, err
		}
		s.shards = append(s.shards, n)
		s.coef = append(s.coef, float32(float64(rows)/float64(batch)))
		if rows != s.lo[1] {
			s.equal = false
		}
	}
	s.res = make([]shardResult, len(s.shards))
	// Each tape computes into buffers allocated once, so the gradient
	// arrays are fixed for the stepper's life.
	for _, n := range s.shards {
		g := make([][]float32, len(params))
		for i := range params {
			var err error
			if g[i], err = n.grad(i); err != nil {
				s.close()
				return nil, err
			}
			if len(g[i]) != len(params[i]) {
				s.close()
				return nil, errorf("gradient of %s: %d values, want %d", n.p.trained[i].Name(), len(g[i]), len(params[i]))
			}
		}
		s.grads = append(s.grads, g)
	}
	if err := s.attachPacked(); err != nil {
		s.close()
		return nil, err
	}
	s.deferGrads(m.Train.ClipNorm == 0)
	if err := s.setupBands(); err != nil {
		s.close()
		return nil, err
	}
	s.eps = make([]float32, samples*batch*m.Latent)
	for i, p := range params {
		if bl := s.bandsOf(i); bl != nil {
			s.chunks = append(s.chunks, bandChunks(bl)...)
			continue
		}
		size := optChunk
		switch {
		case s.wgrads[i] != nil:
			size = chunkRows(s.wgrads[i].out) * s.wgrads[i].out
		case len(s.packed[i]) > 0:
			// Whole rows, 8 at a time, so that the update can refresh
			// the packed copies row by row (prepack.go).
			cols := s.packed[i][0].cols
			size = chunkRows(cols) * cols
		}
		for lo := 0; lo < len(p); lo += size {
			s.chunks = append(s.chunks, chunk{i: i, lo: lo, hi: min(len(p), lo+size)})
		}
	}
	s.ss = make([]float64, len(s.chunks))
	s.mode = newCopyMode()
	return s, nil
}

func (s *stepper) close() {
	for _, n := range s.shards {
		n.close()
	}
	if s.crew != nil {
		s.crew.stop()
	}
}

// forward draws ε for the whole batch from rng (the same draws, in the same
// order, as an unsharded step), copies rows idx of x ([*, d] row-major)
// and ε into the shards, and runs every shard forward and backward. It
// returns the batch's summed reconstruction term and KL, its loss per
// example and the summed trained bound (0 for the plain ELBO).
func (s *stepper) forward(x []float32, d int, idx []int, rng *rand.Rand, klw float32) (recon, kl, loss, bound float64, err error) {
	t0 := time.Now()
	s.began = t0
	s.nstep++
	fillNormal(rng, s.eps)
	var t1 time.Time
	if s.prof != nil {
		t1 = time.Now()
		s.prof.add(phaseDraw, t1.Sub(t0), t1.Sub(t0)) // one core works
	}
	// bandPhase runs fn for every band of bl (bands.go) and accounts the
	// phase to the profile's phase ph.
	bandPhase := func(bl *bandLayer, ph int, fn func(c int)) error {
		busy := s.parallel(len(bl.packs), func(_, c int) { fn(c) })
		if s.prof != nil {
			t2 := time.Now()
			s.prof.add(ph, t2.Sub(t1), busy)
			t1 = t2
		}
		for _, err := range bl.err {
			if err != nil {
				return err
			}
		}
		return nil
	}
	if bl := s.first; bl != nil {
		// The first layer, band by band, for the whole batch.
		if err := bandPhase(bl, phaseBands, func(c int) { s.firstForward(c, x, d, idx) }); err != nil {
			return 0, 0, 0, 0, err
		}
	}
	// Room for a packed copy per worker that may run a shard: the phase
	// admits workers [0, slots) (crew.go).
	slots := min(runtime.GOMAXPROCS(0), len(s.shards))
	s.growCopies(slots)
	// A copy per worker, with or without evicting, or one for all
	// (copyMode, prepack.go); one is brought up to date here, before the
	// shards read it.
	s.stepMode = modeShared
	if slots > 1 {
		s.stepMode = s.mode.cur
	}
	if s.stepMode == modeShared {
		if err := s.catchUp(0); err != nil {
			return 0, 0, 0, 0, err
		}
	}
	for k := range s.res {
		s.res[k] = shardResult{}
	}
	// With the output layer in bands the shards run their tapes in three
	// segments, with its band phases between them (bands.go).
	segs := wholeTape
	if s.out != nil {
		segs = tapeSegments
	}
	for _, seg := range segs {
		switch seg {
		case segLoss:
			if err := bandPhase(s.out, phaseOutBands, s.outForward); err != nil {
				return 0, 0, 0, 0, err
			}
		case segBack:
			if err := bandPhase(s.out, phaseOutBands, s.outBackward); err != nil {
				return 0, 0, 0, 0, err
			}
		}
		busy := s.parallel(len(s.shards), func(w, k int) {
			if seg <= 0 && !s.startShard(w, k, x, d, idx) {
				return
			}
			n := s.shards[k]
			if seg == segLoss {
				s.bandOutput(s.out, k)
			}
			res := &s.res[k]
			res.recon, res.kl, res.loss, res.err = n.runSeg(klw, seg)
			if seg < 0 || seg == numSegs-1 {
				s.checkFinite(k)
				if n.bound != nil {
					res.bound = n.bound.bound
				}
			}
		})
		if s.prof != nil {
			t2 := time.Now()
			s.prof.add(phaseShards, t2.Sub(t1), busy)
			t1 = t2
		}
		for _, res := range s.res {
			if res.err != nil {
				return 0, 0, 0, 0, res.err
			}
		}
	}
	// The loss reduction: scalars, added in shard order.
	for k, res := range s.res {
		if res.err != nil {
			return 0, 0, 0, 0, res.err
		}
		recon += res.recon
		kl += res.kl
		loss += float64(s.lo[k+1]-s.lo[k]) * res.loss
		bound += res.bound
	}
	return recon, kl, loss / float64(s.batch), bound, nil
}

// The segments a shard's phases run: the whole tape at once (net.runSeg's
// −1), or its three segments (bands.go).
var wholeTape, tapeSegments = []int{-1}, []int{segHead, segLoss, segBack}

// startShard prepares shard k on worker w for its run: its packed
// weights, its rows of x and ε (idx of x, [*, d] row-major), and the
// first layer's output when that is in bands. It reports false, with the
// shard's error set, when it cannot.
func (s *stepper) startShard(w, k int, x []float32, d int, idx []int) bool {
	if s.stepMode == modeShared {
		s.pointShard(k, 0)
	} else {
		if err := s.prepareShard(k, w); err != nil {
			s.res[k].err = err
			return false
		}
		if s.stepMode == modeEvict {
			s.evictShared(k)
		}
	}
	n := s.shards[k]
	lo, hi := s.lo[k], s.lo[k+1]
	fillRows(n.xv.Data().([]float32), x, d, idx[lo:hi])
	if n.yv != nil {
		if err := fillCondition(n.yv.Data().([]float32), n.ysv.Data().([]float32), s.labels, idx[lo:hi], s.classes); err != nil {
			s.res[k].err = err
			return false
		}
	}
	// Row r·B+i of ε belongs to example i in sample r; the shard's
	// rows are r·b+(i−lo).
	eps, l, b := n.epsv.Data().([]float32), s.latent, hi-lo
	for r := range s.samples {
		copy(eps[r*b*l:(r+1)*b*l], s.eps[(r*s.batch+lo)*l:(r*s.batch+hi)*l])
	}
	if s.first != nil {
		s.bandOutput(s.first, k)
	}
	return true
}

// update adds the shards' gradients and applies optimizer step number step
// to the parameters.
func (s *stepper) update(o *optimizer, step int64) {
	var t0 time.Time
	if s.prof != nil {
		t0 = time.Now()
	}
	grads := s.grads
	// The gradient update applies: the shards' sum, scaled by gradScale.
	// With equal shards each is a mean over b rows, the batch's mean is
	// their sum over the shard count; with unequal ones each shard is
	// weighted by its share of the batch while summing.
	gradScale := float32(1)
	if s.equal {
		gradScale = 1 / float32(len(s.shards))
	}
	// The sum goes into the first shard's gradient arrays, which its tape
	// overwrites before reading them again: no buffer of its own, and one
	// array less streamed through the cache.
	target := func(i int) []float32 { return grads[0][i] }
	reduce := func(c chunk) []float32 {
		switch {
		case len(grads) == 1:
		case s.equal:
			sumInto(grads, c)
		default:
			weightedSumInto(grads, s.coef, c)
		}
		return grads[0][c.i]
	}
	var busy time.Duration
	if o.clip > 0 {
		order := s.claimOrder()
		busy = s.parallel(len(s.chunks), func(_, j int) {
			j = order[j]
			c := s.chunks[j]
			s.ss[j] = sumSquares(reduce(c)[c.lo:c.hi])
		})
		var ss float64
		for _, v := range s.ss {
			ss += v
		}
		o.begin(step, ss, gradScale)
		busy += s.parallel(len(s.chunks), func(w, j int) {
			c := s.chunks[order[j]]
			o.update(c.i, s.params[c.i], target(c.i), c.lo, c.hi)
			s.repack(s.copyFor(w), c)
		})
	} else {
		o.begin(step, 0, gradScale)
		order := s.claimOrder()
		busy = s.parallel(len(s.chunks), func(w, j int) {
			c := s.chunks[order[j]]
			defer s.repack(s.copyFor(w), c)
			if s.wgrads[c.i] != nil {
				s.updateDeferred(o, c)
				return
			}
			if k := len(grads); k > 1 && s.equal {
				// All but the last shard summed in order, the last one
				// added inside the optimizer's pass: the same sum.
				g0 := grads[0][c.i]
				if k > 2 {
					sumInto(grads[:k-1], c)
				}
				if o.updateSum(c.i, s.params[c.i], g0, grads[k-1][c.i], c.lo, c.hi) {
					return
				}
				kernels.AddTo(g0[c.lo:c.hi], grads[k-1][c.i][c.lo:c.hi])
				o.update(c.i, s.params[c.i], g0, c.lo, c.hi)
				return
			}
			o.update(c.i, s.params[c.i], reduce(c), c.lo, c.hi)
		})
	}
	// The parameters changed; the rows each worker repacked are current in
	// the copy it wrote, every other copy of them is now behind.
	s.packs.version++
	if min(runtime.GOMAXPROCS(0), len(s.shards)) > 1 {
		s.mode.next(time.Since(s.began))
	}
	if s.prof != nil {
		s.prof.add(phaseUpdate, time.Since(t0), busy)
		s.prof.steps++
	}
}

// claimOrder returns the order in which the update's workers claim the
// chunks for the current worker count: the chunks cut into as many bands
// as workers by their place in their parameter, each band in parameter
// order. A worker's contiguous share of the list (crew.work) is then
// about one band, the same part of every parameter, so the workers'
// updates cost about the same, and so does catching up each other's rows
// in their packed copies before the next shards (prepack.go); in plain
// parameter order one of two workers updated W1 and the other the
// decoder's output weights, which are packed twice (x·W and dz·Wᵀ).
// Within a band a worker still goes parameter by parameter, keeping one
// layer's inputs and output gradients in cache at a time. With one copy
// for all workers (copyMode) there is nothing to catch up, and parameter
// order is kept: a weight's gradient then needs its layer's inputs and
// output gradients on one core only, where bands have every core read
// every layer's. Which worker updates a chunk never changes what it
// computes; clipping's sum of squares is added in chunk order, not in
// this one.
func (s *stepper) claimOrder() []int {
	workers := min(runtime.GOMAXPROCS(0), len(s.chunks))
	if s.stepMode == modeShared {
		workers = 1 // parameter order
	}
	if o, ok := s.orders[workers]; ok {
		return o
	}
	band := func(j int) int {
		c := s.chunks[j]
		if c.band > 0 {
			// A band of the first layer goes to the worker that computes
			// its forward pass: with fw workers in that phase, crew.work
			// gives worker w items [w·nb/fw, (w+1)·nb/fw) first.
			nb := len(s.bandsOf(c.i).packs)
			fw := min(runtime.GOMAXPROCS(0), nb)
			w := fw - 1
			for w > 0 && w*nb/fw > c.band-1 {
				w--
			}
			return min(w, workers-1)
		}
		mid := float64(c.lo+c.hi) / float64(2*len(s.params[c.i]))
		return min(workers-1, int(mid*float64(workers)))
	}
	o := make([]int, len(s.chunks))
	for j := range o {
		o[j] = j
	}
	// Stable: within a band, chunks stay in parameter order.
	slices.SortStableFunc(o, func(a, b int) int { return cmp.Compare(band(a), band(b)) })
	if s.orders == nil {
		s.orders = map[int][]int{}
	}
	s.orders[workers] = o
	return o
}

// evictShared evicts from the caches what shard k is about to overwrite
// and another worker read in the last update: its inputs and output
// gradients of the weights whose gradients the update computes
// (wgrad.go), and its gradients of the other parameters, which the
// update summed. Without it, the shard's first write to each of those
// lines waits for the other core's copy to be invalidated (see
// kernels.Evict). Used in modeEvict only (copyMode, prepack.go).
func (s *stepper) evictShared(k int) {
	for i, w := range s.wgrads {
		if w != nil {
			kernels.Evict(w.x[k])
			kernels.Evict(w.dz[k])
			continue
		}
		kernels.Evict(s.grads[k][i])
	}
}

// sumInto adds the other shards' gradients over chunk c to the first
// shard's, in shard order (kernels.AddTo: 16 lanes at a time, the Go
// loop's bits).
func sumInto(grads [][][]float32, c chunk) {
	dst := grads[0][c.i][c.lo:c.hi]
	for _, g := range grads[1:] {
		kernels.AddTo(dst, g[c.i][c.lo:c.hi])
	}
}

// weightedSumInto sets the first shard's gradient over chunk c to
// Σ_k coef[k]·g_k, added in shard order; the float32 conversions forbid
// fused multiply-adds, which would round differently on the architectures
// where Go contracts them.
func weightedSumInto(grads [][][]float32, coef []float32, c chunk) {
	dst := grads[0][c.i][c.lo:c.hi]
	c0 := coef[0]
	for j, v := range dst {
		dst[j] = float32(c0 * v)
	}
	for k, g := range grads[1:] {
		src := g[c.i][c.lo:c.hi]
		src = src[:len(dst)]
		ck := coef[k+1]
		for j, v := range src {
			dst[j] += float32(ck * v)
		}
	}
}

// parallel calls fn(w, j) for every j in [0, count), each j claimed by
// the first free one of up to min(GOMAXPROCS, count) goroutines (the
// caller, worker w = 0, and the crew's members, w their index), and
// returns the time they spent in fn, summed (when profiling). While it
// runs, the kernels split their work over the remaining cores only
// (kernels.Share). What fn(w, j) computes must not depend on w.
func (s *stepper) parallel(count int, fn func(w, j int)) time.Duration {
	workers := min(runtime.GOMAXPROCS(0), count)
	if workers <= 1 {
		var t0 time.Time
		if s.prof != nil {
			t0 = time.Now()
		}
		for j := range count {
			fn(0, j)
		}
		if s.prof != nil {
			return time.Since(t0)
		}
		return 0
	}
	done := kernels.Share(workers)
	defer done()
	if s.crew == nil {
		s.crew = newCrew()
	}
	return s.crew.run(count, workers-1, s.prof != nil, fn)
}

// The phases of a step, as stepProfile reports them.
const (
	phaseDraw     = iota // drawing ε (the trainer's generator: one sequence)
	phaseBands           // the first layer's forward pass, band by band (bands.go)
	phaseShards          // forward and backward of every shard
	phaseOutBands        // the output layer's band phases, forward and backward (bands.go)
	phaseUpdate          // gradient sum and optimizer
	numPhases
)

var phaseNames = [numPhases]string{"draw ε", "first layer", "shards (fwd+bwd)", "output layer", "sum + optimizer"}

// stepProfile accumulates the wall time of each phase and the time the
// goroutines spent working in it, from which the idle share of the cores
// follows: 1 − busy/(wall·cores).
type stepProfile struct {
	wall, busy [numPhases]time.Duration
	steps      int
}

func (p *stepProfile) add(phase int, wall, busy time.Duration) {
	p.wall[phase] += wall
	p.busy[phase] += busy
}

// report formats the profile for procs cores.
func (p *stepProfile) report(procs int) string {
	if p.steps == 0 {
		return "no steps\n"
	}
	var b strings.Builder
	var total time.Duration
	for _, w := range p.wall {
		total += w
	}
	fmt.Fprintf(&b, "%-18s %10s %6s %10s %6s\n", "phase", "µs/step", "share", "busy µs", "idle")
	for ph := range numPhases {
		w, bz := p.wall[ph], p.busy[ph]
		if w == 0 {
			continue // a phase that did not run
		}
		idle := 1 - float64(bz)/(float64(w)*float64(procs))
		fmt.Fprintf(&b, "%-18s %10.1f %5.1f%% %10.1f %5.1f%%\n", phaseNames[ph],
			us(w, p.steps), 100*float64(w)/float64(total), us(bz, p.steps), 100*max(0, idle))
	}
	fmt.Fprintf(&b, "%-18s %10.1f   (idle: the share of %d cores' time in the phase spent waiting)\n", "total", us(total, p.steps), procs)
	return b.String()
}

func us(d time.Duration, steps int) float64 { return float64(d.Nanoseconds()) / 1e3 / float64(steps) }
