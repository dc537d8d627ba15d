package dataset

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/vaec/vaec/ir"
)

func input(shape ...int) ir.Input {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return ir.Input{Shape: shape, Size: n, Scale: 1}
}

// scaled is what Load must return for raw values: float32(v*scale + offset).
func scaled(vals []float64, scale, offset float64) []float32 {
	out := make([]float32, len(vals))
	for i, v := range vals {
		out[i] = float32(v*scale + offset)
	}
	return out
}

func TestLoadFormats(t *testing.T) {
	type tc struct {
		name   string
		file   string // name, which may set the format by inference
		format ir.Format
		data   []byte
		vals   []float64 // raw values of the whole file
		d      int
	}
	var cases []tc
	signed := map[string]bool{"i1": true, "i2": true, "i4": true, "i8": true, "f2": true, "f4": true, "f8": true}
	from := func(kind string) float64 {
		if signed[kind] {
			return -5
		}
		return 0
	}
	// IDX: every element type, plain and gzip, 3 records of 2x2.
	for _, kind := range []string{"u1", "i1", "i2", "i4", "f4", "f8"} {
		vals := ramp(12, from(kind))
		raw := encodeIDX(kind, []int{3, 2, 2}, vals)
		cases = append(cases,
			tc{"idx/" + kind, "x.idx", ir.FormatIDX, raw, vals, 4},
			tc{"idx.gz/" + kind, "x-idx3-ubyte.gz", ir.FormatNone, gzipped(raw), vals, 4})
	}
	// NPY: every element type, both byte orders, versions 1 to 3, and gzip.
	for _, kind := range []string{"u1", "i1", "b1", "u2", "i2", "u4", "i4", "u8", "i8", "f2", "f4", "f8"} {
		vals := ramp(12, from(kind))
		if kind == "b1" {
			vals = []float64{0, 1, 1, 0, 0, 0, 1, 1, 1, 1, 0, 1}
		}
		orders := []string{"<", ">"}
		if strings.HasSuffix(kind, "1") {
			orders = []string{"|"}
		}
		for _, o := range orders {
			for major := 1; major <= 3; major++ {
				raw := encodeNPY(major, o+kind, false, []int{3, 4}, vals)
				cases = append(cases, tc{fmt.Sprintf("npy%d/%s%s", major, o, kind), "x.npy", ir.FormatNPY, raw, vals, 4})
			}
		}
	}
	f4 := ramp(12, -3)
	cases = append(cases,
		tc{"npy.gz", "x.npy.gz", ir.FormatNone, gzipped(encodeNPY(1, "<f4", false, []int{3, 2, 2}, f4)), f4, 4},
		tc{"npy/1-d", "x.npy", ir.FormatNone, encodeNPY(1, "<f8", false, []int{5}, ramp(5, 0)), ramp(5, 0), 1},
		tc{"npy/long suffix", "x.npy", ir.FormatNone, rawNPY("{'descr': '<f8', 'fortran_order': False, 'shape': (2L, 1L), }\n", encodeNPY(1, "<f8", false, []int{2}, []float64{1, 2})[128:]), []float64{1, 2}, 1},
		tc{"npy/double quotes, no spaces", "x.npy", ir.FormatNone, rawNPY(`{"shape":(2,),"fortran_order":False,"descr":"<f8"}`, encodeNPY(1, "<f8", false, []int{2}, []float64{1, 2})[128:]), []float64{1, 2}, 1},
		tc{"csv", "x.csv", ir.FormatNone, []byte("1,2,3,4\n5,6,7,8\n-1.5,2e3,0,.25\n"), []float64{1, 2, 3, 4, 5, 6, 7, 8, -1.5, 2000, 0, .25}, 4},
		tc{"csv/spaces crlf blank bom", "x.txt", ir.FormatCSV, []byte("\ufeff 1, 2 ,3,4\r\n\r\n5,6,7,8\r\n"), ramp(8, 1), 4},
		tc{"csv/no final newline", "x.csv", ir.FormatNone, []byte("1\n2\n3"), ramp(3, 1), 1},
		tc{"csv.gz", "x.csv.gz", ir.FormatNone, gzipped([]byte("0,1\n2,3\n")), ramp(4, 0), 2},
	)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := writeFile(t, c.file, c.data)
			n := len(c.vals) / c.d
			for _, r := range []struct{ start, limit int }{{0, 0}, {1, 0}, {0, 1}, {n - 1, 1}} {
				for _, sc := range []struct{ scale, offset float64 }{{1, 0}, {0.5, -1}} {
					in := ir.Input{Shape: []int{c.d}, Size: c.d, Scale: sc.scale, Offset: sc.offset}
					set, err := Load(ir.Source{Path: path, Format: c.format, Start: r.start, Limit: r.limit}, in)
					if err != nil {
						t.Fatalf("range %v: %v", r, err)
					}
					cnt := r.limit
					if cnt == 0 {
						cnt = n - r.start
					}
					want := scaled(c.vals[r.start*c.d:(r.start+cnt)*c.d], sc.scale, sc.offset)
					if set.N != cnt || set.D != c.d || !slices.Equal(set.X, want) || set.Labels != nil {
						t.Fatalf("range %v scale %v: got N=%d D=%d X=%v labels=%v, want N=%d D=%d X=%v", r, sc, set.N, set.D, set.X, set.Labels, cnt, c.d, want)
					}
				}
			}
		})
	}
}

func TestLoadLabels(t *testing.T) {
	data := writeFile(t, "x.npy", encodeNPY(1, "<f4", false, []int{4, 2}, ramp(8, 0)))
	for _, c := range []struct {
		name, file string
		format     ir.Format
		data       []byte
	}{
		{"idx u1", "y-idx1-ubyte", ir.FormatNone, encodeIDX("u1", []int{4}, []float64{3, 1, 4, 1})},
		{"idx i4 gz", "y.idx.gz", ir.FormatNone, gzipped(encodeIDX("i4", []int{4}, []float64{3, 1, 4, 1}))},
		{"idx f8 integral", "y.idx", ir.FormatNone, encodeIDX("f8", []int{4}, []float64{3, 1, 4, 1})},
		{"npy i8 [N,1]", "y.npy", ir.FormatNone, encodeNPY(1, "<i8", false, []int{4, 1}, []float64{3, 1, 4, 1})},
		{"npy >u8", "y.npy", ir.FormatNone, encodeNPY(2, ">u8", false, []int{4}, []float64{3, 1, 4, 1})},
		{"csv", "labels", ir.FormatCSV, []byte("3\n1\n4\n1\n")},
	} {
		t.Run(c.name, func(t *testing.T) {
			lab := writeFile(t, c.file, c.data)
			set, err := Load(ir.Source{Path: data, Labels: lab, LabelFormat: c.format, Start: 1, Limit: 2}, input(2))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(set.Labels, []int{1, 4}) {
				t.Fatalf("labels %v, want [1 4]", set.Labels)
			}
		})
	}
	// Both CSV with a header: CSVHeader applies to both files.
	x := writeFile(t, "x.csv", []byte("a,b\n1,2\n3,4\n"))
	y := writeFile(t, "y.csv", []byte("label\n7\n8\n"))
	set, err := Load(ir.Source{Path: x, Labels: y, CSVHeader: true}, input(2))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(set.X, []float32{1, 2, 3, 4}) || !slices.Equal(set.Labels, []int{7, 8}) {
		t.Fatalf("got X=%v labels=%v", set.X, set.Labels)
	}
}

func TestLoadErrors(t *testing.T) {
	u1 := encodeIDX("u1", []int{3, 4}, ramp(12, 0))
	npy := encodeNPY(1, "<f4", false, []int{3, 4}, ramp(12, 0))
	nan := encodeNPY(1, "<f8", false, []int{3, 4}, append(ramp(6, 0), math.NaN(), 0, 0, 0, 0, 0))
	// 2,000,000 records of 784 values declared, 3 bytes present.
	hugeIDX := []byte{0, 0, 0x08, 2, 0x00, 0x1e, 0x84, 0x80, 0, 0, 0x03, 0x10, 1, 2, 3}
	type tc struct {
		name   string
		file   string
		data   []byte
		src    ir.Source // Path filled in; Labels names a second file
		labels []byte
		d      int
		want   []string // substrings of the message
		offset int64    // Error.Offset, when want has no line (-2: don't check)
		line   int      // Error.Line
		column int      // Error.Column
	}
	cases := []tc{
		{name: "idx truncated", file: "x.idx", data: u1[:len(u1)-3], d: 4, want: []string{"x.idx", "truncated", "declares 3 records"}, offset: int64(len(u1) - 3)},
		{name: "idx truncated header", file: "x.idx", data: u1[:9], d: 4, want: []string{"truncated", "IDX dimensions"}, offset: 9},
		{name: "idx empty", file: "x.idx", data: nil, d: 4, want: []string{"truncated", "magic"}, offset: 0},
		{name: "idx trailing", file: "x.idx", data: append(slices.Clip(u1), 9, 9), d: 4, want: []string{"2 bytes of trailing data"}, offset: int64(len(u1))},
		{name: "idx bad magic", file: "x.idx", data: append([]byte{1}, u1[1:]...), d: 4, want: []string{"not an IDX file"}, offset: 0},
		{name: "npy read as idx", file: "x.npy.gz", data: gzipped(npy), src: ir.Source{Format: ir.FormatIDXGz}, d: 4, want: []string{"not an IDX file", "give its format as npy"}, offset: 0},
		{name: "idx bad type", file: "x.idx", data: append([]byte{0, 0, 7}, u1[3:]...), d: 4, want: []string{"type code 0x07"}, offset: 2},
		{name: "idx zero dims", file: "x.idx", data: []byte{0, 0, 8, 0}, d: 4, want: []string{"0 dimensions"}, offset: 3},
		{name: "idx huge header", file: "x.idx", data: hugeIDX, d: 784, want: []string{"truncated", "the file holds 3"}, offset: int64(len(hugeIDX))},
		{name: "idx huge header gz", file: "x.idx.gz", data: gzipped(hugeIDX), d: 784, want: []string{"truncated", "uncompressed offset 15"}, offset: 15},
		{name: "idx overflow shape", file: "x.idx", data: []byte{0, 0, 8, 3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, d: 4, want: []string{"larger than"}, offset: -2},
		{name: "idx gz truncated", file: "x.idx.gz", data: gzipped(u1)[:20], d: 4, want: []string{"uncompressed offset"}, offset: -2},
		{name: "idx gz corrupt", file: "x.idx.gz", data: slices.Concat(gzipped(u1)[:len(gzipped(u1))-8], []byte{1, 2, 3, 4, 5, 6, 7, 8}), d: 4, want: []string{"gzip", "checksum"}, offset: -2},
		{name: "wrong size", file: "x.idx", data: u1, d: 784, want: []string{"x.idx", "records have 4 values, the spec's input shape [784] needs 784"}, offset: -1},
		{name: "out of range", file: "x.idx", data: u1, src: ir.Source{Start: 2, Limit: 2}, d: 4, want: []string{"records [2, 4) are out of range: the file has 3 records"}, offset: -1},
		{name: "start past end", file: "x.idx", data: u1, src: ir.Source{Start: 3}, d: 4, want: []string{"no records selected"}, offset: -1},
		{name: "negative start", file: "x.idx", data: u1, src: ir.Source{Start: -1}, d: 4, want: []string{"out of range"}, offset: -1},
		{name: "npy bad magic", file: "x.npy", data: append([]byte("\x93NUMPZ"), npy[6:]...), d: 4, want: []string{"not an NPY file"}, offset: 0},
		{name: "npy version", file: "x.npy", data: slices.Concat([]byte("\x93NUMPY\x04\x00"), npy[8:]), d: 4, want: []string{"version 4.0"}, offset: 6},
		{name: "npy fortran", file: "x.npy", data: encodeNPY(1, "<f4", true, []int{3, 4}, ramp(12, 0)), d: 4, want: []string{"fortran_order is True"}, offset: -2},
		{name: "npy structured", file: "x.npy", data: rawNPY("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (0,)}", nil), d: 1, want: []string{"structured dtypes"}, offset: 10 + 10},
		{name: "npy complex", file: "x.npy", data: encodeNPY(1, "<c8", false, []int{0}, nil), d: 1, want: []string{`unsupported dtype "<c8"`}, offset: 20},
		{name: "npy no shape", file: "x.npy", data: rawNPY("{'descr': '<f4', 'fortran_order': False}", nil), d: 1, want: []string{"no 'shape'"}, offset: 10},
		{name: "npy duplicate key", file: "x.npy", data: rawNPY("{'descr': '<f4', 'descr': '<f4'}", nil), d: 1, want: []string{"duplicate key"}, offset: 10 + 17},
		{name: "npy deep", file: "x.npy", data: rawNPY("{'shape': "+strings.Repeat("(", 100), nil), d: 1, want: []string{"nested"}, offset: -2},
		{name: "npy unterminated", file: "x.npy", data: rawNPY("{'descr: 1}", nil), d: 1, want: []string{"unterminated string"}, offset: 11},
		{name: "npy big shape entry", file: "x.npy", data: rawNPY("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}", nil), d: 1, want: []string{"bad integer"}, offset: -2},
		{name: "npy scalar", file: "x.npy", data: encodeNPY(1, "<f4", false, nil, []float64{1}), d: 1, want: []string{"scalar"}, offset: -2},
		{name: "npy header garbage", file: "x.npy", data: []byte("\x93NUMPY\x01\x00\x05\x00{'a' "), d: 1, want: []string{"expected ':'"}, offset: 15},
		{name: "npy header too long", file: "x.npy", data: []byte("\x93NUMPY\x02\x00\xff\xff\xff\x7f{"), d: 1, want: []string{"header length 2147483647"}, offset: -2},
		{name: "npy truncated", file: "x.npy", data: npy[:len(npy)-1], d: 4, want: []string{"truncated"}, offset: int64(len(npy) - 1)},
		{name: "npy nan", file: "x.npy", data: nan, d: 4, want: []string{"record 1 value 2 is NaN"}, offset: 128 + 6*8},
		{name: "csv ragged", file: "x.csv", data: []byte("1,2\n3,4\n5\n"), d: 2, want: []string{"line 3", "has 1 columns, the first record (line 1) has 2"}, line: 3},
		{name: "csv not a number", file: "x.csv", data: []byte("1,2\n3,x4\n"), d: 2, want: []string{"line 2, column 2", `"x4" is not a number`}, line: 2, column: 2},
		{name: "csv empty field", file: "x.csv", data: []byte("1,2,\n"), d: 3, want: []string{"line 1, column 3"}, line: 1, column: 3},
		{name: "csv header forced off", file: "x.csv", data: []byte("a,b\n1,2\n"), src: ir.Source{CSVNoHeader: true}, d: 2, want: []string{"line 1, column 1", `"a" is not a number`, "remove header: false"}, line: 1, column: 1},
		{name: "csv mixed first line", file: "x.csv", data: []byte("1,b\n1,2\n"), d: 2, want: []string{"line 1, column 2", `"b" is not a number`, "set header: true"}, line: 1, column: 2},
		{name: "csv categorical", file: "x.csv", data: []byte("a,kind\n1,2\n3,red\n"), d: 2, want: []string{`line 3, column 2 ("kind")`, `"red" is not a number`, `exclude: ["kind"]`}, line: 3, column: 2},
		{name: "csv NaN", file: "x.csv", data: []byte("1,2\n3,NaN\n"), d: 2, want: []string{"line 2, column 2", "missing value", "missing: mean"}, line: 2, column: 2},
		{name: "csv header only", file: "x.csv", data: []byte("a,b\n"), src: ir.Source{CSVHeader: true}, d: 2, want: []string{"no records"}, offset: -1},
		{name: "csv bad quote", file: "x.csv", data: []byte("1,2\n\"3,4\n"), d: 2, want: []string{"line 2"}, line: 2},
		{name: "csv wrong size", file: "x.csv", data: []byte("1,2\n"), d: 3, want: []string{"line 1", "records have 2 values"}, line: 1},
		{name: "csv inf", file: "x.csv", data: []byte("1,2\n3,inf\n"), d: 2, want: []string{"line 2, column 2", "+Inf"}, line: 2, column: 2},
		{name: "csv float range", file: "x.csv", data: []byte("1,2\n3,1e999\n"), d: 2, want: []string{"line 2, column 2", "out of the float64 range"}, line: 2, column: 2},
		{name: "unknown format", file: "x.bin", data: u1, d: 4, want: []string{"cannot tell the format"}, offset: -1},
		{name: "labels count", file: "x.idx", data: u1, src: ir.Source{Labels: "y.idx"}, labels: encodeIDX("u1", []int{4}, ramp(4, 0)), d: 4, want: []string{"y.idx", "has 4 records, but data file", "x.idx has 3"}, offset: -1},
		{name: "labels width", file: "x.idx", data: u1, src: ir.Source{Labels: "y.idx"}, labels: encodeIDX("u1", []int{3, 2}, ramp(6, 0)), d: 4, want: []string{"labels have 2 values per record"}, offset: -1},
		{name: "labels fractional", file: "x.idx", data: u1, src: ir.Source{Labels: "y.npy"}, labels: encodeNPY(1, "<f4", false, []int{3}, []float64{1, 2.5, 3}), d: 4, want: []string{"y.npy", "label of record 1 is 2.5"}, offset: 128 + 4},
		{name: "labels int64 range", file: "x.idx", data: u1, src: ir.Source{Labels: "y.npy"}, labels: encodeNPY(1, "<i8", false, []int{3}, []float64{1, 1 << 40, 3}), d: 4, want: []string{"out of the int32 range"}, offset: 128 + 8},
		{name: "labels csv", file: "x.idx", data: u1, src: ir.Source{Labels: "y.csv"}, labels: []byte("1\n2\nthree\n"), d: 4, want: []string{"y.csv: line 3, column 1"}, line: 3, column: 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := c.src
			src.Path = writeFile(t, c.file, c.data)
			if src.Labels != "" {
				src.Labels = writeFile(t, src.Labels, c.labels)
			}
			set, err := Load(src, input(c.d))
			if err == nil {
				t.Fatalf("no error; got N=%d D=%d", set.N, set.D)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %q is %T, not *Error", err, err)
			}
			if c.line > 0 || c.column > 0 {
				if e.Line != c.line || e.Column != c.column {
					t.Errorf("error %q at line %d column %d, want %d, %d", err, e.Line, e.Column, c.line, c.column)
				}
			} else if c.offset != -2 && e.Offset != c.offset {
				t.Errorf("error %q at offset %d, want %d", err, e.Offset, c.offset)
			}
		})
	}
}

// rawNPY builds a version 1.0 NPY file with the given header text.
func rawNPY(header string, data []byte) []byte {
	b := append([]byte("\x93NUMPY\x01\x00"), byte(len(header)), byte(len(header)>>8))
	return append(append(b, header...), data...)
}

func TestLoadBadInput(t *testing.T) {
	path := writeFile(t, "x.idx", encodeIDX("u1", []int{1, 1}, []float64{1}))
	if _, err := Load(ir.Source{Path: path}, ir.Input{}); err == nil || !strings.Contains(err.Error(), "input size 0") {
		t.Errorf("zero input size: got %v", err)
	}
	if _, err := Load(ir.Source{Path: path + ".missing"}, input(1)); err == nil || !strings.Contains(err.Error(), "x.idx.missing") {
		t.Errorf("missing file: got %v", err)
	}
	if _, err := Load(ir.Source{Path: t.TempDir(), Format: ir.FormatIDX}, input(1)); err == nil || !strings.Contains(err.Error(), "directory") {
		t.Errorf("directory: got %v", err)
	}
	if _, err := Load(ir.Source{Path: path, Format: ir.Format(99)}, input(1)); err == nil || !strings.Contains(err.Error(), `unknown format`) {
		t.Errorf("bad format: got %v", err)
	}
}

func TestInferFormat(t *testing.T) {
	for _, c := range []struct {
		path string
		want ir.Format
	}{
		{"data/train-images-idx3-ubyte", ir.FormatIDX},
		{"t10k-images-idx3-ubyte.gz", ir.FormatIDXGz},
		{"x.idx", ir.FormatIDX},
		{"X.IDX.GZ", ir.FormatIDXGz},
		{"a/b/x.npy", ir.FormatNPY},
		{"x.npy.gz", ir.FormatNPYGz},
		{"x.csv", ir.FormatCSV},
		{"x.txt", ir.FormatCSV},
		{"x.csv.gz", ir.FormatCSVGz},
		{"x.bin", ir.FormatNone},
		{"", ir.FormatNone},
	} {
		if got := InferFormat(c.path); got != c.want {
			t.Errorf("InferFormat(%q) = %q, want %q", c.path, got, c.want)
		}
	}
}

func testSet(n, d int) *Set {
	s := &Set{X: make([]float32, n*d), N: n, D: d, Labels: make([]int, n)}
	for i := range s.X {
		s.X[i] = float32(i)
	}
	for i := range s.Labels {
		s.Labels[i] = i
	}
	return s
}

func TestRowSubset(t *testing.T) {
	s := testSet(5, 3)
	if got := s.Row(2); !slices.Equal(got, []float32{6, 7, 8}) || cap(got) != 3 {
		t.Fatalf("Row(2) = %v (cap %d), want [6 7 8] (cap 3)", got, cap(got))
	}
	sub := s.Subset([]int{4, 0, 4})
	want := &Set{X: []float32{12, 13, 14, 0, 1, 2, 12, 13, 14}, N: 3, D: 3, Labels: []int{4, 0, 4}}
	if !reflect.DeepEqual(sub, want) {
		t.Fatalf("Subset = %+v, want %+v", sub, want)
	}
	sub.X[0] = -1 // a copy, not a view
	if s.X[12] != 12 {
		t.Fatal("Subset shares memory with its source")
	}
	s.Labels = nil
	if sub := s.Subset([]int{1}); sub.Labels != nil || sub.N != 1 {
		t.Fatalf("Subset without labels = %+v", sub)
	}
	if sub := s.Subset(nil); sub.N != 0 || sub.D != 3 || len(sub.X) != 0 {
		t.Fatalf("empty Subset = %+v", sub)
	}
}

func TestSplit(t *testing.T) {
	s := testSet(100, 2)
	for _, c := range []struct {
		frac         float64
		nTrain, nVal int
	}{
		{0.1, 90, 10}, {0.25, 75, 25}, {0, 100, 0}, {-1, 100, 0}, {math.NaN(), 100, 0},
		{1, 0, 100}, {2, 0, 100}, {0.004, 100, 0}, {0.005, 99, 1}, {0.999, 0, 100},
	} {
		train, val := s.Split(c.frac, 1)
		if train.N != c.nTrain || val.N != c.nVal || train.D != 2 || val.D != 2 {
			t.Errorf("Split(%v): train %d val %d, want %d and %d", c.frac, train.N, val.N, c.nTrain, c.nVal)
			continue
		}
		// Together they hold every example once, each in the original order.
		seen := make([]bool, s.N)
		for _, part := range []*Set{train, val} {
			if !slices.IsSorted(part.Labels) {
				t.Errorf("Split(%v): order not kept: %v", c.frac, part.Labels)
			}
			for i, l := range part.Labels {
				if seen[l] || !slices.Equal(part.Row(i), s.Row(l)) {
					t.Fatalf("Split(%v): example %d duplicated or altered", c.frac, l)
				}
				seen[l] = true
			}
		}
		if slices.Contains(seen, false) {
			t.Errorf("Split(%v) lost examples", c.frac)
		}
	}
	_, a := s.Split(0.2, 42)
	_, b := s.Split(0.2, 42)
	_, other := s.Split(0.2, 43)
	if !reflect.DeepEqual(a, b) {
		t.Error("same seed gave different splits")
	}
	if reflect.DeepEqual(a.Labels, other.Labels) {
		t.Error("seeds 42 and 43 gave the same split")
	}
	// Pin the split for seed 42, so that a change of generator (which would
	// silently change every experiment's validation set) is noticed.
	if want := []int{4, 5, 13, 17, 23, 27, 32, 51, 58, 68, 69, 71, 74, 75, 85, 88, 93, 94, 96, 99}; !slices.Equal(a.Labels, want) {
		t.Errorf("seed 42 validation examples %v, want %v", a.Labels, want)
	}
}

// TestReadHeader: the header reader the compiler checks specs with reads
// the same files as Load, through the same code.
func TestReadHeader(t *testing.T) {
	for _, c := range []struct {
		name, file string
		format     ir.Format
		csvHeader  bool
		data       []byte
		want       Header
	}{
		{"idx u1", "x.idx", ir.FormatNone, false, encodeIDX("u1", []int{3, 2, 2}, ramp(12, 0)), Header{Records: 3, Features: 4, Bytes: true}},
		{"idx f4 gz", "x-idx3-ubyte.gz", ir.FormatNone, false, gzipped(encodeIDX("f4", []int{3, 2}, ramp(6, 0))), Header{Records: 3, Features: 2}},
		{"npy u1", "x.npy", ir.FormatNone, false, encodeNPY(1, "|u1", false, []int{2, 5}, ramp(10, 0)), Header{Records: 2, Features: 5, Bytes: true}},
		{"npy f8 gz named", "data", ir.FormatNPYGz, false, gzipped(encodeNPY(1, "<f8", false, []int{4, 3}, ramp(12, 0))), Header{Records: 4, Features: 3}},
		{"csv header", "x.csv", ir.FormatNone, true, []byte("a,b\n1,2\n3,4\n5,6\n"), Header{Records: 3, Features: 2, Columns: []string{"a", "b"}, FileColumns: 2}},
		{"csv header guessed", "x.csv", ir.FormatNone, false, []byte("a,b\n1,2\n"), Header{Records: 1, Features: 2, Columns: []string{"a", "b"}, Guessed: true, FileColumns: 2}},
		{"csv no header", "x.csv", ir.FormatNone, false, []byte("1,2\n3,4\n"), Header{Records: 2, Features: 2, FileColumns: 2}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := ReadHeader(writeFile(t, c.file, c.data), c.format, c.csvHeader, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("got %+v, want %+v", got, c.want)
			}
		})
	}
	path := writeFile(t, "x.csv", []byte("1,2\n3,x\n"))
	_, err := ReadHeader(path, ir.FormatNone, false, nil)
	var de *Error
	if !errors.As(err, &de) {
		t.Fatalf("bad CSV: got %v, want a *Error", err)
	}
	if d := de.Detail(); !strings.HasPrefix(d, "line 2, column 2: ") || strings.Contains(d, path) {
		t.Errorf("Detail() = %q, want the place without the file name", d)
	}
	if !strings.Contains(err.Error(), path) {
		t.Errorf("Error() = %q, want it to name %s", err, path)
	}
}
