package runtime

import (
	"fmt"
	goruntime "runtime"
	"strings"
	"testing"

	ow "github.com/vaec/vaec/runtime/internal/onnxwire"
)

// reluChain is x[N, width] → n Relus in a row → y.
func reluChain(n, width int) []byte {
	nodes := make([]ow.PB, n)
	prev := "x"
	for i := range nodes {
		out := fmt.Sprintf("r%d", i)
		if i == n-1 {
			out = "y"
		}
		nodes[i] = ow.Node("", "Relu", []string{prev}, []string{out})
		prev = out
	}
	return ow.Graph{Nodes: nodes, Inputs: []ow.PB{ow.ValueInfo("x", "N", width)}, Outputs: []ow.PB{ow.ValueInfo("y", "N", width)}}.Bytes()
}

// TestLongChainMemory: a 60,000-node chain (the file the issue measured at
// ~200 MB per batch row) keeps two tensors alive, not 60,000.
func TestLongChainMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 60,000-node model")
	}
	const n, width = 60000, 784
	data := reluChain(n, width)
	m := mustLoad(t, data)
	if m.peakElems > 2*width {
		t.Errorf("planned peak %d values at batch 1, want at most %d", m.peakElems, 2*width)
	}
	const rows = 16
	x := make([]float32, rows*width)
	for i := range x {
		x[i] = float32(i%9 - 4)
	}
	var before, after goruntime.MemStats
	goruntime.GC()
	goruntime.ReadMemStats(&before)
	out, err := m.Run(map[string]Tensor{"x": {Shape: []int{rows, width}, Data: x}})
	if err != nil {
		t.Fatal(err)
	}
	goruntime.ReadMemStats(&after)
	for i, v := range out["y"].Data {
		if want := max(x[i], 0); v != want {
			t.Fatalf("y[%d] = %v, want %v", i, v, want)
		}
	}
	// Without the plan the call keeps n·rows·width·4 = 3 GB; with it the
	// heap holds a few tensors (50 KB each) whatever the GC's timing.
	if grown := int64(after.HeapInuse) - int64(before.HeapInuse); grown > 256<<20 {
		t.Errorf("heap grew by %d MB during one call", grown>>20)
	}
}

// TestLiveLimit: a plan within the limit at batch 1 is refused, naming the
// limit, at a batch size that would exceed it.
func TestLiveLimit(t *testing.T) {
	const width = 1 << 18
	var nodes []ow.PB
	var cat []string
	for i := 0; i < 5; i++ {
		out := fmt.Sprintf("r%d", i)
		nodes = append(nodes, ow.Node("", "Relu", []string{"x"}, []string{out}))
		cat = append(cat, out)
	}
	nodes = append(nodes, ow.Node("cat", "Concat", cat, []string{"y"}, ow.IntAttr("axis", 1)))
	m := mustLoad(t, ow.Graph{Nodes: nodes, Inputs: []ow.PB{ow.ValueInfo("x", "N", width)},
		Outputs: []ow.PB{ow.ValueInfo("y", "N", 5*width)}}.Bytes())
	if want := 10 * width; m.peakElems != want {
		t.Errorf("peak %d values at batch 1, want %d (five Relus and their concatenation)", m.peakElems, want)
	}
	_, err := m.Run(map[string]Tensor{"x": {Shape: []int{128, width}, Data: make([]float32, 128*width)}})
	if err == nil || !strings.Contains(err.Error(), "maxLiveElems") {
		t.Fatalf("batch 128: err = %v, want the live-memory limit named", err)
	}
	if _, err := m.Run(map[string]Tensor{"x": {Shape: []int{2, width}, Data: make([]float32, 2*width)}}); err != nil {
		t.Fatalf("batch 2: %v", err)
	}
}
