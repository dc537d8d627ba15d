package main

import (
	"fmt"

	"github.com/vaec/vaec/dataset"
	"github.com/vaec/vaec/internal/sysmem"
	"github.com/vaec/vaec/ir"
)

// The coefficients of the training-memory estimate, fitted to the peak
// RSS of `vaec train` on three models where runtime, activations and
// parameters in turn dominate (TestMemoryEstimate, VAEC_MEMORY_TEST=1;
// figures in the README). They count float32-sized copies, the Go
// collector's headroom included: of the parameters (the trainer's weights,
// Adam's two moments, the gradients, each Gorgonia graph's bound values and
// gradients, the solver's temporaries, the packed copies of the weights
// the shards multiply by), of one batch's activations (forward values and
// gradients), and of the data (float32 values, plus the file's bytes while
// loading).
const (
	memRuntime     = 36 << 20 // the Go runtime, Gorgonia and the binary
	memParamCopies = 9.0
	memActCopies   = 2.0
	memDataCopies  = 2.0
)

// memEstimate is the estimated peak memory of training, by part.
type memEstimate struct {
	Params, Activations, Data int64
}

// Total is the estimate in bytes.
func (e memEstimate) Total() int64 {
	return memRuntime + e.Params + e.Activations + e.Data
}

func (e memEstimate) String() string {
	return fmt.Sprintf("%s (parameters and optimizer %s, activations %s, data %s, runtime %s)",
		mib(e.Total()), mib(e.Params), mib(e.Activations), mib(e.Data), mib(memRuntime))
}

func mib(n int64) string {
	if n >= 10<<30 {
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	}
	return fmt.Sprintf("%s MiB", thousands(int((n+(1<<20)-1)>>20)))
}

// estimateMemory estimates what `vaec train` needs for m: it reads the
// data files' headers for their record counts.
func estimateMemory(m *ir.Model) (memEstimate, error) {
	var e memEstimate
	p := int64(m.ParamCount())
	e.Params = int64(memParamCopies * 4 * float64(p))
	act := int64(m.Input.Size)
	for _, nodes := range [][]ir.Node{m.Encoder.Nodes, m.Decoder.Nodes} {
		for _, n := range nodes {
			act += int64(n.Out.Size())
		}
	}
	samples := int64(max(m.Objective.Samples, 1))
	e.Activations = int64(memActCopies * 4 * float64(int64(m.Train.BatchSize)*samples*act))
	for _, src := range []*ir.Source{&m.Data.Train, m.Data.Validation} {
		if src == nil {
			continue
		}
		h, err := dataset.ReadHeader(src.Path, src.Format, src.CSVHeader, nil)
		if err != nil {
			return e, err
		}
		n := int64(h.Records - src.Start)
		if src.Limit > 0 {
			n = min(n, int64(src.Limit))
		}
		e.Data += int64(memDataCopies * float64(4*n*int64(h.Features)))
	}
	return e, nil
}

// checkMemory estimates training memory and refuses a model that cannot
// fit in the memory available to the process.
func checkMemory(m *ir.Model) (memEstimate, error) {
	e, err := estimateMemory(m)
	if err != nil {
		return e, err
	}
	limit, src := sysmem.Limit()
	if limit > 0 && e.Total() > limit {
		return e, fmt.Errorf("training %s would need about %s, more than the %s of %s (short by %s); "+
			"make the model or the batch smaller, or train on a subset (data.train.limit)",
			m.Name, mib(e.Total()), mib(limit), src, mib(e.Total()-limit))
	}
	return e, nil
}
