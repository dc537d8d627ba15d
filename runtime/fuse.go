package runtime

// fuse merges each Gemm, Conv or ConvTranspose with the activation that is
// its only consumer (Gemm→Relu, Conv→Relu, …: every layer an exporter
// writes) into
// one step that adds the bias and applies the activation while the
// product's rows are still in cache, and saves a tensor per layer. The
// fused step keeps both node names for error messages. Results are those
// of the two steps run apart: the same kernels, in the same order per
// element.
func (m *Model) fuse() {
	consumers := make([]int, m.nslots)
	for _, s := range m.steps {
		for _, k := range s.in {
			if k >= 0 {
				consumers[k]++
			}
		}
	}
	for _, k := range m.outputSlots {
		consumers[k]++ // a graph output must stay materialised
	}
	producer := map[int]int{}
	for i, s := range m.steps {
		producer[s.out] = i
	}
	drop := make([]bool, len(m.steps))
	for j, s := range m.steps {
		act, ok := actOps[s.op]
		if !ok || s.in[0] < 0 || consumers[s.in[0]] != 1 {
			continue
		}
		i, ok := producer[s.in[0]]
		if !ok {
			continue
		}
		alpha, err := actAlpha(s.op, s.attrs)
		if err != nil {
			continue // not reached: the activation was built with these attributes
		}
		g := &m.steps[i]
		var run kernel
		switch g.op {
		case "Gemm":
			if run, err = gemmKernel(g.attrs, act, alpha); err != nil {
				continue
			}
			g.gemm = &gemmAct{act: act, alpha: alpha}
		case "Conv":
			run = convKernel(g.attrs, act, alpha)
			g.conv = &gemmAct{act: act, alpha: alpha}
		case "ConvTranspose":
			run = convTransposeKernel(g.attrs, act, alpha)
		default:
			continue
		}
		g.run, g.out = run, s.out
		g.name, g.op = g.name+"+"+s.name, g.op+"+"+s.op
		drop[j] = true
	}
	m.dropSteps(drop)
}

// dropSteps removes the steps marked in drop (indexes of m.steps), keeping
// the others in order: what every pass that merges steps into another ends
// with.
func (m *Model) dropSteps(drop []bool) {
	kept := m.steps[:0]
	for j, s := range m.steps {
		if !drop[j] {
			kept = append(kept, s)
		}
	}
	m.steps = kept
}
