package dataset

import (
	"fmt"
	"strings"
	"testing"

	"github.com/vaec/vaec/ir"
)

// benchLoad writes data to a file once and times loading its n records of 784 values.
func benchLoad(b *testing.B, name string, data []byte, n int) {
	path := writeFile(b, name, data)
	in := ir.Input{Shape: []int{784}, Size: 784, Scale: 1.0 / 255}
	b.SetBytes(int64(n * 784 * 4))
	b.ResetTimer()
	for b.Loop() {
		if _, err := Load(ir.Source{Path: path}, in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLoadNPYFloat32(b *testing.B) {
	benchLoad(b, "x.npy", encodeNPY(1, "<f4", false, []int{10000, 784}, ramp(10000*784, 0)), 10000)
}

func BenchmarkLoadIDXFloat64BigEndian(b *testing.B) {
	benchLoad(b, "x.idx", encodeIDX("f8", []int{10000, 784}, ramp(10000*784, 0)), 10000)
}

func BenchmarkLoadCSV(b *testing.B) {
	var sb strings.Builder
	for i := range 1000 {
		for j := range 784 {
			if j > 0 {
				sb.WriteByte(',')
			}
			fmt.Fprint(&sb, (i*784+j)%256)
		}
		sb.WriteByte('\n')
	}
	benchLoad(b, "x.csv", []byte(sb.String()), 1000)
}
