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
// stored wt). On AVX-512 a convolution takes the direct path (convChainDirect).
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
		convChainDirect(n, x, []ConvStage{{P: p, Bias: bias, Act: act, Alpha: alpha}}, y, false)
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

// Flags of convTile.
const (
	tileLoad = 1 << iota // continue the sums from the values in out
	tileBias             // add the bias before the store
	tileReLU             // then apply ReLU
)

// ConvStage is one convolution of ConvChain: prepared weights, its bias
// (nil for none) and activation.
type ConvStage struct {
	P     *PackedConv
	Bias  []float32
	Act   Act
	Alpha float32
}

// ConvChain computes the convolutions of stages back to back, each
// stage's output the next one's input, for n images: x [n, C, H, W] of
// the first stage, y the last stage's output [n, K, OutH, OutW], or with
// nhwc set channels-last [n, OutH, OutW, K]. On the direct path a chunk
// of images runs through every stage while it is in cache, each stage
// writing straight into the padded channels-last images the next one
// reads (no transposes, no intermediate tensors); otherwise the stages
// run one by one through Conv. Each output is the sum each stage's Conv
// computes, rounded alike: the result does not depend on the chunking,
// the thread count or nhwc. y must not overlap x.
func ConvChain(n int, x []float32, stages []ConvStage, y []float32, nhwc bool) error {
	if len(stages) == 0 {
		return fmt.Errorf("kernels: ConvChain: no stages")
	}
	direct := true
	for i, st := range stages {
		g := st.P.g
		if st.P.transposed {
			return fmt.Errorf("kernels: ConvChain: stage %d: weights prepared for a transposed convolution", i)
		}
		if i > 0 {
			if p := stages[i-1].P.g; p.K != g.C || p.OutH() != g.H || p.OutW() != g.W {
				return fmt.Errorf("kernels: ConvChain: stage %d (%v) does not take stage %d's output (%v)", i, g, i-1, p)
			}
		}
		if bias := st.Bias; bias != nil && len(bias) != g.K {
			return fmt.Errorf("kernels: ConvChain: stage %d: bias has %d elements, want %d", i, len(bias), g.K)
		}
		if int(st.Act) >= len(actNames) {
			return fmt.Errorf("kernels: ConvChain: stage %d: unknown activation %v", i, st.Act)
		}
		direct = direct && st.P.direct
	}
	first, last := stages[0].P.g, stages[len(stages)-1].P.g
	if err := checkLen("ConvChain", "input", x, n*first.InSize()); err != nil {
		return err
	}
	if err := checkLen("ConvChain", "output", y, n*last.OutSize()); err != nil {
		return err
	}
	if n == 0 {
		return nil
	}
	if direct {
		convChainDirect(n, x, stages, y, nhwc)
		return nil
	}
	// One stage at a time through Conv, then channels-last if asked.
	in := x
	for i, st := range stages {
		out := y
		if i < len(stages)-1 || nhwc {
			out = make([]float32, n*st.P.g.OutSize())
		}
		if err := st.P.Conv(n, in, st.Bias, st.Act, st.Alpha, out); err != nil {
			return err
		}
		in = out
	}
	if nhwc {
		np := last.OutH() * last.OutW()
		for im := 0; im < n; im++ {
			transpose(y[im*last.OutSize():], last.K, in[im*last.OutSize():], np, last.K, np)
		}
	}
	return nil
}

// convChainDirect is ConvChain's direct path (every stage direct). Chunks
// of images fill about convChunkFloats with every stage's padded input
// and the last output; for each, the first stage's padded channels-last
// copy, then per stage convTile over every tile of 6 output pixels (the
// last tile repeats its last pixel) and 64 output channels, its stores
// going to the next stage's padded images, to y (channels-last), or to a
// channels-last product transposed into y. Bias and ReLU are applied in
// the tile's final store; another activation runs over the rows written.
func convChainDirect(n int, x []float32, stages []ConvStage, y []float32, nhwc bool) {
	first, last := stages[0].P.g, stages[len(stages)-1].P.g
	per := last.OutSize() // y's floats per image
	floats := per         // a chunk's per image
	for _, st := range stages {
		floats += st.P.g.paddedSize()
	}
	nb := max(1, min(n, convChunkFloats/floats))
	chunks := (n + nb - 1) / nb
	parallelChunks(chunks, func(i int, s *convScratch) {
		s0 := i * nb
		cnt := min(nb, n-s0)
		for len(s.xps) < len(stages) {
			s.xps = append(s.xps, nil)
		}
		xp := s.grow(&s.xps[0], cnt*first.paddedSize())
		first.toPadded(xp, x[s0*first.InSize():], s.grow(&s.t, first.InSize()), cnt)
		for si, st := range stages {
			g := st.P.g
			np, ow := g.OutH()*g.OutW(), g.OutW()
			var out []float32
			var next *ConvGeom
			switch {
			case si < len(stages)-1:
				ng := stages[si+1].P.g
				next = &ng
				out = s.grow(&s.xps[si+1], cnt*ng.paddedSize())
				ng.clearBorder(out, cnt)
			case nhwc:
				out = y[s0*per : (s0+cnt)*per]
			default:
				out = s.grow(&s.z, cnt*np*g.K)
			}
			rows := cnt * np
			tiles := (rows + convTileRows - 1) / convTileRows
			if cap(s.rows) < tiles*convTileRows {
				s.rows = make([]int, tiles*convTileRows)
			}
			if cap(s.orows) < tiles*convTileRows {
				s.orows = make([]int, tiles*convTileRows)
			}
			ro, oo := s.rows[:tiles*convTileRows], s.orows[:tiles*convTileRows]
			wp := g.W + 2*g.PW
			r := 0
			for im := 0; im < cnt; im++ {
				for oy := 0; oy < g.OutH(); oy++ {
					at := 4 * (im*g.paddedSize() + oy*g.SH*wp*g.C)
					var oat int
					if next != nil {
						oat = 4 * (im*next.paddedSize() + ((oy+next.PH)*(next.W+2*next.PW)+next.PW)*g.K)
					} else {
						oat = 4 * (im*np + oy*ow) * g.K
					}
					for ox := 0; ox < ow; ox++ {
						ro[r] = at + 4*ox*g.SW*g.C
						oo[r] = oat + 4*ox*g.K
						r++
					}
				}
			}
			for ; r < len(ro); r++ {
				ro[r], oo[r] = ro[rows-1], oo[rows-1] // the last tile repeats its last pixel
			}
			st.P.directTiles(xp, ro, out, oo, tiles, st.Bias, st.Act)
			if st.Act != Linear && st.Act != ReLU {
				// The activation over the rows written.
				if next != nil {
					wpn := next.W + 2*next.PW
					for im := 0; im < cnt; im++ {
						for h := 0; h < next.H; h++ {
							at := im*next.paddedSize() + ((h+next.PH)*wpn+next.PW)*next.C
							applyAct(out[at:at+next.W*next.C], st.Act, st.Alpha)
						}
					}
				} else {
					applyAct(out[:rows*g.K], st.Act, st.Alpha)
				}
			}
			if next == nil && !nhwc {
				for im := 0; im < cnt; im++ {
					transpose(y[(s0+im)*per:], np, out[im*np*g.K:], g.K, np, g.K)
				}
			}
			xp = out
		}
	})
}

// directTiles runs convTile over every tile of a chunk: groups of taps
// whose weights stay in L1 while every tile of the chunk runs over them,
// the sums continuing from group to group in the same order, the bias
// and ReLU (when act is ReLU) applied by the last group's store.
func (p *PackedConv) directTiles(xp []float32, ro []int, out []float32, oo []int, tiles int, bias []float32, act Act) {
	g := p.g
	blocks := (g.K + convTileCols - 1) / convTileCols
	per := len(p.dw) / blocks
	ntaps := len(p.tapOffs)
	group := max(1, min(ntaps, convTileL1/(g.C*convTileCols)))
	for b := 0; b < blocks; b++ {
		k0 := b * convTileCols
		ncols := min(convTileCols, g.K-k0)
		var bb []float32
		if bias != nil {
			bb = bias[k0:]
		}
		for t0 := 0; t0 < ntaps; t0 += group {
			t1 := min(ntaps, t0+group)
			w := p.dw[b*per+t0*g.C*convTileCols:]
			flags := 0
			if t0 > 0 {
				flags |= tileLoad
			}
			if t1 == ntaps {
				if bias != nil {
					flags |= tileBias
				}
				if act == ReLU {
					flags |= tileReLU
				}
			}
			for t := 0; t < tiles; t++ {
				convTile(xp, ro[t*convTileRows:], p.tapOffs[t0:t1], g.C, w, out[k0:], oo[t*convTileRows:], ncols, flags, bb)
			}
		}
	}
}

// clearBorder zeroes the padding of cnt padded channels-last images xp.
func (g ConvGeom) clearBorder(xp []float32, cnt int) {
	if g.PH == 0 && g.PW == 0 {
		return
	}
	wp := g.W + 2*g.PW
	row := wp * g.C
	for im := 0; im < cnt; im++ {
		img := xp[im*g.paddedSize() : (im+1)*g.paddedSize()]
		clear(img[:g.PH*row])
		clear(img[(g.PH+g.H)*row:])
		for h := g.PH; h < g.PH+g.H; h++ {
			clear(img[h*row : h*row+g.PW*g.C])
			clear(img[h*row+(g.PW+g.W)*g.C : (h+1)*row])
		}
	}
}
