package proxy_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	dto "github.com/prometheus/client_model/go"

	"spiral/internal/pgtest"
	"spiral/proxy"
)

// recordingHook records what it sees and rewrites one marker statement.
type recordingHook struct {
	mu   sync.Mutex
	seen map[string]string // statement -> session TimeZone when it was seen
}

func (h *recordingHook) Statement(_ context.Context, s *proxy.SessionState, _ proxy.StatementKind, sql string) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.seen[sql] = s.Param("TimeZone")
	if strings.Contains(sql, "'original'") {
		return strings.ReplaceAll(sql, "'original'", "'rewritten'")
	}
	return sql
}

func (h *recordingHook) tz(sql string) (string, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	tz, ok := h.seen[sql]
	return tz, ok
}

// TestHookSeesStatementsAndSessionTimeZone: every statement text passes the
// hook, with the session's current TimeZone from ParameterStatus, and what
// the hook returns is what runs, on both protocols.
func TestHookSeesStatementsAndSessionTimeZone(t *testing.T) {
	h := &recordingHook{seen: map[string]string{}}
	p := startProxy(t, func(c *proxy.Config) { c.Hook = h })
	conn := connect(t, p.dsn(t, pgtest.NewDB(t)))
	ctx := ctxT(t)
	if _, err := conn.Exec(ctx, "SET TimeZone = 'Asia/Kolkata'"); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeSimpleProtocol, pgx.QueryExecModeCacheStatement} {
		var got string
		if err := conn.QueryRow(ctx, "SELECT 'original'::text", mode).Scan(&got); err != nil || got != "rewritten" {
			t.Fatalf("%v: got %q, %v; want the hook's rewrite to run", mode, got, err)
		}
	}
	if tz, ok := h.tz("SELECT 'original'::text"); !ok || tz != "Asia/Kolkata" {
		t.Fatalf("hook saw TimeZone %q (seen=%v), want Asia/Kolkata", tz, ok)
	}
	if _, ok := h.tz("SET TimeZone = 'Asia/Kolkata'"); !ok {
		t.Fatal("hook did not see the SET statement")
	}
}

func TestMetrics(t *testing.T) {
	p := startProxy(t, nil)
	conn := connect(t, p.dsn(t, pgtest.NewDB(t)))
	for i := 0; i < 3; i++ {
		if _, err := conn.Exec(ctxT(t), "SELECT 1", pgx.QueryExecModeSimpleProtocol); err != nil {
			t.Fatal(err)
		}
	}
	fams, err := p.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			got[f.GetName()+labels(m)] += value(m)
		}
	}
	checks := map[string]float64{
		"spiral_proxy_sessions_total":                            1,
		"spiral_proxy_sessions_active":                           1,
		"spiral_proxy_statements_total{protocol=simple}":         3,
		"spiral_proxy_upstream_connect_seconds":                  1,
		"spiral_proxy_bytes_total{direction=client_to_upstream}": 1,
		"spiral_proxy_bytes_total{direction=upstream_to_client}": 1,
	}
	for name, min := range checks {
		if got[name] < min {
			t.Errorf("%s = %v, want >= %v (all: %v)", name, got[name], min, got)
		}
	}
}

func labels(m *dto.Metric) string {
	if len(m.GetLabel()) == 0 {
		return ""
	}
	var parts []string
	for _, l := range m.GetLabel() {
		parts = append(parts, l.GetName()+"="+l.GetValue())
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Histogram != nil:
		return float64(m.Histogram.GetSampleCount())
	}
	return 0
}
