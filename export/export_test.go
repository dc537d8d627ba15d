package export

import (
	"bytes"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/vaec/vaec/checkpoint"
	"github.com/vaec/vaec/conformance"
	"github.com/vaec/vaec/ir"
)

var update = flag.Bool("update", false, "rewrite the golden dumps in testdata/")

// exporters lists the three lowerings with their names, for table tests.
var exporters = []struct {
	role string
	fn   func(*ir.Model, map[string]checkpoint.Tensor, Options) ([]byte, error)
}{
	{RoleEncoder, Encoder},
	{RoleDecoder, Decoder},
	{RoleRoundTrip, RoundTrip},
	{RoleScore, Score},
}

// variants covers every likelihood, both input layouts and every activation.
var variants = []struct {
	name  string
	model func() *ir.Model
}{
	{"bernoulli_flat_relu", func() *ir.Model { return testModel([]int{6}, 2, []int{5}, ir.ReLU, ir.Bernoulli) }},
	{"gaussian_learned_image_leaky", func() *ir.Model {
		return testModel([]int{1, 2, 3}, 2, []int{5, 4}, ir.LeakyReLU, ir.GaussianLearned)
	}},
	{"gaussian_fixed_flat_elu", func() *ir.Model { return testModel([]int{4}, 3, []int{4}, ir.ELU, ir.GaussianFixed) }},
	{"bernoulli_image_tanh", func() *ir.Model { return testModel([]int{1, 2, 2}, 2, []int{3}, ir.Tanh, ir.Bernoulli) }},
	{"bernoulli_flat_softplus", func() *ir.Model {
		return testModel([]int{5}, 2, []int{3}, ir.Softplus, ir.Bernoulli)
	}},
	{"bernoulli_flat_sigmoid_nohidden", func() *ir.Model {
		return testModel([]int{5}, 2, nil, ir.Sigmoid, ir.Bernoulli)
	}},
}

func testOptions() Options {
	elbo := -101.25
	return Options{Metadata: Metadata{ProducerVersion: "0.1.0-test", EpochsTrained: 3, ValELBO: &elbo}}
}

func TestExportDeterministic(t *testing.T) {
	for _, v := range variants {
		for _, e := range exporters {
			t.Run(v.name+"/"+e.role, func(t *testing.T) {
				m := v.model()
				a, err := e.fn(m, testWeights(m), testOptions())
				if err != nil {
					t.Fatal(err)
				}
				m2 := v.model()
				b, err := e.fn(m2, testWeights(m2), testOptions())
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(a, b) {
					t.Errorf("two exports of the same model differ (%d and %d bytes)", len(a), len(b))
				}
			})
		}
	}
}

// TestChecker puts every model these tests export, at every opset, through
// onnx.checker.check_model(full_check=True).
func TestChecker(t *testing.T) {
	files := map[string][]byte{}
	for _, v := range variants {
		for _, e := range exporters {
			for _, opset := range SupportedOpsets {
				m := v.model()
				opts := testOptions()
				opts.Opset = opset
				data, err := e.fn(m, testWeights(m), opts)
				if err != nil {
					t.Fatal(err)
				}
				files[fmt.Sprintf("%s %s opset %d", v.name, e.role, opset)] = data
			}
		}
	}
	conformance.CheckAll(t, files)
}

func TestInspectExport(t *testing.T) {
	m := testModel([]int{1, 2, 3}, 2, []int{5, 4}, ir.LeakyReLU, ir.GaussianLearned)
	w := testWeights(m)
	tests := []struct {
		role    string
		fn      func(*ir.Model, map[string]checkpoint.Tensor, Options) ([]byte, error)
		inputs  []Value
		outputs []Value
		params  int64
	}{
		{RoleEncoder, Encoder,
			[]Value{{"x", "float32[N,1,2,3]"}},
			[]Value{{"mu", "float32[N,2]"}, {"logvar", "float32[N,2]"}},
			6*5 + 5 + 5*4 + 4 + 2*(4*2+2)},
		{RoleDecoder, Decoder,
			[]Value{{"z", "float32[N,2]"}},
			[]Value{{"mean", "float32[N,1,2,3]"}, {"logvar", "float32[N,6]"}, {"mean_raw", "float32[N,1,2,3]"}},
			2*4 + 4 + 4*5 + 5 + 5*6 + 6 + 6},
		{RoleRoundTrip, RoundTrip,
			[]Value{{"x", "float32[N,1,2,3]"}, {"eps", "float32[N,2]"}},
			[]Value{{"mean", "float32[N,1,2,3]"}, {"logvar", "float32[N,6]"}, {"mean_raw", "float32[N,1,2,3]"}},
			int64(m.ParamCount())},
		{RoleScore, Score,
			[]Value{{"x", "float32[N,1,2,3]"}},
			[]Value{{"score", "float32[N]"}, {"mu", "float32[N,2]"}},
			int64(m.ParamCount())},
	}
	for _, tt := range tests {
		t.Run(tt.role, func(t *testing.T) {
			data, err := tt.fn(m, w, testOptions())
			if err != nil {
				t.Fatal(err)
			}
			info, err := Inspect(data)
			if err != nil {
				t.Fatal(err)
			}
			if got := info.Params; got != tt.params {
				t.Errorf("Params = %d, want %d", got, tt.params)
			}
			if info.ParamBytes != 4*tt.params {
				t.Errorf("ParamBytes = %d, want %d", info.ParamBytes, 4*tt.params)
			}
			if !slices.Equal(info.Inputs, tt.inputs) {
				t.Errorf("Inputs = %v, want %v", info.Inputs, tt.inputs)
			}
			if !slices.Equal(info.Outputs, tt.outputs) {
				t.Errorf("Outputs = %v, want %v", info.Outputs, tt.outputs)
			}
			if info.IRVersion != IRVersion || len(info.Opsets) != 1 || info.Opsets[0] != (Opset{"", 17}) {
				t.Errorf("IR %d opsets %v, want IR %d and ai.onnx 17", info.IRVersion, info.Opsets, IRVersion)
			}
			if info.ProducerName != "vaec" || info.ProducerVersion != "0.1.0-test" || info.ModelVersion != 1 {
				t.Errorf("producer %q %q model_version %d", info.ProducerName, info.ProducerVersion, info.ModelVersion)
			}
			want := map[string]string{
				MetaRole: tt.role, MetaSpecHash: "0123456789abcdef", MetaLatent: "2", MetaLikelihood: "gaussian_learned",
				MetaInputShape: "1,2,3", MetaInputScale: "0.00392156862745098", MetaInputOffset: "0",
				MetaEpochs: "3", MetaValELBO: "-101.25", MetaModelName: "tiny", MetaPreprocess: "inside",
			}
			for k, v := range want {
				if got, ok := info.Meta(k); !ok || got != v {
					t.Errorf("metadata %s = %q (present %v), want %q", k, got, ok, v)
				}
			}
			if !strings.Contains(info.DocString, "x is raw data as the data file holds it: the scaling x*0.00392156862745098 + 0 is done inside") {
				t.Errorf("doc_string does not state the input scaling: %q", info.DocString)
			}
		})
	}
}

func TestOpsets(t *testing.T) {
	m := testModel([]int{4}, 2, []int{3}, ir.ReLU, ir.Bernoulli)
	w := testWeights(m)
	for _, v := range SupportedOpsets {
		data, err := Decoder(m, w, Options{Opset: v})
		if err != nil {
			t.Fatalf("opset %d: %v", v, err)
		}
		info, err := Inspect(data)
		if err != nil {
			t.Fatal(err)
		}
		if info.Opsets[0].Version != int64(v) {
			t.Errorf("opset %d written as %d", v, info.Opsets[0].Version)
		}
	}
	for _, v := range []int{1, 12, 18, -3} {
		_, err := Decoder(m, w, Options{Opset: v})
		if err == nil || !strings.Contains(err.Error(), "opsets 13 to 17") {
			t.Errorf("opset %d: err = %v, want one naming the range 13 to 17", v, err)
		}
	}
	// 0 falls back to the spec's opset, then to the default.
	m.Export.Opset = 14
	if got, _ := ResolveOpset(m, Options{}); got != 14 {
		t.Errorf("ResolveOpset with spec opset 14 = %d", got)
	}
	m.Export.Opset = 0
	if got, _ := ResolveOpset(m, Options{}); got != DefaultOpset {
		t.Errorf("ResolveOpset with no opset = %d, want %d", got, DefaultOpset)
	}
}

func TestExportErrors(t *testing.T) {
	base := func() *ir.Model { return testModel([]int{4}, 2, []int{3}, ir.ReLU, ir.Bernoulli) }
	tests := []struct {
		name string
		edit func(m *ir.Model, w map[string]checkpoint.Tensor)
		want string
	}{
		{"missing weight", func(m *ir.Model, w map[string]checkpoint.Tensor) { delete(w, "encoder.0.weight") },
			`layer encoder.0 weight: no weights for parameter "encoder.0.weight"`},
		{"wrong shape", func(m *ir.Model, w map[string]checkpoint.Tensor) {
			w["encoder.mu.weight"] = checkpoint.Tensor{Shape: []int{2, 3}, Data: make([]float32, 6)}
		}, `checkpoint tensor "encoder.mu.weight" has shape [2, 3], the model needs [3, 2]`},
		{"short data", func(m *ir.Model, w map[string]checkpoint.Tensor) {
			w["encoder.mu.bias"] = checkpoint.Tensor{Shape: []int{2}, Data: make([]float32, 1)}
		}, `has 1 values, shape [2] needs 2`},
		{"nan", func(m *ir.Model, w map[string]checkpoint.Tensor) {
			w["decoder.out.bias"].Data[2] = float32(math.NaN())
		}, `"decoder.out.bias" holds NaN at index 2`},
		{"undeclared param", func(m *ir.Model, w map[string]checkpoint.Tensor) { m.Params = m.Params[2:] },
			`ir: 8 parameters, the nodes imply 10`},
		{"broken chain", func(m *ir.Model, w map[string]checkpoint.Tensor) {
			m.Mu().In[0] = ir.Shape{7}
			m.Mu().Pos = ir.Pos{File: "spec.yaml", Line: 9, Col: 3}
		}, `ir: spec.yaml:9:3: encoder.mu: input "encoder.0" has shape [3], the node records [7]`},
		{"head size", func(m *ir.Model, w map[string]checkpoint.Tensor) { m.Latent = 5 },
			`ir: encoder.mu: the mu head gives [2], the latent is [5]`},
		{"output size", func(m *ir.Model, w map[string]checkpoint.Tensor) { m.Input.Shape, m.Input.Size = []int{5}, 5 },
			`ir: decoder.out: the output node gives [4], the input is [5]`},
		{"input size", func(m *ir.Model, w map[string]checkpoint.Tensor) { m.Input.Size = 3 },
			`ir: input size 3, want 4 (the product of shape [4])`},
		{"negative dim", func(m *ir.Model, w map[string]checkpoint.Tensor) { m.Input.Shape = []int{-4} },
			`ir: input shape [-4]: dimensions must be positive`},
		{"huge dims", func(m *ir.Model, w map[string]checkpoint.Tensor) { m.Input.Shape = []int{1 << 10, 1 << 10, 1 << 10} },
			`ir: input shape [1024, 1024, 1024]: dimensions must be positive, at most 16777216 features`},
		{"rank", func(m *ir.Model, w map[string]checkpoint.Tensor) { m.Input.Shape, m.Input.Size = []int{2, 2}, 4 },
			`ir: input shape [2, 2]: want [D] or [C, H, W]`},
		{"no input", func(m *ir.Model, w map[string]checkpoint.Tensor) { m.Input.Shape = nil },
			`ir: input shape []: want [D] or [C, H, W]`},
		{"activation", func(m *ir.Model, w map[string]checkpoint.Tensor) { m.Encoder.Nodes[0].Activation = ir.Activation(99) },
			`ir: encoder.0: unknown activation`},
		{"op", func(m *ir.Model, w map[string]checkpoint.Tensor) { m.Decoder.Nodes[0].Op = ir.Op(99) },
			`ir: decoder.0: unknown op op(99)`},
		{"op without ONNX lowering", func(m *ir.Model, w map[string]checkpoint.Tensor) { insertIdentity(m) },
			`decoder.id: no ONNX lowering for op test_identity`},
		{"likelihood", func(m *ir.Model, w map[string]checkpoint.Tensor) { m.Likelihood.Kind = ir.LikelihoodKind(99) },
			`ir: unknown likelihood`},
		{"learned without param", func(m *ir.Model, w map[string]checkpoint.Tensor) { m.Likelihood.Kind = ir.GaussianLearned },
			`ir: likelihood logvar "", want "decoder.logvar"`},
		{"duplicate layer", func(m *ir.Model, w map[string]checkpoint.Tensor) { m.Decoder.Nodes[0].Name = "encoder.0" },
			`ir: name "encoder.0" is used by encoder node encoder.0 and by decoder node encoder.0`},
		{"layer named like input", func(m *ir.Model, w map[string]checkpoint.Tensor) { m.Encoder.Nodes[0].Name = "x" },
			`ir: name "x" is used by encoder input and by encoder node x`},
		{"opset", func(m *ir.Model, w map[string]checkpoint.Tensor) { m.Export.Opset = 9 },
			`opset 9 is not supported: the exporter writes opsets 13 to 17`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := base()
			w := testWeights(m)
			tt.edit(m, w)
			_, err := RoundTrip(m, w, Options{})
			if err == nil {
				t.Fatalf("no error, want one containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q\nwant it to contain %q", err, tt.want)
			}
		})
	}
	if _, err := Encoder(nil, nil, Options{}); err == nil {
		t.Error("Encoder(nil) gave no error")
	}
}

// testIdentity is an op known to the IR but lowered by neither graph nor
// export: y = x, no parameters. RegisterOp is global, so it runs once.
var testIdentity = sync.OnceValues(func() (ir.Op, error) {
	return ir.RegisterOp(ir.OpInfo{
		Name: "test_identity", Form: "y = x", Arity: 1,
		Params: func(*ir.Node) []ir.ParamSpec { return nil },
		Infer:  func(_ *ir.Node, in []ir.Shape) (ir.Shape, error) { return in[0].Clone(), nil },
		MACs:   func(*ir.Node) int { return 0 },
	})
})

// insertIdentity rebuilds m's decoder with a test_identity node on z
// before its layers; parameter names and shapes stay the same, so the
// model still verifies and the weights still fit. It panics on failure.
func insertIdentity(m *ir.Model) {
	op, err := testIdentity()
	if err != nil {
		panic(err)
	}
	old := m.Decoder.Nodes
	var params []ir.Param
	for _, p := range m.Params {
		if strings.HasPrefix(p.Name, "encoder.") {
			params = append(params, p)
		}
	}
	m.Params = params
	d := m.DecoderBuilder()
	if _, err := d.Add(ir.Node{Name: "decoder.id", Op: op}); err != nil {
		panic(err)
	}
	for _, n := range old {
		if _, err := d.Add(ir.Node{Name: n.Name, Op: n.Op, Role: n.Role, Attrs: n.Attrs}); err != nil {
			panic(err)
		}
	}
	m.AddLikelihoodParams()
	if err := ir.VerifyArchitecture(m); err != nil {
		panic(fmt.Sprintf("the model with test_identity does not verify: %v", err))
	}
}

// TestFileSize: the files are their weights plus a small, bounded overhead
// (within 1% of 4 bytes per parameter at MNIST size).
func TestFileSize(t *testing.T) {
	m := testModel([]int{1, 28, 28}, 20, []int{400}, ir.ReLU, ir.Bernoulli)
	w := testWeights(m)
	for _, e := range exporters[:2] {
		data, err := e.fn(m, w, testOptions())
		if err != nil {
			t.Fatal(err)
		}
		info, err := Inspect(data)
		if err != nil {
			t.Fatal(err)
		}
		ideal := 4 * float64(info.Params)
		if r := math.Abs(float64(len(data))-ideal) / ideal; r > 0.01 {
			t.Errorf("%s: %d bytes for %d parameters: %.2f%% off 4 bytes each", e.role, len(data), info.Params, 100*r)
		}
	}
}

// TestGolden compares readable dumps of small exports with testdata/*.txt;
// go test ./export -run Golden -update rewrites them.
func TestGolden(t *testing.T) {
	for _, v := range variants[:3] {
		for _, e := range exporters {
			name := v.name + "." + e.role
			t.Run(name, func(t *testing.T) {
				m := v.model()
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
					if err := os.MkdirAll("testdata", 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
						t.Fatal(err)
					}
					return
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (run go test ./export -run Golden -update to create it)", err)
				}
				if got != string(want) {
					t.Errorf("dump differs from %s (rerun with -update if the change is intended):\n%s", path, lineDiff(string(want), got))
				}
			})
		}
	}
}

// lineDiff shows the first differing lines of two texts.
func lineDiff(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	var sb strings.Builder
	n := 0
	for i := 0; i < len(wl) || i < len(gl); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			sb.WriteString("- " + w + "\n+ " + g + "\n")
			if n++; n == 10 {
				break
			}
		}
	}
	return sb.String()
}

func TestInspectMalformed(t *testing.T) {
	m := testModel([]int{4}, 2, []int{3}, ir.ReLU, ir.Bernoulli)
	good, err := Decoder(m, testWeights(m), Options{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "the input is empty"},
		{"text", []byte("hello, world\n"), "not an ONNX model"},
		{"truncated", good[:len(good)/2], "not an ONNX model"},
		{"no graph", []byte{0x08, 0x08}, "no ir_version or no graph"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Inspect(tt.data); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Inspect: err = %v, want %q", err, tt.want)
			}
			if _, err := Dump(tt.data); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Dump: err = %v, want %q", err, tt.want)
			}
		})
	}
}

func FuzzInspect(f *testing.F) {
	m := testModel([]int{1, 2, 2}, 2, []int{3}, ir.ELU, ir.GaussianLearned)
	for _, e := range exporters {
		data, err := e.fn(m, testWeights(m), testOptions())
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
		f.Add(data[:len(data)/3])
	}
	f.Add([]byte{})
	f.Add([]byte{0x08, 0x08, 0x3a, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		info, err := Inspect(data)
		dump, derr := Dump(data)
		if err == nil && derr != nil {
			t.Fatalf("Inspect succeeds but Dump fails: %v", derr)
		}
		if err == nil && (info == nil || dump == "") {
			t.Fatal("no error and no result")
		}
	})
}

// benchmarkExport measures one export of the PyTorch example's model
// (784-400-20), dominated by encoding 330k weights.
func benchmarkExport(b *testing.B, fn func(*ir.Model, map[string]checkpoint.Tensor, Options) ([]byte, error)) {
	m := testModel([]int{784}, 20, []int{400}, ir.ReLU, ir.Bernoulli)
	w := testWeights(m)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		data, err := fn(m, w, Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(len(data)))
	}
}

func BenchmarkEncoderMNIST(b *testing.B) { benchmarkExport(b, Encoder) }
func BenchmarkDecoderMNIST(b *testing.B) { benchmarkExport(b, Decoder) }
