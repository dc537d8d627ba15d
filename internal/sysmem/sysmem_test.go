package sysmem

import "testing"

func TestLimit(t *testing.T) {
	n, src := Limit()
	if n <= 0 || src == "" {
		t.Skipf("no memory figure on this system (%d, %q)", n, src)
	}
	if n < 64<<20 {
		t.Errorf("Limit = %d bytes from %s: implausibly small", n, src)
	}
	t.Logf("%d MiB from %s", n>>20, src)
}
