package proxy_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/prometheus/client_golang/prometheus"

	"spiral/internal/pgtest"
	"spiral/proxy"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// testProxy is a proxy server in front of the test PostgreSQL.
type testProxy struct {
	srv  *proxy.Server
	addr string
	reg  *prometheus.Registry
	done chan error
}

// startProxy starts a proxy for the test; mod adjusts its configuration.
func startProxy(t *testing.T, mod func(*proxy.Config)) *testProxy {
	t.Helper()
	cfg := proxy.DefaultConfig()
	cfg.Upstream = pgtest.AdminDSN()
	if mod != nil {
		mod(&cfg)
	}
	reg := prometheus.NewRegistry()
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv, err := proxy.New(cfg, log, reg)
	if err != nil {
		t.Fatalf("proxy.New: %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &testProxy{srv: srv, addr: l.Addr().String(), reg: reg, done: make(chan error, 1)}
	go func() { p.done <- srv.Serve(l) }()
	t.Cleanup(func() {
		_ = srv.Close()
		if err := <-p.done; !errors.Is(err, proxy.ErrServerClosed) {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
	})
	return p
}

// dsn returns a DSN that reaches the database of direct through the proxy.
func (p *testProxy) dsn(t *testing.T, direct string) string {
	t.Helper()
	u, err := url.Parse(direct)
	if err != nil {
		t.Fatalf("parse %q: %v", direct, err)
	}
	u.Host = p.addr
	q := u.Query()
	q.Set("sslmode", "disable")
	u.RawQuery = q.Encode()
	return u.String()
}

// hostPort splits the proxy address for tools that take them apart.
func (p *testProxy) hostPort() (string, string) {
	h, port, _ := net.SplitHostPort(p.addr)
	return h, port
}

func connect(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect %s: %v", dsn, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// sqlState returns the SQLSTATE of err, or "" when it carries none.
func sqlState(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// testWriter sends the proxy's log to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Helper()
	defer func() { _ = recover() }() // a log line after the test ended
	w.t.Log(string(b))
	return len(b), nil
}

var _ io.Writer = testWriter{}
