package kernels

import "fmt"

// NewPackedPanels returns a PackedB for op(B), a k×n matrix (B itself is
// n×k when transB is set), with the blocked layout only (no matrix-vector
// strips) and its panels zero until Pack fills them. A trainer uses it for
// a weight that several products of a step multiply by (every shard's
// forward, or its input gradient through Wᵀ): packed once per step, in
// parts on every core, instead of by each product, and read as contiguous
// panels that the prefetchers follow rather than rows of B a stride apart.
func NewPackedPanels(transB bool, k, n int) (*PackedB, error) {
	if k < 0 || n < 0 {
		return nil, fmt.Errorf("kernels: NewPackedPanels: negative size k=%d n=%d", k, n)
	}
	kern := active
	p := &PackedB{k: k, n: n, transB: transB, kern: kern}
	if k == 0 || n == 0 {
		return p, nil
	}
	p.kc = kcBlock(k)
	nr := kern.nr
	chunks := (n + packedNcMax - 1) / packedNcMax
	nc := ((n+chunks-1)/chunks + nr - 1) / nr * nr
	size := 0
	for j0 := 0; j0 < n; j0 += nc {
		j1 := min(n, j0+nc)
		w := (j1 - j0 + nr - 1) / nr * nr
		p.chunks = append(p.chunks, bChunk{j0: j0, j1: j1, off: size, end: size + w*k})
		size += w * k
	}
	p.blocked = make([]float32, size)
	return p, nil
}

// Pack fills part (of parts) of p's panels from B, stored with leading
// dimension ldb as p's transB says. The parts split the panels at fixed
// boundaries, so calling every part once, concurrently or not, packs all
// of B. It returns an error when B is too small for p.
func (p *PackedB) Pack(b []float32, ldb int, part, parts int) error {
	rows, err := p.checkB(b, ldb)
	if err != nil {
		return err
	}
	if parts < 1 || part < 0 || part >= parts {
		return fmt.Errorf("kernels: Pack: part %d of %d", part, parts)
	}
	if cols := p.n + p.k - rows; rows > 0 && cols > 0 {
		// Whichever part packs, B is checked whole: one pass over it.
		p.taint(b, ldb, cols, 0, rows)
	}
	nr := p.kern.nr
	total := p.panels()
	lo, hi := split(total, part, parts)
	var j gemmJob
	first := 0 // panels of the chunks before ch
	for _, ch := range p.chunks {
		panels := (ch.j1 - ch.j0 + nr - 1) / nr
		a, z := max(lo-first, 0), min(hi-first, panels)
		if a < z {
			j.gemmState = gemmState{kern: p.kern, transB: p.transB, k: p.k, b: b, ldb: ldb, kc: p.kc,
				j0: ch.j0, j1: ch.j1, p0: 0, p1: p.k, bp: p.blocked[ch.off:ch.end], panels: panels}
			j.packBPanels(a, z)
		}
		first += panels
	}
	return nil
}

// checkB checks that B, as stored (n×k when transposed), fits p, and
// returns its stored row count.
func (p *PackedB) checkB(b []float32, ldb int) (rows int, err error) {
	rows, cols := p.k, p.n
	if p.transB {
		rows, cols = p.n, p.k
	}
	return rows, checkMatrix("B", b, rows, cols, ldb)
}

// panels is the number of NR-wide panels of the blocked layout.
func (p *PackedB) panels() int {
	nr, total := p.kern.nr, 0
	for _, ch := range p.chunks {
		total += (ch.j1 - ch.j0 + nr - 1) / nr
	}
	return total
}

// Gemm computes C = act(A·op(B) + bias) as MulBiasAct does, with the
// same arithmetic as Sgemm's blocked path followed by AddBiasAct (the same
// kernels over the same k-blocks), but split like Sgemm: over Threads()
// goroutines of the sleeping pool. A training step's shard, which has a
// core of its own, calls it without handing work to anyone. Single rows
// go through the blocked path too when p has no matrix-vector strips.
func (p *PackedB) Gemm(m int, a []float32, lda int, c []float32, ldc int, bias []float32, act Act, alpha float32) {
	p.check("Gemm", m, a, lda, c, ldc, bias, act)
	if m == 0 || p.n == 0 {
		return
	}
	ep := epilogue{on: bias != nil || act != Linear, bias: bias, act: act, alpha: alpha}
	if p.k == 0 {
		scaleC(c, m, p.n, ldc, 0)
		ep.apply(c, ldc, 0, m, 0, p.n)
		return
	}
	parts := 1
	if m*p.n*p.k >= parallelMin {
		parts = workers()
	}
	p.blockedProduct(m, a, lda, c, ldc, ep, false, parts)
}

// PanelWidth is the number of columns of C one micro-kernel call covers
// (48 with AVX-512): products narrower than that take other paths in
// Sgemm, so prepacking B for them would change their arithmetic.
func PanelWidth() int { return active.nr }

// PackRows refreshes the part of p that rows [r0, r1) of B, as stored
// (ldb apart), determine: rows of op(B) when B is not transposed, columns
// of op(B) when it is. A trainer calls it for the rows of a weight its
// optimizer has just updated, while they are in cache, so that the packed
// copy is current without another pass over the weight. Calls for
// disjoint row ranges may run concurrently.
func (p *PackedB) PackRows(b []float32, ldb int, r0, r1 int) error {
	br, err := p.checkB(b, ldb)
	if err != nil {
		return err
	}
	if r0 < 0 || r1 > br || r0 > r1 {
		return fmt.Errorf("kernels: PackRows: rows [%d, %d) of %d", r0, r1, br)
	}
	cols := p.n
	if p.transB {
		cols = p.k
	}
	p.taint(b, ldb, cols, r0, r1)
	nr := p.kern.nr
	for _, ch := range p.chunks {
		panels := (ch.j1 - ch.j0 + nr - 1) / nr
		bp := p.blocked[ch.off:ch.end]
		for pc := 0; pc < p.k; pc += p.kc {
			kc := min(p.kc, p.k-pc)
			// Offset of panel jp of this k-block (gemmJob.packedB).
			base := pc * panels * nr
			if !p.transB {
				// Stored row q is depth q: one row of every panel.
				for q := max(r0, pc); q < min(r1, pc+kc); q++ {
					src := b[q*ldb : q*ldb+p.n]
					d := bp[base+(q-pc)*nr:]
					jp := 0
					if nr == 48 {
						// Whole panels in one call: a copy call per 192
						// bytes cost as much as the copying.
						full := min(panels, (ch.j1-ch.j0)/nr)
						if full > 0 {
							copyPanels48(d, kc*nr, src[ch.j0:], full)
							jp = full
						}
					}
					for ; jp < panels; jp++ {
						col := ch.j0 + jp*nr
						w := min(nr, ch.j1-col)
						copy(d[jp*kc*nr:jp*kc*nr+w], src[col:col+w])
					}
				}
				continue
			}
			// Stored row j is column j of op(B): a column of one panel,
			// 8 at a time through the transposer where they line up.
			lo, hi := max(r0, ch.j0), min(r1, ch.j1)
			for j := lo; j < hi; {
				jp, jj := (j-ch.j0)/nr, (j-ch.j0)%nr
				d := bp[base+jp*kc*nr:]
				if p.kern.transpose8 != nil && jj%8 == 0 && j+8 <= hi && kc >= 8 {
					blocks := kc / 8
					p.kern.transpose8(d[jj:], nr, b[j*ldb+pc:], ldb, blocks)
					for g := j; g < j+8; g++ {
						row := b[g*ldb+pc : g*ldb+pc+kc]
						for q := blocks * 8; q < kc; q++ {
							d[q*nr+jj+g-j] = row[q]
						}
					}
					j += 8
					continue
				}
				row := b[j*ldb+pc : j*ldb+pc+kc]
				for q, v := range row {
					d[q*nr+jj] = v
				}
				j++
			}
		}
	}
	return nil
}
