package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

var psqlLine = regexp.MustCompile(`psql "([^"]+)"`)

// startDemo runs `spiral demo` on dir and returns it once it has printed
// how to connect, with the connection string of its psql line.
func startDemo(t *testing.T, dir string) (*child, string) {
	t.Helper()
	dsn := make(chan string, 1)
	printed := func(line string) bool {
		m := psqlLine.FindStringSubmatch(line)
		if m != nil {
			dsn <- m[1]
		}
		return m != nil
	}
	d := startChild(t, nil, printed, 3*time.Minute, "demo", "--data-dir", dir, "--listen", freeAddr(t))
	return d, <-dsn
}

// TestDemo runs `spiral demo` as a newcomer would: it starts its own
// PostgreSQL, loads the tracked demo table through the proxy, prints a
// psql line that works, lets the worker build the tiers, answers an
// aggregate from them exactly as the raw table does, and stops cleanly on
// Ctrl-C, PostgreSQL included. A second run reuses the data.
func TestDemo(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "demo")
	d, dsn := startDemo(t, dir)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatalf("the printed psql line %q: %v", dsn, err)
	}
	var notices []string
	cfg.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) { notices = append(notices, n.Message) }
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("connect with the printed psql line: %v", err)
	}
	waitDemoClean(ctx, t, c)

	const q = `SELECT symbol_id, date_trunc('hour', t) h, count(*), max(price), min(price), sum(vol) FROM ticks GROUP BY 1, 2 ORDER BY 1, 2`
	via := demoRows(ctx, t, c, "SET spiral.show_rewrite = on", q)
	if len(notices) == 0 || !strings.Contains(notices[len(notices)-1], "rewritten to") || !strings.Contains(notices[len(notices)-1], "ticks_1h") {
		t.Fatalf("the demo query was not answered from the hourly tier; notices: %q", notices)
	}
	raw := demoRows(ctx, t, c, "SET spiral.enable_rewrite = off", q)
	if len(raw) < 10*24 || strings.Join(via, "\n") != strings.Join(raw, "\n") {
		t.Fatalf("the tiers' answer (%d rows) differs from the raw table's (%d rows)", len(via), len(raw))
	}
	c.Close(ctx)
	d.stop(t, syscall.SIGINT, time.Minute)
	if _, err := os.Stat(filepath.Join(dir, "postmaster.pid")); !os.IsNotExist(err) {
		t.Fatalf("PostgreSQL still running after the demo stopped (postmaster.pid: %v)", err)
	}
	if pglog, _ := os.ReadFile(dir + ".log"); !strings.HasSuffix(strings.TrimSpace(string(pglog)), "database system is shut down") {
		t.Fatalf("PostgreSQL was not shut down cleanly; the end of its log:\n%s", lastLines(string(pglog), 5))
	}

	again, _ := startDemo(t, dir)
	if !strings.Contains(again.log(), "demo data already present") {
		t.Fatalf("a second run did not reuse the data:\n%s", again.log())
	}
	again.stop(t, syscall.SIGINT, time.Minute)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// waitDemoClean waits until the worker has refreshed every dirty range of
// the demo table.
func waitDemoClean(ctx context.Context, t *testing.T, c *pgx.Conn) {
	t.Helper()
	for {
		var dirty int64
		err := c.QueryRow(ctx, `SELECT dirty_entries FROM spiral.status WHERE base_view = 'ticks'`).Scan(&dirty)
		if err == nil && dirty == 0 {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the demo table still has %d dirty entries (%v)", dirty, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// demoRows runs set, then q, and returns q's rows as text.
func demoRows(ctx context.Context, t *testing.T, c *pgx.Conn, set, q string) []string {
	t.Helper()
	if _, err := c.Exec(ctx, set); err != nil {
		t.Fatal(err)
	}
	rows, err := c.Query(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for rows.Next() {
		v, err := rows.Values()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprint(v...))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
