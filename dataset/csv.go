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
	// Lines are capped so that one endless line (a file of NULs, a 1 GB
	// line in a small .csv.gz) is refused instead of buffered whole: at
	// maxCSVLine until the first record tells how many values a line holds,
	// then at what that many values can need.
	ll := &lineLimit{r: s.r, limit: maxCSVLine}
	cr := csv.NewReader(ll)
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
		if ll.err != nil {
			return nil, &Error{File: s.path, Offset: -1, Line: ll.line, Msg: ll.err.Error(), Err: ll.err}
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
			ll.limit = min(ll.limit, int64(t.d)*maxCSVField+csvSlack)
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
			// float64 while reading, float32 afterwards.
			if need := int64(len(t.vals)) * 12; need > memoryLimit() {
				return nil, &Error{File: s.path, Offset: -1, Line: line, Msg: fmt.Sprintf("the records up to here already need %d MiB, more than the %d MiB available; select fewer records (start, limit)", need>>20, memoryLimit()>>20)}
			}
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

// Line caps of CSV input.
const (
	// maxCSVLine caps a line before the first record has told how many
	// values a line holds: 16 MiB, a record of about 250,000 values.
	maxCSVLine = 16 << 20
	// maxCSVField is the most bytes one value can reasonably take
	// ("-1.2345678901234567e-308" is 24) with quotes and padding.
	maxCSVField = 64
	csvSlack    = 4096
)

// lineLimit passes r through, failing when a line exceeds limit bytes.
type lineLimit struct {
	r     io.Reader
	limit int64
	cur   int64 // bytes of the current line so far
	line  int   // 1-based line being read
	err   error
}

func (l *lineLimit) Read(p []byte) (int, error) {
	if l.err != nil {
		return 0, l.err
	}
	if l.line == 0 {
		l.line = 1
	}
	n, err := l.r.Read(p)
	for i := 0; i < n; i++ {
		if p[i] == '\n' {
			l.line++
			l.cur = 0
			continue
		}
		if l.cur++; l.cur > l.limit {
			l.err = fmt.Errorf("line is longer than %d bytes, more than its values can need: not a CSV file of this shape?", l.limit)
			return i, l.err
		}
	}
	return n, err
}
