package graph

import (
	"fmt"
	"math"
	"sync"

	"github.com/vaec/vaec/checkpoint"
	"github.com/vaec/vaec/ir"
	"github.com/vaec/vaec/kernels"
)

// optimizer updates parameters in place from their gradients. It is written
// here rather than taken from Gorgonia's solvers because its state (moments,
// step) must be saved in checkpoints and restored exactly, and Gorgonia keeps
// that state unexported.
//
// Each step, in order: the gradients are scaled so that their global L2 norm
// is at most clipNorm (when set), weight decay adds wd·p to each gradient
// (the L2 form, as PyTorch's weight_decay), then the rule updates p. The
// rules follow PyTorch's definitions so that runs compare with it.
type optimizer struct {
	cfg      ir.Optimizer
	wd, clip float64
	names    []string             // trainable parameters, in m.Trainable order (buffers have no state)
	slots    map[string][]float32 // "<slot>.<param name>" → state, shaped like the parameter
	shapes   map[string][]int
	perParam [][][]float32 // per parameter, its slots in slotNames order (built on first step)

	// The current update's scalars, set by begin.
	scale float32 // gradient scale: clipping times begin's gradScale
	adam  kernels.AdamParams
}

// slotNames lists the state each optimizer keeps per parameter.
var slotNames = map[ir.OptimizerKind][]string{
	ir.Adam:    {"m", "v"},
	ir.Adagrad: {"sum"},
	ir.SGD:     {"momentum"},
	ir.RMSProp: {"square_avg"},
}

func newOptimizer(m *ir.Model) (*optimizer, error) {
	c := m.Train.Optimizer
	slots, ok := slotNames[c.Kind]
	if !ok {
		return nil, errorf("train.optimizer: unknown kind %v (want adam, adagrad, sgd or rmsprop)", c.Kind)
	}
	if !(c.LearningRate > 0) || math.IsInf(c.LearningRate, 0) {
		return nil, errorf("train.optimizer.learning_rate: %v must be positive", c.LearningRate)
	}
	if c.Kind == ir.Adam && (c.Beta1 < 0 || c.Beta1 >= 1 || c.Beta2 < 0 || c.Beta2 >= 1) {
		return nil, errorf("train.optimizer: adam betas (%v, %v) must lie in [0, 1)", c.Beta1, c.Beta2)
	}
	if c.Kind != ir.SGD && !(c.Epsilon > 0) {
		return nil, errorf("train.optimizer.epsilon: %v must be positive for %s", c.Epsilon, c.Kind)
	}
	o := &optimizer{cfg: c, wd: m.Train.WeightDecay, clip: m.Train.ClipNorm,
		slots: map[string][]float32{}, shapes: map[string][]int{}}
	for _, p := range m.Trainable() {
		o.names = append(o.names, p.Name)
		for _, s := range slots {
			o.slots[s+"."+p.Name] = make([]float32, p.Size())
			o.shapes[s+"."+p.Name] = p.Shape
		}
	}
	return o, nil
}

// state returns the optimizer's state for a checkpoint (sharing memory).
func (o *optimizer) state() map[string]checkpoint.Tensor {
	st := make(map[string]checkpoint.Tensor, len(o.slots))
	for k, v := range o.slots {
		st[k] = checkpoint.Tensor{Shape: o.shapes[k], Data: v}
	}
	return st
}

// restore loads state saved by state, checking that it is complete.
func (o *optimizer) restore(st map[string]checkpoint.Tensor) error {
	for k, dst := range o.slots {
		t, ok := st[k]
		if !ok {
			return fmt.Errorf("optimizer state %q is missing (was the checkpoint written by another optimizer than %s?)", k, o.cfg.Kind)
		}
		if len(t.Data) != len(dst) {
			return fmt.Errorf("optimizer state %q has %d values, want %d", k, len(t.Data), len(dst))
		}
		copy(dst, t.Data)
	}
	return nil
}

// step applies one update. step is the 1-based count of updates including
// this one (Adam's bias correction needs it). params and grads are in
// o.names order.
//
// Every rule is element-wise, so each parameter is split across the cores
// (parallelFor) with no effect on the result: element j goes through the
// same float32 operations whichever goroutine updates it. Adam, the
// default, runs kernels.AdamStep (16 lanes at a time with AVX-512, bit-identical
// to the Go loop it replaces). The trainer's data-parallel step
// (parallel.go) calls begin and update itself, on fixed ranges.
func (o *optimizer) step(step int64, params, grads [][]float32) {
	var ss float64
	if o.clip > 0 {
		for _, g := range grads {
			ss += sumSquares(g)
		}
	}
	o.begin(step, ss, 1)
	for i := range o.names {
		p, g := params[i], grads[i]
		parallelFor(len(p), parallelMin, func(lo, hi int) { o.update(i, p, g, lo, hi) })
	}
}

// sumSquares returns Σ g[j]² in float64, in index order.
func sumSquares(g []float32) float64 {
	var ss float64
	for _, v := range g {
		ss += float64(v) * float64(v)
	}
	return ss
}

// begin fixes the scalars of update number step: the clipping scale from
// ss, the sum of squares of the raw gradients (ignored without clipping),
// and gradScale, a factor every gradient value is multiplied by first (1,
// or the 1/shards of a data-parallel step whose gradients are sums of
// per-shard means); ss is taken before that factor.
func (o *optimizer) begin(step int64, ss float64, gradScale float32) {
	scale := gradScale
	if o.clip > 0 {
		if norm := math.Sqrt(ss) * float64(gradScale); norm > o.clip {
			scale = float32(o.clip / norm * float64(gradScale))
		}
	}
	o.scale = scale
	if o.cfg.Kind == ir.Adam {
		o.adam = kernels.AdamParams{
			GradScale: scale, WeightDecay: float32(o.wd),
			Beta1: float32(o.cfg.Beta1), Beta2: float32(o.cfg.Beta2),
			StepSize: float32(o.cfg.LearningRate) / float32(1-math.Pow(o.cfg.Beta1, float64(step))),
			SqrtBC2:  float32(math.Sqrt(1 - math.Pow(o.cfg.Beta2, float64(step)))),
			Eps:      float32(o.cfg.Epsilon),
		}
	}
	if o.perParam == nil {
		o.perParam = make([][][]float32, len(o.names))
		for i, name := range o.names {
			for _, s := range slotNames[o.cfg.Kind] {
				o.perParam[i] = append(o.perParam[i], o.slots[s+"."+name])
			}
		}
	}
}

// update applies the rule fixed by begin to elements [lo, hi) of
// parameter i (o.names order), p its values and g its gradient. Ranges
// of one step may run concurrently.
func (o *optimizer) update(i int, p, g []float32, lo, hi int) {
	o.updateBlock(i, p, g[lo:hi], lo, hi)
}

// updateBlock is update with the gradient of elements [lo, hi) given on
// its own: gb[j−lo] is element j's (a block computed in the update,
// wgrad.go).
func (o *optimizer) updateBlock(i int, p, gb []float32, lo, hi int) {
	st := o.perParam[i]
	scale := o.scale
	lr := float32(o.cfg.LearningRate)
	wd := float32(o.wd)
	eps := float32(o.cfg.Epsilon)
	gb = gb[:hi-lo]
	switch o.cfg.Kind {
	case ir.Adam:
		kernels.AdamStep(p[lo:hi], gb, st[0][lo:hi], st[1][lo:hi], o.adam)
	case ir.Adagrad:
		s := st[0]
		for j := lo; j < hi; j++ {
			gj := gb[j-lo]*scale + wd*p[j]
			s[j] += gj * gj
			p[j] -= lr * gj / (sqrt32(s[j]) + eps)
		}
	case ir.SGD:
		mu := float32(o.cfg.Momentum)
		buf := st[0]
		for j := lo; j < hi; j++ {
			gj := gb[j-lo]*scale + wd*p[j]
			buf[j] = kernels.FlushSubnormal(mu*buf[j] + gj)
			p[j] -= lr * buf[j]
		}
	case ir.RMSProp:
		rho := float32(o.cfg.Rho)
		s := st[0]
		for j := lo; j < hi; j++ {
			gj := gb[j-lo]*scale + wd*p[j]
			s[j] = kernels.FlushSubnormal(rho*s[j] + (1-rho)*gj*gj)
			p[j] -= lr * gj / (sqrt32(s[j]) + eps)
		}
	}
}

// updateSum is update on the gradient g0 + g1 (one rounded addition per
// element, as kernels.AddTo), fused where the rule allows (Adam): the
// sum is never written. It reports false, doing nothing, for the other
// rules.
func (o *optimizer) updateSum(i int, p, g0, g1 []float32, lo, hi int) bool {
	if o.cfg.Kind != ir.Adam {
		return false
	}
	st := o.perParam[i]
	kernels.AdamStepSum(p[lo:hi], g0[lo:hi], g1[lo:hi], st[0][lo:hi], st[1][lo:hi], o.adam)
	return true
}

// parallelMin is the element count below which an element-wise update runs
// on the calling goroutine: smaller ones cost less than a hand-off.
const parallelMin = 1 << 15

// parallelFor calls fn on consecutive ranges covering [0, n), on up to
// kernels.Threads() goroutines (GOMAXPROCS, less what a data-parallel
// step's shards take), none smaller than minPart. fn must give the same
// result whatever the split (element-wise work, or sums kept per item and
// added afterwards in order), because the split depends on GOMAXPROCS.
func parallelFor(n, minPart int, fn func(lo, hi int)) {
	parts := min(kernels.Threads(), n/max(minPart, 1))
	if parts <= 1 {
		fn(0, n)
		return
	}
	var wg sync.WaitGroup
	for k := 1; k < parts; k++ {
		wg.Add(1)
		go func(lo, hi int) {
			defer wg.Done()
			fn(lo, hi)
		}(k*n/parts, (k+1)*n/parts)
	}
	fn(0, n/parts)
	wg.Wait()
}

func sqrt32(x float32) float32 { return float32(math.Sqrt(float64(x))) }
