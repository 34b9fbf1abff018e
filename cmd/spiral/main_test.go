package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"spiral/internal/pgtest"
)

// TestMain doubles as the spiral binary: with SPIRAL_TEST_AS_MAIN set, the
// test binary runs main's logic with the remaining arguments, so tests can
// start the daemon as a real process and signal it.
func TestMain(m *testing.M) {
	if os.Getenv("SPIRAL_TEST_AS_MAIN") == "1" {
		os.Exit(run(os.Args[1:]))
	}
	os.Exit(pgtest.Main(m))
}

func TestFlagsFromEnvironment(t *testing.T) {
	t.Setenv("SPIRAL_LISTEN", "127.0.0.1:7777")
	t.Setenv("SPIRAL_MAX_MESSAGE_SIZE", "2048")
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	var o serveOptions
	var cert, key string
	serveFlags(fs, &o, &cert, &key)
	if err := parseFlags(fs, []string{"--max-message-size", "4096"}); err != nil {
		t.Fatal(err)
	}
	if o.listen != "127.0.0.1:7777" {
		t.Errorf("listen = %q, want the SPIRAL_LISTEN value", o.listen)
	}
	if o.proxy.MaxMessageSize != 4096 {
		t.Errorf("max message size = %d, want the command line's 4096 over the environment's", o.proxy.MaxMessageSize)
	}
	t.Setenv("SPIRAL_STARTUP_TIMEOUT", "soon")
	fs2 := flag.NewFlagSet("y", flag.ContinueOnError)
	serveFlags(fs2, &o, &cert, &key)
	if err := parseFlags(fs2, nil); err == nil || !strings.Contains(err.Error(), "SPIRAL_STARTUP_TIMEOUT") {
		t.Errorf("bad env value: err = %v, want it to name SPIRAL_STARTUP_TIMEOUT", err)
	}
}

func TestUnknownCommand(t *testing.T) {
	if code := run([]string{"frobnicate"}); code != 2 {
		t.Fatalf("exit code %d, want 2", code)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// daemon starts `spiral serve` as a child process and waits until it
// accepts connections.
func daemon(t *testing.T, args ...string) *child {
	t.Helper()
	return daemonFor(t, pgtest.AdminDSN(), args...)
}

// daemonFor starts `spiral serve` against upstream.
func daemonFor(t *testing.T, upstream string, args ...string) *child {
	t.Helper()
	listening := func(line string) bool { return strings.Contains(line, "listening") }
	return startChild(t, []string{"SPIRAL_UPSTREAM=" + upstream}, listening, 30*time.Second, append([]string{"serve"}, args...)...)
}

func TestServeMetricsAndHealth(t *testing.T) {
	listen, metrics := freeAddr(t), freeAddr(t)
	daemon(t, "--listen", listen, "--metrics-listen", metrics)
	conn, err := pgx.Connect(context.Background(), fmt.Sprintf("postgres://postgres@%s/postgres?sslmode=disable", listen))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), "SELECT 1"); err != nil {
		t.Fatal(err)
	}
	if body := httpGet(t, "http://"+metrics+"/healthz"); strings.TrimSpace(body) != "ok" {
		t.Fatalf("/healthz = %q", body)
	}
	body := httpGet(t, "http://"+metrics+"/metrics")
	for _, want := range []string{"spiral_proxy_sessions_active 1", "spiral_proxy_upstream_connect_seconds_count 1", "go_goroutines"} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	return string(b)
}

// TestSIGTERMDrains: on SIGTERM the daemon stops accepting, lets a running
// query finish, and exits 0.
func TestSIGTERMDrains(t *testing.T) {
	listen := freeAddr(t)
	d := daemon(t, "--listen", listen, "--shutdown-timeout", "20s")
	conn, err := pgx.Connect(context.Background(), fmt.Sprintf("postgres://postgres@%s/postgres?sslmode=disable", listen))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	res := make(chan error, 1)
	go func() { _, err := conn.Exec(context.Background(), "SELECT pg_sleep(1) /* at-sigterm */"); res <- err }()
	waitQuery(t, "at-sigterm")
	d.signal(t, syscall.SIGTERM)
	if err := <-res; err != nil {
		t.Fatalf("query running at SIGTERM: %v", err)
	}
	d.waitExit(t, 30*time.Second)
}

// waitQuery polls pg_stat_activity until a query containing marker runs.
func waitQuery(t *testing.T, marker string) {
	t.Helper()
	admin := pgtest.Connect(t, pgtest.AdminDSN())
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		var n int
		err := admin.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
			WHERE state = 'active' AND query LIKE '%' || $1 || '%' AND pid <> pg_backend_pid()`, marker).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
	}
	t.Fatalf("no query with %q started", marker)
}

// Flags may come before or after the table; "--" ends them.
func TestParseInterspersed(t *testing.T) {
	tests := []struct {
		args      []string
		pos       []string
		dsn, scop string
	}{
		{[]string{"m", "--dsn", "x"}, []string{"m"}, "x", ""},
		{[]string{"--dsn", "x", "m"}, []string{"m"}, "x", ""},
		{[]string{"--scope", "a = 1", "m", "--dsn", "x"}, []string{"m"}, "x", "a = 1"},
		{[]string{"m", "n"}, []string{"m", "n"}, "", ""},
		{[]string{"--dsn", "x", "--", "-m"}, []string{"-m"}, "x", ""},
		{nil, nil, "", ""},
	}
	for _, tt := range tests {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		dsn, scope := fs.String("dsn", "", ""), fs.String("scope", "", "")
		pos, err := parseInterspersed(fs, tt.args)
		if err != nil || !slices.Equal(pos, tt.pos) || *dsn != tt.dsn || *scope != tt.scop {
			t.Errorf("%q: positional %q, dsn %q, scope %q, %v; want %q, %q, %q", tt.args, pos, *dsn, *scope, err, tt.pos, tt.dsn, tt.scop)
		}
	}
}
