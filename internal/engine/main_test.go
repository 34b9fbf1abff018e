package engine_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/prometheus/client_golang/prometheus"

	"spiral/internal/engine"
	"spiral/internal/pgtest"
	"spiral/proxy"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// env is a proxy with the engine as its hook, in front of a fresh database.
type env struct {
	eng    *engine.Engine
	direct string // DSN of the database, directly
	via    string // DSN of the database through the proxy
}

func newEnv(t *testing.T) *env {
	t.Helper()
	direct := pgtest.NewDB(t)
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	eng, err := engine.New(context.Background(), direct, log)
	if err != nil {
		t.Fatalf("engine: %v", err)
	}
	t.Cleanup(eng.Close)
	cfg := proxy.DefaultConfig()
	cfg.Upstream, cfg.Hook = direct, eng
	cfg.UpstreamSettings = map[string]string{"jit": "off"}
	srv, err := proxy.New(cfg, log, nil)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	t.Cleanup(func() { srv.Close(); <-done })
	u, _ := url.Parse(direct)
	u.Host = l.Addr().String()
	return &env{eng: eng, direct: direct, via: u.String()}
}

// worker runs the background worker until the test ends and returns the
// registry of its metrics.
func (e *env) worker(t *testing.T) *prometheus.Registry {
	ctx, cancel := context.WithCancel(context.Background())
	cfg := engine.DefaultWorkerConfig()
	cfg.Tick = 50 * time.Millisecond
	reg := prometheus.NewRegistry()
	w := e.eng.Worker(cfg, reg)
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return reg
}

func connect(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	return pgtest.Connect(t, dsn)
}

func exec(t *testing.T, c *pgx.Conn, sql string, args ...any) pgconn.CommandTag {
	t.Helper()
	tag, err := c.Exec(context.Background(), sql, args...)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return tag
}

func sqlState(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// query returns rows as strings, floats rounded to 9 significant digits
// so that the comparison is within 1e-9 relative.
func query(t *testing.T, c *pgx.Conn, sql string, args ...any) []string {
	t.Helper()
	rows, err := c.Query(context.Background(), sql, args...)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (string, error) {
		vals, err := r.Values()
		parts := make([]string, len(vals))
		for i, v := range vals {
			parts[i] = render(v)
		}
		return strings.Join(parts, " | "), err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func render(v any) string {
	switch x := v.(type) {
	case float64:
		if x == 0 || math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Sprint(x)
		}
		return fmt.Sprintf("%.9g", x)
	case time.Time:
		return x.UTC().Format(time.RFC3339)
	}
	return fmt.Sprint(v)
}

func sameRows(t *testing.T, what string, got, want []string) {
	t.Helper()
	if len(want) == 0 {
		t.Fatalf("%s: the oracle returned no rows; the test data is wrong", what)
	}
	for i := 0; i < max(len(got), len(want)); i++ {
		var g, w string
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if g != w {
			t.Fatalf("%s differs from the raw table at row %d of %d (want %d rows):\ngot:  %s\nwant: %s", what, i, len(got), len(want), g, w)
		}
	}
}
