package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/vaec/vaec/dataset"
	"github.com/vaec/vaec/export"
	"github.com/vaec/vaec/graph"
	"github.com/vaec/vaec/ir"
	"github.com/vaec/vaec/runtime"
	"github.com/vaec/vaec/serve"
)

// serveRun is one measurement: a model at a concurrency for a while.
type serveRun struct {
	rps      float64
	p50, p99 time.Duration
	errors   int
	load     string
	// cpuPerReq is the process's CPU time (server and clients) per
	// request: what throughput would be on idle cores is about
	// cores/cpuPerReq, a figure the other tenants' load disturbs less.
	cpuPerReq time.Duration
	// rowsPerCall is the mean batch the server made.
	rowsPerCall float64
}

// serveMain load-tests `vaec serve` on loopback: the server runs in this
// process (as `vaec serve` would, with the same package), and closed-loop
// clients, each with one keep-alive connection, post one request after
// another and read the whole answer without parsing it (as wrk would).
func serveMain(args []string, out io.Writer) error {
	fs := newFlags("serve")
	rounds := fs.Int("rounds", 3, "interleaved rounds; figures are medians over them")
	conc := fs.String("concurrency", "1,8,64", "client counts")
	modelList := fs.String("models", "decoder,encoder", "models of the spec to load-test (random initial weights), any of encoder and decoder; the encoder stands in for score.onnx until the spec can export one")
	fileList := fs.String("files", "", "more models to load-test, as NAME=FILE.onnx,... (inputs: standard normal values)")
	dur := fs.Duration("time", 2*time.Second, "measuring time per figure (after 200 ms of warm-up)")
	rows := fs.Int("rows", 1, "examples per request")
	maxBatch := fs.Int("max-batch", serve.DefaultMaxBatch, "server: most rows per model call")
	maxDelay := fs.Duration("max-delay", 0, "server: how long a model call waits for more requests")
	spec := fs.String("spec", "testdata/specs/mnist.yaml", "spec whose model to export (random initial weights: speed does not depend on their values)")
	binaryOut := fs.Bool("binary-output", false, "ask for the outputs as binary data (Triton's binary tensor data extension) instead of JSON numbers")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the whole process (server and clients) to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	concs, err := intList(*conc)
	if err != nil {
		return fmt.Errorf("-concurrency %w", err)
	}
	root, m, err := compileSpec(*spec)
	if err != nil {
		return err
	}
	var names []string
	if *modelList != "" {
		names = strings.Split(*modelList, ",")
	}
	models, bodies, err := serveModels(m, names, *rows)
	if err != nil {
		return err
	}
	if *fileList != "" {
		for _, f := range strings.Split(*fileList, ",") {
			name, path, ok := strings.Cut(f, "=")
			if !ok {
				return fmt.Errorf("-files: %q is not NAME=FILE", f)
			}
			if !filepath.IsAbs(path) {
				path = filepath.Join(root, path)
			}
			mod, b, err := fileModel(name, path, *rows)
			if err != nil {
				return err
			}
			models = append(models, mod)
			bodies[name] = b
		}
	}
	s, err := serve.New(models, serve.Config{MaxBatch: *maxBatch, MaxDelay: *maxDelay, Version: "bench"})
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, l) }()
	defer func() { stop(); <-done }()
	base := "http://" + l.Addr().String()

	if *binaryOut {
		for name, bs := range bodies {
			for i, b := range bs {
				bodies[name][i] = append(bytes.TrimSuffix(b, []byte("}")), `,"parameters":{"binary_data_output":true}}`...)
			}
		}
	}
	fmt.Fprintf(out, "serve load test: %s (%d parameters), %d example(s) per request, max batch %d, max delay %v, %d rounds of %v per figure; load average %s\n",
		m.Name, paramCount(m), *rows, *maxBatch, *maxDelay, *rounds, *dur, loadAverage())
	stopProfile, err := startProfile(*cpuprofile)
	if err != nil {
		return err
	}
	type key struct {
		model string
		conc  int
	}
	results := map[key][]serveRun{}
	for r := 1; r <= *rounds; r++ {
		for _, mod := range models {
			for _, c := range concs {
				calls0, rows0, err := batchStats(base, mod.Name)
				if err != nil {
					stopProfile()
					return err
				}
				res, err := loadTest(base+"/v2/models/"+mod.Name+"/infer", bodies[mod.Name], c, *dur)
				if err != nil {
					stopProfile()
					return fmt.Errorf("%s at concurrency %d: %w", mod.Name, c, err)
				}
				calls1, rows1, err := batchStats(base, mod.Name)
				if err != nil {
					stopProfile()
					return err
				}
				res.rowsPerCall = (rows1 - rows0) / max(1, calls1-calls0)
				results[key{mod.Name, c}] = append(results[key{mod.Name, c}], res)
				fmt.Fprintf(out, "round %d  %-8s c=%-3d %8.0f req/s  p50 %7.3f ms  p99 %7.3f ms  CPU/req %6.1f µs  rows/call %5.1f  errors %d  load %s\n",
					r, mod.Name, c, res.rps, ms(res.p50), ms(res.p99), us(res.cpuPerReq), res.rowsPerCall, res.errors, res.load)
			}
		}
	}
	stopProfile()
	fmt.Fprintf(out, "\nmodel    concurrency    req/s   p50 ms   p99 ms  CPU µs/req  rows/call  (medians of %d rounds; raw req/s)\n", *rounds)
	for _, mod := range models {
		for _, c := range concs {
			rs := results[key{mod.Name, c}]
			var rps, p50, p99, cpu, rpc []float64
			for _, r := range rs {
				rps = append(rps, r.rps)
				p50 = append(p50, ms(r.p50))
				p99 = append(p99, ms(r.p99))
				cpu = append(cpu, us(r.cpuPerReq))
				rpc = append(rpc, r.rowsPerCall)
			}
			raw := figures(slices.Clone(rps), "%.0f")
			fmt.Fprintf(out, "%-8s %11d %8.0f %8.3f %8.3f %11.1f %10.1f  [%s]\n",
				mod.Name, c, median(rps), median(p50), median(p99), median(cpu), median(rpc), raw)
		}
	}
	fmt.Fprintf(out, "load average at the end: %s\n", loadAverage())
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

func us(d time.Duration) float64 { return float64(d) / 1e3 }

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// batchStats reads the server's count of model calls and rows for model
// from /metrics.
func batchStats(base, model string) (calls, rows float64, err error) {
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		var v float64
		if _, err := fmt.Sscanf(line, `vaec_serve_batch_rows_count{model="`+model+`"} %g`, &v); err == nil {
			calls = v
		}
		if _, err := fmt.Sscanf(line, `vaec_serve_batch_rows_sum{model="`+model+`"} %g`, &v); err == nil {
			rows = v
		}
	}
	return calls, rows, nil
}

func paramCount(m *ir.Model) int {
	n := 0
	for _, p := range m.Params {
		size := 1
		for _, d := range p.Shape {
			size *= d
		}
		n += size
	}
	return n
}

// serveModels exports the named models with initial weights and builds a
// few request bodies for each: real MNIST images for the encoder, standard
// normal z for the decoder.
func serveModels(m *ir.Model, names []string, rows int) ([]serve.Model, map[string][][]byte, error) {
	w := graph.InitWeights(m, 1)
	src := m.Data.Train
	if m.Data.Validation != nil {
		src = *m.Data.Validation
	}
	set, err := dataset.Load(src, m.Input)
	if err != nil {
		return nil, nil, err
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var models []serve.Model
	bodies := map[string][][]byte{}
	for _, name := range names {
		var file []byte
		var input string
		var width int
		var row func(i int) []float32
		switch name {
		case "encoder":
			file, err = export.Encoder(m, w, export.Options{})
			input, width = ir.InputX, m.Input.Size
			row = func(i int) []float32 { return set.Row(i % set.N) }
		case "decoder":
			file, err = export.Decoder(m, w, export.Options{})
			input, width = ir.InputZ, m.Latent
			row = func(int) []float32 {
				z := make([]float32, m.Latent)
				for i := range z {
					z[i] = float32(rng.NormFloat64())
				}
				return z
			}
		default:
			return nil, nil, fmt.Errorf("-models: unknown model %q (encoder, decoder)", name)
		}
		if err != nil {
			return nil, nil, err
		}
		rm, err := runtime.Load(file)
		if err != nil {
			return nil, nil, err
		}
		models = append(models, serve.Model{Name: name, Runner: rm})
		for b := 0; b < 64; b++ {
			data := make([]float32, 0, rows*width)
			for r := 0; r < rows; r++ {
				data = append(data, row(b*rows+r)...)
			}
			body, err := json.Marshal(map[string]any{"inputs": []map[string]any{{
				"name": input, "shape": []int{rows, width}, "datatype": "FP32", "data": data}}})
			if err != nil {
				return nil, nil, err
			}
			bodies[name] = append(bodies[name], body)
		}
	}
	return models, bodies, nil
}

// fileModel loads an ONNX file and makes request bodies of standard normal
// values for its inputs (every dimension after the batch must be fixed).
func fileModel(name, path string, rows int) (serve.Model, [][]byte, error) {
	rm, err := runtime.LoadFile(path)
	if err != nil {
		return serve.Model{}, nil, err
	}
	rng := rand.New(rand.NewPCG(3, 4))
	var bodies [][]byte
	for b := 0; b < 64; b++ {
		var inputs []map[string]any
		for _, in := range rm.Inputs() {
			shape := []int{rows}
			size := rows
			for _, d := range in.Shape[1:] {
				if d.Param != "" || d.Value <= 0 {
					return serve.Model{}, nil, fmt.Errorf("%s: input %s has a variable dimension after the batch", path, in)
				}
				shape = append(shape, int(d.Value))
				size *= int(d.Value)
			}
			data := make([]float32, size)
			for i := range data {
				data[i] = float32(rng.NormFloat64())
			}
			inputs = append(inputs, map[string]any{"name": in.Name, "shape": shape, "datatype": "FP32", "data": data})
		}
		body, err := json.Marshal(map[string]any{"inputs": inputs})
		if err != nil {
			return serve.Model{}, nil, err
		}
		bodies = append(bodies, body)
	}
	return serve.Model{Name: name, Runner: rm}, bodies, nil
}

// loadTest runs conc closed-loop clients against url for dur after a short
// warm-up and returns the throughput and latency percentiles.
func loadTest(url string, bodies [][]byte, conc int, dur time.Duration) (serveRun, error) {
	tr := &http.Transport{MaxIdleConnsPerHost: conc, MaxConnsPerHost: conc, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	var (
		measuring atomic.Bool
		stop      atomic.Bool
		errs      atomic.Int64
		mu        sync.Mutex
		lats      []time.Duration
		firstErr  error
		wg        sync.WaitGroup
	)
	for c := 0; c < conc; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mine := make([]time.Duration, 0, 1<<16)
			buf := make([]byte, 64<<10)
			for i := c; !stop.Load(); i++ {
				t0 := time.Now()
				resp, err := client.Post(url, "application/json", bytes.NewReader(bodies[i%len(bodies)]))
				if err == nil {
					for err == nil {
						_, err = resp.Body.Read(buf)
					}
					if err == io.EOF {
						err = nil
					}
					resp.Body.Close()
					if err == nil && resp.StatusCode != http.StatusOK {
						err = fmt.Errorf("status %d", resp.StatusCode)
					}
				}
				el := time.Since(t0)
				if !measuring.Load() {
					continue
				}
				if err != nil {
					if errs.Add(1) == 1 {
						mu.Lock()
						firstErr = err
						mu.Unlock()
					}
					continue
				}
				mine = append(mine, el)
			}
			mu.Lock()
			lats = append(lats, mine...)
			mu.Unlock()
		}()
	}
	time.Sleep(200 * time.Millisecond)
	load := loadAverage()
	measuring.Store(true)
	t0, cpu0 := time.Now(), cpuTime()
	time.Sleep(dur)
	measuring.Store(false)
	elapsed, cpu := time.Since(t0), cpuTime()-cpu0
	stop.Store(true)
	wg.Wait()
	if len(lats) == 0 {
		return serveRun{}, fmt.Errorf("no request succeeded: %v", firstErr)
	}
	slices.Sort(lats)
	pct := func(p float64) time.Duration { return lats[min(len(lats)-1, int(p*float64(len(lats))))] }
	return serveRun{
		rps: float64(len(lats)) / elapsed.Seconds(), p50: pct(0.50), p99: pct(0.99),
		errors: int(errs.Load()), load: load, cpuPerReq: cpu / time.Duration(len(lats)),
	}, nil
}
