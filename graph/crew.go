package graph

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// crew is the stepper's standing team of helper goroutines. A training
// step has two parallel phases of about a millisecond each; starting a
// goroutine for each phase lets the runtime hand it to an idle processor
// whose thread is asleep, and waking that thread costs tens of
// microseconds on a VM, during which the caller's core works alone (the
// per-phase profile showed 11% of the shards phase and 20% of the update
// phase idle on two cores). Crew members instead poll for the next phase
// for spinFor after finishing one, so consecutive phases and steps find
// them running, and park on a condition variable when training pauses
// (evaluation, checkpoints), so an idle trainer costs nothing.
//
// Which goroutine runs an item never matters: each item is claimed once
// (a compare-and-swap on its own flag) and computes the same thing
// whoever runs it.
type crew struct {
	mu     sync.Mutex
	cond   *sync.Cond
	size   int // helpers started
	parked int // helpers waiting on cond (under mu)
	quit   bool

	seq     atomic.Int64   // phase number, bumped by run to publish a phase
	tickets atomic.Int32   // helpers still allowed to join the current phase
	left    atomic.Int32   // helpers that joined and have not finished
	claims  []atomic.Int64 // per item: the last phase that claimed it
	workers int            // the caller and the helpers the current phase admits
	count   int
	fn      func(w, j int)
	busy    atomic.Int64 // ns spent in fn, when timing
	timing  bool
}

// spinFor is how long a crew member polls for the next phase before it
// parks: longer than the serial gaps of a step (drawing ε, the loss sum,
// the optimizer's setup), far shorter than an evaluation pass.
const spinFor = 200 * time.Microsecond

func newCrew() *crew {
	c := &crew{}
	c.cond = sync.NewCond(&c.mu)
	return c
}

// run calls fn(w, j) for every j in [0, count) on the caller (w = 0)
// and up to helpers crew members (w their index), and returns when all
// calls have returned. With timing set it returns the time spent in fn,
// summed over goroutines.
func (c *crew) run(count, helpers int, timing bool, fn func(w, j int)) time.Duration {
	c.mu.Lock()
	for c.size < helpers {
		c.size++
		go c.member(c.seq.Load(), c.size)
	}
	c.mu.Unlock()
	// No member is in a phase now (run waited for them), so these fields
	// are the caller's; left is never reset: a member that missed the
	// last phase may still be counted in it for a moment.
	c.fn, c.count, c.timing = fn, count, timing
	if len(c.claims) < count {
		c.claims = make([]atomic.Int64, count)
	}
	c.workers = helpers + 1
	c.busy.Store(0)
	c.tickets.Store(int32(helpers))
	c.seq.Add(1) // publishes the fields above
	if helpers > 0 {
		// After publishing, under the lock a parking member checks seq
		// under: it either sees the new phase or is woken.
		c.mu.Lock()
		if c.parked > 0 {
			c.cond.Broadcast()
		}
		c.mu.Unlock()
	}
	c.work(0, c.seq.Load())
	// Wait for the helpers that joined: a ticket not yet taken is
	// withdrawn, so a helper that arrives late finds no phase to join.
	for c.tickets.Load() > 0 {
		if c.tickets.Add(-1) < 0 {
			c.tickets.Add(1)
			break
		}
	}
	for i := 0; c.left.Load() > 0; i++ {
		if i > 1<<12 {
			runtime.Gosched() // a helper was descheduled: give it the CPU
		}
	}
	c.fn = nil
	return time.Duration(c.busy.Load())
}

// work claims and runs items until none is left. Worker idx (0 for the
// caller) first takes its own contiguous share of the items, in order,
// then whatever is left, from the end. A shard then runs on the same
// goroutine step after step and a chunk of the parameters on the same
// one, so their data stays in one core's cache instead of moving between
// cores (on two cores: 3% more samples/s at GOMAXPROCS=2); the claims
// still let any goroutine run any item, so a late or descheduled one
// delays nothing, and which goroutine runs an item never changes what it
// computes.
func (c *crew) work(idx int, seq int64) {
	var t0 time.Time
	if c.timing {
		t0 = time.Now()
	}
	claim := func(j int) {
		if old := c.claims[j].Load(); old != seq && c.claims[j].CompareAndSwap(old, seq) {
			c.fn(idx, j)
		}
	}
	if w := c.workers; idx < w {
		for j := idx * c.count / w; j < (idx+1)*c.count/w; j++ {
			claim(j)
		}
	}
	for j := c.count - 1; j >= 0; j-- {
		claim(j)
	}
	if c.timing {
		c.busy.Add(int64(time.Since(t0)))
	}
}

// member is one helper's loop; seen is the last phase it looked at.
func (c *crew) member(seen int64, idx int) {
	for {
		seq, ok := c.wait(seen)
		if !ok {
			return
		}
		seen = seq
		// Join only with a ticket, taken before counting in, so that run
		// never returns while a member it did not wait for is in fn. A
		// member whose index is beyond the phase's workers leaves the
		// ticket to one within: worker indices stay in [0, workers), so a
		// phase with fewer items than the crew's size is always run by the
		// same goroutines, and their packed copies (prepack.go) with them.
		c.left.Add(1)
		if c.tickets.Add(-1) >= 0 && c.seq.Load() == seq && idx < c.workers {
			c.work(idx, seq)
		} else {
			c.tickets.Add(1)
		}
		c.left.Add(-1)
	}
}

// wait returns the next phase number after seen, polling for spinFor and
// then parking; ok is false when the crew stops.
func (c *crew) wait(seen int64) (int64, bool) {
	deadline := time.Now().Add(spinFor)
	for i := 0; ; i++ {
		if s := c.seq.Load(); s != seen {
			return s, true
		}
		if i&63 == 63 && time.Now().After(deadline) {
			break
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.seq.Load() == seen && !c.quit {
		c.parked++
		c.cond.Wait()
		c.parked--
	}
	return c.seq.Load(), !c.quit
}

// stop ends the crew's goroutines once they finish what they are doing.
func (c *crew) stop() {
	c.mu.Lock()
	c.quit = true
	c.cond.Broadcast()
	c.mu.Unlock()
}
