package runtime

import (
	"fmt"
	"slices"
)

// maxLiveElems bounds the values (float32 or int64 elements) of the
// intermediate and output tensors that one Run keeps alive at once: 2^28,
// 1 GiB of float32. Load refuses a graph whose plan exceeds it at batch
// size 1, and Run refuses a call whose plan, scaled by the sizes given to
// the symbolic dimensions, would.
const maxLiveElems = 1 << 28

// planMemory computes, for every step, the intermediate values that no
// later step reads: exec drops them as soon as the step has run, so the
// memory of a long chain is that of the values alive together, not of
// every value it computed (a 60,000-node chain of Relus needs two
// tensors, not 60,000). Graph inputs, constants and outputs are never
// dropped. It then measures the plan's peak at batch size 1 with a
// shape-only pass.
func (m *Model) planMemory() error {
	n := len(m.steps)
	last := make([]int, m.nslots)
	for k := range last {
		last[k] = -1
	}
	produced := make([]bool, m.nslots)
	for i, s := range m.steps {
		for _, o := range stepOuts(s) {
			produced[o] = true
			last[o] = max(last[o], i)
		}
		for _, k := range stepIns(s) {
			last[k] = max(last[k], i)
		}
	}
	for _, k := range m.outputSlots {
		produced[k] = false // the caller's
	}
	m.free = make([][]int, n)
	for k, i := range last {
		if produced[k] && i >= 0 {
			m.free[i] = append(m.free[i], k)
		}
	}
	peak, err := m.measurePeak()
	if err != nil {
		return err
	}
	m.peakElems = peak
	if peak > maxLiveElems {
		return fmt.Errorf("the plan keeps %d values alive at once at batch size 1, more than the runtime's limit of %d (maxLiveElems)", peak, maxLiveElems)
	}
	return nil
}

// stepOuts are the slots a step writes; stepIns those it reads.
func stepOuts(s step) []int {
	if s.dense != nil && len(s.dense.tails) > 0 {
		outs := slices.Clone(s.dense.outs)
		for _, t := range s.dense.tails {
			outs = append(outs, t.dst)
		}
		return outs
	}
	if s.dense != nil {
		return s.dense.outs
	}
	return []int{s.out}
}

func stepIns(s step) []int {
	var in []int
	for _, k := range s.in {
		if k >= 0 {
			in = append(in, k)
		}
	}
	var orig []step
	if s.dense != nil {
		orig = s.dense.orig
	}
	if s.chain != nil {
		orig = s.chain.orig
	}
	if orig != nil {
		for _, o := range orig {
			for _, k := range o.in {
				if k >= 0 {
					in = append(in, k)
				}
			}
		}
	}
	return in
}

// measurePeak runs the plan shape-only at batch size 1 and returns the
// largest number of values alive at once (views share their source's
// data and count nothing; values whose shape the check cannot know count
// nothing either, and Run's per-tensor bound still applies to them).
func (m *Model) measurePeak() (int, error) {
	st := m.getState()
	defer func() { st.track = nil; m.putState(st) }()
	st.track = &liveTrack{counted: make([]int, m.nslots)}
	if err := m.seedDry(st); err != nil {
		return 0, err
	}
	if err := m.exec(st, true); err != nil {
		return 0, err
	}
	return st.track.peak, nil
}

// liveTrack counts live values during a shape-only pass.
type liveTrack struct {
	live, peak int
	counted    []int // by slot: what was added for it
}

// afterStep accounts for step i of the plan and drops what it was the
// last reader of.
func (m *Model) afterStep(st *execState, i int) {
	s := m.steps[i]
	if tr := st.track; tr != nil {
		for _, o := range stepOuts(s) {
			v := st.vals[o]
			if v == nil || v.unknown || s.view && s.dense == nil {
				continue
			}
			tr.counted[o] = shapeSize(v.shape)
			tr.live += tr.counted[o]
		}
		tr.peak = max(tr.peak, tr.live)
	}
	for _, k := range m.free[i] {
		if tr := st.track; tr != nil {
			tr.live -= tr.counted[k]
			tr.counted[k] = 0
		}
		st.vals[k] = nil
		if !m.arenaSlot[k] {
			st.vbuf[k] = value{} // a dense output's buffer, no longer needed
		}
	}
}

// checkLive refuses a call whose plan, scaled by the symbolic sizes,
// exceeds maxLiveElems.
func (m *Model) checkLive(syms []symDim) error {
	scale := 1
	for _, s := range syms {
		if s.size > 1 {
			if scale > maxLiveElems/s.size {
				scale = maxLiveElems + 1
				break
			}
			scale *= s.size
		}
	}
	if m.peakElems > 0 && scale > maxLiveElems/m.peakElems {
		return fmt.Errorf("this call would keep up to %d×%d values alive at once, more than the runtime's limit of %d (maxLiveElems); use smaller batches", m.peakElems, scale, maxLiveElems)
	}
	return nil
}
