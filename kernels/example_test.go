package kernels_test

import (
	"fmt"
	"math"

	"github.com/vaec/vaec/kernels"
)

// A dense layer's forward pass: y = relu(x·W + b) for a batch of 2 inputs
// with 3 features and 2 outputs.
func Example() {
	x := []float32{ // 2×3
		1, 2, 3,
		4, 5, 6,
	}
	w := []float32{ // 3×2
		1, -1,
		0, 1,
		1, 0,
	}
	b := []float32{0.5, -4}
	y := make([]float32, 2*2)
	kernels.Sgemm(false, false, 2, 2, 3, 1, x, 3, w, 2, 0, y, 2)
	kernels.AddBiasAct(y, 2, 2, b, kernels.ReLU, 0)
	fmt.Println(y)
	// Output: [4.5 0 10.5 0]
}

// The backward pass of a dense layer y = x·W needs the two transposed
// products: dW = xᵀ·dY (TN) and dX = dY·Wᵀ (NT).
func ExampleSgemm_transposed() {
	x := []float32{1, 2, 3, 4, 5, 6}  // 2×3
	w := []float32{1, -1, 0, 1, 1, 0} // 3×2
	dy := []float32{1, 0, 0, 1}       // 2×2
	dw := make([]float32, 3*2)
	dx := make([]float32, 2*3)
	kernels.Sgemm(true, false, 3, 2, 2, 1, x, 3, dy, 2, 0, dw, 2)
	kernels.Sgemm(false, true, 2, 3, 2, 1, dy, 2, w, 2, 0, dx, 3)
	fmt.Println("dW:", dw)
	fmt.Println("dX:", dx)
	// Output:
	// dW: [1 4 2 5 3 6]
	// dX: [1 0 1 -1 1 0]
}

// alpha and beta scale the product and accumulate onto C, as in BLAS:
// here C = 2·A·B + C.
func ExampleSgemm_accumulate() {
	a := []float32{1, 2} // 1×2
	b := []float32{3, 4} // 2×1
	c := []float32{10}
	kernels.Sgemm(false, false, 1, 1, 2, 2, a, 2, b, 1, 1, c, 1)
	fmt.Println(c)
	// Output: [32]
}

// CheckSgemm validates shapes that come from outside the program (a model
// file, say) before Sgemm, which panics on inconsistent arguments.
func ExampleCheckSgemm() {
	a := make([]float32, 5) // too short for 2×3
	b := make([]float32, 6)
	c := make([]float32, 4)
	err := kernels.CheckSgemm(false, false, 2, 2, 3, a, 3, b, 2, c, 2)
	fmt.Println(err)
	// Output: kernels: sgemm: A has 5 elements, want >= 6 (2×3, leading dimension 3)
}

// The activation's backward pass works from the layer's output y; ColSum
// gives the bias gradient.
func ExampleActGrad() {
	y := []float32{0.5, 0, 2, 0} // relu outputs, 2×2
	dy := []float32{1, 1, 1, 1}
	dx := make([]float32, 4)
	kernels.ActGrad(dx, dy, y, kernels.ReLU, 0)
	db := make([]float32, 2)
	kernels.ColSum(db, dx, 2, 2)
	fmt.Println("dX:", dx, "db:", db)
	// Output: dX: [1 0 1 0] db: [2 0]
}

func ExampleParseAct() {
	act, err := kernels.ParseAct("leaky_relu")
	fmt.Println(act, err)
	// Output: leaky_relu <nil>
}

// An inference runtime packs a layer's weights once and then runs batches
// of any size through them, bias and activation included.
func ExamplePackedB() {
	w := []float32{ // 3×2
		1, -1,
		0, 1,
		1, 0,
	}
	b := []float32{0.5, -4}
	layer, err := kernels.NewPackedB(false, 3, 2, w, 2)
	if err != nil {
		panic(err)
	}
	one := make([]float32, 2)
	layer.MulBiasAct(1, []float32{1, 2, 3}, 3, one, 2, b, kernels.ReLU, 0)
	batch := make([]float32, 2*2)
	layer.MulBiasAct(2, []float32{1, 2, 3, 4, 5, 6}, 3, batch, 2, b, kernels.ReLU, 0)
	fmt.Println(one, batch)
	// Output: [4.5 0] [4.5 0 10.5 0]
}

// A weight that several products of a training step read is packed once
// (NewPackedPanels, Pack); after the optimizer changes some of its rows,
// PackRows refreshes just those, and Gemm multiplies by the packed copy
// with Sgemm's arithmetic.
func ExamplePackedB_PackRows() {
	w := []float32{ // 3×2: x·W for inputs of 3 features
		1, -1,
		0, 1,
		1, 0,
	}
	p, err := kernels.NewPackedPanels(false, 3, 2)
	if err != nil {
		panic(err)
	}
	if err := p.Pack(w, 2, 0, 1); err != nil {
		panic(err)
	}
	x := []float32{1, 2, 3, 4, 5, 6} // 2×3
	y := make([]float32, 2*2)
	p.Gemm(2, x, 3, y, 2, nil, kernels.Linear, 0)
	fmt.Println(y)

	w[2], w[3] = 2, 2 // an update of row 1
	if err := p.PackRows(w, 2, 1, 2); err != nil {
		panic(err)
	}
	p.Gemm(2, x, 3, y, 2, nil, kernels.Linear, 0)
	fmt.Println(y)
	// Output:
	// [4 1 10 1]
	// [8 3 20 6]
}

// Evict moves data out of the caches without changing it: a core that has
// read values another core will write next evicts them, so the writer
// finds no copy to invalidate.
func ExampleEvict() {
	w := []float32{0.5, -1, 2}
	kernels.Evict(w)
	fmt.Println(w)
	// Output: [0.5 -1 2]
}

// A first layer's weight gradient dW = xᵀ·dz when x holds images, most of
// whose pixels are zero: SgemmZeroA skips them and gives Sgemm's bits,
// provided dz is finite, which AllFinite checks once for all the products
// that share it.
func ExampleSgemmZeroA() {
	const images, pixels, units = 16, 64, 48
	x := make([]float32, images*pixels)
	for i := range images {
		x[i*pixels+20+i] = 1 // one lit pixel per image
	}
	dz := make([]float32, images*units)
	for i := range dz {
		dz[i] = float32(i%7) - 3
	}
	dense := make([]float32, pixels*units)
	sparse := make([]float32, pixels*units)
	kernels.Sgemm(true, false, pixels, units, images, 1, x, pixels, dz, units, 0, dense, units)
	if kernels.AllFinite(dz) {
		kernels.SgemmZeroA(true, false, pixels, units, images, 1, x, pixels, dz, units, 0, sparse, units)
	}
	same := true
	for i := range dense {
		same = same && math.Float32bits(dense[i]) == math.Float32bits(sparse[i])
	}
	fmt.Println("same bits:", same, "dW[21][0..3]:", sparse[21*units:21*units+4])
	// Pixel 21 is lit in image 1 only: dW[21] = dz[1] = (48+u)%7 − 3.
	// Output: same bits: true dW[21][0..3]: [3 -3 -2 -1]
}
