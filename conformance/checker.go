package conformance

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// checkerScript checks every file named on the command line and prints one
// line per file, so that one interpreter start serves a whole batch.
const checkerScript = `
import sys, onnx, onnx.shape_inference
for path in sys.argv[1:]:
    try:
        m = onnx.load(path)
        onnx.checker.check_model(m, full_check=True)
        onnx.shape_inference.infer_shapes(m, check_type=True, strict_mode=True)
        print("OK", path)
    except Exception as e:
        print("FAIL", path, str(e).replace("\n", " | "))
`

// Python returns the interpreter that has the onnx package, or skips t
// (fails it when VAEC_REQUIRE_ONNX_CHECKER=1) with a hint on how to get one.
func Python(t testing.TB) string {
	t.Helper()
	py := os.Getenv("VAEC_PYTHON")
	if py == "" {
		py = "/usr/bin/python3"
	}
	out, err := exec.Command(py, "-c", "import onnx; print(onnx.__version__)").CombinedOutput()
	if err != nil {
		msg := fmt.Sprintf("ONNX checker unavailable (%s -c 'import onnx': %v: %s); install python3-onnx (Debian) or set VAEC_PYTHON; VAEC_REQUIRE_ONNX_CHECKER=1 makes this a failure",
			py, err, strings.TrimSpace(string(out)))
		if os.Getenv("VAEC_REQUIRE_ONNX_CHECKER") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return py
}

// CheckAll runs onnx.checker.check_model(model, full_check=True) and
// onnx.shape_inference.infer_shapes(model, check_type=True,
// strict_mode=True) on every model (name → bytes) in one interpreter and
// reports each failure by name.
// Without the checker it skips t, or fails it under
// VAEC_REQUIRE_ONNX_CHECKER=1.
func CheckAll(t testing.TB, models map[string][]byte) {
	t.Helper()
	py := Python(t)
	dir := t.TempDir()
	var paths []string
	byPath := map[string]string{}
	for name, data := range models {
		p := filepath.Join(dir, fmt.Sprintf("m%03d.onnx", len(paths)))
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
		byPath[p] = name
	}
	cmd := exec.Command(py, append([]string{"-c", checkerScript}, paths...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("checker: %v\n%s", err, stderr.String())
	}
	ok := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		status, rest, _ := strings.Cut(line, " ")
		path, msg, _ := strings.Cut(rest, " ")
		switch status {
		case "OK":
			ok++
		case "FAIL":
			t.Errorf("onnx.checker.check_model(%s, full_check=True): %s", byPath[path], msg)
		default:
			t.Errorf("checker printed %q", line)
		}
	}
	if ok == 0 && len(models) > 0 {
		t.Errorf("checker passed none of %d models", len(models))
	}
	t.Logf("onnx checker: %d of %d models pass", ok, len(models))
}
