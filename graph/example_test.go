package graph_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/vaec/vaec/compiler"
	"github.com/vaec/vaec/dataset"
	"github.com/vaec/vaec/graph"
	"github.com/vaec/vaec/ir"
)

// A small VAE over the MNIST images shipped in testdata.
const spec = `vaec: 1
name: tiny
input: {shape: [784], scale: 1/255}
latent: 2
encoder: [{units: 16}]
decoder: [{units: 16}]
likelihood: bernoulli
train: {batch_size: 64, epochs: 2, seed: 3}
data:
  train: {path: ../testdata/mnist/t10k-images-idx3-ubyte.gz, limit: 256}
  validation: {path: ../testdata/mnist/t10k-images-idx3-ubyte.gz, start: 9900}
`

func Example() {
	m, err := compiler.Compile("tiny.yaml", []byte(spec))
	if err != nil {
		fmt.Println(err)
		return
	}
	train, err := dataset.Load(m.Data.Train, m.Input)
	if err != nil {
		fmt.Println(err)
		return
	}
	val, err := dataset.Load(*m.Data.Validation, m.Input)
	if err != nil {
		fmt.Println(err)
		return
	}
	dir, err := os.MkdirTemp("", "vaec-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	res, err := graph.Train(context.Background(), m, graph.TrainOptions{
		Train: train, Val: val,
		Checkpoint: filepath.Join(dir, "checkpoint.safetensors"),
		Metrics:    filepath.Join(dir, "metrics.jsonl"),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	first, last := res.History[0], res.History[len(res.History)-1]
	fmt.Println("epochs:", res.Epoch, "steps:", res.Steps)
	fmt.Println("validation ELBO improved:", *last.ValELBO > *first.ValELBO)

	// The trained weights run through the same graph code for inference.
	mu, logvar, err := graph.Encode(m, res.Weights, val.X[:2*val.D], 2)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("mu:", len(mu), "logvar:", len(logvar))
	out, err := graph.Decode(m, res.Weights, mu, 2)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("probs:", len(out["probs"]))
	// Output:
	// epochs: 2 steps: 8
	// validation ELBO improved: true
	// mu: 4 logvar: 4
	// probs: 1568
}

func ExampleEvaluate() {
	m, err := compiler.Compile("tiny.yaml", []byte(spec))
	if err != nil {
		fmt.Println(err)
		return
	}
	val, err := dataset.Load(*m.Data.Validation, m.Input)
	if err != nil {
		fmt.Println(err)
		return
	}
	w := graph.InitWeights(m, m.Train.Seed)
	mt, err := graph.Evaluate(m, w, val, 1, 0)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("examples:", mt.N)
	fmt.Println("ELBO = -(recon + KL):", mt.ELBO == -(mt.Recon+mt.KL))
	// An untrained decoder is close to coin flips: about 784·log 2 ≈ 543 nats.
	fmt.Println("near 543 nats:", mt.Recon > 500 && mt.Recon < 600)
	// Output:
	// examples: 100
	// ELBO = -(recon + KL): true
	// near 543 nats: true
}

func ExampleKLWeight() {
	o := ir.Objective{Beta: 1, WarmupEpochs: 4}
	for epoch := 1; epoch <= 5; epoch++ {
		fmt.Print(graph.KLWeight(o, epoch), " ")
	}
	fmt.Println()
	// Output: 0 0.25 0.5 0.75 1
}
