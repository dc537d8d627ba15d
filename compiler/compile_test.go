package compiler

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"github.com/vaec/vaec/ir"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the expected errors of testdata/specs/invalid/*.txtar")

// specDir is where the shipped specs live; invalid specs resolve their data
// paths against it too, so they can name the same files.
const specDir = "../testdata/specs"

// compileChecked compiles and, on success, checks the result with Verify
// (Compile already does; this guards against it being dropped).
func compileChecked(t *testing.T, filename string, src []byte, dir string) (*ir.Model, error) {
	t.Helper()
	m, err := compile(filename, src, dir)
	if err == nil {
		if verr := ir.Verify(m); verr != nil {
			t.Fatalf("Verify after Compile: %v", verr)
		}
	}
	return m, err
}

func TestValidSpecs(t *testing.T) {
	tests := []struct {
		file       string
		params     int
		macs       int
		likelihood ir.LikelihoodKind
		split      float64
		opt        ir.Optimizer
	}{
		// 784·400+400 + 2·(400·20+20) + 20·400+400 + 400·784+784
		{"mnist.yaml", 652_824, 651_200, ir.Bernoulli, 0, ir.Optimizer{Kind: ir.Adam, LearningRate: 1e-3, Beta1: 0.9, Beta2: 0.999, Epsilon: 1e-8}},
		{"mnist-small.yaml", 204_832, 203_776, ir.Bernoulli, 0, ir.Optimizer{Kind: ir.Adam, LearningRate: 1e-3, Beta1: 0.9, Beta2: 0.999, Epsilon: 1e-8}},
		{"gaussian.yaml", 437_936, 435_712, ir.GaussianLearned, 0.1, ir.Optimizer{Kind: ir.RMSProp, LearningRate: 1e-3, Rho: 0.99, Epsilon: 1e-8}},
		{"beta.yaml", 1_074_980, 1_072_640, ir.Bernoulli, 0, ir.Optimizer{Kind: ir.Adam, LearningRate: 5e-4, Beta1: 0.9, Beta2: 0.999, Epsilon: 1e-8}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join(specDir, tt.file)
			src, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			m, err := compileChecked(t, path, src, specDir)
			if err != nil {
				t.Fatalf("compile: %v", err)
			}
			if got := m.ParamCount(); got != tt.params {
				t.Errorf("ParamCount = %d, want %d", got, tt.params)
			}
			if got := m.MACs(); got != tt.macs {
				t.Errorf("MACs = %d, want %d", got, tt.macs)
			}
			if m.Likelihood.Kind != tt.likelihood {
				t.Errorf("Likelihood = %s, want %s", m.Likelihood, tt.likelihood)
			}
			if m.Train.ValidationSplit != tt.split {
				t.Errorf("ValidationSplit = %v, want %v", m.Train.ValidationSplit, tt.split)
			}
			if m.Train.Optimizer != tt.opt {
				t.Errorf("Optimizer = %+v, want %+v", m.Train.Optimizer, tt.opt)
			}
			if !filepath.IsAbs(m.Data.Train.Path) {
				t.Errorf("train path %q is not absolute", m.Data.Train.Path)
			}
			if _, err := os.Stat(m.Data.Train.Path); err != nil {
				t.Errorf("train path: %v", err)
			}
			if m.Input.Scale != 1.0/255 {
				t.Errorf("scale = %v, want 1/255", m.Input.Scale)
			}
		})
	}
}

// TestMNISTLayout pins the IR of the reference model: names, shapes and the
// parameter order other packages rely on.
func TestMNISTLayout(t *testing.T) {
	m, err := CompileFile(filepath.Join(specDir, "mnist.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range m.Params {
		got = append(got, fmt.Sprintf("%s%v", p.Name, p.Shape))
	}
	want := []string{
		"encoder.0.weight[784, 400]", "encoder.0.bias[400]",
		"encoder.mu.weight[400, 20]", "encoder.mu.bias[20]",
		"encoder.logvar.weight[400, 20]", "encoder.logvar.bias[20]",
		"decoder.0.weight[20, 400]", "decoder.0.bias[400]",
		"decoder.out.weight[400, 784]", "decoder.out.bias[784]",
	}
	if !slices.Equal(got, want) {
		t.Errorf("params = %v\nwant %v", got, want)
	}
	enc0 := &m.Encoder.Nodes[0]
	if m.Output().Activation != ir.Linear || enc0.Activation != ir.ReLU {
		t.Errorf("activations: encoder.0 %s, output %s; want relu, linear", enc0.Activation, m.Output().Activation)
	}
	if enc0.Pos.Line != 10 || m.Mu().Pos.Line != 8 {
		t.Errorf("positions: encoder.0 at %v, mu at %v; want lines 10 and 8", enc0.Pos, m.Mu().Pos)
	}
}

// txtarFile is one file of a txtar archive.
type txtarFile struct {
	name string
	data []byte
}

// parseTxtar splits a txtar archive: a comment, then files each introduced
// by a "-- name --" line.
func parseTxtar(b []byte) (comment []byte, files []txtarFile) {
	lines := bytes.SplitAfter(b, []byte("\n"))
	cur := -1
	for _, l := range lines {
		t := bytes.TrimRight(l, "\r\n")
		if bytes.HasPrefix(t, []byte("-- ")) && bytes.HasSuffix(t, []byte(" --")) && len(t) >= 6 {
			files = append(files, txtarFile{name: string(bytes.TrimSpace(t[3 : len(t)-3]))})
			cur = len(files) - 1
			continue
		}
		if cur < 0 {
			comment = append(comment, l...)
		} else {
			files[cur].data = append(files[cur].data, l...)
		}
	}
	return comment, files
}

func formatTxtar(comment []byte, files []txtarFile) []byte {
	var b bytes.Buffer
	b.Write(comment)
	for _, f := range files {
		b.WriteString("-- " + f.name + " --\n")
		b.Write(f.data)
		if len(f.data) > 0 && f.data[len(f.data)-1] != '\n' {
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}

// TestInvalidSpecs compiles every testdata/specs/invalid/*.txtar: each holds
// spec.yaml and the exact stderr expected (all errors, sorted, positioned).
// Run with -update to rewrite the expectations after a deliberate change.
func TestInvalidSpecs(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join(specDir, "invalid", "*.txtar"))
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) < 25 {
		t.Fatalf("found %d invalid specs, want at least 25", len(paths))
	}
	for _, path := range paths {
		name := strings.TrimSuffix(filepath.Base(path), ".txtar")
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			comment, files := parseTxtar(b)
			var spec []byte
			stderr := -1
			for i, f := range files {
				switch f.name {
				case "spec.yaml":
					spec = f.data
				case "stderr":
					stderr = i
				}
			}
			if spec == nil && !bytes.Contains(comment, []byte("empty spec")) {
				t.Fatalf("%s: no spec.yaml section", path)
			}
			_, err = compileChecked(t, "spec.yaml", spec, specDir)
			if err == nil {
				t.Fatalf("%s: compiled without errors", path)
			}
			var el ErrorList
			if !errors.As(err, &el) {
				t.Fatalf("error is %T, want ErrorList: %v", err, err)
			}
			checkErrorList(t, el)
			got := err.Error() + "\n"
			if *update {
				if stderr < 0 {
					files = append(files, txtarFile{name: "stderr"})
					stderr = len(files) - 1
				}
				files[stderr].data = []byte(got)
				if err := os.WriteFile(path, formatTxtar(comment, files), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if stderr < 0 {
				t.Fatalf("%s: no stderr section (run with -update)", path)
			}
			if want := string(files[stderr].data); got != want {
				t.Errorf("%s: errors differ\ngot:\n%s\nwant:\n%s", path, got, want)
			}
		})
	}
}

// checkErrorList checks what every error list promises: each error has a
// file, line and column, and the list is sorted without duplicates.
func checkErrorList(t *testing.T, el ErrorList) {
	t.Helper()
	if len(el) == 0 {
		t.Fatal("empty ErrorList returned as an error")
	}
	for i, e := range el {
		if e.Pos.File == "" || e.Pos.Line < 1 || e.Pos.Col < 1 {
			t.Errorf("error %q has no full position", e.Error())
		}
		if strings.Contains(e.Error(), "\n") {
			t.Errorf("error %q spans lines", e.Error())
		}
		if i > 0 {
			p, q := el[i-1], e
			if p.Pos.Line > q.Pos.Line || p.Pos.Line == q.Pos.Line && p.Pos.Col > q.Pos.Col {
				t.Errorf("errors out of order: %q before %q", p.Error(), q.Error())
			}
			if *p == *q {
				t.Errorf("duplicate error %q", q.Error())
			}
		}
	}
}
