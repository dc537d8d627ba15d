package runtime

import (
	"math"
	"slices"
	"strings"
	"testing"

	ow "github.com/vaec/vaec/runtime/internal/onnxwire"
)

// fillGraph is the missing-value fill an exported model starts with:
// y = Where(IsNaN(x), fill, x), fill [3] broadcast over the batch, the
// mask also an output.
func fillGraph(fill []float32) ow.Graph {
	return ow.Graph{
		Nodes: []ow.PB{
			ow.Node("isnan", "IsNaN", []string{"x"}, []string{"mask"}),
			ow.Node("fill", "Where", []string{"mask", "f", "x"}, []string{"y"}),
		},
		Inits:   []ow.PB{ow.Tensor("f", []int64{int64(len(fill))}, fill)},
		Inputs:  []ow.PB{ow.ValueInfo("x", "N", len(fill))},
		Outputs: []ow.PB{ow.ValueInfo("y", "N", len(fill)), ow.TypedValueInfo("mask", ow.DtBool, "N", len(fill))},
	}
}

func TestFillMissing(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	m := mustLoad(t, fillGraph([]float32{10, 20, 30}).Bytes())
	if got := m.Outputs()[1]; got.Type != Bool || got.String() != "mask[N,3] bool" {
		t.Errorf("output info %v (type %v), want mask[N,3] bool", got, got.Type)
	}
	cases := []struct {
		name     string
		x        []float32
		wantY    []float32
		wantMask []bool
	}{
		{"none missing", []float32{1, 2, 3}, []float32{1, 2, 3}, []bool{false, false, false}},
		{"one row", []float32{nan, 2, nan}, []float32{10, 2, 30}, []bool{true, false, true}},
		// Infinities and negative zero are values, not missing.
		{"inf and -0 kept", []float32{inf, float32(math.Copysign(0, -1)), -inf}, []float32{inf, 0, -inf}, []bool{false, false, false}},
		{"three rows", []float32{nan, nan, nan, 4, 5, 6, 7, nan, 9}, []float32{10, 20, 30, 4, 5, 6, 7, 20, 9},
			[]bool{true, true, true, false, false, false, false, true, false}},
		{"empty batch", []float32{}, []float32{}, []bool{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, err := m.Run(map[string]Tensor{"x": {Shape: []int{len(c.x) / 3, 3}, Data: c.x}})
			if err != nil {
				t.Fatal(err)
			}
			y, mask := out["y"], out["mask"]
			if ok, i := Within(y.Data, c.wantY, 0); !ok {
				t.Errorf("y = %v, want %v (element %d)", y.Data, c.wantY, i)
			}
			if !slices.Equal(mask.Bool, c.wantMask) || mask.Data != nil {
				t.Errorf("mask = %v (Data %v), want %v", mask.Bool, mask.Data, c.wantMask)
			}
			if want := []int{len(c.x) / 3, 3}; !slices.Equal(y.Shape, want) || !slices.Equal(mask.Shape, want) {
				t.Errorf("shapes %v and %v, want %v", y.Shape, mask.Shape, want)
			}
		})
	}
}

// boolIO is a graph input of the op tests with its value.
type boolIO struct {
	name string
	t    Tensor
	dt   int64 // ow.DtFloat, ow.DtInt64, ow.DtBool
}

func fIn(name string, shape []int, v ...float32) boolIO {
	return boolIO{name, Tensor{Shape: shape, Data: v}, ow.DtFloat}
}
func iIn(name string, shape []int, v ...int64) boolIO {
	return boolIO{name, Tensor{Shape: shape, Int64: v}, ow.DtInt64}
}
func bIn(name string, shape []int, v ...bool) boolIO {
	return boolIO{name, Tensor{Shape: shape, Bool: v}, ow.DtBool}
}

// oneOp is a graph of one node over graph inputs, output y of type dt.
func oneOp(op string, opset int64, dt int64, in ...boolIO) ow.Graph {
	g := ow.Graph{Opset: opset, Outputs: []ow.PB{ow.TypedValueInfo("y", dt)}}
	var names []string
	for _, x := range in {
		dims := make([]any, len(x.t.Shape))
		for i, d := range x.t.Shape {
			dims[i] = d
		}
		g.Inputs = append(g.Inputs, ow.TypedValueInfo(x.name, x.dt, dims...))
		names = append(names, x.name)
	}
	g.Nodes = []ow.PB{ow.Node("n", op, names, []string{"y"})}
	return g
}

func TestBoolOps(t *testing.T) {
	nan := float32(math.NaN())
	T, F := true, false
	cases := []struct {
		name  string
		op    string
		opset int64
		out   int64
		in    []boolIO
		want  Tensor
	}{
		{"IsNaN-9", "IsNaN", 9, ow.DtBool, []boolIO{fIn("x", []int{2, 2}, nan, 1, float32(math.Inf(-1)), nan)},
			Tensor{Shape: []int{2, 2}, Bool: []bool{T, F, F, T}}},
		{"IsNaN-20", "IsNaN", 20, ow.DtBool, []boolIO{fIn("x", []int{}, nan)}, Tensor{Shape: []int{}, Bool: []bool{T}}},
		{"Where-9 float, all three broadcast", "Where", 9, ow.DtFloat, []boolIO{
			bIn("c", []int{2, 1}, T, F), fIn("a", []int{3}, 1, 2, 3), fIn("b", []int{1, 1}, -1)},
			Tensor{Shape: []int{2, 3}, Data: []float32{1, 2, 3, -1, -1, -1}}},
		{"Where-16 int64", "Where", 16, ow.DtInt64, []boolIO{
			bIn("c", []int{3}, F, T, F), iIn("a", []int{2, 1}, 7, 8), iIn("b", []int{3}, 1, 2, 3)},
			Tensor{Shape: []int{2, 3}, Int64: []int64{1, 7, 3, 1, 8, 3}}},
		{"Where bool data", "Where", 17, ow.DtBool, []boolIO{
			bIn("c", []int{2}, T, F), bIn("a", []int{2}, F, F), bIn("b", []int{}, T)},
			Tensor{Shape: []int{2}, Bool: []bool{F, T}}},
		{"Where scalar condition", "Where", 17, ow.DtFloat, []boolIO{
			bIn("c", []int{}, F), fIn("a", []int{2}, 1, 2), fIn("b", []int{2}, 3, 4)},
			Tensor{Shape: []int{2}, Data: []float32{3, 4}}},
		{"Equal float, NaN equals nothing", "Equal", 11, ow.DtBool, []boolIO{
			fIn("a", []int{3}, nan, 1, 2), fIn("b", []int{3}, nan, 1, 3)}, Tensor{Shape: []int{3}, Bool: []bool{F, T, F}}},
		{"Equal-7 int64 broadcast", "Equal", 7, ow.DtBool, []boolIO{
			iIn("a", []int{2, 2}, 1, 2, 3, 2), iIn("b", []int{2}, 1, 2)}, Tensor{Shape: []int{2, 2}, Bool: []bool{T, T, F, T}}},
		{"Equal bool", "Equal", 13, ow.DtBool, []boolIO{
			bIn("a", []int{3}, T, F, T), bIn("b", []int{3}, T, T, F)}, Tensor{Shape: []int{3}, Bool: []bool{T, F, F}}},
		{"Less-7 float", "Less", 7, ow.DtBool, []boolIO{
			fIn("a", []int{3}, 1, 2, nan), fIn("b", []int{}, 2)}, Tensor{Shape: []int{3}, Bool: []bool{T, F, F}}},
		{"Greater-9 int64", "Greater", 9, ow.DtBool, []boolIO{
			iIn("a", []int{}, 2), iIn("b", []int{3}, 1, 2, 3)}, Tensor{Shape: []int{3}, Bool: []bool{T, F, F}}},
		{"And broadcast", "And", 7, ow.DtBool, []boolIO{
			bIn("a", []int{2, 2}, T, T, F, T), bIn("b", []int{2}, T, F)}, Tensor{Shape: []int{2, 2}, Bool: []bool{T, F, F, F}}},
		{"Or", "Or", 17, ow.DtBool, []boolIO{
			bIn("a", []int{3}, T, F, F), bIn("b", []int{3}, F, F, T)}, Tensor{Shape: []int{3}, Bool: []bool{T, F, T}}},
		{"Not", "Not", 1, ow.DtBool, []boolIO{bIn("a", []int{1, 2}, T, F)}, Tensor{Shape: []int{1, 2}, Bool: []bool{F, T}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := mustLoad(t, oneOp(c.op, c.opset, c.out, c.in...).Bytes())
			feed := map[string]Tensor{}
			for _, x := range c.in {
				feed[x.name] = x.t
			}
			out, err := m.Run(feed)
			if err != nil {
				t.Fatal(err)
			}
			got := out["y"]
			if !slices.Equal(got.Shape, c.want.Shape) {
				t.Errorf("shape %v, want %v", got.Shape, c.want.Shape)
			}
			if !slices.Equal(got.Bool, c.want.Bool) || !slices.Equal(got.Int64, c.want.Int64) {
				t.Errorf("got bool %v int64 %v, want %v %v", got.Bool, got.Int64, c.want.Bool, c.want.Int64)
			}
			if ok, i := Within(got.Data, c.want.Data, 0); !ok {
				t.Errorf("got %v, want %v (element %d)", got.Data, c.want.Data, i)
			}
		})
	}
}

// TestBoolRefusals: type errors of the mask operators are load errors
// naming the node, as the other operators' are.
func TestBoolRefusals(t *testing.T) {
	f3 := func(name string) boolIO { return fIn(name, []int{3}, 0, 0, 0) }
	b3 := func(name string) boolIO { return bIn(name, []int{3}, false, false, false) }
	i3 := func(name string) boolIO { return iIn(name, []int{3}, 0, 0, 0) }
	cases := []struct {
		name string
		data []byte
		want []string
	}{
		{"bool into Relu", oneOp("Relu", 17, ow.DtFloat, b3("x")).Bytes(), []string{`node "n" (Relu)`, "input 0 is bool"}},
		{"bool into Add", oneOp("Add", 17, ow.DtFloat, f3("x"), b3("m")).Bytes(), []string{`node "n" (Add)`, "input 1 is bool"}},
		{"bool into Less", oneOp("Less", 17, ow.DtBool, b3("a"), b3("b")).Bytes(), []string{`node "n" (Less)`, "input 0 is bool"}},
		{"IsNaN of int64", oneOp("IsNaN", 17, ow.DtBool, i3("x")).Bytes(), []string{`node "n" (IsNaN)`, "IsNaN takes float32"}},
		{"IsNaN before opset 9", oneOp("IsNaN", 8, ow.DtBool, f3("x")).Bytes(), []string{"IsNaN from opset 9"}},
		{"Where with a float condition", oneOp("Where", 17, ow.DtFloat, f3("c"), f3("a"), f3("b")).Bytes(),
			[]string{`node "n" (Where)`, "condition is float32, want bool"}},
		{"Where of two types", oneOp("Where", 17, ow.DtFloat, b3("c"), f3("a"), i3("b")).Bytes(),
			[]string{"X is float32 and Y is int64"}},
		{"Where shapes", oneOp("Where", 17, ow.DtFloat, b3("c"), f3("a"), fIn("b", []int{2}, 0, 0)).Bytes(),
			[]string{`node "n" (Where)`, "do not broadcast"}},
		{"Equal float before opset 11", oneOp("Equal", 10, ow.DtBool, f3("a"), f3("b")).Bytes(), []string{"need opset 11"}},
		{"Greater int64 before opset 9", oneOp("Greater", 8, ow.DtBool, i3("a"), i3("b")).Bytes(), []string{"need opset 9"}},
		{"Equal of two types", oneOp("Equal", 17, ow.DtBool, f3("a"), i3("b")).Bytes(), []string{"float32 and int64"}},
		{"And of floats", oneOp("And", 17, ow.DtBool, f3("a"), f3("b")).Bytes(), []string{`node "n" (And)`, "want bool"}},
		{"Not of int64", oneOp("Not", 17, ow.DtBool, i3("a")).Bytes(), []string{"want bool"}},
		{"declared float, computes bool", oneOp("IsNaN", 17, ow.DtFloat, f3("x")).Bytes(), []string{"the graph computes bool"}},
		{"declared bool, computes float", oneOp("Where", 17, ow.DtBool, b3("c"), f3("a"), f3("b")).Bytes(), []string{"the graph computes float32"}},
		{"bool initializer", ow.Graph{
			Nodes:   []ow.PB{ow.Node("n", "Where", []string{"c", "x", "x"}, []string{"y"})},
			Inits:   []ow.PB{ow.BoolTensor("c", []int64{2}, []bool{true, false})},
			Inputs:  []ow.PB{ow.ValueInfo("x", "N", 2)},
			Outputs: []ow.PB{ow.ValueInfo("y", "N", 2)},
		}.Bytes(), []string{`"c"`, "data type BOOL is not supported"}},
		{"other element type", oneOp("Not", 17, ow.DtBool, boolIO{"a", Tensor{Shape: []int{2}}, 3}).Bytes(),
			[]string{`graph input "a"`, "element type INT8 is not supported"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Load(c.data)
			if err == nil {
				t.Fatal("loaded, want an error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestRunChecksBoolInputs(t *testing.T) {
	m := mustLoad(t, oneOp("Not", 17, ow.DtBool, bIn("a", []int{2}, true, false)).Bytes())
	cases := []struct {
		name string
		in   Tensor
		want string
	}{
		{"floats for a bool input", Tensor{Shape: []int{2}, Data: []float32{1, 0}}, "is bool: shape [2] needs 2 values in Bool, got 0 (and 2 in Data)"},
		{"short", Tensor{Shape: []int{2}, Bool: []bool{true}}, "needs 2 values in Bool, got 1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := m.Run(map[string]Tensor{"a": c.in})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want one containing %q", err, c.want)
			}
		})
	}
	// Outputs are the caller's: changing one changes nothing the model keeps.
	in := map[string]Tensor{"a": {Shape: []int{2}, Bool: []bool{true, false}}}
	out1, err := m.Run(in)
	if err != nil {
		t.Fatal(err)
	}
	out1["y"].Bool[0] = true
	out2, err := m.Run(in)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(out2["y"].Bool, []bool{false, true}) {
		t.Errorf("second run %v, want [false true]", out2["y"].Bool)
	}
}

// boolSeeds are FuzzLoad's seeds of the mask operators.
func boolSeeds() []ow.Graph {
	f3 := func(name string) boolIO { return fIn(name, []int{3}, 0, 0, 0) }
	b3 := func(name string) boolIO { return bIn(name, []int{3}, false, false, false) }
	return []ow.Graph{
		fillGraph([]float32{1, 2, 3}),
		oneOp("Where", 17, ow.DtFloat, b3("c"), f3("a"), fIn("b", []int{1}, 0)),
		oneOp("Equal", 17, ow.DtBool, f3("a"), f3("b")),
		oneOp("And", 17, ow.DtBool, b3("a"), bIn("b", []int{1, 3}, true, false, true)),
		oneOp("Not", 17, ow.DtBool, b3("a")),
	}
}

func TestBoolSeeds(t *testing.T) {
	for i, g := range boolSeeds() {
		if _, err := Load(g.Bytes()); err != nil {
			t.Errorf("seed %d: %v", i, err)
		}
	}
}
