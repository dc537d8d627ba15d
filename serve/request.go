package serve

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// inferRequest is a decoded inference request: the Open Inference
// Protocol's $inference_request, with the binary tensor data extension
// applied (binary inputs are already in Data).
type inferRequest struct {
	ID      string
	Inputs  []requestInput
	Outputs []requestOutput
	// BinaryOutput is the request parameter binary_data_output: every
	// output as binary data unless the output says otherwise.
	BinaryOutput bool
}

// requestInput is one $request_input. Data holds every element as float32
// in row-major order whatever Datatype says; the server refuses other
// datatypes after decoding, with the input's name.
type requestInput struct {
	Name     string
	Datatype string
	Shape    []int64
	Data     []float32
	hasData  bool
	hasShape bool
	// binarySize is the binary_data_size parameter, -1 when absent.
	binarySize int64
	// bad is the first element that is NaN or infinite (-1: none), and
	// badValue names it, so the error can say which input and where.
	bad      int
	badValue string
}

// requestOutput is one $request_output.
type requestOutput struct {
	Name string
	// Binary is the binary_data parameter; BinarySet says it was given
	// (it then overrides the request's binary_data_output).
	Binary, BinarySet bool
}

// Limits of the decoder, against hostile bodies.
const (
	maxDepth = 32 // nesting of JSON arrays and objects
	maxRank  = 16 // dimensions of a tensor shape
	maxItems = 64 // inputs or outputs in one request
)

// requestError is a problem with the request that the client must fix: its
// message is sent back as the error.
type requestError struct{ msg string }

func (e *requestError) Error() string { return e.msg }

func badRequest(format string, a ...any) error { return &requestError{fmt.Sprintf(format, a...)} }

// decodeRequest parses an inference request. jsonLen is the length of the
// JSON object (the Inference-Header-Content-Length header of the binary
// tensor data extension); the bytes after it are the binary tensor data.
// jsonLen < 0 means the whole body is JSON. Every problem is a
// *requestError naming the field, never a panic.
func decodeRequest(body []byte, jsonLen int) (*inferRequest, error) {
	if jsonLen < 0 {
		jsonLen = len(body)
	}
	if jsonLen > len(body) {
		return nil, badRequest("Inference-Header-Content-Length %d exceeds the body's %d bytes", jsonLen, len(body))
	}
	d := &decoder{b: body[:jsonLen]}
	req := &inferRequest{}
	if err := d.request(req); err != nil {
		return nil, err
	}
	d.ws()
	if d.i != len(d.b) {
		return nil, d.errorf("unexpected data after the JSON object")
	}
	// The binary section: each binary input's bytes, in the order of the
	// inputs in the JSON.
	bin := body[jsonLen:]
	for k := range req.Inputs {
		in := &req.Inputs[k]
		if in.binarySize < 0 {
			continue
		}
		if in.hasData {
			return nil, badRequest("input %q has both \"data\" and the binary_data_size parameter", in.Name)
		}
		if in.binarySize%4 != 0 {
			return nil, badRequest("input %q: binary_data_size %d is not a whole number of FP32 values (4 bytes each)", in.Name, in.binarySize)
		}
		if in.binarySize > int64(len(bin)) {
			return nil, badRequest("input %q: binary_data_size %d, but only %d bytes of binary data remain", in.Name, in.binarySize, len(bin))
		}
		n := int(in.binarySize / 4)
		in.Data = make([]float32, n)
		for j := range in.Data {
			v := math.Float32frombits(binary.LittleEndian.Uint32(bin[4*j:]))
			in.Data[j] = v
			if in.bad < 0 && (math.IsNaN(float64(v)) || math.IsInf(float64(v), 0)) {
				in.bad, in.badValue = j, strconv.FormatFloat(float64(v), 'g', -1, 32)
			}
		}
		in.hasData = true
		bin = bin[in.binarySize:]
	}
	if len(bin) != 0 {
		return nil, badRequest("%d bytes after the JSON object that no input's binary_data_size accounts for", len(bin))
	}
	for k := range req.Inputs {
		in := &req.Inputs[k]
		switch {
		case in.Name == "":
			return nil, badRequest("inputs[%d] has no \"name\"", k)
		case !in.hasShape:
			return nil, badRequest("input %q has no \"shape\"", in.Name)
		case in.Datatype == "":
			return nil, badRequest("input %q has no \"datatype\"", in.Name)
		case !in.hasData:
			return nil, badRequest("input %q has no \"data\" (nor a binary_data_size parameter)", in.Name)
		}
	}
	for k, o := range req.Outputs {
		if o.Name == "" {
			return nil, badRequest("outputs[%d] has no \"name\"", k)
		}
	}
	return req, nil
}

// decoder reads JSON from b. It knows the request's structure and skips
// members it does not know, as the protocol allows (parameters, model
// names). It is written out by hand because a request is mostly numbers:
// it parses them straight into float32 without building a generic tree.
type decoder struct {
	b     []byte
	i     int
	depth int
}

func (d *decoder) errorf(format string, a ...any) error {
	return &requestError{fmt.Sprintf("malformed JSON at byte %d: ", d.i) + fmt.Sprintf(format, a...)}
}

func (d *decoder) ws() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// peek returns the next non-space byte, 0 at the end.
func (d *decoder) peek() byte {
	d.ws()
	if d.i >= len(d.b) {
		return 0
	}
	return d.b[d.i]
}

func (d *decoder) expect(c byte) error {
	if d.peek() != c {
		if d.i >= len(d.b) {
			return d.errorf("unexpected end, want %q", c)
		}
		return d.errorf("found %q, want %q", d.b[d.i], c)
	}
	d.i++
	return nil
}

// object calls member for each key of an object; member must consume the
// value.
func (d *decoder) object(what string, member func(key string) error) error {
	if d.peek() != '{' {
		return d.typeError(what, "an object")
	}
	d.i++
	if d.depth++; d.depth > maxDepth {
		return d.errorf("nested deeper than %d levels", maxDepth)
	}
	defer func() { d.depth-- }()
	if d.peek() == '}' {
		d.i++
		return nil
	}
	for {
		key, err := d.str()
		if err != nil {
			return err
		}
		if err := d.expect(':'); err != nil {
			return err
		}
		if err := member(key); err != nil {
			return err
		}
		switch d.peek() {
		case ',':
			d.i++
		case '}':
			d.i++
			return nil
		default:
			return d.errorf("want ',' or '}' in %s", what)
		}
	}
}

// array calls elem for each element of an array; elem must consume it.
func (d *decoder) array(what string, elem func(i int) error) error {
	if d.peek() != '[' {
		return d.typeError(what, "an array")
	}
	d.i++
	if d.depth++; d.depth > maxDepth {
		return d.errorf("nested deeper than %d levels", maxDepth)
	}
	defer func() { d.depth-- }()
	if d.peek() == ']' {
		d.i++
		return nil
	}
	for n := 0; ; n++ {
		if err := elem(n); err != nil {
			return err
		}
		switch d.peek() {
		case ',':
			d.i++
		case ']':
			d.i++
			return nil
		default:
			return d.errorf("want ',' or ']' in %s", what)
		}
	}
}

// typeError reports that what holds the wrong kind of JSON value.
func (d *decoder) typeError(what, want string) error {
	c := d.peek()
	if c == 0 {
		return d.errorf("unexpected end, want %s for %s", want, what)
	}
	var kind string
	switch {
	case c == '{':
		kind = "an object"
	case c == '[':
		kind = "an array"
	case c == '"':
		kind = "a string"
	case c == 't' || c == 'f':
		kind = "a boolean"
	case c == 'n':
		kind = "null"
	case c == '-' || (c >= '0' && c <= '9'):
		kind = "a number"
	default:
		return d.errorf("unexpected %q", c)
	}
	return badRequest("%s must be %s, found %s", what, want, kind)
}

// str reads a JSON string.
func (d *decoder) str() (string, error) {
	if c := d.peek(); c != '"' {
		if c == 0 {
			return "", d.errorf("unexpected end, want a string")
		}
		return "", d.errorf("want a string")
	}
	d.i++
	start := d.i
	// Fast path: no escapes.
	for d.i < len(d.b) {
		c := d.b[d.i]
		if c == '"' {
			s := string(d.b[start:d.i])
			d.i++
			return s, nil
		}
		if c == '\\' || c < 0x20 {
			break
		}
		d.i++
	}
	buf := append([]byte(nil), d.b[start:d.i]...)
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			d.i++
			return string(buf), nil
		case c < 0x20:
			return "", d.errorf("control character in a string")
		case c != '\\':
			buf = append(buf, c)
			d.i++
			continue
		}
		if d.i+1 >= len(d.b) {
			break
		}
		e := d.b[d.i+1]
		d.i += 2
		switch e {
		case '"', '\\', '/':
			buf = append(buf, e)
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			r, ok := d.hex4()
			if !ok {
				return "", d.errorf("bad \\u escape")
			}
			if utf16.IsSurrogate(r) {
				r2 := rune(-1)
				if d.i+1 < len(d.b) && d.b[d.i] == '\\' && d.b[d.i+1] == 'u' {
					d.i += 2
					if r2, ok = d.hex4(); !ok {
						return "", d.errorf("bad \\u escape")
					}
				}
				r = utf16.DecodeRune(r, r2)
			}
			buf = utf8.AppendRune(buf, r)
		default:
			return "", d.errorf("bad escape \\%c", e)
		}
	}
	return "", d.errorf("unterminated string")
}

func (d *decoder) hex4() (rune, bool) {
	if d.i+4 > len(d.b) {
		return 0, false
	}
	var r rune
	for _, c := range d.b[d.i : d.i+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	d.i += 4
	return r, true
}

// numberToken returns the bytes of a JSON number at d.i, checked against
// JSON's grammar (strconv accepts more: hex, underscores, "inf").
func (d *decoder) numberToken() ([]byte, error) {
	d.ws()
	b, i := d.b, d.i
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		return nil, d.errorf("want a number")
	}
	if i < len(b) && b[i] == '.' {
		i++
		j := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == j {
			d.i = i
			return nil, d.errorf("want a digit after '.'")
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == j {
			d.i = i
			return nil, d.errorf("want a digit in the exponent")
		}
	}
	tok := b[d.i:i]
	d.i = i
	return tok, nil
}

// int64Value reads a JSON integer (a number without fraction or exponent).
func (d *decoder) int64Value(what string) (int64, error) {
	if c := d.peek(); c != '-' && (c < '0' || c > '9') {
		return 0, d.typeError(what, "an integer")
	}
	tok, err := d.numberToken()
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseInt(string(tok), 10, 64)
	if err != nil {
		return 0, badRequest("%s: %s is not an integer in range", what, tok)
	}
	return v, nil
}

func (d *decoder) boolValue(what string) (bool, error) {
	switch {
	case d.literal("true"):
		return true, nil
	case d.literal("false"):
		return false, nil
	}
	return false, d.typeError(what, "a boolean")
}

// literal consumes word if it comes next.
func (d *decoder) literal(word string) bool {
	d.ws()
	if len(d.b)-d.i >= len(word) && string(d.b[d.i:d.i+len(word)]) == word {
		d.i += len(word)
		return true
	}
	return false
}

// skip consumes any JSON value.
func (d *decoder) skip() error {
	switch c := d.peek(); {
	case c == '{':
		return d.object("a value", func(string) error { return d.skip() })
	case c == '[':
		return d.array("a value", func(int) error { return d.skip() })
	case c == '"':
		_, err := d.str()
		return err
	case c == '-' || (c >= '0' && c <= '9'):
		_, err := d.numberToken()
		return err
	case d.literal("true"), d.literal("false"), d.literal("null"):
		return nil
	case c == 0:
		return d.errorf("unexpected end")
	default:
		return d.errorf("unexpected %q", c)
	}
}

func (d *decoder) request(req *inferRequest) error {
	if d.peek() != '{' {
		return d.errorf("the body must be a JSON object (an inference request)")
	}
	return d.object("the request", func(key string) error {
		switch key {
		case "id":
			if d.peek() != '"' {
				return d.typeError(`"id"`, "a string")
			}
			var err error
			req.ID, err = d.str()
			return err
		case "inputs":
			return d.array(`"inputs"`, func(i int) error {
				if i >= maxItems {
					return badRequest("more than %d inputs", maxItems)
				}
				req.Inputs = append(req.Inputs, requestInput{binarySize: -1, bad: -1})
				return d.input(&req.Inputs[len(req.Inputs)-1], i)
			})
		case "outputs":
			return d.array(`"outputs"`, func(i int) error {
				if i >= maxItems {
					return badRequest("more than %d outputs", maxItems)
				}
				req.Outputs = append(req.Outputs, requestOutput{})
				return d.output(&req.Outputs[len(req.Outputs)-1], i)
			})
		case "parameters":
			return d.object(`"parameters"`, func(key string) error {
				if key == "binary_data_output" {
					var err error
					req.BinaryOutput, err = d.boolValue(`parameter "binary_data_output"`)
					return err
				}
				return d.skip()
			})
		default:
			return d.skip()
		}
	})
}

func (d *decoder) input(in *requestInput, i int) error {
	what := fmt.Sprintf("inputs[%d]", i)
	return d.object(what, func(key string) error {
		switch key {
		case "name":
			if d.peek() != '"' {
				return d.typeError(what+".name", "a string")
			}
			var err error
			in.Name, err = d.str()
			return err
		case "datatype":
			if d.peek() != '"' {
				return d.typeError(what+".datatype", "a string")
			}
			var err error
			in.Datatype, err = d.str()
			return err
		case "shape":
			in.hasShape = true
			in.Shape = in.Shape[:0]
			return d.array(what+".shape", func(j int) error {
				if j >= maxRank {
					return badRequest("%s.shape has more than %d dimensions", what, maxRank)
				}
				v, err := d.int64Value(what + ".shape")
				if err != nil {
					return err
				}
				if v < 0 {
					return badRequest("%s.shape: dimension %d is negative", what, v)
				}
				in.Shape = append(in.Shape, v)
				return nil
			})
		case "data":
			in.hasData = true
			in.Data, in.bad = in.Data[:0], -1 // a repeated key replaces the first
			return d.data(in, what)
		case "parameters":
			return d.object(what+".parameters", func(key string) error {
				if key == "binary_data_size" {
					v, err := d.int64Value(what + `.parameters.binary_data_size`)
					if err != nil {
						return err
					}
					if v < 0 {
						return badRequest("%s: binary_data_size %d is negative", what, v)
					}
					in.binarySize = v
					return nil
				}
				return d.skip()
			})
		default:
			return d.skip()
		}
	})
}

// data reads a tensor's elements, flat or nested as the shape (both forms
// are allowed; nesting is flattened in row-major order). JSON has no NaN or
// infinity, but many encoders write NaN, Infinity and -Infinity: those are
// accepted here only to be refused later with the input's name, as is a
// number that overflows float32.
func (d *decoder) data(in *requestInput, what string) error {
	var elem func(int) error
	elem = func(int) error {
		c := d.peek()
		switch {
		case c == '[':
			return d.array(what+".data", elem)
		case c == '-' || (c >= '0' && c <= '9'):
			if c == '-' && d.i+1 < len(d.b) && d.b[d.i+1] == 'I' {
				break
			}
			tok, err := d.numberToken()
			if err != nil {
				return err
			}
			f, err := parseFloat32(tok)
			if err != nil && !math.IsInf(f, 0) {
				return badRequest("%s.data: bad number %s", what, tok)
			}
			if math.IsInf(f, 0) && in.bad < 0 {
				in.bad, in.badValue = len(in.Data), string(tok)+" (beyond float32's range)"
			}
			in.Data = append(in.Data, float32(f))
			return nil
		}
		for _, w := range [...]struct {
			word string
			v    float64
		}{{"NaN", math.NaN()}, {"Infinity", math.Inf(1)}, {"-Infinity", math.Inf(-1)}} {
			if d.literal(w.word) {
				if in.bad < 0 {
					in.bad, in.badValue = len(in.Data), w.word
				}
				in.Data = append(in.Data, float32(w.v))
				return nil
			}
		}
		return d.typeError(what+".data element", "a number")
	}
	if d.peek() != '[' {
		return d.typeError(what+".data", "an array")
	}
	// A flat array's length is its commas plus one: size the slice once
	// (the bound is the body's size, already limited).
	rest := d.b[d.i+1:]
	if end := bytes.IndexByte(rest, ']'); end >= 0 && bytes.IndexByte(rest[:end], '[') < 0 && cap(in.Data) == 0 {
		in.Data = make([]float32, 0, bytes.Count(rest[:end], []byte{','})+1)
	}
	return d.array(what+".data", elem)
}

func (d *decoder) output(o *requestOutput, i int) error {
	what := fmt.Sprintf("outputs[%d]", i)
	return d.object(what, func(key string) error {
		switch key {
		case "name":
			if d.peek() != '"' {
				return d.typeError(what+".name", "a string")
			}
			var err error
			o.Name, err = d.str()
			return err
		case "parameters":
			return d.object(what+".parameters", func(key string) error {
				if key == "binary_data" {
					var err error
					o.Binary, err = d.boolValue(what + `.parameters.binary_data`)
					o.BinarySet = true
					return err
				}
				return d.skip()
			})
		default:
			return d.skip()
		}
	})
}

// pow10f32 are the powers of ten that float32 holds exactly.
var pow10f32 = [...]float32{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10}

// parseFloat32 converts a JSON number token (already checked against the
// grammar) to the nearest float32, as strconv.ParseFloat(s, 32) does. Most
// numbers that clients send (up to 7 significant digits, a modest
// exponent) take a short path: their digits are an exact float32 and so is
// the power of ten, so one correctly rounded multiplication or division
// gives the answer. Everything else goes to strconv.
func parseFloat32(tok []byte) (float64, error) {
	i, neg := 0, false
	if i < len(tok) && tok[i] == '-' {
		neg = true
		i++
	}
	var mant uint64
	digits, exp := 0, 0
	for ; i < len(tok) && tok[i] >= '0' && tok[i] <= '9'; i++ {
		mant = mant*10 + uint64(tok[i]-'0')
		if mant != 0 {
			digits++
		}
	}
	if i < len(tok) && tok[i] == '.' {
		for i++; i < len(tok) && tok[i] >= '0' && tok[i] <= '9'; i++ {
			mant = mant*10 + uint64(tok[i]-'0')
			if mant != 0 {
				digits++
			}
			exp--
		}
	}
	if i == len(tok) && digits <= 8 && mant < 1<<24 && exp >= -10 {
		f := float32(mant)
		if exp < 0 {
			f /= pow10f32[-exp]
		}
		if neg {
			f = -f
		}
		return float64(f), nil
	}
	return strconv.ParseFloat(string(tok), 32)
}
