package proxy_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"spiral/internal/pgtest"
	"spiral/proxy"
)

// prepareHook rewrites statements marked /*prep*/ (the rewrite only changes
// the marker) and lets the proxy keep them prepared; /*finish*/ also
// finishes their first column as finishHook does.
type prepareHook struct{}

func (prepareHook) Statement(_ context.Context, _ *proxy.SessionState, kind proxy.StatementKind, sql string) proxy.Rewrite {
	if kind != proxy.SimpleQuery || !strings.Contains(sql, "/*prep*/") {
		return proxy.Rewrite{SQL: sql}
	}
	rw := proxy.Rewrite{SQL: strings.ReplaceAll(sql, "/*prep*/", "/*prepared*/"), Prepare: true}
	if strings.Contains(sql, "/*finish*/") {
		rw.Columns = halving{}
	}
	return rw
}

// preparedNames lists the proxy's statements prepared on conn's session.
func preparedNames(t *testing.T, conn *pgx.Conn) []string {
	t.Helper()
	rows, err := conn.Query(ctxT(t), `SELECT name || ':' || generic_plans FROM pg_prepared_statements
		WHERE name LIKE '\_\_spiral\_rw\_%' ORDER BY name`, pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// querySum runs a /*prep*/ query in the simple protocol and returns its
// one value and command tag.
func querySum(t *testing.T, conn *pgx.Conn, n int) (int64, string) {
	t.Helper()
	sql := fmt.Sprintf("SELECT /*prep*/ sum(x)::int8 FROM generate_series(1, %d) x", n)
	rows, err := conn.Query(ctxT(t), sql, pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		t.Fatal(err)
	}
	v, err := pgx.CollectExactlyOneRow(rows, pgx.RowTo[int64])
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return v, rows.CommandTag().String()
}

// TestPreparedRewriteRunsOnePlan: a rewritten simple Query that comes again
// runs the statement the proxy prepared for it, with PostgreSQL's one
// generic plan, and the client sees only the statement's own answer.
func TestPreparedRewriteRunsOnePlan(t *testing.T) {
	p := startProxy(t, func(c *proxy.Config) { c.Hook = prepareHook{} })
	conn := connect(t, p.dsn(t, pgtest.NewDB(t)))
	for run := 0; run < 3; run++ {
		if v, tag := querySum(t, conn, 10); v != 55 || tag != "SELECT 1" {
			t.Fatalf("run %d: got %d, tag %q; want 55, SELECT 1", run, v, tag)
		}
	}
	if got := fmt.Sprint(preparedNames(t, conn)); got != "[__spiral_rw_1:3]" {
		t.Fatalf("prepared statements %s, want one with 3 generic plans", got)
	}
	// Finished columns are the statement's, not the PREPARE's.
	for run := 0; run < 2; run++ {
		var halves []float64
		rows, err := conn.Query(ctxT(t), "SELECT /*prep*/ /*finish*/ x::text, x FROM generate_series(1, 3) x ORDER BY 2",
			pgx.QueryExecModeSimpleProtocol)
		if err != nil {
			t.Fatal(err)
		}
		if err := collectHalves(rows, &halves); err != nil || fmt.Sprint(halves) != "[0.5 1 1.5]" {
			t.Fatalf("run %d: halves %v, %v", run, halves, err)
		}
	}
}

// TestPreparedRewriteFollowsTimeZone: PostgreSQL reads a literal's time
// zone when it prepares a statement; after SET TimeZone the same text is
// prepared again.
func TestPreparedRewriteFollowsTimeZone(t *testing.T) {
	p := startProxy(t, func(c *proxy.Config) { c.Hook = prepareHook{} })
	conn := connect(t, p.dsn(t, pgtest.NewDB(t)))
	sql := "SELECT /*prep*/ extract(epoch FROM '2024-01-01 00:00'::timestamptz)::int8"
	for _, c := range []struct {
		zone string
		want int64
	}{{"UTC", 1704067200}, {"Asia/Kolkata", 1704047400}, {"UTC", 1704067200}} {
		mustExec(t, conn, "SET TimeZone = '"+c.zone+"'")
		for run := 0; run < 2; run++ {
			var got int64
			if err := conn.QueryRow(ctxT(t), sql, pgx.QueryExecModeSimpleProtocol).Scan(&got); err != nil || got != c.want {
				t.Fatalf("%s, run %d: got %d, %v; want %d", c.zone, run, got, err, c.want)
			}
		}
	}
}

// TestPreparedRewriteFailures: a failing statement, a failed PREPARE in an
// aborted transaction and the client's DEALLOCATE ALL and DISCARD ALL all
// leave later Queries answered correctly.
func TestPreparedRewriteFailures(t *testing.T) {
	p := startProxy(t, func(c *proxy.Config) { c.Hook = prepareHook{} })
	conn := connect(t, p.dsn(t, pgtest.NewDB(t)))
	ctx := ctxT(t)
	div := "SELECT /*prep*/ 1 / (x - 2) FROM generate_series(1, 3) x"
	for run := 0; run < 2; run++ {
		if _, err := conn.Exec(ctx, div, pgx.QueryExecModeSimpleProtocol); sqlState(err) != "22012" {
			t.Fatalf("run %d: %v, want 22012", run, err)
		}
	}
	mustExec(t, conn, "BEGIN")
	if _, err := conn.Exec(ctx, "SELECT 1/0", pgx.QueryExecModeSimpleProtocol); sqlState(err) != "22012" {
		t.Fatalf("got %v, want 22012", err)
	}
	_, err := conn.Exec(ctx, "SELECT /*prep*/ sum(x)::int8 FROM generate_series(1, 4) x", pgx.QueryExecModeSimpleProtocol)
	if sqlState(err) != "25P02" {
		t.Fatalf("in an aborted transaction: %v, want 25P02", err)
	}
	mustExec(t, conn, "ROLLBACK")
	for run := 0; run < 2; run++ {
		if v, _ := querySum(t, conn, 4); v != 10 {
			t.Fatalf("after ROLLBACK, run %d: got %d, want 10", run, v)
		}
	}
	// The failed PREPARE was forgotten and the statement prepared again.
	if got := fmt.Sprint(preparedNames(t, conn)); !strings.Contains(got, "__spiral_rw_3:2") {
		t.Fatalf("prepared statements %s, want __spiral_rw_3 with 2 generic plans", got)
	}
	for _, reset := range []string{"DEALLOCATE ALL", "DISCARD ALL", "deallocate all"} {
		mustExec(t, conn, reset)
		for run := 0; run < 2; run++ {
			if v, _ := querySum(t, conn, 4); v != 10 {
				t.Fatalf("after %q, run %d: got %d, want 10", reset, run, v)
			}
		}
	}
}

// TestPreparedRewriteEvicts: past the proxy's limit, the least recently
// used statement is deallocated; every answer stays right.
func TestPreparedRewriteEvicts(t *testing.T) {
	p := startProxy(t, func(c *proxy.Config) { c.Hook = prepareHook{} })
	conn := connect(t, p.dsn(t, pgtest.NewDB(t)))
	const distinct = 80 // over the proxy's limit of 64
	for round := 0; round < 2; round++ {
		for n := 1; n <= distinct; n++ {
			if v, _ := querySum(t, conn, n); v != int64(n*(n+1)/2) {
				t.Fatalf("round %d, n %d: got %d", round, n, v)
			}
		}
	}
	if got := len(preparedNames(t, conn)); got == 0 || got > 64 {
		t.Fatalf("%d statements prepared, want 1..64", got)
	}
}

// TestPreparedRewritePipelined: Queries sent before the answer to the one
// that prepares their text are answered as that one is.
func TestPreparedRewritePipelined(t *testing.T) {
	p := startProxy(t, func(c *proxy.Config) { c.Hook = prepareHook{} })
	conn := connect(t, p.dsn(t, pgtest.NewDB(t)))
	pc := conn.PgConn()
	got := pipeline(t, pc, "SELECT /*prep*/ sum(x)::int8 FROM generate_series(1, 6) x", 3)
	if fmt.Sprint(got) != "[21 SELECT 1 21 SELECT 1 21 SELECT 1]" {
		t.Fatalf("got %v", got)
	}
	if v, _ := querySum(t, conn, 6); v != 21 {
		t.Fatalf("afterwards: got %d", v)
	}
	// When the PREPARE fails, the Queries behind it fail as the statement
	// does, not for want of the prepared statement.
	if got := pipeline(t, pc, "SELECT /*prep*/ count(*) FROM no_such_table", 2); fmt.Sprint(got) != "[42P01 42P01]" {
		t.Fatalf("got %v, want 42P01 twice", got)
	}
}

// pipeline sends sql n times before reading any answer and returns the
// data values, command tags and SQLSTATEs of the answers.
func pipeline(t *testing.T, pc *pgconn.PgConn, sql string, n int) []string {
	t.Helper()
	for i := 0; i < n; i++ {
		pc.Frontend().Send(&pgproto3.Query{String: sql})
	}
	if err := pc.Frontend().Flush(); err != nil {
		t.Fatal(err)
	}
	var got []string
	for ready := 0; ready < n; {
		msg, err := pc.ReceiveMessage(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		switch m := msg.(type) {
		case *pgproto3.DataRow:
			got = append(got, string(m.Values[0]))
		case *pgproto3.CommandComplete:
			got = append(got, string(m.CommandTag))
		case *pgproto3.ErrorResponse:
			got = append(got, m.Code)
		case *pgproto3.ReadyForQuery:
			ready++
		}
	}
	return got
}

func mustExec(t *testing.T, conn *pgx.Conn, sql string) pgconn.CommandTag {
	t.Helper()
	tag, err := conn.Exec(ctxT(t), sql, pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return tag
}
