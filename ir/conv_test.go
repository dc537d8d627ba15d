package ir

import (
	"strings"
	"testing"
)

// convModel is the conv VAE of issue 11 (testdata/specs/mnist-conv.yaml)
// built by hand, with a batch norm after the first convolution when bn is
// set.
func convModel(t *testing.T, bn bool) *Model {
	t.Helper()
	m := testModel(t, Likelihood{Kind: Bernoulli})
	m.Input = Input{Shape: Shape{1, 28, 28}, Size: 784, Scale: 1}
	m.Latent = 20
	m.Params = nil
	k4 := func(f int, act Activation) Attrs {
		return Attrs{Filters: f, Kernel: []int{4, 4}, Stride: []int{2, 2}, Padding: []int{1, 1}, Activation: act}
	}
	add := func(b *Builder, n Node) {
		t.Helper()
		if _, err := b.Add(n); err != nil {
			t.Fatal(err)
		}
	}
	e := m.EncoderBuilder()
	add(e, Node{Name: "encoder.0", Op: Conv2D, Attrs: k4(32, ReLU)})
	if bn {
		add(e, Node{Name: "encoder.bn", Op: BatchNorm, Attrs: Attrs{Momentum: 0.1, Epsilon: 1e-5}})
	}
	add(e, Node{Name: "encoder.1", Op: Conv2D, Attrs: k4(64, ReLU)})
	add(e, Node{Name: "encoder.2", Op: Dense, Attrs: Attrs{Units: 256, Activation: ReLU}})
	h := e.Last()
	add(e, Node{Name: "encoder.mu", Op: Dense, Role: RoleMu, Inputs: []string{h}, Attrs: Attrs{Units: 20}})
	add(e, Node{Name: "encoder.logvar", Op: Dense, Role: RoleLogvar, Inputs: []string{h}, Attrs: Attrs{Units: 20}})
	d := m.DecoderBuilder()
	add(d, Node{Name: "decoder.0", Op: Dense, Attrs: Attrs{Units: 256, Activation: ReLU}})
	add(d, Node{Name: "decoder.1", Op: Dense, Attrs: Attrs{Units: 3136, Activation: ReLU}})
	add(d, Node{Name: "decoder.1.reshape", Op: Reshape, Attrs: Attrs{Target: Shape{64, 7, 7}}})
	up := func(f int, act Activation) Attrs {
		a := k4(f, act)
		a.OutputPadding = []int{0, 0}
		return a
	}
	add(d, Node{Name: "decoder.2", Op: ConvTranspose2D, Attrs: up(32, ReLU)})
	add(d, Node{Name: "decoder.3", Op: ConvTranspose2D, Role: RoleOutput, Attrs: up(1, Linear)})
	return m
}

func TestConvModel(t *testing.T) {
	m := convModel(t, false)
	if err := Verify(m); err != nil {
		t.Fatal(err)
	}
	// PyTorch's count for bench/pytorch_conv_vae.py.
	if got := m.ParamCount(); got != 1_691_369 {
		t.Errorf("ParamCount = %d, want 1,691,369", got)
	}
	shapes := map[string]Shape{"encoder.0": {32, 14, 14}, "encoder.1": {64, 7, 7}, "decoder.2": {32, 14, 14}, "decoder.3": {1, 28, 28}}
	for _, g := range []*Graph{&m.Encoder, &m.Decoder} {
		for _, n := range g.Nodes {
			if want, ok := shapes[n.Name]; ok && !n.Out.Equal(want) {
				t.Errorf("%s gives %v, want %v", n.Name, n.Out, want)
			}
		}
	}
	for _, tt := range []struct {
		name        string
		fanIn, macs int
	}{
		{"encoder.0", 1 * 16, 32 * 14 * 14 * 16},
		{"encoder.1", 32 * 16, 64 * 7 * 7 * 32 * 16},
		{"decoder.2", 32 * 16, 64 * 7 * 7 * 32 * 16}, // fan_in from C_out, as PyTorch
		{"decoder.3", 1 * 16, 32 * 14 * 14 * 16},
	} {
		p, _ := m.Param(tt.name + ".weight")
		if p.FanIn != tt.fanIn {
			t.Errorf("%s fan_in %d, want %d", tt.name, p.FanIn, tt.fanIn)
		}
		for _, g := range []*Graph{&m.Encoder, &m.Decoder} {
			for i := range g.Nodes {
				if n := &g.Nodes[i]; n.Name == tt.name && n.MACs() != tt.macs {
					t.Errorf("%s: %d MACs, want %d", tt.name, n.MACs(), tt.macs)
				}
			}
		}
	}

	bn := convModel(t, true)
	if err := Verify(bn); err != nil {
		t.Fatal(err)
	}
	// Scale and shift count, the running statistics do not (PyTorch's
	// parameters() leaves buffers out).
	if got := bn.ParamCount(); got != 1_691_369+64 {
		t.Errorf("with batch norm: ParamCount = %d, want %d", got, 1_691_369+64)
	}
	if got, want := len(bn.Params)-len(bn.Trainable()), 2; got != want {
		t.Errorf("%d buffers, want %d", got, want)
	}
	p, _ := bn.Param("encoder.bn.running_var")
	if !p.Buffer || p.Init != InitOnes || !p.Shape.Equal(Shape{32}) {
		t.Errorf("running_var declared as %+v", p)
	}
}

func TestConvInferRefuses(t *testing.T) {
	img := Shape{1, 28, 28}
	conv := func(f, k, s, p int) Attrs {
		return Attrs{Filters: f, Kernel: []int{k, k}, Stride: []int{s, s}, Padding: []int{p, p}}
	}
	tests := []struct {
		name string
		n    Node
		in   Shape
		want string
	}{
		{"flat input", Node{Op: Conv2D, Attrs: conv(8, 3, 1, 0)}, Shape{784}, "needs an image [C, H, W], the input is [784]"},
		{"stride 0", Node{Op: Conv2D, Attrs: conv(8, 3, 0, 0)}, img, "stride 0, want at least 1"},
		{"kernel too large", Node{Op: Conv2D, Attrs: conv(8, 31, 1, 1)}, img, "kernel 31 is larger than the padded input 30×30 (input 28×28, padding 1)"},
		{"no filters", Node{Op: Conv2D, Attrs: conv(0, 3, 1, 0)}, img, "filters 0"},
		{"output_padding ≥ stride", Node{Op: ConvTranspose2D, Attrs: func() Attrs { a := conv(1, 4, 2, 1); a.OutputPadding = []int{2, 2}; return a }()}, img, "output_padding 2 must be smaller than the stride 2"},
		{"reshape size", Node{Op: Reshape, Attrs: Attrs{Target: Shape{64, 7, 7}}}, Shape{3000}, "shape [64, 7, 7] holds 3136 values, the input [3000] has 3000"},
		{"upsample flat", Node{Op: Upsample, Attrs: Attrs{Factor: []int{2, 2}}}, Shape{10}, "needs an image"},
		{"batch norm epsilon", Node{Op: BatchNorm, Attrs: Attrs{Momentum: 0.1}}, img, "epsilon 0, want > 0"},
	}
	for _, tt := range tests {
		_, err := tt.n.Op.Info().Infer(&tt.n, []Shape{tt.in})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Infer = %v, want %q", tt.name, err, tt.want)
		}
	}
}

func TestConvVerifyRefuses(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(m *Model)
		want   string
	}{
		{"attr not read", func(m *Model) { m.Encoder.Nodes[3].Kernel = []int{3, 3} }, "kernel set on dense"},
		{"buffer flag", func(m *Model) {
			for i := range m.Params {
				m.Params[i].Buffer = false
			}
		}, "buffer=false, want encoder.bn.running_mean"},
		{"shape changed", func(m *Model) { m.Encoder.Nodes[0].Stride = []int{1, 1} }, "output shape [32, 14, 14], the op gives [32, 27, 27]"},
	}
	for _, tt := range tests {
		m := convModel(t, true)
		tt.mutate(m)
		err := Verify(m)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Verify = %v, want %q", tt.name, err, tt.want)
		}
	}
}

func TestUpsampleShape(t *testing.T) {
	n := Node{Op: Upsample, Attrs: Attrs{Factor: []int{2, 3}}}
	got, err := n.Op.Info().Infer(&n, []Shape{{3, 8, 6}})
	if err != nil || !got.Equal(Shape{3, 16, 18}) {
		t.Errorf("upsample [3, 8, 6] by 2×3 = %v, %v", got, err)
	}
}
