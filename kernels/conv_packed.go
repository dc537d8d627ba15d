package kernels

import "fmt"

// PackedConv is a convolution's fixed weights prepared for repeated
// inference calls, as PackedB is a dense layer's: an inference runtime owns
// its weights, so their reordering into tap order and their packing can be
// paid once instead of on every call (for a batch-1 call of a 32→64
// channel layer the reordering alone costs as much as the product).
//
// A call turns the images into a patch matrix (im2col over padded
// channels-last copies, as Conv does) and multiplies it by the packed
// weights with PackedB.MulBiasAct, whose product is split across cores by
// the spinning worker pool of the inference path even for one image, with
// the bias and activation applied in cache:
//
//	convolution            yᵀ [P, K]      = act(col [P, taps] · wtᵀ [taps, K] + bias)
//	transposed convolution col [P, taps]  = xᵀ [P, K] · wt [K, taps], then col2im, bias, act
//
// where P = OutH·OutW per image and wt is w in tap order [K, KH, KW, C].
// The products are channels-last; transposes (8×8 blocks) give NCHW. A
// batch of several chunks runs its chunks on all cores instead, each
// chunk's product on its own goroutine (as ConvAdjoint does, but from the
// stored wt). On AVX-512 a convolution takes the direct path (convDirect).
//
// Determinism: for fixed inputs, batch size and CPU kind the result is
// bit-identical from run to run and does not depend on GOMAXPROCS: chunks
// of images are fixed by the geometry and the batch, and MulBiasAct splits
// along rows and columns only. Results differ from Conv's and
// ConvAdjoint's in rounding (the sums run in another order).
//
// A PackedConv is read-only after it is made and safe for concurrent use.
type PackedConv struct {
	g          ConvGeom
	transposed bool
	pb         *PackedB
	wt         []float32 // w in tap order [K, KH, KW, C]

	// The direct path of a convolution (hasConvTile): no patch matrix;
	// convTile reads each patch from the padded channels-last images. dw
	// holds the weights in column blocks of 64 output channels, each
	// [KH·KW][C][64] (zero past K); tapOffs the byte offset of each
	// kernel tap (i, j) in a padded image.
	direct  bool
	dw      []float32
	tapOffs []int
}

// convTileRows and convTileCols are the shape of convTile's tile;
// convTileL1 is the floats of weights a group of taps may hold (24 KB,
// half this machine's L1).
const (
	convTileRows = 6
	convTileCols = 64
	convTileL1   = 6 << 10
)

// NewPackedConv prepares the weights w [K, C, KH, KW] of the convolution
// g for PackedConv.Conv.
func NewPackedConv(g ConvGeom, w []float32) (*PackedConv, error) {
	return newPackedConv(g, w, false)
}

// NewPackedConvTranspose prepares the weights w [K, C, KH, KW] for
// PackedConv.ConvTranspose: the transposed convolution from K channels to
// C that is the adjoint of g (ConvAdjoint's operation; w is then the
// ConvTranspose weight [C_in, C_out, kh, kw]).
func NewPackedConvTranspose(g ConvGeom, w []float32) (*PackedConv, error) {
	return newPackedConv(g, w, true)
}

func newPackedConv(g ConvGeom, w []float32, transposed bool) (*PackedConv, error) {
	if err := g.Check(); err != nil {
		return nil, err
	}
	if len(w) != g.WeightSize() {
		return nil, fmt.Errorf("kernels: NewPackedConv: w has %d elements, want %d (%v)", len(w), g.WeightSize(), g)
	}
	wt := make([]float32, g.WeightSize())
	g.toTapOrder(wt, w)
	kc := g.PatchSize()
	var pb *PackedB
	var err error
	if transposed {
		pb, err = NewPackedB(false, g.K, kc, wt, kc)
	} else {
		pb, err = NewPackedB(true, kc, g.K, wt, kc)
	}
	if err != nil {
		return nil, err
	}
	p := &PackedConv{g: g, transposed: transposed, pb: pb, wt: wt}
	if !transposed && hasConvTile {
		p.prepareDirect(w)
	}
	return p, nil
}

// prepareDirect lays w [K, C, KH, KW] out for convTile.
func (p *PackedConv) prepareDirect(w []float32) {
	g := p.g
	taps, blocks := g.KH*g.KW, (g.K+convTileCols-1)/convTileCols
	per := taps * g.C * convTileCols
	p.dw = make([]float32, blocks*per)
	for k := 0; k < g.K; k++ {
		blk := p.dw[k/convTileCols*per:]
		for c := 0; c < g.C; c++ {
			for t := 0; t < taps; t++ {
				blk[(t*g.C+c)*convTileCols+k%convTileCols] = w[(k*g.C+c)*taps+t]
			}
		}
	}
	wp := g.W + 2*g.PW
	for i := 0; i < g.KH; i++ {
		for j := 0; j < g.KW; j++ {
			p.tapOffs = append(p.tapOffs, 4*(i*wp+j)*g.C)
		}
	}
	p.direct = true
}

// Geom returns the geometry the weights were prepared for.
func (p *PackedConv) Geom() ConvGeom { return p.g }

// Transposed reports whether p was made by NewPackedConvTranspose.
func (p *PackedConv) Transposed() bool { return p.transposed }

// Conv computes y = act(conv(x, w) + bias) for n images, as Conv does:
// x [n, C, H, W], bias [K] (nil for none), y [n, K, OutH, OutW]. y must
// not overlap x.
func (p *PackedConv) Conv(n int, x, bias []float32, act Act, alpha float32, y []float32) error {
	g := p.g
	if p.transposed {
		return fmt.Errorf("kernels: PackedConv.Conv: weights prepared for a transposed convolution")
	}
	if err := p.checkCall("Conv", n, x, y, bias, g.K, act); err != nil {
		return err
	}
	if n == 0 {
		return nil
	}
	if p.direct {
		p.convDirect(n, x, bias, act, alpha, y)
		return nil
	}
	np, kc := g.OutH()*g.OutW(), g.PatchSize()
	nb, chunks := g.packedChunking(n)
	parallelChunks(chunks, func(i int, s *convScratch) {
		s0 := i * nb
		cnt := min(nb, n-s0)
		rows := cnt * np
		xp := s.grow(&s.xp, cnt*g.paddedSize())
		col := s.grow(&s.col, rows*kc)
		z := s.grow(&s.z, rows*g.K)
		g.toPadded(xp, x[s0*g.InSize():], s.grow(&s.t, g.InSize()), cnt)
		g.im2col(col, xp, cnt)
		if chunks == 1 {
			p.pb.MulBiasAct(rows, col, kc, z, g.K, bias, act, alpha)
		} else {
			// z [P, K] = col · wtᵀ, then bias and activation per row.
			sgemmSerial(false, true, rows, g.K, kc, col, kc, p.wt, kc, 0, z, g.K)
			AddBiasAct(z, rows, g.K, bias, act, alpha)
		}
		for im := 0; im < cnt; im++ {
			// z's image [P, K] → y's [K, P].
			transpose(y[(s0+im)*g.OutSize():], np, z[im*np*g.K:], g.K, np, g.K)
		}
	})
	return nil
}

// ConvTranspose computes x = act(convᵀ(y, w) + bias) for n images, as
// ConvAdjoint does: y [n, K, OutH, OutW], bias [C] (nil for none), x [n,
// C, H, W]. x must not overlap y.
func (p *PackedConv) ConvTranspose(n int, y, bias []float32, act Act, alpha float32, x []float32) error {
	g := p.g
	if !p.transposed {
		return fmt.Errorf("kernels: PackedConv.ConvTranspose: weights prepared for a convolution")
	}
	if err := p.checkCall("ConvTranspose", n, y, x, bias, g.C, act); err != nil {
		return err
	}
	if n == 0 {
		return nil
	}
	np, kc := g.OutH()*g.OutW(), g.PatchSize()
	nb, chunks := g.packedChunking(n)
	parallelChunks(chunks, func(i int, s *convScratch) {
		s0 := i * nb
		cnt := min(nb, n-s0)
		rows := cnt * np
		col := s.grow(&s.col, rows*kc)
		if chunks == 1 {
			// One chunk: the product split across cores by MulBiasAct.
			a := s.grow(&s.z, rows*g.K)
			for im := 0; im < cnt; im++ {
				// y's image [K, P] → a's [P, K].
				transpose(a[im*np*g.K:], g.K, y[(s0+im)*g.OutSize():], np, g.K, np)
			}
			p.pb.MulBiasAct(rows, a, g.K, col, kc, nil, Linear, 0)
		} else {
			// Chunks already on every core: one product per chunk on
			// this goroutine, as ConvAdjoint does, from the stored wt.
			z := s.grow(&s.z, g.K*rows)
			g.gatherChannels(y[s0*g.OutSize():], cnt, z, rows)
			sgemmSerial(true, false, rows, kc, g.K, z, rows, p.wt, kc, 0, col, kc)
		}
		xp := s.grow(&s.xp, cnt*g.paddedSize())
		g.col2im(xp, col, cnt)
		var tiled []float32
		if bias != nil {
			// The bias repeated along an image row of channels-last pixels.
			tiled = s.grow(&s.bias, g.W*g.C)
			for w := 0; w < g.W; w++ {
				copy(tiled[w*g.C:(w+1)*g.C], bias)
			}
		}
		g.fromPaddedTiled(x[s0*g.InSize():(s0+cnt)*g.InSize()], xp, s.grow(&s.t, g.InSize()), cnt, tiled, act, alpha)
	})
	return nil
}

func (p *PackedConv) checkCall(fn string, n int, in, out, bias []float32, nbias int, act Act) error {
	g := p.g
	if n < 0 {
		return fmt.Errorf("kernels: PackedConv.%s: negative batch %d", fn, n)
	}
	inSize, outSize := g.InSize(), g.OutSize()
	if p.transposed {
		inSize, outSize = outSize, inSize
	}
	if err := checkLen("PackedConv."+fn, "input", in, n*inSize); err != nil {
		return err
	}
	if err := checkLen("PackedConv."+fn, "output", out, n*outSize); err != nil {
		return err
	}
	if bias != nil && len(bias) != nbias {
		return fmt.Errorf("kernels: PackedConv.%s: bias has %d elements, want %d", fn, len(bias), nbias)
	}
	if int(act) >= len(actNames) {
		return fmt.Errorf("kernels: PackedConv.%s: unknown activation %v", fn, act)
	}
	return nil
}

// packedChunking returns the images per chunk and the chunks for a batch
// of n: chunks whose patch matrix, padded images and product fill about
// convChunkFloats, as chunking's do. It depends on the geometry and n
// only.
func (g ConvGeom) packedChunking(n int) (nb, chunks int) {
	return g.chunking(n)
}

// fromPaddedTiled writes the interior of cnt padded channels-last images
// xp into x [C, H, W] as act(value + bias[c]), where tiled is the bias
// repeated along an image row (W·C values; nil for none): the bias and
// activation run over the contiguous channels-last rows, sixteen lanes at
// a time, before the transpose. xp is overwritten. tmp is as for toPadded.
func (g ConvGeom) fromPaddedTiled(x, xp, tmp []float32, cnt int, tiled []float32, act Act, alpha float32) {
	if tiled != nil || act != Linear {
		wp, run := g.W+2*g.PW, g.W*g.C
		for im := 0; im < cnt; im++ {
			img := xp[im*g.paddedSize() : (im+1)*g.paddedSize()]
			for h := 0; h < g.H; h++ {
				at := ((h+g.PH)*wp + g.PW) * g.C
				row := img[at : at+run]
				if biasActRow(row, tiled, act, alpha) {
					continue
				}
				if tiled != nil {
					addTo(row, tiled)
				}
				applyAct(row, act, alpha)
			}
		}
	}
	g.fromPadded(x, xp, tmp, cnt, nil, Linear, 0)
}

// convDirect is Conv's direct path: for each chunk of images, their padded
// channels-last copies, then convTile over every tile of 6 output pixels
// (the last tile repeats its last pixel) and 64 output channels into a
// channels-last product, the bias and activation over its rows, and a
// transpose into y. Each output is one sum in (tap, channel) order, so it
// does not depend on the tiling, the chunking or the thread count.
func (p *PackedConv) convDirect(n int, x, bias []float32, act Act, alpha float32, y []float32) {
	g := p.g
	np, ow := g.OutH()*g.OutW(), g.OutW()
	blocks := (g.K + convTileCols - 1) / convTileCols
	ld, per := blocks*convTileCols, len(p.dw)/blocks
	nb, chunks := g.chunking(n)
	parallelChunks(chunks, func(i int, s *convScratch) {
		s0 := i * nb
		cnt := min(nb, n-s0)
		rows := cnt * np
		tiles := (rows + convTileRows - 1) / convTileRows
		xp := s.grow(&s.xp, cnt*g.paddedSize())
		z := s.grow(&s.z, tiles*convTileRows*ld)
		g.toPadded(xp, x[s0*g.InSize():], s.grow(&s.t, g.InSize()), cnt)
		wp := g.W + 2*g.PW
		if cap(s.rows) < tiles*convTileRows {
			s.rows = make([]int, tiles*convTileRows)
		}
		ro := s.rows[:tiles*convTileRows]
		r := 0
		for im := 0; im < cnt; im++ {
			for oy := 0; oy < g.OutH(); oy++ {
				at := 4 * (im*g.paddedSize() + oy*g.SH*wp*g.C)
				for ox := 0; ox < ow; ox++ {
					ro[r] = at + 4*ox*g.SW*g.C
					r++
				}
			}
		}
		for ; r < len(ro); r++ {
			ro[r] = ro[rows-1] // the last tile repeats its last pixel
		}
		// Groups of taps whose weights stay in L1 while every tile of
		// the chunk runs over them; the sums continue from group to group
		// in the same order.
		ntaps := len(p.tapOffs)
		group := max(1, min(ntaps, convTileL1/(g.C*convTileCols)))
		for b := 0; b < blocks; b++ {
			for t0 := 0; t0 < ntaps; t0 += group {
				t1 := min(ntaps, t0+group)
				w := p.dw[b*per+t0*g.C*convTileCols:]
				for t := 0; t < tiles; t++ {
					convTile(xp, ro[t*convTileRows:], p.tapOffs[t0:t1], g.C, w, z[t*convTileRows*ld+b*convTileCols:], ld, t0 > 0)
				}
			}
		}
		if bias != nil || act != Linear {
			// Over runs of up to 64 rows of z (padding columns included,
			// never read afterwards), with the bias repeated per row.
			const runRows = 64
			var tiled []float32
			if bias != nil {
				tiled = s.grow(&s.bias, runRows*ld)
				for r := 0; r < runRows; r++ {
					copy(tiled[r*ld:r*ld+g.K], bias)
					clear(tiled[r*ld+g.K : (r+1)*ld])
				}
			}
			for q := 0; q < rows; q += runRows {
				run := z[q*ld : min(rows, q+runRows)*ld]
				if biasActRow(run, tiled, act, alpha) {
					continue
				}
				if tiled != nil {
					addTo(run, tiled)
				}
				applyAct(run, act, alpha)
			}
		}
		for im := 0; im < cnt; im++ {
			transpose(y[(s0+im)*g.OutSize():], np, z[im*np*ld:], ld, np, g.K)
		}
	})
}
