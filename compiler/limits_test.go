package compiler

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// Findings 7 of issue 14 on the spec: integer overflow, control
// characters in keys, and a spec full of unknown keys.
func TestSpecHonestErrors(t *testing.T) {
	many := &strings.Builder{}
	many.WriteString("vaec: 1\n")
	for i := range 20000 {
		fmt.Fprintf(many, "k%d: 1\n", i)
	}
	cases := []struct {
		name, src string
		want      []string
		not       []string
		maxLines  int
	}{
		{"int64 overflow", "vaec: 1\ntrain:\n  batch_size: 9223372036854775808\n",
			[]string{"train.batch_size: 9223372036854775808 is out of range [1, "}, []string{"expected an integer"}, 0},
		{"huge float", "vaec: 1\ntrain:\n  epochs: 1e30\n",
			[]string{"train.epochs: 1e30 is out of range [1, 1000000]"}, nil, 0},
		{"a fraction is not an integer", "vaec: 1\ntrain:\n  epochs: 1.5\n",
			[]string{"expected an integer"}, nil, 0},
		{"ESC in an unknown key", "vaec: 1\n\"\\e[2J\\e]0;pwned\\a\": 1\n",
			[]string{`\x1b[2J\x1b]0;pwned\x07`}, []string{"\x1b", "\a"}, 0},
		{"20,000 unknown keys", many.String(),
			[]string{"more problems suppressed"}, nil, MaxPrinted + 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := compile("spec.yaml", []byte(c.src), t.TempDir())
			var el ErrorList
			if !errors.As(err, &el) {
				t.Fatalf("err = %v, want an ErrorList", err)
			}
			msg := el.Error()
			for _, w := range c.want {
				if !strings.Contains(msg, w) {
					t.Errorf("errors lack %q:\n%s", w, clipText(msg))
				}
			}
			for _, w := range c.not {
				if strings.Contains(msg, w) {
					t.Errorf("errors contain %q:\n%s", w, clipText(msg))
				}
			}
			if n := strings.Count(msg, "\n") + 1; c.maxLines > 0 && n > c.maxLines {
				t.Errorf("%d lines printed, want at most %d", n, c.maxLines)
			}
		})
	}
}

func clipText(s string) string {
	if len(s) > 2000 {
		return s[:2000] + "…"
	}
	return s
}
