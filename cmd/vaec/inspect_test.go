package main

import (
	"encoding/json"
	"github.com/vaec/vaec/ir"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vaec/vaec/compiler"
	"github.com/vaec/vaec/export"
	"github.com/vaec/vaec/graph"
)

// inspectFixture exports testdata/specs/gaussian.yaml (image input, learned
// variance) with initial weights and returns the two files' paths.
func inspectFixture(t *testing.T) (m *ir.Model, enc, dec string) {
	t.Helper()
	m, err := compiler.CompileFile(filepath.Join("..", "..", "testdata", "specs", "gaussian.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	w := graph.InitWeights(m, 3)
	dir := t.TempDir()
	enc, dec = filepath.Join(dir, encoderFile), filepath.Join(dir, decoderFile)
	opts := export.Options{Metadata: export.Metadata{ProducerVersion: "test", EpochsTrained: 2}}
	for path, fn := range map[string]func() ([]byte, error){
		enc: func() ([]byte, error) { return export.Encoder(m, w, opts) },
		dec: func() ([]byte, error) { return export.Decoder(m, w, opts) },
	} {
		data, err := fn()
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return m, enc, dec
}

func TestInspectCommand(t *testing.T) {
	m, enc, dec := inspectFixture(t)
	tests := []struct {
		file string
		want []string
	}{
		{enc, []string{
			"producer:    vaec test", "ir_version:  8", "opset:       ai.onnx 17",
			"x       float32[N,1,28,28]", "mu      float32[N,8]", "logvar  float32[N,8]",
			"Flatten    1", "Gemm       4", "LeakyRelu  1", "Tanh       1",
			"vaec.likelihood     gaussian_learned", "vaec.epochs_trained  2", "vaec.input_scale     0.00392156862745098",
			"the scaling x*0.00392156862745098 + 0 is done inside",
		}},
		{dec, []string{
			"z       float32[N,8]", "mean    float32[N,1,28,28]", "logvar  float32[N,784]",
			"Expand    1", "Reshape   1", "Softplus  1",
		}},
	}
	for _, tt := range tests {
		code, out, errOut := vaecExport(t, "inspect", tt.file)
		if code != exitOK {
			t.Fatalf("exit %d\n%s%s", code, out, errOut)
		}
		// Column widths depend on the longest entry: compare words.
		flat := strings.Join(strings.Fields(out), " ")
		for _, w := range tt.want {
			if !strings.Contains(flat, strings.Join(strings.Fields(w), " ")) {
				t.Errorf("inspect %s: output lacks %q:\n%s", filepath.Base(tt.file), w, out)
			}
		}
	}
	// The parameter count is the model's, split between the two files.
	var total int64
	for _, f := range []string{enc, dec} {
		code, out, errOut := vaecExport(t, "inspect", "--json", f)
		if code != exitOK {
			t.Fatalf("exit %d\n%s%s", code, out, errOut)
		}
		var j inspectJSON
		if err := json.Unmarshal([]byte(out), &j); err != nil {
			t.Fatalf("--json output does not parse: %v\n%s", err, out)
		}
		if j.Opsets["ai.onnx"] != 17 || j.Metadata[export.MetaSpecHash] != m.SpecHash {
			t.Errorf("--json: opsets %v spec hash %q", j.Opsets, j.Metadata[export.MetaSpecHash])
		}
		total += j.Params
	}
	if total != int64(m.ParamCount()) {
		t.Errorf("encoder + decoder parameters = %d, model has %d", total, m.ParamCount())
	}
	code, out, _ := vaecExport(t, "inspect", "--dump", dec)
	if code != exitOK || !strings.Contains(out, `node "logvar/Expand": Expand(decoder.logvar, logvar.shape) -> (logvar)`) {
		t.Errorf("--dump: exit %d, output:\n%s", code, out)
	}
}

func TestInspectRefuses(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "notes.onnx")
	if err := os.WriteFile(text, []byte("these are not protobuf bytes\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty.onnx")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no file", []string{"inspect"}, exitUsage, "inspect takes one ONNX file, got 0 arguments"},
		{"two files", []string{"inspect", "a.onnx", "b.onnx"}, exitUsage, "got 2 arguments"},
		{"missing", []string{"inspect", filepath.Join(dir, "missing.onnx")}, exitError, "missing.onnx: no such file"},
		{"not onnx", []string{"inspect", text}, exitError, text + ": not an ONNX model"},
		{"empty", []string{"inspect", empty}, exitError, empty + ": not an ONNX model: the input is empty"},
		{"json and dump", []string{"inspect", "--json", "--dump", text}, exitUsage, "cannot be combined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := vaecExport(t, tt.args...)
			if code != tt.code {
				t.Errorf("exit %d, want %d\n%s%s", code, tt.code, out, errOut)
			}
			if !strings.Contains(errOut, tt.want) {
				t.Errorf("stderr %q\nwant it to contain %q", errOut, tt.want)
			}
		})
	}
}
