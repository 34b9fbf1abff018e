package proxy_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"spiral/internal/pgtest"
)

// psqlScript exercises many statements in one session, an error in the
// middle (psql goes on), COPY both ways, notices and session settings.
const psqlScript = `
CREATE TABLE t (id int PRIMARY KEY, name text, v double precision, at timestamptz);
INSERT INTO t SELECT g, 'n' || g, g / 3.0, '2024-01-01'::timestamptz + g * interval '1 hour' FROM generate_series(1, 50) g;
SELECT count(*), sum(v), min(at), max(name) FROM t;
SELECT 1 / 0;
SELECT id, name FROM t WHERE id < 4 ORDER BY id;
SET TimeZone = 'Asia/Kolkata';
SELECT at FROM t WHERE id = 1;
DO $$ BEGIN RAISE NOTICE 'hello from %', 'plpgsql'; END $$;
BEGIN;
INSERT INTO t VALUES (100, 'x', 1, now());
SELECT nonexistent FROM t;
ROLLBACK;
SELECT count(*) FROM t;
\copy t TO '@OUT@' WITH (FORMAT csv)
CREATE TABLE t2 (LIKE t);
\copy t2 FROM '@OUT@' WITH (FORMAT csv)
SELECT count(*), sum(v) FROM t2;
COPY (SELECT id, name FROM t2 WHERE id <= 3 ORDER BY id) TO STDOUT;
SELECT repeat('x', 100000) = repeat('x', 100000) AS big;
`

// runPsql runs script with psql against the database of dsn and returns
// its combined output.
func runPsql(t *testing.T, dsn, script string) string {
	t.Helper()
	dir := t.TempDir()
	file := filepath.Join(dir, "script.sql")
	script = strings.ReplaceAll(script, "@OUT@", filepath.Join(dir, "out.csv"))
	if err := os.WriteFile(file, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("psql", "-X", "-v", "ON_ERROR_STOP=0", "-f", file, dsn)
	cmd.Env = append(os.Environ(), "PGTZ=UTC", "PGOPTIONS=")
	out, _ := cmd.CombinedOutput()
	return strings.ReplaceAll(string(out), file, "script.sql")
}

// TestPsqlScriptSameAsDirect runs one script directly and through the proxy,
// in two fresh databases, and requires identical psql output.
func TestPsqlScriptSameAsDirect(t *testing.T) {
	p := startProxy(t, nil)
	direct := runPsql(t, pgtest.NewDB(t), psqlScript)
	proxied := runPsql(t, p.dsn(t, pgtest.NewDB(t)), psqlScript)
	for _, want := range []string{"division by zero", "hello from plpgsql", "big", "05:30", "1\tn1"} {
		if !strings.Contains(direct, want) {
			t.Fatalf("direct psql output lacks %q; the script did not run as intended:\n%s", want, direct)
		}
	}
	if direct != proxied {
		t.Errorf("psql output differs.\n--- direct\n%s\n--- through spiral\n%s", direct, proxied)
	}
}

func TestPsqlCommand(t *testing.T) {
	p := startProxy(t, nil)
	out, err := exec.Command("psql", "-X", "-At", "-c", "SELECT 40 + 2", p.dsn(t, pgtest.NewDB(t))).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "42" {
		t.Fatalf("psql -c through proxy: %v: %q", err, out)
	}
}

// TestPsqlErrorExitCode checks that with ON_ERROR_STOP psql sees the error
// and stops, exactly as against PostgreSQL.
func TestPsqlErrorExitCode(t *testing.T) {
	p := startProxy(t, nil)
	cmd := exec.Command("psql", "-X", "-v", "ON_ERROR_STOP=1", "-c", "SELECT 1/0", "-c", "SELECT 'not reached'", p.dsn(t, pgtest.NewDB(t)))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if code := cmd.ProcessState.ExitCode(); err == nil || code != 1 {
		t.Fatalf("psql exit code %d (%v), want 1; output:\n%s", code, err, out.String())
	}
	if strings.Contains(out.String(), "not reached") || !strings.Contains(out.String(), "division by zero") {
		t.Fatalf("unexpected psql output:\n%s", out.String())
	}
}
