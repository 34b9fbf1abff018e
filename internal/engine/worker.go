package engine

import (
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"spiral/changelog"
	"spiral/rollup"
)

// WorkerConfig configures the background refresh worker.
type WorkerConfig struct {
	Tick      time.Duration
	BatchSize int
	Workers   int
}

// DefaultWorkerConfig is what `spiral serve` starts with.
func DefaultWorkerConfig() WorkerConfig {
	return WorkerConfig{Tick: time.Second, BatchSize: rollup.DefaultBatchSize, Workers: 2}
}

// Worker returns the background refresh worker over every tracked table.
func (e *Engine) Worker(cfg WorkerConfig, reg prometheus.Registerer) *rollup.Worker {
	if cfg.BatchSize > 0 {
		e.refresher.BatchSize = cfg.BatchSize
	}
	buckets := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "spiral_refresh_buckets_total", Help: "Finest-tier buckets recomputed, by table.",
	}, []string{"table"})
	failures := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "spiral_refresh_errors_total", Help: "Refresh batches that failed, by table.",
	}, []string{"table"})
	if reg != nil {
		reg.MustRegister(buckets, failures, &statusCollector{pool: e.pool})
	}
	return &rollup.Worker{
		Refresher: e.refresher,
		Tables:    func(ctx context.Context) ([]rollup.Tracked, error) { return changelog.LoadDirty(ctx, e.pool) },
		Tick:      cfg.Tick,
		Workers:   cfg.Workers,
		Log:       e.log.With("component", "worker"),
		OnBatch: func(table string, n int64, err error) {
			buckets.WithLabelValues(table).Add(float64(n))
			if err != nil && err != rollup.ErrBusy {
				failures.WithLabelValues(table).Inc()
			}
		},
	}
}

// statusCollector exports spiral.status at scrape time.
type statusCollector struct {
	pool *pgxpool.Pool
}

var (
	lagDesc     = prometheus.NewDesc("spiral_lag_seconds", "Age of the oldest dirty mark of a tracked table; 0 when clean.", []string{"table"}, nil)
	dirtyDesc   = prometheus.NewDesc("spiral_dirty_entries", "Dirty marks waiting for refresh.", []string{"table"}, nil)
	dirtySecond = prometheus.NewDesc("spiral_dirty_seconds", "Total span of the dirty marks, in seconds.", []string{"table"}, nil)
	failedDesc  = prometheus.NewDesc("spiral_failed_ranges", "Ranges set aside because their refresh fails on their data (spiral.failed_ranges); they stay dirty and read raw.", []string{"table"}, nil)
)

func (c *statusCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- lagDesc
	ch <- dirtyDesc
	ch <- dirtySecond
	ch <- failedDesc
}

func (c *statusCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rows, err := c.pool.Query(ctx, `SELECT s.base_schema || '.' || s.base_view, s.dirty_entries, s.dirty_seconds,
		coalesce(extract(epoch FROM s.lag), 0)::float8,
		(SELECT count(*) FROM spiral.failed_ranges f WHERE f.base_schema = s.base_schema AND f.base_view = s.base_view)
		FROM spiral.status s`)
	if err != nil {
		slog.Debug("status collector", "err", err)
		return
	}
	defer rows.Close()
	for rows.Next() {
		var table string
		var entries, seconds, failed int64
		var lag float64
		if rows.Scan(&table, &entries, &seconds, &lag, &failed) != nil {
			return
		}
		ch <- prometheus.MustNewConstMetric(lagDesc, prometheus.GaugeValue, lag, table)
		ch <- prometheus.MustNewConstMetric(dirtyDesc, prometheus.GaugeValue, float64(entries), table)
		ch <- prometheus.MustNewConstMetric(dirtySecond, prometheus.GaugeValue, float64(seconds), table)
		ch <- prometheus.MustNewConstMetric(failedDesc, prometheus.GaugeValue, float64(failed), table)
	}
}
