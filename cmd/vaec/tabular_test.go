package main

import (
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/vaec/vaec/dataset"
	"github.com/vaec/vaec/ir"
)

// trainBreastCancer builds and trains the breast-cancer example (a few
// epochs) in a fresh directory, from the raw CSVs with their id and label
// columns.
func trainBreastCancer(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	spec, err := filepath.Abs(filepath.Join("..", "..", "testdata", "specs", "breast-cancer.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	bd := filepath.Join(dir, "build")
	code, out, errOut := runVaec(t, "build", "--dir", bd, spec)
	if code != exitOK {
		t.Fatalf("build: exit %d\n%s%s", code, out, errOut)
	}
	if !strings.Contains(errOut, "read as a header") {
		t.Errorf("build does not say the header was taken as one:\n%s", errOut)
	}
	if code, out, errOut = runVaec(t, "train", "--dir", bd, "--epochs", "5", "-q"); code != exitOK {
		t.Fatalf("train: exit %d\n%s%s", code, out, errOut)
	}
	return bd
}

// TestTabularData: the verbs read a CSV laid out as the training file
// (header, id and label columns), vaec's own CSV output, and a file of
// the features alone, to the same numbers.
func TestTabularData(t *testing.T) {
	bd := trainBreastCancer(t)
	dir := filepath.Dir(bd)
	test := filepath.Join("..", "..", "testdata", "tabular", "breast-cancer-test.csv")

	// encode the raw test file (id, 30 features, label) by the model's names.
	emb := filepath.Join(dir, "emb.csv")
	if code, out, errOut := runVaec(t, "encode", "--dir", bd, "--data", test, "--out", emb); code != exitOK {
		t.Fatalf("encode: exit %d\n%s%s", code, out, errOut)
	}
	// The embeddings read back as data (header mu_0, …).
	got, err := dataset.Load(ir.Source{Path: emb}, ir.Input{Shape: ir.Shape{4}, Size: 4, Scale: 1})
	if err != nil {
		t.Fatalf("encode's CSV output does not read back: %v", err)
	}
	if got.N != 284 || strings.Join(got.Columns, ",") != "mu_0,mu_1,mu_2,mu_3" {
		t.Errorf("read back %d rows named %v, want 284 named mu_0..mu_3", got.N, got.Columns)
	}

	// The same rows with the features alone, columns reordered and no
	// header: the model's names pick them from a header, and a file of
	// exactly 30 columns is taken whole.
	m, err := dataset.Load(ir.Source{Path: test, Exclude: []ir.Column{{Name: "id"}, {Name: "label"}}}, ir.Input{Shape: ir.Shape{30}, Size: 30, Scale: 1})
	if err != nil {
		t.Fatal(err)
	}
	var plain, shuffled strings.Builder
	shuffled.WriteString("label," + strings.Join(reversed(m.Columns), ",") + ",id\n")
	for i := 0; i < m.N; i++ {
		row := m.Row(i)
		var cells []string
		for _, v := range row {
			cells = append(cells, formatFloat(v))
		}
		plain.WriteString(strings.Join(cells, ",") + "\n")
		shuffled.WriteString("0," + strings.Join(reversed(cells), ",") + ",7\n")
	}
	for name, body := range map[string]string{"plain.csv": plain.String(), "shuffled.csv": shuffled.String()} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(dir, name+".emb.csv")
		if code, o, e := runVaec(t, "encode", "--dir", bd, "--data", p, "--out", out); code != exitOK {
			t.Fatalf("encode %s: exit %d\n%s%s", name, code, o, e)
		}
		again, err := dataset.Load(ir.Source{Path: out}, ir.Input{Shape: ir.Shape{4}, Size: 4, Scale: 1})
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range again.X {
			if math.Abs(float64(v-got.X[i])) > 1e-6*math.Max(1, math.Abs(float64(v))) {
				t.Fatalf("%s: embedding value %d is %v, the raw file's is %v", name, i, v, got.X[i])
			}
		}
	}

	// sample's CSV output (30 features named x_…) reads back as data.
	samples := filepath.Join(dir, "samples.csv")
	if code, o, e := runVaec(t, "sample", "--dir", bd, "--n", "7", "--out", samples); code != exitOK {
		t.Fatalf("sample: exit %d\n%s%s", code, o, e)
	}
	if code, o, e := runVaec(t, "encode", "--dir", bd, "--data", samples, "--out", filepath.Join(dir, "s.npy")); code != exitOK {
		t.Fatalf("encode of sample's CSV: exit %d\n%s%s", code, o, e)
	}

	// A categorical cell is refused naming line, column and header name.
	bad := filepath.Join(dir, "bad.csv")
	body := strings.Replace(readFile(t, test), "\n0,17.99,", "\n0,big,", 1)
	if err := os.WriteFile(bad, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := runVaec(t, "encode", "--dir", bd, "--data", bad, "--out", filepath.Join(dir, "b.npy"))
	for _, want := range []string{`column 2 ("mean_radius")`, `"big" is not a number`, "categorical"} {
		if code == exitOK || !strings.Contains(errOut, want) {
			t.Errorf("categorical cell: exit %d, stderr lacks %q:\n%s", code, want, errOut)
		}
	}
}

func reversed(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[len(s)-1-i] = v
	}
	return out
}

func formatFloat(v float32) string { return strconv.FormatFloat(float64(v), 'g', -1, 32) }

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
