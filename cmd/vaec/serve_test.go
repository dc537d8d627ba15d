package main

import (
	"bytes"
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
