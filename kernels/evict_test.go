package kernels

import (
	"runtime"
	"testing"
)

// TestEvictKeepsValues evicts slices of every offset and length within a
// few cache lines, right after writing them (lines still modified in
// this core's cache): eviction writes them back, so every value reads the
// same afterwards, and the neighbours outside the slice (which share its
// first and last lines) keep theirs too.
func TestEvictKeepsValues(t *testing.T) {
	buf := make([]float32, 96)
	for off := range 17 {
		for n := range 70 {
			for i := range buf {
				buf[i] = float32(i*7 + off - n)
			}
			Evict(buf[off : off+n])
			for i, v := range buf {
				if want := float32(i*7 + off - n); v != want {
					t.Fatalf("offset %d, length %d: element %d is %v after Evict, want %v", off, n, i, v, want)
				}
			}
		}
	}
}

// TestEvictWhileAnotherCoreWrites: eviction is only a hint to the caches;
// a goroutine writing the lines while another evicts them loses nothing.
func TestEvictWhileAnotherCoreWrites(t *testing.T) {
	buf := make([]float32, 4096)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for r := 1; r <= 200; r++ {
			for i := range buf {
				buf[i] = float32(r)
			}
			runtime.Gosched()
		}
	}()
	for {
		select {
		case <-done:
			for i, v := range buf {
				if v != 200 {
					t.Fatalf("element %d is %v after the writer's last pass, want 200", i, v)
				}
			}
			return
		default:
			Evict(buf)
		}
	}
}
