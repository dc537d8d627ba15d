package dataset

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"syscall"
	"testing"

	"github.com/vaec/vaec/ir"
)

// TestLoadMemory is the data-at-scale target of issue 13: loading (and
// splitting off validation records, as training does) holds the data once,
// as float32. A generated float32 NPY of VAEC_MEMORY_TEST records × 784
// (at least 200,000 for the figure; the test is skipped without
// the variable, since it writes and reads over 600 MB) must load with a
// peak resident set at most 1.3× its float32 size.
//
//	VAEC_MEMORY_TEST=200000 go test ./dataset -run TestLoadMemory -v
func TestLoadMemory(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("VAEC_MEMORY_TEST"))
	if n <= 0 {
		t.Skip("set VAEC_MEMORY_TEST=records (200000 for the issue's figure)")
	}
	const d = 784
	path := filepath.Join(t.TempDir(), "big.npy")
	writeBigNPY(t, path, n, d)
	runtime.GC()
	debug.FreeOSMemory()
	base := peakRSS(t)
	m := &ir.Model{
		Input: ir.Input{Shape: ir.Shape{d}, Size: d, Scale: 1},
		Data:  ir.Data{Train: ir.Source{Path: path}},
		Train: ir.Train{ValidationSplit: 0.1, Seed: 1},
	}
	train, val, err := LoadSplits(m)
	if err != nil {
		t.Fatal(err)
	}
	peak := peakRSS(t)
	size := int64(n) * d * 4
	t.Logf("%d × %d float32 = %d MiB; peak RSS %d MiB before loading, %d MiB after (%.2f× the data)",
		n, d, size>>20, base>>20, peak>>20, float64(peak)/float64(size))
	if train.N+val.N != n || val.N == 0 {
		t.Fatalf("loaded %d + %d records", train.N, val.N)
	}
	if float64(peak) > 1.3*float64(size) {
		t.Errorf("peak RSS %d MiB is more than 1.3× the %d MiB of data", peak>>20, size>>20)
	}
	runtime.KeepAlive(train)
	runtime.KeepAlive(val)
}

// writeBigNPY writes an n×d float32 NPY of a ramp, a row at a time.
func writeBigNPY(t *testing.T, path string, n, d int) {
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	hdr := fmt.Sprintf("{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d), }", n, d)
	for (10+len(hdr)+1)%64 != 0 {
		hdr += " "
	}
	hdr += "\n"
	w.WriteString("\x93NUMPY\x01\x00")
	binary.Write(w, binary.LittleEndian, uint16(len(hdr)))
	w.WriteString(hdr)
	row := make([]byte, 4*d)
	for i := 0; i < n; i++ {
		for j := 0; j < d; j++ {
			binary.LittleEndian.PutUint32(row[4*j:], math.Float32bits(float32((i+j)%256)/255))
		}
		w.Write(row)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
}

// peakRSS is the process's maximum resident set so far, in bytes.
func peakRSS(t *testing.T) int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return ru.Maxrss << 10 // kilobytes on Linux
}
