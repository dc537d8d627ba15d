package ir

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

// testModel is an MLP VAE with every setting Verify wants.
func testModel(t *testing.T, lik Likelihood) *Model {
	t.Helper()
	m, err := NewMLP("t", Shape{1, 4, 3}, 2, []DenseLayer{{Units: 5, Activation: ReLU}}, []DenseLayer{{Units: 5, Activation: ELU, Alpha: 1}}, lik, Linear)
	if err != nil {
		t.Fatal(err)
	}
	m.SpecHash = strings.Repeat("ab", 32)
	m.Objective = Objective{Beta: 1, Samples: 1}
	m.Train = Train{Optimizer: Optimizer{Kind: Adam, LearningRate: 1e-3}, BatchSize: 4, Epochs: 1}
	m.Data.Train = Source{Path: "x.npy", Format: FormatNPY}
	m.Export.Opset = 17
	return m
}

func TestNewMLPVerifies(t *testing.T) {
	for _, lik := range []Likelihood{{Kind: Bernoulli}, {Kind: GaussianFixed, Sigma: 0.5}, {Kind: GaussianLearned}} {
		m := testModel(t, lik)
		if err := Verify(m); err != nil {
			t.Errorf("%v: %v", lik, err)
		}
		// 12·5+5 + 2·(5·2+2) + 2·5+5 + 5·12+12, plus 12 for a learned variance
		want := 65 + 24 + 15 + 72
		if lik.Kind == GaussianLearned {
			want += 12
		}
		if got := m.ParamCount(); got != want {
			t.Errorf("%v: %d parameters, want %d", lik, got, want)
		}
		if got := m.MACs(); got != 12*5+2*5*2+2*5+5*12 {
			t.Errorf("MACs = %d", got)
		}
	}
}

func TestVerifyRefuses(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(m *Model)
		want   string
	}{
		{"chain", func(m *Model) { m.Decoder.Nodes[1].In[0] = Shape{4} }, `input "decoder.0" has shape [5], the node records [4]`},
		{"units", func(m *Model) { m.Encoder.Nodes[0].Units = 0 }, "units 0, want at least 1"},
		{"attr not read", func(m *Model) { m.Encoder.Nodes[0].Alpha = 2 }, "alpha 2 set for activation relu"},
		{"unknown input", func(m *Model) { m.Encoder.Nodes[1].Inputs[0] = "nope" }, `input "nope" is not defined`},
		{"duplicate name", func(m *Model) { m.Decoder.Nodes[0].Name = "encoder.0" }, `name "encoder.0" is used by`},
		{"output not last", func(m *Model) { m.Decoder.Nodes[0].Role, m.Decoder.Nodes[1].Role = RoleOutput, Hidden }, "must be its last"},
		{"output size", func(m *Model) { m.Input.Shape, m.Input.Size = Shape{1, 3, 4}, 12 }, "encoder inputs"},
		{"prior", func(m *Model) { m.Prior.Kind = 9 }, "unknown prior"},
		{"objective", func(m *Model) { m.Objective.Kind = 9 }, "unknown objective"},
	}
	for _, tt := range tests {
		m := testModel(t, Likelihood{Kind: Bernoulli})
		tt.mutate(m)
		err := Verify(m)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Verify = %v, want %q", tt.name, err, tt.want)
		}
	}
	if err := VerifyArchitecture(&Model{}); err == nil {
		t.Error("VerifyArchitecture passed an empty model")
	}
}

func TestBuilderPositionedErrors(t *testing.T) {
	m := &Model{Input: Input{Shape: Shape{3}, Size: 3}, Latent: 2}
	b := m.EncoderBuilder()
	_, err := b.Add(Node{Name: "encoder.0", Op: Dense, Pos: Pos{File: "s.yaml", Line: 7, Col: 5}, Path: "encoder[0]"})
	if err == nil || err.Error() != "s.yaml:7:5: encoder[0]: dense: units 0, want at least 1" {
		t.Errorf("Add = %v", err)
	}
	if len(m.Encoder.Nodes) != 0 || len(m.Params) != 0 {
		t.Error("a refused node was added")
	}
}

func TestEnumsRoundTrip(t *testing.T) {
	for _, a := range Activations {
		b, err := a.MarshalText()
		var back Activation
		if err != nil || back.UnmarshalText(b) != nil || back != a {
			t.Errorf("activation %v does not round-trip (%q, %v)", a, b, err)
		}
	}
	for _, f := range Formats {
		got, err := ParseFormat(f.String())
		if err != nil || got != f {
			t.Errorf("format %v: %v %v", f, got, err)
		}
	}
	if _, err := ParseOptimizer("lbfgs"); err == nil || !strings.Contains(err.Error(), "adam, adagrad, sgd, rmsprop") {
		t.Errorf("ParseOptimizer(lbfgs) = %v", err)
	}
	if _, err := Activation(99).MarshalText(); err == nil {
		t.Error("an invalid activation marshals")
	}
	if FormatNPYGz.Base() != FormatNPY || !FormatCSVGz.Gzip() || FormatIDX.Gzip() {
		t.Error("format Base/Gzip")
	}
}

func TestModelJSONRoundTrip(t *testing.T) {
	m := testModel(t, Likelihood{Kind: GaussianLearned})
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var back Model
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if err := Verify(&back); err != nil {
		t.Fatal(err)
	}
	b2, _ := json.Marshal(&back)
	if string(b) != string(b2) {
		t.Error("the model changes through JSON")
	}
	if !strings.Contains(string(b), `"op":"dense"`) || !strings.Contains(string(b), `"role":"mu"`) {
		t.Errorf("JSON does not spell ops and roles as words: %.200s", b)
	}
}

func TestPriorNormal(t *testing.T) {
	p := Prior{}
	lp, err := p.LogDensity([]float32{0, 1})
	if want := -math.Log(2*math.Pi) - 0.5; err != nil || math.Abs(lp-want) > 1e-12 {
		t.Errorf("LogDensity = %v, %v; want %v", lp, err, want)
	}
	if kl, _ := p.KL([]float32{1}, []float32{0}); kl != 0.5 {
		t.Errorf("KL(N(1,1) || N(0,1)) = %v, want 0.5", kl)
	}
	if q, _ := p.Quantile(0.5); q != 0 {
		t.Errorf("median %v", q)
	}
	if q, _ := p.Quantile(0.975); math.Abs(q-1.959964) > 1e-6 {
		t.Errorf("0.975 quantile %v", q)
	}
	n := 0.0
	z := make([]float32, 3)
	if err := p.Sample(func() float64 { n++; return n }, z); err != nil || z[2] != 3 {
		t.Errorf("Sample = %v, %v", z, err)
	}
	if _, err := (Prior{Kind: 9}).KL(nil, nil); err == nil {
		t.Error("an unknown prior has a KL")
	}
}

func TestRegisterOp(t *testing.T) {
	if _, err := RegisterOp(OpInfo{Name: "dense", Arity: 1, Infer: ops[Dense].Infer, Params: ops[Dense].Params, MACs: ops[Dense].MACs}); err == nil {
		t.Error("RegisterOp took a name in use")
	}
	if _, err := RegisterOp(OpInfo{Name: "half"}); err == nil {
		t.Error("RegisterOp took an op without functions")
	}
}
