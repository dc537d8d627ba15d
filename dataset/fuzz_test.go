package dataset

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/vaec/vaec/ir"
)

// fuzzRead runs one reader on data from memory and checks that it either
// fails with a located *Error or returns a consistent table. Each input is
// read twice: raw (as labels are) and converted to float32 (as data is),
// with the header rule and missing-value rule the fuzzer chose.
func fuzzRead(t *testing.T, format ir.Format, data []byte, start, limit uint16, header bool) {
	fuzzReadWith(t, format, data, &request{start: int(start % 8), limit: int(limit % 8), header: headerRuleOf(header), records: -1})
	fuzzReadWith(t, format, data, &request{start: int(start % 8), limit: int(limit % 8), header: headerRuleOf(header), records: -1,
		conv: &conversion{scale: 0.5, offset: 1}, missing: ir.Missing(start % 2), fill: []float64{0.5, 1, 2, 3, 4, 5, 6, 7}[:min(8, int(limit%9))]})
}

func headerRuleOf(header bool) headerRule {
	if header {
		return headerYes
	}
	return headerAuto
}

func fuzzReadWith(t *testing.T, format ir.Format, data []byte, q *request) {
	s, err := newStream("fuzz", bytes.NewReader(data), int64(len(data)))
	if err == nil {
		if q.fill != nil {
			// The fill must have one value per feature: resolved once
			// the width is known, as Load's caller guarantees.
			q.checkD = func(d int) string {
				if len(q.fill) < d {
					q.fill = nil
				} else {
					q.fill = q.fill[:d]
				}
				return ""
			}
		}
		var tab *table
		tab, err = readStream(s, format, q)
		if err == nil {
			if tab.count <= 0 || tab.first != q.start || tab.first+tab.count > tab.total || tab.d < 0 {
				t.Fatalf("inconsistent table: first %d count %d total %d d %d for start %d limit %d", tab.first, tab.count, tab.total, tab.d, q.start, q.limit)
			}
			if q.conv != nil {
				if len(tab.x) != tab.count*tab.d {
					t.Fatalf("%d values for %d records of %d", len(tab.x), tab.count, tab.d)
				}
				if i := finite(tab.x); i >= 0 && !(q.missing == ir.MissingMean && q.fill == nil && tab.x[i] != tab.x[i]) {
					t.Fatalf("value %d is %v", i, tab.x[i])
				}
				return
			}
			if tab.vals == nil && len(tab.data) != tab.count*tab.d*tab.dt.width() {
				t.Fatalf("%d data bytes for %d records of %d %s", len(tab.data), tab.count, tab.d, tab.dt)
			}
			if tab.vals != nil && (len(tab.vals) != tab.count*tab.d || len(tab.lines) != tab.count) {
				t.Fatalf("%d values and %d lines for %d records of %d", len(tab.vals), len(tab.lines), tab.count, tab.d)
			}
			labels, ierr := tab.ints()
			if ierr == nil && len(labels) != tab.count*tab.d {
				t.Fatalf("%d labels for %d records of %d", len(labels), tab.count, tab.d)
			}
			if ee := (*Error)(nil); ierr != nil && !errors.As(ierr, &ee) {
				t.Fatalf("conversion error %v is %T, not *Error", ierr, ierr)
			}
			return
		}
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v is %T, not *Error", err, err)
	}
	if e.File != "fuzz" || e.Msg == "" {
		t.Fatalf("error without file or message: %#v", e)
	}
}

// seed is one input of the fuzz targets. The seeds are also written to
// testdata/seeds (TestSeedFiles) so that cmd/vaec can check that `vaec
// build` and `vaec train` accept and refuse each of them alike.
type seed struct {
	name         string
	data         []byte
	start, limit uint16
	header       bool
}

func idxSeeds() []seed {
	var out []seed
	for _, kind := range []string{"u1", "i1", "i2", "i4", "f4", "f8"} {
		raw := encodeIDX(kind, []int{3, 2}, ramp(6, -2))
		out = append(out, seed{"idx-" + kind, raw, 0, 0, false}, seed{"idx-" + kind + "-gz", gzipped(raw), 1, 1, false})
	}
	return append(out,
		seed{"idx-u1-flat", encodeIDX("u1", []int{4}, ramp(4, 0)), 2, 0, false},
		seed{"idx-truncated", []byte{0, 0, 8, 2, 0x00, 0x1e, 0x84, 0x80, 0, 0, 0x03, 0x10, 1, 2, 3}, 0, 0, false})
}

func npySeeds() []seed {
	var out []seed
	for i, descr := range []string{"<f4", ">f8", "|u1", "<i8", ">u2", "<f2", "|b1"} {
		raw := encodeNPY(1, descr, false, []int{2, 3}, ramp(6, 0))
		name := fmt.Sprintf("npy-%d", i)
		out = append(out, seed{name, raw, 0, 0, false},
			seed{name + "-v3", encodeNPY(3, descr, false, []int{6}, ramp(6, 0)), 1, 2, false},
			seed{name + "-gz", gzipped(raw), 1, 0, false})
	}
	return append(out,
		seed{"npy-structured", rawNPY("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (0,)}", nil), 0, 0, false},
		seed{"npy-long-dims", rawNPY("{'descr': '<f8', 'fortran_order': False, 'shape': (2L, 1L), }\n", make([]byte, 16)), 0, 0, false})
}

func csvSeeds() []seed {
	return []seed{
		{"csv-plain", []byte("1,2,3\n4,5,6\n"), 0, 0, false},
		{"csv-header", []byte("a,b\n1,2\n3,4\n"), 1, 1, true},
		{"csv-bom-quotes-inf", []byte("\ufeff 1.5, -2e3\r\n\r\n\"3\",inf\n"), 0, 0, false},
		{"csv-no-newline", []byte("1\n2\n3"), 2, 0, false},
		{"csv-gz", gzipped([]byte("0,1\n2,3\n")), 0, 0, false},
		// Issue 13's real tables: a header told from its contents, one
		// forced where its names look like numbers, missing and
		// non-numeric cells, quoted names, a header with no records.
		{"csv-header-guessed", []byte("id,\"mean radius\",label\n7,1.5,0\n8,2.5,1\n"), 0, 0, false},
		{"csv-header-numeric-names", []byte("1,2\n3,4\n"), 0, 1, true},
		{"csv-missing", []byte("a,b\n1,\n,NaN\n3,4\n"), 1, 0, false},
		{"csv-categorical", []byte("x,kind\n1,red\n2,blue\n"), 0, 0, false},
		{"csv-mixed-first-line", []byte("1,b\n2,3\n"), 0, 0, false},
		{"csv-header-only", []byte("a,b\n"), 0, 0, false},
		{"csv-header-gz-bom", gzipped([]byte("\ufeffa;b,c\n1,2\n")), 0, 0, false},
	}
}

func FuzzIDX(f *testing.F) {
	for _, s := range idxSeeds() {
		f.Add(s.data, s.start, s.limit)
	}
	f.Fuzz(func(t *testing.T, data []byte, start, limit uint16) {
		fuzzRead(t, ir.FormatIDX, data, start, limit, false)
	})
}

func FuzzNPY(f *testing.F) {
	for _, s := range npySeeds() {
		f.Add(s.data, s.start, s.limit)
	}
	f.Fuzz(func(t *testing.T, data []byte, start, limit uint16) {
		fuzzRead(t, ir.FormatNPY, data, start, limit, false)
	})
}

func FuzzCSV(f *testing.F) {
	for _, s := range csvSeeds() {
		f.Add(s.data, s.start, s.limit, s.header)
	}
	f.Fuzz(func(t *testing.T, data []byte, start, limit uint16, header bool) {
		fuzzRead(t, ir.FormatCSV, data, start, limit, header)
	})
}

var updateSeeds = flag.Bool("update-seeds", false, "rewrite testdata/seeds from the fuzz seeds")

// TestSeedFiles keeps testdata/seeds equal to the fuzz targets' seeds: one
// file per seed, named <seed>[.header].<ext> (start and limit are the
// fuzzer's business; the files are read whole).
func TestSeedFiles(t *testing.T) {
	dir := filepath.Join("testdata", "seeds")
	want := map[string][]byte{}
	for _, group := range []struct {
		ext   string
		seeds []seed
	}{{"idx", idxSeeds()}, {"npy", npySeeds()}, {"csv", csvSeeds()}} {
		for _, s := range group.seeds {
			name := s.name
			if s.header {
				name += ".header"
			}
			want[name+"."+group.ext] = s.data
		}
	}
	if *updateSeeds {
		os.RemoveAll(dir)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, data := range want {
			if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("%v (run with -update-seeds)", err)
	}
	if len(entries) != len(want) {
		t.Errorf("%s holds %d files, the fuzz targets have %d seeds (run with -update-seeds)", dir, len(entries), len(want))
	}
	for name, data := range want {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("%s differs from its fuzz seed (run with -update-seeds)", name)
		}
	}
}
