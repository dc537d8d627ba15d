package serve

import (
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestDecodeRequest(t *testing.T) {
	for _, c := range []struct {
		name, body string
		check      func(*inferRequest) bool
	}{
		{"minimal", `{"inputs":[{"name":"z","shape":[1,2],"datatype":"FP32","data":[1,-2.5]}]}`,
			func(r *inferRequest) bool {
				in := r.Inputs[0]
				return in.Name == "z" && slices.Equal(in.Shape, []int64{1, 2}) && slices.Equal(in.Data, []float32{1, -2.5}) && in.bad < 0
			}},
		{"whitespace, id, unknown members, parameters", " {\n\"id\":\"a\\\"b\\u00e9\\ud83d\\ude00\", \"model_name\":{\"x\":[null,true]},\"parameters\":{\"k\":1,\"binary_data_output\":true},\n" +
			"\"inputs\":[{\"parameters\":{\"p\":\"q\"},\"data\":[[0.5],[1e-3]],\"datatype\":\"FP32\",\"shape\":[2,1],\"name\":\"x\"}],\"outputs\":[{\"name\":\"mu\",\"parameters\":{\"binary_data\":false}}]}\t",
			func(r *inferRequest) bool {
				return r.ID == "a\"bé😀" && r.BinaryOutput && r.Outputs[0] == (requestOutput{"mu", false, true}) &&
					slices.Equal(r.Inputs[0].Data, []float32{0.5, 1e-3})
			}},
		{"nested deeply as the shape", `{"inputs":[{"name":"x","shape":[1,2,2],"datatype":"FP32","data":[[[1,2],[3,4]]]}]}`,
			func(r *inferRequest) bool { return slices.Equal(r.Inputs[0].Data, []float32{1, 2, 3, 4}) }},
		{"NaN is kept for the error", `{"inputs":[{"name":"x","shape":[2],"datatype":"FP32","data":[0,NaN]}]}`,
			func(r *inferRequest) bool { return r.Inputs[0].bad == 1 && r.Inputs[0].badValue == "NaN" }},
		{"float32 overflow", `{"inputs":[{"name":"x","shape":[2],"datatype":"FP32","data":[-3.5e38,0]}]}`,
			func(r *inferRequest) bool {
				return r.Inputs[0].bad == 0 && math.IsInf(float64(r.Inputs[0].Data[0]), -1)
			}},
		{"float32 underflow rounds to 0", `{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1e-50]}]}`,
			func(r *inferRequest) bool { return r.Inputs[0].bad < 0 && r.Inputs[0].Data[0] == 0 }},
		{"binary input", "{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"FP32\",\"parameters\":{\"binary_data_size\":4}}]}\x00\x00\x80\x3f",
			func(r *inferRequest) bool { return slices.Equal(r.Inputs[0].Data, []float32{1}) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			jsonLen := -1
			if i := strings.LastIndexByte(c.body, '}'); i >= 0 && strings.Contains(c.body, "binary_data_size") {
				jsonLen = i + 1
			}
			r, err := decodeRequest([]byte(c.body), jsonLen)
			if err != nil {
				t.Fatal(err)
			}
			if !c.check(r) {
				t.Errorf("decoded %+v", r)
			}
		})
	}
}

func TestDecodeRequestErrors(t *testing.T) {
	for _, c := range []struct{ body, want string }{
		{``, "must be a JSON object"},
		{`{`, "unexpected end"},
		{`{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}],}`, "want a string"},
		{`{"inputs":{}}`, `"inputs" must be an array, found an object`},
		{`{"inputs":[{"name":1}]}`, "inputs[0].name must be a string, found a number"},
		{`{"inputs":[{"name":"x","shape":[1.5]}]}`, "not an integer"},
		{`{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[01]}]}`, "want ',' or ']'"},
		{`{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1.]}]}`, "want a digit after '.'"},
		{`{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[0x10]}]}`, "want ',' or ']'"},
		{`{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[inf]}]}`, "unexpected 'i'"},
		{`{"inputs":[{"name":"x","shape":[1],"datatype":"FP32"}]}`, `input "x" has no "data"`},
		{`{"inputs":[{"name":"x","datatype":"FP32","data":[1]}]}`, `input "x" has no "shape"`},
		{`{"inputs":[{"name":"x","shape":[1],"data":[1]}]}`, `input "x" has no "datatype"`},
		{`{"outputs":[{}]}`, `outputs[0] has no "name"`},
		{"{\"id\":\"\x01\"}", "control character"},
		{`{"id":"\q"}`, "bad escape"},
		{`{"id":"\u12"}`, `bad \u escape`},
		{`{"parameters":{"binary_data_output":1}}`, "must be a boolean"},
		{strings.Repeat("[", 100), "must be a JSON object"},
		{`{"x":` + strings.Repeat("[", 100), "nested deeper than 32 levels"},
		{`{"inputs":[{"name":"x","shape":[` + strings.Repeat("1,", 16) + `1]}]}`, "more than 16 dimensions"},
		{`{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","parameters":{"binary_data_size":3}}]}`, "not a whole number of FP32 values"},
	} {
		_, err := decodeRequest([]byte(c.body), -1)
		var re *requestError
		if !errors.As(err, &re) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%.60q: got %v, want a request error containing %q", c.body, err, c.want)
		}
	}
}

// FuzzDecodeRequest: no input makes the decoder panic, and whatever it
// accepts is consistent: inputs have names, shapes, datatypes and data,
// the first bad element is within the data and really is NaN or infinite.
func FuzzDecodeRequest(f *testing.F) {
	for _, s := range []string{
		`{"id":"1","inputs":[{"name":"z","shape":[1,2],"datatype":"FP32","data":[1,-2.5e-3]}],"outputs":[{"name":"probs"}]}`,
		`{"inputs":[{"name":"x","shape":[2,1],"datatype":"FP32","data":[[NaN],[Infinity]]}],"parameters":{"binary_data_output":true}}`,
		`{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","parameters":{"binary_data_size":4}}]}` + "\x00\x00\xc0\x7f",
		`{"id":"\u00e9\ud83d","inputs":[],"outputs":[{"name":"a","parameters":{"binary_data":true}}]}`,
		`[1e400, -0, 1E+2]`,
	} {
		f.Add([]byte(s), -1)
	}
	f.Fuzz(func(t *testing.T, body []byte, jsonLen int) {
		if jsonLen >= 0 {
			jsonLen %= len(body) + 2
		}
		r, err := decodeRequest(body, jsonLen)
		if err != nil {
			var re *requestError
			if !errors.As(err, &re) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			if !utf8.ValidString(string(appendError(nil, err.Error()))) {
				t.Fatalf("error answer is not valid UTF-8")
			}
			return
		}
		for _, in := range r.Inputs {
			if in.Name == "" || in.Datatype == "" || !in.hasShape || !in.hasData {
				t.Fatalf("accepted an incomplete input %+v", in)
			}
			if in.bad >= len(in.Data) {
				t.Fatalf("bad element %d of %d", in.bad, len(in.Data))
			}
			for i, v := range in.Data {
				nonFinite := math.IsNaN(float64(v)) || math.IsInf(float64(v), 0)
				if nonFinite && (in.bad < 0 || in.bad > i) {
					t.Fatalf("element %d is %v but the first bad element is %d", i, v, in.bad)
				}
			}
		}
		// The id comes back as valid JSON.
		b, _ := appendResponse(nil, "m", "1", r.ID, nil)
		var v map[string]any
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatalf("response with id %q is not JSON: %v", r.ID, err)
		}
	})
}

// FuzzParseFloat32: the short path gives the bits strconv gives, for every
// number JSON allows.
func FuzzParseFloat32(f *testing.F) {
	for _, s := range []string{"0", "-0", "0.003921569", "1", "-2.5e-3", "16777217", "0.1", "1e-45", "3.4028236e38", "123.4567", "0.00000000001"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d := &decoder{b: []byte(s)}
		tok, err := d.numberToken()
		if err != nil || d.i != len(s) {
			return
		}
		got, gerr := parseFloat32(tok)
		want, werr := strconv.ParseFloat(string(tok), 32)
		if math.Float32bits(float32(got)) != math.Float32bits(float32(want)) || (gerr == nil) != (werr == nil) {
			t.Fatalf("%s: got %v (%v), strconv %v (%v)", s, got, gerr, want, werr)
		}
	})
}
