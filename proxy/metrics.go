package proxy

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the proxy's Prometheus metrics.
type metrics struct {
	sessionsActive prometheus.Gauge
	sessionsTotal  prometheus.Counter
	statements     *prometheus.CounterVec
	simple         prometheus.Counter
	extended       prometheus.Counter
	bytesUp        prometheus.Counter
	bytesDown      prometheus.Counter
	errors         *prometheus.CounterVec
	cancels        *prometheus.CounterVec
	connectSeconds prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	bytes := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "spiral_proxy_bytes_total", Help: "Bytes relayed, by direction.",
	}, []string{"direction"})
	m := &metrics{
		sessionsActive: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "spiral_proxy_sessions_active", Help: "Client sessions currently open.",
		}),
		sessionsTotal: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "spiral_proxy_sessions_total", Help: "Client sessions opened since start.",
		}),
		statements: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "spiral_proxy_statements_total", Help: "Statement texts relayed (Query and Parse), by protocol.",
		}, []string{"protocol"}),
		bytesUp:   bytes.WithLabelValues("client_to_upstream"),
		bytesDown: bytes.WithLabelValues("upstream_to_client"),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "spiral_proxy_errors_total", Help: "Errors the proxy raised, by SQLSTATE or kind.",
		}, []string{"kind"}),
		cancels: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "spiral_proxy_cancel_requests_total", Help: "Client cancel requests, by outcome.",
		}, []string{"outcome"}),
		connectSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "spiral_proxy_upstream_connect_seconds", Help: "Time to open an upstream connection.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
	}
	m.simple, m.extended = m.statements.WithLabelValues("simple"), m.statements.WithLabelValues("extended")
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.sessionsActive, m.sessionsTotal, m.statements, bytes, m.errors, m.cancels, m.connectSeconds} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
