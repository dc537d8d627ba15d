package dataset

import (
	"compress/gzip"
	"crypto/md5"
	"encoding/hex"
	"io"
	"os"
	"testing"

	"github.com/vaec/vaec/ir"
)

const (
	mnistImages = "../testdata/mnist/t10k-images-idx3-ubyte.gz"
	mnistLabels = "../testdata/mnist/t10k-labels-idx1-ubyte.gz"
)

var mnistInput = ir.Input{Shape: []int{1, 28, 28}, Size: 784, Scale: 1.0 / 255}

func TestMNIST(t *testing.T) {
	set, err := Load(ir.Source{Path: mnistImages, Format: ir.FormatIDXGz, Labels: mnistLabels}, mnistInput)
	if err != nil {
		t.Fatal(err)
	}
	if set.N != 10000 || set.D != 784 || len(set.X) != 10000*784 || len(set.Labels) != 10000 {
		t.Fatalf("got N=%d D=%d len(X)=%d len(Labels)=%d, want 10000, 784, 7840000, 10000", set.N, set.D, len(set.X), len(set.Labels))
	}
	// The first test digit is a 7, the second a 2 (LeCun's MNIST page).
	if set.Labels[0] != 7 || set.Labels[1] != 2 {
		t.Errorf("labels[0:2] = %v, want [7 2]", set.Labels[:2])
	}
	counts := make([]int, 10)
	lo, hi := float32(1), float32(0)
	for i, l := range set.Labels {
		if l < 0 || l > 9 {
			t.Fatalf("label %d = %d", i, l)
		}
		counts[l]++
	}
	for _, v := range set.X {
		lo, hi = min(lo, v), max(hi, v)
	}
	if lo != 0 || hi != 1 {
		t.Errorf("pixel range [%v, %v], want [0, 1]", lo, hi)
	}
	// Class counts of the MNIST test set.
	want := []int{980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009}
	for c := range want {
		if counts[c] != want[c] {
			t.Errorf("class %d: %d examples, want %d", c, counts[c], want[c])
		}
	}
}

func TestMNISTChecksum(t *testing.T) {
	f, err := os.Open(mnistImages)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	h := md5.New()
	if _, err := io.Copy(h, zr); err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != "2646ac647ad5339dbf082846283269ea" {
		t.Fatalf("uncompressed MD5 %s, want 2646ac647ad5339dbf082846283269ea", got)
	}
}

// The project's standard split: first 9,000 for training, last 1,000 held out.
func TestMNISTRange(t *testing.T) {
	all, err := Load(ir.Source{Path: mnistImages, Labels: mnistLabels}, mnistInput)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ start, limit, n int }{{0, 9000, 9000}, {9000, 0, 1000}, {9000, 1000, 1000}, {9999, 1, 1}} {
		set, err := Load(ir.Source{Path: mnistImages, Labels: mnistLabels, Start: tc.start, Limit: tc.limit}, mnistInput)
		if err != nil {
			t.Fatalf("start %d limit %d: %v", tc.start, tc.limit, err)
		}
		if set.N != tc.n {
			t.Fatalf("start %d limit %d: N = %d, want %d", tc.start, tc.limit, set.N, tc.n)
		}
		for i := range set.N {
			if set.Labels[i] != all.Labels[tc.start+i] || set.Row(i)[400] != all.Row(tc.start + i)[400] {
				t.Fatalf("start %d limit %d: record %d differs from the full load", tc.start, tc.limit, i)
			}
		}
	}
}

func BenchmarkLoadMNIST(b *testing.B) {
	src := ir.Source{Path: mnistImages, Format: ir.FormatIDXGz, Labels: mnistLabels}
	for b.Loop() {
		if _, err := Load(src, mnistInput); err != nil {
			b.Fatal(err)
		}
	}
}
