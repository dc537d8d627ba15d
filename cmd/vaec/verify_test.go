package main

import (
	"bytes"
	"encoding/binary"
	"github.com/vaec/vaec/ir"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vaec/vaec/checkpoint"
	"github.com/vaec/vaec/compiler"
	"github.com/vaec/vaec/export"
	"github.com/vaec/vaec/graph"
	"github.com/vaec/vaec/verify"
)

// verifyBuild writes a build directory for spec (under testdata/specs)
// as build, train and export would leave it: model.json, a checkpoint
// (initial weights: training is not what is under test) and the two ONNX
// files.
func verifyBuild(t *testing.T, spec string) (dir string, m *ir.Model, w map[string]checkpoint.Tensor) {
	t.Helper()
	m, err := compiler.CompileFile(filepath.Join("..", "..", "testdata", "specs", spec))
	if err != nil {
		t.Fatal(err)
	}
	dir = t.TempDir()
	if err := compiler.WriteModel(filepath.Join(dir, modelFile), m); err != nil {
		t.Fatal(err)
	}
	w = graph.InitWeights(m, 7)
	if err := checkpoint.Save(filepath.Join(dir, lastCheckpoint), &checkpoint.Checkpoint{Weights: w, State: checkpoint.State{SpecHash: m.SpecHash}}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct {
		name string
		fn   func(*ir.Model, map[string]checkpoint.Tensor, export.Options) ([]byte, error)
	}{{encoderFile, export.Encoder}, {decoderFile, export.Decoder}} {
		b, err := f.fn(m, w, export.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f.name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir, m, w
}

func runVaec(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	code = runWith(append([]string{"vaec"}, args...), &o, &e)
	return code, o.String(), e.String()
}

// TestVerifyMNIST is the acceptance check: the MNIST export passes
// at the default tolerance 1e-5 on validation data and on random inputs.
func TestVerifyMNIST(t *testing.T) {
	dir, _, _ := verifyBuild(t, "mnist.yaml")
	for _, args := range [][]string{
		{"verify", "--dir", dir, "--n", "300"},
		{"verify", "--dir", dir, "--n", "50", "--random", "--onnxruntime"},
	} {
		code, out, errOut := runVaec(t, args...)
		t.Logf("%v:\n%s", args, out)
		if code != exitOK {
			t.Fatalf("%v: exit %d\n%s%s", args, code, out, errOut)
		}
		for _, want := range []string{"encoder  mu", "encoder  logvar", "decoder  probs", "verify: PASS ("} {
			if !strings.Contains(out, want) {
				t.Errorf("%v: output lacks %q:\n%s", args, want, out)
			}
		}
		if strings.Contains(out, "FAIL") {
			t.Errorf("%v: FAIL in output:\n%s", args, out)
		}
	}
}

// TestVerifyDetectsFlippedWeight changes one weight inside an exported
// file: verify must fail, exit 1, and name the outputs that differ and
// only those.
func TestVerifyDetectsFlippedWeight(t *testing.T) {
	dir, m, w := verifyBuild(t, "mnist-small.yaml")
	cases := []struct {
		file, param string
		bad, good   []string // outputs that must FAIL, and must PASS
	}{
		{encoderFile, m.Mu().Params[0], []string{"encoder  mu"}, []string{"encoder  logvar", "decoder  probs"}},
		{encoderFile, m.Logvar().Params[1], []string{"encoder  logvar"}, []string{"encoder  mu", "decoder  probs"}},
		{decoderFile, m.Output().Params[0], []string{"decoder  probs"}, []string{"encoder  mu", "encoder  logvar"}},
	}
	for _, c := range cases {
		t.Run(c.param, func(t *testing.T) {
			path := filepath.Join(dir, c.file)
			orig, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			defer os.WriteFile(path, orig, 0o644)
			flipped := flipWeight(t, orig, w[c.param].Data, 3)
			if err := os.WriteFile(path, flipped, 0o644); err != nil {
				t.Fatal(err)
			}
			code, out, errOut := runVaec(t, "verify", "--dir", dir, "--n", "64")
			if code != exitError {
				t.Fatalf("exit %d, want %d\n%s%s", code, exitError, out, errOut)
			}
			for _, name := range c.bad {
				if !lineHas(out, name, "FAIL") {
					t.Errorf("no FAIL line for %s:\n%s", name, out)
				}
				if !strings.Contains(errOut, strings.Join(strings.Fields(name), " ")) {
					t.Errorf("error does not name %s: %s", name, errOut)
				}
			}
			for _, name := range c.good {
				if !lineHas(out, name, "PASS") {
					t.Errorf("%s should still PASS:\n%s", name, out)
				}
			}
		})
	}
}

// flipWeight finds the raw float32 bytes of values in an ONNX file (an
// initializer's data) and negates and doubles element i.
func flipWeight(t *testing.T, file []byte, values []float32, i int) []byte {
	t.Helper()
	raw := make([]byte, 4*len(values))
	for j, v := range values {
		binary.LittleEndian.PutUint32(raw[4*j:], math.Float32bits(v))
	}
	at := bytes.Index(file, raw)
	if at < 0 || bytes.Index(file[at+1:], raw) >= 0 {
		t.Fatalf("initializer data found %d times, want once", bytes.Count(file, raw))
	}
	out := append([]byte(nil), file...)
	v := math.Float32frombits(binary.LittleEndian.Uint32(out[at+4*i:]))
	binary.LittleEndian.PutUint32(out[at+4*i:], math.Float32bits(-2*v-0.5))
	return out
}

func lineHas(out, prefix, word string) bool {
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, prefix) && strings.Contains(l, word) {
			return true
		}
	}
	return false
}

// TestVerifyUsage: bad calls exit 2 (usage) or 1 (missing files) with a
// message that says what is wrong.
func TestVerifyUsage(t *testing.T) {
	dir, _, _ := verifyBuild(t, "mnist-small.yaml")
	empty := t.TempDir()
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"verify", "--dir", dir, "extra"}, exitUsage, "takes no arguments"},
		{[]string{"verify", "--dir", dir, "--tol", "-1"}, exitUsage, "--tol"},
		{[]string{"verify", "--dir", dir, "--n", "0"}, exitUsage, "--n must be positive"},
		{[]string{"verify", "--dir", dir, "--n", "x"}, exitUsage, "invalid value"},
		{[]string{"verify", "--dir", empty}, exitError, "no build in"},
		{[]string{"verify", "--dir", dir, "--encoder", filepath.Join(empty, "none.onnx")}, exitError, "none.onnx"},
		{[]string{"verify", "--dir", dir, "--checkpoint", filepath.Join(empty, "none.safetensors")}, exitError, "checkpoint"},
		{[]string{"verify", "--dir", dir, "--encoder", filepath.Join(dir, decoderFile)}, exitError, "encoder"},
	}
	for _, c := range cases {
		code, out, errOut := runVaec(t, c.args...)
		if code != c.code || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q\n%s", c.args, code, errOut, c.code, c.want, out)
		}
	}
}

// TestVerifyExportSeam: the check `vaec export` ends with passes on a good
// export and fails, naming the output, on a broken one.
func TestVerifyExportSeam(t *testing.T) {
	dir, m, w := verifyBuild(t, "mnist-small.yaml")
	enc, dec := filepath.Join(dir, encoderFile), filepath.Join(dir, decoderFile)
	var out bytes.Buffer
	if err := verifyExport(m, w, enc, dec, verify.DefaultTol, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	b, err := os.ReadFile(dec)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dec, flipWeight(t, b, w[m.Output().Params[1]].Data, 0), 0o644); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	err = verifyExport(m, w, enc, dec, verify.DefaultTol, &out)
	if err == nil || !strings.Contains(err.Error(), "decoder probs") {
		t.Fatalf("error %v, want one naming decoder probs\n%s", err, out.String())
	}
}
