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
// only, and not even that once a PackedB has seen a run of products
// without skippable steps (see sparseProbe).

// sparseMinSkip is the fraction of a tile's k-block that must be zero for
// the indexed kernel to be used: below it the dense kernel, with its
// regular loads, is as fast.
const sparseMinSkip = 1.0 / 8

// sparseProbe is how often (in calls) a PackedB whose products found
// nothing to skip looks again.
const sparseProbe = 16

// sparseState is a PackedB's part of the scheme: whether B is finite
// (fixed when packed), and whether the last product that looked found
// nothing to skip. The flag is a speed heuristic only, never changing a
// result; it is written only when it changes, so that the cores running
// one product do not pass its cache line back and forth.
type sparseState struct {
	finite bool
	dry    atomic.Bool
}

// allFinite reports whether every element of b is finite.
func allFinite(b []float32) bool {
	for _, v := range b {
		if math.Float32bits(v)&0x7f800000 == 0x7f800000 {
			return false
		}
	}
	return true
}

// sparseOn reports whether this product should look for zero steps: a
// PackedB whose last look found none looks again every sparseProbe-th
// product, counted per workspace (per goroutine, roughly).
func (p *PackedB) sparseOn(kern *microKernel, ws *workspace) bool {
	if !p.sparse.finite || kern.fullIdx == nil || !useSparse {
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

// compactA compacts the kc steps of a packed 8-row A tile (8 values a
// step) to its steps with a non-zero value: their values go to dst, and
// to off the byte offset of their row in a packed B panel (nr floats a
// step). It returns how many steps it kept.
func compactA(dst []float32, off []int32, ap []float32, kc, nr int) int {
	_ = ap[kc*8-1]
	_ = dst[kc*8-1]
	_ = off[kc-1]
	n := 0
	for p := 0; p < kc; p++ {
		// The 8 values as 4 words; the mask drops the sign bits (−0 is zero).
		w := (*[4]uint64)(unsafe.Pointer(&ap[p*8]))
		if (w[0]|w[1]|w[2]|w[3])&0x7fffffff7fffffff == 0 {
			continue
		}
		*(*[8]float32)(dst[n*8:]) = *(*[8]float32)(ap[p*8:])
		off[n] = int32(p * nr * 4)
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
	most := kc - int(math.Ceil(float64(kc)*sparseMinSkip))
	any := false
	for t := range tiles {
		ws.ank[t] = -1
		if t == tiles-1 && !lastFull {
			continue // a partial tile takes the edge path
		}
		n := compactA(ws.acomp[t*8*kc:(t+1)*8*kc], ws.aoff[t*kc:(t+1)*kc], ab[t*8*kc:(t+1)*8*kc], kc, nr)
		if n <= most {
			ws.ank[t] = n
			any = true
		}
	}
	return any
}
