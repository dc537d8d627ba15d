package kernels

import "sync"

// The direct paths of the training convolutions (hasConvTile): Conv and
// ConvFilterGrad run convTile straight over padded channels-last images,
// as PackedConv does for inference, with no patch matrix and no packing
// of a product's operands. A training step's weights change every step,
// so each call prepares them (a reordering of the weight array, cheap next
// to a batch of images).
//
//	Conv            tiles of 6 output pixels × 64 output channels, summed
//	                over (tap, channel): convChainDirect with one stage.
//	ConvFilterGrad  tiles of 6 (tap, channel) rows of dwᵀ × 64 output
//	                channels, summed over the output pixels: convTile with
//	                one "channel", the pixels as its taps (their offsets in
//	                the padded images) and dy channels-last as its weights.
//
// Sums run in a fixed order set by the geometry and the batch alone, so
// the results do not depend on GOMAXPROCS; they differ from the patch
// matrix path's in rounding.

// directScratch is a call's prepared weights and offsets.
type directScratch struct {
	p     PackedConv
	stage [1]ConvStage
	ro    []int // ConvFilterGrad: byte offset of each dwᵀ row's value in a patch
	oo    []int // ConvFilterGrad: byte offset of each dwᵀ row in the output
}

var directPool = sync.Pool{New: func() any { return new(directScratch) }}

// prepareDirectInto lays w [K, C, KH, KW] out for convTile, as
// prepareDirect does, reusing p's slices.
func (p *PackedConv) prepareDirectInto(g ConvGeom, w []float32) {
	p.g, p.transposed, p.pb, p.wt = g, false, nil, nil
	taps, blocks := g.KH*g.KW, (g.K+convTileCols-1)/convTileCols
	per := taps * g.C * convTileCols
	if cap(p.dw) < blocks*per {
		p.dw = make([]float32, blocks*per)
	}
	p.dw = p.dw[:blocks*per]
	if g.K%convTileCols != 0 {
		clear(p.dw[(blocks-1)*per:])
	}
	for k := 0; k < g.K; k++ {
		blk := p.dw[k/convTileCols*per:]
		kk := k % convTileCols
		src := w[k*g.PatchSize() : (k+1)*g.PatchSize()]
		for c := 0; c < g.C; c++ {
			for t := 0; t < taps; t++ {
				blk[(t*g.C+c)*convTileCols+kk] = src[c*taps+t]
			}
		}
	}
	wp := g.W + 2*g.PW
	p.tapOffs = p.tapOffs[:0]
	for i := 0; i < g.KH; i++ {
		for j := 0; j < g.KW; j++ {
			p.tapOffs = append(p.tapOffs, 4*(i*wp+j)*g.C)
		}
	}
	p.direct = true
}

// convDirect is Conv on the direct path (arguments checked, n > 0).
func convDirect(g ConvGeom, n int, x, w, bias []float32, act Act, alpha float32, y []float32) {
	d := directPool.Get().(*directScratch)
	d.p.prepareDirectInto(g, w)
	d.stage[0] = ConvStage{P: &d.p, Bias: bias, Act: act, Alpha: alpha}
	convChainDirect(n, x, d.stage[:], y, false)
	d.stage[0] = ConvStage{}
	directPool.Put(d)
}

// filterPixels is the number of output pixels whose channels-last
// gradients (64 floats each) one pass of filterGradDirect's tiles reads:
// 24 KB, half of L1.
const filterPixels = convTileL1 / convTileCols

// filterChunking returns the images per chunk and the chunks of
// filterGradDirect: a chunk's padded images and channels-last gradients
// fill about convChunkFloats. It depends on the geometry and n only.
func (g ConvGeom) filterChunking(n int) (nb, chunks int) {
	blocks := (g.K + convTileCols - 1) / convTileCols
	per := g.paddedSize() + g.OutH()*g.OutW()*blocks*convTileCols
	nb = max(1, min(n, convChunkFloats/per))
	return nb, (n + nb - 1) / nb
}

// filterGradDirect is ConvFilterGrad on the direct path (arguments
// checked, n > 0). The gradient is accumulated transposed and in tap
// order, dwᵀ [block of 64 output channels][KH·KW·C][64]: row (t, c) of a
// block is Σ over the output pixels p of x[p's patch, tap t, channel c] ·
// dy[p, block's channels], the pixels in order (image, oh, ow). Chunks of
// images are grouped as ConvFilterGrad's are (filterGroups runs of
// consecutive chunks, one partial sum each, added in order).
func (g ConvGeom) filterGradDirect(n int, x, dy, dw []float32) {
	taps, np := g.KH*g.KW, g.OutH()*g.OutW()
	rowsN := taps * g.C
	blocks := (g.K + convTileCols - 1) / convTileCols
	ws := blocks * rowsN * convTileCols
	tiles := (rowsN + convTileRows - 1) / convTileRows
	d := directPool.Get().(*directScratch)
	if cap(d.ro) < tiles*convTileRows {
		d.ro, d.oo = make([]int, tiles*convTileRows), make([]int, tiles*convTileRows)
	}
	ro, oo := d.ro[:tiles*convTileRows], d.oo[:tiles*convTileRows]
	wp := g.W + 2*g.PW
	for i := 0; i < g.KH; i++ {
		for j := 0; j < g.KW; j++ {
			for c := 0; c < g.C; c++ {
				r := (i*g.KW+j)*g.C + c
				ro[r] = 4 * ((i*wp+j)*g.C + c)
				oo[r] = 4 * r * convTileCols
			}
		}
	}
	for r := rowsN; r < len(ro); r++ {
		ro[r], oo[r] = ro[rowsN-1], oo[rowsN-1] // the last tile repeats its last row
	}
	nb, chunks := g.filterChunking(n)
	groups := min(filterGroups, chunks)
	partsp := getConvFloats(groups * ws)
	parts := *partsp
	parallelChunks(groups, func(gi int, s *convScratch) {
		acc := parts[gi*ws : (gi+1)*ws]
		lo, hi := split(chunks, gi, groups)
		for i := lo; i < hi; i++ {
			s0 := i * nb
			cnt := min(nb, n-s0)
			pix := cnt * np
			xp := s.grow(&s.xp, cnt*g.paddedSize())
			g.toPadded(xp, x[s0*g.InSize():], s.grow(&s.t, g.InSize()), cnt)
			// dyT [block][pixel][64]: the chunk's gradients channels-last.
			dyT := s.grow(&s.z, blocks*pix*convTileCols)
			for b := 0; b < blocks; b++ {
				k0 := b * convTileCols
				kn := min(convTileCols, g.K-k0)
				for im := 0; im < cnt; im++ {
					dst := dyT[(b*pix+im*np)*convTileCols:]
					transpose(dst, convTileCols, dy[((s0+im)*g.K+k0)*np:], np, kn, np)
					if kn < convTileCols {
						for q := 0; q < np; q++ {
							clear(dst[q*convTileCols+kn : (q+1)*convTileCols])
						}
					}
				}
			}
			// The pixels' offsets in the padded images, in bytes.
			if cap(s.rows) < pix {
				s.rows = make([]int, pix)
			}
			po := s.rows[:pix]
			q := 0
			for im := 0; im < cnt; im++ {
				for oy := 0; oy < g.OutH(); oy++ {
					at := im*g.paddedSize() + oy*g.SH*wp*g.C
					for ox := 0; ox < g.OutW(); ox++ {
						po[q] = 4 * (at + ox*g.SW*g.C)
						q++
					}
				}
			}
			for p0 := 0; p0 < pix; p0 += filterPixels {
				p1 := min(pix, p0+filterPixels)
				flags := tileLoad
				if i == lo && p0 == 0 {
					flags = 0
				}
				for b := 0; b < blocks; b++ {
					w := dyT[(b*pix+p0)*convTileCols:]
					out := acc[b*rowsN*convTileCols:]
					ncols := min(convTileCols, g.K-b*convTileCols)
					for t := 0; t < tiles; t++ {
						convTile(xp, ro[t*convTileRows:], po[p0:p1], 1, w, out, oo[t*convTileRows:], ncols, flags, nil)
					}
				}
			}
		}
	})
	directPool.Put(d)
	for gi := 1; gi < groups; gi++ {
		addRun(parts[:ws], parts[gi*ws:(gi+1)*ws])
	}
	// dw [K, C, KH, KW] from dwᵀ.
	for k := 0; k < g.K; k++ {
		blk := parts[k/convTileCols*rowsN*convTileCols:]
		kk := k % convTileCols
		dst := dw[k*g.PatchSize() : (k+1)*g.PatchSize()]
		for c := 0; c < g.C; c++ {
			for t := 0; t < taps; t++ {
				dst[c*taps+t] = blk[(t*g.C+c)*convTileCols+kk]
			}
		}
	}
	convFloats.Put(partsp)
}

// adjointBlock returns the width of ConvAdjoint's direct column blocks for
// g, and whether the direct path applies. A block is a run of (tap,
// channel) columns of one kernel row, contiguous in a padded
// channels-last image; blocks no wider than SW·C make the windows of the
// pixels of one tile disjoint, so that a tile can add its sums into the
// image in place. Narrower blocks than 48 of the tile's 64 columns would
// waste more of the tile than the patch matrix path costs.
func (g ConvGeom) adjointBlock() (bw int, ok bool) {
	bw = min(convTileCols, g.SW*g.C, g.KW*g.C)
	return bw, hasConvTile && bw >= 48
}

// convAdjointDirect is ConvAdjoint on the direct path (arguments checked,
// n > 0, g.adjointBlock ok). For each chunk of images: y channels-last
// (yᵀ [pixel][K]), the padded channels-last images zeroed, then for each
// column block (kernel row i, columns j0…j0+bw of its KW·C run) and each
// tile of 6 output pixels, convTile adds Σ_k yᵀ[pixel, k]·w[k, block
// column] into the image at the pixel's patch, row i, column j0: the
// col2im of ConvAdjoint's patch matrix done in the tile's store. Each
// image value is summed over the blocks in order, then the pixels in
// order, then k. The bias and activation run over the channels-last rows
// before the transpose to NCHW.
func convAdjointDirect(g ConvGeom, n int, y, w, bias []float32, act Act, alpha float32, x []float32) {
	bw, _ := g.adjointBlock()
	run := g.KW * g.C
	perRow := (run + bw - 1) / bw
	blocks := g.KH * perRow
	d := directPool.Get().(*directScratch)
	// wb [block][K][64]: block (i, b) column q is tap (i, (b·bw+q)/C),
	// channel (b·bw+q)%C; zero past bw and past the run.
	need := blocks * g.K * convTileCols
	if cap(d.p.dw) < need {
		d.p.dw = make([]float32, need)
	}
	wb := d.p.dw[:need]
	clear(wb)
	taps := g.KH * g.KW
	for i := 0; i < g.KH; i++ {
		for b := 0; b < perRow; b++ {
			blk := wb[(i*perRow+b)*g.K*convTileCols:]
			for q := 0; q < bw && b*bw+q < run; q++ {
				j, c := (b*bw+q)/g.C, (b*bw+q)%g.C
				for k := 0; k < g.K; k++ {
					blk[k*convTileCols+q] = w[(k*g.C+c)*taps+i*g.KW+j]
				}
			}
		}
	}
	np, ow, wp := g.OutH()*g.OutW(), g.OutW(), g.W+2*g.PW
	per := np*g.K + g.paddedSize()
	nb := max(1, min(n, convChunkFloats/per))
	chunks := (n + nb - 1) / nb
	parallelChunks(chunks, func(ci int, s *convScratch) {
		s0 := ci * nb
		cnt := min(nb, n-s0)
		rows := cnt * np
		yt := s.grow(&s.z, rows*g.K)
		for im := 0; im < cnt; im++ {
			transpose(yt[im*np*g.K:], g.K, y[(s0+im)*g.OutSize():], np, g.K, np)
		}
		xp := s.grow(&s.xp, cnt*g.paddedSize())
		clear(xp)
		tiles := (rows + convTileRows - 1) / convTileRows
		if cap(s.rows) < tiles*convTileRows {
			s.rows = make([]int, tiles*convTileRows)
		}
		if cap(s.orows) < tiles*convTileRows {
			s.orows = make([]int, tiles*convTileRows)
		}
		ro, oo := s.rows[:tiles*convTileRows], s.orows[:tiles*convTileRows]
		r := 0
		for im := 0; im < cnt; im++ {
			for oy := 0; oy < g.OutH(); oy++ {
				at := im*g.paddedSize() + oy*g.SH*wp*g.C
				for ox := 0; ox < ow; ox++ {
					ro[r] = 4 * r * g.K
					oo[r] = 4 * (at + ox*g.SW*g.C)
					r++
				}
			}
		}
		for ; r < len(ro); r++ {
			ro[r], oo[r] = ro[rows-1], oo[rows-1] // the last tile repeats its last pixel
		}
		zero := [1]int{0}
		for i := 0; i < g.KH; i++ {
			for b := 0; b < perRow; b++ {
				blk := wb[(i*perRow+b)*g.K*convTileCols:]
				out := xp[i*wp*g.C+b*bw:]
				ncols := min(bw, run-b*bw)
				for t := 0; t < tiles; t++ {
					convTile(yt, ro[t*convTileRows:], zero[:], g.K, blk, out, oo[t*convTileRows:], ncols, tileLoad, nil)
				}
			}
		}
		var tiled []float32
		if bias != nil {
			tiled = s.grow(&s.bias, g.W*g.C)
			for w := 0; w < g.W; w++ {
				copy(tiled[w*g.C:(w+1)*g.C], bias)
			}
		}
		g.fromPaddedTiled(x[s0*g.InSize():(s0+cnt)*g.InSize()], xp, s.grow(&s.t, g.InSize()), cnt, tiled, act, alpha)
	})
	directPool.Put(d)
}
