package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestConditionalVerbs: a conditional model through the command line —
// build prints the variant, sample takes --label (and refuses none or an
// unknown class), eval and encode use the data's labels, export writes files
// that take y and verify passes, sample --onnx takes --label; --label on an
// unconditional checkpoint is a usage error.
func TestConditionalVerbs(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("..", "..", "testdata", "specs", "mnist-small.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	mnist, err := filepath.Abs(filepath.Join("..", "..", "testdata", "mnist"))
	if err != nil {
		t.Fatal(err)
	}
	spec := strings.ReplaceAll(string(src), "../mnist", mnist)
	spec = strings.Replace(spec, "limit: 2000", "limit: 300", 1)
	spec = strings.Replace(spec, "likelihood: bernoulli", "likelihood: bernoulli\ncondition: {classes: 10}", 1)
	tmp := t.TempDir()
	specPath, dir := filepath.Join(tmp, "cvae.yaml"), filepath.Join(tmp, "build")
	if err := os.WriteFile(specPath, []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(wantCode int, want string, args ...string) string {
		t.Helper()
		code, out, errOut := vaecCmd(t, args...)
		if code != wantCode || !strings.Contains(out+errOut, want) {
			t.Errorf("vaec %v: exit %d, want %d with %q\n%s%s", args, code, wantCode, want, out, errOut)
		}
		return out
	}
	run(0, "variant: conditional on 10 classes", "build", "--dir", dir, specPath)
	run(0, "done: 1 epochs", "train", dir, "--epochs", "1", "-q")
	png := filepath.Join(tmp, "s.png")
	run(0, "4 samples", "sample", "--dir", dir, "--n", "4", "--label", "0,1,2,3", "--out", png)
	run(exitError, "give the labels", "sample", "--dir", dir, "--n", "4", "--out", png)
	run(exitUsage, "out of range", "sample", "--dir", dir, "--label", "12", "--out", png)
	run(0, "log p(x)", "eval", "--dir", dir, "--k", "2", "-q")
	run(0, "log p(x)", "eval", "--dir", dir, "--k", "2", "-q", "--label", "3")
	run(0, "posterior means", "encode", "--dir", dir, "--out", filepath.Join(tmp, "e.npy"))
	run(0, "verify: PASS", "export", "--dir", dir)
	run(0, "4 samples", "sample", "--onnx", "--dir", dir, "--n", "4", "--label", "5", "--out", png)

	plain := trained(t)
	run(exitUsage, "is not conditional", "sample", "--dir", plain, "--label", "1", "--out", png)
}
