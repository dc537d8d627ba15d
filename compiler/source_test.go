package compiler

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/vaec/vaec/ir"
)

// tabularSpec is a small dense model on a CSV source whose data section is
// given.
func tabularSpec(size int, data string) []byte {
	return []byte(strings.ReplaceAll(`vaec: 1
name: t
input:
  shape: [SIZE]
latent: 1
encoder:
  - units: 4
decoder:
  - units: 4
likelihood: {type: gaussian, variance: learned}
train: {batch_size: 2, epochs: 1, validation_split: 0}
data:
`, "SIZE", strconv.Itoa(size)) + data)
}

// TestCSVSources: header detection (and forcing), column selection by
// name and index, the input's column names, the build's notes, and the
// fill of missing values fitted on the training records.
func TestCSVSources(t *testing.T) {
	dir, err := filepath.Abs(filepath.Join("..", "testdata", "specs"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name    string
		size    int
		data    string
		columns []string
		fill    []float64
		warn    string // a warning the build must print ("" = none)
		err     string // the error ("" = compiles)
	}{
		{name: "header guessed, exclude by name", size: 2,
			data:    "  train: {path: ../tabular/cases/categorical.csv, exclude: [id, kind]}\n",
			columns: []string{"a", "b"}, warn: `data.train: the first line of "../tabular/cases/categorical.csv" is not numeric: read as a header ("a", "b")`},
		{name: "columns by index, header forced", size: 2,
			data:    "  train: {path: ../tabular/cases/categorical.csv, columns: [2, 1], header: true}\n",
			columns: []string{"b", "a"}},
		{name: "columns by name and index", size: 2,
			data:    "  train: {path: ../tabular/cases/categorical.csv, columns: [b, 0]}\n",
			columns: []string{"b", "id"}},
		{name: "header forced off", size: 2,
			data: "  train: {path: ../tabular/cases/categorical.csv, columns: [1, 2], header: false}\n",
			err:  `spec.yaml:13:17: data.train.path: csv data "../tabular/cases/categorical.csv": line 1, column 2: "a" is not a number (if this line is a header, remove header: false)`},
		{name: "categorical column", size: 3,
			data: "  train: {path: ../tabular/cases/categorical.csv, exclude: [id]}\n",
			err:  `line 2, column 4 ("kind"): "red" is not a number (categorical columns are not supported: leave the column out with exclude: ["kind"]`},
		{name: "unknown column", size: 2,
			data: "  train: {path: ../tabular/cases/categorical.csv, columns: [a, colour]}\n",
			err:  `spec.yaml:13:60: data.train.columns: csv data "../tabular/cases/categorical.csv": columns: no column "colour" in the header (the header has "id", "a", "b", "kind")`},
		{name: "index out of range", size: 2,
			data: "  train: {path: ../tabular/cases/categorical.csv, exclude: [4]}\n",
			err:  `data.train.exclude: csv data "../tabular/cases/categorical.csv": exclude: column index 4 is out of range: the file has 4 columns (0 to 3)`},
		{name: "columns and exclude", size: 2,
			data: "  train: {path: ../tabular/cases/categorical.csv, columns: [a, b], exclude: [id]}\n",
			err:  `data.train.exclude: exclude contradicts columns at line 13`},
		{name: "columns on idx", size: 2,
			data: "  train: {path: ../mnist/t10k-labels-idx1-ubyte.gz, columns: [0]}\n",
			err:  `data.train.columns: columns applies only to csv, not idx.gz`},
		{name: "wrong count names the selection", size: 3,
			data: "  train: {path: ../tabular/cases/categorical.csv, columns: [a, b]}\n",
			err:  `records have 2 values, the spec's input shape [3] needs 3 (2 of the file's 4 columns selected)`},
		{name: "missing refused", size: 3,
			data: "  train: {path: ../tabular/cases/missing.csv, exclude: [id]}\n",
			err:  `line 3, column 2 ("a"): empty (add missing: mean to the data source to fill missing values with the training means)`},
		{name: "missing: mean", size: 3,
			data:    "  train: {path: ../tabular/cases/missing.csv, exclude: [id], missing: mean}\n",
			columns: []string{"a", "b", "c"}, fill: []float64{15.0 / 4, 120.0 / 4, 1100.0 / 4}},
		{name: "missing: mean fitted on the training records only", size: 3,
			data: "  train: {path: ../tabular/cases/missing.csv, exclude: [id], missing: mean, limit: 3}\n" +
				"  validation: {path: ../tabular/cases/missing.csv, exclude: [id], start: 3}\n",
			columns: []string{"a", "b", "c"}, fill: []float64{2, 15, 200}},
		{name: "missing on validation", size: 3,
			data: "  train: {path: ../tabular/cases/missing.csv, exclude: [id], limit: 1}\n" +
				"  validation: {path: ../tabular/cases/missing.csv, exclude: [id], start: 1, missing: mean}\n",
			err: `data.validation.missing: missing belongs on data.train`},
	} {
		t.Run(c.name, func(t *testing.T) {
			m, warns, err := compileWarn("spec.yaml", tabularSpec(c.size, c.data), dir)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v\nwant one containing %s", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := ir.Verify(m); err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if strings.Join(m.Input.Columns, ",") != strings.Join(c.columns, ",") {
				t.Errorf("columns %q, want %q", m.Input.Columns, c.columns)
			}
			if len(m.Input.Fill) != len(c.fill) {
				t.Fatalf("fill %v, want %v", m.Input.Fill, c.fill)
			}
			for d := range c.fill {
				if diff := m.Input.Fill[d] - c.fill[d]; diff > 1e-9*c.fill[d] || -diff > 1e-9*c.fill[d] {
					t.Errorf("fill %v, want %v", m.Input.Fill, c.fill)
				}
			}
			if c.warn != "" && !strings.Contains(fmt.Sprint(warns), c.warn) {
				t.Errorf("warnings:\n%v\nwant one containing %s", warns, c.warn)
			}
		})
	}
}

// TestBreastCancerSpec: the example compiles from the raw CSVs, names its
// 30 features and fits the standardisation; without normalize it draws
// the warning about feature magnitudes.
func TestBreastCancerSpec(t *testing.T) {
	path := filepath.Join(specDir, "breast-cancer.yaml")
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m, _, err := compileWarn(path, src, specDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Input.Columns) != 30 || m.Input.Columns[0] != "mean_radius" || m.Input.FeatureScale == nil {
		t.Errorf("columns %q, feature scale %v: want the 30 named features, standardised", m.Input.Columns, m.Input.FeatureScale)
	}
	raw := strings.Replace(string(src), "  normalize: standardize\n", "", 1)
	_, warns, err := compileWarn(path, []byte(raw), specDir)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(warns.Error(), `feature magnitudes differ`) || !strings.Contains(warns.Error(), `"worst_area"`) {
		t.Errorf("warnings without normalize:\n%v\nwant the feature-magnitude warning naming worst_area", warns)
	}
}
