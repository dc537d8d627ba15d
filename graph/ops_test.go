package graph

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/vaec/vaec/ir"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// TestFusedMatchesPrimitive runs the fused lowering (custom ops on the tape)
// and the primitive one (Gorgonia's built-in ops on its TapeMachine) on the
// same weights and inputs: loss, terms and every parameter gradient must
// agree to float32 accuracy.
func TestFusedMatchesPrimitive(t *testing.T) {
	tests := []struct {
		name    string
		hidden  []int
		act     ir.Activation
		alpha   float64
		lik     ir.LikelihoodKind
		samples int
		klw     float32
	}{
		{"relu bernoulli", []int{16}, ir.ReLU, 0, ir.Bernoulli, 1, 1},
		{"tanh bernoulli 3 samples", []int{12, 8}, ir.Tanh, 0, ir.Bernoulli, 3, 0.25},
		{"sigmoid gaussian fixed", []int{10}, ir.Sigmoid, 0, ir.GaussianFixed, 1, 1},
		{"softplus gaussian learned 2 samples", []int{10}, ir.Softplus, 0, ir.GaussianLearned, 2, 2},
		{"elu", []int{9}, ir.ELU, 0.7, ir.Bernoulli, 1, 1},
		{"leaky relu", []int{9}, ir.LeakyReLU, 0.1, ir.GaussianLearned, 1, 0},
		{"no hidden", nil, ir.ReLU, 0, ir.Bernoulli, 2, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			const in, latent, batch = 12, 3, 7
			m := mlp(in, tc.hidden, latent, tc.act, tc.lik)
			setAlpha(m, tc.alpha)
			w := InitWeights(m, 11)
			if lv, ok := w["decoder.logvar"]; ok {
				for i := range lv.Data {
					lv.Data[i] = 0.3 * float32(i%5-2)
				}
			}
			fused, err := buildNetLowering(m, w, batch, tc.samples, true, false)
			if err != nil {
				t.Fatal(err)
			}
			defer fused.close()
			prim, err := buildNetLowering(m, w, batch, tc.samples, true, true)
			if err != nil {
				t.Fatal(err)
			}
			defer prim.close()
			rng := rand.New(rand.NewPCG(5, 6))
			x := fused.xv.Float32s()
			for i := range x {
				x[i] = float32(rng.Float64())
			}
			fillNormal(rng, fused.epsv.Float32s())
			copy(prim.xv.Float32s(), x)
			copy(prim.epsv.Float32s(), fused.epsv.Float32s())
			r1, k1, l1, err := fused.run(tc.klw)
			if err != nil {
				t.Fatal(err)
			}
			r2, k2, l2, err := prim.run(tc.klw)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct {
				what      string
				got, want float64
			}{{"recon", r1, r2}, {"kl", k1, k2}, {"loss", l1, l2}} {
				if !closeTo(c.got, c.want, 1e-4, 1e-5) {
					t.Errorf("%s: fused %v, primitive %v", c.what, c.got, c.want)
				}
			}
			for i, p := range m.Params {
				g1, err := fused.grad(i)
				if err != nil {
					t.Fatal(err)
				}
				g2, err := prim.grad(i)
				if err != nil {
					t.Fatal(err)
				}
				for j := range g1 {
					if !closeTo(float64(g1[j]), float64(g2[j]), 1e-6, 1e-4) {
						t.Fatalf("∂loss/∂%s[%d]: fused %v, primitive %v", p.Name, j, g1[j], g2[j])
					}
				}
			}
		})
	}
}

// TestLeakyAlphaZero: the IR verifier now refuses leaky_relu (and elu)
// with alpha 0, so such a model never reaches the lowering (it used to take
// the primitive fallback for that layer); fusedAct still declines the fused
// op for a non-positive alpha.
func TestLeakyAlphaZero(t *testing.T) {
	m := mlp(12, []int{9}, 3, ir.LeakyReLU, ir.Bernoulli)
	setAlpha(m, 0)
	w := InitWeights(m, 11)
	for _, primitive := range []bool{false, true} {
		if n, err := buildNetLowering(m, w, 7, 1, true, primitive); err == nil {
			n.close()
			t.Errorf("primitive=%v: built a leaky_relu model with alpha 0", primitive)
		}
	}
	for _, act := range []ir.Activation{ir.LeakyReLU, ir.ELU} {
		if _, ok := fusedAct(&ir.Node{Op: ir.Dense, Attrs: ir.Attrs{Activation: act}}); ok {
			t.Errorf("fusedAct accepted %s with alpha 0", act)
		}
		if _, ok := fusedAct(&ir.Node{Op: ir.Dense, Attrs: ir.Attrs{Activation: act, Alpha: 0.1}}); !ok {
			t.Errorf("fusedAct declined %s with alpha 0.1", act)
		}
	}
}

// TestElboOpExtremes checks the fused Bernoulli loss and its gradient where
// the sigmoid rounds to 0 or 1 in float32: the value must stay finite and
// exact, the gradient must be sigmoid(l) − x.
func TestElboOpExtremes(t *testing.T) {
	logits := []float32{0, 0.5, -2, 3, 10, -25, 100, -100, 100, -100, 100, -100, 88, -88, 30}
	xs := []float32{0, 0.3, 1, 0, 0.7, 0.2, 0, 0, 1, 1, 0.5, 0.5, 1, 0, 0.1}
	n := len(logits)
	op := &elboOp{lik: ir.Bernoulli, grad: true}
	mat := func(d []float32, r, c int) *tensor.Dense {
		return tensor.New(tensor.WithShape(r, c), tensor.WithBacking(append([]float32(nil), d...)))
	}
	zero := make([]float32, 1)
	v, err := op.UsePreallocDo(G.NewF32(0), mat(logits, 1, n), mat(xs, 1, n), mat(zero, 1, 1), mat(zero, 1, 1), G.NewF32(1))
	if err != nil {
		t.Fatal(err)
	}
	var want float64
	for i, l := range logits {
		lf, xf := float64(l), float64(xs[i])
		want += math.Max(lf, 0) + math.Log1p(math.Exp(-math.Abs(lf))) - xf*lf
		g := float64(op.dOut[i])
		if wantG := sigmoid(lf) - xf; !closeTo(g, wantG, 1e-6, 1e-5) {
			t.Errorf("∂NLL/∂l at l=%v x=%v: %v, want %v", l, xs[i], g, wantG)
		}
	}
	if !closeTo(op.recon, want, 1e-4, 1e-6) {
		t.Errorf("NLL %v, want %v", op.recon, want)
	}
	if got := float64(*v.(*G.F32)); !closeTo(got, want, 1e-3, 1e-6) { // KL of N(0, 1) is 0, B is 1
		t.Errorf("loss %v, want %v", got, want)
	}
}

// TestElboOpRejectsBadInput: wrong shapes and types are errors, not panics.
func TestElboOpRejectsBadInput(t *testing.T) {
	op := &elboOp{lik: ir.Bernoulli}
	m := func(r, c int) G.Value { return tensor.New(tensor.WithShape(r, c), tensor.Of(tensor.Float32)) }
	tests := [][]G.Value{
		{m(2, 3), m(2, 3), m(2, 1), m(2, 1)},                                                                    // arity
		{m(3, 3), m(2, 3), m(2, 1), m(2, 1), G.NewF32(1)},                                                       // rows not a multiple of the batch
		{m(2, 3), m(2, 4), m(2, 1), m(2, 1), G.NewF32(1)},                                                       // widths differ
		{m(2, 3), m(2, 3), m(2, 1), m(2, 2), G.NewF32(1)},                                                       // logvar shape
		{m(2, 3), m(2, 3), m(2, 1), m(2, 1), m(2, 2)},                                                           // kl weight not a scalar
		{m(2, 3), G.NewF32(1), m(2, 1), m(2, 1), G.NewF32(1)},                                                   // x not a matrix
		{tensor.New(tensor.WithShape(2, 3), tensor.Of(tensor.Float64)), m(2, 3), m(2, 1), m(2, 1), G.NewF32(1)}, // float64
	}
	for i, in := range tests {
		if _, err := op.Do(in...); err == nil {
			t.Errorf("case %d: accepted", i)
		}
	}
	if _, err := (denseOp{}).Do(m(2, 3), m(4, 5), m(1, 5)); err == nil {
		t.Error("dense: accepted x (2, 3) with W (4, 5)")
	}
	if _, err := (matMulOp{transA: true}).Do(m(2, 3), m(4, 5)); err == nil {
		t.Error("matmul: accepted mismatched inner sizes")
	}
	if _, err := (reparamOp{}).Do(m(2, 3), m(2, 3), m(3, 3)); err == nil {
		t.Error("reparameterize: accepted 3 noise rows for a batch of 2")
	}
}

// TestFusedOpsOnTapeMachine runs a fused encoder graph on Gorgonia's own
// TapeMachine: the ops are ordinary Gorgonia ops, not tied to the tape.
func TestFusedOpsOnTapeMachine(t *testing.T) {
	m := mlp(10, []int{6}, 3, ir.Tanh, ir.Bernoulli)
	w := InitWeights(m, 2)
	x := make([]float32, 4*10)
	for i := range x {
		x[i] = float32(i%7) / 7
	}
	wantMu, wantLv, err := Encode(m, w, x, 4)
	if err != nil {
		t.Fatal(err)
	}
	g := G.NewGraph()
	p, err := bindParams(g, m, w)
	if err != nil {
		t.Fatal(err)
	}
	xn := G.NewMatrix(g, G.Float32, G.WithShape(4, 10), G.WithValue(tensor.New(tensor.WithShape(4, 10), tensor.WithBacking(x))))
	mu, lv, err := encoder(m, xn, p)
	if err != nil {
		t.Fatal(err)
	}
	vm := G.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	for i, v := range mu.Value().Data().([]float32) {
		if v != wantMu[i] || lv.Value().Data().([]float32)[i] != wantLv[i] {
			t.Fatalf("element %d: TapeMachine mu %v logvar %v, tape %v %v", i, v, lv.Value().Data().([]float32)[i], wantMu[i], wantLv[i])
		}
	}
}

// TestTrainStepAllocations: a steady-state training step (graph run and
// optimizer update) allocates next to nothing; what remains are the
// goroutine hand-offs of the element-wise work split across cores.
func TestTrainStepAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	m := mlp(784, []int{64}, 8, ir.ReLU, ir.Bernoulli)
	w := InitWeights(m, 1)
	n, err := buildNet(m, w, 64, 1, true)
	if err != nil {
		t.Fatal(err)
	}
	defer n.close()
	opt, err := newOptimizer(m)
	if err != nil {
		t.Fatal(err)
	}
	var params, grads [][]float32
	for _, p := range m.Params {
		params = append(params, w[p.Name].Data)
	}
	grads = make([][]float32, len(params))
	step := int64(0)
	allocs := testing.AllocsPerRun(20, func() {
		if _, _, _, err := n.run(1); err != nil {
			t.Fatal(err)
		}
		for i := range grads {
			grads[i], _ = n.grad(i)
		}
		step++
		opt.step(step, params, grads)
	})
	// About 2 per parallel hand-off (its closure and goroutine), against
	// 2,073 allocations (9 MB) per step on Gorgonia's TapeMachine.
	if limit := 40.0; allocs > limit {
		t.Errorf("%v allocations per step, want at most %v", allocs, limit)
	}
}

// TestTrainIndependentOfGOMAXPROCS: the work split across cores (matrix
// products, loss rows, optimizer) never changes a result bit.
func TestTrainIndependentOfGOMAXPROCS(t *testing.T) {
	m, base := smallMNIST(t)
	m.Train.Epochs = 1
	base.Val = nil
	sameWeightsOnCores(t, m, base, 2)
}
