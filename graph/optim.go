package graph

import (
	"fmt"
	"math"

	"github.com/vaec/vaec/checkpoint"
	"github.com/vaec/vaec/compiler"
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
	cfg      compiler.Optimizer
	wd, clip float64
	names    []string             // parameters, in m.Params order
	slots    map[string][]float32 // "<slot>.<param name>" → state, shaped like the parameter
	shapes   map[string][]int
	scratch  []float32
}

// slotNames lists the state each optimizer keeps per parameter.
var slotNames = map[string][]string{
	compiler.Adam:    {"m", "v"},
	compiler.Adagrad: {"sum"},
	compiler.SGD:     {"momentum"},
	compiler.RMSProp: {"square_avg"},
}

func newOptimizer(m *compiler.Model) (*optimizer, error) {
	c := m.Train.Optimizer
	slots, ok := slotNames[c.Kind]
	if !ok {
		return nil, errorf("train.optimizer: unknown kind %q (want adam, adagrad, sgd or rmsprop)", c.Kind)
	}
	if !(c.LearningRate > 0) || math.IsInf(c.LearningRate, 0) {
		return nil, errorf("train.optimizer.learning_rate: %v must be positive", c.LearningRate)
	}
	if c.Kind == compiler.Adam && (c.Beta1 < 0 || c.Beta1 >= 1 || c.Beta2 < 0 || c.Beta2 >= 1) {
		return nil, errorf("train.optimizer: adam betas (%v, %v) must lie in [0, 1)", c.Beta1, c.Beta2)
	}
	if c.Kind != compiler.SGD && !(c.Epsilon > 0) {
		return nil, errorf("train.optimizer.epsilon: %v must be positive for %s", c.Epsilon, c.Kind)
	}
	o := &optimizer{cfg: c, wd: m.Train.WeightDecay, clip: m.Train.ClipNorm,
		slots: map[string][]float32{}, shapes: map[string][]int{}}
	for _, p := range m.Params {
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
func (o *optimizer) step(step int64, params, grads [][]float32) {
	scale := float32(1)
	if o.clip > 0 {
		var ss float64
		for _, g := range grads {
			for _, v := range g {
				ss += float64(v) * float64(v)
			}
		}
		if norm := math.Sqrt(ss); norm > o.clip {
			scale = float32(o.clip / norm)
		}
	}
	lr := float32(o.cfg.LearningRate)
	wd := float32(o.wd)
	eps := float32(o.cfg.Epsilon)
	for i, name := range o.names {
		p, graw := params[i], grads[i]
		if cap(o.scratch) < len(graw) {
			o.scratch = make([]float32, len(graw))
		}
		g := o.scratch[:len(graw)]
		for j, v := range graw {
			g[j] = v*scale + wd*p[j]
		}
		switch o.cfg.Kind {
		case compiler.Adam:
			b1, b2 := float32(o.cfg.Beta1), float32(o.cfg.Beta2)
			bc1 := float32(1 - math.Pow(o.cfg.Beta1, float64(step)))
			sbc2 := float32(math.Sqrt(1 - math.Pow(o.cfg.Beta2, float64(step))))
			m, v := o.slots["m."+name], o.slots["v."+name]
			a := lr / bc1
			for j, gj := range g {
				m[j] = b1*m[j] + (1-b1)*gj
				v[j] = b2*v[j] + (1-b2)*gj*gj
				p[j] -= a * m[j] / (sqrt32(v[j])/sbc2 + eps)
			}
		case compiler.Adagrad:
			s := o.slots["sum."+name]
			for j, gj := range g {
				s[j] += gj * gj
				p[j] -= lr * gj / (sqrt32(s[j]) + eps)
			}
		case compiler.SGD:
			mu := float32(o.cfg.Momentum)
			buf := o.slots["momentum."+name]
			for j, gj := range g {
				buf[j] = mu*buf[j] + gj
				p[j] -= lr * buf[j]
			}
		case compiler.RMSProp:
			rho := float32(o.cfg.Rho)
			s := o.slots["square_avg."+name]
			for j, gj := range g {
				s[j] = rho*s[j] + (1-rho)*gj*gj
				p[j] -= lr * gj / (sqrt32(s[j]) + eps)
			}
		}
	}
}

func sqrt32(x float32) float32 { return float32(math.Sqrt(float64(x))) }
