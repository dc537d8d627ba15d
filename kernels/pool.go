package kernels

import (
	"runtime"
	"sync"
)

// The worker pool: goroutines started once and parked on a channel, so a
// parallel Sgemm costs a channel hand-off per part instead of a goroutine
// start. The calling goroutine always runs part 0 itself.

type poolTask struct {
	job                *gemmJob
	phase, part, parts int
}

var pool struct {
	mu      sync.Mutex
	started int
	tasks   chan poolTask
}

// workers returns how many goroutines a large product may use, making sure
// that the pool has that many minus one (the caller) parked.
func workers() int {
	n := runtime.GOMAXPROCS(0)
	if n <= 1 {
		return 1
	}
	pool.mu.Lock()
	if pool.tasks == nil {
		pool.tasks = make(chan poolTask, 256)
	}
	for pool.started < n-1 {
		pool.started++
		go worker(pool.tasks)
	}
	pool.mu.Unlock()
	return n
}

func worker(tasks <-chan poolTask) {
	for t := range tasks {
		t.job.run(t.phase, t.part, t.parts)
		t.job.wg.Done()
	}
}

// runParallel runs parts parts of phase of job and returns when all are
// done. If the pool's queue is full (many concurrent callers), a part runs
// on the caller instead of waiting for a slot.
func runParallel(job *gemmJob, phase, parts int) {
	if parts <= 1 {
		job.run(phase, 0, 1)
		return
	}
	job.wg.Add(parts - 1)
	for p := 1; p < parts; p++ {
		select {
		case pool.tasks <- poolTask{job, phase, p, parts}:
		default:
			job.run(phase, p, parts)
			job.wg.Done()
		}
	}
	job.run(phase, 0, parts)
	job.wg.Wait()
}
