package graph

import (
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// TestCrewRunsEveryItemOnce runs many phases of varying sizes and helper
// counts, some after pauses long enough for the members to park, and
// checks that each phase runs every item exactly once and has finished
// when run returns, and that no two goroutines run under the same worker
// index at once, nor under one beyond the phase's helpers (a worker's
// packed copies are its own, prepack.go); stop then ends the members.
func TestCrewRunsEveryItemOnce(t *testing.T) {
	before := runtime.NumGoroutine()
	c := newCrew()
	for phase := range 300 {
		count := phase%17 + 1
		helpers := phase % 4
		hits := make([]atomic.Int32, count)
		var inside [4]atomic.Int32
		var clash atomic.Int32
		c.run(count, helpers, phase%2 == 0, func(w, j int) {
			if w < 0 || w > helpers || inside[w].Add(1) != 1 {
				clash.Add(1)
				return
			}
			defer inside[w].Add(-1)
			if j%5 == 0 {
				time.Sleep(time.Microsecond)
			}
			hits[j].Add(1)
		})
		if n := clash.Load(); n > 0 {
			t.Fatalf("phase %d: %d items ran under a worker index out of range or in use", phase, n)
		}
		for j := range hits {
			if n := hits[j].Load(); n != 1 {
				t.Fatalf("phase %d (count %d, helpers %d): item %d ran %d times", phase, count, helpers, j, n)
			}
		}
		if phase%50 == 49 {
			time.Sleep(2 * spinFor) // members park
		}
	}
	c.stop()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines after stop, %d before the crew", n, before)
	}
}
