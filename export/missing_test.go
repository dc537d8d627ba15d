package export

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vaec/vaec/conformance"
	"github.com/vaec/vaec/ir"
)

// missingModel is a tabular model with missing: mean: per-feature
// standardisation after a scalar scaling, and training means (raw units)
// that the exported graphs put in place of NaN before both.
func missingModel() *ir.Model {
	m := testModel([]int{4}, 3, []int{4}, ir.ELU, ir.GaussianFixed)
	m.Input.Scale, m.Input.Offset = 0.5, 1
	m.Input.Normalize = ir.NormalizeStandardize
	m.Input.FeatureScale = []float64{0.2, 1, 4, 0.01}
	m.Input.FeatureShift = []float64{-3, 2.5, -2, -6}
	m.Input.Missing = ir.MissingMean
	m.Input.Fill = []float64{10, -3, 0.25, 1000}
	return m
}

// TestGoldenMissing keeps a readable dump of the encoder and score model
// of missingModel (rewritten with -update, as TestGolden's): the fill is
// their first nodes, before the scaling.
func TestGoldenMissing(t *testing.T) {
	for _, e := range exporters {
		if e.role != "encoder" && e.role != "score" {
			continue
		}
		name := "gaussian_fixed_missing_mean." + e.role
		t.Run(name, func(t *testing.T) {
			m := missingModel()
			data, err := e.fn(m, testWeights(m), testOptions())
			if err != nil {
				t.Fatal(err)
			}
			got, err := Dump(data)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", name+".txt")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./export -run GoldenMissing -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("dump differs from %s (rerun with -update if the change is intended):\n%s", path, lineDiff(string(want), got))
			}
		})
	}
}

// TestFillMissingNodes: with missing: mean every file that takes x starts
// with the fill, in raw units, ahead of the scaling; without the rule, or
// in round 1's form (input already scaled, so raw means would be wrong),
// there is none. All pass the onnx checker.
func TestFillMissingNodes(t *testing.T) {
	plain := missingModel()
	plain.Input.Missing, plain.Input.Fill = ir.MissingError, nil
	cases := []struct {
		name  string
		m     *ir.Model
		noPre bool
		fill  bool
	}{
		{"missing mean", missingModel(), false, true},
		{"missing error", plain, false, false},
		{"no-preprocess", missingModel(), true, false},
	}
	files := map[string][]byte{}
	for _, c := range cases {
		for _, e := range exporters {
			if e.role == "decoder" {
				continue // takes z, never x
			}
			opts := testOptions()
			opts.NoPreprocess = c.noPre
			data, err := e.fn(c.m, testWeights(c.m), opts)
			if err != nil {
				if c.noPre && e.role == "score" {
					continue // score.onnx always takes raw data
				}
				t.Fatalf("%s %s: %v", c.name, e.role, err)
			}
			files[c.name+"/"+e.role] = data
			dump, err := Dump(data)
			if err != nil {
				t.Fatal(err)
			}
			isnan := strings.Index(dump, `"input/IsNaN": IsNaN(x) -> (x.missing)`)
			where := strings.Index(dump, `"input/Fill": Where(x.missing, input.fill, x) -> (x.filled)`)
			scale := strings.Index(dump, `"input/Scale": Mul(x.filled, input.scale)`)
			switch {
			case c.fill && (isnan < 0 || where < isnan || scale < where):
				t.Errorf("%s %s: want IsNaN, Where, then the scaling of x.filled:\n%s", c.name, e.role, dump)
			case c.fill && !strings.Contains(dump, "value = float32[4] [10 -3 0.25 1000]"):
				t.Errorf("%s %s: the fill constant is not the raw training means:\n%s", c.name, e.role, dump)
			case !c.fill && (isnan >= 0 || where >= 0):
				t.Errorf("%s %s: a fill where there should be none:\n%s", c.name, e.role, dump)
			}
		}
	}
	conformance.CheckAll(t, files)
}

// TestFillMissingRefusesBadFill: a fill of the wrong length is refused
// (ir.Verify names it before fillMissing's own check would).
func TestFillMissingRefusesBadFill(t *testing.T) {
	cases := []struct {
		name string
		fill []float64
	}{
		{"none", nil},
		{"short", []float64{1, 2, 3}},
		{"long", []float64{1, 2, 3, 4, 5}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := missingModel()
			m.Input.Fill = c.fill
			_, err := Score(m, testWeights(m), testOptions())
			if err == nil || !strings.Contains(err.Error(), "fill") || !strings.Contains(err.Error(), "4") {
				t.Errorf("error %v, want one naming the fill and the 4 values needed", err)
			}
		})
	}
}
