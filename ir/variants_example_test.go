package ir_test

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/vaec/vaec/ir"
)

// A VampPrior is a mixture of the encoder's posteriors at its pseudo-inputs:
// once the components are attached (package vae computes them from the
// trained weights), it has a density, draws and quantiles like N(0, I).
func ExamplePrior_WithComponents() {
	p := ir.Prior{Kind: ir.PriorVamp, Components: 2}
	// Two 1-D components, N(−2, 1) and N(2, 1).
	p, err := p.WithComponents([]float32{-2, 2}, []float32{0, 0}, 1)
	if err != nil {
		fmt.Println(err)
		return
	}
	lp0, _ := p.LogDensity([]float32{0})
	lp2, _ := p.LogDensity([]float32{2})
	median, _ := p.Quantile(0.5)
	z := make([]float32, 10000)
	_ = p.Sample(rand.New(rand.NewPCG(1, 2)).NormFloat64, z)
	positive := 0
	for _, v := range z {
		if v > 0 {
			positive++
		}
	}
	_, klErr := p.KL([]float32{0}, []float32{0})
	fmt.Printf("log p(0) = %.2f, log p(2) = %.2f, median %.2f\n", lp0, lp2, math.Abs(median))
	fmt.Printf("draws above 0: %.1f\n", float64(positive)/float64(len(z)))
	fmt.Println(klErr)
	// Output:
	// log p(0) = -2.92, log p(2) = -1.61, median 0.00
	// draws above 0: 0.5
	// prior vamp: no closed-form KL
}

// A conditional model's builders insert y before the first dense node: the
// encoder's first layer sees [x, y] and the decoder's [z, y].
func ExampleCondition() {
	m, err := ir.NewMLPWith(func(m *ir.Model) { m.Condition = ir.Condition{Classes: 10} }, "cvae", ir.Shape{784}, 20,
		[]ir.DenseLayer{{Units: 400, Activation: ir.ReLU}}, []ir.DenseLayer{{Units: 400, Activation: ir.ReLU}},
		ir.Likelihood{Kind: ir.Bernoulli}, ir.Linear)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, g := range []*ir.Graph{&m.Encoder, &m.Decoder} {
		n := g.Nodes[0]
		fmt.Printf("%s: %s of %v → %v, then %s\n", n.Name, n.Op, n.Inputs, n.Out, g.Nodes[1].Name)
	}
	// Output:
	// encoder.concat_y: concat of [x y] → [794], then encoder.0
	// decoder.concat_y: concat of [z y] → [30], then decoder.0
}
