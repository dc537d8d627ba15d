package dataset

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// readCSV reads numeric CSV: one record per line, every line with the same
// number of fields, surrounding spaces allowed, blank lines skipped. All
// lines are parsed (so a bad line anywhere is reported) but only the selected
// records are kept.
func readCSV(s *stream, q *request) (*table, error) {
	cr := csv.NewReader(s.r)
	cr.FieldsPerRecord = -1 // checked here, for a better message
	cr.ReuseRecord = true
	cr.TrimLeadingSpace = true
	t := &table{path: s.path, d: -1, csv: true}
	firstLine := 0
	keep := func(rec int) bool {
		return rec >= q.start && (q.limit == 0 || rec < q.start+q.limit)
	}
	header := q.csvHeader
	for rec := 0; ; {
		fields, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, &Error{File: s.path, Offset: -1, Line: pe.Line, Msg: fmt.Sprintf("%v (byte column %d)", pe.Err, pe.Column), Err: err}
			}
			return nil, &Error{File: s.path, Offset: -1, Msg: fmt.Sprintf("reading: %v", err), Err: err}
		}
		line, _ := cr.FieldPos(0)
		if header {
			header = false
			continue
		}
		if t.d < 0 {
			t.d, firstLine = len(fields), line
			if q.checkD != nil {
				if msg := q.checkD(t.d); msg != "" {
					return nil, &Error{File: s.path, Offset: -1, Line: line, Msg: msg}
				}
			}
		} else if len(fields) != t.d {
			return nil, &Error{File: s.path, Offset: -1, Line: line, Msg: fmt.Sprintf("has %d columns, the first record (line %d) has %d", len(fields), firstLine, t.d)}
		}
		if (rec+1)*t.d > maxElements {
			return nil, &Error{File: s.path, Offset: -1, Line: line, Msg: fmt.Sprintf("more than %d values", maxElements)}
		}
		k := keep(rec) && !q.headerOnly
		for j, f := range fields {
			v, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimPrefix(f, "\ufeff")), 64)
			if errors.Is(err, strconv.ErrRange) {
				return nil, &Error{File: s.path, Offset: -1, Line: line, Column: j + 1, Msg: fmt.Sprintf("%q is out of the float64 range", f), Err: err}
			}
			if err != nil {
				return nil, &Error{File: s.path, Offset: -1, Line: line, Column: j + 1, Msg: fmt.Sprintf("%q is not a number", f), Err: err}
			}
			if k {
				t.vals = append(t.vals, v)
			}
		}
		if k {
			t.lines = append(t.lines, line)
		}
		rec++
		t.total = rec
	}
	if t.d < 0 {
		return nil, &Error{File: s.path, Offset: -1, Msg: "no records"}
	}
	first, count, err := q.rangeOf(s.path, t.total)
	if err != nil {
		return nil, err
	}
	t.first, t.count = first, count
	return t, nil
}
