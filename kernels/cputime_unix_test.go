//go:build unix

package kernels

import (
	"syscall"
	"time"
)

// processCPU returns the CPU time this process has used (all threads). The
// benchmarks report GFLOP per CPU-second from it: on a shared, loaded
// machine that is far steadier than wall-clock GFLOP/s.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
