package checkpoint

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func f64(v float64) *float64 { return &v }

func sample() *Checkpoint {
	return &Checkpoint{
		Weights: map[string]Tensor{
			"encoder.0.weight": {Shape: []int{3, 2}, Data: []float32{1, -2, 3.5, 0, float32(math.Inf(1)), 1e-30}},
			"encoder.0.bias":   {Shape: []int{2}, Data: []float32{0.25, -0.5}},
			"decoder.logvar":   {Shape: []int{}, Data: []float32{7}}, // a scalar
			"empty":            {Shape: []int{0, 4}, Data: []float32{}},
		},
		Optimizer: map[string]Tensor{
			"m.encoder.0.bias": {Shape: []int{2}, Data: []float32{1e-3, 2e-3}},
			"v.encoder.0.bias": {Shape: []int{2}, Data: []float32{1e-6, 2e-6}},
		},
		State: State{
			SpecHash: "abc123", Epoch: 3, Step: 1407, RNG: []byte{1, 2, 3, 255},
			TrainELBO: f64(-101.5), ValELBO: f64(-99.25), BestValELBO: f64(-99.25), BestEpoch: 3, Stale: 0,
			Extra: map[string]string{"kl_weight": "0.5"},
		},
	}
}

func encode(t testing.TB, c *Checkpoint) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Encode(&buf, c); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// equal compares checkpoints bit for bit (so NaN equals NaN).
func equal(a, b *Checkpoint) error {
	if !reflect.DeepEqual(a.State, b.State) {
		return fmt.Errorf("state %+v != %+v", a.State, b.State)
	}
	for _, m := range []struct {
		name string
		a, b map[string]Tensor
	}{{"weights", a.Weights, b.Weights}, {"optimizer", a.Optimizer, b.Optimizer}} {
		if len(m.a) != len(m.b) {
			return fmt.Errorf("%s: %d tensors != %d", m.name, len(m.a), len(m.b))
		}
		for k, ta := range m.a {
			tb, ok := m.b[k]
			if !ok {
				return fmt.Errorf("%s: %q missing", m.name, k)
			}
			if len(ta.Shape) != len(tb.Shape) || fmt.Sprint(ta.Shape) != fmt.Sprint(tb.Shape) || len(ta.Data) != len(tb.Data) {
				return fmt.Errorf("%s %q: shape %v (%d values) != %v (%d values)", m.name, k, ta.Shape, len(ta.Data), tb.Shape, len(tb.Data))
			}
			for i := range ta.Data {
				if math.Float32bits(ta.Data[i]) != math.Float32bits(tb.Data[i]) {
					return fmt.Errorf("%s %q[%d]: %v != %v", m.name, k, i, ta.Data[i], tb.Data[i])
				}
			}
		}
	}
	return nil
}

func TestRoundTrip(t *testing.T) {
	c := sample()
	got, err := Decode(encode(t, c))
	if err != nil {
		t.Fatal(err)
	}
	if err := equal(c, got); err != nil {
		t.Fatal(err)
	}
}

func TestEncodeDeterministic(t *testing.T) {
	// Map iteration order varies from run to run; the bytes must not.
	first := encode(t, sample())
	for range 20 {
		if !bytes.Equal(encode(t, sample()), first) {
			t.Fatal("equal checkpoints gave different bytes")
		}
	}
}

// TestLayout reads an encoded file as a foreign safetensors reader would:
// 8-byte little-endian header length, JSON header, contiguous F32 data.
func TestLayout(t *testing.T) {
	b := encode(t, sample())
	n := binary.LittleEndian.Uint64(b)
	if (8+n)%8 != 0 {
		t.Errorf("data starts at %d, not 8-byte aligned", 8+n)
	}
	var hdr map[string]json.RawMessage
	if err := json.Unmarshal(b[8:8+n], &hdr); err != nil {
		t.Fatal(err)
	}
	var meta map[string]string
	if err := json.Unmarshal(hdr["__metadata__"], &meta); err != nil {
		t.Fatal(err)
	}
	if meta["vaec.spec_hash"] != "abc123" || !strings.Contains(meta["vaec.state"], `"step":1407`) {
		t.Errorf("metadata %v lacks the spec hash or state", meta)
	}
	var end int64
	for _, name := range []string{"decoder.logvar", "empty", "encoder.0.bias", "encoder.0.weight", "optimizer.m.encoder.0.bias", "optimizer.v.encoder.0.bias"} {
		var e entry
		if err := json.Unmarshal(hdr[name], &e); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if e.DType != "F32" || e.Offsets[0] != end {
			t.Errorf("%s: dtype %s offsets %v, want F32 starting at %d", name, e.DType, e.Offsets, end)
		}
		end = e.Offsets[1]
	}
	if int64(len(b))-8-int64(n) != end {
		t.Errorf("data is %d bytes, the tensors cover %d", int64(len(b))-8-int64(n), end)
	}
	if len(hdr) != 7 {
		t.Errorf("header has %d entries, want 6 tensors and __metadata__", len(hdr))
	}
}

// safetensors builds a file from a header text and data, as another tool
// might write it.
func safetensors(header string, data []byte) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	return append(append(b, header...), data...)
}

func f32bytes(v ...float32) []byte {
	var b []byte
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
	}
	return b
}

func TestDecodeForeign(t *testing.T) {
	// A file written by another tool: no vaec metadata, arbitrary key order.
	file := safetensors(`{"w":{"dtype":"F32","shape":[2,2],"data_offsets":[4,20]},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"__metadata__":{"format":"pt"}}`,
		f32bytes(9, 1, 2, 3, 4))
	c, err := Decode(file)
	if err != nil {
		t.Fatal(err)
	}
	want := &Checkpoint{
		Weights:   map[string]Tensor{"w": {Shape: []int{2, 2}, Data: []float32{1, 2, 3, 4}}, "b": {Shape: []int{1}, Data: []float32{9}}},
		Optimizer: map[string]Tensor{},
	}
	if err := equal(c, want); err != nil {
		t.Fatal(err)
	}
}

func TestDecodeErrors(t *testing.T) {
	four := f32bytes(1, 2, 3, 4)
	for _, c := range []struct {
		name string
		file []byte
		want string
	}{
		{"empty", nil, "too short"},
		{"short", []byte{1, 2, 3}, "too short"},
		{"header past end", safetensors(`{}`, nil)[:9], "exceeds the file"},
		{"huge header length", binary.LittleEndian.AppendUint64(nil, 1<<62), "exceeds the file"},
		{"bad json", safetensors(`{"a":`, nil), "header at offset 8"},
		{"not an object", safetensors(`[1,2]`, nil), "header at offset 8"},
		{"bad entry", safetensors(`{"a":{"dtype":1}}`, nil), `tensor "a"`},
		{"dtype", safetensors(`{"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}`, four[:4]), `tensor "a": dtype F16`},
		{"negative shape", safetensors(`{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}`, four[:4]), "negative or too large"},
		{"huge shape", safetensors(`{"a":{"dtype":"F32","shape":[65536,65536],"data_offsets":[0,4]}}`, four[:4]), "negative or too large"},
		{"offsets past end", safetensors(`{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}`, four[:8]), "outside the 8 data bytes"},
		{"offsets reversed", safetensors(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}`, four), "outside"},
		{"negative offset", safetensors(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}}`, four), "outside"},
		{"size mismatch", safetensors(`{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,16]}}`, four), "needs 12 bytes, offsets give 16"},
		{"overlap", safetensors(`{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}`, four), "contiguous"},
		{"hole", safetensors(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}`, four[:12]), "contiguous"},
		{"trailing data", safetensors(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, four), "contiguous"},
		{"bad metadata", safetensors(`{"__metadata__":{"vaec.state":7}}`, nil), "__metadata__"},
		{"bad state", safetensors(`{"__metadata__":{"vaec.state":"{\"epoch\":\"x\"}"}}`, nil), "__metadata__[vaec.state]"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Decode(c.file)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Decode: got error %v, want one containing %q", err, c.want)
			}
		})
	}
}

func TestEncodeErrors(t *testing.T) {
	c := &Checkpoint{Weights: map[string]Tensor{"w": {Shape: []int{2, 2}, Data: []float32{1, 2, 3}}}}
	err := Encode(&bytes.Buffer{}, c)
	if err == nil || !strings.Contains(err.Error(), `tensor "w": shape [2 2] needs 4 values, has 3`) {
		t.Fatalf("got %v", err)
	}
}

// State documents that a NaN ELBO (a diverged epoch) is stored as null; it
// must not make the checkpoint unwritable.
func TestNonFiniteState(t *testing.T) {
	c := sample()
	c.State.TrainELBO, c.State.ValELBO, c.State.BestValELBO = f64(math.NaN()), f64(math.Inf(-1)), f64(-3)
	got, err := Decode(encode(t, c))
	if err != nil {
		t.Fatal(err)
	}
	if got.State.TrainELBO != nil || got.State.ValELBO != nil || got.State.BestValELBO == nil || *got.State.BestValELBO != -3 {
		t.Fatalf("state after round trip: %+v", got.State)
	}
	if c.State.TrainELBO == nil || !math.IsNaN(*c.State.TrainELBO) {
		t.Fatal("Encode modified its argument")
	}
}

func TestSaveLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "checkpoint.safetensors")
	if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := sample()
	if err := Save(path, c); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := equal(c, got); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("directory holds %d entries after Save, want only the checkpoint (no temporary files)", len(ents))
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644", st.Mode().Perm())
	}
	// Load names the file in its errors.
	bad := filepath.Join(dir, "bad.safetensors")
	os.WriteFile(bad, []byte{1}, 0o644)
	if _, err := Load(bad); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("Load of a bad file: %v", err)
	}
	if _, err := Load(filepath.Join(dir, "missing")); err == nil {
		t.Error("Load of a missing file succeeded")
	}
	// A failed write leaves the previous file in place.
	if err := Save(filepath.Join(dir, "no", "such", "dir", "c.safetensors"), c); err == nil {
		t.Error("Save into a missing directory succeeded")
	}
}

func FuzzDecode(f *testing.F) {
	var buf bytes.Buffer
	Encode(&buf, sample())
	f.Add(buf.Bytes())
	f.Add(safetensors(`{"w":{"dtype":"F32","shape":[2,2],"data_offsets":[4,20]},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"__metadata__":{"format":"pt"}}`, f32bytes(9, 1, 2, 3, 4)))
	f.Add(safetensors(`{"a":{"dtype":"F32","shape":[],"data_offsets":[0,4]},"optimizer.m.a":{"dtype":"F32","shape":[0],"data_offsets":[4,4]}}`, f32bytes(1)))
	f.Add(safetensors(`{"__metadata__":{"vaec.state":"{\"epoch\":2,\"rng\":\"AQID\"}"}}`, nil))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Decode(data)
		if err != nil {
			return
		}
		// Whatever decodes must survive a second round trip unchanged.
		var b bytes.Buffer
		if err := Encode(&b, c); err != nil {
			t.Fatalf("re-encoding a decoded checkpoint: %v", err)
		}
		c2, err := Decode(b.Bytes())
		if err != nil {
			t.Fatalf("decoding a re-encoded checkpoint: %v", err)
		}
		if err := equal(c, c2); err != nil {
			t.Fatal(err)
		}
	})
}

func ExampleSave() {
	dir, _ := os.MkdirTemp("", "vaec")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "checkpoint.safetensors")
	c := &Checkpoint{
		Weights: map[string]Tensor{"decoder.out.bias": {Shape: []int{2}, Data: []float32{0.5, -1}}},
		State:   State{SpecHash: "abc", Epoch: 1, Step: 70},
	}
	if err := Save(path, c); err != nil {
		fmt.Println(err)
		return
	}
	back, err := Load(path)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(back.Weights["decoder.out.bias"].Data, back.State.Epoch, back.State.Step)
	// Output: [0.5 -1] 1 70
}
