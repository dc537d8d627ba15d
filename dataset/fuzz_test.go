package dataset

import (
	"bytes"
	"errors"
	"testing"

	"github.com/vaec/vaec/ir"
)

// fuzzRead runs one reader on data from memory and checks that it either
// fails with a located *Error or returns a consistent table.
func fuzzRead(t *testing.T, format ir.Format, data []byte, start, limit uint16, header bool) {
	q := &request{start: int(start % 8), limit: int(limit % 8), csvHeader: header, records: -1}
	s, err := newStream("fuzz", bytes.NewReader(data), int64(len(data)))
	if err == nil {
		var tab *table
		tab, err = readStream(s, format, q)
		if err == nil {
			if tab.count <= 0 || tab.first != q.start || tab.first+tab.count > tab.total || tab.d < 0 {
				t.Fatalf("inconsistent table: first %d count %d total %d d %d for start %d limit %d", tab.first, tab.count, tab.total, tab.d, q.start, q.limit)
			}
			if tab.vals == nil && len(tab.data) != tab.count*tab.d*tab.dt.width() {
				t.Fatalf("%d data bytes for %d records of %d %s", len(tab.data), tab.count, tab.d, tab.dt)
			}
			if tab.vals != nil && (len(tab.vals) != tab.count*tab.d || len(tab.lines) != tab.count) {
				t.Fatalf("%d values and %d lines for %d records of %d", len(tab.vals), len(tab.lines), tab.count, tab.d)
			}
			x, ferr := tab.floats(0.5, 1)
			if ferr == nil && len(x) != tab.count*tab.d {
				t.Fatalf("%d floats for %d records of %d", len(x), tab.count, tab.d)
			}
			labels, ierr := tab.ints()
			if ierr == nil && len(labels) != tab.count*tab.d {
				t.Fatalf("%d labels for %d records of %d", len(labels), tab.count, tab.d)
			}
			for _, e := range []error{ferr, ierr} {
				if ee := (*Error)(nil); e != nil && !errors.As(e, &ee) {
					t.Fatalf("conversion error %v is %T, not *Error", e, e)
				}
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

func FuzzIDX(f *testing.F) {
	for _, kind := range []string{"u1", "i1", "i2", "i4", "f4", "f8"} {
		raw := encodeIDX(kind, []int{3, 2}, ramp(6, -2))
		f.Add(raw, uint16(0), uint16(0))
		f.Add(gzipped(raw), uint16(1), uint16(1))
	}
	f.Add(encodeIDX("u1", []int{4}, ramp(4, 0)), uint16(2), uint16(0))
	f.Add([]byte{0, 0, 8, 2, 0x00, 0x1e, 0x84, 0x80, 0, 0, 0x03, 0x10, 1, 2, 3}, uint16(0), uint16(0))
	f.Fuzz(func(t *testing.T, data []byte, start, limit uint16) {
		fuzzRead(t, ir.FormatIDX, data, start, limit, false)
	})
}

func FuzzNPY(f *testing.F) {
	for _, descr := range []string{"<f4", ">f8", "|u1", "<i8", ">u2", "<f2", "|b1"} {
		raw := encodeNPY(1, descr, false, []int{2, 3}, ramp(6, 0))
		f.Add(raw, uint16(0), uint16(0))
		f.Add(encodeNPY(3, descr, false, []int{6}, ramp(6, 0)), uint16(1), uint16(2))
		f.Add(gzipped(raw), uint16(1), uint16(0))
	}
	f.Add(rawNPY("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (0,)}", nil), uint16(0), uint16(0))
	f.Add(rawNPY("{'descr': '<f8', 'fortran_order': False, 'shape': (2L, 1L), }\n", make([]byte, 16)), uint16(0), uint16(0))
	f.Fuzz(func(t *testing.T, data []byte, start, limit uint16) {
		fuzzRead(t, ir.FormatNPY, data, start, limit, false)
	})
}

func FuzzCSV(f *testing.F) {
	f.Add([]byte("1,2,3\n4,5,6\n"), uint16(0), uint16(0), false)
	f.Add([]byte("a,b\n1,2\n3,4\n"), uint16(1), uint16(1), true)
	f.Add([]byte("\ufeff 1.5, -2e3\r\n\r\n\"3\",inf\n"), uint16(0), uint16(0), false)
	f.Add([]byte("1\n2\n3"), uint16(2), uint16(0), false)
	f.Add(gzipped([]byte("0,1\n2,3\n")), uint16(0), uint16(0), false)
	f.Fuzz(func(t *testing.T, data []byte, start, limit uint16, header bool) {
		fuzzRead(t, ir.FormatCSV, data, start, limit, header)
	})
}
