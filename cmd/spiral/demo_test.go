package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// demoRun is `spiral demo` running as a child process.
type demoRun struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	output strings.Builder // stdout and stderr, interleaved
	dsn    chan string     // the psql line's connection string, once printed
	exited chan error      // Wait's result
}

func (d *demoRun) log() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.output.String()
}

var psqlLine = regexp.MustCompile(`psql "([^"]+)"`)

// startDemo runs `spiral demo` on dir and waits for it to print how to
// connect.
func startDemo(t *testing.T, dir string) (*demoRun, string) {
	t.Helper()
	d := &demoRun{dsn: make(chan string, 1), exited: make(chan error, 1)}
	d.cmd = exec.Command(os.Args[0], "demo", "--data-dir", dir, "--listen", freeAddr(t))
	d.cmd.Env = append(os.Environ(), "SPIRAL_TEST_AS_MAIN=1")
	pr, pw := io.Pipe()
	d.cmd.Stdout, d.cmd.Stderr = pw, pw
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			d.mu.Lock()
			d.output.WriteString(sc.Text() + "\n")
			d.mu.Unlock()
			if m := psqlLine.FindStringSubmatch(sc.Text()); m != nil {
				d.dsn <- m[1]
			}
		}
	}()
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.exited <- d.cmd.Wait(); pw.Close() }()
	t.Cleanup(func() { _ = d.cmd.Process.Kill() })
	select {
	case dsn := <-d.dsn:
		return d, dsn
	case err := <-d.exited:
		t.Fatalf("spiral demo exited (%v) before printing a psql line:\n%s", err, d.log())
		return nil, ""
	case <-time.After(3 * time.Minute):
		t.Fatalf("spiral demo printed no psql line in 3 minutes:\n%s", d.log())
		return nil, ""
	}
}

// stop sends SIGINT, as Ctrl-C does, and wants a clean exit.
func (d *demoRun) stop(t *testing.T) {
	t.Helper()
	if err := d.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-d.exited:
		if err != nil {
			t.Fatalf("spiral demo after Ctrl-C: %v\n%s", err, d.log())
		}
	case <-time.After(time.Minute):
		t.Fatalf("spiral demo did not stop within a minute of Ctrl-C:\n%s", d.log())
	}
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
	d.stop(t)
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
	again.stop(t)
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
