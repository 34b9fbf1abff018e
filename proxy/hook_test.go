package proxy_test

import (
	"context"
	"fmt"
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

func (h *recordingHook) Statement(_ context.Context, s *proxy.SessionState, _ proxy.StatementKind, sql string) proxy.Rewrite {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.seen[sql] = s.Param("TimeZone")
	if strings.Contains(sql, "'original'") {
		return proxy.Rewrite{SQL: strings.ReplaceAll(sql, "'original'", "'rewritten'")}
	}
	return proxy.Rewrite{SQL: sql}
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

// ddlHook runs "CREATE TRACKED x" as a DO block that creates table x and
// asks for the CREATE TABLE tag; and counts executions of "SELECT counted()".
type ddlHook struct {
	mu    sync.Mutex
	execs int
	pids  []uint32
}

func (h *ddlHook) Statement(ctx context.Context, s *proxy.SessionState, kind proxy.StatementKind, sql string) proxy.Rewrite {
	if name, ok := strings.CutPrefix(sql, "CREATE TRACKED "); ok {
		return proxy.Rewrite{SQL: "DO $$ BEGIN CREATE TABLE " + name + " (n int); END $$", Tag: "CREATE TABLE"}
	}
	if sql != "SELECT counted()" {
		return proxy.Rewrite{SQL: sql}
	}
	count := func(ctx context.Context) error {
		if err := s.Barrier(ctx); err != nil {
			return err
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		h.execs++
		h.pids = append(h.pids, s.BackendPID())
		return nil
	}
	if kind == proxy.SimpleQuery {
		_ = count(ctx)
		return proxy.Rewrite{SQL: "SELECT 1"}
	}
	return proxy.Rewrite{SQL: "SELECT 1", OnExecute: count}
}

// TestHookRetagsDO: a statement the hook runs as a DO block reports the tag
// the hook chose, on both protocols; an ordinary DO keeps its tag.
func TestHookRetagsDO(t *testing.T) {
	p := startProxy(t, func(c *proxy.Config) { c.Hook = &ddlHook{} })
	conn := connect(t, p.dsn(t, pgtest.NewDB(t)))
	ctx := ctxT(t)
	// Pipelined: an ordinary DO, the tracked DDL, another DO.
	b := &pgx.Batch{}
	for _, q := range []string{"DO $$ BEGIN END $$", "CREATE TRACKED a", "DO $$ BEGIN END $$"} {
		b.Queue(q)
	}
	br := conn.SendBatch(ctx, b)
	for i, want := range []string{"DO", "CREATE TABLE", "DO"} {
		tag, err := br.Exec()
		if err != nil || tag.String() != want {
			t.Fatalf("batch statement %d: tag %q, %v; want %q", i, tag.String(), err, want)
		}
	}
	if err := br.Close(); err != nil {
		t.Fatal(err)
	}
	tags, err := conn.PgConn().Exec(ctx, "CREATE TRACKED c").ReadAll()
	if err != nil || len(tags) != 1 || tags[0].CommandTag.String() != "CREATE TABLE" {
		t.Fatalf("simple protocol tag: %v, %v", tags, err)
	}
	res := conn.PgConn().ExecParams(ctx, "CREATE TRACKED b", nil, nil, nil, nil).Read()
	if res.Err != nil || res.CommandTag.String() != "CREATE TABLE" {
		t.Fatalf("extended protocol tag: %q, %v", res.CommandTag.String(), res.Err)
	}
	_, err = conn.PgConn().Exec(ctx, "CREATE TRACKED a").ReadAll()
	if sqlState(err) != "42P07" {
		t.Fatalf("failing DDL: %v, want 42P07", err)
	}
	tags, err = conn.PgConn().Exec(ctx, "DO $$ BEGIN END $$").ReadAll()
	if err != nil || tags[0].CommandTag.String() != "DO" {
		t.Fatalf("a DO after a failed retag: %v, %v", tags, err)
	}
}

// TestHookOnExecute: work attached to a prepared statement runs at every
// execution, also when a statement cache skips the Parse.
func TestHookOnExecute(t *testing.T) {
	h := &ddlHook{}
	p := startProxy(t, func(c *proxy.Config) { c.Hook = h })
	conn := connect(t, p.dsn(t, pgtest.NewDB(t)))
	var pid uint32
	if err := conn.QueryRow(ctxT(t), "SELECT pg_backend_pid()").Scan(&pid); err != nil {
		t.Fatal(err)
	}
	modes := []pgx.QueryExecMode{pgx.QueryExecModeCacheStatement, pgx.QueryExecModeCacheStatement,
		pgx.QueryExecModeExec, pgx.QueryExecModeSimpleProtocol}
	for _, mode := range modes {
		var one int
		if err := conn.QueryRow(ctxT(t), "SELECT counted()", mode).Scan(&one); err != nil || one != 1 {
			t.Fatalf("%v: %d, %v", mode, one, err)
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.execs != len(modes) {
		t.Fatalf("work ran %d times for %d executions", h.execs, len(modes))
	}
	for _, got := range h.pids {
		if got != pid {
			t.Fatalf("BackendPID = %d, want the upstream's %d", got, pid)
		}
	}
}

// afterHook registers an AfterTransaction callback for every statement
// that starts with CREATE and counts the callbacks that ran.
type afterHook struct {
	mu  sync.Mutex
	ran int
}

func (h *afterHook) Statement(_ context.Context, s *proxy.SessionState, _ proxy.StatementKind, sql string) proxy.Rewrite {
	if strings.HasPrefix(sql, "CREATE") {
		s.AfterTransaction(func() { h.mu.Lock(); h.ran++; h.mu.Unlock() })
	}
	return proxy.Rewrite{SQL: sql}
}

func (h *afterHook) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.ran
}

// TestAfterTransaction: a callback runs before the client hears that the
// statement's transaction ended, and not before: in autocommit with the
// statement's answer, inside BEGIN ... COMMIT only with the COMMIT's, on
// both protocols.
func TestAfterTransaction(t *testing.T) {
	h := &afterHook{}
	p := startProxy(t, func(c *proxy.Config) { c.Hook = h })
	conn := connect(t, p.dsn(t, pgtest.NewDB(t)))
	ctx := ctxT(t)
	want := 0
	for i, mode := range []pgx.QueryExecMode{pgx.QueryExecModeSimpleProtocol, pgx.QueryExecModeCacheStatement} {
		if _, err := conn.Exec(ctx, fmt.Sprintf("CREATE TABLE auto%d (n int)", i), mode); err != nil {
			t.Fatal(err)
		}
		if want++; h.count() != want {
			t.Fatalf("%v: %d callbacks after an autocommit CREATE, want %d", mode, h.count(), want)
		}
		for _, q := range []string{"BEGIN", fmt.Sprintf("CREATE TABLE tx%d (n int)", i), "SELECT 1"} {
			if _, err := conn.Exec(ctx, q, mode); err != nil {
				t.Fatal(err)
			}
		}
		if h.count() != want {
			t.Fatalf("%v: a callback ran inside the CREATE's transaction", mode)
		}
		if _, err := conn.Exec(ctx, "COMMIT", mode); err != nil {
			t.Fatal(err)
		}
		if want++; h.count() != want {
			t.Fatalf("%v: %d callbacks after COMMIT, want %d", mode, h.count(), want)
		}
	}
}
