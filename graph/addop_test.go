package graph

import (
	"sync"
	"testing"

	G "gorgonia.org/gorgonia"

	"github.com/vaec/vaec/ir"
)

// identityOp is an op registered only in this test: y = x, no parameters.
var identityOp = sync.OnceValues(func() (ir.Op, error) {
	return ir.RegisterOp(ir.OpInfo{
		Name: "graph_test_identity", Form: "y = x", Arity: 1,
		Params: func(*ir.Node) []ir.ParamSpec { return nil },
		Infer:  func(_ *ir.Node, in []ir.Shape) (ir.Shape, error) { return in[0].Clone(), nil },
		MACs:   func(*ir.Node) int { return 0 },
	})
})

// TestAddOp adds an op with a row in the op table (ir.RegisterOp) and one
// Gorgonia lowering (inserted into the lowerings table), touching nothing
// else: a model with the identity after its hidden layer trains to the same
// loss and gradients as the model without it.
func TestAddOp(t *testing.T) {
	op, err := identityOp()
	if err != nil {
		t.Fatal(err)
	}
	lowerings[op] = func(_ *ir.Node, in []*G.Node, _ *params) (*G.Node, error) { return in[0], nil }
	defer delete(lowerings, op)

	plain := mlp(6, []int{5}, 2, ir.Tanh, ir.Bernoulli)
	withID := mlp(6, []int{5}, 2, ir.Tanh, ir.Bernoulli)
	// Rebuild the encoder: encoder.0 → encoder.id → heads.
	withID.Params = nil
	b := withID.EncoderBuilder()
	for _, n := range []ir.Node{
		{Name: "encoder.0", Op: ir.Dense, Attrs: ir.Attrs{Units: 5, Activation: ir.Tanh}},
		{Name: "encoder.id", Op: op},
		{Name: "encoder.mu", Op: ir.Dense, Role: ir.RoleMu, Inputs: []string{"encoder.id"}, Attrs: ir.Attrs{Units: 2}},
		{Name: "encoder.logvar", Op: ir.Dense, Role: ir.RoleLogvar, Inputs: []string{"encoder.id"}, Attrs: ir.Attrs{Units: 2}},
	} {
		if _, err := b.Add(n); err != nil {
			t.Fatal(err)
		}
	}
	dec := plain.Decoder.Nodes
	d := withID.DecoderBuilder()
	for _, n := range dec {
		if _, err := d.Add(ir.Node{Name: n.Name, Op: n.Op, Role: n.Role, Attrs: n.Attrs}); err != nil {
			t.Fatal(err)
		}
	}
	if err := ir.VerifyArchitecture(withID); err != nil {
		t.Fatal(err)
	}
	w := InitWeights(plain, 3)
	x := make([]float32, 4*6)
	for i := range x {
		x[i] = float32(i%7) / 7
	}
	eps := make([]float32, 4*2)
	for i := range eps {
		eps[i] = float32(i%3) - 1
	}
	type result struct {
		loss  float64
		grads [][]float32
	}
	step := func(m *ir.Model) result {
		n, err := buildNet(m, w, 4, 1, true)
		if err != nil {
			t.Fatal(err)
		}
		defer n.close()
		copy(n.xv.Float32s(), x)
		copy(n.epsv.Float32s(), eps)
		_, _, loss, err := n.run(1)
		if err != nil {
			t.Fatal(err)
		}
		r := result{loss: loss}
		for i := range m.Params {
			g, err := n.grad(i)
			if err != nil {
				t.Fatal(err)
			}
			r.grads = append(r.grads, append([]float32(nil), g...))
		}
		return r
	}
	want, got := step(plain), step(withID)
	if got.loss != want.loss {
		t.Errorf("loss %v with the identity op, %v without", got.loss, want.loss)
	}
	for i := range want.grads {
		for j := range want.grads[i] {
			if got.grads[i][j] != want.grads[i][j] {
				t.Fatalf("gradient of %s[%d] differs: %v vs %v", plain.Params[i].Name, j, got.grads[i][j], want.grads[i][j])
			}
		}
	}
}
