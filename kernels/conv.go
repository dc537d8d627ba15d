package kernels

import (
	"fmt"
	"runtime"
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
// where g always describes the convolution from the larger image to the
// smaller one: for a transposed convolution, its output is g's input.
//
// Each function splits the batch into chunks of a few images, sized from
// the geometry alone so that a chunk's patch matrix (im2col) stays in L2,
// and runs every chunk on one goroutine: patches, one matrix product
// (sgemmSerial) and the scatter into the output, while the data are in
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
	nb, chunks := g.chunking(n)
	p, kc := g.OutH()*g.OutW(), g.PatchSize()
	parallelChunks(chunks, func(i int, s *convScratch) {
		s0 := i * nb
		cnt := min(nb, n-s0)
		cols := cnt * p
		col := s.grow(&s.col, kc*cols)
		z := s.grow(&s.z, g.K*cols)
		g.im2col(x[s0*g.InSize():], cnt, col, cols)
		sgemmSerial(false, false, g.K, cols, kc, w, kc, col, cols, 0, z, cols)
		// z is [K, cnt·P]; y holds image by image [K, P].
		for im := 0; im < cnt; im++ {
			out := y[(s0+im)*g.OutSize():]
			for k := 0; k < g.K; k++ {
				src := z[k*cols+im*p : k*cols+im*p+p]
				biasAct(out[k*p:k*p+p], src, bias, k, act, alpha)
			}
		}
	})
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
	nb, chunks := g.chunking(n)
	p, kc, hw := g.OutH()*g.OutW(), g.PatchSize(), g.H*g.W
	parallelChunks(chunks, func(i int, s *convScratch) {
		s0 := i * nb
		cnt := min(nb, n-s0)
		cols := cnt * p
		col := s.grow(&s.col, kc*cols)
		z := s.grow(&s.z, g.K*cols)
		g.gatherChannels(y[s0*g.OutSize():], cnt, z, cols)
		sgemmSerial(true, false, kc, cols, g.K, w, kc, z, cols, 0, col, cols)
		xs := x[s0*g.InSize() : (s0+cnt)*g.InSize()]
		g.col2im(col, cols, cnt, xs)
		if bias == nil && act == Linear {
			return
		}
		for r := 0; r < cnt*g.C; r++ {
			row := xs[r*hw : r*hw+hw]
			biasAct(row, row, bias, r%g.C, act, alpha)
		}
	})
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
	nb, chunks := g.chunking(n)
	groups := min(filterGroups, chunks)
	p, kc, ws := g.OutH()*g.OutW(), g.PatchSize(), g.WeightSize()
	// Group 0 accumulates into dw itself, the others into parts.
	partsp := getConvFloats((groups - 1) * ws)
	parts := *partsp
	parallelChunks(groups, func(gi int, s *convScratch) {
		acc := dw
		if gi > 0 {
			acc = parts[(gi-1)*ws : gi*ws]
		}
		lo, hi := split(chunks, gi, groups)
		for i := lo; i < hi; i++ {
			s0 := i * nb
			cnt := min(nb, n-s0)
			cols := cnt * p
			col := s.grow(&s.col, kc*cols)
			z := s.grow(&s.z, g.K*cols)
			g.im2col(x[s0*g.InSize():], cnt, col, cols)
			g.gatherChannels(dy[s0*g.OutSize():], cnt, z, cols)
			beta := float32(1)
			if i == lo {
				beta = 0
			}
			sgemmSerial(false, true, g.K, kc, cols, z, cols, col, cols, beta, acc, kc)
		}
	})
	for gi := 1; gi < groups; gi++ {
		addTo(dw, parts[(gi-1)*ws:gi*ws])
	}
	convFloats.Put(partsp)
	return nil
}

// ChannelSum sets dst[c] = Σ_image Σ_p src[image, c, p] for n images of
// c channels of p values each: the bias gradient of a convolution. Each
// sum is accumulated in float64 in image order, then rounded once.
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
	for ch := 0; ch < c; ch++ {
		var acc float64
		for im := 0; im < n; im++ {
			row := src[(im*c+ch)*p : (im*c+ch)*p+p]
			// Four float32 lanes within a row (a row is at most a few
			// thousand values), float64 across rows.
			var s0, s1, s2, s3 float32
			j := 0
			for ; j+4 <= len(row); j += 4 {
				s0 += row[j]
				s1 += row[j+1]
				s2 += row[j+2]
				s3 += row[j+3]
			}
			for ; j < len(row); j++ {
				s0 += row[j]
			}
			acc += float64(s0) + float64(s1) + float64(s2) + float64(s3)
		}
		dst[ch] = float32(acc)
	}
	return nil
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

// convChunkFloats is the size, in floats, that a chunk's patch matrix and
// gathered output aim for: about 512 KB, a quarter of this machine's 2 MB
// L2 per core, leaving room for the weights and the packed panels. A
// variable so that benchmarks can try others.
var convChunkFloats = 128 << 10

// chunking returns the images per chunk and the number of chunks for a
// batch of n. It depends on the geometry and n only.
func (g ConvGeom) chunking(n int) (nb, chunks int) {
	per := (g.PatchSize() + g.K) * g.OutH() * g.OutW()
	nb = max(1, min(n, convChunkFloats/per))
	return nb, (n + nb - 1) / nb
}

// im2col writes the patches of cnt images x into col, a [C·KH·KW, cnt·P]
// matrix with leading dimension ld (P = OutH·OutW): row (c, i, j), column
// (image, oh, ow) holds x[image, c, oh·SH−PH+i, ow·SW−PW+j], or 0 where
// that falls in the padding.
func (g ConvGeom) im2col(x []float32, cnt int, col []float32, ld int) {
	oh, ow, p := g.OutH(), g.OutW(), g.OutH()*g.OutW()
	for c := 0; c < g.C; c++ {
		for i := 0; i < g.KH; i++ {
			hlo, hhi := validRange(i, g.PH, g.SH, g.H, oh)
			for j := 0; j < g.KW; j++ {
				wlo, whi := validRange(j, g.PW, g.SW, g.W, ow)
				row := col[((c*g.KH+i)*g.KW+j)*ld:]
				for im := 0; im < cnt; im++ {
					img := x[(im*g.C+c)*g.H*g.W:]
					dst := row[im*p : im*p+p]
					clear(dst[:hlo*ow])
					for r := hlo; r < hhi; r++ {
						d := dst[r*ow : r*ow+ow]
						// src[0] is the pixel of column wlo.
						src := img[(r*g.SH-g.PH+i)*g.W-g.PW+j+wlo*g.SW:]
						clear(d[:wlo])
						if g.SW == 1 {
							copy(d[wlo:whi], src)
						} else {
							v := d[wlo:whi]
							for q := range v {
								v[q] = src[q*g.SW]
							}
						}
						clear(d[whi:])
					}
					clear(dst[hhi*ow:])
				}
			}
		}
	}
}

// col2im is im2col's adjoint: it sets x (cnt images) to the sum, over the
// patch matrix col's entries, of each entry at the pixel it was taken
// from. Each pixel's sum runs over (i, j) in order, so it is deterministic.
func (g ConvGeom) col2im(col []float32, ld, cnt int, x []float32) {
	oh, ow, p := g.OutH(), g.OutW(), g.OutH()*g.OutW()
	clear(x[:cnt*g.InSize()])
	for im := 0; im < cnt; im++ {
		for c := 0; c < g.C; c++ {
			img := x[(im*g.C+c)*g.H*g.W : (im*g.C+c+1)*g.H*g.W]
			for i := 0; i < g.KH; i++ {
				hlo, hhi := validRange(i, g.PH, g.SH, g.H, oh)
				for j := 0; j < g.KW; j++ {
					wlo, whi := validRange(j, g.PW, g.SW, g.W, ow)
					if wlo >= whi {
						continue
					}
					src := col[((c*g.KH+i)*g.KW+j)*ld+im*p:]
					for r := hlo; r < hhi; r++ {
						s := src[r*ow+wlo : r*ow+whi]
						d := img[(r*g.SH-g.PH+i)*g.W-g.PW+j+wlo*g.SW:]
						if g.SW == 1 {
							d = d[:len(s)]
							for q, v := range s {
								d[q] += v
							}
						} else {
							for q, v := range s {
								d[q*g.SW] += v
							}
						}
					}
				}
			}
		}
	}
}

// validRange returns the output positions [lo, hi) (of out) whose input
// coordinate o·stride − pad + k lies inside [0, size).
func validRange(k, pad, stride, size, out int) (lo, hi int) {
	// o·stride ≥ pad − k  and  o·stride ≤ size − 1 + pad − k.
	if d := pad - k; d > 0 {
		lo = (d + stride - 1) / stride
	}
	if top := size - 1 + pad - k; top >= 0 {
		hi = min(out, top/stride+1)
	}
	return min(lo, out), max(hi, min(lo, out))
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

// convScratch is one goroutine's buffers: a chunk's patch matrix and its
// channel-major output. Kept in a pool, so that steady-state calls do not
// allocate them.
type convScratch struct {
	col, z []float32
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
// GOMAXPROCS goroutines, each claiming the next unclaimed i. fn's result
// must not depend on which goroutine runs it.
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
	workers := min(runtime.GOMAXPROCS(0), count)
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
