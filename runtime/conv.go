package runtime

import (
	"fmt"
	"math"

	"github.com/vaec/vaec/kernels"
)

// Convolution, transposed convolution and pooling over [N, C, D1, …, Dk]
// tensors. The 2-D cases VAEs use (group 1, no dilation, the same padding
// at both ends of an axis) run through kernels.PackedConv (weights
// prepared once and kept from call to call, see packedConv; im2col or
// col2im around a product split across cores, bias and activation applied
// in cache); every other case runs a direct loop that follows the ONNX
// definition index by index.

// window is the geometry of one spatial axis.
type window struct {
	in, out, k, stride, dil, padB, padE int
}

// span is the extent of the dilated kernel.
func (w window) span() int { return (w.k-1)*w.dil + 1 }

// convParams are the attributes shared by Conv, ConvTranspose and the
// pools, checked against the spatial rank.
type convParams struct {
	autoPad               string
	kernel, strides, dils []int
	pads                  []int // begin values, then end values
	group                 int
}

func parseConvParams(a attrs, spatial int, kernel []int, pool bool) (convParams, error) {
	p := convParams{autoPad: a.str("auto_pad", "NOTSET"), group: int(a.int("group", 1))}
	switch p.autoPad {
	case "NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER":
	default:
		return p, fmt.Errorf("auto_pad %q is not one of NOTSET, VALID, SAME_UPPER, SAME_LOWER", p.autoPad)
	}
	ints := func(name string, n int, def int64, lo int64) ([]int, error) {
		v := a.ints(name)
		if v == nil {
			v = make([]int64, n)
			for i := range v {
				v[i] = def
			}
		}
		if len(v) != n {
			return nil, fmt.Errorf("attribute %s %v has %d values, want %d", name, v, len(v), n)
		}
		out := make([]int, n)
		for i, x := range v {
			if x < lo || x > maxRunElems {
				return nil, fmt.Errorf("attribute %s %v: value %d out of range", name, v, x)
			}
			out[i] = int(x)
		}
		return out, nil
	}
	var err error
	if ks := a.ints("kernel_shape"); ks != nil || pool {
		if ks == nil {
			return p, fmt.Errorf("attribute kernel_shape is required")
		}
		if p.kernel, err = ints("kernel_shape", spatial, 1, 1); err != nil {
			return p, err
		}
		if kernel != nil {
			for i := range kernel {
				if kernel[i] != p.kernel[i] {
					return p, fmt.Errorf("kernel_shape %v does not match the weight's %v", p.kernel, kernel)
				}
			}
		}
	} else {
		p.kernel = kernel
	}
	if p.strides, err = ints("strides", spatial, 1, 1); err != nil {
		return p, err
	}
	if p.dils, err = ints("dilations", spatial, 1, 1); err != nil {
		return p, err
	}
	if p.pads, err = ints("pads", 2*spatial, 0, 0); err != nil {
		return p, err
	}
	if p.autoPad != "NOTSET" && a.has("pads") {
		return p, fmt.Errorf("attributes auto_pad=%s and pads are both given", p.autoPad)
	}
	if p.group < 1 {
		return p, fmt.Errorf("group %d must be positive", p.group)
	}
	return p, nil
}

// forward computes the output geometry of a convolution or pool over the
// spatial sizes in (ceil rounds the output size up: pools' ceil_mode).
func (p convParams) forward(in []int, ceil bool) ([]window, error) {
	ws := make([]window, len(in))
	for i, n := range in {
		w := window{in: n, k: p.kernel[i], stride: p.strides[i], dil: p.dils[i]}
		switch p.autoPad {
		case "NOTSET":
			w.padB, w.padE = p.pads[i], p.pads[len(in)+i]
		case "SAME_UPPER", "SAME_LOWER":
			out := (n + w.stride - 1) / w.stride
			total := max(0, (out-1)*w.stride+w.span()-n)
			if p.autoPad == "SAME_UPPER" {
				w.padB = total / 2
			} else {
				w.padB = total - total/2
			}
			w.padE = total - w.padB
		}
		ext := n + w.padB + w.padE - w.span()
		if ext < 0 {
			return nil, fmt.Errorf("kernel extent %d is larger than the padded input %d on spatial axis %d", w.span(), n+w.padB+w.padE, i)
		}
		w.out = ext/w.stride + 1
		if ceil && ext%w.stride != 0 {
			w.out++
			if (w.out-1)*w.stride >= n+w.padB { // the last window would start in the end padding
				w.out--
			}
		}
		ws[i] = w
	}
	return ws, nil
}

// spatialShape checks x is [N, C, spatial...] of float32.
func spatialShape(x *value, what string) error {
	if err := floatIn(x, what); err != nil {
		return err
	}
	if len(x.shape) < 3 {
		return fmt.Errorf("%s has shape %v, want [N, C, D1, ...]", what, x.shape)
	}
	return nil
}

func outShape(n, c int, ws []window, transposed bool) []int {
	s := []int{n, c}
	for _, w := range ws {
		if transposed {
			s = append(s, w.in)
		} else {
			s = append(s, w.out)
		}
	}
	return s
}

// forEachPos calls f for every position of the spatial grid sizes (row-major),
// with its coordinates and flat index.
func forEachPos(sizes []int, f func(pos []int, flat int)) {
	n := shapeSize(sizes)
	pos := make([]int, len(sizes))
	for flat := 0; flat < n; flat++ {
		f(pos, flat)
		for d := len(sizes) - 1; d >= 0; d-- {
			if pos[d]++; pos[d] < sizes[d] {
				break
			}
			pos[d] = 0
		}
	}
}

func buildConv(a attrs, _ []*value) (kernel, error) { return convKernel(a, kernels.Linear, 0), nil }

// convKernel is Conv followed by the activation act (fuse merges a Conv
// with the activation that is its only consumer): the fast path applies
// it while each block is in cache, the direct loop afterwards.
func convKernel(a attrs, act kernels.Act, alpha float32) kernel {
	var packed packedConv
	return func(in []*value) (*value, error) {
		x, w, b := in[0], in[1], in[2]
		if err := spatialShape(x, "input X"); err != nil {
			return nil, err
		}
		if err := floatIn(w, "weight W"); err != nil {
			return nil, err
		}
		sp := len(x.shape) - 2
		if len(w.shape) != sp+2 {
			return nil, fmt.Errorf("weight W has shape %v, want rank %d for input %v", w.shape, sp+2, x.shape)
		}
		p, err := parseConvParams(a, sp, w.shape[2:], false)
		if err != nil {
			return nil, err
		}
		n, c, m := x.shape[0], x.shape[1], w.shape[0]
		if c%p.group != 0 || m%p.group != 0 || w.shape[1] != c/p.group {
			return nil, fmt.Errorf("input %v, weight %v and group %d do not agree", x.shape, w.shape, p.group)
		}
		if b != nil {
			if err := floatIn(b, "bias B"); err != nil {
				return nil, err
			}
			if len(b.shape) != 1 || b.shape[0] != m {
				return nil, fmt.Errorf("bias B has shape %v, want [%d]", b.shape, m)
			}
		}
		ws, err := p.forward(x.shape[2:], false)
		if err != nil {
			return nil, err
		}
		shape := outShape(n, m, ws, false)
		if _, err := checkedSize(shape); err != nil {
			return nil, err
		}
		if anyShapeOnly(x, w, b) {
			return &value{shape: shape, shapeOnly: true}, nil
		}
		y := newFloat(shape)
		var bias []float32
		if b != nil {
			bias = b.f
		}
		if g, ok := kernelsGeom(ws, c, m, p.group); ok {
			pc, err := packed.get(g, w.f, false)
			if err != nil {
				return nil, err
			}
			if err := pc.Conv(n, x.f, bias, act, alpha, y.f); err != nil {
				return nil, err
			}
			return y, nil
		}
		convDirect(x, w, bias, y, ws, p.group)
		kernels.AddBiasAct(y.f, 1, len(y.f), nil, act, alpha)
		return y, nil
	}
}

// kernelsGeom returns the package-kernels geometry of a 2-D convolution
// from c to m channels, when it has one (group 1, no dilation, the same
// padding at both ends).
func kernelsGeom(ws []window, c, m, group int) (kernels.ConvGeom, bool) {
	if len(ws) != 2 || group != 1 {
		return kernels.ConvGeom{}, false
	}
	for _, w := range ws {
		if w.dil != 1 || w.padB != w.padE {
			return kernels.ConvGeom{}, false
		}
	}
	g := kernels.ConvGeom{C: c, H: ws[0].in, W: ws[1].in, K: m, KH: ws[0].k, KW: ws[1].k,
		SH: ws[0].stride, SW: ws[1].stride, PH: ws[0].padB, PW: ws[1].padB}
	if g.Check() != nil || g.OutH() != ws[0].out || g.OutW() != ws[1].out {
		return kernels.ConvGeom{}, false
	}
	return g, true
}

// convDirect is the definition: y[n, m, o] = b[m] + Σ_c,k x[n, g·C/G + c,
// o·stride + k·dil − padB] · w[m, c, k], with float64 sums.
func convDirect(x, w *value, bias []float32, y *value, ws []window, group int) {
	n, c, m := x.shape[0], x.shape[1], w.shape[0]
	cg, mg := c/group, m/group
	sp := len(ws)
	ins, outs, ks := make([]int, sp), make([]int, sp), make([]int, sp)
	for i, wi := range ws {
		ins[i], outs[i], ks[i] = wi.in, wi.out, wi.k
	}
	inSize, outSize, kSize := shapeSize(ins), shapeSize(outs), shapeSize(ks)
	// Offsets of each kernel tap, per output position, -1 when in padding.
	tap := make([]int, outSize*kSize)
	xst := strides(ins)
	forEachPos(outs, func(o []int, of int) {
		forEachPos(ks, func(k []int, kf int) {
			off := 0
			for d := 0; d < sp; d++ {
				i := o[d]*ws[d].stride + k[d]*ws[d].dil - ws[d].padB
				if i < 0 || i >= ins[d] {
					off = -1
					break
				}
				off += i * xst[d]
			}
			tap[of*kSize+kf] = off
		})
	})
	for b := 0; b < n; b++ {
		for mm := 0; mm < m; mm++ {
			g := mm / mg
			dst := y.f[(b*m+mm)*outSize : (b*m+mm+1)*outSize]
			for o := range dst {
				var s float64
				if bias != nil {
					s = float64(bias[mm])
				}
				for cc := 0; cc < cg; cc++ {
					src := x.f[(b*c+g*cg+cc)*inSize:]
					wk := w.f[(mm*cg+cc)*kSize : (mm*cg+cc+1)*kSize]
					for kf, t := range tap[o*kSize : (o+1)*kSize] {
						if t >= 0 {
							s += float64(src[t]) * float64(wk[kf])
						}
					}
				}
				dst[o] = float32(s)
			}
		}
	}
}

// buildConvTranspose: the adjoint of Conv. W is [C, M/group, k...]; the
// output size per axis is stride·(in−1) + output_padding + span − padB −
// padE, or output_shape when given (the pads then follow from it, split
// as auto_pad says: SAME_UPPER puts the odd one at the end).
func buildConvTranspose(a attrs, _ []*value) (kernel, error) {
	return convTransposeKernel(a, kernels.Linear, 0), nil
}

// convTransposeKernel is ConvTranspose followed by the activation act.
func convTransposeKernel(a attrs, act kernels.Act, alpha float32) kernel {
	var packed packedConv
	return func(in []*value) (*value, error) {
		x, w, b := in[0], in[1], in[2]
		if err := spatialShape(x, "input X"); err != nil {
			return nil, err
		}
		if err := floatIn(w, "weight W"); err != nil {
			return nil, err
		}
		sp := len(x.shape) - 2
		if len(w.shape) != sp+2 {
			return nil, fmt.Errorf("weight W has shape %v, want rank %d for input %v", w.shape, sp+2, x.shape)
		}
		p, err := parseConvParams(a, sp, w.shape[2:], false)
		if err != nil {
			return nil, err
		}
		n, c := x.shape[0], x.shape[1]
		if w.shape[0] != c || c%p.group != 0 {
			return nil, fmt.Errorf("input %v, weight %v and group %d do not agree", x.shape, w.shape, p.group)
		}
		m := w.shape[1] * p.group
		if b != nil {
			if err := floatIn(b, "bias B"); err != nil {
				return nil, err
			}
			if len(b.shape) != 1 || b.shape[0] != m {
				return nil, fmt.Errorf("bias B has shape %v, want [%d]", b.shape, m)
			}
		}
		outPad := a.ints("output_padding")
		outShapeAttr := a.ints("output_shape")
		if outPad != nil && len(outPad) != sp {
			return nil, fmt.Errorf("output_padding %v has %d values, want %d", outPad, len(outPad), sp)
		}
		if outShapeAttr != nil && len(outShapeAttr) != sp && len(outShapeAttr) != sp+2 {
			return nil, fmt.Errorf("output_shape %v has %d values, want %d", outShapeAttr, len(outShapeAttr), sp)
		}
		if len(outShapeAttr) == sp+2 {
			outShapeAttr = outShapeAttr[2:]
		}
		// ws describe the forward convolution from the output (in) to
		// the input (out), whose adjoint this is.
		ws := make([]window, sp)
		for i := 0; i < sp; i++ {
			wi := window{out: x.shape[2+i], k: p.kernel[i], stride: p.strides[i], dil: p.dils[i]}
			op := 0
			if outPad != nil {
				if outPad[i] < 0 || outPad[i] >= int64(max(wi.stride, wi.dil)) {
					return nil, fmt.Errorf("output_padding %v must be below the stride or dilation", outPad)
				}
				op = int(outPad[i])
			}
			full := wi.stride*(wi.out-1) + op + wi.span()
			switch {
			case outShapeAttr != nil || p.autoPad == "SAME_UPPER" || p.autoPad == "SAME_LOWER":
				target := wi.out * wi.stride
				if outShapeAttr != nil {
					if outShapeAttr[i] < 0 || outShapeAttr[i] > maxRunElems {
						return nil, fmt.Errorf("output_shape %v out of range", outShapeAttr)
					}
					target = int(outShapeAttr[i])
				}
				total := full - target
				if total < 0 {
					// A larger output than the kernel reaches: the extra
					// end gets the bias alone.
					wi.padB, wi.padE = 0, total
				} else if p.autoPad == "SAME_UPPER" {
					wi.padB, wi.padE = total/2, total-total/2
				} else {
					wi.padB, wi.padE = total-total/2, total/2
				}
				wi.in = target
			default:
				if p.autoPad == "NOTSET" {
					wi.padB, wi.padE = p.pads[i], p.pads[sp+i]
				}
				wi.in = full - wi.padB - wi.padE
			}
			if wi.in < 0 {
				return nil, fmt.Errorf("pads leave spatial axis %d with size %d", i, wi.in)
			}
			ws[i] = wi
		}
		shape := outShape(n, m, ws, true)
		if _, err := checkedSize(shape); err != nil {
			return nil, err
		}
		if anyShapeOnly(x, w, b) {
			return &value{shape: shape, shapeOnly: true}, nil
		}
		y := newFloat(shape)
		var bias []float32
		if b != nil {
			bias = b.f
		}
		if g, ok := kernelsGeom(ws, m, c, p.group); ok && g.OutH() == ws[0].out && g.OutW() == ws[1].out {
			pc, err := packed.get(g, w.f, true)
			if err != nil {
				return nil, err
			}
			if err := pc.ConvTranspose(n, x.f, bias, act, alpha, y.f); err != nil {
				return nil, err
			}
			return y, nil
		}
		convTransposeDirect(x, w, bias, y, ws, p.group)
		kernels.AddBiasAct(y.f, 1, len(y.f), nil, act, alpha)
		return y, nil
	}
}

// convTransposeDirect scatters every input value through the kernel:
// y[n, g·M/G + m, i·stride + k·dil − padB] += x[n, c, i] · w[c, m, k].
func convTransposeDirect(x, w *value, bias []float32, y *value, ws []window, group int) {
	n, c := x.shape[0], x.shape[1]
	m := y.shape[1]
	cg, mg := c/group, m/group
	sp := len(ws)
	ins, outs, ks := make([]int, sp), make([]int, sp), make([]int, sp)
	for i, wi := range ws {
		ins[i], outs[i], ks[i] = wi.out, wi.in, wi.k // x is the small side
	}
	inSize, outSize, kSize := shapeSize(ins), shapeSize(outs), shapeSize(ks)
	yst := strides(outs)
	tap := make([]int, inSize*kSize)
	forEachPos(ins, func(i []int, iflat int) {
		forEachPos(ks, func(k []int, kf int) {
			off := 0
			for d := 0; d < sp; d++ {
				o := i[d]*ws[d].stride + k[d]*ws[d].dil - ws[d].padB
				if o < 0 || o >= outs[d] {
					off = -1
					break
				}
				off += o * yst[d]
			}
			tap[iflat*kSize+kf] = off
		})
	})
	acc := make([]float64, outSize)
	for b := 0; b < n; b++ {
		for mm := 0; mm < m; mm++ {
			g := mm / mg
			clear(acc)
			for cc := 0; cc < cg; cc++ {
				ch := g*cg + cc
				src := x.f[(b*c+ch)*inSize : (b*c+ch+1)*inSize]
				wk := w.f[(ch*mg+mm%mg)*kSize : (ch*mg+mm%mg+1)*kSize]
				for i, v := range src {
					for kf, t := range tap[i*kSize : (i+1)*kSize] {
						if t >= 0 {
							acc[t] += float64(v) * float64(wk[kf])
						}
					}
				}
			}
			dst := y.f[(b*m+mm)*outSize : (b*m+mm+1)*outSize]
			var bv float64
			if bias != nil {
				bv = float64(bias[mm])
			}
			for o := range dst {
				dst[o] = float32(acc[o] + bv)
			}
		}
	}
}

// buildPool builds MaxPool (max true) and AveragePool. Windows are the
// Conv geometry; ceil_mode rounds the output size up (a window may not
// start in the end padding). AveragePool divides by the values inside
// the input, or with count_include_pad by the window's extent within the
// padded input.
func buildPool(isMax bool) func(attrs, []*value) (kernel, error) {
	return func(a attrs, _ []*value) (kernel, error) {
		if a.int("storage_order", 0) != 0 {
			return nil, fmt.Errorf("storage_order=1 is not supported (it only affects the Indices output)")
		}
		if !isMax && a.has("dilations") && a.opset < 19 {
			return nil, fmt.Errorf("AveragePool's dilations need opset 19, model has %d", a.opset)
		}
		ceil := a.int("ceil_mode", 0) != 0
		includePad := a.int("count_include_pad", 0) != 0
		return func(in []*value) (*value, error) {
			x := in[0]
			if err := spatialShape(x, "input X"); err != nil {
				return nil, err
			}
			sp := len(x.shape) - 2
			p, err := parseConvParams(a, sp, nil, true)
			if err != nil {
				return nil, err
			}
			ws, err := p.forward(x.shape[2:], ceil)
			if err != nil {
				return nil, err
			}
			shape := outShape(x.shape[0], x.shape[1], ws, false)
			if _, err := checkedSize(shape); err != nil {
				return nil, err
			}
			if x.shapeOnly {
				return &value{shape: shape, shapeOnly: true}, nil
			}
			ins, outs, ks := make([]int, sp), make([]int, sp), make([]int, sp)
			for i, w := range ws {
				ins[i], outs[i], ks[i] = w.in, w.out, w.k
			}
			inSize, outSize := shapeSize(ins), shapeSize(outs)
			xst := strides(ins)
			y := newFloat(shape)
			// Per output position: the input offsets its window covers,
			// and the divisor.
			type win struct {
				offs []int
				div  float64
			}
			wins := make([]win, outSize)
			forEachPos(outs, func(o []int, of int) {
				var offs []int
				padCount := 1
				for d := 0; d < sp; d++ {
					s := o[d]*ws[d].stride - ws[d].padB
					e := min(s+ws[d].span(), ins[d]+ws[d].padE)
					padCount *= (e - s + ws[d].dil - 1) / ws[d].dil
				}
				forEachPos(ks, func(k []int, _ int) {
					off := 0
					for d := 0; d < sp; d++ {
						i := o[d]*ws[d].stride + k[d]*ws[d].dil - ws[d].padB
						if i < 0 || i >= ins[d] {
							return
						}
						off += i * xst[d]
					}
					offs = append(offs, off)
				})
				div := float64(len(offs))
				if includePad {
					div = float64(padCount)
				}
				wins[of] = win{offs, div}
			})
			for ch := 0; ch < x.shape[0]*x.shape[1]; ch++ {
				src := x.f[ch*inSize : (ch+1)*inSize]
				dst := y.f[ch*outSize : (ch+1)*outSize]
				for o, wn := range wins {
					if isMax {
						mx := float32(math.Inf(-1))
						for _, off := range wn.offs {
							mx = max(mx, src[off])
						}
						dst[o] = mx
						continue
					}
					var s float64
					for _, off := range wn.offs {
						s += float64(src[off])
					}
					dst[o] = float32(s / wn.div)
				}
			}
			return y, nil
		}, nil
	}
}
