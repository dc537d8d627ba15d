package compiler_test

import (
	"encoding/json"
	"fmt"
	"path/filepath"

	"github.com/vaec/vaec/compiler"
	"github.com/vaec/vaec/ir"
)

// The PyTorch example's VAE in ten lines of spec. Data paths resolve against
// the spec file's directory, here testdata/specs.
func ExampleCompile() {
	spec := `
vaec: 1
name: mnist-vae
input: {shape: [784], scale: 1/255}
latent: 20
encoder: [{units: 400}]
decoder: [{units: 400}]
data:
  train: {path: ../mnist/t10k-images-idx3-ubyte.gz, limit: 9000}
  validation: {path: ../mnist/t10k-images-idx3-ubyte.gz, start: 9000}
`
	m, err := compiler.Compile(filepath.Join("..", "testdata", "specs", "example.yaml"), []byte(spec))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, g := range []ir.Graph{m.Encoder, m.Decoder} {
		for _, n := range g.Nodes {
			fmt.Printf("%-15s %-7s %-6s -> %-6s %s\n", n.Name, n.Op, n.In[0], n.Out, n.Activation)
		}
	}
	fmt.Println("parameters:", m.ParamCount())
	fmt.Println("optimizer:", m.Train.Optimizer.Kind, m.Train.Optimizer.LearningRate, "batch", m.Train.BatchSize)
	// Output:
	// encoder.0       dense   [784]  -> [400]  relu
	// encoder.mu      dense   [400]  -> [20]   linear
	// encoder.logvar  dense   [400]  -> [20]   linear
	// decoder.0       dense   [20]   -> [400]  relu
	// decoder.out     dense   [400]  -> [784]  linear
	// parameters: 652824
	// optimizer: adam 0.001 batch 128
}

// Every problem is reported at once, sorted by position.
func ExampleErrorList() {
	spec := `vaec: 1
name: broken
input: {shape: [784], scale: 1/255}
latent: 20
encoder:
  - units: 400
    activation: rleu
decoder:
  - unit: 400
data: {train: ../mnist/t10k-images-idx3-ubyte.gz}
`
	_, err := compiler.Compile(filepath.Join("..", "testdata", "specs", "broken.yaml"), []byte(spec))
	if list, ok := err.(compiler.ErrorList); ok {
		for _, e := range list {
			fmt.Printf("%d:%d %s: %s\n", e.Pos.Line, e.Pos.Col, e.Path, e.Msg)
		}
	}
	// Output:
	// 7:17 encoder[0].activation: unknown activation "rleu"
	// 9:5 decoder[0].unit: unknown key "unit"
	// 9:5 decoder[0].units: missing required key "units"
}

func ExampleSchema() {
	var doc struct {
		Schema   string   `json:"$schema"`
		Required []string `json:"required"`
	}
	if err := json.Unmarshal(compiler.Schema(), &doc); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(doc.Schema)
	fmt.Println(doc.Required)
	// Output:
	// https://json-schema.org/draft/2020-12/schema
	// [vaec name input latent encoder decoder data]
}
