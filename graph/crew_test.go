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
// when run returns; stop then ends the members.
func TestCrewRunsEveryItemOnce(t *testing.T) {
	before := runtime.NumGoroutine()
	c := newCrew()
	for phase := range 300 {
		count := phase%17 + 1
		helpers := phase % 4
		hits := make([]atomic.Int32, count)
		c.run(count, helpers, phase%2 == 0, func(j int) {
			if j%5 == 0 {
				time.Sleep(time.Microsecond)
			}
			hits[j].Add(1)
		})
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
