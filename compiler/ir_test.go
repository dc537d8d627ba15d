package compiler

import (
	"encoding/json"
	"github.com/vaec/vaec/ir"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func mustCompile(t *testing.T, name string) *ir.Model {
	t.Helper()
	m, err := CompileFile(filepath.Join(specDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestVerifyCatches breaks one invariant at a time and expects Verify to
// name it.
func TestVerifyCatches(t *testing.T) {
	tests := []struct {
		name   string
		spec   string
		mutate func(m *ir.Model)
		want   string
	}{
		{"chain", "mnist.yaml", func(m *ir.Model) { m.Decoder.Nodes[0].In[0] = ir.Shape{21} }, `input "z" has shape [20], the node records [21]`},
		{"head size", "mnist.yaml", func(m *ir.Model) { m.Mu().Units = 19 }, "latent: encoder.mu: output shape [20], the op gives [19]"},
		{"output size", "mnist.yaml", func(m *ir.Model) { m.Input.Size = 785 }, "input size 785"},
		{"input node", "mnist.yaml", func(m *ir.Model) { m.Encoder.Nodes[1].Inputs[0] = "enc0" }, `input "enc0" is not defined before it`},
		{"unknown op", "mnist.yaml", func(m *ir.Model) { m.Encoder.Nodes[0].Op = 0 }, "unknown op"},
		{"param shape", "mnist.yaml", func(m *ir.Model) { m.Params[0].Shape = []int{400, 784} }, "parameter 0 is encoder.0.weight [400, 784]"},
		{"param order", "mnist.yaml", func(m *ir.Model) { m.Params[0], m.Params[1] = m.Params[1], m.Params[0] }, "parameter 0 is encoder.0.bias"},
		{"param twice", "mnist.yaml", func(m *ir.Model) { m.Params = append(m.Params, m.Params[0]) }, "declared twice"},
		{"param missing", "mnist.yaml", func(m *ir.Model) { m.Params = m.Params[:9] }, "9 parameters, the nodes imply 10"},
		{"head activation", "mnist.yaml", func(m *ir.Model) { m.Logvar().Activation = ir.ReLU }, "the logvar head has activation relu"},
		{"two heads", "mnist.yaml", func(m *ir.Model) { m.Logvar().Role = ir.RoleMu }, "encoder has 2 mu heads"},
		{"bernoulli logits", "mnist.yaml", func(m *ir.Model) { m.Output().Activation = ir.Sigmoid }, "want linear (logits)"},
		{"learned logvar", "gaussian.yaml", func(m *ir.Model) { m.Likelihood.Logvar = "" }, `likelihood logvar "", want "decoder.logvar"`},
		{"alpha", "gaussian.yaml", func(m *ir.Model) { m.Encoder.Nodes[1].Alpha = 0 }, "leaky_relu alpha 0"},
		{"alpha position", "gaussian.yaml", func(m *ir.Model) { m.Encoder.Nodes[1].Alpha = 0 }, "gaussian.yaml:"},
		{"sigma", "mnist.yaml", func(m *ir.Model) { m.Likelihood.Kind = ir.GaussianFixed }, "gaussian sigma 0"},
		{"hash", "mnist.yaml", func(m *ir.Model) { m.SpecHash = "x" }, "spec_hash"},
		{"optimizer", "mnist.yaml", func(m *ir.Model) { m.Train.Optimizer.Kind = 9 }, "unknown optimizer"},
		{"split and source", "mnist.yaml", func(m *ir.Model) { m.Train.ValidationSplit = 0.1 }, "both validation_split"},
		{"opset", "mnist.yaml", func(m *ir.Model) { m.Export.Opset = 9 }, "opset 9"},
		{"format", "mnist.yaml", func(m *ir.Model) { m.Data.Train.Format = ir.FormatNone }, "unknown format"},
		{"format version", "mnist.yaml", func(m *ir.Model) { m.Format = 1 }, "model format 1"},
		{"prior", "mnist.yaml", func(m *ir.Model) { m.Prior.Kind = 7 }, "unknown prior"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := mustCompile(t, tt.spec)
			tt.mutate(m)
			err := ir.Verify(m)
			if err == nil {
				t.Fatalf("Verify passed a model with a broken %s", tt.name)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Verify = %v\nwant it to mention %q", err, tt.want)
			}
		})
	}
	if err := ir.Verify(nil); err == nil {
		t.Error("Verify(nil) passed")
	}
}

func TestModelRoundTrip(t *testing.T) {
	for _, name := range []string{"mnist.yaml", "gaussian.yaml", "beta.yaml", "mnist-small.yaml"} {
		m := mustCompile(t, name)
		path := filepath.Join(t.TempDir(), "model.json")
		if err := WriteModel(path, m); err != nil {
			t.Fatal(err)
		}
		got, err := ReadModel(path)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, m) {
			t.Errorf("%s: model changed through WriteModel/ReadModel", name)
		}
		entries, _ := os.ReadDir(filepath.Dir(path))
		if len(entries) != 1 {
			t.Errorf("%s: build dir holds %d files, want only model.json (temp file left?)", name, len(entries))
		}
	}
}

func TestReadModelRejects(t *testing.T) {
	m := mustCompile(t, "mnist.yaml")
	good, _ := json.Marshal(m)
	tests := []struct {
		name, data, want string
	}{
		{"not json", "vaec: 1", "invalid character"},
		{"unknown field", strings.Replace(string(good), `"name"`, `"nmae"`, 1), "unknown field"},
		{"trailing", string(good) + "{}", "trailing data"},
		{"broken invariant", strings.Replace(string(good), `"latent":20`, `"latent":21`, 1), "ir: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "model.json")
			if err := os.WriteFile(path, []byte(tt.data), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := ReadModel(path)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), path) {
				t.Errorf("ReadModel = %v, want an error naming %s and %q", err, path, tt.want)
			}
		})
	}
}

// TestHashStable checks that the hash ignores where the spec lives and how
// it is formatted, and changes with anything that changes the model.
func TestHashStable(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(specDir, "mnist.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	hash := func(filename string, src string) string {
		t.Helper()
		m, err := compile(filename, []byte(src), specDir)
		if err != nil {
			t.Fatal(err)
		}
		return m.SpecHash
	}
	base := hash("mnist.yaml", string(src))
	if h := hash("/elsewhere/other.yaml", string(src)); h != base {
		t.Error("hash depends on the spec's file name")
	}
	reformatted := strings.Replace(string(src), "export: {opset: 17}", "export:\n  opset: 17   # the default", 1)
	if h := hash("mnist.yaml", reformatted); h != base {
		t.Error("hash depends on formatting")
	}
	defaults := strings.Replace(string(src), "  seed: 1\n", "", 1)
	if h := hash("mnist.yaml", defaults); h != base {
		t.Error("hash differs when a default is written out")
	}
	if h := hash("mnist.yaml", strings.Replace(string(src), "epochs: 10", "epochs: 11", 1)); h == base {
		t.Error("hash ignores the epoch count")
	}
	if h := hash("mnist.yaml", strings.Replace(string(src), "limit: 9000", "limit: 8000", 1)); h == base {
		t.Error("hash ignores the data range")
	}
}

func TestSchema(t *testing.T) {
	var doc map[string]any
	if err := json.Unmarshal(Schema(), &doc); err != nil {
		t.Fatalf("Schema is not JSON: %v", err)
	}
	defs, _ := doc["$defs"].(map[string]any)
	// Every section's keys appear in the schema, and nothing else.
	for _, s := range allSections() {
		props := doc["properties"]
		if s.def != "" {
			def, ok := defs[s.def].(map[string]any)
			if !ok {
				t.Fatalf("schema lacks $defs/%s", s.def)
			}
			props = def["properties"]
		}
		pm, _ := props.(map[string]any)
		if len(pm) != len(s.fields) {
			t.Errorf("%s: schema has %d properties, the checker knows %d keys", s.title, len(pm), len(s.fields))
		}
		for _, f := range s.fields {
			if _, ok := pm[f.name]; !ok {
				t.Errorf("%s: schema lacks %q", s.title, f.name)
			}
		}
	}
}

func TestSuggest(t *testing.T) {
	acts := activationNames()
	tests := []struct{ word, want string }{
		{"rleu", "relu"},
		{"Relu", "relu"},
		{"sigmoud", "sigmoid"},
		{"leaky-relu", "leaky_relu"},
		{"tahn", "tanh"},
		{"softmax", ""},
		{"x", ""},
		{"gelu", "relu"}, // ties go to the first candidate
	}
	for _, tt := range tests {
		if got := suggest(tt.word, acts); got != tt.want {
			t.Errorf("suggest(%q) = %q, want %q", tt.word, got, tt.want)
		}
	}
	if d := editDistance("ab", "ba"); d != 1 {
		t.Errorf("editDistance(ab, ba) = %d, want 1 (a transposition)", d)
	}
}
