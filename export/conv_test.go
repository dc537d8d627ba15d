package export

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/vaec/vaec/ir"
)

// convTestModel is a tiny model with every image op: conv2d, batch_norm
// (with an activation), dense after an image, reshape, conv_transpose2d with
// output_padding, upsample, and a conv2d output layer giving the mean of a
// Gaussian with learned variance.
func convTestModel() *ir.Model {
	m := testModel([]int{1, 5, 4}, 2, []int{3}, ir.ReLU, ir.GaussianLearned)
	m.Params = nil
	must := func(_ *ir.Node, err error) {
		if err != nil {
			panic(err)
		}
	}
	e := m.EncoderBuilder()
	must(e.Add(ir.Node{Name: "encoder.0", Op: ir.Conv2D, Attrs: ir.Attrs{Filters: 2, Kernel: []int{3, 2}, Stride: []int{2, 1}, Padding: []int{1, 0}, Activation: ir.Tanh}}))
	must(e.Add(ir.Node{Name: "encoder.1", Op: ir.BatchNorm, Attrs: ir.Attrs{Momentum: 0.1, Epsilon: 1e-5, Activation: ir.ReLU}}))
	must(e.Add(ir.Node{Name: "encoder.2", Op: ir.Dense, Attrs: ir.Attrs{Units: 3, Activation: ir.ReLU}}))
	h := e.Last()
	must(e.Add(ir.Node{Name: "encoder.mu", Op: ir.Dense, Role: ir.RoleMu, Inputs: []string{h}, Attrs: ir.Attrs{Units: 2}}))
	must(e.Add(ir.Node{Name: "encoder.logvar", Op: ir.Dense, Role: ir.RoleLogvar, Inputs: []string{h}, Attrs: ir.Attrs{Units: 2}}))
	d := m.DecoderBuilder()
	must(d.Add(ir.Node{Name: "decoder.0", Op: ir.Dense, Attrs: ir.Attrs{Units: 6, Activation: ir.ReLU}}))
	must(d.Add(ir.Node{Name: "decoder.0.reshape", Op: ir.Reshape, Attrs: ir.Attrs{Target: ir.Shape{2, 3, 1}}}))
	must(d.Add(ir.Node{Name: "decoder.1", Op: ir.ConvTranspose2D, Attrs: ir.Attrs{Filters: 2, Kernel: []int{2, 2}, Stride: []int{2, 2}, Padding: []int{1, 0}, OutputPadding: []int{1, 0}, Activation: ir.ELU, Alpha: 1}}))
	must(d.Add(ir.Node{Name: "decoder.2", Op: ir.Upsample, Attrs: ir.Attrs{Factor: []int{1, 2}}}))
	must(d.Add(ir.Node{Name: "decoder.3", Op: ir.Conv2D, Role: ir.RoleOutput, Attrs: ir.Attrs{Filters: 1, Kernel: []int{1, 1}, Stride: []int{1, 1}, Padding: []int{0, 0}, Activation: ir.Sigmoid}}))
	m.AddLikelihoodParams()
	if err := ir.VerifyArchitecture(m); err != nil {
		panic(err)
	}
	return m
}

// TestGoldenConv compares dumps of the conv model's four files with
// testdata/conv_gaussian_learned.*.txt; -update rewrites them.
func TestGoldenConv(t *testing.T) {
	m := convTestModel()
	for _, e := range exporters {
		name := "conv_gaussian_learned." + e.role
		t.Run(name, func(t *testing.T) {
			data, err := e.fn(m, testWeights(m), testOptions())
			if err != nil {
				t.Fatal(err)
			}
			got, err := Dump(data)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", name+".txt")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./export -run GoldenConv -update to create it)", err)
			}
			if string(want) != got {
				t.Errorf("dump differs from %s (rerun with -update if the change is intended):\n%s", path, lineDiff(string(want), got))
			}
		})
	}
}
