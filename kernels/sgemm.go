package kernels

import (
	"fmt"
	"sync"
	"sync/atomic"
)

// Blocking parameters. kcMax bounds the depth of one packed block so that a
// packed A micro-panel (mr·kc floats) stays in L1 and a packed B block
// (kc·n floats) stays in L2 while the micro-kernel streams over it.
// packMax bounds the packed-B buffer for very large products.
const (
	kcMax   = 256
	packMax = 1 << 22 // floats in one packed-B chunk (16 MiB)
	// parallelMin is the number of multiply-adds (m·n·k) above which a
	// product is split across goroutines; below it the hand-off costs more
	// than it saves.
	parallelMin = 1 << 19
)

// kernelFunc computes the full mr×nr tile
//
//	C[0:mr, 0:nr] = alpha·Ap·Bp + beta·C
//
// from a packed A micro-panel (a[p*mr+i]) and a packed B micro-panel
// (b[p*nr+j]) of depth kc. C is row-major with leading dimension ldc. When
// beta is zero C is not read.
type kernelFunc func(kc int, a, b, c []float32, ldc int, alpha, beta float32)

// microKernel describes one register-tiled micro-kernel.
type microKernel struct {
	name   string
	mr, nr int
	full   kernelFunc
	// fullPF, when set, is full that also prefetches kc·8 floats from
	// pf into L2 over the call (the next panel of a packed B).
	fullPF func(kc int, a, b, c []float32, ldc int, alpha, beta float32, pf []float32)
	// strided, when set, is full with explicit strides between k steps:
	// a[p*astride+i] and b[p*bstride+j]. With astride = lda it reads a
	// transposed A in place, with bstride = ldb a row-major B, when the
	// panels are reused too few times to pay for packing them.
	strided func(kc int, a []float32, astride int, b []float32, bstride int, c []float32, ldc int, alpha, beta float32)
	// fullIdx, when set, is full over n steps of a compacted A tile
	// (compactA) against the rows of a B panel (kc steps, bstride floats
	// apart) at the byte offsets off; pf as for fullPF.
	fullIdx func(n, kc int, a, b []float32, bstride int, off []int32, c []float32, ldc int, alpha, beta float32, pf []float32)
	// narrow, when set, computes an mr×16 tile from 16 columns of B, with
	// strides as for strided; it covers partial panels.
	narrow func(kc int, a []float32, astride int, b []float32, bstride int, c []float32, ldc int, alpha, beta float32)
	// transpose8, when set, transposes blocks consecutive 8×8 blocks:
	// dst[(8b+q)*ldd+i] = src[i*lds+8b+q]. Packing a row-major A (for
	// mr == 8) and a transposed B are such transposes, the slowest part of
	// packing.
	transpose8 func(dst []float32, ldd int, src []float32, lds int, blocks int)
	// gemvN and gemvT, when set, compute t[j] = Σ_p x[p]·op(B)[p,j] for a
	// single row (the m == 1 path), with op(B) = B and Bᵀ respectively.
	gemvN func(t, x, b []float32, ldb, k, n int)
	gemvT func(t, x, b []float32, ldb, k, n int)
}

// ncMax bounds the columns of C handled per pass, so that a k-block of B
// (kc·ncMax floats, ~400 KB) stays in L2 while every row tile streams over
// it. A variable for the tests' sake.
var ncMax = 512

// active is the micro-kernel chosen for this CPU; tests swap it to cover
// every implementation the CPU supports.
var active = bestKernel()

// CheckSgemm reports whether the arguments describe a valid Sgemm call: sizes
// non-negative, leading dimensions at least the row length of each stored
// matrix, slices long enough. The error names the offending argument.
func CheckSgemm(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) error {
	if m < 0 || n < 0 || k < 0 {
		return fmt.Errorf("kernels: sgemm: negative size m=%d n=%d k=%d", m, n, k)
	}
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	if err := checkMatrix("A", a, ar, ac, lda); err != nil {
		return err
	}
	if err := checkMatrix("B", b, br, bc, ldb); err != nil {
		return err
	}
	return checkMatrix("C", c, m, n, ldc)
}

func checkMatrix(name string, x []float32, rows, cols, ld int) error {
	if ld < max(1, cols) {
		return fmt.Errorf("kernels: sgemm: leading dimension of %s is %d, want >= %d (%d×%d stored)", name, ld, max(1, cols), rows, cols)
	}
	if rows == 0 || cols == 0 {
		return nil
	}
	// (rows-1)*ld + cols cannot overflow for any slice that fits in memory
	// unless ld is absurd; guard anyway so that the check itself is safe.
	if rows-1 > (int(^uint(0)>>1)-cols)/ld {
		return fmt.Errorf("kernels: sgemm: %s is %d×%d with leading dimension %d: size overflows", name, rows, cols, ld)
	}
	if need := (rows-1)*ld + cols; len(x) < need {
		return fmt.Errorf("kernels: sgemm: %s has %d elements, want >= %d (%d×%d, leading dimension %d)", name, len(x), need, rows, cols, ld)
	}
	return nil
}

// Sgemm computes C = alpha·op(A)·op(B) + beta·C for row-major matrices, where
// op(A) is m×k, op(B) is k×n and C is m×n. op(X) is Xᵀ when transX is set, in
// which case X is stored k×m (A) or n×k (B). lda, ldb and ldc are the
// leading dimensions (row strides) of the stored matrices.
//
// Large products run on up to GOMAXPROCS goroutines (the caller and a
// shared worker pool); Sgemm is safe for concurrent use. It panics if the
// arguments are inconsistent; see CheckSgemm.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if err := CheckSgemm(transA, transB, m, n, k, a, lda, b, ldb, c, ldc); err != nil {
		panic(err)
	}
	if m == 0 || n == 0 {
		return
	}
	if alpha == 0 || k == 0 {
		scaleC(c, m, n, ldc, beta)
		return
	}
	kern := active
	if m == 1 && kern.gemvN != nil {
		gemvRow(kern, transA, transB, n, k, alpha, a, lda, b, ldb, beta, c)
		return
	}
	if swapNarrow && n < kern.nr && m >= 2*kern.nr && kern.strided != nil {
		sgemmSwapped(kern, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	sgemmBlocked(kern, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// swapNarrow enables sgemmSwapped; a variable so that tests can compare.
var swapNarrow = true

// sgemmSwapped computes a product with fewer columns than a panel (a layer
// of 20 units: x·W, xᵀ·dY, dY·Wᵀ) as its transpose Cᵀ = op(B)ᵀ·op(A)ᵀ: the
// narrow dimension then runs along the kernel's 8 rows instead of filling
// a fraction of its 48 columns. For xᵀ·dY both operands are then read in
// place. The n×m result goes through a scratch buffer into C; with beta ≠ 0
// the final scaled add rounds separately (still deterministically).
func sgemmSwapped(kern *microKernel, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	tp := getFloats(n * m)
	t := *tp
	sgemmBlocked(kern, !transB, !transA, n, m, k, alpha, b, ldb, a, lda, 0, t, m)
	j := 0
	if beta == 0 && kern.transpose8 != nil {
		for ; j+8 <= n; j += 8 {
			kern.transpose8(c[j:], ldc, t[j*m:], m, m/8)
		}
		for i := m &^ 7; i < m; i++ {
			for q := 0; q < j; q++ {
				c[i*ldc+q] = t[q*m+i]
			}
		}
	}
	for ; j < n; j++ {
		for i := 0; i < m; i++ {
			if beta == 0 {
				c[i*ldc+j] = t[j*m+i]
			} else {
				c[i*ldc+j] = t[j*m+i] + beta*c[i*ldc+j]
			}
		}
	}
	floatPool.Put(tp)
}

// scaleC sets C = beta·C; beta == 0 clears C without reading it.
func scaleC(c []float32, m, n, ldc int, beta float32) {
	for i := 0; i < m; i++ {
		row := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(row)
			continue
		}
		if beta == 1 {
			continue
		}
		for j := range row {
			row[j] *= beta
		}
	}
}

// kcBlock returns the depth of the packed k-blocks, a function of k alone
// (part of the determinism contract). Blocks are equal-sized rather than
// kcMax plus a thin remainder so that no block is too shallow to amortise
// the C loads and stores.
func kcBlock(k int) int {
	nb := (k + kcMax - 1) / kcMax
	kc := (k + nb - 1) / nb
	return (kc + 7) &^ 7 // multiple of 8 helps the transposing packers
}

// gemmJob is one Sgemm call in flight. The fields in gemmState describe the
// call and its current chunk; the rest coordinate the goroutines working
// on it (see runPhase).
type gemmJob struct {
	gemmState

	phase, parts int                    // the phase being run and its split
	seq          atomic.Int64           // numbers phases; a task runs only in its own
	claims       [maxParts]atomic.Int64 // per part: seq of the last phase that claimed it
	left         atomic.Int32           // parts of the current phase not finished
	fin          chan struct{}          // receives when left reaches zero
	refs         atomic.Int32           // the caller plus tasks still queued or running
}

type gemmState struct {
	kern           *microKernel
	transA, transB bool
	m, k           int
	alpha, beta    float32
	a              []float32
	lda            int
	b              []float32
	ldb            int
	c              []float32
	ldc            int

	// Current chunk: columns [j0, j1) of C, depth [p0, p1) of the product.
	j0, j1, p0, p1 int
	kc             int // k-block depth (kcBlock(k))
	panels         int // NR-wide panels in [j0, j1)
	bp             []float32

	// directB: full-width panels of B are read in place, not packed;
	// directA: full-height micro-panels of a transposed A likewise.
	directA, directB bool

	// zeroA: skip the k steps that are zero in a whole row tile of A
	// (SgemmZeroA; B is finite).
	zeroA bool

	// Work split for the compute phase: parts along rows (byRows) or along
	// B panels.
	byRows bool

	// packed, when set, holds B already packed (PackedB.MulBiasAct): bp
	// points into it and there is no packing phase.
	packed *PackedB
	// ep is applied to each block of C once its product is complete.
	ep epilogue
	// spin: hand parts to the spinning pool (spin.go) and spin while
	// waiting for them, for calls too short to absorb a wake-up.
	spin bool
	// rows is ParallelRows's function (phaseRows), over m rows.
	rows func(i0, i1 int)
}

// packedB returns the offset in job.bp of B panel jp of the k-block
// starting at pc (relative to p0). The layout is block-major, then
// panel-major, then p, then j, so one panel of one block is contiguous.
func (j *gemmJob) packedB(pc, jp int) int {
	nr := j.kern.nr
	return pc*j.panels*nr + jp*min(j.kc, j.p1-j.p0-pc)*nr
}

var jobPool = sync.Pool{New: func() any { return &gemmJob{fin: make(chan struct{}, 1)} }}

// release drops one reference; the last one returns the job to the pool.
// A job outlives its call while a worker has yet to pick up a task that the
// caller finished itself.
func (j *gemmJob) release() {
	if j.refs.Add(-1) == 0 {
		j.gemmState = gemmState{}
		jobPool.Put(j)
	}
}

// floatPool recycles packed-B buffers between calls.
var floatPool = sync.Pool{New: func() any { return new([]float32) }}

func getFloats(n int) *[]float32 {
	p := floatPool.Get().(*[]float32)
	if cap(*p) < n {
		*p = make([]float32, n)
	}
	*p = (*p)[:n]
	return p
}

// workspace is one goroutine's scratch: a packed A micro-panel and an
// edge tile.
type workspace struct {
	ap   []float32
	tile []float32
	abig []float32 // computePacked's packed A block

	// computePacked's compacted A tiles (sparse.go): values, B offsets,
	// and per tile the steps kept, or −1 for the dense kernel.
	acomp []float32
	aoff  []int32
	ank   []int
	probe int // products that did not look (PackedB.sparseOn)
}

var wsPool = sync.Pool{New: func() any { return new(workspace) }}

func getWorkspace(kern *microKernel) *workspace {
	w := wsPool.Get().(*workspace)
	if len(w.ap) < kern.mr*kcMax {
		w.ap = make([]float32, kern.mr*kcMax)
	}
	if len(w.tile) < max(kern.mr*kern.nr, 64) { // 64: a matrix-vector strip
		w.tile = make([]float32, max(kern.mr*kern.nr, 64))
	}
	return w
}

func sgemmBlocked(kern *microKernel, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	sgemmBlockedZ(kern, false, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// sgemmBlockedZ is sgemmBlocked, skipping A's zero steps when zeroA is set.
func sgemmBlockedZ(kern *microKernel, zeroA, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	job := jobPool.Get().(*gemmJob)
	job.refs.Store(1)
	job.gemmState = gemmState{
		zeroA: zeroA,
		kern:  kern, transA: transA, transB: transB, m: m, k: k,
		alpha: alpha, beta: beta, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc,
		kc:      kcBlock(k),
		directA: transA && kern.strided != nil && !aliases4K(lda),
		directB: !transB && kern.strided != nil && m <= 512 && !aliases4K(ldb),
	}
	nr := kern.nr
	// Chunk so that a packed B chunk stays within packMax floats. Chunk
	// boundaries are multiples of nr and of kc, so they do not change the
	// arithmetic.
	// Column chunks of about ncMax, equal-sized, multiples of nr.
	chunks := (n + ncMax - 1) / ncMax
	nc := ((n+chunks-1)/chunks + nr - 1) / nr * nr
	kchunk := max(1, packMax/(nc*job.kc)) * job.kc
	parts := 1
	if m*n*k >= parallelMin {
		parts = workers()
	}
	bufp := getFloats(min(k, kchunk) * nc)
	job.bp = *bufp
	for j0 := 0; j0 < n; j0 += nc {
		for p0 := 0; p0 < k; p0 += kchunk {
			job.j0, job.j1 = j0, min(n, j0+nc)
			job.p0, job.p1 = p0, min(k, p0+kchunk)
			job.panels = (job.j1 - job.j0 + nr - 1) / nr
			job.runChunk(parts)
		}
	}
	floatPool.Put(bufp)
	job.release()
}

// runChunk packs B for the current chunk and multiplies, using up to parts
// goroutines for each phase.
func (j *gemmJob) runChunk(parts int) {
	mTiles := (j.m + j.kern.mr - 1) / j.kern.mr
	// Split the compute phase along rows when there are enough row tiles to
	// balance; otherwise along B panels (each part then packs all of A, which
	// is cheap because A is short).
	j.byRows = mTiles >= 2*parts || mTiles >= j.panels
	packParts := min(parts, j.panels)
	if j.directB {
		// Only a partial last panel (if any) is packed: not worth a hand-off.
		packParts = 1
	}
	computeParts := parts
	if j.byRows {
		computeParts = min(parts, mTiles)
	} else {
		computeParts = min(parts, j.panels)
	}
	if j.packed == nil {
		j.runPhase(phasePack, packParts)
	}
	j.runPhase(phaseCompute, computeParts)
}

const (
	phasePack = iota
	phaseCompute
	phaseGemv // PackedB's single-row product
	phaseRows // ParallelRows's blocks of rows
)

// run executes part of phase.
func (j *gemmJob) run(phase, part, parts int) {
	if phase == phasePack {
		lo, hi := split(j.panels, part, parts)
		j.packBPanels(lo, hi)
		return
	}
	if phase == phaseRows {
		mr := j.kern.mr
		lo, hi := split((j.m+mr-1)/mr, part, parts)
		j.rows(lo*mr, min(j.m, hi*mr))
		return
	}
	ws := getWorkspace(j.kern)
	switch {
	case phase == phaseGemv:
		j.gemvPart(ws, part, parts)
	case j.byRows:
		mr := j.kern.mr
		lo, hi := split((j.m+mr-1)/mr, part, parts)
		j.computeAny(ws, lo*mr, min(j.m, hi*mr), 0, j.panels)
	default:
		lo, hi := split(j.panels, part, parts)
		j.computeAny(ws, 0, j.m, lo, hi)
	}
	wsPool.Put(ws)
}

// split returns the half-open range of part out of parts over n items,
// spreading the remainder over the first parts.
func split(n, part, parts int) (lo, hi int) {
	q, r := n/parts, n%parts
	lo = part*q + min(part, r)
	hi = lo + q
	if part < r {
		hi++
	}
	return lo, hi
}

// packBPanels packs B panels [lo, hi) of every k-block of the chunk.
func (j *gemmJob) packBPanels(lo, hi int) {
	nr := j.kern.nr
	for pc := 0; pc < j.p1-j.p0; pc += j.kc {
		kc := min(j.kc, j.p1-j.p0-pc)
		for jp := lo; jp < hi; jp++ {
			col := j.j0 + jp*nr
			w := min(nr, j.j1-col)
			if j.directB && w == nr {
				continue
			}
			off := j.packedB(pc, jp)
			packB(j.kern, j.bp[off:off+kc*nr], j.b, j.ldb, j.transB, j.p0+pc, kc, col, w)
		}
	}
}

// computeAny is compute, or computePacked for a pre-packed B.
func (j *gemmJob) computeAny(ws *workspace, i0, i1, jlo, jhi int) {
	if j.packed != nil {
		j.computePacked(ws, i0, i1, jlo, jhi)
		return
	}
	j.compute(ws, i0, i1, jlo, jhi)
}

// compute multiplies rows [i0, i1) of C by B panels [jlo, jhi) of the
// packed chunk.
func (j *gemmJob) compute(ws *workspace, i0, i1, jlo, jhi int) {
	kern := j.kern
	mr, nr := kern.mr, kern.nr
	for pc := 0; pc < j.p1-j.p0; pc += j.kc {
		kc := min(j.kc, j.p1-j.p0-pc)
		beta := j.beta
		if j.p0+pc > 0 {
			beta = 1 // later blocks accumulate onto the earlier ones
		}
		// Full panels' stride of B, for the indexed kernel's offsets.
		fullStride := nr
		if j.directB {
			fullStride = j.ldb
		}
		for ir := i0; ir < i1; ir += mr {
			h := min(mr, i1-ir)
			// The A micro-panel: read in place (stride lda) or packed
			// (stride mr).
			ap, astride := ws.ap[:kc*mr], mr
			if j.directA && h == mr {
				ap, astride = j.a[(j.p0+pc)*j.lda+ir:], j.lda
			} else {
				packA(kern, ap, j.a, j.lda, j.transA, ir, h, j.p0+pc, kc)
			}
			nk := -1 // steps kept for the indexed kernel, or −1
			if j.zeroA && h == mr {
				ws.compactRoom(kc)
				if n := compactA(ws.acomp, ws.aoff, ap, astride, kc, fullStride); n <= sparseMost(kc) {
					nk = n
				}
			}
			for jp := jlo; jp < jhi; jp++ {
				col := j.j0 + jp*nr
				w := min(nr, j.j1-col)
				ci := ir*j.ldc + col
				// The B panel: read in place (stride ldb) or packed.
				var bp []float32
				bstride := nr
				if j.directB && w == nr {
					bp, bstride = j.b[(j.p0+pc)*j.ldb+col:], j.ldb
				} else {
					off := j.packedB(pc, jp)
					bp = j.bp[off : off+kc*nr]
				}
				if nk >= 0 && w == nr && bstride == fullStride {
					kern.fullIdx(nk, kc, ws.acomp, bp, bstride, ws.aoff, j.c[ci:], j.ldc, j.alpha, beta, bp)
					continue
				}
				j.tile(ws, kc, ap, astride, bp, bstride, ci, h, w, beta)
			}
			if (j.ep.on || j.ep.then != nil) && j.p0+pc+kc == j.k {
				// These rows of these panels are final: bias and
				// activation while they are still in cache.
				j.ep.apply(j.c, j.ldc, ir, ir+h, j.j0+jlo*nr, min(j.j1, j.j0+jhi*nr))
			}
		}
	}
}

// tile computes the h×w tile of C at ci (h <= mr, w <= nr) from an A
// micro-panel and a B panel with the given strides.
func (j *gemmJob) tile(ws *workspace, kc int, ap []float32, astride int, bp []float32, bstride int, ci, h, w int, beta float32) {
	kern := j.kern
	mr, nr := kern.mr, kern.nr
	switch {
	case h == mr && w == nr && astride == mr && bstride == nr:
		kern.full(kc, ap, bp, j.c[ci:], j.ldc, j.alpha, beta)
		return
	case h == mr && w == nr:
		kern.strided(kc, ap, astride, bp, bstride, j.c[ci:], j.ldc, j.alpha, beta)
		return
	case h == mr && kern.narrow != nil && (w < 32 || j.packed == nil):
		// Wider partial panels of a PackedB (A and B both packed, B
		// zero-padded to nr) go through the full kernel and the scratch
		// tile instead: a 40-column panel (a VAE's two 20-unit heads)
		// then costs one kernel call instead of three.
		j.narrowTile(ws, kc, ap, astride, bp, bstride, ci, w, beta)
		return
	}
	// Edge tile: run the kernel on a scratch tile holding the valid part
	// of C, then copy the valid part back. The arithmetic per element is
	// the same as for a full tile.
	t := ws.tile[:mr*nr]
	if beta != 0 {
		clear(t)
		for i := 0; i < h; i++ {
			copy(t[i*nr:i*nr+w], j.c[ci+i*j.ldc:ci+i*j.ldc+w])
		}
	}
	if bstride == nr {
		kern.full(kc, ap, bp, t, nr, j.alpha, beta)
	} else {
		kern.strided(kc, ap, astride, bp, bstride, t, nr, j.alpha, beta)
	}
	for i := 0; i < h; i++ {
		copy(j.c[ci+i*j.ldc:ci+i*j.ldc+w], t[i*nr:i*nr+w])
	}
}

// narrowTile computes a full-height tile of width w < nr with the narrow
// kernel: 16 columns at a time straight into C, the last w%16 through the
// scratch tile.
func (j *gemmJob) narrowTile(ws *workspace, kc int, ap []float32, astride int, bp []float32, bstride int, ci, w int, beta float32) {
	kern := j.kern
	mr := kern.mr
	q := 0
	for ; q+16 <= w; q += 16 {
		kern.narrow(kc, ap, astride, bp[q:], bstride, j.c[ci+q:], j.ldc, j.alpha, beta)
	}
	if q == w {
		return
	}
	r := w - q
	t := ws.tile[:mr*16]
	if beta != 0 {
		clear(t)
		for i := 0; i < mr; i++ {
			copy(t[i*16:i*16+r], j.c[ci+i*j.ldc+q:])
		}
	}
	kern.narrow(kc, ap, astride, bp[q:], bstride, t, 16, j.alpha, beta)
	for i := 0; i < mr; i++ {
		copy(j.c[ci+i*j.ldc+q:ci+i*j.ldc+w], t[i*16:i*16+r])
	}
}

// aliases4K reports whether rows ld floats apart fall on the same cache
// sets (a stride that is a multiple of 4 KiB), which makes reading a matrix
// in place, one short run per row, thrash the L1 cache; such operands are
// packed. A row-major B is also packed when it feeds many row tiles
// (m > 512), where one copy is cheap next to the product.
func aliases4K(ld int) bool { return (ld*4)%4096 == 0 }

// packA packs rows [ir, ir+h) and depth [pc, pc+kc) of op(A) into the
// interleaved micro-panel layout dst[p*mr+i], zero-padding rows h..mr-1.
func packA(kern *microKernel, dst, a []float32, lda int, transA bool, ir, h, pc, kc int) {
	mr := kern.mr
	if transA {
		// op(A)[i,p] = A[p,i]: each p is a contiguous run of h floats.
		if mr == 8 && h == 8 {
			for p := 0; p < kc; p++ {
				*(*[8]float32)(dst[p*8:]) = *(*[8]float32)(a[(pc+p)*lda+ir:])
			}
			return
		}
		for p := 0; p < kc; p++ {
			src := a[(pc+p)*lda+ir:]
			d := dst[p*mr : p*mr+mr]
			copy(d, src[:h])
			clear(d[h:])
		}
		return
	}
	p := 0
	if mr == 8 && h == 8 && kern.transpose8 != nil {
		blocks := kc / 8
		kern.transpose8(dst, 8, a[ir*lda+pc:], lda, blocks)
		p = blocks * 8
	}
	for i := 0; i < h; i++ {
		row := a[(ir+i)*lda+pc : (ir+i)*lda+pc+kc]
		for q := p; q < kc; q++ {
			dst[q*mr+i] = row[q]
		}
	}
	if h < mr {
		for q := p; q < kc; q++ {
			clear(dst[q*mr+h : q*mr+mr])
		}
	}
}

// packB packs depth [pc, pc+kc) and columns [col, col+w) of op(B) into the
// panel layout dst[p*nr+j], zero-padding columns w..nr-1.
func packB(kern *microKernel, dst, b []float32, ldb int, transB bool, pc, kc, col, w int) {
	nr := kern.nr
	if !transB {
		if nr == 48 && w == 48 {
			for p := 0; p < kc; p++ {
				*(*[48]float32)(dst[p*48:]) = *(*[48]float32)(b[(pc+p)*ldb+col:])
			}
			return
		}
		for p := 0; p < kc; p++ {
			src := b[(pc+p)*ldb+col:]
			d := dst[p*nr : p*nr+nr]
			copy(d, src[:w])
			clear(d[w:])
		}
		return
	}
	// op(B)[p,j] = B[j,p]: a transpose. Whole groups of 8 columns and 8
	// depths go through the 8×8 transposer.
	j := 0
	if kern.transpose8 != nil {
		blocks := kc / 8
		for ; j+8 <= w; j += 8 {
			kern.transpose8(dst[j:], nr, b[(col+j)*ldb+pc:], ldb, blocks)
		}
		if blocks*8 < kc && j > 0 {
			for jj := 0; jj < j; jj++ {
				row := b[(col+jj)*ldb+pc : (col+jj)*ldb+pc+kc]
				for q := blocks * 8; q < kc; q++ {
					dst[q*nr+jj] = row[q]
				}
			}
		}
	}
	for ; j < w; j++ {
		row := b[(col+j)*ldb+pc : (col+j)*ldb+pc+kc]
		for q := 0; q < kc; q++ {
			dst[q*nr+j] = row[q]
		}
	}
	if w < nr {
		for q := 0; q < kc; q++ {
			clear(dst[q*nr+w : q*nr+nr])
		}
	}
}
