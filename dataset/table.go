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
	start, limit int  // records [start, start+limit); limit 0 = to the end
	csvHeader    bool // the first CSV line is a header
	// checkD, when set, validates the values per record (the message gets
	// the file name prefixed).
	checkD func(d int) string
	// records, when >= 0, is the record count the file must hold: a labels
	// file must match its data file (named by recordsOf).
	records   int
	recordsOf string
	// headerOnly: read the shape and check the structure, keep no values.
	headerOnly bool
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

	// CSV: the parsed values and the line of each selected record.
	csv   bool
	vals  []float64
	lines []int
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
	// Refuse up front what cannot fit: the raw elements and the float32
	// values made from them are held together for a moment.
	if need := int64(count) * (rec + 4*int64(d)); need > memoryLimit() {
		return nil, s.errAt(s.off, nil, "the %d selected records of %d values need %d MiB in memory, more than the %d MiB available; select fewer records (start, limit)",
			count, d, need>>20, memoryLimit()>>20)
	}
	t.dataOff = s.off
	what := fmt.Sprintf("records [%d, %d)", first, first+count)
	if t.data, err = s.readN(int64(count)*rec, what); err != nil {
		return nil, err
	}
	if err := s.skip(int64(n-first-count)*rec, fmt.Sprintf("records [%d, %d)", first+count, n)); err != nil {
		return nil, err
	}
	if err := s.expectEOF(); err != nil {
		return nil, err
	}
	if big {
		swapBytes(t.data, int(w))
	}
	return t, nil
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

// floats converts the selection to float32 as x = raw*scale + offset,
// computed in float64. Values that are not finite after scaling are errors:
// they would silently turn the whole training run into NaN.
func (t *table) floats(scale, offset float64) ([]float32, error) {
	out := make([]float32, t.count*t.d)
	check := true
	switch {
	case t.vals != nil:
		for i, v := range t.vals {
			out[i] = float32(v*scale + offset)
		}
	case t.dt == dtU8:
		// The common case (8-bit images) goes through a lookup table; when
		// the table is finite, so is the result.
		var lut [256]float32
		for i := range lut {
			lut[i] = float32(float64(i)*scale + offset)
		}
		for i, b := range t.data {
			out[i] = lut[b]
		}
		check = finite(lut[:]) >= 0
	default:
		dec, w := decoder(t.dt), t.dt.width()
		for i := range out {
			out[i] = float32(dec(t.data[i*w:])*scale + offset)
		}
	}
	if check {
		if i := finite(out); i >= 0 {
			e := t.where(i)
			e.Msg = fmt.Sprintf("record %d value %d is %v after scaling (raw %v)", t.first+i/t.d, i%t.d, out[i], t.raw(i))
			return nil, e
		}
	}
	return out, nil
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
