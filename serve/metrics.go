package serve

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the server's Prometheus collectors, in a registry of its own
// (not the global one, so that two servers in one process, as in tests, do
// not collide).
type metrics struct {
	reg       *prometheus.Registry
	requests  *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	batchRows *prometheus.HistogramVec
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vaec_serve_requests_total",
			Help: "Inference requests by model and HTTP status code (499: the client went away).",
		}, []string{"model", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "vaec_serve_request_duration_seconds",
			Help: "Time from reading an inference request's headers to writing its answer.",
			// 50 µs to about 1.6 s.
			Buckets: prometheus.ExponentialBuckets(50e-6, 2, 16),
		}, []string{"model"}),
		batchRows: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "vaec_serve_batch_rows",
			Help:    "Rows per model call after dynamic batching (a lone row is computed as a batch of 2 but counted as 1).",
			Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024},
		}, []string{"model"}),
	}
	m.reg.MustRegister(m.requests, m.latency, m.batchRows,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// addModel registers the queue-depth gauge of one model.
func (m *metrics) addModel(name string, depth func() float64) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name:        "vaec_serve_queue_depth",
		Help:        "Requests waiting in a model's queue for a model call.",
		ConstLabels: prometheus.Labels{"model": name},
	}, depth))
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}
