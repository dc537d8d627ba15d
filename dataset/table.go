package dataset

import (
	"encoding/binary"
	"fmt"
	"github.com/vaec/vaec/ir"
	"math"
)

// dtype is the element type of a binary array.
type dtype uint8

const (
	dtU8 dtype = iota + 1
	dtI8
	dtU16
	dtI16
	dtU32
	dtI32
	dtU64
	dtI64
	dtF16
	dtF32
	dtF64
)

var dtypeInfo = [...]struct {
	name  string
	width int
}{
	dtU8: {"uint8", 1}, dtI8: {"int8", 1},
	dtU16: {"uint16", 2}, dtI16: {"int16", 2},
	dtU32: {"uint32", 4}, dtI32: {"int32", 4},
	dtU64: {"uint64", 8}, dtI64: {"int64", 8},
	dtF16: {"float16", 2}, dtF32: {"float32", 4}, dtF64: {"float64", 8},
}

func (d dtype) String() string { return dtypeInfo[d].name }
func (d dtype) width() int     { return dtypeInfo[d].width }

// request says which part of a file the caller wants and what it must look like.
type request struct {
	start, limit int // records [start, start+limit); limit 0 = to the end
	// CSV: the header rule and the selection of feature columns.
	header           headerRule
	columns, exclude []ir.Column
	// adapt, when set, lets a CSV file given on the command line choose its
	// columns as the model needs them (Options.Adapt).
	adapt *ir.Input
	// checkD, when set, validates the values per record (the message gets
	// the file name prefixed).
	checkD func(d int) string
	// checkRecord, when set, validates the shape of one record of a binary
	// array (IDX, NPY), whose files say it.
	checkRecord func(shape []int) string
	// records, when >= 0, is the record count the file must hold: a labels
	// file must match its data file (named by recordsOf).
	records   int
	recordsOf string
	// headerOnly: read the shape and check the structure, keep no values.
	headerOnly bool
	// missing is what an empty or NaN value becomes (fill: raw units, one
	// per selected feature; nil with MissingMean keeps NaN, for fitting).
	missing ir.Missing
	fill    []float64
	// conv, when set, turns values into float32 as they are read (the
	// table's x), so that the file's bytes and the values are never held
	// together; without it the table keeps raw elements (labels).
	conv *conversion
	// progress, when set, is called as records are read.
	progress func(Progress)
}

// conversion is the scalar scaling x = raw*scale + offset, computed in
// float64 and rounded once to float32.
type conversion struct {
	scale, offset float64
}

// headerRule says how the first line of a CSV file is read.
type headerRule uint8

const (
	headerAuto headerRule = iota // a header when none of its fields is a number
	headerYes                    // always a header (header: true)
	headerNo                     // always data (header: false)
)

func headerOf(src ir.Source) headerRule {
	switch {
	case src.CSVHeader:
		return headerYes
	case src.CSVNoHeader:
		return headerNo
	}
	return headerAuto
}

// rangeOf resolves the requested record range against a file of total records.
func (q *request) rangeOf(path string, total int) (first, count int, err error) {
	if q.records >= 0 && total != q.records {
		return 0, 0, &Error{File: path, Offset: -1, Msg: fmt.Sprintf("has %d records, but %s has %d", total, q.recordsOf, q.records)}
	}
	count = q.limit
	if count == 0 {
		count = total - q.start
	}
	if q.start < 0 || q.limit < 0 || q.start > total || count > total-q.start {
		return 0, 0, &Error{File: path, Offset: -1, Msg: fmt.Sprintf("records [%d, %d) are out of range: the file has %d records", q.start, q.start+count, total)}
	}
	if count == 0 {
		return 0, 0, &Error{File: path, Offset: -1, Msg: fmt.Sprintf("no records selected (start %d, the file has %d records)", q.start, total)}
	}
	return q.start, count, nil
}

// table is the part of a file a reader was asked for: count records of d
// values each, starting at record first of total.
type table struct {
	path                string
	gz                  bool
	total, first, count int
	d                   int

	// Binary formats: the raw elements, converted to little-endian order.
	dt      dtype
	data    []byte
	dataOff int64 // stream offset of data[0] in the file
	big     bool  // the file stores big-endian elements (for messages only)

	// CSV without conversion: the parsed values and the line of each
	// selected record.
	csv   bool
	vals  []float64
	lines []int

	// With a conversion: the selected values as float32, scaled.
	x []float32

	// CSV: the header (the file's names and those of the selected
	// columns, nil without one), whether it was told from its contents,
	// and the fields per line.
	names, selNames []string
	header, guessed bool
	cols            int
}

// shapeOf splits a binary array's shape into records and values per record,
// refusing shapes beyond maxElements.
func shapeOf(shape []int) (n, d int, ok bool) {
	if len(shape) == 0 {
		return 0, 0, false
	}
	total := 1
	for _, x := range shape {
		if x < 0 || (x > 0 && total > maxElements/x) {
			return 0, 0, false
		}
		total *= x
	}
	d = 1
	for _, x := range shape[1:] {
		d *= x
	}
	if d > maxElements {
		return 0, 0, false
	}
	return shape[0], d, true
}

// readArray reads the selected records of a binary array whose header s has
// just consumed.
func readArray(s *stream, dt dtype, big bool, shape []int, q *request) (*table, error) {
	n, d, ok := shapeOf(shape)
	if !ok {
		return nil, s.errAt(s.off, nil, "shape %v is empty, negative or larger than %d elements", ir.Shape(shape), maxElements)
	}
	if q.checkD != nil {
		if msg := q.checkD(d); msg != "" {
			return nil, &Error{File: s.path, Offset: -1, Msg: msg}
		}
	}
	if q.checkRecord != nil {
		if msg := q.checkRecord(shape[1:]); msg != "" {
			return nil, &Error{File: s.path, Offset: -1, Msg: msg}
		}
	}
	w := int64(dt.width())
	rec := int64(d) * w
	if s.size >= 0 {
		// Check the declared size against the file before reading anything.
		want, have := int64(n)*rec, s.size-s.off
		if have < want {
			return nil, s.errAt(s.size, nil, "truncated: the header declares %d records of %d %s values (%d bytes from offset %d), the file holds %d", n, d, dt, want, s.off, have)
		}
		if have > want {
			return nil, s.errAt(s.off+want, nil, "%d bytes of trailing data after the %d records the header declares", have-want, n)
		}
	}
	first, count, err := q.rangeOf(s.path, n)
	if err != nil {
		return nil, err
	}
	t := &table{path: s.path, gz: s.gz, total: n, first: first, count: count, d: d, dt: dt, big: big}
	if q.headerOnly {
		// Read through without keeping anything, so a truncated or padded
		// compressed file is refused here exactly as a full read refuses it.
		if err := s.skip(int64(n)*rec, fmt.Sprintf("records [0, %d)", n)); err != nil {
			return nil, err
		}
		return t, s.expectEOF()
	}
	if err := s.skip(int64(first)*rec, fmt.Sprintf("records [0, %d)", first)); err != nil {
		return nil, err
	}
	per := rec
	if q.conv != nil {
		per = 4 * int64(d) // converted as read: only the float32 values are held
	}
	if need := int64(count) * per; need > memoryLimit() {
		return nil, s.errAt(s.off, nil, "the %d selected records of %d values need %d MiB in memory, more than the %d MiB available; select fewer records (start, limit)",
			count, d, need>>20, memoryLimit()>>20)
	}
	t.dataOff = s.off
	what := fmt.Sprintf("records [%d, %d)", first, first+count)
	if q.conv != nil {
		err = t.convert(s, q)
	} else {
		t.data, err = s.readN(int64(count)*rec, what)
	}
	if err != nil {
		return nil, err
	}
	if err := s.skip(int64(n-first-count)*rec, fmt.Sprintf("records [%d, %d)", first+count, n)); err != nil {
		return nil, err
	}
	if err := s.expectEOF(); err != nil {
		return nil, err
	}
	if big && t.data != nil {
		swapBytes(t.data, int(w))
	}
	return t, nil
}

// convertChunk is the most bytes convert reads at once.
const convertChunk = 1 << 20

// convert reads the selected records of a binary array in chunks, turning
// each into scaled float32 values in t.x as it comes: the file's bytes are
// never all held, so a data set costs its float32 size and no more.
func (t *table) convert(s *stream, q *request) error {
	w := t.dt.width()
	rec := t.d * w
	perChunk := max(1, convertChunk/max(rec, 1))
	t.x = make([]float32, t.count*t.d)
	buf := make([]byte, min(perChunk, t.count)*rec)
	dec := decoder(t.dt)
	var lut []float32
	if t.dt == dtU8 {
		// 8-bit images go through a lookup table; when the table is
		// finite, so is every value.
		lut = make([]float32, 256)
		for i := range lut {
			lut[i] = float32(float64(i)*q.conv.scale + q.conv.offset)
		}
		if i := finite(lut); i >= 0 {
			return &Error{File: t.path, Offset: -1, Msg: fmt.Sprintf("the byte value %d is %v after scaling", i, lut[i])}
		}
	}
	for r := 0; r < t.count; {
		k := min(perChunk, t.count-r)
		b := buf[:k*rec]
		if err := s.readFull(b, fmt.Sprintf("records [%d, %d)", t.first+r, t.first+r+k)); err != nil {
			return err
		}
		if t.big {
			swapBytes(b, w)
		}
		out := t.x[r*t.d : (r+k)*t.d]
		if lut != nil {
			for i, v := range b {
				out[i] = lut[v]
			}
		} else {
			for i := range out {
				raw := dec(b[i*w:])
				if raw != raw { // NaN: a missing value
					switch {
					case q.missing == ir.MissingError:
						e := t.where(r*t.d + i)
						e.Msg = fmt.Sprintf("record %d value %d is NaN (a missing value)", t.first+r+i/t.d, i%t.d)
						e.Hint = missingHint
						return e
					case q.fill == nil:
						out[i] = float32(math.NaN()) // kept for fitting the fill
						continue
					default:
						raw = q.fill[i%t.d]
					}
				}
				out[i] = float32(raw*q.conv.scale + q.conv.offset)
				if math.Float32bits(out[i])&0x7f800000 == 0x7f800000 {
					e := t.where(r*t.d + i)
					e.Msg = fmt.Sprintf("record %d value %d is %v after scaling (raw %v)", t.first+r+i/t.d, i%t.d, out[i], raw)
					return e
				}
			}
		}
		r += k
		if q.progress != nil {
			q.progress(Progress{Path: s.path, Records: r, Total: t.count, Bytes: s.fileBytes(), Size: s.fileSize})
		}
	}
	return nil
}

// swapBytes reverses the byte order of each w-byte element of b in place.
func swapBytes(b []byte, w int) {
	switch w {
	case 2:
		for i := 0; i+1 < len(b); i += 2 {
			b[i], b[i+1] = b[i+1], b[i]
		}
	case 4:
		for i := 0; i+3 < len(b); i += 4 {
			binary.LittleEndian.PutUint32(b[i:], binary.BigEndian.Uint32(b[i:]))
		}
	case 8:
		for i := 0; i+7 < len(b); i += 8 {
			binary.LittleEndian.PutUint64(b[i:], binary.BigEndian.Uint64(b[i:]))
		}
	}
}

// decoder returns a function reading one little-endian element as float64.
// It is chosen once per table so the inner loops stay free of type switches.
func decoder(dt dtype) func(b []byte) float64 {
	le := binary.LittleEndian
	switch dt {
	case dtU8:
		return func(b []byte) float64 { return float64(b[0]) }
	case dtI8:
		return func(b []byte) float64 { return float64(int8(b[0])) }
	case dtU16:
		return func(b []byte) float64 { return float64(le.Uint16(b)) }
	case dtI16:
		return func(b []byte) float64 { return float64(int16(le.Uint16(b))) }
	case dtU32:
		return func(b []byte) float64 { return float64(le.Uint32(b)) }
	case dtI32:
		return func(b []byte) float64 { return float64(int32(le.Uint32(b))) }
	case dtU64:
		return func(b []byte) float64 { return float64(le.Uint64(b)) }
	case dtI64:
		return func(b []byte) float64 { return float64(int64(le.Uint64(b))) }
	case dtF16:
		return func(b []byte) float64 { return float64(halfToFloat32(le.Uint16(b))) }
	case dtF32:
		return func(b []byte) float64 { return float64(math.Float32frombits(le.Uint32(b))) }
	default:
		return func(b []byte) float64 { return math.Float64frombits(le.Uint64(b)) }
	}
}

// halfToFloat32 converts an IEEE 754 binary16 value.
func halfToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	frac := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // Inf or NaN
		return math.Float32frombits(sign | 0xff<<23 | frac<<13)
	case exp == 0 && frac == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal: value = frac * 2^-24
		v := float32(frac) / (1 << 24)
		if sign != 0 {
			v = -v
		}
		return v
	default:
		return math.Float32frombits(sign | (exp+127-15)<<23 | frac<<13)
	}
}

// where locates element i of the selection for an error message.
func (t *table) where(i int) *Error {
	if t.lines != nil {
		return &Error{File: t.path, Offset: -1, Line: t.lines[i/t.d], Column: i%t.d + 1}
	}
	return &Error{File: t.path, Offset: t.dataOff + int64(i)*int64(t.dt.width()), Gzip: t.gz}
}

// finite returns the index of the first NaN or infinity in v, or -1.
func finite(v []float32) int {
	for i, x := range v {
		if math.Float32bits(x)&0x7f800000 == 0x7f800000 {
			return i
		}
	}
	return -1
}

// raw returns element i of the selection unscaled.
func (t *table) raw(i int) float64 {
	if t.vals != nil {
		return t.vals[i]
	}
	w := t.dt.width()
	return decoder(t.dt)(t.data[i*w:])
}

// ints returns the selection as integers (class labels): every value must be
// a whole number in the int32 range.
func (t *table) ints() ([]int, error) {
	n := t.count * t.d
	out := make([]int, n)
	if t.vals == nil && (t.dt == dtU64 || t.dt == dtI64) {
		// Decode 64-bit integers exactly rather than through float64.
		for i := range out {
			v := binary.LittleEndian.Uint64(t.data[8*i:])
			if (t.dt == dtU64 && v > math.MaxInt32) || (t.dt == dtI64 && (int64(v) > math.MaxInt32 || int64(v) < math.MinInt32)) {
				e := t.where(i)
				e.Msg = fmt.Sprintf("label of record %d is out of the int32 range", t.first+i/t.d)
				return nil, e
			}
			out[i] = int(int64(v))
		}
		return out, nil
	}
	for i := range out {
		v := t.raw(i)
		if v != math.Trunc(v) || v > math.MaxInt32 || v < math.MinInt32 {
			e := t.where(i)
			e.Msg = fmt.Sprintf("label of record %d is %v, not an int32 integer", t.first+i/t.d, v)
			return nil, e
		}
		out[i] = int(v)
	}
	return out, nil
}
