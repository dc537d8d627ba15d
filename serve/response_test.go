package serve

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"
)

// TestAppendResponse: JSON numbers read back as the same float32, NaN and
// infinities become null, binary outputs follow the JSON in order, and
// strings stay valid JSON whatever they hold.
func TestAppendResponse(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	vals := []float32{0, -0.0, 1, -1.5, math.MaxFloat32, math.SmallestNonzeroFloat32, 1e-7, 123456789, float32(math.NaN()), float32(math.Inf(-1))}
	for range 1000 {
		vals = append(vals, math.Float32frombits(r.Uint32()))
	}
	bin := []float32{1, 2}
	b, jsonLen := appendResponse(nil, "m\"\x00\xff", "1", "id\n", []responseOutput{
		{Name: "y", Shape: []int{1, len(vals)}, Data: vals},
		{Name: "b", Shape: []int{2}, Data: bin, Binary: true},
	})
	var got struct {
		ModelName string `json:"model_name"`
		ID        string `json:"id"`
		Outputs   []struct {
			Name       string           `json:"name"`
			Data       []*float64       `json:"data"`
			Parameters map[string]int64 `json:"parameters"`
		} `json:"outputs"`
	}
	if err := json.Unmarshal(b[:jsonLen], &got); err != nil {
		t.Fatalf("%v: %.200s", err, b)
	}
	if got.ModelName != "m\"\x00\ufffd" || got.ID != "id\n" {
		t.Errorf("names %q %q", got.ModelName, got.ID)
	}
	for i, v := range vals {
		g := got.Outputs[0].Data[i]
		switch {
		case math.IsNaN(float64(v)) || math.IsInf(float64(v), 0):
			if g != nil {
				t.Errorf("value %d: %v written as %v, want null", i, v, *g)
			}
		case g == nil || math.Float32bits(float32(*g)) != math.Float32bits(v) && v != 0:
			t.Errorf("value %d: %v read back as %v", i, v, g)
		}
	}
	if got.Outputs[1].Parameters["binary_data_size"] != 8 || got.Outputs[1].Data != nil || len(b)-jsonLen != 8 ||
		math.Float32frombits(binary.LittleEndian.Uint32(b[jsonLen+4:])) != 2 {
		t.Errorf("binary output: %+v, %d bytes after the JSON", got.Outputs[1], len(b)-jsonLen)
	}
}
