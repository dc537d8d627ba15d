package export

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/vaec/vaec/checkpoint"
	"github.com/vaec/vaec/compiler"
	"github.com/vaec/vaec/ir"
)

// TestRound1BuildDirectory reads a build directory written before the
// general IR (testdata/round1: model.json in the round-1 layout) and
// exports its checkpoint again: the files must be the bytes vaec wrote
// then, so existing builds keep working and their exports do not change.
func TestRound1BuildDirectory(t *testing.T) {
	dir := filepath.Join("..", "testdata", "round1", "build")
	m, err := compiler.ReadModel(filepath.Join(dir, "model.json"))
	if err != nil {
		t.Fatalf("reading the round-1 model.json: %v", err)
	}
	if m.Format != ir.FormatVersion || m.Mu() == nil || m.Output() == nil || m.ParamCount() != 784*16+16+2*(16*2+2)+2*16+16+16*784+784 {
		t.Fatalf("converted model: format %d, %d parameters", m.Format, m.ParamCount())
	}
	ck, err := checkpoint.Load(filepath.Join(dir, "checkpoint.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	if ck.State.SpecHash != m.SpecHash {
		t.Fatalf("checkpoint spec hash %s, model.json %s", ck.State.SpecHash, m.SpecHash)
	}
	opts := Options{NoPreprocess: true, Metadata: Metadata{ProducerVersion: "0.1.0-dev", EpochsTrained: ck.State.Epoch, ValELBO: ck.State.ValELBO}}
	for _, f := range []struct {
		name string
		fn   func(*ir.Model, map[string]checkpoint.Tensor, Options) ([]byte, error)
	}{{"encoder.onnx", Encoder}, {"decoder.onnx", Decoder}} {
		got, err := f.fn(m, ck.Weights, opts)
		if err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile(filepath.Join(dir, f.name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: the export differs from the one made before the general IR (%d bytes vs %d)", f.name, len(got), len(want))
		}
	}
}
