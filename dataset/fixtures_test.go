package dataset

import (
	"reflect"
	"testing"

	"github.com/vaec/vaec/ir"
)

// The committed fixtures (testdata/data, written by gen.py without the Go
// readers) all hold the same six 2x2 records and must load identically.
func TestFixtures(t *testing.T) {
	const dir = "../testdata/data/"
	want := &Set{N: 6, D: 4, X: make([]float32, 24), Labels: []int{0, 1, 2, 0, 1, 2}}
	for i := range want.X {
		want.X[i] = float32(float64(i)/2 - 1)
	}
	in := ir.Input{Shape: []int{2, 2}, Size: 4, Scale: 0.5, Offset: -1}
	for _, src := range []ir.Source{
		{Path: dir + "tiny-idx3-ubyte.gz", Labels: dir + "tiny-idx1-ubyte"},
		{Path: dir + "tiny-f8-idx3.idx", Labels: dir + "tiny-labels.npy"},
		{Path: dir + "tiny-f4.npy", Labels: dir + "tiny-labels.npy"},
		{Path: dir + "tiny-be-f8.npy", Labels: dir + "tiny-idx1-ubyte"},
		{Path: dir + "tiny-i2.npy.gz", Labels: dir + "tiny-idx1-ubyte"},
		{Path: dir + "tiny.csv", Labels: dir + "tiny-labels.csv", CSVHeader: true},
	} {
		t.Run(src.Path[len(dir):], func(t *testing.T) {
			got, err := Load(src, in)
			if err != nil {
				t.Fatal(err)
			}
			got.Columns = nil // the CSV file's header names; compared elsewhere
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("got %+v, want %+v", got, want)
			}
		})
	}
}
