package runtime_test

import (
	"fmt"
	"log"

	"github.com/vaec/vaec/runtime"
)

// Load a model written by another tool (onnx.helper) and run it at two
// batch sizes with the same Model.
func Example() {
	m, err := runtime.LoadFile("../testdata/foreign/mlp_decoder.onnx")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(m.Inputs(), "->", m.Outputs())
	for _, n := range []int{1, 3} {
		out, err := m.Run(map[string]runtime.Tensor{"z": {Shape: []int{n, 4}, Data: make([]float32, n*4)}})
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(out["probs"].Shape)
	}
	// Output:
	// [z[batch,4]] -> [probs[batch,12]]
	// [1 12]
	// [3 12]
}

// Compare and Within judge one output against a reference.
func ExampleWithin() {
	got := []float32{0.5, 100.0004, 1e-7}
	want := []float32{0.5, 100, 0}
	abs, rel := runtime.Compare(got, want)
	ok, worst := runtime.Within(got, want, 1e-5)
	fmt.Printf("max abs %.1e, max rel %.1e, within 1e-5: %v (worst element %d)\n", abs, rel, ok, worst)
	// Output: max abs 4.0e-04, max rel 4.0e-06, within 1e-5: true (worst element 1)
}
