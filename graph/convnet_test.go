package graph

import (
	"context"
	"math"
	"runtime"
	"testing"

	"github.com/vaec/vaec/checkpoint"
	"github.com/vaec/vaec/ir"
)

// convVAE builds a small convolutional VAE for [1, 28, 28] images by hand,
// as the compiler would: conv2d → (batch_norm) → dense → heads; dense →
// reshape → upsample → (batch_norm) → conv_transpose2d as the output.
func convVAE(t testing.TB, bn bool) *ir.Model {
	t.Helper()
	return convVAEWith(t, bn, bn)
}

// convVAEWith is convVAE with a choice of batch norm in the encoder and in
// the decoder.
func convVAEWith(t testing.TB, bnEnc, bnDec bool) *ir.Model {
	t.Helper()
	m := mlp(784, []int{8}, 4, ir.ReLU, ir.Bernoulli)
	m.Input.Shape = ir.Shape{1, 28, 28}
	m.SpecHash = "hash-conv"
	m.Params = nil
	add := func(b *ir.Builder, n ir.Node) {
		t.Helper()
		if _, err := b.Add(n); err != nil {
			t.Fatal(err)
		}
	}
	conv := func(f int, act ir.Activation) ir.Attrs {
		return ir.Attrs{Filters: f, Kernel: []int{4, 4}, Stride: []int{2, 2}, Padding: []int{1, 1}, Activation: act}
	}
	e := m.EncoderBuilder()
	add(e, ir.Node{Name: "encoder.0", Op: ir.Conv2D, Attrs: conv(4, ir.ReLU)})
	if bnEnc {
		add(e, ir.Node{Name: "encoder.1", Op: ir.BatchNorm, Attrs: ir.Attrs{Momentum: 0.1, Epsilon: 1e-5, Activation: ir.ReLU}})
	}
	add(e, ir.Node{Name: "encoder.2", Op: ir.Dense, Attrs: ir.Attrs{Units: 16, Activation: ir.ReLU}})
	h := e.Last()
	add(e, ir.Node{Name: "encoder.mu", Op: ir.Dense, Role: ir.RoleMu, Inputs: []string{h}, Attrs: ir.Attrs{Units: 4}})
	add(e, ir.Node{Name: "encoder.logvar", Op: ir.Dense, Role: ir.RoleLogvar, Inputs: []string{h}, Attrs: ir.Attrs{Units: 4}})
	d := m.DecoderBuilder()
	add(d, ir.Node{Name: "decoder.0", Op: ir.Dense, Attrs: ir.Attrs{Units: 4 * 7 * 7, Activation: ir.ReLU}})
	add(d, ir.Node{Name: "decoder.0.reshape", Op: ir.Reshape, Attrs: ir.Attrs{Target: ir.Shape{4, 7, 7}}})
	add(d, ir.Node{Name: "decoder.1", Op: ir.Upsample, Attrs: ir.Attrs{Factor: []int{2, 2}}})
	if bnDec {
		add(d, ir.Node{Name: "decoder.2", Op: ir.BatchNorm, Attrs: ir.Attrs{Momentum: 0.1, Epsilon: 1e-5}})
	}
	out := conv(1, ir.Linear)
	out.OutputPadding = []int{0, 0}
	add(d, ir.Node{Name: "decoder.3", Op: ir.ConvTranspose2D, Role: ir.RoleOutput, Attrs: out})
	if err := ir.VerifyArchitecture(m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestConvTrainDeterministic trains the conv VAE with batch norm: the same
// weights (running statistics included) at GOMAXPROCS 1 and 2, and a run
// resumed from the first epoch's checkpoint ends bit-identical to a
// straight one.
func TestConvTrainDeterministic(t *testing.T) {
	m := convVAE(t, true)
	m.Train.BatchSize, m.Train.Epochs, m.Train.Seed = 50, 2, 3
	base := TrainOptions{Train: loadMNIST(t, 0, 300), Val: loadMNIST(t, 9800, 100)}
	ctx := context.Background()

	straight := runFiles(t.TempDir(), base)
	r1, err := Train(ctx, m, straight)
	if err != nil {
		t.Fatal(err)
	}
	if h := r1.History; !(h[1].TrainELBO > h[0].TrainELBO) {
		t.Errorf("training did not progress: %+v", h)
	}
	init := InitWeights(m, m.Train.Seed)
	for _, name := range []string{"encoder.1.running_mean", "encoder.1.running_var", "decoder.2.running_mean"} {
		if same(init[name].Data, r1.Weights[name].Data) {
			t.Errorf("%s did not move from its initial value", name)
		}
	}

	split := runFiles(t.TempDir(), base)
	split.Epochs = 1
	if _, err := Train(ctx, m, split); err != nil {
		t.Fatal(err)
	}
	split.Epochs, split.Resume = 2, true
	r2, err := Train(ctx, m, split)
	if err != nil {
		t.Fatal(err)
	}
	sameWeights(t, r1.Weights, r2.Weights)
	c, err := checkpoint.Load(split.Checkpoint)
	if err != nil {
		t.Fatal(err)
	}
	sameWeights(t, r1.Weights, c.Weights)

	prev := runtime.GOMAXPROCS(1)
	defer runtime.GOMAXPROCS(prev)
	one, err := Train(ctx, m, base)
	if err != nil {
		t.Fatal(err)
	}
	sameWeights(t, r1.Weights, one.Weights)
}

func same(a, b []float32) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestBatchNormInferenceUsesRunningStats: outside training a row's
// encoding does not depend on the other rows of its batch, and it follows
// the running statistics.
func TestBatchNormInferenceUsesRunningStats(t *testing.T) {
	m := convVAE(t, true)
	w := InitWeights(m, 7)
	set := loadMNIST(t, 0, 8)
	mu8, _, err := Encode(m, w, set.X, 8)
	if err != nil {
		t.Fatal(err)
	}
	mu1, _, err := Encode(m, w, set.X[3*784:4*784], 1)
	if err != nil {
		t.Fatal(err)
	}
	for j := range mu1 {
		if d := math.Abs(float64(mu1[j] - mu8[3*4+j])); d > 1e-6 {
			t.Fatalf("mu[3][%d] is %v alone and %v in a batch of 8: batch statistics at inference?", j, mu1[j], mu8[3*4+j])
		}
	}
	rm := w["encoder.1.running_mean"].Data
	for i := range rm {
		rm[i] = 0.5
	}
	moved, _, err := Encode(m, w, set.X[3*784:4*784], 1)
	if err != nil {
		t.Fatal(err)
	}
	if same(moved, mu1) {
		t.Error("changing the running mean does not change the encoding")
	}
}

// TestConvNetGradients checks the training graph's gradient of the loss
// for a few elements of every trainable parameter of the conv VAE (with
// batch norm in training mode) against central differences.
func TestConvNetGradients(t *testing.T) {
	for _, bn := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "batch_norm"}[bn], func(t *testing.T) { testConvNetGradients(t, bn) })
	}
}

func testConvNetGradients(t *testing.T, bn bool) {
	m := convVAE(t, bn)
	// Smooth activations: ReLU's kinks, with the batch statistics of six
	// examples, make central differences unreliable.
	for _, g := range []*ir.Graph{&m.Encoder, &m.Decoder} {
		for i := range g.Nodes {
			if g.Nodes[i].Activation == ir.ReLU {
				g.Nodes[i].Activation = ir.Tanh
			}
		}
	}
	w := InitWeights(m, 5)
	set := loadMNIST(t, 0, 6)
	n, err := buildNet(m, w, 6, 1, true)
	if err != nil {
		t.Fatal(err)
	}
	defer n.close()
	copy(n.xv.Data().([]float32), set.X)
	eps := n.epsv.Data().([]float32)
	for i := range eps {
		eps[i] = float32(math.Sin(float64(i)))
	}
	// The forward pass in training mode moves the running statistics;
	// they do not enter the loss, but restore them so every run is alike.
	frozen := map[string][]float32{}
	for _, p := range m.Params {
		if p.Buffer {
			frozen[p.Name] = append([]float32(nil), w[p.Name].Data...)
		}
	}
	loss := func() float64 {
		for k, v := range frozen {
			copy(w[k].Data, v)
		}
		// The terms in float64 (the loss node is float32, too coarse for
		// differences).
		r, k, _, err := n.run(1)
		if err != nil {
			t.Fatal(err)
		}
		return (r + k) / 6
	}
	loss()
	grads := make([][]float32, len(m.Trainable()))
	for i := range grads {
		g, err := n.grad(i)
		if err != nil {
			t.Fatal(err)
		}
		grads[i] = append([]float32(nil), g...)
	}
	for i, p := range m.Trainable() {
		data := w[p.Name].Data
		for _, j := range []int{0, len(data) / 2, len(data) - 1} {
			orig := data[j]
			const h = 1e-3
			data[j] = orig + h
			up := loss()
			data[j] = orig - h
			down := loss()
			data[j] = orig
			fd := (up - down) / (2 * h)
			if got := float64(grads[i][j]); math.Abs(got-fd) > 1e-2*math.Max(1, math.Abs(fd)) {
				t.Errorf("∂loss/∂%s[%d] = %v, central difference %v", p.Name, j, got, fd)
			}
		}
	}
}
