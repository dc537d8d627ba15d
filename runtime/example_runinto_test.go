package runtime_test

import (
	"fmt"
	"log"

	"github.com/vaec/vaec/runtime"
)

// A serving loop reuses its output buffers from call to call, as with ONNX
// Runtime's IO binding: the outputs are written into them, and the
// returned tensors' Data are those buffers.
func ExampleModel_RunInto() {
	m, err := runtime.LoadFile("../testdata/foreign/mlp_decoder.onnx")
	if err != nil {
		log.Fatal(err)
	}
	const batch = 3
	probs := make([]float32, batch*12)
	z := make([]float32, batch*4)
	for call := range 2 {
		z[0] = float32(call) // a new request
		out, err := m.RunInto(map[string]runtime.Tensor{"z": {Shape: []int{batch, 4}, Data: z}},
			map[string][]float32{"probs": probs})
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(out["probs"].Shape, &out["probs"].Data[0] == &probs[0])
	}
	// Output:
	// [3 12] true
	// [3 12] true
}
