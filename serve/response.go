package serve

import (
	"encoding/binary"
	"math"
	"strconv"
	"unicode/utf8"
)

// responseOutput is one $response_output.
type responseOutput struct {
	Name   string
	Shape  []int
	Data   []float32
	Binary bool // sent as binary data after the JSON (binary tensor data extension)
}

// appendResponse appends the $inference_response for outs to b, followed
// by the binary data of the outputs that ask for it, and returns the
// result and the length of its JSON part.
//
// Numbers are written in the shortest form that reads back as the same
// float32. JSON has no NaN or infinity: such an output value is written as
// null (NumPy reads null as NaN in a float array); binary outputs carry
// them exactly.
func appendResponse(b []byte, model, version, id string, outs []responseOutput) ([]byte, int) {
	b = append(b, `{"model_name":`...)
	b = appendString(b, model)
	if version != "" {
		b = append(b, `,"model_version":`...)
		b = appendString(b, version)
	}
	if id != "" {
		b = append(b, `,"id":`...)
		b = appendString(b, id)
	}
	b = append(b, `,"outputs":[`...)
	for k, o := range outs {
		if k > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"name":`...)
		b = appendString(b, o.Name)
		b = append(b, `,"datatype":"FP32","shape":[`...)
		for j, s := range o.Shape {
			if j > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendInt(b, int64(s), 10)
		}
		b = append(b, ']')
		if o.Binary {
			b = append(b, `,"parameters":{"binary_data_size":`...)
			b = strconv.AppendInt(b, int64(4*len(o.Data)), 10)
			b = append(b, "}}"...)
			continue
		}
		b = append(b, `,"data":[`...)
		for j, v := range o.Data {
			if j > 0 {
				b = append(b, ',')
			}
			b = appendFloat32(b, v)
		}
		b = append(b, "]}"...)
	}
	b = append(b, "]}"...)
	jsonLen := len(b)
	for _, o := range outs {
		if o.Binary {
			for _, v := range o.Data {
				b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
			}
		}
	}
	return b, jsonLen
}

func appendFloat32(b []byte, v float32) []byte {
	f := float64(v)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(b, "null"...)
	}
	return strconv.AppendFloat(b, f, 'g', -1, 32)
}

// appendString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD,
// so the answer is valid JSON whatever the request's id held.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			b = append(b, c)
			i++
			continue
		}
		if c < utf8.RuneSelf {
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, "\ufffd"...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}

// appendError appends {"error": msg}.
func appendError(b []byte, msg string) []byte {
	b = append(b, `{"error":`...)
	b = appendString(b, msg)
	return append(b, '}')
}
