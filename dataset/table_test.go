package dataset

import (
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/vaec/vaec/ir"
)

// TestCSVTables: header rules, column selection and missing values, read
// through Load as training reads them.
func TestCSVTables(t *testing.T) {
	const table = "id,a,b,label\n1,0.5,10,x\n2,,20,y\n3,1.5,NaN,z\n"
	nan := float32(math.NaN())
	for _, c := range []struct {
		name  string
		data  string
		src   ir.Source
		in    ir.Input
		x     []float32 // NaN compares equal to NaN here
		names []string
		err   string
	}{
		{name: "exclude by name, fill", data: table, src: ir.Source{Exclude: []ir.Column{{Name: "id"}, {Name: "label"}}},
			in: ir.Input{Missing: ir.MissingMean, Fill: []float64{1, 15}}, x: []float32{0.5, 10, 1, 20, 1.5, 15}, names: []string{"a", "b"}},
		{name: "columns by index and name, NaN kept for fitting", data: table, src: ir.Source{Columns: []ir.Column{{Index: 2}, {Name: "a"}}},
			in: ir.Input{Missing: ir.MissingMean}, x: []float32{10, 0.5, 20, nan, nan, 1.5}, names: []string{"b", "a"}},
		{name: "missing refused", data: table, src: ir.Source{Columns: []ir.Column{{Name: "a"}, {Name: "b"}}},
			err: `line 3, column 2 ("a"): empty (add missing: mean`},
		{name: "fill scaled like the data", data: "1,\n,4\n", in: ir.Input{Scale: 2, Offset: 1, Missing: ir.MissingMean, Fill: []float64{5, 6}},
			x: []float32{3, 13, 11, 9}},
		{name: "numeric names need header: true", data: "1,2\n3,4\n", src: ir.Source{CSVHeader: true}, x: []float32{3, 4}, names: []string{"1", "2"}},
		{name: "by name without a header", data: "1,2\n3,4\n", src: ir.Source{Columns: []ir.Column{{Name: "a"}, {Index: 1}}},
			err: `columns: column "a" is chosen by name, but the file has no header line`},
		{name: "duplicate header name", data: "a,a\n1,2\n", src: ir.Source{Columns: []ir.Column{{Name: "a"}, {Index: 1}}},
			err: `the header names column "a" twice (columns 0 and 1)`},
		{name: "selected twice", data: "a,b\n1,2\n", src: ir.Source{Columns: []ir.Column{{Name: "a"}, {Index: 0}}},
			err: `columns: column 0 ("a") is selected twice`},
		{name: "exclude everything", data: "a,b\n1,2\n", src: ir.Source{Exclude: []ir.Column{{Name: "a"}, {Index: 1}}},
			err: `exclude leaves none of the file's 2 columns`},
		{name: "categorical in a selected column", data: table, src: ir.Source{Columns: []ir.Column{{Name: "label"}, {Name: "id"}}},
			err: `line 2, column 4 ("label"): "x" is not a number (categorical columns are not supported: leave the column out with exclude: ["label"]`},
		{name: "text in a left-out column is never read", data: table, src: ir.Source{Columns: []ir.Column{{Name: "id"}}}, in: ir.Input{},
			x: []float32{1, 2, 3}, names: []string{"id"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := writeFile(t, "x.csv", []byte(c.data))
			c.src.Path = path
			d := 2 // features per record
			if len(c.names) == 1 {
				d = 1
			}
			in := c.in
			in.Shape, in.Size = ir.Shape{d}, d
			if in.Scale == 0 {
				in.Scale = 1
			}
			set, err := Load(c.src, in)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want one containing %s", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(set.X) != len(c.x) {
				t.Fatalf("got %v, want %v", set.X, c.x)
			}
			for i := range c.x {
				if set.X[i] != c.x[i] && !(set.X[i] != set.X[i] && c.x[i] != c.x[i]) {
					t.Fatalf("got %v, want %v", set.X, c.x)
				}
			}
			if !reflect.DeepEqual(set.Columns, c.names) {
				t.Errorf("columns %q, want %q", set.Columns, c.names)
			}
		})
	}
}

// TestAdapt: a file given on the command line reads by the model's column
// names, whole when it has exactly the model's features, else as the
// training source selects.
func TestAdapt(t *testing.T) {
	in := ir.Input{Shape: ir.Shape{2}, Size: 2, Scale: 1, Columns: []string{"a", "b"}}
	train := ir.Source{Exclude: []ir.Column{{Index: 0}}}
	for _, c := range []struct{ name, data string }{
		{"names in another order", "b,id,a\n20,1,10\n"},
		{"features alone, no header", "10,20\n"},
		{"features alone, other names", "x_0,x_1\n10,20\n"},
		{"training layout, no header", "1,10,20\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			src := train
			src.Path = writeFile(t, "x.csv", []byte(c.data))
			set, err := LoadWith(src, in, Options{Adapt: true})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(set.X, []float32{10, 20}) {
				t.Errorf("got %v, want [10 20]", set.X)
			}
		})
	}
}

// TestPartition: Partition chooses exactly Split's examples.
func TestPartition(t *testing.T) {
	mk := func() *Set {
		s := &Set{N: 50, D: 3, X: make([]float32, 150), Labels: make([]int, 50)}
		for i := range s.X {
			s.X[i] = float32(i)
		}
		for i := range s.Labels {
			s.Labels[i] = i
		}
		return s
	}
	for _, frac := range []float64{0, 0.1, 0.5, 1} {
		wt, wv := mk().Split(frac, 7)
		gt, gv := mk().Partition(frac, 7)
		if !reflect.DeepEqual(wt, gt) || !reflect.DeepEqual(wv, gv) {
			t.Errorf("Partition(%v) = %v, %v; Split gives %v, %v", frac, gt.Labels, gv.Labels, wt.Labels, wv.Labels)
		}
	}
}

// TestProgress: a load reports its records, ending with all of them.
func TestProgress(t *testing.T) {
	for _, c := range []struct {
		file string
		data []byte
	}{
		{"x.npy", encodeNPY(1, "<f4", false, []int{3000, 400}, ramp(1200000, 0))},
		{"x.csv", []byte(strings.Repeat("1,2\n", 10000))},
	} {
		path := writeFile(t, c.file, c.data)
		var last Progress
		calls := 0
		d := 400
		if strings.HasSuffix(c.file, ".csv") {
			d = 2
		}
		_, err := LoadWith(ir.Source{Path: path}, ir.Input{Shape: ir.Shape{d}, Size: d, Scale: 1}, Options{Progress: func(p Progress) { last = p; calls++ }})
		if err != nil {
			t.Fatal(err)
		}
		if calls < 2 || last.Records != last.Total || last.Path != path || last.Bytes != int64(len(c.data)) {
			t.Errorf("%s: %d calls, last %+v", c.file, calls, last)
		}
	}
}
