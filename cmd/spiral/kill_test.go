package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"spiral/internal/engine"
	"spiral/internal/pgtest"
)

// TestSIGKILLMidRefreshLosesNothing kills the daemon while its worker is
// working through a backlog. The next run must converge: after a refresh,
// every 1m and 1h tier row equals a recomputation from the raw table
// (invariant 4: a crash at any point loses no mark).
func TestSIGKILLMidRefreshLosesNothing(t *testing.T) {
	db := pgtest.NewDB(t)
	listen := freeAddr(t)
	d := daemonFor(t, db, "--listen", listen, "--tick", "10ms", "--batch-size", "3")
	via := withHost(t, db, listen)
	conn := pgtest.Connect(t, via)
	ctx := context.Background()
	mustExec(t, conn, `CREATE TABLE ticks (t timestamptz NOT NULL, sym int NOT NULL,
		vol int -- Spiral: sum, stats
		) WITH (spiral.frames = '1m,1h', spiral.tenant = 'sym')`)
	for i := range 300 {
		mustExec(t, conn, fmt.Sprintf(`INSERT INTO ticks SELECT '2024-01-01'::timestamptz + (%d * 37 + g) * interval '1 minute', %d, g
			FROM generate_series(0, 9) g`, i, i%4))
	}
	waitProgress(t, conn)
	d.signal(t, syscall.SIGKILL)
	<-d.exited
	eng, err := engine.New(ctx, db, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	if _, err := eng.RefreshTable(ctx, "", "ticks", ""); err != nil {
		t.Fatal(err)
	}
	direct := pgtest.Connect(t, db)
	for _, f := range []struct {
		name string
		secs int
	}{{"1m", 60}, {"1h", 3600}} {
		got := rowsOf(t, direct, fmt.Sprintf(`SELECT sym, t, row_count, vol, (vol_stats).n FROM ticks_%s ORDER BY 1, 2`, f.name))
		want := rowsOf(t, direct, fmt.Sprintf(`SELECT sym, to_timestamp(floor(extract(epoch FROM t) / %[1]d) * %[1]d), count(*), sum(vol), count(vol)
			FROM ticks GROUP BY 1, 2 ORDER BY 1, 2`, f.secs))
		if got != want || want == "" {
			t.Fatalf("ticks_%s differs from the raw table after the crash and a refresh", f.name)
		}
	}
}

// waitProgress polls until the worker has removed some marks but not all:
// the daemon is mid-way through the backlog.
func waitProgress(t *testing.T, c *pgx.Conn) {
	t.Helper()
	var start int
	if err := c.QueryRow(context.Background(), `SELECT count(*) FROM spiral.marks`).Scan(&start); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		var n int
		if err := c.QueryRow(context.Background(), `SELECT count(*) FROM spiral.marks`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n < start {
			return
		}
	}
	t.Fatal("the worker made no progress")
}

func rowsOf(t *testing.T, c *pgx.Conn, sql string) string {
	t.Helper()
	rows, err := c.Query(context.Background(), sql)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for rows.Next() {
		vals, _ := rows.Values()
		fmt.Fprintln(&b, vals...)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func mustExec(t *testing.T, c *pgx.Conn, sql string) {
	t.Helper()
	if _, err := c.Exec(context.Background(), sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// withHost points dsn at the proxy address.
func withHost(t *testing.T, dsn, addr string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = addr
	return u.String()
}

// opsTable starts a daemon whose worker stays idle over a fresh database
// and creates the tracked table m through it; it returns the database's
// DSN and a connection through the daemon.
func opsTable(t *testing.T) (string, *pgx.Conn) {
	t.Helper()
	db := pgtest.NewDB(t)
	listen := freeAddr(t)
	daemonFor(t, db, "--listen", listen, "--tick", "1h")
	conn := pgtest.Connect(t, withHost(t, db, listen))
	mustExec(t, conn, `CREATE TABLE m (at timestamptz NOT NULL, dev int NOT NULL,
		v float8 -- Spiral: sum
		) WITH (spiral.frames = '1m', spiral.tenant = 'dev')`)
	return db, conn
}

// TestRefreshAndStatusCommands runs the operator commands in-process.
func TestRefreshAndStatusCommands(t *testing.T) {
	db, conn := opsTable(t)
	mustExec(t, conn, `INSERT INTO m SELECT now() - g * interval '1 minute', g % 2, g FROM generate_series(1, 10) g`)
	if code := run([]string{"status", "--dsn", db}); code != 0 {
		t.Fatalf("spiral status exit %d", code)
	}
	if code := run([]string{"refresh", "m", "--scope", "dev = 1", "--dsn", db}); code != 0 {
		t.Fatalf("spiral refresh --scope exit %d", code)
	}
	if got := rowsOf(t, conn, `SELECT DISTINCT scope_values->>'dev' FROM spiral.changelog`); got != "0\n" {
		t.Fatalf("dirty tenants after refreshing dev 1: %q", got)
	}
	if code := run([]string{"refresh", "m", "--dsn", db}); code != 0 {
		t.Fatalf("spiral refresh exit %d", code)
	}
	if code := run([]string{"refresh", "nope", "--dsn", db}); code != 1 {
		t.Fatalf("refresh of an untracked table: exit %d, want 1", code)
	}
	if got := rowsOf(t, conn, `SELECT count(*) FROM spiral.marks`); got != "0\n" {
		t.Fatalf("marks left after spiral refresh: %q", got)
	}
}

// TestWorkersZero: --workers 0 runs the proxy without the background
// worker, so marks stay until something refreshes them; a negative count
// is refused.
func TestWorkersZero(t *testing.T) {
	db := pgtest.NewDB(t)
	listen := freeAddr(t)
	d := daemonFor(t, db, "--listen", listen, "--tick", "10ms", "--workers", "0")
	conn := pgtest.Connect(t, withHost(t, db, listen))
	mustExec(t, conn, `CREATE TABLE m (at timestamptz NOT NULL,
		v float8 -- Spiral: sum
		) WITH (spiral.frames = '1m')`)
	mustExec(t, conn, `INSERT INTO m SELECT now() - g * interval '1 minute', g FROM generate_series(1, 10) g`)
	time.Sleep(time.Second) // a hundred ticks of a worker that should not exist
	if got := rowsOf(t, conn, `SELECT count(*) FROM spiral.marks`); got == "0\n" {
		t.Fatalf("marks refreshed with --workers 0:\n%s", d.log())
	}
	if !strings.Contains(d.log(), "worker off") {
		t.Errorf("no log line saying the worker is off:\n%s", d.log())
	}
	if code := run([]string{"serve", "--upstream", db, "--listen", freeAddr(t), "--workers", "-1"}); code == 0 {
		t.Error("--workers -1 accepted")
	}
}
