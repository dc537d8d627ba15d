package dataset

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/vaec/vaec/ir"
)

// Finding 4 of issue 14: inputs that would take gigabytes are refused
// early, with a message, at a bounded cost.
func TestMemoryBombsRefused(t *testing.T) {
	long := strings.Repeat("1", maxCSVLine+10) // one line, no newline
	idxHeader := func(n uint32) []byte {
		b := []byte{0, 0, 8, 3}
		for _, d := range []uint32{n, 28, 28} {
			b = binary.BigEndian.AppendUint32(b, d)
		}
		return b
	}
	cases := []struct {
		name, file string
		data       []byte
		in         ir.Input
		limit      int64 // MemoryLimit for the case; 0 = the machine's
		want       string
	}{
		{"one endless line", "x.csv", []byte(long), input(3), 0, "longer than"},
		{"a line far longer than 3 values need", "x.csv.gz", gzipped([]byte("1,2,3\n" + strings.Repeat("9", 1<<20) + "\n")), input(3), 0, "line 2"},
		{"NUL bytes as CSV", "x.csv", bytes.Repeat([]byte{0}, maxCSVLine+1), input(3), 0, "longer than"},
		{"trailing data past the header's records", "x-idx3-ubyte.gz",
			gzipped(append(idxHeader(2), make([]byte, 3*784)...)), input(28, 28), 0, "trailing"},
		{"a header declaring more than fits", "x-idx3-ubyte.gz",
			gzipped(append(idxHeader(100000), make([]byte, 1000)...)), input(28, 28), 64 << 20, "MiB available"},
		{"CSV rows beyond memory", "x.csv.gz", gzipped(bytes.Repeat([]byte("1,2,3\n"), 200000)), input(3), 1 << 20, "MiB available"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			MemoryLimit = c.limit
			defer func() { MemoryLimit = 0 }()
			path := writeFile(t, c.file, c.data)
			_, err := Load(ir.Source{Path: path}, c.in)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Load = %v; want an error with %q", err, c.want)
			}
		})
	}
}

func TestDevZeroRefused(t *testing.T) {
	for _, f := range []ir.Format{ir.FormatCSV, ir.FormatIDX, ir.FormatNPY} {
		if _, err := Load(ir.Source{Path: "/dev/zero", Format: f}, input(3)); err == nil {
			t.Errorf("/dev/zero as %v loaded", f)
		}
	}
}
