package main

import (
	"bytes"
	"context"
	"github.com/vaec/vaec/ir"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vaec/vaec/checkpoint"
	"github.com/vaec/vaec/compiler"
	"github.com/vaec/vaec/conformance"
	"github.com/vaec/vaec/dataset"
	"github.com/vaec/vaec/export"
	"github.com/vaec/vaec/graph"
)

// vaecExport runs the command line in-process and returns its exit code
// and output streams.
func vaecExport(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	code = runWith(append([]string{"vaec"}, args...), &o, &e)
	return code, o.String(), e.String()
}

// trainedBuild makes a build directory as `vaec build` and `vaec train`
// leave it, inside a fresh working directory that becomes the current one:
// model.json from testdata/specs/mnist-small.yaml and a checkpoint written
// by the real trainer after one epoch on 500 images.
func trainedBuild(t *testing.T) (m *ir.Model, ck *checkpoint.Checkpoint) {
	t.Helper()
	spec, err := filepath.Abs(filepath.Join("..", "..", "testdata", "specs", "mnist-small.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	m, err = compiler.CompileFile(spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir())
	if err := os.Mkdir(defaultDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := compiler.WriteModel(filepath.Join(defaultDir, modelFile), m); err != nil {
		t.Fatal(err)
	}
	src := m.Data.Train
	src.Limit = 500
	set, err := dataset.Load(src, m.Input)
	if err != nil {
		t.Fatal(err)
	}
	ckPath := filepath.Join(defaultDir, lastCheckpoint)
	if _, err := graph.Train(context.Background(), m, graph.TrainOptions{Train: set, Epochs: 1, Checkpoint: ckPath}); err != nil {
		t.Fatal(err)
	}
	if ck, err = checkpoint.Load(ckPath); err != nil {
		t.Fatal(err)
	}
	return m, ck
}

// TestExportCommand: `vaec export --onnx` with no other arguments, in the
// directory `vaec build` and `vaec train` worked in.
func TestExportCommand(t *testing.T) {
	m, ck := trainedBuild(t)
	code, out, errOut := vaecExport(t, "export", "--onnx")
	if code != exitOK {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	t.Logf("vaec export --onnx:\n%s", out)
	enc, dec := filepath.Join(defaultDir, encoderFile), filepath.Join(defaultDir, decoderFile)
	for _, p := range []string{enc, dec} {
		if !strings.Contains(out, "wrote "+p+" (") {
			t.Errorf("output does not name %s:\n%s", p, out)
		}
	}
	if !strings.Contains(out, "PASS") || strings.Contains(out, "FAIL") {
		t.Errorf("verification did not pass:\n%s", out)
	}
	written := map[string][]byte{}
	for _, p := range []string{enc, dec} {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		written[p] = data
	}
	conformance.CheckAll(t, written)
	// The files are what the library writes for the checkpoint.
	opts := export.Options{Digest: true, Metadata: export.Metadata{ProducerVersion: version, EpochsTrained: ck.State.Epoch, ValELBO: ck.State.ValELBO}}
	for _, f := range []struct {
		path string
		fn   func(*ir.Model, map[string]checkpoint.Tensor, export.Options) ([]byte, error)
	}{{enc, export.Encoder}, {dec, export.Decoder}} {
		got, err := os.ReadFile(f.path)
		if err != nil {
			t.Fatal(err)
		}
		want, err := f.fn(m, ck.Weights, opts)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from export's bytes for the checkpoint", f.path)
		}
		info, err := export.Inspect(got)
		if err != nil {
			t.Fatal(err)
		}
		if v, _ := info.Meta(export.MetaEpochs); v != "1" {
			t.Errorf("%s: epochs_trained %q, want 1", f.path, v)
		}
	}
	// Atomic writes leave no temporary files behind.
	entries, err := os.ReadDir(defaultDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") && e.Name() != ".vaec" {
			t.Errorf("stray file %s in the build directory", e.Name())
		}
	}
	if left, _ := filepath.Glob(filepath.Join(defaultDir, ".vaec", ".tmp*")); len(left) > 0 {
		t.Errorf("temporary files left in .vaec: %v", left)
	}
	// Exporting again gives identical bytes.
	before, _ := os.ReadFile(enc)
	if code, out, errOut := vaecExport(t, "export", "--no-verify"); code != exitOK {
		t.Fatalf("second export: exit %d\n%s%s", code, out, errOut)
	}
	after, _ := os.ReadFile(enc)
	if !bytes.Equal(before, after) {
		t.Error("a second export of the same checkpoint changed encoder.onnx")
	}
}

func TestExportOptions(t *testing.T) {
	trainedBuild(t)
	code, out, errOut := vaecExport(t, "export", "--no-verify", "--opset", "13", "--roundtrip", "--out", "dist")
	if code != exitOK {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	written := map[string][]byte{}
	for _, name := range []string{encoderFile, decoderFile, roundTripFile} {
		p := filepath.Join("dist", name)
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		written[p] = data
		info, err := export.Inspect(data)
		if err != nil {
			t.Fatal(err)
		}
		if info.Opsets[0].Version != 13 {
			t.Errorf("%s: opset %d, want 13", p, info.Opsets[0].Version)
		}
		if !strings.Contains(out, "wrote "+p) {
			t.Errorf("output does not name %s:\n%s", p, out)
		}
	}
	if strings.Contains(out, "PASS") {
		t.Errorf("--no-verify still verified:\n%s", out)
	}
	conformance.CheckAll(t, written)
}

func TestExportRefuses(t *testing.T) {
	m, ck := trainedBuild(t)
	ckPath := filepath.Join(defaultDir, lastCheckpoint)
	untrained := filepath.Join(defaultDir, "untrained.safetensors")
	if err := checkpoint.Save(untrained, &checkpoint.Checkpoint{Weights: ck.Weights, State: checkpoint.State{SpecHash: m.SpecHash}}); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(defaultDir, "other.safetensors")
	st := ck.State
	st.SpecHash = strings.Repeat("ab", 32)
	if err := checkpoint.Save(other, &checkpoint.Checkpoint{Weights: ck.Weights, State: st}); err != nil {
		t.Fatal(err)
	}
	garbage := filepath.Join(defaultDir, "garbage.safetensors")
	if err := os.WriteFile(garbage, []byte("not a checkpoint"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		setup func()
		args  []string
		code  int
		want  string
	}{
		{"no build", nil, []string{"export", "--dir", "elsewhere"}, exitError, "no build in elsewhere/: run `vaec build spec.yaml` first"},
		{"untrained", nil, []string{"export", "--checkpoint", untrained}, exitError, "is untrained (0 epochs completed): run `vaec train` first"},
		{"other spec", nil, []string{"export", "--checkpoint", other}, exitError, "was trained for another spec"},
		{"garbage", nil, []string{"export", "--checkpoint", garbage}, exitError, "reading the checkpoint: " + garbage},
		{"named checkpoint missing", nil, []string{"export", "--checkpoint", "nope.safetensors"}, exitError, "checkpoint nope.safetensors does not exist"},
		{"opset too new", nil, []string{"export", "--opset", "18"}, exitUsage, "--opset 18: the exporter writes opsets 13 to 17"},
		{"opset zero", nil, []string{"export", "--opset", "0"}, exitUsage, "--opset 0: the exporter writes opsets 13 to 17"},
		{"argument", nil, []string{"export", "vaec-build"}, exitUsage, "export takes no arguments"},
		// Last, because it removes the checkpoint.
		{"no checkpoint", func() { os.Remove(ckPath) }, []string{"export", "--onnx"}, exitError, "no trained checkpoint in vaec-build/: run `vaec train` first"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.setup != nil {
				tt.setup()
			}
			code, out, errOut := vaecExport(t, tt.args...)
			if code != tt.code {
				t.Errorf("exit %d, want %d\n%s%s", code, tt.code, out, errOut)
			}
			if !strings.Contains(errOut, tt.want) {
				t.Errorf("stderr %q\nwant it to contain %q", errOut, tt.want)
			}
			if _, err := os.Stat(filepath.Join(defaultDir, encoderFile)); err == nil {
				t.Errorf("a refused export wrote %s", encoderFile)
			}
		})
	}
}
