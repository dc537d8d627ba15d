package runtime

import "github.com/vaec/vaec/kernels"

// Joined dense steps. A dense step whose only output is an intermediate
// value (an arena slot: the hidden layer of an MLP) that the next step of
// the plan, itself dense, reads is joined to it: for a batch of many rows, exec runs
// the two (and any further joined ones) as one parallel phase, each core
// taking its block of rows through every layer (kernels.ParallelRows,
// PackedB.MulBiasActRows). Layer by layer, each product would be a phase
// of its own: a hand-off to the other core and a wait for the slower one
// per layer, and the hidden activations passed between cores. Joined, a
// core's rows stay in its cache from layer to layer and the call
// synchronises once. The hidden values are still written in full, for
// any later reader. Rows are split at multiples of the micro-kernel's row
// tile, so every value is bit-identical to the layer-by-layer run.

// joinDense marks the dense steps that join the next one (joinNext). It
// runs after the arena slots are known.
func (m *Model) joinDense() {
	for i := 0; i+1 < len(m.steps); i++ {
		d, next := m.steps[i].dense, m.steps[i+1].dense
		if d == nil || next == nil || d.pb == nil || next.pb == nil || len(d.outs) != 1 || len(d.tails) > 0 {
			continue
		}
		o := d.outs[0]
		d.joinNext = m.arenaSlot[o] && m.steps[i+1].in[0] == o && next.k == d.n
	}
}

// joinedMinRows is the batch from which joined steps run as one phase;
// smaller ones run layer by layer, where a product of few row tiles can
// be split along columns instead (a single row always is).
const joinedMinRows = 32

// runJoined runs step i and the steps joined to it as one parallel phase
// and returns how many steps it ran, or 0 (nothing done) when the input
// does not qualify or the batch is too small, for exec to run them one by
// one.
func (m *Model) runJoined(st *execState, i int) int {
	d := m.steps[i].dense
	A := st.vals[m.steps[i].in[0]]
	if !useJoined || !d.fits(A) {
		return 0
	}
	rows := A.shape[0]
	if rows < joinedMinRows {
		return 0
	}
	n := 1
	for m.steps[i+n-1].dense.joinNext {
		n++
	}
	for _, s := range m.steps[i+1 : i+n] {
		if _, err := checkedSize([]int{rows, s.dense.n}); err != nil {
			return 0
		}
	}
	calls := st.calls[:0]
	a := A.f
	for _, s := range m.steps[i : i+n] {
		c := s.dense.begin(m, st, a, rows)
		calls = append(calls, c)
		a = c.y
	}
	st.calls = calls
	kernels.ParallelRows(rows, func(i0, i1 int) {
		for k := range calls {
			calls[k].rows(i0, i1)
		}
	})
	return n
}

// useJoined is a variable so that tests can compare joined steps with
// the layer-by-layer run.
var useJoined = true
