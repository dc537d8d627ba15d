package compiler

import (
	"errors"
	"github.com/vaec/vaec/ir"
	"os"
	"path/filepath"
	"testing"
)

// FuzzCompile feeds arbitrary bytes to the compiler. Whatever the input,
// Compile must return either a model that passes Verify or an ErrorList
// whose every entry is positioned, sorted and unique; it must never panic.
// The seeds are the shipped specs and every invalid spec.
func FuzzCompile(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join(specDir, "*.yaml"))
	for _, p := range seeds {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	invalid, _ := filepath.Glob(filepath.Join(specDir, "invalid", "*.txtar"))
	for _, p := range invalid {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		_, files := parseTxtar(b)
		for _, file := range files {
			if file.name == "spec.yaml" {
				f.Add(file.data)
			}
		}
	}
	f.Add([]byte("vaec: 1\ninput: &a {shape: *a}\nencoder: &e [*e]\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		m, err := compile("spec.yaml", src, specDir)
		if err == nil {
			if m == nil {
				t.Fatal("nil model without error")
			}
			if verr := ir.Verify(m); verr != nil {
				t.Fatalf("compiled model fails Verify: %v", verr)
			}
			return
		}
		var el ErrorList
		if !errors.As(err, &el) {
			t.Fatalf("error is %T, want ErrorList", err)
		}
		checkErrorList(t, el)
	})
}
