package compiler

import (
	"bytes"
	"encoding/binary"
	"path/filepath"
	"strings"
	"testing"
)

func idxHeader(typ byte, dims ...uint32) []byte {
	b := []byte{0, 0, typ, byte(len(dims))}
	for _, d := range dims {
		b = binary.BigEndian.AppendUint32(b, d)
	}
	return b
}

func npyHeader(dict string) []byte {
	b := append([]byte("\x93NUMPY\x01\x00"), 0, 0)
	binary.LittleEndian.PutUint16(b[8:], uint16(len(dict)))
	return append(b, dict...)
}

func TestPeekHeaders(t *testing.T) {
	tests := []struct {
		name    string
		format  string
		data    []byte
		header  bool
		want    dataInfo
		wantErr string
	}{
		{"idx images", FormatIDX, idxHeader(0x08, 60000, 28, 28), false, dataInfo{60000, 784, true}, ""},
		{"idx labels", FormatIDX, idxHeader(0x08, 10), false, dataInfo{10, 1, true}, ""},
		{"idx floats", FormatIDX, idxHeader(0x0D, 5, 3), false, dataInfo{5, 3, false}, ""},
		{"idx bad magic", FormatIDX, []byte{1, 2, 3, 4}, false, dataInfo{}, "not an IDX file"},
		{"idx truncated", FormatIDX, idxHeader(0x08, 5, 3)[:7], false, dataInfo{}, "IDX header"},
		{"idx zero dim", FormatIDX, idxHeader(0x08, 5, 0), false, dataInfo{}, "out of range"},
		{"npy", FormatNPY, npyHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (100, 784), }"), false, dataInfo{100, 784, false}, ""},
		{"npy bytes 3d", FormatNPY, npyHeader("{'descr': '|u1', 'fortran_order': False, 'shape': (7, 28, 28), }"), false, dataInfo{7, 784, true}, ""},
		{"npy vector", FormatNPY, npyHeader("{'descr': '<i8', 'fortran_order': False, 'shape': (9,), }"), false, dataInfo{9, 1, false}, ""},
		{"npy no shape", FormatNPY, npyHeader("{'descr': '<f4'}"), false, dataInfo{}, "no shape"},
		{"npy bad magic", FormatNPY, []byte("PK\x03\x04 zip!"), false, dataInfo{}, "not an NPY file"},
		{"csv", FormatCSV, []byte("1,2,3\n4,5,6\n"), false, dataInfo{-1, 3, false}, ""},
		{"csv header", FormatCSV, []byte("a,b\n1,2\n"), true, dataInfo{-1, 2, false}, ""},
		{"csv only header", FormatCSV, []byte("a,b\n"), true, dataInfo{}, "no data line"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got dataInfo
			var err error
			switch tt.format {
			case FormatIDX:
				got, err = peekIDX(bytes.NewReader(tt.data))
			case FormatNPY:
				got, err = peekNPY(bytes.NewReader(tt.data))
			case FormatCSV:
				got, err = peekCSV(bytes.NewReader(tt.data), tt.header)
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestPeekMNIST(t *testing.T) {
	info, err := peekData(filepath.Join("..", "testdata", "mnist", "t10k-images-idx3-ubyte.gz"), FormatIDXGz, false)
	if err != nil || info != (dataInfo{10000, 784, true}) {
		t.Errorf("MNIST images: %+v, %v", info, err)
	}
	info, err = peekData(filepath.Join("..", "testdata", "mnist", "t10k-labels-idx1-ubyte.gz"), FormatIDXGz, false)
	if err != nil || info != (dataInfo{10000, 1, true}) {
		t.Errorf("MNIST labels: %+v, %v", info, err)
	}
	if _, err := peekData(filepath.Join("..", "testdata", "mnist", "README.md"), FormatIDXGz, false); err == nil {
		t.Error("README.md read as gzip")
	}
}

// FuzzPeekHeaders: the header readers never panic and never report
// negative or oversized shapes.
func FuzzPeekHeaders(f *testing.F) {
	f.Add(idxHeader(0x08, 60000, 28, 28))
	f.Add(npyHeader("{'descr': '|u1', 'fortran_order': False, 'shape': (7, 28, 28), }"))
	f.Add([]byte("1,2,3\n4,5,6\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, peek := range []func() (dataInfo, error){
			func() (dataInfo, error) { return peekIDX(bytes.NewReader(b)) },
			func() (dataInfo, error) { return peekNPY(bytes.NewReader(b)) },
			func() (dataInfo, error) { return peekCSV(bytes.NewReader(b), len(b) > 0 && b[0] == 'h') },
		} {
			info, err := peek()
			if err != nil {
				continue
			}
			if info.features < 1 || info.features > MaxInputSize || info.records < -1 {
				t.Fatalf("implausible header %+v", info)
			}
		}
	})
}
