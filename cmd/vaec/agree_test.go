package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vaec/vaec/dataset"
	"github.com/vaec/vaec/ir"
)

// TestBuildAndTrainAgree runs `vaec build` and `vaec train` on every seed
// of the dataset fuzz targets (dataset/testdata/seeds) and every file in
// testdata/data: both must accept a file, or both refuse it for the same
// reason. Build reads data through the same loader training uses, so a file
// that passes build cannot fail at the start of training.
func TestBuildAndTrainAgree(t *testing.T) {
	var files []string
	for _, dir := range []string{filepath.Join("..", "..", "dataset", "testdata", "seeds"), filepath.Join("..", "..", "testdata", "data")} {
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if ext := filepath.Ext(e.Name()); ext == ".md" || ext == ".py" {
				continue
			}
			p, _ := filepath.Abs(filepath.Join(dir, e.Name()))
			files = append(files, p)
		}
	}
	if len(files) < 50 {
		t.Fatalf("only %d data files found", len(files))
	}
	trained := 0
	for _, path := range files {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			format := formatOf(name)
			header := strings.Contains(name, ".header.")
			// The input shape the file's header declares, so that build
			// reaches the data itself; [2] when the header does not read.
			d := 2
			if h, err := dataset.ReadHeader(path, format, header, nil); err == nil {
				d = h.Features
			}
			// Train reads the source exactly as the spec gives it.
			src := ir.Source{Path: path, Format: format, CSVHeader: header}
			_, loadErr := dataset.Load(src, ir.Input{Shape: ir.Shape{d}, Size: d, Scale: 1})
			if d < 2 {
				// A one-feature file cannot hold a model whose latent is
				// smaller than its input; compare build with train's reader.
				code, _, errOut := buildSpec(t, path, format, header, d)
				checkAgree(t, code == exitOK, loadErr, errOut)
				return
			}
			code, _, errOut := buildSpec(t, path, format, header, d)
			if code != exitOK {
				if loadErr == nil {
					t.Fatalf("build refused a file train's loader accepts:\n%s", errOut)
				}
				checkAgree(t, false, loadErr, errOut)
				return
			}
			tcode, _, terr := vaecCmd(t, "train", "--dir", lastBuildDir, "-q")
			if tcode != exitOK {
				t.Fatalf("build accepted the file, train refused it (exit %d): %s", tcode, strings.TrimSpace(terr))
			}
			if loadErr != nil {
				t.Fatalf("build and train accepted a file the loader refuses: %v", loadErr)
			}
			trained++
		})
	}
	// Most files are valid: the comparison must reach training for them.
	if trained < len(files)/2 {
		t.Errorf("only %d of %d files reached training", trained, len(files))
	}
	t.Logf("%d files: %d built and trained, the others refused by both", len(files), trained)
}

// lastBuildDir is the build directory of the last buildSpec call.
var lastBuildDir string

// buildSpec writes a spec naming the data file and runs `vaec build`.
func buildSpec(t *testing.T, path string, format ir.Format, header bool, d int) (int, string, string) {
	t.Helper()
	work := t.TempDir()
	spec := fmt.Sprintf(`vaec: 1
name: agree
input: {shape: [%d]}
latent: 1
encoder: [{units: 2}]
decoder: [{units: 2}]
likelihood: gaussian
train: {epochs: 1, batch_size: 2, validation_split: 0}
data:
  train: {path: %q, format: %s%s}
`, d, path, format, headerKey(header))
	specPath := filepath.Join(work, "spec.yaml")
	if err := os.WriteFile(specPath, []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	lastBuildDir = filepath.Join(work, "build")
	return vaecCmd(t, "build", "--dir", lastBuildDir, specPath)
}

// headerKey is the spec's header key for a seed: forced when its name
// says .header., absent (told from the first line) otherwise, as the
// loader's source in the test has it.
func headerKey(header bool) string {
	if header {
		return ", header: true"
	}
	return ""
}

// checkAgree compares build's verdict with the loader's: both accept, or
// the loader's reason (without the file name) appears in build's message.
func checkAgree(t *testing.T, buildOK bool, loadErr error, buildErr string) {
	t.Helper()
	switch {
	case buildOK && loadErr == nil:
	case buildOK:
		t.Fatalf("build accepted the file, train's loader refuses it: %v", loadErr)
	case loadErr == nil:
		if strings.Contains(buildErr, "data.train") {
			t.Fatalf("build refused the data, train's loader accepts it:\n%s", buildErr)
		}
	default:
		if !strings.Contains(buildErr, dataDetail(loadErr)) {
			t.Fatalf("build and train refuse for different reasons:\nbuild: %s\ntrain: %v", buildErr, loadErr)
		}
	}
}

func dataDetail(err error) string {
	if de, ok := err.(*dataset.Error); ok {
		return de.Detail()
	}
	return err.Error()
}

func formatOf(name string) ir.Format {
	switch {
	case strings.HasSuffix(name, ".npy"), strings.HasSuffix(name, ".npy.gz"):
		return ir.FormatNPY
	case strings.HasSuffix(name, ".csv"):
		return ir.FormatCSV
	}
	return ir.FormatIDX
}
