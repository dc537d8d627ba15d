package ir_test

import (
	"fmt"

	"github.com/vaec/vaec/ir"
)

// A model built in code: the PyTorch example's VAE for MNIST.
func ExampleNewMLP() {
	m, err := ir.NewMLP("mnist-vae", ir.Shape{784}, 20,
		[]ir.DenseLayer{{Units: 400, Activation: ir.ReLU}},
		[]ir.DenseLayer{{Units: 400, Activation: ir.ReLU}},
		ir.Likelihood{Kind: ir.Bernoulli}, ir.Linear)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, g := range []ir.Graph{m.Encoder, m.Decoder} {
		for _, n := range g.Nodes {
			fmt.Printf("%-15s %-6s %v -> %v %s\n", n.Name, n.Role, n.In[0], n.Out, n.Activation)
		}
	}
	fmt.Println("parameters:", m.ParamCount(), "outputs:", m.DecoderOutputs())
	// Output:
	// encoder.0       hidden [784] -> [400] relu
	// encoder.mu      mu     [400] -> [20] linear
	// encoder.logvar  logvar [400] -> [20] linear
	// decoder.0       hidden [20] -> [400] relu
	// decoder.out     output [400] -> [784] linear
	// parameters: 652824 outputs: [probs]
}

// Shape inference through the op table, and an error at the spec position.
func ExampleBuilder_Add() {
	m := &ir.Model{Input: ir.Input{Shape: ir.Shape{1, 28, 28}, Size: 784}, Latent: 2}
	b := m.EncoderBuilder()
	n, _ := b.Add(ir.Node{Name: "encoder.0", Op: ir.Dense, Attrs: ir.Attrs{Units: 64, Activation: ir.Tanh}})
	fmt.Println(n.In[0], "->", n.Out, n.Params)
	_, err := b.Add(ir.Node{Name: "encoder.1", Op: ir.Dense, Pos: ir.Pos{File: "spec.yaml", Line: 9, Col: 5}, Path: "encoder[1]"})
	fmt.Println(err)
	// Output:
	// [1, 28, 28] -> [64] [encoder.0.weight encoder.0.bias]
	// spec.yaml:9:5: encoder[1]: dense: units 0, want at least 1
}
