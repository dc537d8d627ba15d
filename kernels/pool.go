package kernels

import "sync"

// The worker pool: goroutines started once and parked on a channel, so a
// parallel Sgemm costs a channel hand-off per part instead of a goroutine
// start.
//
// A phase is split into parts, and every part can be run by whichever
// goroutine claims it first: the caller runs part 0, then claims any part a
// worker has not started yet. On a busy machine a woken worker may not get
// a CPU for milliseconds; the caller then does that part itself instead of
// waiting. Which goroutine runs a part never changes its arithmetic.

// maxParts bounds the goroutines one product uses, so that a job's claims
// array is allocated once and never replaced while a stale task may read it.
const maxParts = 64

type poolTask struct {
	job  *gemmJob
	seq  int64 // the phase the task belongs to
	part int
}

var pool struct {
	mu      sync.Mutex
	started int
	tasks   chan poolTask
}

// workers returns how many goroutines a large product may use, making sure
// that the pool has that many minus one (the caller) parked.
func workers() int {
	n := min(Threads(), maxParts)
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
		if t.job.seq.Load() == t.seq {
			t.job.tryRun(t.seq, t.part)
		}
		t.job.release()
	}
}

// runPhase runs parts parts of phase and returns when all are done.
func (j *gemmJob) runPhase(phase, parts int) {
	if parts <= 1 {
		j.run(phase, 0, 1)
		return
	}
	j.phase, j.parts = phase, parts
	j.left.Store(int32(parts))
	seq := j.seq.Add(1) // publishes the fields above to the tasks
	tasks := pool.tasks
	if j.spin {
		tasks = spool.tasks
	}
	for p := 1; p < parts; p++ {
		j.refs.Add(1)
		select {
		case tasks <- poolTask{j, seq, p}:
		default: // queue full (many concurrent callers): the loop below runs it
			j.refs.Add(-1)
		}
	}
	for p := 0; p < parts; p++ {
		j.tryRun(seq, p)
	}
	if j.spin {
		// The parts still running were claimed by workers that are on a
		// CPU now; parking here would add a wake-up to the call.
		for i := 0; i < spinWaitPolls && j.left.Load() != 0; i++ {
		}
	}
	<-j.fin
}

// tryRun runs part of phase seq unless some goroutine has claimed it.
func (j *gemmJob) tryRun(seq int64, part int) {
	c := &j.claims[part]
	old := c.Load()
	// A claim older than seq means part is still open in phase seq, and
	// so phase seq is still the current one.
	if old >= seq || !c.CompareAndSwap(old, seq) {
		return
	}
	j.run(j.phase, part, j.parts)
	if j.left.Add(-1) == 0 {
		j.fin <- struct{}{}
	}
}
