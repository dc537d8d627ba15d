package serve

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vaec/vaec/graph"
	"github.com/vaec/vaec/ir"
	"github.com/vaec/vaec/runtime"
)

// startServer runs s.Serve on a free loopback port. stop cancels it and
// returns Serve's result.
func startServer(t *testing.T, models []Model, cfg Config) (s *Server, base string, stop func() error) {
	t.Helper()
	s, err := New(models, cfg)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, l) }()
	var once sync.Once
	var serveErr error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case serveErr = <-done:
			case <-time.After(20 * time.Second):
				serveErr = fmt.Errorf("Serve did not return 20 s after cancel")
			}
		})
		return serveErr
	}
	t.Cleanup(func() { stop() })
	return s, "http://" + l.Addr().String(), stop
}

// mnistModels loads the trained MNIST files as the server would.
func mnistModels(t *testing.T) (*mnistModel, []Model) {
	t.Helper()
	mm := trainedMNIST(t)
	models, err := LoadDir(mm.dir)
	if err != nil {
		t.Fatal(err)
	}
	return mm, models
}

type httpAnswer struct {
	code   int
	header http.Header
	body   []byte
}

func do(t *testing.T, method, url string, body []byte, header map[string]string) httpAnswer {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return httpAnswer{resp.StatusCode, resp.Header, b}
}

// tensorJSON is a tensor as the protocol writes it.
type tensorJSON struct {
	Name       string         `json:"name"`
	Shape      []int          `json:"shape"`
	Datatype   string         `json:"datatype"`
	Data       []float32      `json:"data,omitempty"`
	Parameters map[string]any `json:"parameters,omitempty"`
}

type inferJSON struct {
	ModelName    string       `json:"model_name"`
	ModelVersion string       `json:"model_version"`
	ID           string       `json:"id"`
	Outputs      []tensorJSON `json:"outputs"`
	Error        string       `json:"error"`
}

func inferBody(id string, inputs []tensorJSON, outputs ...string) []byte {
	req := map[string]any{"inputs": inputs}
	if id != "" {
		req["id"] = id
	}
	if len(outputs) > 0 {
		var os []map[string]string
		for _, o := range outputs {
			os = append(os, map[string]string{"name": o})
		}
		req["outputs"] = os
	}
	b, err := json.Marshal(req)
	if err != nil {
		panic(err)
	}
	return b
}

func decodeInfer(t *testing.T, a httpAnswer) inferJSON {
	t.Helper()
	var r inferJSON
	if err := json.Unmarshal(a.body, &r); err != nil {
		t.Fatalf("answer is not JSON (%v): %.300s", err, a.body)
	}
	if a.code != http.StatusOK {
		t.Fatalf("code %d: %s", a.code, r.Error)
	}
	return r
}

func output(t *testing.T, r inferJSON, name string) tensorJSON {
	t.Helper()
	for _, o := range r.Outputs {
		if o.Name == name {
			return o
		}
	}
	t.Fatalf("no output %q in %+v", name, r.Outputs)
	return tensorJSON{}
}

// TestMNIST serves the trained MNIST encoder and decoder and checks the
// protocol's endpoints and the numbers against the training graph.
func TestMNIST(t *testing.T) {
	mm, models := mnistModels(t)
	_, base, stop := startServer(t, models, Config{Version: "test"})

	for _, path := range []string{"/v2/health/live", "/v2/health/ready"} {
		if a := do(t, "GET", base+path, nil, nil); a.code != 200 {
			t.Errorf("GET %s: %d %s", path, a.code, a.body)
		}
	}
	var meta struct {
		Name       string   `json:"name"`
		Version    string   `json:"version"`
		Extensions []string `json:"extensions"`
	}
	a := do(t, "GET", base+"/v2", nil, nil)
	if err := json.Unmarshal(a.body, &meta); err != nil || meta.Name != "vaec" || meta.Version != "test" || !slices.Contains(meta.Extensions, "binary_tensor_data") {
		t.Errorf("GET /v2: %d %s (%v)", a.code, a.body, err)
	}

	// Model metadata: the decoder maps z [-1, 20] to probs [-1, 784].
	type metaTensor struct {
		Name     string `json:"name"`
		Datatype string `json:"datatype"`
		Shape    []int  `json:"shape"`
	}
	var mmeta struct {
		Name     string       `json:"name"`
		Versions []string     `json:"versions"`
		Platform string       `json:"platform"`
		Inputs   []metaTensor `json:"inputs"`
		Outputs  []metaTensor `json:"outputs"`
	}
	for _, path := range []string{"/v2/models/decoder", "/v2/models/decoder/versions/1"} {
		a = do(t, "GET", base+path, nil, nil)
		if err := json.Unmarshal(a.body, &mmeta); err != nil {
			t.Fatalf("GET %s: %v: %s", path, err, a.body)
		}
		wantIn := []metaTensor{{"z", "FP32", []int{-1, mm.m.Latent}}}
		wantOut := []metaTensor{{"probs", "FP32", []int{-1, 784}}, {"mean_raw", "FP32", []int{-1, 784}}}
		if a.code != 200 || mmeta.Name != "decoder" || !slices.Equal(mmeta.Versions, []string{"1"}) ||
			fmt.Sprint(mmeta.Inputs) != fmt.Sprint(wantIn) || fmt.Sprint(mmeta.Outputs) != fmt.Sprint(wantOut) {
			t.Errorf("GET %s: %d %s, want inputs %v outputs %v", path, a.code, a.body, wantIn, wantOut)
		}
	}
	a = do(t, "GET", base+"/v2/models/encoder/ready", nil, nil)
	if a.code != 200 || !bytes.Contains(a.body, []byte(`"ready":true`)) {
		t.Errorf("encoder ready: %d %s", a.code, a.body)
	}

	// Inference against the training graph: three validation images
	// through the encoder (raw pixels in: the scaling is inside the file),
	// their means through the decoder.
	const n = 3
	x, xr := mm.val.X[:n*784], mm.raw.X[:n*784]
	r := decodeInfer(t, do(t, "POST", base+"/v2/models/encoder/infer",
		inferBody("req-7", []tensorJSON{{Name: "x", Shape: []int{n, 784}, Datatype: "FP32", Data: xr}}), nil))
	if r.ID != "req-7" || r.ModelName != "encoder" || r.ModelVersion != "1" {
		t.Errorf("answer names id %q model %q version %q, want req-7, encoder, 1", r.ID, r.ModelName, r.ModelVersion)
	}
	mu, logvar, err := graph.Encode(mm.m, mm.w, x, n)
	if err != nil {
		t.Fatal(err)
	}
	gotMu := output(t, r, "mu")
	checkClose(t, "encoder mu", gotMu, []int{n, 20}, mu)
	checkClose(t, "encoder logvar", output(t, r, "logvar"), []int{n, 20}, logvar)

	r = decodeInfer(t, do(t, "POST", base+"/v2/models/decoder/versions/1/infer",
		inferBody("", []tensorJSON{{Name: "z", Shape: []int{n, 20}, Datatype: "FP32", Data: gotMu.Data}}), nil))
	ref, err := graph.Decode(mm.m, mm.w, gotMu.Data, n)
	if err != nil {
		t.Fatal(err)
	}
	checkClose(t, "decoder probs", output(t, r, "probs"), []int{n, 784}, ref[ir.OutputProbs])
	if r.ID != "" {
		t.Errorf("id %q in the answer to a request without one", r.ID)
	}

	// A subset of the outputs.
	r = decodeInfer(t, do(t, "POST", base+"/v2/models/encoder/infer",
		inferBody("", []tensorJSON{{Name: "x", Shape: []int{n, 784}, Datatype: "FP32", Data: x}}, "logvar"), nil))
	if len(r.Outputs) != 1 || r.Outputs[0].Name != "logvar" {
		t.Errorf("asked for logvar only, got %+v", r.Outputs)
	}

	// Nested data is the same tensor as flat data.
	nested := make([][]float32, n)
	for i := range nested {
		nested[i] = xr[i*784 : (i+1)*784]
	}
	body, _ := json.Marshal(map[string]any{"inputs": []map[string]any{{"name": "x", "shape": []int{n, 784}, "datatype": "FP32", "data": nested}}})
	r = decodeInfer(t, do(t, "POST", base+"/v2/models/encoder/infer", body, nil))
	if got := output(t, r, "mu"); !slices.Equal(got.Data, gotMu.Data) {
		t.Errorf("nested input: mu differs from the flat input's")
	}

	// The binary tensor data extension: the same request with binary
	// input and outputs gives the same bits.
	hdr := []byte(`{"id":"bin","inputs":[{"name":"x","shape":[3,784],"datatype":"FP32","parameters":{"binary_data_size":` +
		strconv.Itoa(4*len(xr)) + `}}],"parameters":{"binary_data_output":true}}`)
	bin := append([]byte(nil), hdr...)
	for _, v := range xr {
		bin = binary.LittleEndian.AppendUint32(bin, math.Float32bits(v))
	}
	a = do(t, "POST", base+"/v2/models/encoder/infer", bin, map[string]string{
		"Inference-Header-Content-Length": strconv.Itoa(len(hdr)), "Content-Type": "application/octet-stream"})
	jl, err := strconv.Atoi(a.header.Get("Inference-Header-Content-Length"))
	if a.code != 200 || err != nil || jl > len(a.body) {
		t.Fatalf("binary request: %d, Inference-Header-Content-Length %q: %.300s", a.code, a.header.Get("Inference-Header-Content-Length"), a.body)
	}
	r = decodeInfer(t, httpAnswer{a.code, a.header, a.body[:jl]})
	rest := a.body[jl:]
	for _, o := range r.Outputs {
		size, _ := o.Parameters["binary_data_size"].(float64)
		if o.Data != nil || int(size) != 4*n*20 || len(rest) < int(size) {
			t.Fatalf("binary output %s: parameters %v, %d data values, %d bytes left", o.Name, o.Parameters, len(o.Data), len(rest))
		}
		got := make([]float32, n*20)
		for i := range got {
			got[i] = math.Float32frombits(binary.LittleEndian.Uint32(rest[4*i:]))
		}
		rest = rest[int(size):]
		want := mu
		if o.Name == "logvar" {
			want = logvar
		}
		checkClose(t, "binary "+o.Name, tensorJSON{Shape: o.Shape, Data: got}, []int{n, 20}, want)
		if o.Name == "mu" && !slices.Equal(got, gotMu.Data) {
			t.Errorf("binary mu differs from JSON mu")
		}
	}

	// The metrics saw all of it.
	a = do(t, "GET", base+"/metrics", nil, nil)
	for _, want := range []string{
		`vaec_serve_requests_total{code="200",model="encoder"} 4`,
		`vaec_serve_requests_total{code="200",model="decoder"} 1`,
		`vaec_serve_request_duration_seconds_count{model="encoder"} 4`,
		`vaec_serve_batch_rows_sum{model="encoder"} 12`,
		`vaec_serve_queue_depth{model="decoder"} 0`,
	} {
		if !strings.Contains(string(a.body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if err := stop(); err != nil {
		t.Errorf("Serve: %v", err)
	}
}

// checkClose compares a served output with the graph's numbers.
func checkClose(t *testing.T, what string, got tensorJSON, shape []int, want []float32) {
	t.Helper()
	if !slices.Equal(got.Shape, shape) {
		t.Errorf("%s: shape %v, want %v", what, got.Shape, shape)
	}
	if ok, worst := runtime.Within(got.Data, want, 1e-5); !ok {
		if worst >= 0 && worst < len(got.Data) {
			t.Errorf("%s: element %d is %g, graph says %g", what, worst, got.Data[worst], want[worst])
		} else {
			t.Errorf("%s: %d values, graph has %d", what, len(got.Data), len(want))
		}
	}
}

// TestBadRequests sends each kind of bad request and checks the status and
// that the JSON error names the problem.
func TestBadRequests(t *testing.T) {
	_, models := mnistModels(t)
	_, base, _ := startServer(t, models, Config{MaxBatch: 8, MaxBodyBytes: 64 << 10})
	z := func(data string) string {
		return `{"inputs":[{"name":"z","shape":[1,20],"datatype":"FP32","data":[` + data + `]}]}`
	}
	zeros := strings.Repeat("0,", 19) + "0"
	for _, c := range []struct {
		name, method, path, body string
		header                   map[string]string
		code                     int
		want                     string
	}{
		{"malformed JSON", "POST", "/v2/models/decoder/infer", `{"inputs": [`, nil, 400, "malformed JSON"},
		{"not an object", "POST", "/v2/models/decoder/infer", `[1, 2]`, nil, 400, "must be a JSON object"},
		{"empty body", "POST", "/v2/models/decoder/infer", ``, nil, 400, "must be a JSON object"},
		{"trailing garbage", "POST", "/v2/models/decoder/infer", z(zeros) + `x`, nil, 400, "after the JSON object"},
		{"data not an array", "POST", "/v2/models/decoder/infer", `{"inputs":[{"name":"z","shape":[1,20],"datatype":"FP32","data":"0"}]}`, nil, 400, "inputs[0].data must be an array, found a string"},
		{"string element", "POST", "/v2/models/decoder/infer", z(`"a"` + strings.Repeat(",0", 19)), nil, 400, "data element must be a number"},
		{"wrong datatype", "POST", "/v2/models/decoder/infer", strings.Replace(z(zeros), "FP32", "INT64", 1), nil, 400, `input "z": datatype "INT64" is not supported`},
		{"wrong shape", "POST", "/v2/models/decoder/infer", strings.Replace(z(zeros), "[1,20]", "[1,21]", 1), nil, 400, `input "z": shape [1 21] does not match the model's [-1 20]`},
		{"wrong rank", "POST", "/v2/models/decoder/infer", strings.Replace(z(zeros), "[1,20]", "[20]", 1), nil, 400, `shape [20] does not match`},
		{"wrong count", "POST", "/v2/models/decoder/infer", strings.Replace(z(zeros), "[1,20]", "[2,20]", 1), nil, 400, `input "z": shape [2 20] needs 40 values, got 20`},
		{"negative dimension", "POST", "/v2/models/decoder/infer", strings.Replace(z(zeros), "[1,20]", "[-1,20]", 1), nil, 400, "negative"},
		{"huge dimension", "POST", "/v2/models/decoder/infer", strings.Replace(z(zeros), "[1,20]", "[9223372036854775807,20]", 1), nil, 400, "exceeds the server's maximum of 8 rows"},
		{"batch 0", "POST", "/v2/models/decoder/infer", `{"inputs":[{"name":"z","shape":[0,20],"datatype":"FP32","data":[]}]}`, nil, 400, "batch size 0"},
		{"NaN", "POST", "/v2/models/decoder/infer", z(`0,0,0,NaN` + strings.Repeat(",0", 16)), nil, 400, `input "z": element 3 is NaN; NaN and infinite values are refused`},
		{"Infinity", "POST", "/v2/models/decoder/infer", z(`-Infinity` + strings.Repeat(",0", 19)), nil, 400, `input "z": element 0 is -Infinity`},
		{"float32 overflow", "POST", "/v2/models/decoder/infer", z(`0,1e39` + strings.Repeat(",0", 18)), nil, 400, `input "z": element 1 is 1e39 (beyond float32's range)`},
		{"unknown input", "POST", "/v2/models/decoder/infer", strings.Replace(z(zeros), `"z"`, `"q"`, 1), nil, 400, `model "decoder" has no input "q" (inputs: z)`},
		{"missing input", "POST", "/v2/models/decoder/infer", `{"inputs":[]}`, nil, 400, `input "z" is missing`},
		{"no name", "POST", "/v2/models/decoder/infer", strings.Replace(z(zeros), `"name":"z",`, ``, 1), nil, 400, `inputs[0] has no "name"`},
		{"unknown output", "POST", "/v2/models/decoder/infer", strings.TrimSuffix(z(zeros), "}") + `,"outputs":[{"name":"mean"}]}`, nil, 400, `model "decoder" has no output "mean" (outputs: probs, mean_raw)`},
		{"unknown model", "POST", "/v2/models/nope/infer", z(zeros), nil, 404, `unknown model "nope" (models: decoder, encoder)`},
		{"unknown version", "POST", "/v2/models/decoder/versions/2/infer", z(zeros), nil, 404, `model "decoder" has no version "2"`},
		{"unknown model metadata", "GET", "/v2/models/nope", "", nil, 404, `unknown model "nope"`},
		{"unknown endpoint", "GET", "/v2/nothing", "", nil, 404, "no endpoint GET /v2/nothing"},
		{"infer with GET", "GET", "/v2/models/decoder/infer", "", nil, 404, "no endpoint GET"},
		{"body too large", "POST", "/v2/models/decoder/infer", strings.Repeat(" ", 65<<10) + z(zeros), nil, 413, "larger than the 65536-byte limit"},
		{"bad header length", "POST", "/v2/models/decoder/infer", z(zeros), map[string]string{"Inference-Header-Content-Length": "x"}, 400, "Inference-Header-Content-Length"},
		{"binary size mismatch", "POST", "/v2/models/decoder/infer",
			`{"inputs":[{"name":"z","shape":[1,20],"datatype":"FP32","parameters":{"binary_data_size":80}}]}` + strings.Repeat("\x00", 40),
			map[string]string{"Inference-Header-Content-Length": "95"}, 400, "binary_data_size 80, but only 40 bytes"},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := do(t, c.method, base+c.path, []byte(c.body), c.header)
			var e struct {
				Error string `json:"error"`
			}
			if err := json.Unmarshal(a.body, &e); err != nil {
				t.Fatalf("answer %d is not JSON: %v: %.200s", a.code, err, a.body)
			}
			if a.code != c.code || !strings.Contains(e.Error, c.want) {
				t.Errorf("got %d %q, want %d and an error containing %q", a.code, e.Error, c.code, c.want)
			}
			if ct := a.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
		})
	}
	// The server is still fine.
	a := do(t, "POST", base+"/v2/models/decoder/infer", []byte(z(zeros)), nil)
	if a.code != 200 {
		t.Errorf("after the bad requests: %d %s", a.code, a.body)
	}
}

// gatedRunner blocks every Run until its gate is opened, and reports each
// call on entered.
type gatedRunner struct {
	Runner
	gate    chan struct{}
	entered chan int // rows of each call
}

func newGated(r Runner) *gatedRunner {
	return &gatedRunner{Runner: r, gate: make(chan struct{}), entered: make(chan int, 100)}
}

func (g *gatedRunner) Run(in map[string]runtime.Tensor) (map[string]runtime.Tensor, error) {
	for _, t := range in {
		g.entered <- t.Shape[0]
		break
	}
	<-g.gate
	return g.Runner.Run(in)
}

func decoderRunner(t *testing.T) Runner {
	t.Helper()
	mm := trainedMNIST(t)
	m, err := runtime.Load(mm.dec)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

var zRequest = []byte(`{"inputs":[{"name":"z","shape":[1,20],"datatype":"FP32","data":[` + strings.Repeat("0.5,", 19) + `0.5]}]}`)

// z2Request holds two rows.
var z2Request = []byte(`{"inputs":[{"name":"z","shape":[2,20],"datatype":"FP32","data":[` + strings.Repeat("0.5,", 39) + `0.5]}]}`)

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// TestQueueFull fills a queue of one behind a blocked model call: the
// next request gets 503 with Retry-After, and the queued ones are answered
// once the model runs.
func TestQueueFull(t *testing.T) {
	g := newGated(decoderRunner(t))
	s, base, _ := startServer(t, []Model{{"decoder", g}}, Config{QueueSize: 1, MaxBatch: 1})
	url := base + "/v2/models/decoder/infer"
	codes := make(chan int, 2)
	go func() { codes <- do(t, "POST", url, zRequest, nil).code }()
	<-g.entered // the first request is in the model
	go func() { codes <- do(t, "POST", url, zRequest, nil).code }()
	waitFor(t, "the second request to queue", func() bool { return len(s.models["decoder"].queue) == 1 })
	a := do(t, "POST", url, zRequest, nil)
	if a.code != 503 || a.header.Get("Retry-After") == "" || !strings.Contains(string(a.body), "queue full") {
		t.Errorf("third request: %d Retry-After %q %s, want 503 with Retry-After", a.code, a.header.Get("Retry-After"), a.body)
	}
	close(g.gate)
	for range 2 {
		if c := <-codes; c != 200 {
			t.Errorf("queued request: %d, want 200", c)
		}
	}
}

// TestTimeout: a request that gets no answer within Config.Timeout is
// answered 504, and the server goes on.
func TestTimeout(t *testing.T) {
	g := newGated(decoderRunner(t))
	_, base, _ := startServer(t, []Model{{"decoder", g}}, Config{Timeout: 100 * time.Millisecond})
	start := time.Now()
	a := do(t, "POST", base+"/v2/models/decoder/infer", zRequest, nil)
	if a.code != 504 || !strings.Contains(string(a.body), "100ms request timeout") {
		t.Errorf("got %d %s, want 504", a.code, a.body)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("answered after %v", el)
	}
	close(g.gate)
	if a := do(t, "POST", base+"/v2/models/decoder/infer", zRequest, nil); a.code != 200 {
		t.Errorf("after the timeout: %d %s", a.code, a.body)
	}
}

// TestGracefulShutdown cancels Serve with requests in the model: the
// listener closes at once, the requests in flight are answered, and Serve
// returns nil.
func TestGracefulShutdown(t *testing.T) {
	g := newGated(decoderRunner(t))
	_, base, stop := startServer(t, []Model{{"decoder", g}}, Config{})
	url := base + "/v2/models/decoder/infer"
	const inflight = 5
	codes := make(chan int, inflight)
	// Separate connections, so that shutdown has several to wait for.
	for range inflight {
		go func() {
			client := &http.Client{Transport: &http.Transport{}}
			resp, err := client.Post(url, "application/json", bytes.NewReader(z2Request))
			if err != nil {
				codes <- -1
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			codes <- resp.StatusCode
		}()
	}
	// The first call is running with some of the requests; the others
	// queue. Each request holds 2 rows, so the call's rows tell how many
	// it holds (a 1-row request would be ambiguous: a lone row runs as 2),
	// and shutdown starts only once every request has reached the server.
	inCall := <-g.entered / 2
	waitFor(t, "the other requests to arrive", func() bool {
		metrics := string(do(t, "GET", base+"/metrics", nil, nil).body)
		return strings.Contains(metrics, fmt.Sprintf(`vaec_serve_queue_depth{model="decoder"} %d`, inflight-inCall))
	})
	stopped := make(chan error, 1)
	go func() { stopped <- stop() }()
	// New connections are refused while the requests are still in flight.
	waitFor(t, "the listener to close", func() bool {
		c, err := net.DialTimeout("tcp", strings.TrimPrefix(base, "http://"), time.Second)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	select {
	case err := <-stopped:
		t.Fatalf("Serve returned %v before the requests in flight were answered", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(g.gate)
	for range inflight {
		if c := <-codes; c != 200 {
			t.Errorf("request in flight at shutdown: %d, want 200", c)
		}
	}
	if err := <-stopped; err != nil {
		t.Errorf("Serve: %v", err)
	}
}
