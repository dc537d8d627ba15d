package dataset

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vaec/vaec/ir"
)

// writeNPY writes a uint8 NPY file of the given shape, values i mod 251.
func writeNPY(t *testing.T, shape string, n int) string {
	t.Helper()
	d := "{'descr': '|u1', 'fortran_order': False, 'shape': (" + shape + "), }"
	d += strings.Repeat(" ", 63-(10+len(d))%64) + "\n"
	b := append([]byte("\x93NUMPY\x01\x00"), byte(len(d)), byte(len(d)>>8))
	b = append(b, d...)
	for i := 0; i < n; i++ {
		b = append(b, byte(i%251))
	}
	p := filepath.Join(t.TempDir(), "x.npy")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLayoutNHWCRefused(t *testing.T) {
	in := ir.Input{Shape: ir.Shape{3, 4, 2}, Size: 24, Scale: 1}
	tests := []struct {
		shape string
		want  string // "" = loads
	}{
		{"5, 3, 4, 2", ""},
		{"5, 24", ""},
		{"5, 4, 2, 3", "records are [4, 2, 3], channels last (NHWC); the spec's input shape [3, 4, 2] is channels first: transpose the array, e.g. numpy.transpose(x, (0, 3, 1, 2))"},
		{"5, 2, 4, 3", "records are [2, 4, 3], the spec's input shape is [3, 4, 2]"},
	}
	for _, tt := range tests {
		_, err := Load(ir.Source{Path: writeNPY(t, tt.shape, 5*24), Format: ir.FormatNPY}, in)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("shape (%s): %v", tt.shape, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("shape (%s): err = %v, want %q", tt.shape, err, tt.want)
		}
	}
	// One channel: the two layouts are the same bytes.
	gray := ir.Input{Shape: ir.Shape{1, 4, 2}, Size: 8, Scale: 1}
	if _, err := Load(ir.Source{Path: writeNPY(t, "5, 4, 2, 1", 40), Format: ir.FormatNPY}, gray); err != nil {
		t.Errorf("[4, 2, 1] records for [1, 4, 2]: %v", err)
	}
}
