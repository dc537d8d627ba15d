package runtime

import (
	"bytes"
	"sync/atomic"
	"unsafe"

	"github.com/vaec/vaec/kernels"
)

// packedConv keeps one Conv or ConvTranspose step's weights prepared for
// kernels.PackedConv (reordered and packed once, the product split across
// cores even for one image) from call to call. A kernel does not know
// whether its weight input is an initializer, so each call checks that
// the weights are bit for bit those the preparation was made from (one
// memory comparison, far cheaper than preparing them) and prepares them
// again when they are not: a weight that is a graph input or computed
// stays correct, only slower.
type packedConv struct {
	cur atomic.Pointer[packedConvEntry]
}

type packedConvEntry struct {
	w  []float32 // a copy of the weights pc was made from
	pc *kernels.PackedConv
}

// get returns the weights w prepared for the convolution g (its adjoint
// when transposed).
func (c *packedConv) get(g kernels.ConvGeom, w []float32, transposed bool) (*kernels.PackedConv, error) {
	if e := c.cur.Load(); e != nil && e.pc.Geom() == g && e.pc.Transposed() == transposed && sameBits(e.w, w) {
		return e.pc, nil
	}
	w = w[:g.WeightSize()]
	var pc *kernels.PackedConv
	var err error
	if transposed {
		pc, err = kernels.NewPackedConvTranspose(g, w)
	} else {
		pc, err = kernels.NewPackedConv(g, w)
	}
	if err != nil {
		return nil, err
	}
	c.cur.Store(&packedConvEntry{w: append([]float32(nil), w...), pc: pc})
	return pc, nil
}

// sameBits reports whether a and b hold the same float32 bit patterns (so
// that -0 differs from 0 and a NaN equals itself).
func sameBits(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	if len(a) == 0 {
		return true
	}
	ab := unsafe.Slice((*byte)(unsafe.Pointer(&a[0])), 4*len(a))
	bb := unsafe.Slice((*byte)(unsafe.Pointer(&b[0])), 4*len(b))
	return bytes.Equal(ab, bb)
}
