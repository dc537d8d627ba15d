package serve

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vaec/vaec/runtime"
)

// errQueueFull is answered with 503 and Retry-After.
var errQueueFull = errors.New("queue full")

// job is one request's rows waiting in a model's queue.
type job struct {
	ctx  context.Context // the request's; a job whose client gave up is dropped
	rows int
	in   [][]float32 // per model input, rows × rowSize values
	// Set by the batcher before done is closed.
	out   [][]float32 // per model output, this job's rows
	shape [][]int     // per model output, this job's shape
	err   error
	batch int // rows in the model call that served the job
	done  chan struct{}
}

// batcher merges the queued requests for one model into model calls of at
// most maxBatch rows, waiting at most maxDelay after the first request of a
// call for others to join, and splits the outputs back.
//
// A model call never has a single row: a lone row is run twice, as a batch
// of 2. The runtime computes a single row with a matrix-vector kernel whose
// sums run in another order than its batched kernel, so the same row would
// otherwise round differently (the tests measure 3e-6 relative on the MNIST
// decoder and 3e-4 on its encoder's near-zero outputs, against a bound of
// 1e-6) depending on whether other requests happened to arrive at the same
// time. Every call of 2 or more rows runs the batched
// kernel, in which each row's result does not depend on the other rows
// (TestBatchingIsRowIndependent checks both facts), so an answer is the
// same bits however the requests were grouped.
type batcher struct {
	name     string
	model    Runner
	inputs   []ioSpec
	outputs  []ioSpec
	maxBatch int
	maxDelay time.Duration
	queue    chan *job
	stop     chan struct{}
	stopped  chan struct{}
	observe  func(rows int) // batch-size metric
	ok       prometheus.Counter
	latency  prometheus.Observer
}

// ioSpec is a model input or output as the server checks and splits it:
// its name, its per-row dimensions and their product.
type ioSpec struct {
	name    string
	dims    []int // without the batch dimension
	rowSize int
}

func (b *batcher) enqueue(j *job) error {
	select {
	case b.queue <- j:
		return nil
	default:
		return errQueueFull
	}
}

// loop runs model calls until stop is closed, then answers whatever is
// still queued.
func (b *batcher) loop() {
	defer close(b.stopped)
	var next *job // a job that did not fit into the previous call
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		first := next
		next = nil
		if first == nil {
			select {
			case first = <-b.queue:
			case <-b.stop:
				b.drain()
				return
			}
		}
		batch := []*job{first}
		rows := first.rows
		deadline := time.Now().Add(b.maxDelay)
	collect:
		for rows < b.maxBatch {
			var j *job
			select {
			case j = <-b.queue:
			default:
				// Nothing queued: wait for more only within maxDelay.
				wait := time.Until(deadline)
				if wait <= 0 {
					break collect
				}
				timer.Reset(wait)
				select {
				case j = <-b.queue:
					if !timer.Stop() {
						<-timer.C
					}
				case <-timer.C:
					break collect
				case <-b.stop:
					if !timer.Stop() {
						<-timer.C
					}
					break collect
				}
			}
			if rows+j.rows > b.maxBatch {
				next = j
				break collect
			}
			batch = append(batch, j)
			rows += j.rows
		}
		b.run(batch)
	}
}

// drain answers the jobs left in the queue at shutdown.
func (b *batcher) drain() {
	for {
		select {
		case j := <-b.queue:
			j.err = errors.New("server shutting down")
			close(j.done)
		default:
			return
		}
	}
}

// run makes one model call for the live jobs of batch and hands each job
// its rows of the outputs.
func (b *batcher) run(batch []*job) {
	live := batch[:0]
	rows := 0
	for _, j := range batch {
		if j.ctx.Err() != nil {
			// The client gave up (timeout or disconnect): its handler
			// has already answered.
			j.err = j.ctx.Err()
			close(j.done)
			continue
		}
		live = append(live, j)
		rows += j.rows
	}
	if len(live) == 0 {
		return
	}
	n := rows
	if n == 1 {
		n = 2 // see the type's comment
	}
	feed := make(map[string]runtime.Tensor, len(b.inputs))
	for k, in := range b.inputs {
		var data []float32
		if len(live) == 1 && n == rows {
			data = live[0].in[k] // one request of several rows: no copy
		} else {
			data = make([]float32, 0, n*in.rowSize)
			for _, j := range live {
				data = append(data, j.in[k]...)
			}
			if n != rows {
				data = append(data, data...)
			}
		}
		feed[in.name] = runtime.Tensor{Shape: append([]int{n}, in.dims...), Data: data}
	}
	res, err := b.model.Run(feed)
	if err == nil {
		err = b.checkOutputs(res, n)
	}
	if b.observe != nil {
		b.observe(rows)
	}
	off := 0
	for _, j := range live {
		j.batch = rows
		if err != nil {
			j.err = fmt.Errorf("model %q: %w", b.name, err)
			close(j.done)
			continue
		}
		j.out = make([][]float32, len(b.outputs))
		j.shape = make([][]int, len(b.outputs))
		for k, o := range b.outputs {
			// Outputs are fresh slices from the runtime: each job gets a
			// window of them without a copy.
			t := res[o.name]
			size := len(t.Data) / n
			j.out[k] = t.Data[off*size : (off+j.rows)*size : (off+j.rows)*size]
			j.shape[k] = append([]int{j.rows}, t.Shape[1:]...)
		}
		off += j.rows
		close(j.done)
	}
}

// checkOutputs makes sure every output has n rows of the declared size, so
// that splitting them cannot go out of bounds whatever the model did.
func (b *batcher) checkOutputs(res map[string]runtime.Tensor, n int) error {
	for _, o := range b.outputs {
		t, ok := res[o.name]
		if !ok {
			return fmt.Errorf("output %q missing", o.name)
		}
		size := 1
		for _, d := range t.Shape[min(1, len(t.Shape)):] {
			size *= d
		}
		if len(t.Shape) == 0 || t.Shape[0] != n || len(t.Data) != n*size {
			return fmt.Errorf("output %q has shape %v and %d values, want %d rows", o.name, t.Shape, len(t.Data), n)
		}
	}
	return nil
}
