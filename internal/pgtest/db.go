package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

const (
	maxIdentLen = 63 // NAMEDATALEN-1
	suffixLen   = 8  // hex digits of randomness
	execTimeout = 2 * time.Minute
)

// NewDB creates a database named after the test and returns a superuser
// DSN for it. It is dropped WITH (FORCE) when the test ends.
func NewDB(t testing.TB) string {
	t.Helper()
	admin := requireServer(t)
	name := dbName(t.Name())
	Exec(t, admin, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	t.Cleanup(func() {
		Exec(t, admin, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	})
	dsn, err := WithDatabase(admin, name)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	return dsn
}

// Exec runs one statement on a new connection to dsn; t.Fatal on error.
// Without args it uses the simple protocol, so sql may hold several
// statements.
func Exec(t testing.TB, dsn string, sql string, args ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), execTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("pgtest: connect: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		t.Fatalf("pgtest: exec %q: %v", sql, err)
	}
}

// Connect opens a connection to dsn, closed when the test ends.
func Connect(t testing.TB, dsn string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), execTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("pgtest: connect: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

func requireServer(t testing.TB) string {
	t.Helper()
	if adminDSN == "" {
		t.Fatal("pgtest: no server: call pgtest.Main from TestMain")
	}
	return adminDSN
}

// dbName turns a test name into a database name: lower-case letters,
// digits and single underscores, then "_" and a random suffix, at most 63
// bytes.
func dbName(test string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(test) {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			b.WriteRune(r)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "_"):
			b.WriteByte('_')
		}
	}
	base := b.String()
	if keep := maxIdentLen - 1 - suffixLen; len(base) > keep {
		base = base[:keep]
	}
	base = strings.Trim(base, "_")
	if base == "" {
		base = "test"
	}
	return base + "_" + randomHex(suffixLen/2)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails on Linux (crypto/rand panics otherwise)
	return hex.EncodeToString(b)
}

// WithDatabase returns dsn with its database replaced by dbname. It
// accepts URLs (postgres://, postgresql://) and keyword=value strings;
// for the latter it appends dbname=..., which wins over an earlier one.
// dbname must not need quoting in the keyword form (NewDB's names do not).
func WithDatabase(dsn, dbname string) (string, error) {
	if !strings.HasPrefix(dsn, "postgres://") && !strings.HasPrefix(dsn, "postgresql://") {
		if strings.ContainsAny(dbname, ` '\`) {
			return "", fmt.Errorf("with database: %q needs quoting", dbname)
		}
		return strings.TrimSpace(dsn + " dbname=" + dbname), nil
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return "", fmt.Errorf("with database: %w", err)
	}
	u.Path, u.RawPath = "/"+dbname, ""
	q := u.Query()
	q.Del("dbname")
	u.RawQuery = q.Encode()
	return u.String(), nil
}
