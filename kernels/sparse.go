package kernels

import (
	"math"
	"sync/atomic"
	"unsafe"
)

// Products with zero steps in A.
//
// The first layer of an image model multiplies pixels, and most pixels
// of MNIST-like images are zero: within 8 consecutive images, 55% of the
// 784 pixels are zero in all 8 (35% within 128). A k step whose 8 values
// of a row tile are all zero adds nothing to the tile, so the product
// over a PackedB skips it: each k-block of a row tile is compacted to its
// non-zero steps, and an indexed micro-kernel reads B's rows for those
// steps only.
//
// Skipping is exact, not an approximation: the accumulators start at +0
// and a skipped step would have added a·b with a = ±0, which for finite b
// is ±0, and x + ±0 = x for x ≠ 0 while +0 + ±0 = +0 (an accumulator that
// starts at +0 never becomes −0). So results are bit-identical to the
// dense kernel's whenever B is finite; a B with an infinity or NaN
// (0·∞ = NaN) never takes this path. Dense inputs cost the zero test
// only, and not even that once a PackedB has seen a product without
// skippable steps (see sparseOn). SgemmZeroA offers the same to products
// whose B changes from call to call (a trainer's weight gradients, where
// A is the data).

// sparseMinSkip is the fraction of a tile's k-block that must be zero for
// the indexed kernel to be used: below it the dense kernel, with its
// regular loads, is as fast.
const sparseMinSkip = 1.0 / 8

// sparseProbe is how often (in calls) a PackedB whose products found
// nothing to skip looks again.
const sparseProbe = 16

// sparseState is a PackedB's part of the scheme: whether a value that
// is not finite was ever packed into it (sticky: a trainer's weights that
// overflowed do not come back), and whether the last product that looked
// found nothing to skip. dry is a speed heuristic only, never changing a
// result; both are written only when they change, so that the cores
// running one product do not pass their cache line back and forth.
type sparseState struct {
	tainted atomic.Bool
	dry     atomic.Bool
}

func anyNonFiniteGo(b []float32) bool {
	for _, v := range b {
		if math.Float32bits(v)&0x7f800000 == 0x7f800000 {
			return true
		}
	}
	return false
}

// taint records that rows [r0, r1) of B, as stored (cols values ldb
// apart), are about to be packed, and whether they are finite.
func (p *PackedB) taint(b []float32, ldb, cols, r0, r1 int) {
	if p.sparse.tainted.Load() {
		return
	}
	for q := r0; q < r1; q++ {
		if anyNonFinite(b[q*ldb : q*ldb+cols]) {
			p.sparse.tainted.Store(true)
			return
		}
	}
}

// sparseOn reports whether this product should look for zero steps: a
// PackedB whose last look found none looks again every sparseProbe-th
// product, counted per workspace (per goroutine, roughly).
func (p *PackedB) sparseOn(kern *microKernel, ws *workspace) bool {
	if p.sparse.tainted.Load() || kern.fullIdx == nil || !useSparse {
		return false
	}
	if !p.sparse.dry.Load() {
		return true
	}
	ws.probe++
	return ws.probe%sparseProbe == 0
}

// sparseSeen records what a product that looked found.
func (p *PackedB) sparseSeen(found bool) {
	if p.sparse.dry.Load() == found {
		p.sparse.dry.Store(!found)
	}
}

// useSparse is a variable so that tests can compare with the dense path.
var useSparse = true

// compactA compacts the kc steps of an 8-row A tile (8 values a step,
// astride floats apart) to its steps with a non-zero value: their values
// go to dst, packed, and to off the byte offset of their row of B (bstride
// floats a step). It returns how many steps it kept.
func compactA(dst []float32, off []int32, ap []float32, astride, kc, bstride int) int {
	_ = ap[(kc-1)*astride+7]
	_ = dst[kc*8-1]
	_ = off[kc-1]
	n := 0
	for p := 0; p < kc; p++ {
		// The 8 values as 4 words; the mask drops the sign bits (−0 is zero).
		w := (*[4]uint64)(unsafe.Pointer(&ap[p*astride]))
		if (w[0]|w[1]|w[2]|w[3])&0x7fffffff7fffffff == 0 {
			continue
		}
		*(*[8]float32)(dst[n*8:]) = *(*[8]float32)(ap[p*astride:])
		off[n] = int32(p * bstride * 4)
		n++
	}
	return n
}

// compactTiles compacts every full row tile of a packed k-block (tiles
// tiles of 8 rows and kc steps at ab; the last one full when lastFull)
// into ws.acomp, ws.aoff and ws.ank, and reports whether any tile has
// enough zero steps for the indexed kernel.
func (ws *workspace) compactTiles(ab []float32, tiles int, lastFull bool, kc, nr int) bool {
	if cap(ws.acomp) < len(ab) {
		ws.acomp = make([]float32, len(ab))
	}
	if cap(ws.aoff) < tiles*kc {
		ws.aoff = make([]int32, tiles*kc)
	}
	if cap(ws.ank) < tiles {
		ws.ank = make([]int, tiles)
	}
	ws.acomp, ws.aoff, ws.ank = ws.acomp[:cap(ws.acomp)], ws.aoff[:cap(ws.aoff)], ws.ank[:tiles]
	most := sparseMost(kc)
	any := false
	for t := range tiles {
		ws.ank[t] = -1
		if t == tiles-1 && !lastFull {
			continue // a partial tile takes the edge path
		}
		n := compactA(ws.acomp[t*8*kc:(t+1)*8*kc], ws.aoff[t*kc:(t+1)*kc], ab[t*8*kc:(t+1)*8*kc], 8, kc, nr)
		if n <= most {
			ws.ank[t] = n
			any = true
		}
	}
	return any
}

// sparseMost is the most steps of kc a compacted tile may keep for the
// indexed kernel to be used.
func sparseMost(kc int) int { return kc - int(math.Ceil(float64(kc)*sparseMinSkip)) }

// compactRoom makes ws.acomp and ws.aoff hold one tile of kc steps.
func (ws *workspace) compactRoom(kc int) {
	if cap(ws.acomp) < kc*8 {
		ws.acomp = make([]float32, kc*8)
	}
	if cap(ws.aoff) < kc {
		ws.aoff = make([]int32, kc)
	}
	ws.acomp, ws.aoff = ws.acomp[:kc*8], ws.aoff[:kc]
}

// AllFinite reports whether every element of x is finite (no infinity,
// no NaN): the condition under which SgemmZeroA is Sgemm.
func AllFinite(x []float32) bool { return !anyNonFinite(x) }

// SgemmZeroA is Sgemm for a product whose A has many zero k steps: a
// trainer's first-layer weight gradient xᵀ·dz, whose x holds images. The
// k steps that are zero in a whole row tile of op(A) are skipped, which
// for a finite B gives exactly Sgemm's bits (see above). The caller
// guarantees that B is finite (AllFinite, once for all the products that
// share it); with an infinity or NaN in B the result may lack NaNs that
// Sgemm's would have (0·∞).
func SgemmZeroA(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	kern := active
	// Shapes Sgemm sends elsewhere than its blocked path stay there.
	// (and a B so wide that the kernel's int32 byte offsets would overflow).
	if kern.fullIdx == nil || !useSparse || m < 2 || (swapNarrow && n < kern.nr && m >= 2*kern.nr) || n == 0 || k == 0 || alpha == 0 || ldb > math.MaxInt32/(4*kcMax) {
		Sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	if err := CheckSgemm(transA, transB, m, n, k, a, lda, b, ldb, c, ldc); err != nil {
		panic(err)
	}
	sgemmBlockedZ(kern, true, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}
