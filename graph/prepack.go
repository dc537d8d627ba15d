package graph

import (
	"fmt"
	"slices"
	"time"

	G "gorgonia.org/gorgonia"

	"github.com/vaec/vaec/kernels"
)

// Weights packed once per step.
//
// Every shard of a step multiplies by the same weights: x·W in each dense
// layer and dz·Wᵀ for each input gradient. Left to Sgemm, each of those
// products reads W on its own: in place, rows a stride apart (x·W), or
// transposed into a packed copy first (dz·Wᵀ, 7% of a step on the MNIST
// model), once per shard. Instead the stepper packs each such weight once
// at the start of a step, split over the cores, into the micro-kernel's
// panel layout (kernels.NewPackedPanels), and the shards' products read
// that copy: contiguous panels, fetched once per core from wherever the
// update left W. The arithmetic is Sgemm's blocked path exactly (the same
// kernels over the same k-blocks), so weights are bit-identical with and
// without it; products Sgemm computes another way (a single row, or fewer
// columns than a panel, which it transposes) keep calling Sgemm.

// packedWeight is one trainable matrix in one orientation, packed.
type packedWeight struct {
	param int // index in stepper.params
	cols  int // the parameter's row length (B's leading dimension)
	p     *kernels.PackedB
	at    uint64 // the packSet version its contents reflect
}

// packSet holds a trainer's packed copies, shared by its steppers (one
// per batch size: the full batches and the short last one), so that a
// weight has one copy per orientation however many steppers read it.
type packSet struct {
	byKey map[packKey]*packedWeight
	// version counts the updates of the parameters; a copy is current
	// when its at equals it.
	version uint64
}

func newPackSet() *packSet { return &packSet{byKey: map[packKey]*packedWeight{}} }

// packKey names a packed copy: a parameter in one orientation.
type packKey struct {
	param  int
	transB bool
}

// packTask is one part of one weight's packing.
type packTask struct {
	w           *packedWeight
	part, parts int
}

// packPart is the number of elements one packing task aims at.
const packPart = 1 << 16

// prepack enables the packed copies; tests compare with it off.
var prepack = true

// attachPacked gives the shards' products that multiply by a trainable
// matrix a shared packed copy of it, and lists the packing tasks.
func (s *stepper) attachPacked() error {
	s.packed = make([][]*packedWeight, len(s.params))
	if !prepack {
		return nil
	}
	nr := kernels.PanelWidth()
	for _, n := range s.shards {
		if n.tape == nil {
			continue // the primitive lowering: Gorgonia's ops
		}
		param := map[*G.Node]int{}
		for i, p := range n.p.trained {
			param[p] = i
		}
		t := n.tape
		for k := range t.steps {
			st := &t.steps[k]
			if len(st.in) < 2 {
				continue
			}
			i, ok := param[t.nodes[st.in[1]]]
			if !ok {
				continue
			}
			ws := t.nodes[st.in[1]].Shape()
			as := t.nodes[st.in[0]].Shape()
			if len(ws) != 2 || len(as) != 2 {
				continue
			}
			rows, in, out := as[0], ws[0], ws[1]
			// x·W in a dense layer (k = In, n = Out), or dz·Wᵀ for its
			// input gradient (k = Out, n = In).
			var kk, nn int
			var transB bool
			switch o := st.op.(type) {
			case denseOp:
				kk, nn = in, out
			case matMulOp:
				if !o.transB || o.transA {
					continue
				}
				kk, nn, transB = out, in, true
			default:
				continue
			}
			if rows < 2 || nn < nr {
				continue
			}
			pw, err := s.packedFor(packKey{i, transB}, transB, kk, nn, out)
			if err != nil {
				return err
			}
			var op G.UsePreallocDoer
			switch o := st.op.(type) {
			case denseOp:
				o.packed = pw.p
				op = o
			case matMulOp:
				o.packed = pw.p
				op = o
			}
			st.op, st.pre = op.(G.Op), op
		}
	}
	return nil
}

// packedFor returns the packed copy for a key, creating it and its tasks.
func (s *stepper) packedFor(k packKey, transB bool, kk, nn, cols int) (*packedWeight, error) {
	if len(s.params[k.param]) != kk*nn {
		return nil, errorf("packing parameter %d: %d values, want %d×%d", k.param, len(s.params[k.param]), kk, nn)
	}
	pw := s.packs.byKey[k]
	if slices.Contains(s.packed[k.param], pw) {
		return pw, nil // another shard of this stepper made it its own
	}
	if pw == nil {
		p, err := kernels.NewPackedPanels(transB, kk, nn)
		if err != nil {
			return nil, err
		}
		// at 0 while version is 0 would read as current: start behind.
		pw = &packedWeight{param: k.param, cols: cols, p: p, at: ^uint64(0)}
		s.packs.byKey[k] = pw
	}
	s.packed[k.param] = append(s.packed[k.param], pw)
	parts := max(1, (kk*nn+packPart-1)/packPart)
	for part := range parts {
		s.packTasks = append(s.packTasks, packTask{pw, part, parts})
	}
	return pw, nil
}

// pack packs every shared weight from the current parameters, and
// returns the time the goroutines spent on it (when profiling).
func (s *stepper) pack() (time.Duration, error) {
	if len(s.packTasks) == 0 {
		return 0, nil
	}
	if len(s.packErr) < len(s.packTasks) {
		s.packErr = make([]error, len(s.packTasks))
	}
	busy := s.parallel(len(s.packTasks), func(j int) {
		t := s.packTasks[j]
		s.packErr[j] = t.w.p.Pack(s.params[t.w.param], t.w.cols, t.part, t.parts)
	})
	return busy, s.packError()
}

// packError returns the first error the packing recorded.
func (s *stepper) packError() error {
	for _, err := range s.packErr {
		if err != nil {
			return fmt.Errorf("packing weights: %w", err)
		}
	}
	return nil
}

// repack refreshes the packed copies of chunk c's parameter for the
// chunk's rows, just updated and still in cache. The chunk is whole rows
// (newStepper); the sizes were checked when the copies were made, so an
// error here is a bug, kept for the next step to report.
func (s *stepper) repack(c chunk) {
	for _, pw := range s.packed[c.i] {
		if err := pw.p.PackRows(s.params[c.i], pw.cols, c.lo/pw.cols, c.hi/pw.cols); err != nil {
			s.stale.Store(true) // packed again in full before it is used
		}
	}
}

// packsCurrent reports whether every copy this stepper reads reflects
// the parameters as they are.
func (s *stepper) packsCurrent() bool {
	if s.stale.Load() {
		return false
	}
	for _, ps := range s.packed {
		for _, pw := range ps {
			if pw.at != s.packs.version {
				return false
			}
		}
	}
	return true
}

// markPacked records that this stepper's copies reflect the parameters,
// after a full pack or an update that repacked every row of them.
func (s *stepper) markPacked() {
	for _, ps := range s.packed {
		for _, pw := range ps {
			pw.at = s.packs.version
		}
	}
}
