package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestServeErrors covers what serve refuses before it listens; serving
// itself is tested in package serve.
func TestServeErrors(t *testing.T) {
	empty := t.TempDir()
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"serve", "--dir", empty}, exitError, "no model in"},
		{[]string{"serve", "--dir", empty, "--decoder", "d.onnx"}, exitUsage, "not both"},
		{[]string{"serve", "--decoder", empty + "/missing.onnx"}, exitError, `model "decoder"`},
		{[]string{"serve", "--log-level", "loud"}, exitUsage, "--log-level"},
		{[]string{"serve", "--max-batch", "0"}, exitUsage, "must be positive"},
		{[]string{"serve", "extra"}, exitUsage, "takes no arguments"},
	} {
		var stdout, stderr bytes.Buffer
		code := runWith(append([]string{"vaec"}, c.args...), &stdout, &stderr)
		if code != c.code || !strings.Contains(stderr.String(), c.want) {
			t.Errorf("vaec %s: exit %d, stderr %q; want exit %d and %q", strings.Join(c.args, " "), code, stderr.String(), c.code, c.want)
		}
	}
}

// TestExportTriton: `vaec export --triton DIR` writes the repository of the
// files it exported; the configs themselves are checked in package serve.
func TestExportTriton(t *testing.T) {
	trainedBuild(t)
	code, out, errOut := vaecExport(t, "export", "--no-verify", "--triton", "repo")
	if code != exitOK {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	for _, name := range []string{"encoder", "decoder"} {
		want, err := os.ReadFile(filepath.Join(defaultDir, name+".onnx"))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join("repo", name, "1", "model.onnx"))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("repo/%s/1/model.onnx: %v, or differs from %s.onnx", name, err, name)
		}
		cfg, err := os.ReadFile(filepath.Join("repo", name, "config.pbtxt"))
		if err != nil || !strings.Contains(string(cfg), `platform: "onnxruntime_onnx"`) {
			t.Errorf("repo/%s/config.pbtxt: %v\n%s", name, err, cfg)
		}
		if !strings.Contains(out, "wrote "+filepath.Join("repo", name, "config.pbtxt")) {
			t.Errorf("output does not name repo/%s/config.pbtxt:\n%s", name, out)
		}
	}
}
