package ir

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

func vampModel(t *testing.T, k int) *Model {
	t.Helper()
	m := testModel(t, Likelihood{Kind: Bernoulli})
	m.Prior = Prior{Kind: PriorVamp, Components: k}
	m.AddPriorParams()
	return m
}

func TestVerifyVampAndIWAE(t *testing.T) {
	m := vampModel(t, 3)
	if err := Verify(m); err != nil {
		t.Fatal(err)
	}
	if p, ok := m.Param(PseudoInputsParam); !ok || !p.Shape.Equal(Shape{3, 12}) || p.Init != InitUniform01 {
		t.Errorf("pseudo-inputs %+v, %v", p, ok)
	}
	tests := []struct {
		name   string
		mutate func(m *Model)
		want   string
	}{
		{"no components", func(m *Model) { m.Prior.Components = 0 }, "prior vamp with 0 components"},
		{"param missing", func(m *Model) { m.Params = m.Params[:len(m.Params)-1] }, "the nodes imply 11"},
		{"normal with components", func(m *Model) { m.Prior.Kind = PriorNormal }, "prior normal with components 3"},
		{"iwae beta", func(m *Model) { m.Objective = Objective{Kind: IWAE, Beta: 2, Samples: 5} }, "no separate KL term to weight"},
		{"iwae warmup", func(m *Model) { m.Objective = Objective{Kind: IWAE, Beta: 1, Samples: 5, WarmupEpochs: 2} }, "no separate KL term to warm up"},
	}
	for _, tt := range tests {
		m := vampModel(t, 3)
		tt.mutate(m)
		if err := Verify(m); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Verify = %v, want %q", tt.name, err, tt.want)
		}
	}
}

func TestVampPrior(t *testing.T) {
	p := Prior{Kind: PriorVamp, Components: 2}
	if _, err := p.LogDensity([]float32{0}); err == nil {
		t.Error("LogDensity without components passed")
	}
	if _, err := p.KL([]float32{0}, []float32{0}); !errors.Is(err, ErrNoClosedForm) {
		t.Errorf("KL = %v, want ErrNoClosedForm", err)
	}
	// Two 1-D components N(-1, 1) and N(2, e^{-1}).
	p, err := p.WithComponents([]float32{-1, 2}, []float32{0, -1}, 1)
	if err != nil {
		t.Fatal(err)
	}
	norm := func(z, mu, lv float64) float64 {
		return math.Exp(-0.5 * (math.Log(2*math.Pi) + lv + (z-mu)*(z-mu)*math.Exp(-lv)))
	}
	for _, z := range []float64{-3, 0, 0.5, 2, 40} {
		got, err := p.LogDensity([]float32{float32(z)})
		if err != nil {
			t.Fatal(err)
		}
		want := math.Log(0.5*norm(z, -1, 0) + 0.5*norm(z, 2, -1))
		if z == 40 { // exp underflows in the reference; the wider component dominates
			want = math.Log(0.5) - 0.5*(math.Log(2*math.Pi)+(z+1)*(z+1))
		}
		if math.Abs(got-want) > 1e-9*math.Max(1, math.Abs(want)) {
			t.Errorf("log p(%v) = %v, want %v", z, got, want)
		}
	}
	// Quantiles invert the mixture's CDF.
	for _, q := range []float64{0.05, 0.5, 0.95} {
		x, err := p.Quantile(q)
		if err != nil {
			t.Fatal(err)
		}
		cdf := 0.5*0.5*math.Erfc(-(x+1)/math.Sqrt2) + 0.5*0.5*math.Erfc(-(x-2)/(math.Exp(-0.5)*math.Sqrt2))
		if math.Abs(cdf-q) > 1e-8 {
			t.Errorf("CDF(Quantile(%v)) = %v", q, cdf)
		}
	}
	// Samples: half from each component, each with its spread.
	rng := rand.New(rand.NewPCG(1, 2))
	z := make([]float32, 20000)
	if err := p.Sample(rng.NormFloat64, z); err != nil {
		t.Fatal(err)
	}
	var near2 int
	var mean float64
	for _, v := range z {
		mean += float64(v)
		if v > 0.5 {
			near2++
		}
	}
	mean /= float64(len(z))
	if f := float64(near2) / float64(len(z)); math.Abs(f-0.5) > 0.03 {
		t.Errorf("fraction from the second component %v, want about 0.5", f)
	}
	if math.Abs(mean-0.5) > 0.05 {
		t.Errorf("sample mean %v, want 0.5", mean)
	}
}

func TestConditionalBuilder(t *testing.T) {
	m := &Model{Format: FormatVersion, Version: 1, Name: "c", Latent: 2, Condition: Condition{Classes: 3},
		Input: Input{Shape: Shape{1, 4, 3}, Size: 12, Scale: 1}, Likelihood: Likelihood{Kind: Bernoulli}}
	b := m.EncoderBuilder()
	for _, n := range []Node{
		{Name: "encoder.0", Op: Dense, Attrs: Attrs{Units: 5, Activation: ReLU}},
		{Name: "encoder.mu", Op: Dense, Role: RoleMu, Inputs: []string{"encoder.0"}, Attrs: Attrs{Units: 2}},
		{Name: "encoder.logvar", Op: Dense, Role: RoleLogvar, Inputs: []string{"encoder.0"}, Attrs: Attrs{Units: 2}},
	} {
		if _, err := b.Add(n); err != nil {
			t.Fatal(err)
		}
	}
	d := m.DecoderBuilder()
	if _, err := d.Add(Node{Name: "decoder.out", Op: Dense, Role: RoleOutput, Attrs: Attrs{Units: 12}}); err != nil {
		t.Fatal(err)
	}
	m.SpecHash = strings.Repeat("ab", 32)
	m.Objective = Objective{Beta: 1, Samples: 1}
	m.Train = Train{Optimizer: Optimizer{Kind: Adam, LearningRate: 1e-3}, BatchSize: 4, Epochs: 1}
	m.Data.Train = Source{Path: "x.npy", Format: FormatNPY}
	m.Export.Opset = 17
	if err := Verify(m); err != nil {
		t.Fatal(err)
	}
	// y joins the flattened image before encoder.0 and z before the
	// output layer; the heads still read encoder.0.
	e := m.Encoder.Nodes
	if e[0].Name != "encoder.concat_y" || e[0].Op != Concat || !e[0].Out.Equal(Shape{15}) || e[1].Inputs[0] != "encoder.concat_y" || e[2].Inputs[0] != "encoder.0" {
		t.Errorf("encoder %+v", e)
	}
	if p, _ := m.Param("encoder.0.weight"); !p.Shape.Equal(Shape{15, 5}) {
		t.Errorf("encoder.0.weight %v, want [15, 5]", p.Shape)
	}
	if p, _ := m.Param("decoder.out.weight"); !p.Shape.Equal(Shape{5, 12}) {
		t.Errorf("decoder.out.weight %v, want [2+3, 12]", p.Shape)
	}
	m.Condition.Classes = 4
	if err := Verify(m); err == nil || !strings.Contains(err.Error(), "inputs") {
		t.Errorf("Verify with another class count = %v", err)
	}
}
