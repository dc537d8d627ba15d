package kernels

import (
	"runtime"
	"sync/atomic"
)

// The thread budget. A caller that runs independent work on several
// goroutines at once (the trainer's data-parallel step: one slice of the
// batch per goroutine) tells the kernels so with Share, and every kernel
// then splits its own work over fewer goroutines: GOMAXPROCS divided by
// the number of goroutines sharing the cores. Without it each of two
// workers on two cores would hand half of every product to the pool, and
// the pool's goroutines would queue behind the other worker: four
// runnable goroutines on two cores, each product waiting for a part that
// is not running.
//
// The budget only changes how work is split, never its arithmetic: every
// kernel computes each element by the same operations whatever the split
// (see Determinism in the package documentation), so a Share in effect
// anywhere in the process changes speed, not results.

// sharing counts the goroutines, beyond one, that callers have declared
// busy with independent work.
var sharing atomic.Int32

// Share declares that n goroutines are about to call the kernels
// concurrently, each on its own work, until the returned function is
// called. Shares nest and add up (two trainers in one process each
// declaring 2 leave a quarter of the cores to each call).
func Share(n int) (done func()) {
	if n <= 1 {
		return func() {}
	}
	sharing.Add(int32(n - 1))
	return func() { sharing.Add(-int32(n - 1)) }
}

// Threads returns how many goroutines one kernel call may use: GOMAXPROCS,
// divided among the goroutines that Share declared, at least 1.
func Threads() int {
	return max(1, runtime.GOMAXPROCS(0)/(1+int(sharing.Load())))
}
