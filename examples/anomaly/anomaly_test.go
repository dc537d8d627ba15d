// Package anomaly holds the programs docs/anomaly.md shows (score.mjs,
// ortgo, vaecgo) and the test that runs the guide end to end.
package anomaly

import (
	"encoding/csv"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"testing"

	"github.com/vaec/vaec/runtime/ort"
)

const root = "../.."

// TestGuide follows docs/anomaly.md: train the breast-cancer spec on the
// benign rows, score the test rows with `vaec score`, and check that
// score.onnx gives the same scores from Node, from Go with ONNX Runtime and
// from Go with vaec's runtime, that the score separates malignant from
// benign rows (ROC AUC ≥ 0.95), and report the simple baseline beside it.
func TestGuide(t *testing.T) {
	work := t.TempDir()
	vaec := filepath.Join(work, "vaec")
	run(t, root, "go", "build", "-o", vaec, "./cmd/vaec")
	dir := filepath.Join(work, "build")
	spec, _ := filepath.Abs(filepath.Join(root, "testdata", "specs", "breast-cancer.yaml"))
	testCSV, _ := filepath.Abs(filepath.Join(root, "testdata", "tabular", "breast-cancer-test.csv"))
	trainCSV, _ := filepath.Abs(filepath.Join(root, "testdata", "tabular", "breast-cancer-train.csv"))
	run(t, work, vaec, "run", "-q", "--dir", dir, spec)
	scoresCSV := filepath.Join(work, "test-scores.csv")
	run(t, work, vaec, "score", "-q", "--dir", dir, "--data", testCSV, "--out", scoresCSV)

	header, rows := readCSV(t, scoresCSV)
	col := func(name string) int {
		i := slices.Index(header, name)
		if i < 0 {
			t.Fatalf("%s has no column %s (%v)", scoresCSV, name, header)
		}
		return i
	}
	si, oi := col("score"), col("outlier")
	scores := make([]float64, len(rows))
	outlier := make([]bool, len(rows))
	for i, r := range rows {
		scores[i], _ = strconv.ParseFloat(r[si], 64)
		outlier[i] = r[oi] == "1"
	}
	th, test := readCSV(t, testCSV)
	if len(test) != len(scores) {
		t.Fatalf("%d scores for %d test rows", len(scores), len(test))
	}
	li := slices.Index(th, "label")
	malignant := make([]bool, len(test))
	for i, r := range test {
		malignant[i] = r[li] == "1"
	}

	// The score separates the classes; so does the baseline, a distance.
	auc := rocAUC(scores, malignant)
	base := rocAUC(baseline(t, trainCSV, testCSV), malignant)
	benign, flagged := 0, 0
	for i, m := range malignant {
		if !m {
			benign++
			if outlier[i] {
				flagged++
			}
		}
	}
	lo, hi := wilson(flagged, benign)
	caught := 0
	for i, m := range malignant {
		if m && outlier[i] {
			caught++
		}
	}
	t.Logf("ROC AUC on the %d test rows: vaec score %.4f, baseline (squared standardised distance from the training mean) %.4f", len(test), auc, base)
	t.Logf("benign test rows flagged: %d of %d = %.1f%% (95%% interval %.1f%% to %.1f%%; requested 5%%); malignant rows flagged: %d of %d",
		flagged, benign, 100*float64(flagged)/float64(benign), 100*lo, 100*hi, caught, len(test)-benign)
	if auc < 0.95 {
		t.Errorf("ROC AUC %.4f, want at least 0.95", auc)
	}
	if lo > 0.05 || hi < 0.05 {
		t.Errorf("the share of benign rows flagged, %d of %d, is not compatible with the requested 5%%", flagged, benign)
	}

	// score.onnx from three runtimes, on the raw CSV rows.
	model := filepath.Join(dir, "score.onnx")
	sidecar := filepath.Join(dir, "vaec-model.json")
	compare := func(who string, out []byte) {
		t.Helper()
		var res struct {
			Scores  []float64 `json:"scores"`
			Outlier []bool    `json:"outlier"`
		}
		if err := json.Unmarshal(out, &res); err != nil {
			t.Fatalf("%s: %v: %s", who, err, out)
		}
		if len(res.Scores) != len(scores) || !slices.Equal(res.Outlier, outlier) {
			t.Fatalf("%s: %d scores, outliers equal %v", who, len(res.Scores), slices.Equal(res.Outlier, outlier))
		}
		for i, s := range res.Scores {
			if math.Abs(s-scores[i]) > 1e-5*math.Max(1, math.Abs(scores[i])) {
				t.Fatalf("%s: row %d scores %v, vaec score says %v", who, i, s, scores[i])
			}
		}
	}
	compare("vaec's runtime from Go", run(t, root, "go", "run", "./examples/anomaly/vaecgo", model, testCSV))

	require := os.Getenv(ort.EnvRequire) == "1"
	lib := ort.FindLibrary("")
	if lib == "" {
		if require {
			t.Fatal("ONNX Runtime not found")
		}
		t.Skip("ONNX Runtime not found: the Node and Go examples are not run")
	}
	compare("ONNX Runtime from Go", run(t, root, "go", "run", "./examples/anomaly/ortgo", lib, model, sidecar, testCSV))

	// The library sits in onnxruntime-node/bin/napi-v6/linux/x64/.
	nodeModule := lib
	for range 5 {
		nodeModule = filepath.Dir(nodeModule)
	}
	if _, err := exec.LookPath("node"); err != nil || !exists(filepath.Join(nodeModule, "package.json")) {
		if require {
			t.Fatalf("node or onnxruntime-node not found (%v, %s)", err, nodeModule)
		}
		t.Skip("node or onnxruntime-node not found")
	}
	cmd := exec.Command("node", "examples/anomaly/score.mjs", model, sidecar, testCSV)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "ORT_NODE="+nodeModule)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v %s", err, stderrOf(err))
	}
	compare("ONNX Runtime from Node", out)
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

func stderrOf(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}

func run(t *testing.T, dir, name string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, stderrOf(err))
	}
	return out
}

func readCSV(t *testing.T, path string) ([]string, [][]string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil || len(recs) < 2 {
		t.Fatalf("%s: %v", path, err)
	}
	return recs[0], recs[1:]
}

// features returns the 30 feature columns of a breast-cancer CSV.
func features(t *testing.T, path string) [][]float64 {
	h, rows := readCSV(t, path)
	var idx []int
	for i, c := range h {
		if c != "id" && c != "label" {
			idx = append(idx, i)
		}
	}
	out := make([][]float64, len(rows))
	for i, r := range rows {
		for _, j := range idx {
			v, err := strconv.ParseFloat(r[j], 64)
			if err != nil {
				t.Fatal(err)
			}
			out[i] = append(out[i], v)
		}
	}
	return out
}

// baseline scores each test row by its squared distance from the training
// mean, every feature standardised by the training rows.
func baseline(t *testing.T, trainCSV, testCSV string) []float64 {
	tr, te := features(t, trainCSV), features(t, testCSV)
	d := len(tr[0])
	mean, sd := make([]float64, d), make([]float64, d)
	for _, r := range tr {
		for j, v := range r {
			mean[j] += v / float64(len(tr))
		}
	}
	for _, r := range tr {
		for j, v := range r {
			sd[j] += (v - mean[j]) * (v - mean[j]) / float64(len(tr))
		}
	}
	out := make([]float64, len(te))
	for i, r := range te {
		for j, v := range r {
			z := (v - mean[j]) / math.Sqrt(sd[j])
			out[i] += z * z
		}
	}
	return out
}

// rocAUC is the probability that a positive outscores a negative (ties
// count one half): the Mann-Whitney form of the area under the ROC curve.
func rocAUC(score []float64, positive []bool) float64 {
	type pair struct {
		s float64
		p bool
	}
	ps := make([]pair, len(score))
	for i := range score {
		ps[i] = pair{score[i], positive[i]}
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i].s < ps[j].s })
	var rankSum float64
	npos := 0
	for i := 0; i < len(ps); {
		j := i
		for j < len(ps) && ps[j].s == ps[i].s {
			j++
		}
		mid := float64(i+j+1) / 2 // average rank of the tie group, 1-based
		for k := i; k < j; k++ {
			if ps[k].p {
				rankSum += mid
				npos++
			}
		}
		i = j
	}
	nneg := len(ps) - npos
	return (rankSum - float64(npos*(npos+1))/2) / float64(npos*nneg)
}

// wilson is the 95% Wilson score interval of k successes in n trials.
func wilson(k, n int) (lo, hi float64) {
	const z = 1.959964
	p, nf := float64(k)/float64(n), float64(n)
	c := (p + z*z/(2*nf)) / (1 + z*z/nf)
	h := z * math.Sqrt(p*(1-p)/nf+z*z/(4*nf*nf)) / (1 + z*z/nf)
	return c - h, c + h
}
