// Command bench measures vaec against the tools its users would otherwise
// run, side by side on the same machine in the same run:
//
//	go run ./bench train   # vaec's trainer vs PyTorch (bench/pytorch_vae.py), MNIST 784-400-20, batch 128
//	go run ./bench infer   # vaec's runtime vs ONNX Runtime on the exported encoder and decoder, batch 1 and 256
//	go run ./bench serve   # vaec serve on loopback: req/s and p50/p99 latency at concurrency 1, 8, 64
//	go run ./bench scaling # training samples/s at every GOMAXPROCS, beside the cores' arithmetic ceiling
//
// Runs are interleaved (vaec, reference, vaec, reference, …) so that a change
// in the machine's load hits both; the summary gives every raw figure, the
// medians and their ratio. Training also reports the validation ELBO after
// the same number of epochs, so that speed is never bought with quality.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"

	"github.com/vaec/vaec/compiler"
	"github.com/vaec/vaec/ir"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: go run ./bench {train|infer|serve|scaling} [flags]  (-h for flags)")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "train":
		err = trainMain(os.Args[2:], os.Stdout)
	case "infer":
		err = inferMain(os.Args[2:], os.Stdout)
	case "serve":
		err = serveMain(os.Args[2:], os.Stdout)
	case "variants":
		err = variantsMain(os.Args[2:], os.Stdout)
	case "scaling":
		err = scalingMain(os.Args[2:], os.Stdout)
	case "scaling-child":
		err = scalingChildMain(os.Args[2:], os.Stdout)
	default:
		fmt.Fprintf(os.Stderr, "bench: unknown benchmark %q: want train, infer, serve or scaling\n", os.Args[1])
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// repoRoot finds the repository from the working directory, so the harness
// runs from any subdirectory.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("not inside the vaec repository (no go.mod above %s)", dir)
		}
		dir = parent
	}
}

// compileSpec compiles spec, a path relative to the repository, and
// returns the repository's root too.
func compileSpec(spec string) (root string, m *ir.Model, err error) {
	root, err = repoRoot()
	if err != nil {
		return "", nil, err
	}
	m, err = compiler.CompileFile(filepath.Join(root, spec))
	return root, m, err
}

// median of xs (which it sorts).
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	sort.Float64s(xs)
	if len(xs)%2 == 1 {
		return xs[len(xs)/2]
	}
	return (xs[len(xs)/2-1] + xs[len(xs)/2]) / 2
}

// figures prints raw values compactly.
func figures(xs []float64, format string) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = fmt.Sprintf(format, x)
	}
	return strings.Join(parts, ", ")
}

// loadAverage reads the 1-minute load average, so a report says how busy
// the machine was.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "unknown"
	}
	return f[0]
}

// startProfile starts a CPU profile when path is set; the returned function stops it.
func startProfile(path string) (func(), error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// runPython runs a Python script and returns its standard output.
func runPython(ctx context.Context, python string, env []string, stderr io.Writer, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, python, args...)
	cmd.Env = env
	cmd.Stderr = stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%s %s: %w", python, strings.Join(args, " "), err)
	}
	return string(out), nil
}

// intList parses "1,2" into ints.
func intList(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%q: want a comma-separated list of positive integers", s)
		}
		out = append(out, n)
	}
	return out, nil
}

func newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("bench "+name, flag.ContinueOnError)
	return fs
}
