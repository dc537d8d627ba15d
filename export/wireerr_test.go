package export

import (
	"strings"
	"testing"
)

// TestInspectNamesTheByte: a file that is not an ONNX model is refused
// with the byte offset of the first field that does not read.
func TestInspectNamesTheByte(t *testing.T) {
	m := testModel([]int{6}, 2, []int{5}, 0, 0)
	good, err := Encoder(m, testWeights(m), testOptions())
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		data []byte
		want string
	}{
		{"text", []byte("hello, world\n"), "not an ONNX model: byte "},
		{"truncated", good[:len(good)-3], "not an ONNX model: byte "},
		{"bad tag", append([]byte{0x08, 0x08}, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01), "not an ONNX model: byte 2: "},
	} {
		_, err := Inspect(tt.data)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Inspect = %v, want an error containing %q", tt.name, err, tt.want)
		}
	}
}
