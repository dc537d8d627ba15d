package kernels

import (
	"runtime"
	"sync"
	"time"
)

// The spinning pool serves PackedB.MulBiasAct, the inference path. An
// inference call lasts microseconds (a batch-1 layer) to a millisecond, so
// a worker parked on a channel, which the OS needs tens of microseconds to
// wake, would cost as much as the work it takes over. These workers
// instead poll their queue for spinFor after each task before parking,
// so back-to-back calls find them awake; the caller likewise spins on
// the parts still running before it blocks. The pool is separate from
// Sgemm's so that training, which runs goroutines of its own between
// products, never competes with a spinning worker for a CPU.
var spool struct {
	mu      sync.Mutex
	started int
	tasks   chan poolTask
}

const (
	// spinFor is how long an idle worker polls before parking: longer
	// than the gap between two calls of a serving loop, short enough
	// that an idle process goes quiet at once.
	spinFor = 200 * time.Microsecond
	// spinWaitPolls bounds the caller's spinning on unfinished parts
	// (about 100 µs); past it the caller blocks, e.g. when a worker has
	// been descheduled.
	spinWaitPolls = 1 << 17
)

// spinWorkers is workers for the spinning pool.
func spinWorkers() int {
	n := min(runtime.GOMAXPROCS(0), maxParts)
	if n <= 1 {
		return 1
	}
	spool.mu.Lock()
	if spool.tasks == nil {
		spool.tasks = make(chan poolTask, 256)
	}
	for spool.started < n-1 {
		spool.started++
		go spinWorker(spool.tasks)
	}
	spool.mu.Unlock()
	return n
}

func spinWorker(tasks chan poolTask) {
	for {
		t, ok := poll(tasks)
		if !ok {
			t = <-tasks
		}
		if t.job.seq.Load() == t.seq {
			t.job.tryRun(t.seq, t.part)
		}
		t.job.release()
	}
}

// poll receives from tasks for up to spinFor without parking.
func poll(tasks chan poolTask) (poolTask, bool) {
	var deadline time.Time
	for i := 0; ; i++ {
		select {
		case t := <-tasks:
			return t, true
		default:
		}
		if i&255 == 0 {
			now := time.Now()
			if i == 0 {
				deadline = now.Add(spinFor)
			} else if now.After(deadline) {
				return poolTask{}, false
			}
		}
	}
}

// ParallelRows calls f(i0, i1) for the blocks of a partition of rows
// [0, m), concurrently on the spinning pool that PackedB.MulBiasAct uses,
// and returns when every call has returned. Block bounds are multiples of
// RowTile() (but for the last), so that PackedB.MulBiasActRows over a
// block computes what the whole product would. There are as many blocks
// as cores (GOMAXPROCS), fewer when m has fewer row tiles; with one core
// f is called once, on the calling goroutine.
func ParallelRows(m int, f func(i0, i1 int)) {
	if m <= 0 {
		return
	}
	mr := active.mr
	parts := min(spinWorkers(), (m+mr-1)/mr)
	if parts <= 1 {
		f(0, m)
		return
	}
	job := jobPool.Get().(*gemmJob)
	job.refs.Store(1)
	job.gemmState = gemmState{kern: active, m: m, spin: true, rows: f}
	job.runPhase(phaseRows, parts)
	job.release()
}
