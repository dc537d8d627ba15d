package kernels

// Evict drops x's cache lines from every cache of the machine, writing
// back any that were modified, where the CPU can do so without blocking
// (CLFLUSHOPT on amd64); elsewhere it does nothing. Values are unchanged:
// it only moves where they are.
//
// It is for data one core has just read that another core will write
// next. A core writing a line that another core read must first have
// that core's copy invalidated, and on the 2-core EPYC development VM
// that made writing 1.3 MB the other core had read cost 176 µs, against
// 13 µs for lines no other core held; with the reader evicting what it
// read (40 µs), the writer's pass cost 32 µs. The training step uses it
// in one of the modes it chooses among by measuring (graph's copyMode).
func Evict(x []float32) {
	if len(x) == 0 || !canEvict {
		return
	}
	evictLines(&x[0], len(x))
}
