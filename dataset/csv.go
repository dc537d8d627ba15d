package dataset

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/vaec/vaec/ir"
)

// readCSV reads numeric CSV: one record per line, every line with the same
// number of fields, surrounding spaces allowed, blank lines skipped. The
// first line is a header when the request says so, or, by default, when
// none of its fields is a number. Only the selected columns are parsed, so
// an id or a label column may hold anything. All lines are parsed (so a
// bad line anywhere is reported) but only the selected records are kept.
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
	var sel []int // the fields read, in feature order
	for rec, lineNo := 0, 0; ; lineNo++ {
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
		if lineNo == 0 {
			if len(fields) > 0 {
				fields[0] = strings.TrimPrefix(fields[0], "\ufeff")
			}
			if q.header == headerYes || (q.header == headerAuto && isHeader(fields)) {
				t.header, t.guessed = true, q.header == headerAuto
				t.names = make([]string, len(fields))
				for j, f := range fields {
					t.names[j] = strings.TrimSpace(f)
				}
				t.cols = len(fields)
				if sel, err = t.selectColumns(q, line); err != nil {
					return nil, err
				}
				ll.limit = min(ll.limit, int64(t.cols)*maxCSVField+csvSlack)
				continue
			}
		}
		if firstLine == 0 {
			if !t.header {
				t.cols = len(fields)
				if sel, err = t.selectColumns(q, line); err != nil {
					return nil, err
				}
			}
			firstLine = line
			ll.limit = min(ll.limit, int64(t.cols)*maxCSVField+csvSlack)
			if len(fields) != t.cols {
				return nil, &Error{File: s.path, Offset: -1, Line: line, Msg: fmt.Sprintf("has %d columns, the header has %d", len(fields), t.cols)}
			}
		} else if len(fields) != t.cols {
			return nil, &Error{File: s.path, Offset: -1, Line: line, Msg: fmt.Sprintf("has %d columns, the first record (line %d) has %d", len(fields), firstLine, t.cols)}
		}
		if (rec+1)*t.d > maxElements {
			return nil, &Error{File: s.path, Offset: -1, Line: line, Msg: fmt.Sprintf("more than %d values", maxElements)}
		}
		k := keep(rec) && !q.headerOnly
		for j, c := range sel {
			v, e := t.parse(q, fields[c], line, c, j)
			if e != nil {
				return nil, e
			}
			if !k {
				continue
			}
			if q.conv == nil {
				t.vals = append(t.vals, v)
				continue
			}
			x := float32(v*q.conv.scale + q.conv.offset)
			if math.Float32bits(x)&0x7f800000 == 0x7f800000 && v == v {
				return nil, t.cellError(line, c, fmt.Sprintf("record %d value %d is %v after scaling (raw %v)", rec, j, x, v), "")
			}
			t.x = append(t.x, x)
		}
		if k {
			need := int64(len(t.x)) * 4
			if q.conv == nil {
				t.lines = append(t.lines, line)
				need = int64(len(t.vals)) * 8
			}
			if need > memoryLimit() {
				return nil, &Error{File: s.path, Offset: -1, Line: line, Msg: fmt.Sprintf("the records up to here already need %d MiB, more than the %d MiB available; select fewer records (start, limit)", need>>20, memoryLimit()>>20)}
			}
		}
		rec++
		t.total = rec
		if q.progress != nil && rec%progressEvery == 0 {
			q.progress(Progress{Path: s.path, Records: rec, Total: -1, Bytes: s.fileBytes(), Size: s.fileSize})
		}
	}
	if firstLine == 0 {
		if t.header {
			return nil, &Error{File: s.path, Offset: -1, Msg: "no records after the header line"}
		}
		return nil, &Error{File: s.path, Offset: -1, Msg: "no records"}
	}
	if q.progress != nil {
		q.progress(Progress{Path: s.path, Records: t.total, Total: t.total, Bytes: s.fileBytes(), Size: s.fileSize})
	}
	first, count, err := q.rangeOf(s.path, t.total)
	if err != nil {
		return nil, err
	}
	t.first, t.count = first, count
	return t, nil
}

// progressEvery is how many CSV records pass between progress reports.
const progressEvery = 4096

// missingHint is how to accept missing values.
const missingHint = "add missing: mean to the data source to fill missing values with the training means"

// isHeader tells a header line from data: none of its fields is a number
// (an empty field, a missing value, counts as neither).
func isHeader(fields []string) bool {
	names := 0
	for _, f := range fields {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if _, err := strconv.ParseFloat(f, 64); err == nil || errors.Is(err, strconv.ErrRange) {
			return false
		}
		names++
	}
	return names > 0
}

// parse reads field c of a line as feature j: a number, or a missing value
// (empty or NaN) as the request's missing rule says.
func (t *table) parse(q *request, f string, line, c, j int) (float64, *Error) {
	f = strings.TrimSpace(f)
	v, err := strconv.ParseFloat(f, 64)
	switch {
	case f == "" || (err == nil && v != v):
		what := "empty"
		if f != "" {
			what = fmt.Sprintf("%q (a missing value)", f)
		}
		switch {
		case q.missing == ir.MissingError:
			return 0, t.cellError(line, c, what, missingHint)
		case q.fill == nil:
			return math.NaN(), nil // kept for fitting the fill
		}
		return q.fill[j], nil
	case errors.Is(err, strconv.ErrRange):
		return 0, t.cellError(line, c, fmt.Sprintf("%q is out of the float64 range", f), "")
	case err != nil:
		hint := "categorical columns are not supported: leave the column out with exclude (or select the feature columns with columns), or encode it as numbers"
		if t.header {
			hint = fmt.Sprintf("categorical columns are not supported: leave the column out with exclude: [%q] (or select the feature columns with columns), or encode it as numbers", t.names[c])
		} else if t.total == 0 && q.header == headerNo {
			hint = "if this line is a header, remove header: false"
		} else if t.total == 0 {
			hint = "if this line is a header, set header: true; " + hint
		}
		return 0, t.cellError(line, c, fmt.Sprintf("%q is not a number", f), hint)
	}
	return v, nil
}

// cellError is a problem with field c of a line.
func (t *table) cellError(line, c int, msg, hint string) *Error {
	e := &Error{File: t.path, Offset: -1, Line: line, Column: c + 1, Msg: msg, Hint: hint}
	if t.header && c < len(t.names) {
		e.Name = t.names[c]
	}
	return e
}

// selectColumns resolves the request's columns or exclude against the
// header (t.names, when the file has one) and the fields per line, sets
// t.d and the selected names, and returns the fields to read in order.
func (t *table) selectColumns(q *request, line int) ([]int, error) {
	columns, exclude := q.columns, q.exclude
	if in := q.adapt; in != nil {
		// A file given on the command line: by the model's column names
		// when its header has them all, else whole when it has exactly the
		// model's features, else as the training source selects.
		if t.header && len(in.Columns) > 0 && t.hasAll(in.Columns) {
			columns, exclude = nil, nil
			for _, name := range in.Columns {
				columns = append(columns, ir.Column{Name: name})
			}
		} else if t.cols == in.Size {
			columns, exclude = nil, nil
		}
	}
	selErr := func(format string, args ...any) error {
		return &Error{File: t.path, Offset: -1, Line: line, Msg: fmt.Sprintf(format, args...), Selection: true}
	}
	resolve := func(key string, c ir.Column) (int, error) {
		if c.Name == "" {
			if c.Index < 0 || c.Index >= t.cols {
				return 0, selErr("%s: column index %d is out of range: the file has %d columns (0 to %d)", key, c.Index, t.cols, t.cols-1)
			}
			return c.Index, nil
		}
		if !t.header {
			return 0, selErr("%s: column %q is chosen by name, but the file has no header line (select by 0-based index, or set header: true)", key, c.Name)
		}
		found := -1
		for j, n := range t.names {
			if n != c.Name {
				continue
			}
			if found >= 0 {
				return 0, selErr("%s: the header names column %q twice (columns %d and %d); select by 0-based index", key, c.Name, found, j)
			}
			found = j
		}
		if found < 0 {
			return 0, selErr("%s: no column %q in the header (%s)", key, c.Name, quoteList(t.names, 8))
		}
		return found, nil
	}
	var sel []int
	switch {
	case len(columns) > 0:
		seen := map[int]bool{}
		for _, c := range columns {
			j, err := resolve("columns", c)
			if err != nil {
				return nil, err
			}
			if seen[j] {
				return nil, selErr("columns: column %d (%s) is selected twice", j, t.nameOf(j))
			}
			seen[j] = true
			sel = append(sel, j)
		}
	default:
		drop := map[int]bool{}
		for _, c := range exclude {
			j, err := resolve("exclude", c)
			if err != nil {
				return nil, err
			}
			drop[j] = true
		}
		for j := 0; j < t.cols; j++ {
			if !drop[j] {
				sel = append(sel, j)
			}
		}
		if len(sel) == 0 {
			return nil, selErr("exclude leaves none of the file's %d columns", t.cols)
		}
	}
	t.d = len(sel)
	if t.header {
		names := make([]string, len(sel))
		for i, j := range sel {
			names[i] = t.names[j]
		}
		t.selNames = names
	}
	if q.checkD != nil {
		if msg := q.checkD(t.d); msg != "" {
			if t.d != t.cols {
				msg += fmt.Sprintf(" (%d of the file's %d columns selected)", t.d, t.cols)
			} else if t.header {
				msg += "; select the feature columns with columns or exclude"
			}
			return nil, &Error{File: t.path, Offset: -1, Line: line, Msg: msg}
		}
	}
	return sel, nil
}

func (t *table) hasAll(names []string) bool {
	have := map[string]bool{}
	for _, n := range t.names {
		have[n] = true
	}
	for _, n := range names {
		if !have[n] {
			return false
		}
	}
	return true
}

// nameOf names column j for a message: its header name, or its index.
func (t *table) nameOf(j int) string {
	if t.header {
		return strconv.Quote(t.names[j])
	}
	return "index " + strconv.Itoa(j)
}

// quoteList quotes up to max names.
func quoteList(names []string, max int) string {
	var parts []string
	for i, n := range names {
		if i == max {
			parts = append(parts, fmt.Sprintf("and %d more", len(names)-max))
			break
		}
		parts = append(parts, strconv.Quote(n))
	}
	return "the header has " + strings.Join(parts, ", ")
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
