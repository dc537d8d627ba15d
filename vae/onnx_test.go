package vae_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vaec/vaec/ir"
	"github.com/vaec/vaec/vae"
)

var (
	torchDir  = filepath.Join("..", "testdata", "foreign", "torch")
	round1Dir = filepath.Join("..", "testdata", "round1", "build")
)

// torchCase is one case of a make.py JSON file: PyTorch's inputs and outputs.
type torchCase struct {
	Inputs, Outputs map[string]struct {
		Shape []int
		Data  []float32
	}
}

// torchCases reads testdata/foreign/torch/NAME.json.
func torchCases(t *testing.T, name string) []torchCase {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(torchDir, name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct{ Cases []torchCase }
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	return f.Cases
}

// near compares with the tolerance the runtime's own torch tests use.
func near(t *testing.T, what string, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range got {
		if d := math.Abs(float64(got[i] - want[i])); d > 1e-5+1e-5*math.Abs(float64(want[i])) {
			t.Fatalf("%s[%d] = %v, PyTorch %v", what, i, got[i], want[i])
		}
	}
}

// TestForeignMatchesTorch runs PyTorch's exports through FromONNX, with no
// options but the conditional decoder's labels, and compares Encode and
// Expected with PyTorch's outputs at batch 1 and 7.
func TestForeignMatchesTorch(t *testing.T) {
	for _, opset := range []int{13, 17} {
		for _, name := range []string{"mlp", "conv", "bn"} {
			t.Run(fmt.Sprintf("%s_encoder_opset%d", name, opset), func(t *testing.T) {
				v, err := vae.FromONNX(filepath.Join(torchDir, fmt.Sprintf("%s_encoder_opset%d.onnx", name, opset)), "", vae.ONNXOptions{})
				if err != nil {
					t.Fatal(err)
				}
				if v.Latent != 8 || v.Input.Size != 784 || v.Input.Scale != 1 || len(v.Notes) != 2 {
					t.Errorf("latent %d, input %+v, notes %q", v.Latent, v.Input, v.Notes)
				}
				for _, c := range torchCases(t, name+"_encoder") {
					x := c.Inputs["x"]
					mu, logvar, err := v.Encode(x.Data, x.Shape[0])
					if err != nil {
						t.Fatal(err)
					}
					near(t, "mu", mu, c.Outputs["mu"].Data)
					near(t, "logvar", logvar, c.Outputs["logvar"].Data)
				}
			})
		}
		for _, name := range []string{"mlp", "conv", "bn", "cond"} {
			t.Run(fmt.Sprintf("%s_decoder_opset%d", name, opset), func(t *testing.T) {
				var opts vae.ONNXOptions
				if name == "cond" {
					// make.py's labels are arange(n) % 10: row i has label i.
					opts.Labels = []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}
				}
				v, err := vae.FromONNX("", filepath.Join(torchDir, fmt.Sprintf("%s_decoder_opset%d.onnx", name, opset)), opts)
				if err != nil {
					t.Fatal(err)
				}
				if v.Latent != 8 || v.Input.Size != 784 || v.Likelihood.Kind != ir.Bernoulli {
					t.Errorf("latent %d, input %+v, likelihood %v", v.Latent, v.Input, v.Likelihood)
				}
				for _, c := range torchCases(t, name+"_decoder") {
					z := c.Inputs["z"]
					got, err := v.Expected(z.Data, z.Shape[0])
					if err != nil {
						t.Fatal(err)
					}
					near(t, "probs", got, c.Outputs["probs"].Data)
				}
			})
		}
	}
}

// TestOutputKinds reads one decoder output three ways: as probabilities it
// is what pictures show; as logits pictures show its sigmoid; as a mean it
// is a unit-variance Gaussian's.
func TestOutputKinds(t *testing.T) {
	dec := filepath.Join(torchDir, "mlp_decoder_opset17.onnx")
	z := torchCases(t, "mlp_decoder")[1].Inputs["z"]
	probs := torchCases(t, "mlp_decoder")[1].Outputs["probs"].Data
	for _, tt := range []struct {
		kind vae.OutputKind
		want func(p float32) float32
		lik  ir.LikelihoodKind
	}{
		{vae.Unstated, func(p float32) float32 { return p }, ir.Bernoulli},
		{vae.Probs, func(p float32) float32 { return p }, ir.Bernoulli},
		{vae.Logits, func(p float32) float32 { return float32(1 / (1 + math.Exp(-float64(p)))) }, ir.Bernoulli},
		{vae.Mean, func(p float32) float32 { return p }, ir.GaussianFixed},
	} {
		v, err := vae.FromONNX("", dec, vae.ONNXOptions{Kind: tt.kind})
		if err != nil {
			t.Fatal(err)
		}
		if v.Likelihood.Kind != tt.lik {
			t.Errorf("%v: likelihood %v, want %v", tt.kind, v.Likelihood.Kind, tt.lik)
		}
		got, err := v.Expected(z.Data, z.Shape[0])
		if err != nil {
			t.Fatal(err)
		}
		want := make([]float32, len(probs))
		for i, p := range probs {
			want[i] = tt.want(p)
		}
		near(t, tt.kind.String(), got, want)
		d, err := v.Decode(z.Data, z.Shape[0])
		if err != nil {
			t.Fatal(err)
		}
		if tt.kind == vae.Logits && d.Logits[5] != probs[5] && math.Abs(float64(d.Logits[5]-probs[5])) > 1e-5 {
			t.Errorf("logits: Decode gives %v, the file %v", d.Logits[5], probs[5])
		}
		if tt.kind == vae.Mean && (d.Mean == nil || d.Logits != nil) {
			t.Errorf("mean: Decode = %+v", d)
		}
	}
}

// TestFromONNXErrors checks that every refusal names what the file has.
func TestFromONNXErrors(t *testing.T) {
	enc := filepath.Join(torchDir, "mlp_encoder_opset17.onnx")
	dec := filepath.Join(torchDir, "mlp_decoder_opset17.onnx")
	cond := filepath.Join(torchDir, "cond_decoder_opset17.onnx")
	conv := filepath.Join(torchDir, "conv_decoder_opset17.onnx")
	manyOps := filepath.Join(torchDir, "..", "many_ops.onnx")
	vaecEnc, vaecDec := filepath.Join(round1Dir, "encoder.onnx"), filepath.Join(round1Dir, "decoder.onnx")
	tests := []struct {
		name     string
		enc, dec string
		opts     vae.ONNXOptions
		role     vae.Role // "" when the error is not a NameError
		want     []string
	}{
		{"wrong output name", "", dec, vae.ONNXOptions{Output: "recon"}, vae.RoleOutput, []string{`no output named "recon"`, "outputs: probs[N,784]"}},
		{"wrong mu name", enc, "", vae.ONNXOptions{Mu: "z_mean"}, vae.RoleMu, []string{`no output named "z_mean"`, "mu[N,8], logvar[N,8]"}},
		{"same output twice", enc, "", vae.ONNXOptions{Mu: "logvar", Logvar: "logvar"}, vae.RoleLogvar, []string{`"logvar" cannot be both`}},
		{"wrong input name", enc, "", vae.ONNXOptions{Input: "image"}, vae.RoleInput, []string{`no input named "image"`, "inputs: x[N,784]"}},
		{"label missing", "", cond, vae.ONNXOptions{}, vae.RoleLabel, []string{"y[N,10] has no value", "one-hot label over 10 classes", "z[N,8], y[N,10]"}},
		{"label out of range", "", cond, vae.ONNXOptions{Labels: []int{3, 10}}, vae.RoleLabel, []string{"label 10 is out of range", "0 to 9"}},
		{"label without a label input", "", dec, vae.ONNXOptions{Labels: []int{1}}, vae.RoleLabel, []string{"no input takes a label", "z[N,8]"}},
		{"feed of no input", "", cond, vae.ONNXOptions{Labels: []int{1}, Feeds: map[string][]float32{"w": {1}}}, vae.RoleFeed, []string{`no input to feed named "w"`}},
		{"feed of the latent input", "", dec, vae.ONNXOptions{Feeds: map[string][]float32{"z": {1}}}, vae.RoleLatent, []string{"cannot tell which input is the latent"}},
		{"feed of a wrong size", "", cond, vae.ONNXOptions{Feeds: map[string][]float32{"y": make([]float32, 15)}}, "", []string{"15 values are not rows of 10"}},
		{"latent sizes differ", vaecEnc, dec, vae.ONNXOptions{}, "", []string{"disagree on the latent size", "the encoder gives 2 values, the decoder takes 8"}},
		{"two outputs, no names", "", manyOps, vae.ONNXOptions{}, vae.RoleOutput, []string{"cannot tell which output is the output", "y1[N,15], y2[N,5]"}},
		{"encoder outputs without names", manyOps, "", vae.ONNXOptions{}, vae.RoleMu, []string{"cannot tell which output is the mu", "y1[N,15], y2[N,5]"}},
		{"decoder output of the wrong size", "", manyOps, vae.ONNXOptions{Output: "y2"}, "", nil},
		{"scale contradicts metadata", vaecEnc, vaecDec, vae.ONNXOptions{Scale: 1}, "", []string{"input scale 1 contradicts", "vaec.input_scale = 0.00392157"}},
		{"kind contradicts metadata", "", vaecDec, vae.ONNXOptions{Kind: vae.Logits}, "", []string{"logits contradicts", `output "probs" holds probs`}},
		{"name contradicts metadata", "", vaecDec, vae.ONNXOptions{Latent: "y"}, vae.RoleLatent, []string{`no input named "y"`}},
		{"conv output under another name", "", conv, vae.ONNXOptions{Output: "mean"}, vae.RoleOutput, []string{`no output named "mean"`, "probs[N,1,Sigmoidprobs_dim_2,Sigmoidprobs_dim_3]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := vae.FromONNX(tt.enc, tt.dec, tt.opts)
			if tt.want == nil {
				// A decoder alone learns the example size from its output:
				// any size loads.
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			var ne *vae.NameError
			if isName := errors.As(err, &ne); isName != (tt.role != "") || isName && ne.Role != tt.role {
				t.Errorf("error %q: NameError %v (%+v), want role %q", err, isName, ne, tt.role)
			}
		})
	}
}

// TestVaecFilesUnchanged checks that vaec's own files are read from their
// metadata, with no notes, and that options that agree with it are taken.
func TestVaecFilesUnchanged(t *testing.T) {
	enc, dec := filepath.Join(round1Dir, "encoder.onnx"), filepath.Join(round1Dir, "decoder.onnx")
	for _, opts := range []vae.ONNXOptions{{}, {Scale: 1.0 / 255, Kind: vae.Probs, Input: "x", Mu: "mu", Logvar: "logvar", Latent: "z", Output: "probs"}} {
		v, err := vae.FromONNX(enc, dec, opts)
		if err != nil {
			t.Fatal(err)
		}
		if v.Latent != 2 || v.Input.Scale != 1.0/255 || v.SpecHash == "" || len(v.Notes) != 0 || v.Likelihood.Kind != ir.Bernoulli {
			t.Errorf("%+v: latent %d, input %+v, hash %q, notes %q", opts, v.Latent, v.Input, v.SpecHash, v.Notes)
		}
		x := make([]float32, 3*784)
		mu, _, err := v.EncodeAll(x, 3)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.Expected(mu, 3); err != nil {
			t.Fatal(err)
		}
	}
}

// TestLabelsCycle checks that labels follow the rows across calls: row i
// gets Labels[i % len], also where Expected splits the rows into calls.
func TestLabelsCycle(t *testing.T) {
	cond := filepath.Join(torchDir, "cond_decoder_opset17.onnx")
	cycle, err := vae.FromONNX("", cond, vae.ONNXOptions{Labels: []int{4, 7, 1}})
	if err != nil {
		t.Fatal(err)
	}
	if !cycle.PerRow() {
		t.Error("three labels: PerRow false")
	}
	n := vae.RowsPerCall + 5
	z := make([]float32, n*8)
	for i := range z {
		z[i] = float32(math.Sin(float64(i)))
	}
	all, err := cycle.Expected(z, n)
	if err != nil {
		t.Fatal(err)
	}
	for _, label := range []int{4, 7, 1} {
		one, err := vae.FromONNX("", cond, vae.ONNXOptions{Labels: []int{label}})
		if err != nil {
			t.Fatal(err)
		}
		if one.PerRow() {
			t.Error("one label: PerRow true")
		}
		got, err := one.Expected(z, n)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < n; i++ {
			if []int{4, 7, 1}[i%3] != label {
				continue
			}
			for j := 0; j < 784; j += 97 {
				if all[i*784+j] != got[i*784+j] {
					t.Fatalf("row %d (label %d), value %d: cycled %v, alone %v", i, label, j, all[i*784+j], got[i*784+j])
				}
			}
		}
	}
	// The same one-hot rows as a feed give the same numbers.
	y := make([]float32, 3*10)
	for i, k := range []int{4, 7, 1} {
		y[i*10+k] = 1
	}
	fed, err := vae.FromONNX("", cond, vae.ONNXOptions{Feeds: map[string][]float32{"y": y}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := fed.Expected(z, n)
	if err != nil {
		t.Fatal(err)
	}
	near(t, "fed", got, all)
}

func TestParseOutputKind(t *testing.T) {
	for _, k := range []vae.OutputKind{vae.Unstated, vae.Probs, vae.Logits, vae.Mean} {
		if got, err := vae.ParseOutputKind(k.String()); err != nil || got != k {
			t.Errorf("ParseOutputKind(%q) = %v, %v", k, got, err)
		}
	}
	if _, err := vae.ParseOutputKind("prob"); err == nil || !strings.Contains(err.Error(), "want probs, logits or mean") {
		t.Errorf("ParseOutputKind(prob) = %v", err)
	}
}

// ExampleFromONNX runs PyTorch's conditional decoder, which carries no
// vaec metadata, with a label for each row.
func ExampleFromONNX() {
	v, err := vae.FromONNX("", filepath.Join("..", "testdata", "foreign", "torch", "cond_decoder_opset17.onnx"),
		vae.ONNXOptions{Labels: []int{3, 5}})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, n := range v.Notes {
		fmt.Println(n)
	}
	x, err := v.Expected(make([]float32, 2*v.Latent), 2)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("latent %d, examples of shape %v, %d values\n", v.Latent, v.Input.Shape, len(x))
	// Output:
	// cond_decoder_opset17.onnx has no vaec metadata: latent input "z" [N, 8], output "probs" read as Bernoulli probabilities
	// latent 8, examples of shape [784], 1568 values
}
