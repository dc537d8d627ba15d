package kernels

import (
	"fmt"
	"sync"
	"sync/atomic"
)

// Convolutions over batches of NCHW images, each image one row of C·H·W
// floats (row-major: channel, then row, then column), as a training graph
// whose every tensor is a [batch, features] matrix stores them.
//
// Three functions cover a convolution layer and a transposed one, forward
// and backward, because a transposed convolution is the adjoint of a
// convolution with the same weight array:
//
//	                      convolution g              transposed convolution (adjoint of g)
//	forward               Conv(x → y)                ConvAdjoint(x → y)
//	gradient of the input ConvAdjoint(dz → dx)       Conv(dz → dx)
//	gradient of weights   ConvFilterGrad(x, dz)      ConvFilterGrad(dz, x)
//	gradient of the bias  ChannelSum(dz)             ChannelSum(dz)
//
// where g always describes the convolution itself: for a transposed
// convolution, the one from its output back to its input (its output is
// g's input, and its weight [C_in, C_out, kh, kw] is g's [K, C, KH, KW]).
//
// Each function splits the batch into chunks of a few images, sized from
// the geometry and the batch alone so that a chunk's buffers stay in L2,
// and runs every chunk on one goroutine: the images transposed to padded
// channels-last copies, their patch matrix (im2col: a patch's kernel rows
// are then contiguous runs), one matrix product (sgemmSerial, on this
// goroutine only) and the scatter into the output, while the data are in
// that core's cache. Chunks are independent, and ConvFilterGrad adds the
// chunks' products in a fixed order (chunks grouped into filterGroups
// groups of consecutive chunks, the groups summed in order), so results
// depend neither on GOMAXPROCS nor on which goroutine ran a chunk.

// ConvGeom is the geometry of a 2-D convolution with zero padding: input
// images of C channels of H×W, K output channels (filters), a KH×KW kernel,
// strides SH, SW and padding PH, PW on each side. Its weights are a
// [K, C, KH, KW] array, row-major (PyTorch's and ONNX's Conv layout, and
// ConvTranspose's layout for a transposed convolution from K channels to C).
type ConvGeom struct {
	C, H, W int
	K       int
	KH, KW  int
	SH, SW  int
	PH, PW  int
}

// OutH returns the output height, (H + 2·PH − KH)/SH + 1 rounded down.
func (g ConvGeom) OutH() int { return (g.H+2*g.PH-g.KH)/g.SH + 1 }

// OutW returns the output width, (W + 2·PW − KW)/SW + 1 rounded down.
func (g ConvGeom) OutW() int { return (g.W+2*g.PW-g.KW)/g.SW + 1 }

// InSize returns the floats of one input image, C·H·W.
func (g ConvGeom) InSize() int { return g.C * g.H * g.W }

// OutSize returns the floats of one output image, K·OutH·OutW.
func (g ConvGeom) OutSize() int { return g.K * g.OutH() * g.OutW() }

// PatchSize returns the floats of one patch, C·KH·KW: the columns of the
// weight matrix [K, C·KH·KW].
func (g ConvGeom) PatchSize() int { return g.C * g.KH * g.KW }

// WeightSize returns K·C·KH·KW.
func (g ConvGeom) WeightSize() int { return g.K * g.PatchSize() }

func (g ConvGeom) String() string {
	return fmt.Sprintf("%d×%d×%d → %d, kernel %d×%d, stride %d×%d, padding %d×%d",
		g.C, g.H, g.W, g.K, g.KH, g.KW, g.SH, g.SW, g.PH, g.PW)
}

// Check reports a geometry that has no output or cannot be computed:
// non-positive sizes or strides, negative padding, a kernel larger than
// the padded input.
func (g ConvGeom) Check() error {
	switch {
	case g.C <= 0 || g.H <= 0 || g.W <= 0:
		return fmt.Errorf("kernels: conv %v: input size must be positive", g)
	case g.K <= 0:
		return fmt.Errorf("kernels: conv %v: output channels must be positive", g)
	case g.KH <= 0 || g.KW <= 0:
		return fmt.Errorf("kernels: conv %v: kernel size must be positive", g)
	case g.SH <= 0 || g.SW <= 0:
		return fmt.Errorf("kernels: conv %v: stride must be positive", g)
	case g.PH < 0 || g.PW < 0:
		return fmt.Errorf("kernels: conv %v: padding must not be negative", g)
	case g.KH > g.H+2*g.PH || g.KW > g.W+2*g.PW:
		return fmt.Errorf("kernels: conv %v: kernel larger than the padded input %d×%d", g, g.H+2*g.PH, g.W+2*g.PW)
	}
	// Sizes whose products overflow int cannot be allocated anyway; a
	// limit keeps the index arithmetic below safe.
	const limit = 1 << 31
	if g.InSize() >= limit || g.OutSize() >= limit || g.WeightSize() >= limit || g.PatchSize()*g.OutH()*g.OutW() >= limit {
		return fmt.Errorf("kernels: conv %v: too large", g)
	}
	return nil
}

// checkLen reports a slice shorter than need.
func checkLen(fn, name string, x []float32, need int) error {
	if len(x) < need {
		return fmt.Errorf("kernels: %s: %s has %d elements, want %d", fn, name, len(x), need)
	}
	return nil
}

func (g ConvGeom) checkCall(fn string, n int) error {
	if err := g.Check(); err != nil {
		return err
	}
	if n < 0 {
		return fmt.Errorf("kernels: %s: negative batch %d", fn, n)
	}
	return nil
}

// Conv computes y = act(conv(x, w) + bias) for n images: x [n, C, H, W],
// w [K, C, KH, KW], bias [K] (nil for none), y [n, K, OutH, OutW].
// y must not overlap x or w.
func Conv(g ConvGeom, n int, x, w, bias []float32, act Act, alpha float32, y []float32) error {
	if err := g.checkCall("Conv", n); err != nil {
		return err
	}
	for _, c := range []struct {
		name string
		s    []float32
		need int
	}{{"x", x, n * g.InSize()}, {"w", w, g.WeightSize()}, {"y", y, n * g.OutSize()}} {
		if err := checkLen("Conv", c.name, c.s, c.need); err != nil {
			return err
		}
	}
	if bias != nil && len(bias) != g.K {
		return fmt.Errorf("kernels: Conv: bias has %d elements, want %d", len(bias), g.K)
	}
	if int(act) >= len(actNames) {
		return fmt.Errorf("kernels: Conv: unknown activation %v", act)
	}
	if n == 0 {
		return nil
	}
	if hasConvTile {
		convDirect(g, n, x, w, bias, act, alpha, y)
		return nil
	}
	wtp := getConvFloats(g.WeightSize())
	wt := *wtp
	g.toTapOrder(wt, w)
	nb, chunks := g.chunking(n)
	p, kc := g.OutH()*g.OutW(), g.PatchSize()
	parallelChunks(chunks, func(i int, s *convScratch) {
		s0 := i * nb
		cnt := min(nb, n-s0)
		cols := cnt * p
		col := s.grow(&s.col, cols*kc)
		z := s.grow(&s.z, g.K*cols)
		xp := s.grow(&s.xp, cnt*g.paddedSize())
		g.toPadded(xp, x[s0*g.InSize():], s.grow(&s.t, g.InSize()), cnt)
		g.im2col(col, xp, cnt)
		// z [K, cnt·P] = w [K, taps] · colᵀ.
		sgemmSerial(false, true, g.K, cols, kc, wt, kc, col, kc, 0, z, cols)
		for im := 0; im < cnt; im++ {
			out := y[(s0+im)*g.OutSize():]
			for k := 0; k < g.K; k++ {
				src := z[k*cols+im*p : k*cols+im*p+p]
				biasAct(out[k*p:k*p+p], src, bias, k, act, alpha)
			}
		}
	})
	convFloats.Put(wtp)
	return nil
}

// ConvAdjoint computes x = act(convᵀ(y, w) + bias) for n images: the
// adjoint (transpose) of Conv with the same weights, which is both the
// gradient of Conv with respect to its input (bias nil, act Linear) and a
// transposed convolution from K channels to C (PyTorch's ConvTranspose2d,
// whose weight [K, C, KH, KW] is w). y [n, K, OutH, OutW], w [K, C, KH,
// KW], bias [C] (nil for none), x [n, C, H, W]. Pixels of x that no output
// pixel of g covers (the output_padding of a transposed convolution) get
// the bias alone. x must not overlap y or w.
func ConvAdjoint(g ConvGeom, n int, y, w, bias []float32, act Act, alpha float32, x []float32) error {
	if err := g.checkCall("ConvAdjoint", n); err != nil {
		return err
	}
	for _, c := range []struct {
		name string
		s    []float32
		need int
	}{{"y", y, n * g.OutSize()}, {"w", w, g.WeightSize()}, {"x", x, n * g.InSize()}} {
		if err := checkLen("ConvAdjoint", c.name, c.s, c.need); err != nil {
			return err
		}
	}
	if bias != nil && len(bias) != g.C {
		return fmt.Errorf("kernels: ConvAdjoint: bias has %d elements, want %d", len(bias), g.C)
	}
	if int(act) >= len(actNames) {
		return fmt.Errorf("kernels: ConvAdjoint: unknown activation %v", act)
	}
	if n == 0 {
		return nil
	}
	if _, ok := g.adjointBlock(); ok {
		convAdjointDirect(g, n, y, w, bias, act, alpha, x)
		return nil
	}
	wtp := getConvFloats(g.WeightSize())
	wt := *wtp
	g.toTapOrder(wt, w)
	nb, chunks := g.chunking(n)
	p, kc := g.OutH()*g.OutW(), g.PatchSize()
	parallelChunks(chunks, func(i int, s *convScratch) {
		s0 := i * nb
		cnt := min(nb, n-s0)
		cols := cnt * p
		col := s.grow(&s.col, cols*kc)
		z := s.grow(&s.z, g.K*cols)
		xp := s.grow(&s.xp, cnt*g.paddedSize())
		g.gatherChannels(y[s0*g.OutSize():], cnt, z, cols)
		// col [cnt·P, taps] = zᵀ · w.
		sgemmSerial(true, false, cols, kc, g.K, z, cols, wt, kc, 0, col, kc)
		g.col2im(xp, col, cnt)
		g.fromPadded(x[s0*g.InSize():(s0+cnt)*g.InSize()], xp, s.grow(&s.t, g.InSize()), cnt, bias, act, alpha)
	})
	convFloats.Put(wtp)
	return nil
}

// filterGroups is the number of partial sums ConvFilterGrad keeps: chunks
// are grouped into at most this many runs of consecutive chunks, each run
// accumulated by one goroutine, and the runs' sums added in order. It
// bounds the useful parallelism of a filter gradient (enough for 8 cores)
// and is a constant, so that the sum does not depend on GOMAXPROCS.
const filterGroups = 8

// ConvFilterGrad computes the gradient of Conv's weights,
// dw[k, c, i, j] = Σ_image Σ_(oh, ow) dy[k, oh, ow]·x[c, oh·SH−PH+i, ow·SW−PW+j],
// for n images: x [n, C, H, W], dy [n, K, OutH, OutW], dw [K, C, KH, KW]
// (overwritten). For a transposed convolution (ConvAdjoint) from y to x,
// the weight gradient is ConvFilterGrad(g, n, dx, y, dw): the image is the
// gradient of its output, dy its input.
func ConvFilterGrad(g ConvGeom, n int, x, dy, dw []float32) error {
	if err := g.checkCall("ConvFilterGrad", n); err != nil {
		return err
	}
	for _, c := range []struct {
		name string
		s    []float32
		need int
	}{{"x", x, n * g.InSize()}, {"dy", dy, n * g.OutSize()}, {"dw", dw, g.WeightSize()}} {
		if err := checkLen("ConvFilterGrad", c.name, c.s, c.need); err != nil {
			return err
		}
	}
	dw = dw[:g.WeightSize()]
	if n == 0 {
		clear(dw)
		return nil
	}
	if hasConvTile {
		g.filterGradDirect(n, x, dy, dw)
		return nil
	}
	nb, chunks := g.chunking(n)
	groups := min(filterGroups, chunks)
	p, kc, ws := g.OutH()*g.OutW(), g.PatchSize(), g.WeightSize()
	// One partial sum per group, in tap order.
	partsp := getConvFloats(groups * ws)
	parts := *partsp
	parallelChunks(groups, func(gi int, s *convScratch) {
		acc := parts[gi*ws : (gi+1)*ws]
		lo, hi := split(chunks, gi, groups)
		for i := lo; i < hi; i++ {
			s0 := i * nb
			cnt := min(nb, n-s0)
			cols := cnt * p
			col := s.grow(&s.col, cols*kc)
			z := s.grow(&s.z, g.K*cols)
			xp := s.grow(&s.xp, cnt*g.paddedSize())
			g.toPadded(xp, x[s0*g.InSize():], s.grow(&s.t, g.InSize()), cnt)
			g.im2col(col, xp, cnt)
			g.gatherChannels(dy[s0*g.OutSize():], cnt, z, cols)
			beta := float32(1)
			if i == lo {
				beta = 0
			}
			// acc [K, taps] += z [K, cnt·P] · col.
			sgemmSerial(false, false, g.K, kc, cols, z, cols, col, kc, beta, acc, kc)
		}
	})
	for gi := 1; gi < groups; gi++ {
		addRun(parts[:ws], parts[gi*ws:(gi+1)*ws])
	}
	g.fromTapOrder(dw, parts[:ws])
	convFloats.Put(partsp)
	return nil
}

// ChannelSum sets dst[c] = Σ_image Σ_p src[image, c, p] for n images of
// c channels of p values each: the bias gradient of a convolution. Each
// sum is accumulated in float64 in image order, then rounded once; the
// channels are split across goroutines.
func ChannelSum(dst, src []float32, n, c, p int) error {
	if n < 0 || c < 0 || p < 0 {
		return fmt.Errorf("kernels: ChannelSum: negative size n=%d c=%d p=%d", n, c, p)
	}
	if err := checkLen("ChannelSum", "dst", dst, c); err != nil {
		return err
	}
	if err := checkLen("ChannelSum", "src", src, n*c*p); err != nil {
		return err
	}
	// One channel per task: each sum has one order whatever the split.
	parts := min(c, n*c*p/(1<<14)+1)
	parallelChunks(parts, func(part int, _ *convScratch) {
		lo, hi := split(c, part, parts)
		for ch := lo; ch < hi; ch++ {
			var acc float64
			for im := 0; im < n; im++ {
				acc += sum8(src[(im*c+ch)*p : (im*c+ch)*p+p])
			}
			dst[ch] = float32(acc)
		}
	})
	return nil
}

// sum8 returns the sum of x in eight float32 lanes (fixed order), then
// float64: x is one channel of one image, at most a few thousand values.
func sum8(x []float32) float64 {
	var s [8]float32
	j := 0
	for ; j+8 <= len(x); j += 8 {
		v := x[j : j+8 : j+8]
		s[0] += v[0]
		s[1] += v[1]
		s[2] += v[2]
		s[3] += v[3]
		s[4] += v[4]
		s[5] += v[5]
		s[6] += v[6]
		s[7] += v[7]
	}
	for ; j < len(x); j++ {
		s[0] += x[j]
	}
	var t float64
	for _, v := range s {
		t += float64(v)
	}
	return t
}

// biasAct sets dst[j] = act(src[j] + bias[k]) (no bias when bias is nil).
// dst and src may be the same slice.
func biasAct(dst, src, bias []float32, k int, act Act, alpha float32) {
	if bias != nil {
		b := bias[k]
		src = src[:len(dst)]
		for j, v := range src {
			dst[j] = v + b
		}
	} else if &dst[0] != &src[0] {
		copy(dst, src)
	}
	if act == Linear || biasActRow(dst, nil, act, alpha) {
		return
	}
	applyAct(dst, act, alpha)
}

// convChunkFloats is the size, in floats, that a chunk's buffers aim for:
// about 512 KB, a quarter of this machine's 2 MB L2 per core, leaving room
// for the weights and the packed panels. A variable so that benchmarks can
// try others.
var convChunkFloats = 128 << 10

// chunking returns the images per chunk and the number of chunks for a
// batch of n. It depends on the geometry and n only.
func (g ConvGeom) chunking(n int) (nb, chunks int) {
	per := (g.PatchSize()+g.K)*g.OutH()*g.OutW() + g.paddedSize()
	nb = max(1, min(n, convChunkFloats/per))
	return nb, (n + nb - 1) / nb
}

// The patch matrix is taken from images stored channels-last with their
// zero padding (HWC, "padded"): there, the KW·C values of one kernel row
// of a patch are contiguous, so a patch is KH copies, and its adjoint KH
// contiguous sums, instead of C·KH·KW strided gathers of a few values each.
// The weights are reordered to match ("tap order", [K, KH, KW, C]).

// paddedSize returns the floats of one padded channels-last image.
func (g ConvGeom) paddedSize() int { return (g.H + 2*g.PH) * (g.W + 2*g.PW) * g.C }

// toTapOrder reorders w [K, C, KH, KW] into wt [K, KH, KW, C].
func (g ConvGeom) toTapOrder(wt, w []float32) {
	taps := g.KH * g.KW
	for k := 0; k < g.K; k++ {
		src := w[k*g.PatchSize() : (k+1)*g.PatchSize()]
		dst := wt[k*g.PatchSize() : (k+1)*g.PatchSize()]
		for c := 0; c < g.C; c++ {
			for t := 0; t < taps; t++ {
				dst[t*g.C+c] = src[c*taps+t]
			}
		}
	}
}

// fromTapOrder is toTapOrder's inverse.
func (g ConvGeom) fromTapOrder(w, wt []float32) {
	taps := g.KH * g.KW
	for k := 0; k < g.K; k++ {
		src := wt[k*g.PatchSize() : (k+1)*g.PatchSize()]
		dst := w[k*g.PatchSize() : (k+1)*g.PatchSize()]
		for c := 0; c < g.C; c++ {
			for t := 0; t < taps; t++ {
				dst[c*taps+t] = src[t*g.C+c]
			}
		}
	}
}

// toPadded writes cnt images x [C, H, W] into xp as padded channels-last
// images [H+2PH, W+2PW, C], the padding zero. tmp holds an unpadded
// channels-last image when there is padding.
func (g ConvGeom) toPadded(xp, x, tmp []float32, cnt int) {
	wp, hw := g.W+2*g.PW, g.H*g.W
	padded := g.PH > 0 || g.PW > 0
	if padded {
		clear(xp[:cnt*g.paddedSize()])
	}
	for im := 0; im < cnt; im++ {
		img := x[im*g.InSize() : (im+1)*g.InSize()]
		dst := xp[im*g.paddedSize() : (im+1)*g.paddedSize()]
		if g.C == 1 { // channels-last is the same layout
			for h := 0; h < g.H; h++ {
				copy(dst[(h+g.PH)*wp+g.PW:], img[h*g.W:(h+1)*g.W])
			}
			continue
		}
		if !padded {
			transpose(dst, g.C, img, hw, g.C, hw)
			continue
		}
		transpose(tmp, g.C, img, hw, g.C, hw)
		for h := 0; h < g.H; h++ {
			copy(dst[((h+g.PH)*wp+g.PW)*g.C:], tmp[h*g.W*g.C:(h+1)*g.W*g.C])
		}
	}
}

// fromPadded writes the interior of cnt padded channels-last images xp into
// x [C, H, W] as act(value + bias[c]). tmp is as for toPadded.
func (g ConvGeom) fromPadded(x, xp, tmp []float32, cnt int, bias []float32, act Act, alpha float32) {
	wp, hw := g.W+2*g.PW, g.H*g.W
	padded := g.PH > 0 || g.PW > 0
	for im := 0; im < cnt; im++ {
		img := x[im*g.InSize() : (im+1)*g.InSize()]
		src := xp[im*g.paddedSize() : (im+1)*g.paddedSize()]
		switch {
		case g.C == 1:
			for h := 0; h < g.H; h++ {
				copy(img[h*g.W:(h+1)*g.W], src[(h+g.PH)*wp+g.PW:])
			}
		case !padded:
			transpose(img, hw, src, g.C, hw, g.C)
		default:
			for h := 0; h < g.H; h++ {
				copy(tmp[h*g.W*g.C:(h+1)*g.W*g.C], src[((h+g.PH)*wp+g.PW)*g.C:])
			}
			transpose(img, hw, tmp, g.C, hw, g.C)
		}
		if bias == nil && act == Linear {
			continue
		}
		for c := 0; c < g.C; c++ {
			ch := img[c*hw : (c+1)*hw]
			biasAct(ch, ch, bias, c, act, alpha)
		}
	}
}

// transpose sets dst[j·ldd+i] = src[i·lds+j] for i < rows, j < cols, 8×8
// blocks at a time where the micro-kernel has a transposer.
func transpose(dst []float32, ldd int, src []float32, lds int, rows, cols int) {
	i := 0
	if t8 := active.transpose8; t8 != nil && cols >= 8 {
		blocks := cols / 8
		for ; i+8 <= rows; i += 8 {
			t8(dst[i:], ldd, src[i*lds:], lds, blocks)
		}
		for r := 0; r < i; r++ { // the columns the blocks left
			row := src[r*lds : r*lds+cols]
			for j := blocks * 8; j < cols; j++ {
				dst[j*ldd+r] = row[j]
			}
		}
	}
	for ; i < rows; i++ {
		row := src[i*lds : i*lds+cols]
		for j, v := range row {
			dst[j*ldd+i] = v
		}
	}
}

// im2col writes the patches of cnt padded channels-last images xp into
// col, a [cnt·OutH·OutW, KH·KW·C] matrix: row (image, oh, ow) holds the
// patch whose top left corner is padded pixel (oh·SH, ow·SW), in tap order.
func (g ConvGeom) im2col(col, xp []float32, cnt int) {
	oh, ow, wp := g.OutH(), g.OutW(), g.W+2*g.PW
	run, kc := g.KW*g.C, g.PatchSize() // floats of one kernel row, of a patch
	r := 0
	for im := 0; im < cnt; im++ {
		img := xp[im*g.paddedSize() : (im+1)*g.paddedSize()]
		for y := 0; y < oh; y++ {
			for x := 0; x < ow; x++ {
				patch := col[r*kc : r*kc+kc]
				r++
				for i := 0; i < g.KH; i++ {
					at := ((y*g.SH+i)*wp + x*g.SW) * g.C
					copyShort(patch[i*run:i*run+run], img[at:at+run])
				}
			}
		}
	}
}

// col2im is im2col's adjoint: it sets the padded channels-last images xp to
// the sum of every patch row of col at the pixels it was taken from. Each
// pixel's sum runs over the patches in order, so it is deterministic.
func (g ConvGeom) col2im(xp, col []float32, cnt int) {
	oh, ow, wp := g.OutH(), g.OutW(), g.W+2*g.PW
	run, kc := g.KW*g.C, g.PatchSize()
	clear(xp[:cnt*g.paddedSize()])
	r := 0
	for im := 0; im < cnt; im++ {
		img := xp[im*g.paddedSize() : (im+1)*g.paddedSize()]
		for y := 0; y < oh; y++ {
			for x := 0; x < ow; x++ {
				patch := col[r*kc : r*kc+kc]
				r++
				for i := 0; i < g.KH; i++ {
					at := ((y*g.SH+i)*wp + x*g.SW) * g.C
					addShort(img[at:at+run], patch[i*run:i*run+run])
				}
			}
		}
	}
}

// addRun sets dst[i] += src[i]; len(src) == len(dst). Sixteen lanes at
// a time with AVX-512, else eight at a time: the loop overhead, not the
// adds, bounds the plain loop.
func addRun(dst, src []float32) {
	dst = dst[:len(src)]
	if addVec(dst, src) {
		return
	}
	for len(src) >= 8 && len(dst) >= 8 {
		d, s := dst[:8:8], src[:8:8]
		d[0] += s[0]
		d[1] += s[1]
		d[2] += s[2]
		d[3] += s[3]
		d[4] += s[4]
		d[5] += s[5]
		d[6] += s[6]
		d[7] += s[7]
		dst, src = dst[8:], src[8:]
	}
	dst = dst[:len(src)]
	for i, v := range src {
		dst[i] += v
	}
}

// addShort is addRun for the short runs of a one-channel image's patch,
// where the call into the vector loop costs more than the adds; each
// element gets the same single float32 addition either way.
func addShort(dst, src []float32) {
	if len(src) > 16 {
		addRun(dst, src)
		return
	}
	dst = dst[:len(src)]
	for i, v := range src {
		dst[i] += v
	}
}

// copyShort is copy for the short runs of a one-channel image's patch,
// where calling memmove costs more than the copy.
func copyShort(dst, src []float32) {
	if len(dst) > 16 {
		copy(dst, src)
		return
	}
	src = src[:len(dst)]
	for i, v := range src {
		dst[i] = v
	}
}

// gatherChannels copies cnt images y [cnt, K, P] into z [K, cnt·P] with
// leading dimension ld: channel-major, as the products need them.
func (g ConvGeom) gatherChannels(y []float32, cnt int, z []float32, ld int) {
	p := g.OutH() * g.OutW()
	for im := 0; im < cnt; im++ {
		for k := 0; k < g.K; k++ {
			copy(z[k*ld+im*p:k*ld+im*p+p], y[(im*g.K+k)*p:(im*g.K+k)*p+p])
		}
	}
}

// convScratch is one goroutine's buffers: a chunk's patch matrix, its
// channel-major output, its padded channels-last images, an unpadded
// image, and a row of bias values (PackedConv). Kept in a pool, so that
// steady-state calls do not allocate them.
type convScratch struct {
	col, z, xp, t, bias []float32
	rows, orows         []int       // PackedConv's direct path: tile row offsets in and out
	xps                 [][]float32 // ConvChain: each stage's padded input
}

var scratchPool = sync.Pool{New: func() any { return new(convScratch) }}

func (s *convScratch) grow(b *[]float32, n int) []float32 {
	if cap(*b) < n {
		*b = make([]float32, n)
	}
	*b = (*b)[:n]
	return *b
}

// convFloats recycles ConvFilterGrad's partial sums.
var convFloats = sync.Pool{New: func() any { return new([]float32) }}

func getConvFloats(n int) *[]float32 {
	p := convFloats.Get().(*[]float32)
	if cap(*p) < n {
		*p = make([]float32, n)
	}
	*p = (*p)[:n]
	return p
}

// parallelChunks calls fn(i, scratch) for every i in [0, count) on up to
// Threads() goroutines (GOMAXPROCS unless a data-parallel caller shares
// the cores), each claiming the next unclaimed i. fn's result must not
// depend on which goroutine runs it.
func parallelChunks(count int, fn func(i int, s *convScratch)) {
	var next atomic.Int64
	run := func() {
		s := scratchPool.Get().(*convScratch)
		for {
			i := int(next.Add(1) - 1)
			if i >= count {
				break
			}
			fn(i, s)
		}
		scratchPool.Put(s)
	}
	workers := min(Threads(), count)
	if workers <= 1 {
		run()
		return
	}
	var wg sync.WaitGroup
	wg.Add(workers - 1)
	for range workers - 1 {
		go func() {
			defer wg.Done()
			run()
		}()
	}
	run()
	wg.Wait()
}

// sgemmSerial computes C = op(A)·op(B) + beta·C on the calling goroutine
// (alpha 1): the blocked product of Sgemm without its split across the
// worker pool, for callers that already run one product per core. Its
// arithmetic per element is Sgemm's.
func sgemmSerial(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		scaleC(c, m, n, ldc, beta)
		return
	}
	kern := active
	job := jobPool.Get().(*gemmJob)
	job.refs.Store(1)
	job.gemmState = gemmState{
		kern: kern, transA: transA, transB: transB, m: m, k: k,
		alpha: 1, beta: beta, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc,
		kc:      kcBlock(k),
		directA: transA && kern.strided != nil && !aliases4K(lda),
		directB: !transB && kern.strided != nil && m <= 512 && !aliases4K(ldb),
	}
	nr := kern.nr
	chunks := (n + ncMax - 1) / ncMax
	nc := ((n+chunks-1)/chunks + nr - 1) / nr * nr
	kchunk := max(1, packMax/(nc*job.kc)) * job.kc
	bufp := getFloats(min(k, kchunk) * nc)
	job.bp = *bufp
	for j0 := 0; j0 < n; j0 += nc {
		for p0 := 0; p0 < k; p0 += kchunk {
			job.j0, job.j1 = j0, min(n, j0+nc)
			job.p0, job.p1 = p0, min(k, p0+kchunk)
			job.panels = (job.j1 - job.j0 + nr - 1) / nr
			job.runChunk(1)
		}
	}
	floatPool.Put(bufp)
	job.release()
}
