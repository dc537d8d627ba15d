package runtime

import (
	"slices"
	"strings"
	"testing"

	ow "github.com/vaec/vaec/runtime/internal/onnxwire"
)

func TestCheck(t *testing.T) {
	dense := ow.Dense(4, 3, "Relu")
	unknown := ow.Dense(4, 3, "Relu")
	unknown.Nodes = append(unknown.Nodes[:1], ow.Node("rnn", "LSTM", []string{"h"}, []string{"h2"}),
		ow.Node("gru", "GRU", []string{"h2"}, []string{"y"}))
	badAttr := ow.Dense(4, 3, "Relu")
	badAttr.Nodes[1] = ow.Node("act", "Relu", []string{"h"}, []string{"y"}, ow.IntAttr("inplace", 1))
	cases := []struct {
		name    string
		data    []byte
		ops     []string
		missing []string // substrings, one per Unsupported entry
	}{
		{"runs", dense.Bytes(), []string{"Gemm", "Relu"}, nil},
		{"unknown operators", unknown.Bytes(), []string{"GRU", "Gemm", "LSTM"},
			[]string{`operator GRU (nodes "gru")`, `operator LSTM (nodes "rnn")`}},
		{"unsupported attribute", badAttr.Bytes(), []string{"Gemm", "Relu"}, []string{`node "act" (Relu): unsupported attribute "inplace"`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := Check(c.data)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(r.Ops, c.ops) {
				t.Errorf("Ops = %v, want %v", r.Ops, c.ops)
			}
			if len(r.Unsupported) != len(c.missing) {
				t.Fatalf("Unsupported = %q, want %d entries", r.Unsupported, len(c.missing))
			}
			for i, w := range c.missing {
				if !strings.Contains(r.Unsupported[i], w) {
					t.Errorf("Unsupported[%d] = %q, want it to contain %q", i, r.Unsupported[i], w)
				}
			}
		})
	}
	if _, err := Check([]byte("not onnx")); err == nil {
		t.Error("Check of a non-ONNX file: no error")
	}
}
