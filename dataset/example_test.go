package dataset_test

import (
	"fmt"
	"log"

	"github.com/vaec/vaec/dataset"
	"github.com/vaec/vaec/ir"
)

// Load the MNIST test images as the spec's input describes them: 28x28
// pixels scaled from [0, 255] to [0, 1], with their labels.
func ExampleLoad() {
	src := ir.Source{
		Path:   "../testdata/mnist/t10k-images-idx3-ubyte.gz",
		Format: ir.FormatIDXGz,
		Labels: "../testdata/mnist/t10k-labels-idx1-ubyte.gz",
		Start:  9000, // the project's held-out split: the last 1,000 images
	}
	in := ir.Input{Shape: []int{1, 28, 28}, Size: 784, Scale: 1.0 / 255}
	set, err := dataset.Load(src, in)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(set.N, set.D, len(set.Labels))
	// Output: 1000 784 1000
}

// Hold out 20% of a set for validation; the same seed gives the same split.
func ExampleSet_Split() {
	set := &dataset.Set{X: make([]float32, 10*2), N: 10, D: 2, Labels: []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}}
	train, val := set.Split(0.2, 1)
	fmt.Println(train.N, val.N)
	_, again := set.Split(0.2, 1)
	fmt.Println(fmt.Sprint(val.Labels) == fmt.Sprint(again.Labels))
	// Output:
	// 8 2
	// true
}
