package kernels

import (
	"fmt"
	"math"
)

// AdamParams are the per-step scalars of an Adam update (PyTorch's
// definition, with L2 weight decay and gradient scaling folded in).
type AdamParams struct {
	GradScale   float32 // multiplies the raw gradient (global-norm clipping); 1 for none
	WeightDecay float32 // L2 weight decay: adds WeightDecay·p to the gradient
	Beta1       float32
	Beta2       float32
	StepSize    float32 // lr / (1 - Beta1^t)
	SqrtBC2     float32 // sqrt(1 - Beta2^t)
	Eps         float32
}

// AdamStep applies one Adam update in place. For each j, in float32 and in
// exactly this order of operations:
//
//	g′   = g[j]·GradScale + WeightDecay·p[j]
//	m[j] = Beta1·m[j] + (1-Beta1)·g′
//	v[j] = Beta2·v[j] + (1-Beta2)·g′·g′
//	m[j], v[j] = 0 where below the smallest normal float32 in magnitude
//	p[j] = p[j] - StepSize·m[j] / (sqrt(v[j])/SqrtBC2 + Eps)
//
// The moments are flushed to zero before they become subnormal: a weight
// whose gradient stays zero (a dead ReLU unit's, a pixel that is always
// blank) has its first moment decay by Beta1 a step, subnormal after
// about 800 steps, and every multiply on a subnormal takes a microcode
// assist: measured on the MNIST model after 1,000 steps on one batch,
// 67,642 of the first layer's 313,600 first moments were subnormal and
// the step on that weight took 1.63 ms instead of 0.34. A value that
// small cannot move a weight (StepSize·m below 1e-41 over a denominator of
// at least Eps), so the flush changes no result that matters.
//
// Every operation rounds to float32 (no fused multiply-adds), so the vector
// path and the Go loop give bit-identical results, equal to a plain Go loop
// written as above and compiled without FMA contraction (the default
// GOAMD64=v1; with v3 the compiler fuses a*b+c unless the product is
// converted explicitly, float32(a*b)+c). g is not modified. AdamStep panics if m, v or g is
// shorter than p.
func AdamStep(p, g, m, v []float32, h AdamParams) {
	n := len(p)
	if len(g) < n || len(m) < n || len(v) < n {
		panic(fmt.Sprintf("kernels: AdamStep: p has %d elements, g %d, m %d, v %d", n, len(g), len(m), len(v)))
	}
	if n == 0 {
		return
	}
	if adamVec(p, g, m, v, &h) {
		return
	}
	g, m, v = g[:n], m[:n], v[:n]
	c1, c2 := 1-h.Beta1, 1-h.Beta2
	for j := range p {
		// The float32 conversions forbid FMA contraction (Go may fuse
		// x*y+z on some targets), keeping the rounding fixed.
		gj := float32(g[j]*h.GradScale) + float32(h.WeightDecay*p[j])
		mj := FlushSubnormal(float32(h.Beta1*m[j]) + float32(c1*gj))
		vj := FlushSubnormal(float32(h.Beta2*v[j]) + float32(float32(c2*gj)*gj))
		m[j], v[j] = mj, vj
		p[j] -= float32(h.StepSize*mj) / (sqrt32(vj)/h.SqrtBC2 + h.Eps)
	}
}

// minNormal32 is the smallest normal float32, 2^-126.
const minNormal32 = 0x1p-126

// FlushSubnormal returns x, or +0 when |x| is below the smallest normal
// float32 (NaN is kept): what AdamStep does to its moments (the vector
// kernels' flush too), for an optimizer's other decaying state (a
// momentum buffer, a running mean of squares), whose values under a zero
// gradient would otherwise become subnormal and slow every later multiply
// on them.
func FlushSubnormal(x float32) float32 {
	if x < minNormal32 && x > -minNormal32 {
		return 0
	}
	return x
}

// adamConsts are the step's scalars as the vector kernels load them (see
// ADAMCONSTS in adam_amd64.s).
func adamConsts(h *AdamParams) [11]float32 {
	return [11]float32{h.GradScale, h.WeightDecay, h.Beta1, 1 - h.Beta1, h.Beta2, 1 - h.Beta2, h.StepSize, h.SqrtBC2, h.Eps,
		math.Float32frombits(0x7fffffff), minNormal32}
}

// sqrt32 is the correctly rounded float32 square root (the float64 root of
// a float32 rounds to the same value), as VSQRTPS computes it.
func sqrt32(x float32) float32 { return float32(math.Sqrt(float64(x))) }

// AdamStepSum is AdamStep on the gradient g0 + g1, each element's sum one
// rounded float32 addition (as AddTo), without writing the sum anywhere:
// the update of a data-parallel step whose last shard's gradient is
// added while the optimizer passes over the element, one array streamed
// less than AddTo followed by AdamStep, with the same bits. g0 and g1 are
// not modified. AdamStepSum panics if m, v, g0 or g1 is shorter than p.
func AdamStepSum(p, g0, g1, m, v []float32, h AdamParams) {
	n := len(p)
	if len(g0) < n || len(g1) < n || len(m) < n || len(v) < n {
		panic(fmt.Sprintf("kernels: AdamStepSum: p has %d elements, g0 %d, g1 %d, m %d, v %d", n, len(g0), len(g1), len(m), len(v)))
	}
	if n == 0 {
		return
	}
	if adamSumVec(p, g0, g1, m, v, &h) {
		return
	}
	g0, g1, m, v = g0[:n], g1[:n], m[:n], v[:n]
	c1, c2 := 1-h.Beta1, 1-h.Beta2
	for j := range p {
		g := g0[j] + g1[j]
		gj := float32(g*h.GradScale) + float32(h.WeightDecay*p[j])
		mj := FlushSubnormal(float32(h.Beta1*m[j]) + float32(c1*gj))
		vj := FlushSubnormal(float32(h.Beta2*v[j]) + float32(float32(c2*gj)*gj))
		m[j], v[j] = mj, vj
		p[j] -= float32(h.StepSize*mj) / (sqrt32(vj)/h.SqrtBC2 + h.Eps)
	}
}
