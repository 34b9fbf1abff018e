package proxy_test

import (
	"bytes"
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"spiral/internal/pgtest"
)

// resultQuery returns values of many types, so extended-protocol runs move
// them in binary format and simple-protocol runs in text format.
const resultQuery = `
SELECT g, g::bigint * 1000000000, g / 7.0, (g / 3.0)::float8, 'row ' || g, g % 2 = 0,
       '2024-03-01 12:00:00+00'::timestamptz + g * interval '1 day', ARRAY[g, g + 1],
       ('{"k": ' || g || '}')::jsonb, decode(md5(g::text), 'hex'), NULLIF(g % 3, 0)
FROM generate_series(1, 200) g ORDER BY g`

func collect(t *testing.T, conn *pgx.Conn, mode pgx.QueryExecMode) [][]any {
	t.Helper()
	rows, err := conn.Query(ctxT(t), resultQuery, mode)
	if err != nil {
		t.Fatalf("query (%v): %v", mode, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) ([]any, error) { return r.Values() })
	if err != nil {
		t.Fatalf("collect (%v): %v", mode, err)
	}
	return out
}

// TestPgxResultsSameAsDirect compares every protocol mode's results through
// the proxy with the same query run directly.
func TestPgxResultsSameAsDirect(t *testing.T) {
	p := startProxy(t, nil)
	db := pgtest.NewDB(t)
	direct, proxied := connect(t, db), connect(t, p.dsn(t, db))
	modes := []pgx.QueryExecMode{pgx.QueryExecModeCacheStatement, pgx.QueryExecModeCacheDescribe,
		pgx.QueryExecModeDescribeExec, pgx.QueryExecModeExec, pgx.QueryExecModeSimpleProtocol}
	want := collect(t, direct, pgx.QueryExecModeCacheStatement)
	if len(want) != 200 {
		t.Fatalf("direct returned %d rows", len(want))
	}
	for _, mode := range modes {
		t.Run(mode.String(), func(t *testing.T) {
			for i := 0; i < 3; i++ { // the cache modes reuse their prepared statement
				if got := collect(t, proxied, mode); !reflect.DeepEqual(got, want) {
					t.Fatalf("run %d: results differ from direct", i)
				}
			}
		})
	}
}

func TestPreparedStatements(t *testing.T) {
	p := startProxy(t, nil)
	conn := connect(t, p.dsn(t, pgtest.NewDB(t)))
	ctx := ctxT(t)
	if _, err := conn.Prepare(ctx, "sq", "SELECT $1::int * $1::int"); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 5; i++ {
		var got int
		if err := conn.QueryRow(ctx, "sq", i).Scan(&got); err != nil || got != i*i {
			t.Fatalf("sq(%d) = %d, %v", i, got, err)
		}
	}
	if err := conn.Deallocate(ctx, "sq"); err != nil {
		t.Fatal(err)
	}
	// A server-side PREPARE lives in the session too.
	if _, err := conn.Exec(ctx, "PREPARE s2 AS SELECT 'ok'::text", pgx.QueryExecModeSimpleProtocol); err != nil {
		t.Fatal(err)
	}
	var s string
	if err := conn.QueryRow(ctx, "EXECUTE s2", pgx.QueryExecModeSimpleProtocol).Scan(&s); err != nil || s != "ok" {
		t.Fatalf("EXECUTE s2 = %q, %v", s, err)
	}
}

// TestBatchPipeline sends a batch (one pipelined round trip) including a
// failing statement in the middle.
func TestBatchPipeline(t *testing.T) {
	p := startProxy(t, nil)
	conn := connect(t, p.dsn(t, pgtest.NewDB(t)))
	ctx := ctxT(t)
	if _, err := conn.Exec(ctx, "CREATE TEMP TABLE bt (n int)"); err != nil {
		t.Fatal(err)
	}
	b := &pgx.Batch{}
	b.Queue("TRUNCATE bt")
	for i := 0; i < 100; i++ {
		b.Queue("INSERT INTO bt VALUES ($1)", i)
	}
	b.Queue("SELECT sum(n) FROM bt")
	res := conn.SendBatch(ctx, b)
	for i := 0; i < 101; i++ {
		if _, err := res.Exec(); err != nil {
			t.Fatalf("batch statement %d: %v", i, err)
		}
	}
	var sum int
	if err := res.QueryRow().Scan(&sum); err != nil || sum != 4950 {
		t.Fatalf("sum = %d, %v", sum, err)
	}
	if err := res.Close(); err != nil {
		t.Fatal(err)
	}
	bad := &pgx.Batch{}
	bad.Queue("SELECT 1")
	bad.Queue("SELECT 1/0")
	bad.Queue("SELECT 3")
	err := conn.SendBatch(ctx, bad).Close()
	if sqlState(err) != "22012" {
		t.Fatalf("failing batch: %v, want 22012", err)
	}
	var one int
	if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("session unusable after failed batch: %v", err)
	}
}

// TestLowLevelPipeline drives pgconn's pipeline mode: several statements,
// one Sync.
func TestLowLevelPipeline(t *testing.T) {
	p := startProxy(t, nil)
	conn := connect(t, p.dsn(t, pgtest.NewDB(t)))
	ctx := ctxT(t)
	pl := conn.PgConn().StartPipeline(ctx)
	for i := 0; i < 10; i++ {
		pl.SendQueryParams(fmt.Sprintf("SELECT %d + $1::int", i), [][]byte{[]byte("1")}, nil, nil, nil)
	}
	if err := pl.Sync(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		res, err := pl.GetResults()
		if err != nil {
			t.Fatalf("result %d: %v", i, err)
		}
		rr, ok := res.(*pgconn.ResultReader)
		if !ok {
			t.Fatalf("result %d is %T", i, res)
		}
		r := rr.Read()
		if r.Err != nil || len(r.Rows) != 1 || string(r.Rows[0][0]) != fmt.Sprint(i+1) {
			t.Fatalf("result %d: %v %q", i, r.Err, r.Rows)
		}
	}
	if res, err := pl.GetResults(); err != nil {
		t.Fatal(err)
	} else if _, ok := res.(*pgconn.PipelineSync); !ok {
		t.Fatalf("got %T, want PipelineSync", res)
	}
	if err := pl.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestCopyFromAndTo(t *testing.T) {
	p := startProxy(t, nil)
	conn := connect(t, p.dsn(t, pgtest.NewDB(t)))
	ctx := ctxT(t)
	if _, err := conn.Exec(ctx, "CREATE TABLE c (id int, payload text)"); err != nil {
		t.Fatal(err)
	}
	const n = 50000
	rows := make([][]any, n)
	for i := range rows {
		rows[i] = []any{int32(i), fmt.Sprintf("payload %d %s", i, "xxxxxxxxxxxxxxxx")}
	}
	copied, err := conn.CopyFrom(ctx, pgx.Identifier{"c"}, []string{"id", "payload"}, pgx.CopyFromRows(rows))
	if err != nil || copied != n {
		t.Fatalf("CopyFrom: %d, %v", copied, err)
	}
	var buf bytes.Buffer
	tag, err := conn.PgConn().CopyTo(ctx, &buf, "COPY c TO STDOUT")
	if err != nil || tag.RowsAffected() != n {
		t.Fatalf("CopyTo: %v, %v", tag, err)
	}
	if lines := strings.Count(buf.String(), "\n"); lines != n {
		t.Fatalf("COPY TO STDOUT gave %d lines, want %d", lines, n)
	}
	// A COPY FROM that fails half way leaves the session usable.
	_, err = conn.PgConn().CopyFrom(ctx, strings.NewReader("1\tok\nnot-a-number\tbad\n"), "COPY c FROM STDIN")
	if sqlState(err) != "22P02" {
		t.Fatalf("bad COPY: %v, want 22P02", err)
	}
	var count int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM c").Scan(&count); err != nil || count != n {
		t.Fatalf("count after failed COPY = %d, %v", count, err)
	}
}

// TestContextCancel cancels a long query through pgx's context, which sends
// a CancelRequest with the key the proxy minted; the proxy must map it to
// the upstream backend.
func TestContextCancel(t *testing.T) {
	p := startProxy(t, nil)
	conn := connect(t, p.dsn(t, pgtest.NewDB(t)))
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := conn.Exec(ctx, "SELECT pg_sleep(30)")
	took := time.Since(start)
	t.Logf("cancelled after %v: %v", took, err)
	if sqlState(err) != "57014" && !pgconn.Timeout(err) {
		t.Fatalf("err = %v, want query_canceled (57014)", err)
	}
	if took > 10*time.Second {
		t.Fatalf("cancel took %v: the query was not cancelled upstream", took)
	}
	// A direct cancel with the proxy-issued key reaches the same backend.
	conn2 := connect(t, p.dsn(t, pgtest.NewDB(t)))
	done := make(chan error, 1)
	go func() { _, err := conn2.Exec(context.Background(), "SELECT pg_sleep(30)"); done <- err }()
	waitActive(t, "pg_sleep(30)", 1)
	cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer ccancel()
	if err := conn2.PgConn().CancelRequest(cctx); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if sqlState(err) != "57014" {
			t.Fatalf("cancelled query: %v, want 57014", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("CancelRequest did not cancel the upstream query")
	}
}

// waitActive polls pg_stat_activity until n backends run a query containing
// text.
func waitActive(t *testing.T, text string, n int) {
	t.Helper()
	admin := connect(t, pgtest.AdminDSN())
	deadline := time.Now().Add(20 * time.Second)
	for {
		var got int
		err := admin.QueryRow(ctxT(t), `SELECT count(*) FROM pg_stat_activity
			WHERE state = 'active' AND query LIKE '%' || $1 || '%' AND pid <> pg_backend_pid()`, text).Scan(&got)
		if err != nil {
			t.Fatal(err)
		}
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d backends run %q, want %d", got, text, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestListenNotify(t *testing.T) {
	p := startProxy(t, nil)
	db := pgtest.NewDB(t)
	listener, notifier := connect(t, p.dsn(t, db)), connect(t, p.dsn(t, db))
	ctx := ctxT(t)
	if _, err := listener.Exec(ctx, "LISTEN spiral_events"); err != nil {
		t.Fatal(err)
	}
	if _, err := notifier.Exec(ctx, "SELECT pg_notify('spiral_events', 'hello')"); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	n, err := listener.WaitForNotification(wctx)
	if err != nil {
		t.Fatalf("no notification: %v", err)
	}
	if n.Channel != "spiral_events" || n.Payload != "hello" {
		t.Fatalf("notification %+v", n)
	}
}

// TestStartupParametersForwarded checks that startup parameters (options,
// application_name, JDBC's extra_float_digits) reach the server verbatim.
func TestStartupParametersForwarded(t *testing.T) {
	p := startProxy(t, nil)
	dsn := p.dsn(t, pgtest.NewDB(t)) + "&application_name=spiral-test&options=-c%20search_path%3Dfoo,public&extra_float_digits=2"
	conn := connect(t, dsn)
	var app, path, efd string
	err := conn.QueryRow(ctxT(t), "SELECT current_setting('application_name'), current_setting('search_path'), current_setting('extra_float_digits')").Scan(&app, &path, &efd)
	if err != nil {
		t.Fatal(err)
	}
	if app != "spiral-test" || path != "foo,public" || efd != "2" {
		t.Fatalf("application_name=%q search_path=%q extra_float_digits=%q", app, path, efd)
	}
}
