package graph

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/vaec/vaec/checkpoint"
	"github.com/vaec/vaec/ir"
)

// Streams of the PCG generator, so that initialisation, training noise and
// evaluation noise drawn from one seed never share a sequence.
const (
	streamInit  = 0x696e6974 // "init"
	streamTrain = 0x747261696e
	streamEval  = 0x6576616c
)

// InitWeights draws the initial parameters as the IR says: InitFanInUniform
// is U(-1/sqrt(fanIn), 1/sqrt(fanIn)) (PyTorch's nn.Linear default), InitZeros
// is zeros, InitOnes ones, InitUniform01 U(0, 1). Parameters are drawn in m.Params order from one generator seeded
// with seed, so the same model and seed always give the same weights.
func InitWeights(m *ir.Model, seed uint64) map[string]checkpoint.Tensor {
	rng := rand.New(rand.NewPCG(seed, streamInit))
	w := make(map[string]checkpoint.Tensor, len(m.Params))
	for _, p := range m.Params {
		t := checkpoint.Tensor{Shape: append([]int(nil), p.Shape...), Data: make([]float32, p.Size())}
		switch {
		case p.Init == ir.InitFanInUniform && p.FanIn > 0:
			bound := 1 / math.Sqrt(float64(p.FanIn))
			for i := range t.Data {
				t.Data[i] = float32((2*rng.Float64() - 1) * bound)
			}
		case p.Init == ir.InitUniform01:
			// A VampPrior's pseudo-inputs, declared last: their draws
			// come after every other parameter's.
			for i := range t.Data {
				t.Data[i] = float32(rng.Float64())
			}
		case p.Init == ir.InitOnes:
			// Batch norm's scale and running variance; no draws, so the
			// generator's sequence for the other parameters is unchanged.
			for i := range t.Data {
				t.Data[i] = 1
			}
		}
		w[p.Name] = t
	}
	return w
}

// checkWeights reports the first parameter of m that w lacks or holds with
// another shape.
func checkWeights(m *ir.Model, w map[string]checkpoint.Tensor) error {
	for _, p := range m.Params {
		t, ok := w[p.Name]
		if !ok {
			return fmt.Errorf("weights: parameter %q is missing", p.Name)
		}
		if !slices.Equal(t.Shape, p.Shape) || len(t.Data) != p.Size() {
			return fmt.Errorf("weights: parameter %q has shape %v (%d values), the model needs %v", p.Name, ir.Shape(t.Shape), len(t.Data), p.Shape)
		}
	}
	return nil
}
