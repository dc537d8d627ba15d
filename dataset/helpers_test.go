package dataset

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Encoders for test files, written from the format descriptions rather than
// from the readers, so that a reader bug does not cancel out.

// putElem appends v as the element type named by a NumPy-style kind ("u1",
// "f4", ...) in the given byte order.
func putElem(b []byte, kind string, big bool, v float64) []byte {
	var bo binary.AppendByteOrder = binary.LittleEndian
	if big {
		bo = binary.BigEndian
	}
	switch kind {
	case "u1", "b1":
		return append(b, uint8(v))
	case "i1":
		return append(b, byte(int8(v)))
	case "u2":
		return bo.AppendUint16(b, uint16(v))
	case "i2":
		return bo.AppendUint16(b, uint16(int16(v)))
	case "u4":
		return bo.AppendUint32(b, uint32(v))
	case "i4":
		return bo.AppendUint32(b, uint32(int32(v)))
	case "u8":
		return bo.AppendUint64(b, uint64(v))
	case "i8":
		return bo.AppendUint64(b, uint64(int64(v)))
	case "f2":
		return bo.AppendUint16(b, float32ToHalf(float32(v)))
	case "f4":
		return bo.AppendUint32(b, math.Float32bits(float32(v)))
	case "f8":
		return bo.AppendUint64(b, math.Float64bits(v))
	}
	panic("putElem: unknown kind " + kind)
}

// float32ToHalf converts values that binary16 represents exactly (enough for tests).
func float32ToHalf(f float32) uint16 {
	bits := math.Float32bits(f)
	sign := uint16(bits>>16) & 0x8000
	exp := int(bits>>23&0xff) - 127 + 15
	frac := uint16(bits>>13) & 0x3ff
	switch {
	case f == 0:
		return sign
	case exp <= 0: // subnormal
		return sign | uint16((bits&0x7fffff|0x800000)>>(14-exp))
	}
	return sign | uint16(exp)<<10 | frac
}

var idxCodes = map[string]byte{"u1": 0x08, "i1": 0x09, "i2": 0x0B, "i4": 0x0C, "f4": 0x0D, "f8": 0x0E}

func encodeIDX(kind string, shape []int, vals []float64) []byte {
	b := []byte{0, 0, idxCodes[kind], byte(len(shape))}
	for _, d := range shape {
		b = binary.BigEndian.AppendUint32(b, uint32(d))
	}
	for _, v := range vals {
		b = putElem(b, kind, true, v)
	}
	return b
}

// encodeNPY writes an array as NumPy does: header padded to a multiple of 64
// bytes and ending in a newline. descr is the full type string ("<f4").
func encodeNPY(major int, descr string, fortran bool, shape []int, vals []float64) []byte {
	dims := make([]string, len(shape))
	for i, d := range shape {
		dims[i] = fmt.Sprint(d)
	}
	tuple := "(" + strings.Join(dims, ", ") + ")"
	if len(shape) == 1 {
		tuple = "(" + dims[0] + ",)"
	}
	fo := "False"
	if fortran {
		fo = "True"
	}
	hdr := fmt.Sprintf("{'descr': '%s', 'fortran_order': %s, 'shape': %s, }", descr, fo, tuple)
	pre := 10
	if major > 1 {
		pre = 12
	}
	for (pre+len(hdr)+1)%64 != 0 {
		hdr += " "
	}
	hdr += "\n"
	b := append([]byte("\x93NUMPY"), byte(major), 0)
	if major == 1 {
		b = binary.LittleEndian.AppendUint16(b, uint16(len(hdr)))
	} else {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(hdr)))
	}
	b = append(b, hdr...)
	big := descr[0] == '>'
	for _, v := range vals {
		b = putElem(b, descr[1:], big, v)
	}
	return b
}

func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// writeFile writes data to name in a fresh temporary directory.
func writeFile(t testing.TB, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// ramp returns n values 0, 1, 2, ... (shifted by from).
func ramp(n int, from float64) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = from + float64(i)
	}
	return v
}
