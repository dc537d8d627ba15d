package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vaec/vaec/dataset"
	"github.com/vaec/vaec/graph"
	"github.com/vaec/vaec/kernels"
)

// The scaling benchmark: training samples/s at every GOMAXPROCS, beside
// what the machine's cores can do at all.
//
// On a shared VM the second core's worth changes from minute to minute
// (where the host puts the vCPUs, what else it runs there), so a
// training ratio alone does not say whether the code or the host moved.
// Each round therefore also measures the ceiling: a matrix product on one
// core alone, then one copy on each core at once, each pinned, in
// separate processes (so they share nothing but the hardware); the sum
// over the single figure is the speed-up pure arithmetic gets from the
// extra cores in that round. Every figure comes from a fresh process,
// and the training runs alternate between core counts. Each round starts
// with where the host put the first two cores: the round trip of a cache
// line bounced between two threads pinned to them. On the 2-core EPYC
// VMs it is about 100 ns when they share a CCD and about 450 ns when they
// do not, the host moves them every few minutes, and training scales far
// better in the first case (graph's doc.go).

func scalingMain(args []string, out io.Writer) error {
	fs := newFlags("scaling")
	rounds := fs.Int("rounds", 5, "interleaved rounds")
	epochs := fs.Int("epochs", 4, "training epochs per figure (no validation; the first includes building the step)")
	spec := fs.String("spec", "testdata/specs/mnist.yaml", "spec to train (relative to the repository)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *rounds < 1 || *epochs < 1 {
		return fmt.Errorf("-rounds and -epochs must be at least 1")
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cores := runtime.NumCPU()
	fmt.Fprintf(out, "scaling of %s training (%d epochs a figure) over GOMAXPROCS 1..%d, %d rounds; load average %s\n",
		*spec, *epochs, cores, *rounds, loadAverage())
	train := make([][]float64, cores+1) // by GOMAXPROCS
	var ceilings, trips []float64
	for r := 1; r <= *rounds; r++ {
		if cores >= 2 {
			v, err := scalingChild(self, []string{"-mode", "pingpong"}, 2)
			if err != nil {
				return err
			}
			trips = append(trips, v)
			fmt.Fprintf(out, "round %d  placement: a cache line's round trip between cpus 0 and 1 %.0f ns\n", r, v)
		}
		for p := 1; p <= cores; p++ {
			v, err := scalingChild(self, []string{"-mode", "train", "-spec", *spec, "-epochs", strconv.Itoa(*epochs)}, p)
			if err != nil {
				return err
			}
			train[p] = append(train[p], v)
			fmt.Fprintf(out, "round %d  GOMAXPROCS=%-2d %8.0f samples/s  %.2fx\n", r, p, v, v/train[1][len(train[1])-1])
		}
		alone, err := scalingChild(self, []string{"-mode", "arith", "-cpu", "0"}, 1)
		if err != nil {
			return err
		}
		together := make([]float64, cores)
		errs := make([]error, cores)
		var wg sync.WaitGroup
		for c := range cores {
			wg.Add(1)
			go func() {
				defer wg.Done()
				together[c], errs[c] = scalingChild(self, []string{"-mode", "arith", "-cpu", strconv.Itoa(c)}, 1)
			}()
		}
		wg.Wait()
		sum := 0.0
		for c := range cores {
			if errs[c] != nil {
				return errs[c]
			}
			sum += together[c]
		}
		ceilings = append(ceilings, sum/alone)
		fmt.Fprintf(out, "round %d  arithmetic: %.1f GFLOP/s alone on cpu 0; %s at once: %.2fx\n", r, alone, figures(together, "%.1f"), sum/alone)
	}
	fmt.Fprintln(out)
	base := median(append([]float64(nil), train[1]...))
	for p := 1; p <= cores; p++ {
		m := median(append([]float64(nil), train[p]...))
		fmt.Fprintf(out, "GOMAXPROCS=%-2d median %8.0f samples/s [%s]  %.2fx\n", p, m, figures(train[p], "%.0f"), m/base)
	}
	fmt.Fprintf(out, "arithmetic ceiling on %d cores: median %.2fx [%s]\n", cores, median(append([]float64(nil), ceilings...)), figures(ceilings, "%.2f"))
	if len(trips) > 0 {
		fmt.Fprintf(out, "cpus 0 and 1, a cache line's round trip: [%s] ns\n", figures(trips, "%.0f"))
	}
	return nil
}

// scalingChild runs this binary's scaling-child with args at GOMAXPROCS
// procs and returns the figure it prints.
func scalingChild(self string, args []string, procs int) (float64, error) {
	cmd := exec.Command(self, append([]string{"scaling-child"}, args...)...)
	cmd.Env = append(os.Environ(), "GOMAXPROCS="+strconv.Itoa(procs))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if err != nil {
		return 0, fmt.Errorf("scaling-child %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(string(b)), 64)
	if err != nil {
		return 0, fmt.Errorf("scaling-child %s printed %q", strings.Join(args, " "), b)
	}
	return v, nil
}

// scalingChildMain measures one figure and prints it alone on stdout:
// training samples/s (-mode train), or a pinned core's GFLOP/s on a
// 256×784·784×400 product for half a second (-mode arith).
func scalingChildMain(args []string, out io.Writer) error {
	fs := newFlags("scaling-child")
	mode := fs.String("mode", "", "train or arith")
	spec := fs.String("spec", "testdata/specs/mnist.yaml", "spec to train")
	epochs := fs.Int("epochs", 2, "epochs")
	cpu := fs.Int("cpu", 0, "arith: the CPU to pin to")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch *mode {
	case "train":
		_, m, err := compileSpec(*spec)
		if err != nil {
			return err
		}
		set, err := dataset.Load(m.Data.Train, m.Input)
		if err != nil {
			return err
		}
		res, err := graph.Train(context.Background(), m, graph.TrainOptions{Train: set, Epochs: *epochs})
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(out, "%.1f\n", vaecFigures(res, set.N).samplesPerSec)
		return err
	case "arith":
		runtime.LockOSThread()
		if err := pinThread(*cpu); err != nil {
			return err
		}
		const m, k, n = 256, 784, 400
		a, w, c := make([]float32, m*k), make([]float32, k*n), make([]float32, m*n)
		for i := range a {
			a[i] = float32(i%17) - 8 // dense: no zero steps to skip
		}
		for i := range w {
			w[i] = float32(i%13)/13 - 0.5
		}
		p, err := kernels.NewPackedB(false, k, n, w, n)
		if err != nil {
			return err
		}
		p.MulBiasAct(m, a, k, c, n, nil, kernels.Linear, 0) // warm
		calls := 0
		start := time.Now()
		for time.Since(start) < 500*time.Millisecond {
			p.MulBiasAct(m, a, k, c, n, nil, kernels.Linear, 0)
			calls++
		}
		_, err = fmt.Fprintf(out, "%.2f\n", 2*float64(m*k*n)*float64(calls)/time.Since(start).Seconds()/1e9)
		return err
	case "pingpong":
		v, err := pingPong(0, 1, 200_000)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(out, "%.1f\n", v)
		return err
	}
	return fmt.Errorf("-mode %q: want train, arith or pingpong", *mode)
}

// pingPong returns the mean round trip, in ns, of a cache line written in
// turn by two threads pinned to cpus a and b, over n round trips. It needs
// GOMAXPROCS of at least 2 (both threads spin).
func pingPong(a, b, n int) (float64, error) {
	if runtime.GOMAXPROCS(0) < 2 {
		return 0, fmt.Errorf("pingpong: GOMAXPROCS %d, want at least 2", runtime.GOMAXPROCS(0))
	}
	var flag atomic.Int64
	var abort atomic.Bool
	ready, done := make(chan error, 1), make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := pinThread(b); err != nil {
			ready <- err
			return
		}
		ready <- nil
		for i := int64(0); i < int64(n); i++ {
			for flag.Load() != 2*i+1 {
				if abort.Load() {
					return
				}
			}
			flag.Store(2*i + 2)
		}
	}()
	if err := <-ready; err != nil {
		return 0, err
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := pinThread(a); err != nil {
		abort.Store(true)
		<-done
		return 0, err
	}
	start := time.Now()
	for i := int64(0); i < int64(n); i++ {
		flag.Store(2*i + 1)
		for flag.Load() != 2*i+2 {
		}
	}
	d := time.Since(start)
	<-done
	return float64(d.Nanoseconds()) / float64(n), nil
}
