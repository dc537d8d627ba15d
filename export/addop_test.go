package export

import (
	"testing"

	"github.com/vaec/vaec/ir"
	"github.com/vaec/vaec/runtime"
)

// TestAddOp adds an op the way ir's package doc describes: a row in the op
// table (ir.RegisterOp, test_identity in export_test.go), one export
// lowering (here, inserted into the lowerings table by the test), and the
// runtime op (ONNX Identity, which the runtime already has). Nothing else
// changes, and the exported decoder computes what it did without the op.
func TestAddOp(t *testing.T) {
	op, err := testIdentity()
	if err != nil {
		t.Fatal(err)
	}
	lowerings[op] = func(b *builder, n *ir.Node, in []string, out string) (string, error) {
		return out, b.node("Identity", n.Name+"/Identity", in, out)
	}
	defer delete(lowerings, op)

	plain := testModel([]int{6}, 2, []int{5}, ir.ReLU, ir.Bernoulli)
	w := testWeights(plain)
	withID := testModel([]int{6}, 2, []int{5}, ir.ReLU, ir.Bernoulli)
	insertIdentity(withID)

	run := func(m *ir.Model) []float32 {
		b, err := Decoder(m, w, testOptions())
		if err != nil {
			t.Fatal(err)
		}
		rm, err := runtime.Load(b)
		if err != nil {
			t.Fatal(err)
		}
		z := []float32{0.5, -1, 2, 0.25, -0.75, 0}
		out, err := rm.Run(map[string]runtime.Tensor{ir.InputZ: {Shape: []int{3, 2}, Data: z}})
		if err != nil {
			t.Fatal(err)
		}
		return out[ir.OutputProbs].Data
	}
	want, got := run(plain), run(withID)
	if len(got) != len(want) || len(got) == 0 {
		t.Fatalf("%d outputs, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("probs[%d] = %v with the identity op, %v without", i, got[i], want[i])
		}
	}
}
