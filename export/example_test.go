package export_test

import (
	"fmt"
	"log"
	"strings"

	"github.com/vaec/vaec/checkpoint"
	"github.com/vaec/vaec/compiler"
	"github.com/vaec/vaec/export"
	"github.com/vaec/vaec/ir"
)

// A small VAE spec. Export never reads the data it names, but the compiler
// checks that the file exists.
const spec = `
vaec: 1
name: example
input: {shape: [1, 28, 28], scale: 1/255}
latent: 2
encoder: [{units: 16}]
decoder: [{units: 16}]
likelihood: bernoulli
data: {train: ../testdata/mnist/t10k-images-idx3-ubyte.gz}
`

// weights returns constant weights of the right shapes (a checkpoint's
// Weights in real use).
func weights(m *ir.Model) map[string]checkpoint.Tensor {
	w := map[string]checkpoint.Tensor{}
	for _, p := range m.Params {
		t := checkpoint.Tensor{Shape: p.Shape, Data: make([]float32, p.Size())}
		for i := range t.Data {
			t.Data[i] = 0.01
		}
		w[p.Name] = t
	}
	return w
}

func ExampleEncoder() {
	m, err := compiler.Compile("example.yaml", []byte(spec))
	if err != nil {
		log.Fatal(err)
	}
	onnx, err := export.Encoder(m, weights(m), export.Options{Metadata: export.Metadata{EpochsTrained: 10}})
	if err != nil {
		log.Fatal(err)
	}
	info, err := export.Inspect(onnx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("inputs:", info.Inputs)
	fmt.Println("outputs:", info.Outputs)
	fmt.Println("opset:", info.Opsets[0].Version, "parameters:", info.Params)
	// Output:
	// inputs: [{x float32[N,1,28,28]}]
	// outputs: [{mu float32[N,2]} {logvar float32[N,2]}]
	// opset: 17 parameters: 12628
}

func ExampleDecoder() {
	m, err := compiler.Compile("example.yaml", []byte(spec))
	if err != nil {
		log.Fatal(err)
	}
	onnx, err := export.Decoder(m, weights(m), export.Options{Opset: 13})
	if err != nil {
		log.Fatal(err)
	}
	info, err := export.Inspect(onnx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("inputs:", info.Inputs)
	fmt.Println("outputs:", info.Outputs)
	for _, op := range info.Operators {
		fmt.Println(op.OpType, op.Count)
	}
	// Output:
	// inputs: [{z float32[N,2]}]
	// outputs: [{probs float32[N,1,28,28]} {mean_raw float32[N,1,28,28]}]
	// Constant 2
	// Gemm 2
	// Mul 1
	// Relu 1
	// Reshape 1
	// Sigmoid 1
}

func ExampleRoundTrip() {
	m, err := compiler.Compile("example.yaml", []byte(spec))
	if err != nil {
		log.Fatal(err)
	}
	onnx, err := export.RoundTrip(m, weights(m), export.Options{})
	if err != nil {
		log.Fatal(err)
	}
	info, err := export.Inspect(onnx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(info.Inputs, "->", info.Outputs)
	// Output:
	// [{x float32[N,1,28,28]} {eps float32[N,2]}] -> [{probs float32[N,1,28,28]} {mean_raw float32[N,1,28,28]}]
}

func ExampleDump() {
	m, err := compiler.Compile("example.yaml", []byte(spec))
	if err != nil {
		log.Fatal(err)
	}
	onnx, err := export.Encoder(m, weights(m), export.Options{})
	if err != nil {
		log.Fatal(err)
	}
	text, err := export.Dump(onnx)
	if err != nil {
		log.Fatal(err)
	}
	// Print the nodes only.
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, "  node ") {
			fmt.Println(line)
		}
	}
	// Output:
	//   node "input.scale/Constant": Constant() -> (input.scale)
	//   node "input/Scale": Mul(x, input.scale) -> (x.scaled)
	//   node "x.scaled/Flatten": Flatten(x.scaled) -> (x.scaled.flat)
	//   node "encoder.0/Gemm": Gemm(x.scaled.flat, encoder.0.weight, encoder.0.bias) -> (encoder.0.linear)
	//   node "encoder.0/Relu": Relu(encoder.0.linear) -> (encoder.0)
	//   node "encoder.mu/Gemm": Gemm(encoder.0, encoder.mu.weight, encoder.mu.bias) -> (mu)
	//   node "encoder.logvar/Gemm": Gemm(encoder.0, encoder.logvar.weight, encoder.logvar.bias) -> (logvar)
}
