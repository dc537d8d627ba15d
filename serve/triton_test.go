package serve

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"

	"github.com/vaec/vaec/internal/tritonpb"
	"github.com/vaec/vaec/runtime"
)

// parseTritonConfig reads a config.pbtxt strictly: a field that Triton's
// ModelConfig (as far as internal/tritonpb declares it) does not have is an
// error.
func parseTritonConfig(b []byte) (*tritonpb.ModelConfig, error) {
	cfg := &tritonpb.ModelConfig{}
	return cfg, prototext.Unmarshal(b, cfg)
}

func TestWriteTritonRepository(t *testing.T) {
	mm := trainedMNIST(t)
	dir := t.TempDir()
	opts := TritonOptions{MaxBatch: 32, MaxQueueDelay: 250 * time.Microsecond}
	files := map[string][]byte{"encoder": mm.enc, "decoder": mm.dec}
	written, err := WriteTritonRepository(dir, files, opts)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"decoder/1/model.onnx", "decoder/config.pbtxt", "encoder/1/model.onnx", "encoder/config.pbtxt"}
	for i := range written {
		written[i], _ = filepath.Rel(dir, written[i])
	}
	if !slices.Equal(written, want) {
		t.Errorf("wrote %v, want %v", written, want)
	}
	tensor := func(name string, dims ...int64) (*tritonpb.ModelInput, *tritonpb.ModelOutput) {
		return &tritonpb.ModelInput{Name: name, DataType: tritonpb.DataType_TYPE_FP32, Dims: dims},
			&tritonpb.ModelOutput{Name: name, DataType: tritonpb.DataType_TYPE_FP32, Dims: dims}
	}
	x, _ := tensor("x", 784)
	z, _ := tensor("z", 20)
	_, mu := tensor("mu", 20)
	_, logvar := tensor("logvar", 20)
	_, probs := tensor("probs", 784)
	_, meanRaw := tensor("mean_raw", 784)
	batching := &tritonpb.ModelConfig_DynamicBatching{DynamicBatching: &tritonpb.ModelDynamicBatching{MaxQueueDelayMicroseconds: 250}}
	wantCfg := map[string]*tritonpb.ModelConfig{
		"encoder": {Name: "encoder", Platform: TritonPlatform, MaxBatchSize: 32, Input: []*tritonpb.ModelInput{x},
			Output: []*tritonpb.ModelOutput{mu, logvar}, SchedulingChoice: batching},
		"decoder": {Name: "decoder", Platform: TritonPlatform, MaxBatchSize: 32, Input: []*tritonpb.ModelInput{z},
			Output: []*tritonpb.ModelOutput{probs, meanRaw}, SchedulingChoice: batching},
	}
	// Every config.pbtxt in the repository parses strictly and says what
	// the model is; every model.onnx is the file given.
	n := 0
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		model := strings.Split(rel, string(filepath.Separator))[0]
		switch filepath.Base(path) {
		case "config.pbtxt":
			n++
			cfg, err := parseTritonConfig(b)
			if err != nil {
				t.Errorf("%s does not parse as a Triton ModelConfig: %v\n%s", rel, err, b)
				return nil
			}
			if !proto.Equal(cfg, wantCfg[model]) {
				t.Errorf("%s:\n%v\nwant\n%v", rel, cfg, wantCfg[model])
			}
		case "model.onnx":
			if !bytes.Equal(b, files[model]) {
				t.Errorf("%s differs from the file given", rel)
			}
		default:
			t.Errorf("unexpected file %s", rel)
		}
		return nil
	})
	if err != nil || n != 2 {
		t.Fatalf("walked %d configs: %v", n, err)
	}
	// The same models give the same bytes.
	dir2 := t.TempDir()
	if _, err := WriteTritonRepository(dir2, files, opts); err != nil {
		t.Fatal(err)
	}
	for _, f := range want {
		a, _ := os.ReadFile(filepath.Join(dir, f))
		b, _ := os.ReadFile(filepath.Join(dir2, f))
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs between two writes", f)
		}
	}
	// A file that does not load writes nothing.
	dir3 := t.TempDir()
	if _, err := WriteTritonRepository(dir3, map[string][]byte{"a": mm.enc, "b": []byte("not onnx")}, opts); err == nil {
		t.Error("no error for a broken file")
	}
	if entries, _ := os.ReadDir(dir3); len(entries) != 0 {
		t.Errorf("wrote %d entries despite the error", len(entries))
	}
}

// TestTritonConfig covers what the MNIST files do not: a model without a
// batch dimension, other symbolic dimensions, names that need escaping.
func TestTritonConfig(t *testing.T) {
	sym := runtime.Dim{Param: "N"}
	fixed := func(v int64) runtime.Dim { return runtime.Dim{Value: v} }
	for _, c := range []struct {
		name          string
		inputs        []runtime.IOInfo
		outputs       []runtime.IOInfo
		maxBatch      int32
		inDims, outDs []int64
		batching      bool
	}{
		{"batched", []runtime.IOInfo{{Name: "x", Shape: []runtime.Dim{sym, fixed(3), fixed(4)}}},
			[]runtime.IOInfo{{Name: "y", Shape: []runtime.Dim{sym, {Param: "T"}}}}, 64, []int64{3, 4}, []int64{-1}, true},
		{"fixed batch", []runtime.IOInfo{{Name: "x", Shape: []runtime.Dim{fixed(5), fixed(4)}}},
			[]runtime.IOInfo{{Name: "y", Shape: []runtime.Dim{fixed(5), fixed(2)}}}, 0, []int64{5, 4}, []int64{5, 2}, false},
		{"odd names", []runtime.IOInfo{{Name: "a \"q\" \\ é\n", Shape: []runtime.Dim{sym, fixed(1)}}},
			[]runtime.IOInfo{{Name: "out:0", Shape: []runtime.Dim{sym, fixed(1)}}}, 64, []int64{1}, []int64{1}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := TritonConfig("m", c.inputs, c.outputs, TritonOptions{})
			cfg, err := parseTritonConfig(b)
			if err != nil {
				t.Fatalf("%v\n%s", err, b)
			}
			in, out := cfg.GetInput()[0], cfg.GetOutput()[0]
			if cfg.GetMaxBatchSize() != c.maxBatch || (cfg.GetDynamicBatching() != nil) != c.batching ||
				in.GetName() != c.inputs[0].Name || out.GetName() != c.outputs[0].Name ||
				!slices.Equal(in.GetDims(), c.inDims) || !slices.Equal(out.GetDims(), c.outDs) {
				t.Errorf("got\n%v\nfrom\n%s", cfg, b)
			}
		})
	}
}

// TestTritonTestdata parses hand-written configs in the documented format:
// the good ones parse, each bad one (a misspelt field, a wrong enum value,
// a field in the wrong message) fails.
func TestTritonTestdata(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "triton", "*.pbtxt"))
	if err != nil || len(files) < 4 {
		t.Fatalf("found %d configs: %v", len(files), err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		_, err = parseTritonConfig(b)
		bad := strings.HasPrefix(filepath.Base(f), "bad-")
		switch {
		case bad && err == nil:
			t.Errorf("%s parsed, want an error", f)
		case !bad && err != nil:
			t.Errorf("%s: %v", f, err)
		case bad:
			t.Logf("%s: %v", filepath.Base(f), err)
		}
	}
}
