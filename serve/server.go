package serve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vaec/vaec/runtime"
)

// Runner is what the server needs of a model; *runtime.Model implements
// it. Run must be safe for concurrent use and return fresh output slices
// that the server may keep.
type Runner interface {
	Inputs() []runtime.IOInfo
	Outputs() []runtime.IOInfo
	Run(map[string]runtime.Tensor) (map[string]runtime.Tensor, error)
}

// Model is a model to serve under a name ("encoder", "decoder", "score").
type Model struct {
	Name   string
	Runner Runner
}

// Config tunes the server. Zero fields take the defaults below.
type Config struct {
	// MaxBatch is the most rows one model call takes (default 64). A
	// request with more rows is refused (400), as Triton refuses a batch
	// above max_batch_size.
	MaxBatch int
	// MaxDelay is how long the first request of a model call waits for
	// others to join it (default 0: a call takes the requests that are
	// already queued, which under load is many, and adds no latency).
	MaxDelay time.Duration
	// QueueSize is the most requests waiting per model (default 1024);
	// beyond it requests get 503 with Retry-After.
	QueueSize int
	// Timeout bounds a request from arrival to answer (default 10 s); a
	// request that runs out waiting gets 504.
	Timeout time.Duration
	// MaxBodyBytes is the largest request body accepted (default 32 MiB);
	// a larger one gets 413.
	MaxBodyBytes int64
	// ShutdownTimeout bounds how long Serve waits for requests in flight
	// after its context is cancelled (default Timeout + 5 s).
	ShutdownTimeout time.Duration
	// Logger receives one line per request at debug level and the
	// server's warnings (default: discard).
	Logger *slog.Logger
	// Version is reported by GET /v2.
	Version string
}

// Defaults of Config.
const (
	DefaultMaxBatch     = 64
	DefaultQueueSize    = 1024
	DefaultTimeout      = 10 * time.Second
	DefaultMaxBodyBytes = 32 << 20
)

// ModelVersion is the only version of each model: "1", as in the Triton
// repository vaec writes.
const ModelVersion = "1"

// Platform is what model metadata reports as the model's platform.
const Platform = "vaec_onnx"

// Server answers the Open Inference Protocol (KServe v2 / Triton HTTP
// REST) for a fixed set of models. Create it with New; it is ready at once.
type Server struct {
	cfg     Config
	log     *slog.Logger
	models  map[string]*batcher
	names   []string // sorted
	metrics *metrics
	mux     *http.ServeMux
	ready   atomic.Bool
	bufs    sync.Pool // of *[]byte, response and body buffers
	closing sync.Once
}

// New checks the models and starts one batcher per model. Every model
// input must be float32 with a symbolic first (batch) dimension and fixed
// other dimensions, as vaec's exports are. Call Close (or Serve, which
// closes on return) to stop the batchers.
func New(models []Model, cfg Config) (*Server, error) {
	if len(models) == 0 {
		return nil, errors.New("serve: no models")
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = DefaultMaxBatch
	}
	if cfg.MaxDelay < 0 {
		return nil, fmt.Errorf("serve: negative max delay %v", cfg.MaxDelay)
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = DefaultQueueSize
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = cfg.Timeout + 5*time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, log: cfg.Logger, models: map[string]*batcher{}}
	s.metrics = newMetrics()
	for _, m := range models {
		if !validName(m.Name) {
			return nil, fmt.Errorf("serve: model name %q: use letters, digits, '-', '_' and '.'", m.Name)
		}
		if _, dup := s.models[m.Name]; dup {
			return nil, fmt.Errorf("serve: model %q given twice", m.Name)
		}
		if m.Runner == nil {
			return nil, fmt.Errorf("serve: model %q has no runner", m.Name)
		}
		b, err := newBatcher(m, cfg)
		if err != nil {
			return nil, fmt.Errorf("serve: model %q: %w", m.Name, err)
		}
		s.models[m.Name] = b
		s.names = append(s.names, m.Name)
	}
	slices.Sort(s.names)
	for _, name := range s.names {
		b := s.models[name]
		s.metrics.addModel(name, func() float64 { return float64(len(b.queue)) })
		batchRows := s.metrics.batchRows.WithLabelValues(name)
		b.observe = func(rows int) { batchRows.Observe(float64(rows)) }
		// The children a request touches, looked up once.
		b.ok = s.metrics.requests.WithLabelValues(name, "200")
		b.latency = s.metrics.latency.WithLabelValues(name)
		go b.loop()
	}
	s.mux = s.routes()
	s.ready.Store(true)
	return s, nil
}

func validName(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

func newBatcher(m Model, cfg Config) (*batcher, error) {
	b := &batcher{
		name: m.Name, model: m.Runner, maxBatch: cfg.MaxBatch, maxDelay: cfg.MaxDelay,
		queue: make(chan *job, cfg.QueueSize), stop: make(chan struct{}), stopped: make(chan struct{}),
	}
	ins, outs := m.Runner.Inputs(), m.Runner.Outputs()
	if len(ins) == 0 || len(outs) == 0 {
		return nil, fmt.Errorf("%d inputs and %d outputs; need at least one of each", len(ins), len(outs))
	}
	for _, in := range ins {
		spec := ioSpec{name: in.Name, rowSize: 1}
		if len(in.Shape) == 0 || in.Shape[0].Param == "" {
			return nil, fmt.Errorf("input %s has no symbolic batch dimension to batch requests along", in)
		}
		for _, d := range in.Shape[1:] {
			if d.Param != "" || d.Value <= 0 {
				return nil, fmt.Errorf("input %s: only the first dimension may vary", in)
			}
			spec.dims = append(spec.dims, int(d.Value))
			spec.rowSize *= int(d.Value)
		}
		b.inputs = append(b.inputs, spec)
	}
	for _, o := range outs {
		b.outputs = append(b.outputs, ioSpec{name: o.Name})
	}
	return b, nil
}

// Handler returns the server's HTTP handler: the protocol's endpoints under
// /v2 and the Prometheus metrics at /metrics.
func (s *Server) Handler() http.Handler { return s.mux }

func (s *Server) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v2", s.serverMetadata)
	mux.HandleFunc("GET /v2/health/live", func(w http.ResponseWriter, r *http.Request) {
		s.writeJSON(w, http.StatusOK, []byte(`{"live":true}`))
	})
	mux.HandleFunc("GET /v2/health/ready", func(w http.ResponseWriter, r *http.Request) {
		if s.ready.Load() {
			s.writeJSON(w, http.StatusOK, []byte(`{"ready":true}`))
			return
		}
		s.writeJSON(w, http.StatusServiceUnavailable, []byte(`{"ready":false}`))
	})
	for _, v := range []string{"", "/versions/{version}"} {
		mux.HandleFunc("GET /v2/models/{name}"+v, s.modelMetadata)
		mux.HandleFunc("GET /v2/models/{name}"+v+"/ready", s.modelReady)
		mux.HandleFunc("POST /v2/models/{name}"+v+"/infer", s.infer)
	}
	mux.Handle("GET /metrics", s.metrics.handler())
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, http.StatusNotFound, fmt.Sprintf("no endpoint %s %s (the Open Inference Protocol's are under /v2; metrics at /metrics)", r.Method, r.URL.Path))
	})
	return mux
}

// Serve answers HTTP on l until ctx is cancelled, then shuts down
// gracefully: it stops accepting connections, lets the requests in flight
// finish (within Config.ShutdownTimeout), stops the batchers and returns
// nil. It returns the listener's error if serving fails first.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	hs := &http.Server{
		Handler:           s.mux,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(l) }()
	select {
	case err := <-errc:
		s.Close()
		return err
	case <-ctx.Done():
	}
	s.ready.Store(false)
	s.log.Info("shutting down: finishing requests in flight", "timeout", s.cfg.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	err := hs.Shutdown(sctx)
	<-errc // http.ErrServerClosed once Shutdown has begun
	if err != nil {
		hs.Close()
		err = fmt.Errorf("serve: shutdown: %w", err)
	}
	s.Close()
	return err
}

// Close stops the batchers; queued requests are answered with an error.
// It is for servers used through Handler; Serve calls it itself.
func (s *Server) Close() {
	s.closing.Do(func() {
		s.ready.Store(false)
		for _, b := range s.models {
			close(b.stop)
		}
		for _, b := range s.models {
			<-b.stopped
		}
	})
}

func (s *Server) serverMetadata(w http.ResponseWriter, r *http.Request) {
	b := append(s.getBuf(), `{"name":"vaec","version":`...)
	b = appendString(b, s.cfg.Version)
	b = append(b, `,"extensions":["binary_tensor_data"]}`...)
	s.writeJSON(w, http.StatusOK, b)
	s.putBuf(b)
}

// lookup finds the model of the request's path or answers 404.
func (s *Server) lookup(w http.ResponseWriter, r *http.Request) *batcher {
	name := r.PathValue("name")
	b := s.models[name]
	if b == nil {
		s.writeError(w, http.StatusNotFound, fmt.Sprintf("unknown model %q (models: %s)", name, strings.Join(s.names, ", ")))
		return nil
	}
	if v := r.PathValue("version"); v != "" && v != ModelVersion {
		s.writeError(w, http.StatusNotFound, fmt.Sprintf("model %q has no version %q (versions: %s)", name, v, ModelVersion))
		return nil
	}
	return b
}

func (s *Server) modelMetadata(w http.ResponseWriter, r *http.Request) {
	b := s.lookup(w, r)
	if b == nil {
		return
	}
	buf := append(s.getBuf(), `{"name":`...)
	buf = appendString(buf, b.name)
	buf = append(buf, `,"versions":["`+ModelVersion+`"],"platform":"`+Platform+`","inputs":`...)
	buf = appendTensorMetadata(buf, b.model.Inputs())
	buf = append(buf, `,"outputs":`...)
	buf = appendTensorMetadata(buf, b.model.Outputs())
	buf = append(buf, '}')
	s.writeJSON(w, http.StatusOK, buf)
	s.putBuf(buf)
}

// appendTensorMetadata writes $metadata_tensor objects; variable
// dimensions are -1.
func appendTensorMetadata(b []byte, ios []runtime.IOInfo) []byte {
	b = append(b, '[')
	for k, io := range ios {
		if k > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"name":`...)
		b = appendString(b, io.Name)
		b = append(b, `,"datatype":"FP32","shape":[`...)
		for j, d := range io.Shape {
			if j > 0 {
				b = append(b, ',')
			}
			v := d.Value
			if d.Param != "" || v < 0 {
				v = -1
			}
			b = strconv.AppendInt(b, v, 10)
		}
		b = append(b, "]}"...)
	}
	return append(b, ']')
}

func (s *Server) modelReady(w http.ResponseWriter, r *http.Request) {
	b := s.lookup(w, r)
	if b == nil {
		return
	}
	ready := s.ready.Load()
	buf := append(s.getBuf(), `{"name":`...)
	buf = appendString(buf, b.name)
	buf = append(buf, `,"ready":`...)
	buf = strconv.AppendBool(buf, ready)
	buf = append(buf, '}')
	code := http.StatusOK
	if !ready {
		code = http.StatusServiceUnavailable
	}
	s.writeJSON(w, code, buf)
	s.putBuf(buf)
}

// httpError is an answer other than 200 with its message.
type httpError struct {
	code int
	msg  string
}

func (e *httpError) Error() string { return e.msg }

func (s *Server) infer(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	b := s.lookup(w, r)
	if b == nil {
		s.metrics.requests.WithLabelValues("", "404").Inc()
		return
	}
	res, err := s.doInfer(r, b)
	code := http.StatusOK
	if err != nil {
		var he *httpError
		if !errors.As(err, &he) {
			he = &httpError{http.StatusInternalServerError, err.Error()}
		}
		code = he.code
		if code == http.StatusServiceUnavailable {
			w.Header().Set("Retry-After", "1")
		}
		if code != statusClientGone {
			s.writeError(w, code, he.msg)
		}
	} else {
		h := w.Header()
		if res.jsonLen < len(res.body) {
			h.Set("Content-Type", "application/octet-stream")
			h.Set("Inference-Header-Content-Length", strconv.Itoa(res.jsonLen))
		} else {
			h.Set("Content-Type", "application/json")
		}
		h.Set("Content-Length", strconv.Itoa(len(res.body)))
		w.WriteHeader(http.StatusOK)
		w.Write(res.body)
		s.putBuf(res.body)
	}
	elapsed := time.Since(start)
	if code == http.StatusOK {
		b.ok.Inc()
	} else {
		s.metrics.requests.WithLabelValues(b.name, strconv.Itoa(code)).Inc()
	}
	b.latency.Observe(elapsed.Seconds())
	if s.log.Enabled(r.Context(), slog.LevelDebug) {
		attrs := []slog.Attr{
			slog.String("model", b.name), slog.Int("code", code),
			slog.Duration("elapsed", elapsed), slog.String("remote", r.RemoteAddr),
		}
		if err != nil {
			attrs = append(attrs, slog.String("error", err.Error()))
		} else {
			attrs = append(attrs, slog.String("id", res.id), slog.Int("rows", res.rows), slog.Int("batch", res.batch))
		}
		s.log.LogAttrs(r.Context(), slog.LevelDebug, "infer", attrs...)
	}
}

// statusClientGone marks a request whose client went away: nothing is
// written (nginx's 499, for the metrics).
const statusClientGone = 499

// inferResult is an encoded answer.
type inferResult struct {
	body        []byte
	jsonLen     int
	id          string
	rows, batch int
}

func (s *Server) doInfer(r *http.Request, b *batcher) (*inferResult, error) {
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.Timeout)
	defer cancel()
	body, err := s.readBody(r)
	if err != nil {
		return nil, err
	}
	jsonLen := -1
	if h := r.Header.Get("Inference-Header-Content-Length"); h != "" {
		if jsonLen, err = strconv.Atoi(h); err != nil || jsonLen < 0 {
			s.putBuf(body)
			return nil, &httpError{http.StatusBadRequest, fmt.Sprintf("Inference-Header-Content-Length %q is not a byte count", h)}
		}
	}
	req, err := decodeRequest(body, jsonLen)
	s.putBuf(body) // the request holds no reference into the body
	if err != nil {
		return nil, &httpError{http.StatusBadRequest, err.Error()}
	}
	j, outs, err := b.bind(req)
	if err != nil {
		return nil, &httpError{http.StatusBadRequest, err.Error()}
	}
	j.ctx = ctx
	if err := b.enqueue(j); err != nil {
		return nil, &httpError{http.StatusServiceUnavailable, fmt.Sprintf("model %q: queue full (%d requests waiting); retry later", b.name, cap(b.queue))}
	}
	select {
	case <-j.done:
	case <-ctx.Done():
		if r.Context().Err() != nil {
			return nil, &httpError{statusClientGone, "client went away"}
		}
		return nil, &httpError{http.StatusGatewayTimeout, fmt.Sprintf("model %q: no answer within the %v request timeout", b.name, s.cfg.Timeout)}
	}
	if j.err != nil {
		if errors.Is(j.err, context.Canceled) || errors.Is(j.err, context.DeadlineExceeded) {
			return nil, &httpError{http.StatusGatewayTimeout, fmt.Sprintf("model %q: no answer within the %v request timeout", b.name, s.cfg.Timeout)}
		}
		return nil, j.err
	}
	for k := range outs {
		outs[k].Data = j.out[outs[k].index]
		outs[k].Shape = j.shape[outs[k].index]
	}
	ro := make([]responseOutput, len(outs))
	for k, o := range outs {
		ro[k] = o.responseOutput
	}
	buf, jl := appendResponse(s.getBuf(), b.name, ModelVersion, req.ID, ro)
	return &inferResult{body: buf, jsonLen: jl, id: req.ID, rows: j.rows, batch: j.batch}, nil
}

// readBody reads the request body into a pooled buffer, within the size
// limit.
func (s *Server) readBody(r *http.Request) ([]byte, error) {
	limit := s.cfg.MaxBodyBytes
	tooLarge := &httpError{http.StatusRequestEntityTooLarge, fmt.Sprintf("request body larger than the %d-byte limit", limit)}
	if r.ContentLength > limit {
		return nil, tooLarge
	}
	buf := s.getBuf()
	if r.ContentLength >= 0 {
		buf = slices.Grow(buf, int(r.ContentLength))[:r.ContentLength]
		if _, err := io.ReadFull(r.Body, buf); err != nil {
			s.putBuf(buf)
			return nil, &httpError{http.StatusBadRequest, "reading the body: " + err.Error()}
		}
		return buf, nil
	}
	// Chunked: read up to one byte past the limit to tell.
	lr := io.LimitReader(r.Body, limit+1)
	for {
		buf = slices.Grow(buf, 32<<10)
		n, err := lr.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if int64(len(buf)) > limit {
			s.putBuf(buf)
			return nil, tooLarge
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			s.putBuf(buf)
			return nil, &httpError{http.StatusBadRequest, "reading the body: " + err.Error()}
		}
	}
}

// boundOutput is a requested output: its index among the model's outputs
// and the response being built.
type boundOutput struct {
	index int
	responseOutput
}

// bind checks a decoded request against the model and makes its job: every
// input present once, FP32, with the model's dimensions after a common
// batch size of 1 to MaxBatch, as many values as the shape says, all
// finite; requested outputs known.
func (b *batcher) bind(req *inferRequest) (*job, []boundOutput, error) {
	j := &job{in: make([][]float32, len(b.inputs)), done: make(chan struct{})}
	names := func(specs []ioSpec) string {
		s := make([]string, len(specs))
		for i, sp := range specs {
			s[i] = sp.name
		}
		return strings.Join(s, ", ")
	}
	rows := -1
	for k := range req.Inputs {
		in := &req.Inputs[k]
		idx := slices.IndexFunc(b.inputs, func(sp ioSpec) bool { return sp.name == in.Name })
		if idx < 0 {
			return nil, nil, badRequest("model %q has no input %q (inputs: %s)", b.name, in.Name, names(b.inputs))
		}
		if j.in[idx] != nil {
			return nil, nil, badRequest("input %q given twice", in.Name)
		}
		spec := b.inputs[idx]
		if in.Datatype != "FP32" {
			return nil, nil, badRequest("input %q: datatype %q is not supported; the model takes FP32", in.Name, in.Datatype)
		}
		want := append([]int{-1}, spec.dims...)
		if len(in.Shape) != len(want) || !shapeTail(in.Shape, spec.dims) {
			return nil, nil, badRequest("input %q: shape %v does not match the model's %v (-1: any batch size)", in.Name, in.Shape, want)
		}
		n := in.Shape[0]
		switch {
		case n == 0:
			return nil, nil, badRequest("input %q: batch size 0", in.Name)
		case n > int64(b.maxBatch):
			return nil, nil, badRequest("input %q: batch size %d exceeds the server's maximum of %d rows per request", in.Name, n, b.maxBatch)
		case rows >= 0 && int(n) != rows:
			return nil, nil, badRequest("input %q: batch size %d, other inputs have %d", in.Name, n, rows)
		}
		rows = int(n)
		if len(in.Data) != rows*spec.rowSize {
			return nil, nil, badRequest("input %q: shape %v needs %d values, got %d", in.Name, in.Shape, rows*spec.rowSize, len(in.Data))
		}
		if in.bad >= 0 {
			return nil, nil, badRequest("input %q: element %d is %s; NaN and infinite values are refused", in.Name, in.bad, in.badValue)
		}
		j.in[idx] = in.Data
	}
	for k, d := range j.in {
		if d == nil {
			return nil, nil, badRequest("input %q is missing (model %q takes: %s)", b.inputs[k].name, b.name, names(b.inputs))
		}
	}
	j.rows = rows
	var outs []boundOutput
	if len(req.Outputs) == 0 {
		for k, o := range b.outputs {
			outs = append(outs, boundOutput{index: k, responseOutput: responseOutput{Name: o.name, Binary: req.BinaryOutput}})
		}
		return j, outs, nil
	}
	for _, ro := range req.Outputs {
		idx := slices.IndexFunc(b.outputs, func(sp ioSpec) bool { return sp.name == ro.Name })
		if idx < 0 {
			return nil, nil, badRequest("model %q has no output %q (outputs: %s)", b.name, ro.Name, names(b.outputs))
		}
		if slices.ContainsFunc(outs, func(o boundOutput) bool { return o.index == idx }) {
			return nil, nil, badRequest("output %q requested twice", ro.Name)
		}
		bin := req.BinaryOutput
		if ro.BinarySet {
			bin = ro.Binary
		}
		outs = append(outs, boundOutput{index: idx, responseOutput: responseOutput{Name: ro.Name, Binary: bin}})
	}
	return j, outs, nil
}

func shapeTail(shape []int64, dims []int) bool {
	for i, d := range dims {
		if shape[i+1] != int64(d) {
			return false
		}
	}
	return true
}

func (s *Server) writeJSON(w http.ResponseWriter, code int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(code)
	w.Write(body)
}

func (s *Server) writeError(w http.ResponseWriter, code int, msg string) {
	b := appendError(s.getBuf(), msg)
	s.writeJSON(w, code, b)
	s.putBuf(b)
}

func (s *Server) getBuf() []byte {
	if p, ok := s.bufs.Get().(*[]byte); ok {
		return (*p)[:0]
	}
	return make([]byte, 0, 16<<10)
}

// putBuf recycles b unless it is very large (a one-off huge body should
// not stay pinned in the pool).
func (s *Server) putBuf(b []byte) {
	if cap(b) > 4<<20 {
		return
	}
	s.bufs.Put(&b)
}
