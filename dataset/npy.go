package dataset

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
)

// NPY (NumPy's format): the magic "\x93NUMPY", a major and minor version
// byte, the header length (uint16 little-endian in version 1, uint32 in
// versions 2 and 3), then the header, a Python dict literal such as
//
//	{'descr': '<f4', 'fortran_order': False, 'shape': (10000, 784), }
//
// padded with spaces and a newline, then the raw elements.

// maxNPYHeader bounds the header length; NumPy itself writes a few hundred
// bytes, and refuses headers over 10,000 bytes by default.
const maxNPYHeader = 1 << 20

func readNPY(s *stream, q *request) (*table, error) {
	var pre [10]byte
	if err := s.readFull(pre[:8], "the NPY magic and version"); err != nil {
		return nil, err
	}
	if string(pre[:6]) != "\x93NUMPY" {
		return nil, s.errAt(0, nil, "not an NPY file: magic %q, want \"\\x93NUMPY\"", pre[:6])
	}
	major, minor := pre[6], pre[7]
	var hlen int64
	switch major {
	case 1:
		if err := s.readFull(pre[8:10], "the NPY header length"); err != nil {
			return nil, err
		}
		hlen = int64(binary.LittleEndian.Uint16(pre[8:10]))
	case 2, 3:
		var b [4]byte
		if err := s.readFull(b[:], "the NPY header length"); err != nil {
			return nil, err
		}
		hlen = int64(binary.LittleEndian.Uint32(b[:]))
	default:
		return nil, s.errAt(6, nil, "NPY version %d.%d, want 1.0, 2.0 or 3.0", major, minor)
	}
	if minor != 0 {
		return nil, s.errAt(7, nil, "NPY version %d.%d, want 1.0, 2.0 or 3.0", major, minor)
	}
	hdrOff := s.off
	if hlen > maxNPYHeader || (s.size >= 0 && hlen > s.size-s.off) {
		return nil, s.errAt(8, nil, "NPY header length %d exceeds the file or the %d-byte limit", hlen, maxNPYHeader)
	}
	hdr := make([]byte, hlen)
	if err := s.readFull(hdr, "the NPY header"); err != nil {
		return nil, err
	}
	h, err := parseNPYHeader(string(hdr))
	if err != nil {
		return nil, s.errAt(hdrOff+int64(err.pos), nil, "NPY header: %s", err.msg)
	}
	return readArray(s, h.dt, h.big, h.shape, q)
}

type npyHeader struct {
	dt    dtype
	big   bool
	shape []int
}

// npyError is a header problem at byte pos of the header.
type npyError struct {
	pos int
	msg string
}

func parseNPYHeader(src string) (*npyHeader, *npyError) {
	p := &pyParser{src: src}
	v, err := p.value(0)
	if err != nil {
		return nil, err
	}
	p.space()
	if p.pos < len(p.src) {
		return nil, p.errf("unexpected %q after the header dict", p.src[p.pos])
	}
	dict, ok := v.(pyDict)
	if !ok {
		return nil, &npyError{0, "the header is not a dict"}
	}
	h := &npyHeader{}
	descr, ok := dict.get("descr")
	if !ok {
		return nil, &npyError{0, "the header has no 'descr'"}
	}
	ds, ok := descr.v.(string)
	if !ok {
		return nil, &npyError{descr.pos, "structured dtypes are not supported: 'descr' must be a type string such as '<f4'"}
	}
	var msg string
	if h.dt, h.big, msg = parseDescr(ds); msg != "" {
		return nil, &npyError{descr.pos, msg}
	}
	fo, ok := dict.get("fortran_order")
	if !ok {
		return nil, &npyError{0, "the header has no 'fortran_order'"}
	}
	if b, ok := fo.v.(bool); !ok {
		return nil, &npyError{fo.pos, "'fortran_order' must be True or False"}
	} else if b {
		return nil, &npyError{fo.pos, "fortran_order is True: only C-order arrays are supported (save with np.ascontiguousarray)"}
	}
	sh, ok := dict.get("shape")
	if !ok {
		return nil, &npyError{0, "the header has no 'shape'"}
	}
	tup, ok := sh.v.(pyTuple)
	if !ok {
		return nil, &npyError{sh.pos, "'shape' must be a tuple of integers"}
	}
	if len(tup) == 0 {
		return nil, &npyError{sh.pos, "shape () is a scalar: need at least the record dimension"}
	}
	for _, e := range tup {
		n, ok := e.v.(int64)
		if !ok || n < 0 || n > maxElements {
			return nil, &npyError{e.pos, "'shape' entries must be integers in [0, 2^31]"}
		}
		h.shape = append(h.shape, int(n))
	}
	return h, nil
}

// parseDescr reads a NumPy type string: a byte order ('<', '>', '|' or '=')
// then a kind and a width ("f4", "u1", ...).
func parseDescr(s string) (dt dtype, big bool, msg string) {
	if len(s) < 2 {
		return 0, false, fmt.Sprintf("unsupported dtype %q", s)
	}
	order, kind := s[0], s[1:]
	switch kind {
	case "u1", "b1":
		dt = dtU8
	case "i1":
		dt = dtI8
	case "u2":
		dt = dtU16
	case "i2":
		dt = dtI16
	case "u4":
		dt = dtU32
	case "i4":
		dt = dtI32
	case "u8":
		dt = dtU64
	case "i8":
		dt = dtI64
	case "f2":
		dt = dtF16
	case "f4":
		dt = dtF32
	case "f8":
		dt = dtF64
	default:
		return 0, false, fmt.Sprintf("unsupported dtype %q (want a float, signed or unsigned integer or bool type)", s)
	}
	switch order {
	case '<', '=': // '=' is native; NumPy writes it only on little-endian machines, and all vaec's targets are.
	case '>':
		big = true
	case '|':
		if dt.width() != 1 {
			return 0, false, fmt.Sprintf("dtype %q: '|' (not applicable) byte order on a multi-byte type", s)
		}
	default:
		return 0, false, fmt.Sprintf("dtype %q: unknown byte order %q", s, order)
	}
	return dt, big, ""
}

// A small parser for the Python literals NPY headers hold: dicts, tuples,
// lists, strings, integers, True, False and None.

type pyValue struct {
	v   any // string, int64, bool, nil, pyDict, pyTuple (tuples and lists)
	pos int
}

type pyDict []struct {
	key string
	val pyValue
}

func (d pyDict) get(key string) (pyValue, bool) {
	for _, kv := range d {
		if kv.key == key {
			return kv.val, true
		}
	}
	return pyValue{}, false
}

type pyTuple []pyValue

type pyParser struct {
	src string
	pos int
}

// maxPyDepth bounds nesting so that a hostile header cannot recurse deeply.
const maxPyDepth = 16

func (p *pyParser) errf(format string, args ...any) *npyError {
	return &npyError{p.pos, fmt.Sprintf(format, args...)}
}

func (p *pyParser) space() {
	for p.pos < len(p.src) && strings.IndexByte(" \t\r\n", p.src[p.pos]) >= 0 {
		p.pos++
	}
}

func (p *pyParser) value(depth int) (any, *npyError) {
	if depth > maxPyDepth {
		return nil, p.errf("nested more than %d levels", maxPyDepth)
	}
	p.space()
	if p.pos >= len(p.src) {
		return nil, p.errf("unexpected end of the header")
	}
	switch c := p.src[p.pos]; {
	case c == '{':
		return p.dict(depth)
	case c == '(':
		return p.seq(depth, ')')
	case c == '[':
		return p.seq(depth, ']')
	case c == '\'' || c == '"':
		return p.str()
	case c == '-' || c == '+' || (c >= '0' && c <= '9'):
		return p.int()
	case c >= 'A' && c <= 'Z':
		for _, w := range []struct {
			s string
			v any
		}{{"True", true}, {"False", false}, {"None", nil}} {
			if strings.HasPrefix(p.src[p.pos:], w.s) {
				p.pos += len(w.s)
				return w.v, nil
			}
		}
	}
	return nil, p.errf("unexpected %q", p.src[p.pos])
}

func (p *pyParser) dict(depth int) (any, *npyError) {
	p.pos++ // '{'
	var d pyDict
	for {
		p.space()
		if p.pos < len(p.src) && p.src[p.pos] == '}' {
			p.pos++
			return d, nil
		}
		kpos := p.pos
		k, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		key, ok := k.(string)
		if !ok {
			return nil, &npyError{kpos, "dict keys must be strings"}
		}
		p.space()
		if p.pos >= len(p.src) || p.src[p.pos] != ':' {
			return nil, p.errf("expected ':' after key %q", key)
		}
		p.pos++
		p.space()
		vpos := p.pos
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		if _, dup := d.get(key); dup {
			return nil, &npyError{kpos, fmt.Sprintf("duplicate key %q", key)}
		}
		d = append(d, struct {
			key string
			val pyValue
		}{key, pyValue{v, vpos}})
		if !p.comma('}') {
			return nil, p.errf("expected ',' or '}' in the dict")
		}
	}
}

func (p *pyParser) seq(depth int, end byte) (any, *npyError) {
	p.pos++ // '(' or '['
	t := pyTuple{}
	for {
		p.space()
		if p.pos < len(p.src) && p.src[p.pos] == end {
			p.pos++
			return t, nil
		}
		vpos := p.pos
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		t = append(t, pyValue{v, vpos})
		if !p.comma(end) {
			return nil, p.errf("expected ',' or %q", end)
		}
	}
}

// comma consumes a ',' separator, or sees (without consuming) the closing end.
func (p *pyParser) comma(end byte) bool {
	p.space()
	if p.pos < len(p.src) && p.src[p.pos] == ',' {
		p.pos++
		return true
	}
	return p.pos < len(p.src) && p.src[p.pos] == end
}

func (p *pyParser) str() (any, *npyError) {
	quote := p.src[p.pos]
	start := p.pos
	p.pos++
	var b strings.Builder
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		p.pos++
		switch c {
		case quote:
			return b.String(), nil
		case '\\':
			if p.pos >= len(p.src) {
				break
			}
			b.WriteByte(p.src[p.pos])
			p.pos++
		default:
			b.WriteByte(c)
		}
	}
	return nil, &npyError{start, "unterminated string"}
}

func (p *pyParser) int() (any, *npyError) {
	start := p.pos
	if c := p.src[p.pos]; c == '-' || c == '+' {
		p.pos++
	}
	for p.pos < len(p.src) && p.src[p.pos] >= '0' && p.src[p.pos] <= '9' {
		p.pos++
	}
	text := p.src[start:p.pos]
	if p.pos < len(p.src) && (p.src[p.pos] == 'L' || p.src[p.pos] == 'l') {
		p.pos++ // Python 2 long suffix, written by old NumPy versions
	}
	n, err := strconv.ParseInt(text, 10, 64)
	if err != nil {
		return nil, &npyError{start, fmt.Sprintf("bad integer %q", text)}
	}
	return n, nil
}
