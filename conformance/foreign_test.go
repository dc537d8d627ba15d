package conformance

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vaec/vaec/export"
)

// foreignScript builds, with the onnx package's own helpers, a model unlike
// vaec's: two opset domains, an If with subgraphs, an int64 output with an
// unnamed dimension, a named batch dimension, an initializer also listed as
// an input (as before IR version 4), typed float_data instead of raw_data,
// and metadata. It checks the model and saves it to argv[1].
const foreignScript = `
import sys, onnx
from onnx import helper, TensorProto
then_g = helper.make_graph([helper.make_node("Identity", ["a"], ["t_out"])], "then",
    [], [helper.make_tensor_value_info("t_out", TensorProto.FLOAT, [2])])
else_g = helper.make_graph([helper.make_node("Neg", ["a"], ["e_out"])], "else",
    [], [helper.make_tensor_value_info("e_out", TensorProto.FLOAT, [2])])
nodes = [
    helper.make_node("Add", ["x", "a"], ["s"], name="add"),
    helper.make_node("ReduceSum", ["s"], ["r"], name="sum", keepdims=0),
    helper.make_node("Greater", ["r", "zero"], ["c"], name="cmp"),
    helper.make_node("If", ["c"], ["y"], name="branch", then_branch=then_g, else_branch=else_g),
    helper.make_node("Cast", ["y"], ["yi"], to=TensorProto.INT64),
]
g = helper.make_graph(nodes, "foreign",
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 2]),
     helper.make_tensor_value_info("a", TensorProto.FLOAT, [2])],
    [helper.make_tensor_value_info("yi", TensorProto.INT64, [None])],
    initializer=[helper.make_tensor("a", TensorProto.FLOAT, [2], [1.5, -2.0]),
                 helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0])])
m = helper.make_model(g, producer_name="onnx-helper", opset_imports=[
    helper.make_opsetid("", 13), helper.make_opsetid("ai.onnx.ml", 3)])
m.ir_version = 8
helper.set_model_props(m, {"author": "conformance"})
onnx.checker.check_model(m, full_check=True)
onnx.save(m, sys.argv[1])
`

// TestInspectForeignModel: Inspect and Dump read a model vaec did not write.
func TestInspectForeignModel(t *testing.T) {
	py := Python(t)
	path := filepath.Join(t.TempDir(), "foreign.onnx")
	if out, err := exec.Command(py, "-c", foreignScript, path).CombinedOutput(); err != nil {
		t.Fatalf("building the model: %v\n%s", err, out)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	info, err := export.Inspect(data)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		what      string
		got, want any
	}{
		{"producer", info.ProducerName, "onnx-helper"},
		{"opsets", len(info.Opsets), 2},
		{"inputs (initializer a excluded)", len(info.Inputs), 1},
		{"input x", info.Inputs[0], export.Value{Name: "x", Type: "float32[batch,2]"}},
		{"output", info.Outputs[0], export.Value{Name: "yi", Type: "int64[?]"}},
		{"params", info.Params, int64(3)},
		{"nodes (subgraphs included)", info.Nodes, 7},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
		}
	}
	if v, _ := info.Meta("author"); v != "conformance" {
		t.Errorf("metadata author = %q", v)
	}
	ops := map[string]int{}
	for _, o := range info.Operators {
		ops[o.OpType] = o.Count
	}
	for _, op := range []string{"Add", "ReduceSum", "Greater", "If", "Identity", "Neg", "Cast"} {
		if ops[op] != 1 {
			t.Errorf("operator %s counted %d times, want 1 (operators %v)", op, ops[op], info.Operators)
		}
	}
	dump, err := export.Dump(data)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"opset_import: ai.onnx.ml 3",
		"initializer a: float32[2] [1.5 -2]",
		`node "branch": If(c) -> (y)`,
		`graph "then"`,
		"to = 7",
	} {
		if !strings.Contains(dump, want) {
			t.Errorf("dump lacks %q:\n%s", want, dump)
		}
	}
}
