package kernels

import "fmt"

// PackedB is the fixed right-hand operand of a dense layer, y = act(x·W +
// b), packed once for repeated products: an inference runtime owns its
// weights, so the packing Sgemm does per call (or the strided reads it does
// instead) can be paid once at load time. It holds two copies of W:
//
//   - the panel layout of Sgemm's blocked path (column chunks of about
//     ncMax, k-blocks of kcBlock(k), NR-wide zero-padded panels), which the
//     micro-kernel streams for products of many rows;
//   - a matrix-vector layout for single rows: strips of 64 columns (then
//     16, the last one zero-padded), each stored [k][width] contiguously,
//     so that a row's product streams W once, front to back, with no
//     stride for the prefetchers to follow.
//
// A PackedB is read-only after NewPackedB and safe for concurrent use.
type PackedB struct {
	k, n    int
	transB  bool
	kern    *microKernel
	kc      int
	chunks  []bChunk
	blocked []float32
	strips  []gStrip
	sdata   []float32
	sparse  sparseState
}

// bChunk is one column chunk [j0, j1) of the blocked layout at
// blocked[off:end], in gemmJob.packedB's order.
type bChunk struct{ j0, j1, off, end int }

// gStrip is one strip of the matrix-vector layout: columns [col,
// col+min(w, n-col)) at sdata[off:off+k*w], element (p, j) at off+p*w+j.
type gStrip struct{ col, w, off int }

// NewPackedB packs op(B), a k×n matrix (B itself is n×k when transB is
// set), with leading dimension ldb. It returns an error when the
// arguments are inconsistent (see CheckSgemm).
func NewPackedB(transB bool, k, n int, b []float32, ldb int) (*PackedB, error) {
	p, err := NewPackedPanels(transB, k, n)
	if err != nil {
		return nil, err
	}
	if err := p.Pack(b, ldb, 0, 1); err != nil {
		return nil, err
	}
	if k == 0 || n == 0 {
		return p, nil
	}

	// Matrix-vector strips: 64 wide while 64 columns remain, then 16.
	size := 0
	for col := 0; col < n; {
		w := 16
		if n-col >= 64 {
			w = 64
		}
		p.strips = append(p.strips, gStrip{col: col, w: w, off: size})
		size += w * k
		col += w
	}
	p.sdata = make([]float32, size)
	for _, s := range p.strips {
		d := p.sdata[s.off : s.off+s.w*k]
		for q := 0; q < k; q++ {
			for jj := 0; jj < min(s.w, n-s.col); jj++ {
				if transB {
					d[q*s.w+jj] = b[(s.col+jj)*ldb+q]
				} else {
					d[q*s.w+jj] = b[q*ldb+s.col+jj]
				}
			}
		}
	}
	return p, nil
}

// computePacked is compute for a pre-packed B, with the loops in the
// other order: each k-block of rows [i0, i1) of A is packed once into
// ws.abig (it stays in L2), then every B panel is run against all of its
// row tiles while it is in L1. The per-element arithmetic is that of
// compute: the same kernels over the same k-blocks.
func (j *gemmJob) computePacked(ws *workspace, i0, i1, jlo, jhi int) {
	kern := j.kern
	mr, nr := kern.mr, kern.nr
	tiles := (i1 - i0 + mr - 1) / mr
	look := j.packed != nil && j.packed.sparseOn(kern, ws)
	found := false
	for pc := 0; pc < j.k; pc += j.kc {
		kc := min(j.kc, j.k-pc)
		beta := float32(0)
		if pc > 0 {
			beta = 1
		}
		need := tiles * mr * kc
		if cap(ws.abig) < need {
			ws.abig = make([]float32, need)
		}
		ab := ws.abig[:need]
		for t := 0; t < tiles; t++ {
			ir := i0 + t*mr
			packA(kern, ab[t*mr*kc:(t+1)*mr*kc], j.a, j.lda, false, ir, min(mr, i1-ir), pc, kc)
		}
		sparse := look && ws.compactTiles(ab, tiles, min(mr, i1-i0-(tiles-1)*mr) == mr, kc, nr)
		found = found || sparse
		for jp := jlo; jp < jhi; jp++ {
			col := j.j0 + jp*nr
			w := min(nr, j.j1-col)
			off := j.packedB(pc, jp)
			bp := j.bp[off : off+kc*nr]
			for t := 0; t < tiles; t++ {
				ir := i0 + t*mr
				// The panel read next follows this one in bp (the k-block's
				// panels, then the next k-block's): each full tile fetches
				// its share of it into L2 (nothing past the end: pf = bp).
				pf := bp
				if pfo := off + kc*nr + t*kc*8; pfo+kc*8 <= len(j.bp) {
					pf = j.bp[pfo:]
				}
				if sparse && w == nr && ws.ank[t] >= 0 {
					kern.fullIdx(ws.ank[t], kc, ws.acomp[t*mr*kc:(t+1)*mr*kc], bp, nr, ws.aoff[t*kc:(t+1)*kc], j.c[ir*j.ldc+col:], j.ldc, j.alpha, beta, pf)
					continue
				}
				if kern.fullPF != nil && w == nr && i1-ir >= mr {
					kern.fullPF(kc, ab[t*mr*kc:(t+1)*mr*kc], bp, j.c[ir*j.ldc+col:], j.ldc, j.alpha, beta, pf)
					continue
				}
				j.tile(ws, kc, ab[t*mr*kc:(t+1)*mr*kc], mr, bp, nr, ir*j.ldc+col, min(mr, i1-ir), w, beta)
			}
		}
	}
	if look {
		j.packed.sparseSeen(found)
	}
	// The block is final: bias and activation while it is in L2.
	j.ep.apply(j.c, j.ldc, i0, i1, j.j0+jlo*nr, min(j.j1, j.j0+jhi*nr))
}

// packedNcMax is ncMax for PackedB: with no packing per call, a wider
// chunk (a 784-unit layer in one) saves a phase and a pass over A, and
// measured a few percent faster even though a k-block of it fills most of
// L2.
const packedNcMax = 1024

// K is the depth of the product (rows of op(B)).
func (p *PackedB) K() int { return p.k }

// N is the number of columns of op(B).
func (p *PackedB) N() int { return p.n }

// MulBiasAct computes C = act(A·op(B) + bias) for an m×k row-major A
// (leading dimension lda) into the m×n matrix C (leading dimension ldc);
// bias, when non-nil, has n elements and is added to every row. C is only
// written, never read. alpha is the activation's parameter, as for
// AddBiasAct.
//
// The bias and activation are applied to each block of C as soon as its
// product is complete, while it is in cache. Single rows take a
// matrix-vector path over the strip layout; larger products take Sgemm's
// blocked path over the pre-packed panels. Either way large products are
// split across GOMAXPROCS goroutines of a worker pool whose workers spin
// briefly between tasks, since an inference call is too short to absorb
// a sleeping worker's wake-up.
//
// Determinism: for fixed inputs, m and CPU kind the result is bit-identical
// from run to run and independent of GOMAXPROCS (work is split along rows
// and columns only). A single row rounds differently from a row of a
// larger batch: each column then sums even and odd k separately.
//
// MulBiasAct panics if the arguments are inconsistent (slices too short,
// leading dimensions too small, bias of the wrong length, unknown act).
func (p *PackedB) MulBiasAct(m int, a []float32, lda int, c []float32, ldc int, bias []float32, act Act, alpha float32) {
	p.MulBiasActThen(m, a, lda, c, ldc, bias, act, alpha, nil)
}

// MulBiasActThen is MulBiasAct that also calls then(i0, i1, c0, c1) for
// every block of C (rows [i0, i1), columns [c0, c1)) as soon as the block
// is final, on the goroutine that computed it, while it is in cache. The
// blocks partition C; calls may run concurrently, so then must only touch
// data of its own block. A runtime uses it to derive a second output from
// the first (a decoder's output in data units from its probabilities)
// without another pass over memory.
func (p *PackedB) MulBiasActThen(m int, a []float32, lda int, c []float32, ldc int, bias []float32, act Act, alpha float32, then func(i0, i1, c0, c1 int)) {
	p.check("MulBiasAct", m, a, lda, c, ldc, bias, act)
	if m == 0 || p.n == 0 {
		return
	}
	ep := epilogue{on: bias != nil || act != Linear, bias: bias, act: act, alpha: alpha, then: then}
	if p.k == 0 {
		scaleC(c, m, p.n, ldc, 0)
		ep.apply(c, ldc, 0, m, 0, p.n)
		return
	}
	if m == 1 && p.sdata != nil {
		job := jobPool.Get().(*gemmJob)
		job.refs.Store(1)
		job.gemmState = gemmState{kern: p.kern, m: m, k: p.k, alpha: 1, a: a, lda: lda,
			c: c, ldc: ldc, kc: p.kc, packed: p, ep: ep, spin: true}
		parts := 1
		if p.k*p.n >= gemvParallelMin {
			parts = min(spinWorkers(), len(p.strips))
		}
		job.runPhase(phaseGemv, parts)
		job.release()
		return
	}
	parts := 1
	if m*p.n*p.k >= parallelMin {
		parts = spinWorkers()
	}
	p.blockedProduct(m, a, lda, c, ldc, ep, true, parts)
}

// MulBiasActRows is MulBiasActThen for rows [i0, i1) only (of A, and of
// C, which hold at least i1 rows), computed on the calling goroutine;
// then receives row indices of the whole C. It is for callers that split
// a batch across cores themselves (ParallelRows), e.g. to take a block of
// rows through every layer of a network in one parallel phase, while the
// block's activations are in that core's cache, instead of one phase
// (and one synchronisation) per layer.
//
// Rows of C do not depend on each other and a row's arithmetic does not
// depend on the block: when i0 is a multiple of RowTile() and i1 one too
// or the number of rows of C, the result is bit-identical to
// MulBiasActThen's for more than one row. A single row, here, takes the
// blocked path too.
func (p *PackedB) MulBiasActRows(i0, i1 int, a []float32, lda int, c []float32, ldc int, bias []float32, act Act, alpha float32, then func(i0, i1, c0, c1 int)) {
	if i0 < 0 || i1 < i0 {
		panic(fmt.Sprintf("kernels: MulBiasActRows: rows [%d, %d)", i0, i1))
	}
	p.check("MulBiasActRows", i1, a, lda, c, ldc, bias, act)
	if i0 == i1 || p.n == 0 {
		return
	}
	ep := epilogue{on: bias != nil || act != Linear, bias: bias, act: act, alpha: alpha, then: then}
	if p.k == 0 {
		scaleC(c[i0*ldc:], i1-i0, p.n, ldc, 0)
		ep.apply(c, ldc, i0, i1, 0, p.n)
		return
	}
	job := jobPool.Get().(*gemmJob)
	job.refs.Store(1)
	job.gemmState = gemmState{kern: p.kern, m: i1, k: p.k, alpha: 1, a: a, lda: lda,
		c: c, ldc: ldc, kc: p.kc, packed: p, ep: ep}
	ws := getWorkspace(p.kern)
	nr := p.kern.nr
	for _, ch := range p.chunks {
		job.j0, job.j1, job.p0, job.p1 = ch.j0, ch.j1, 0, p.k
		job.panels = (ch.j1 - ch.j0 + nr - 1) / nr
		job.bp = p.blocked[ch.off:ch.end]
		job.computePacked(ws, i0, i1, 0, job.panels)
	}
	wsPool.Put(ws)
	job.release()
}

// RowTile is the number of rows one micro-kernel call covers: block
// bounds that are multiples of it keep MulBiasActRows's results those of
// the whole product.
func RowTile() int { return active.mr }

// check panics unless the arguments of a product of m rows are
// consistent.
func (p *PackedB) check(op string, m int, a []float32, lda int, c []float32, ldc int, bias []float32, act Act) {
	if m < 0 {
		panic(fmt.Sprintf("kernels: %s: negative m=%d", op, m))
	}
	if err := checkMatrix("A", a, m, p.k, lda); err != nil {
		panic(err)
	}
	if err := checkMatrix("C", c, m, p.n, ldc); err != nil {
		panic(err)
	}
	if bias != nil && len(bias) != p.n {
		panic(fmt.Sprintf("kernels: %s: bias has %d elements, want %d", op, len(bias), p.n))
	}
	if int(act) >= len(actNames) {
		panic(fmt.Sprintf("kernels: %s: unknown activation %v", op, act))
	}
}

// blockedProduct runs the product over the pre-packed panels in up to
// parts parts, on the spinning pool (spin) or the sleeping one.
func (p *PackedB) blockedProduct(m int, a []float32, lda int, c []float32, ldc int, ep epilogue, spin bool, parts int) {
	job := jobPool.Get().(*gemmJob)
	job.refs.Store(1)
	job.gemmState = gemmState{kern: p.kern, m: m, k: p.k, alpha: 1, a: a, lda: lda,
		c: c, ldc: ldc, kc: p.kc, packed: p, ep: ep, spin: spin}
	nr := p.kern.nr
	for _, ch := range p.chunks {
		job.j0, job.j1, job.p0, job.p1 = ch.j0, ch.j1, 0, p.k
		job.panels = (ch.j1 - ch.j0 + nr - 1) / nr
		job.bp = p.blocked[ch.off:ch.end]
		job.runChunk(parts)
	}
	job.release()
}

// gemvParallelMin is the size of B (elements) from which a single row's
// product is split across cores. Below it B sits in one core's L2 and a
// hand-off costs more than it saves; above it each core streams its own
// part of B (which then stays in that core's L2 from call to call).
const gemvParallelMin = 1 << 15

// gemvPart computes the strips of part out of parts for the single row
// j.a, then applies the epilogue to those columns.
func (j *gemmJob) gemvPart(ws *workspace, part, parts int) {
	p := j.packed
	lo, hi := p.stripSplit(part, parts)
	if lo == hi {
		return
	}
	x := j.a[:p.k]
	for _, s := range p.strips[lo:hi] {
		b := p.sdata[s.off : s.off+s.w*p.k]
		if s.col+s.w <= p.n {
			gemvStrip(j.c[s.col:s.col+s.w], x, b, p.k, s.w)
			continue
		}
		t := ws.tile[:s.w]
		gemvStrip(t, x, b, p.k, s.w)
		copy(j.c[s.col:p.n], t)
	}
	c0 := p.strips[lo].col
	c1 := min(p.n, p.strips[hi-1].col+p.strips[hi-1].w)
	j.ep.apply(j.c, j.ldc, 0, 1, c0, c1)
}

// stripSplit returns the strips [lo, hi) of part out of parts: the part
// boundaries are the strip boundaries nearest to equal column shares.
func (p *PackedB) stripSplit(part, parts int) (lo, hi int) {
	return p.stripBound(part, parts), p.stripBound(part+1, parts)
}

func (p *PackedB) stripBound(part, parts int) int {
	if part <= 0 {
		return 0
	}
	if part >= parts {
		return len(p.strips)
	}
	target := part * p.n / parts
	best, bestD := 0, p.n+1
	for i, s := range p.strips {
		if d := abs(s.col - target); d < bestD {
			best, bestD = i, d
		}
	}
	return best
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// gemvStripGo is the portable strip kernel: t[j] = Σ_p x[p]·b[p*w+j] with
// even and odd p summed separately, as the vector kernels do.
func gemvStripGo(t, x, b []float32, k, w int) {
	for jj := 0; jj < w; jj++ {
		var even, odd float32
		p := 0
		for ; p+1 < k; p += 2 {
			even += x[p] * b[p*w+jj]
			odd += x[p+1] * b[(p+1)*w+jj]
		}
		if p < k {
			even += x[p] * b[p*w+jj]
		}
		t[jj] = even + odd
	}
}

// epilogue is the bias and activation applied to finished blocks of C.
type epilogue struct {
	on    bool
	bias  []float32
	act   Act
	alpha float32
	then  func(i0, i1, c0, c1 int) // MulBiasActThen's
}

// apply sets C[i, j] = act(C[i, j] + bias[j]) for rows [i0, i1) and
// columns [c0, c1), then calls e.then on the block.
func (e *epilogue) apply(c []float32, ldc, i0, i1, c0, c1 int) {
	if c0 >= c1 {
		return
	}
	if e.then != nil {
		defer e.then(i0, i1, c0, c1)
	}
	if !e.on {
		return
	}
	var b []float32
	if e.bias != nil {
		b = e.bias[c0:c1]
	}
	for i := i0; i < i1; i++ {
		row := c[i*ldc+c0 : i*ldc+c1]
		if biasActRow(row, b, e.act, e.alpha) {
			continue
		}
		if b != nil {
			addTo(row, b)
		}
		applyAct(row, e.act, e.alpha)
	}
}
