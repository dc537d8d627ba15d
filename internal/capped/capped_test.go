package capped

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	small := filepath.Join(dir, "small")
	os.WriteFile(small, []byte("hello"), 0o644)
	cases := []struct {
		path   string
		limit  int64
		want   string
		tooBig bool
	}{
		{small, 5, "hello", false},
		{small, 4, "", true},
		{"/dev/zero", 1 << 20, "", true},
	}
	for _, c := range cases {
		b, err := ReadFile(c.path, c.limit)
		var tl *TooLargeError
		if c.tooBig {
			if !errors.As(err, &tl) {
				t.Errorf("ReadFile(%s, %d) = %d bytes, %v; want TooLargeError", c.path, c.limit, len(b), err)
			}
			continue
		}
		if err != nil || string(b) != c.want {
			t.Errorf("ReadFile(%s, %d) = %q, %v; want %q", c.path, c.limit, b, err, c.want)
		}
	}
}

func TestThousands(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", -1234567: "-1,234,567"} {
		if got := Thousands(n); got != want {
			t.Errorf("Thousands(%d) = %q, want %q", n, got, want)
		}
	}
}
