package ort_test

import (
	"fmt"
	"os"

	"github.com/vaec/vaec/runtime"
	"github.com/vaec/vaec/runtime/ort"
)

// Run a model in ONNX Runtime, when its library can be found.
func ExampleNewSession() {
	if err := ort.Init(ort.FindLibrary("")); err != nil {
		fmt.Println("skipping:", err)
		return
	}
	b, err := os.ReadFile("../../testdata/foreign/mlp_decoder.onnx")
	if err != nil {
		fmt.Println(err)
		return
	}
	s, err := ort.NewSession(b, []string{"z"}, []string{"probs"}, ort.Options{Threads: 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()
	out, err := s.Run(map[string]runtime.Tensor{"z": {Shape: []int{2, 4}, Data: make([]float32, 8)}})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(out["probs"].Shape)
}
