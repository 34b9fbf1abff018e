package pgtest_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"spiral/internal/pgtest"
)

func TestServerInUse(t *testing.T) {
	if (pgtest.Cluster() == nil) != (os.Getenv(pgtest.EnvDSN) != "") {
		t.Fatalf("Cluster() = %v with %s=%q", pgtest.Cluster(), pgtest.EnvDSN, os.Getenv(pgtest.EnvDSN))
	}
	var one int
	if err := pgtest.Connect(t, pgtest.AdminDSN()).QueryRow(context.Background(), "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("SELECT 1 on AdminDSN: %d, %v", one, err)
	}
}

func TestNewDBIsolated(t *testing.T) {
	a, b := pgtest.NewDB(t), pgtest.NewDB(t)
	if dbOf(t, a) == dbOf(t, b) {
		t.Fatalf("two NewDB calls gave the same database %q", dbOf(t, a))
	}
	pgtest.Exec(t, a, "CREATE TABLE only_in_a (x int); INSERT INTO only_in_a VALUES (1)")
	if !tableExists(t, a, "only_in_a") {
		t.Fatal("table missing in the database that created it")
	}
	if tableExists(t, b, "only_in_a") {
		t.Fatal("table created in one database is visible in another")
	}
}

func TestNewDBDroppedOnCleanup(t *testing.T) {
	var name string
	t.Run("inner", func(t *testing.T) {
		name = dbOf(t, pgtest.NewDB(t))
		if !databaseExists(t, name) {
			t.Fatalf("database %q not created", name)
		}
	})
	if databaseExists(t, name) {
		t.Fatalf("database %q still exists after the test's cleanup", name)
	}
}

func TestNewDBDropsWithOpenConnection(t *testing.T) {
	var name string
	t.Run("inner", func(t *testing.T) {
		dsn := pgtest.NewDB(t)
		name = dbOf(t, dsn)
		conn, err := pgconn.Connect(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close(context.Background()) }) // runs after the drop
	})
	if databaseExists(t, name) {
		t.Fatalf("database %q with an open session was not dropped", name)
	}
}

// TestMainFailsWithoutServer runs this test binary again with no
// PostgreSQL binaries: Main must fail with a clear message, not skip.
func TestMainFailsWithoutServer(t *testing.T) {
	if os.Getenv(pgtest.EnvDSN) != "" {
		t.Skip("cannot hide the server named by " + pgtest.EnvDSN)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(withoutEnv(pgtest.EnvDSN), pgtest.EnvBinDir+"="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("Main exited 0 without a server:\n%s", out)
	}
	if !strings.Contains(string(out), "tests need PostgreSQL") {
		t.Fatalf("no clear message:\n%s", out)
	}
}

func withoutEnv(name string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, name+"=") {
			env = append(env, kv)
		}
	}
	return env
}

func dbOf(t *testing.T, dsn string) string {
	t.Helper()
	cfg, err := pgconn.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Database
}

func tableExists(t *testing.T, dsn, table string) bool {
	t.Helper()
	var ok bool
	err := pgtest.Connect(t, dsn).QueryRow(context.Background(), "SELECT to_regclass($1) IS NOT NULL", table).Scan(&ok)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

func databaseExists(t *testing.T, name string) bool {
	t.Helper()
	var ok bool
	err := pgtest.Connect(t, pgtest.AdminDSN()).QueryRow(context.Background(),
		"SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&ok)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}
