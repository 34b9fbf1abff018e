package pgcluster_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"spiral/internal/pgcluster"
)

func start(t *testing.T, opts pgcluster.Options) *pgcluster.Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	opts.Fast = true
	opts.Log = testWriter{t}
	c, err := pgcluster.Start(ctx, opts)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return c
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func connect(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect %s: %v", dsn, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func queryString(t *testing.T, dsn, sql string) string {
	t.Helper()
	var s string
	if err := connect(t, dsn).QueryRow(context.Background(), sql).Scan(&s); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return s
}

func TestCluster(t *testing.T) {
	c := start(t, pgcluster.Options{Settings: map[string]string{"cluster_name": `it's a \ test`}})
	tempRoot := filepath.Dir(c.DataDir())

	t.Run("accessors", func(t *testing.T) { checkAccessors(t, c) })
	t.Run("settings", func(t *testing.T) { checkSettings(t, c) })
	t.Run("unix socket", func(t *testing.T) { checkUnixSocket(t, c) })
	t.Run("hba", func(t *testing.T) { checkHBA(t, c) })
	t.Run("bad hba is refused", func(t *testing.T) { checkBadHBA(t, c) })
	t.Run("restart keeps data", func(t *testing.T) { checkRestart(t, c) })

	if err := c.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	for _, dir := range []string{tempRoot, c.SocketDir()} {
		if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s still exists after Stop (stat: %v)", dir, err)
		}
	}
	if err := c.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	if err := c.Restart(context.Background()); !errors.Is(err, pgcluster.ErrStopped) {
		t.Errorf("Restart after Stop = %v, want ErrStopped", err)
	}
	if _, err := pgconn.Connect(context.Background(), c.DSN("postgres")); err == nil {
		t.Error("server still accepts connections after Stop")
	}
}

func checkAccessors(t *testing.T, c *pgcluster.Cluster) {
	want := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/db1?sslmode=disable", c.Port())
	if got := c.DSN("db1"); got != want {
		t.Errorf("DSN = %q, want %q", got, want)
	}
	if c.Host() != "127.0.0.1" || c.User() != "postgres" || c.Port() == 0 {
		t.Errorf("Host %q User %q Port %d", c.Host(), c.User(), c.Port())
	}
	fi, err := os.Stat(c.SocketDir())
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("socket dir %s: %v, %v (want mode 0700)", c.SocketDir(), fi, err)
	}
	if got := queryString(t, c.DSN("postgres"), "SELECT current_user"); got != "postgres" {
		t.Errorf("current_user = %q", got)
	}
}

func checkSettings(t *testing.T, c *pgcluster.Cluster) {
	for setting, want := range map[string]string{
		"max_connections":     "200",
		"password_encryption": "scram-sha-256",
		"shared_buffers":      "128MB",
		"fsync":               "off",
		"listen_addresses":    "127.0.0.1",
		"server_encoding":     "UTF8",
		"lc_collate":          "C",
		"cluster_name":        `it's a \ test`,
	} {
		if got := queryString(t, c.DSN("postgres"), "SHOW "+setting); got != want {
			t.Errorf("SHOW %s = %q, want %q", setting, got, want)
		}
	}
}

func checkUnixSocket(t *testing.T, c *pgcluster.Cluster) {
	sock := filepath.Join(c.SocketDir(), fmt.Sprintf(".s.PGSQL.%d", c.Port()))
	if len(sock) >= 107 {
		t.Errorf("socket path %q is %d bytes", sock, len(sock))
	}
	dsn := fmt.Sprintf("host=%s port=%d user=postgres dbname=postgres", c.SocketDir(), c.Port())
	if got := queryString(t, dsn, "SELECT coalesce(inet_client_addr()::text, 'unix')"); got != "unix" {
		t.Errorf("connected over %q, want the Unix socket", got)
	}
}

func checkHBA(t *testing.T, c *pgcluster.Cluster) {
	admin := connect(t, c.DSN("postgres"))
	_, err := admin.Exec(context.Background(), `SET password_encryption = 'md5';
		CREATE ROLE alice LOGIN PASSWORD 'alice-pw';
		SET password_encryption = 'scram-sha-256';
		CREATE ROLE bob LOGIN PASSWORD 'bob-pw';
		CREATE ROLE carol LOGIN`)
	if err != nil {
		t.Fatal(err)
	}
	err = c.SetHBA(
		"local all postgres trust",
		"host all postgres 127.0.0.1/32 trust",
		"host all alice 127.0.0.1/32 md5",
		"host all bob 127.0.0.1/32 scram-sha-256",
	)
	if err != nil {
		t.Fatalf("SetHBA: %v", err)
	}
	for _, tc := range []struct{ user, password, code string }{
		{"alice", "alice-pw", ""},
		{"alice", "wrong", "28P01"},
		{"bob", "bob-pw", ""},
		{"bob", "wrong", "28P01"},
		{"carol", "", "28000"}, // no pg_hba.conf line
	} {
		dsn := fmt.Sprintf("postgres://%s:%s@127.0.0.1:%d/postgres?sslmode=disable", tc.user, tc.password, c.Port())
		if got := connectCode(dsn); got != tc.code {
			t.Errorf("%s with password %q: SQLSTATE %q, want %q", tc.user, tc.password, got, tc.code)
		}
	}
}

// connectCode connects and returns "" or the server's SQLSTATE.
func connectCode(dsn string) string {
	conn, err := pgconn.Connect(context.Background(), dsn)
	if err == nil {
		conn.Close(context.Background())
		return ""
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return err.Error()
}

func checkBadHBA(t *testing.T, c *pgcluster.Cluster) {
	if err := c.SetHBA("host all all 127.0.0.1/32 no-such-method"); err == nil {
		t.Fatal("SetHBA accepted an invalid auth method")
	}
	if got := connectCode(c.DSN("postgres")); got != "" {
		t.Fatalf("after a refused SetHBA, superuser connect: %s", got)
	}
	if err := c.Reload(); err != nil {
		t.Fatalf("Reload: %v", err)
	}
}

func checkRestart(t *testing.T, c *pgcluster.Cluster) {
	port := c.Port()
	conn := connect(t, c.DSN("postgres"))
	if _, err := conn.Exec(context.Background(), "CREATE TABLE kept AS SELECT 42 AS x"); err != nil {
		t.Fatal(err)
	}
	if err := c.Restart(context.Background()); err != nil {
		t.Fatalf("Restart: %v", err)
	}
	if c.Port() != port {
		t.Errorf("port changed from %d to %d", port, c.Port())
	}
	if _, err := conn.Exec(context.Background(), "SELECT 1"); err == nil {
		t.Error("a connection from before Restart still works")
	}
	if got := queryString(t, c.DSN("postgres"), "SELECT x::text FROM kept"); got != "42" {
		t.Errorf("after Restart: %q, want 42", got)
	}
	if !strings.Contains(c.LogTail(50), "database system was interrupted") {
		t.Errorf("Restart was not an immediate stop; log:\n%s", c.LogTail(20))
	}
}

func TestStartFailureReportsLog(t *testing.T) {
	_, err := pgcluster.Start(context.Background(), pgcluster.Options{
		Fast: true, Settings: map[string]string{"shared_buffers": "lots"},
	})
	if err == nil || !strings.Contains(err.Error(), `invalid value for parameter "shared_buffers"`) {
		t.Fatalf("Start with a bad setting: %v; want the server's complaint from the log", err)
	}
	_, err = pgcluster.Start(context.Background(), pgcluster.Options{Settings: map[string]string{"x\nport": "1"}})
	if err == nil {
		t.Fatal("Start accepted a setting name with a newline")
	}
}

func TestExplicitPortInUse(t *testing.T) {
	c := start(t, pgcluster.Options{})
	_, err := pgcluster.Start(context.Background(), pgcluster.Options{Fast: true, Port: c.Port()})
	if err == nil || !strings.Contains(err.Error(), "port in use") {
		t.Fatalf("Start on a taken port: %v, want a port-in-use error", err)
	}
}

func TestReuseDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	c := start(t, pgcluster.Options{Dir: dir})
	if _, err := connect(t, c.DSN("postgres")).Exec(context.Background(), "CREATE TABLE kept (x int)"); err != nil {
		t.Fatal(err)
	}
	pidFile := filepath.Join(dir, "postmaster.pid")
	pidData, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "PG_VERSION")); err != nil {
		t.Fatalf("Stop removed the given Dir: %v", err)
	}

	t.Run("stale pid of a dead postmaster", func(t *testing.T) {
		writePIDFile(t, pidFile, pidData) // as left by a SIGKILLed run
		checkReused(t, dir)
	})
	t.Run("stale pid reused by another process", func(t *testing.T) {
		pid := startSleeper(t, dir) // alive, signalable by the server user, not a postmaster
		writePIDFile(t, pidFile, []byte(fmt.Sprintf("%d\n%s\n", pid, dir)))
		checkReused(t, dir)
	})
	t.Run("live postmaster is not clobbered", func(t *testing.T) {
		start(t, pgcluster.Options{Dir: dir})
		_, err := pgcluster.Start(context.Background(), pgcluster.Options{Dir: dir, Fast: true})
		if err == nil || !strings.Contains(err.Error(), "in use by a running postmaster") {
			t.Fatalf("second Start on a running Dir: %v", err)
		}
	})
}

// startSleeper starts a process owned by the owner of dir, so that
// PostgreSQL's own kill(pid, 0) check would take it for a live postmaster.
func startSleeper(t *testing.T, dir string) int {
	t.Helper()
	st := ownerOf(t, dir)
	cmd := exec.Command("sleep", "300")
	if os.Geteuid() == 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: st.Uid, Gid: st.Gid}}
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd.Process.Pid
}

func ownerOf(t *testing.T, path string) *syscall.Stat_t {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t)
}

// writePIDFile writes postmaster.pid owned, like the real one, by the
// owner of the data dir.
func writePIDFile(t *testing.T, path string, data []byte) {
	t.Helper()
	st := ownerOf(t, filepath.Dir(path))
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(path, int(st.Uid), int(st.Gid)); err != nil {
		t.Fatal(err)
	}
}

func checkReused(t *testing.T, dir string) {
	t.Helper()
	c := start(t, pgcluster.Options{Dir: dir})
	if got := queryString(t, c.DSN("postgres"), "SELECT count(*)::text FROM kept"); got != "0" {
		t.Errorf("reused cluster: %q", got)
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
}

// TestWatchdog kills a process that started a cluster and checks that the
// server stops and the temporary directories go away.
func TestWatchdog(t *testing.T) {
	if os.Getenv("PGCLUSTER_WATCHDOG_CHILD") != "" {
		runWatchdogChild()
		return
	}
	cmd, lines := startChild(t)
	dataDir := strings.TrimSpace(<-lines)
	pid := postmasterPID(t, dataDir)
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	deadline := time.Now().Add(60 * time.Second)
	for syscall.Kill(pid, 0) == nil || exists(filepath.Dir(dataDir)) {
		if time.Now().After(deadline) {
			t.Fatalf("60s after SIGKILL: postmaster %d alive=%v, %s exists=%v",
				pid, syscall.Kill(pid, 0) == nil, dataDir, exists(dataDir))
		}
		time.Sleep(50 * time.Millisecond) // polling with a deadline
	}
}

func runWatchdogChild() {
	c, err := pgcluster.Start(context.Background(), pgcluster.Options{Fast: true})
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println(c.DataDir())
	select {} // wait to be killed
}
