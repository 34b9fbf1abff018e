package engine_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"spiral/rollup"
	"spiral/stats"
)

const ticksDDL = `CREATE TABLE ticks (
  t timestamptz NOT NULL,
  sym int NOT NULL,
  price double precision, -- Spiral: ohlcv, stats, sketch, tdigest
  vol int                 -- Spiral: sum, max
) WITH (spiral.frames = '1m,1h,1d', spiral.tenant = 'sym')`

// frames are the tiers of ticks and their widths in seconds.
var frames = []struct {
	name string
	secs int
}{{"1m", 60}, {"1h", 3600}, {"1d", 86400}}

// checkTiers compares every row of every tier of ticks with the same
// aggregates computed straight from the raw table.
func checkTiers(t *testing.T, c *pgx.Conn) {
	t.Helper()
	for _, f := range frames {
		tier := "ticks_" + f.name
		got := query(t, c, fmt.Sprintf(`SELECT sym, t, row_count, vol, vol_max, price_ohlcv_h, price_ohlcv_l, price_ohlcv_v,
			(price_stats).n, CASE WHEN (price_stats).n > 0 THEN (price_stats).m1 END,
			CASE WHEN (price_stats).n > 1 THEN (price_stats).m2 / ((price_stats).n - 1) END
			FROM %s ORDER BY sym, t`, tier))
		want := query(t, c, fmt.Sprintf(`SELECT sym, to_timestamp(floor(extract(epoch FROM t) / %[1]d) * %[1]d) AS b, count(*),
			sum(vol), max(vol), max(price), min(price), count(price), count(price), avg(price), var_samp(price)
			FROM ticks GROUP BY 1, 2 ORDER BY 1, 2`, f.secs))
		sameRows(t, tier, got, want)
		checkOpenClose(t, c, tier, f.secs)
		checkSketches(t, c, tier)
	}
}

// checkOpenClose compares open and close with the first and last price.
func checkOpenClose(t *testing.T, c *pgx.Conn, tier string, secs int) {
	t.Helper()
	got := query(t, c, fmt.Sprintf(`SELECT sym, t, price_ohlcv_o, price_ohlcv_c FROM %s ORDER BY 1, 2`, tier))
	want := query(t, c, fmt.Sprintf(`SELECT sym, b, (array_agg(price ORDER BY t, price) FILTER (WHERE price IS NOT NULL))[1],
		(array_agg(price ORDER BY t DESC, price DESC) FILTER (WHERE price IS NOT NULL))[1]
		FROM (SELECT *, to_timestamp(floor(extract(epoch FROM t) / %[1]d) * %[1]d) AS b FROM ticks) s
		GROUP BY 1, 2 ORDER BY 1, 2`, secs))
	sameRows(t, tier+" open/close", got, want)
}

// checkSketches decodes every sketch and digest and checks its count, and
// that the median is within DDSketch's 1% of a value in the bucket's range.
func checkSketches(t *testing.T, c *pgx.Conn, tier string) {
	t.Helper()
	rows, err := c.Query(context.Background(), fmt.Sprintf(`SELECT price_sketch, price_tdigest, price_ohlcv_v, price_ohlcv_l, price_ohlcv_h FROM %s`, tier))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var sk, td []byte
		var n int64
		var lo, hi *float64
		if err := rows.Scan(&sk, &td, &n, &lo, &hi); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			if sk != nil || td != nil {
				t.Fatalf("%s: a bucket without prices has states", tier)
			}
			continue
		}
		var s stats.Sketch
		var d stats.TDigest
		if err := s.UnmarshalBinary(sk); err != nil || s.Count() != n {
			t.Fatalf("%s: sketch count %d for %d prices (%v)", tier, s.Count(), n, err)
		}
		if err := d.UnmarshalBinary(td); err != nil || d.Count() != n {
			t.Fatalf("%s: tdigest count %d for %d prices (%v)", tier, d.Count(), n, err)
		}
		med, _ := s.Quantile(0.5)
		if med < *lo*0.99 || med > *hi*1.01 {
			t.Fatalf("%s: sketch median %v outside [%v, %v]", tier, med, *lo, *hi)
		}
	}
}

func TestCreateTrackedTable(t *testing.T) {
	e := newEnv(t)
	c := connect(t, e.via)
	tag := exec(t, c, ticksDDL)
	if tag.String() != "CREATE TABLE" {
		t.Fatalf("tag %q, want CREATE TABLE", tag.String())
	}
	got := query(t, c, `SELECT view_name, parent_view, frame_seconds, array_to_string(scope_columns, ',') FROM spiral.metadata ORDER BY frame_seconds`)
	want := []string{"ticks | BASE | 0 | sym", "ticks_1m | ticks | 60 | sym", "ticks_1h | ticks | 3600 | sym", "ticks_1d | ticks | 86400 | sym"}
	sameRows(t, "spiral.metadata", got, want)
	// The same DDL again fails as CREATE TABLE would, and IF NOT EXISTS skips.
	if _, err := c.Exec(context.Background(), ticksDDL); sqlState(err) != "42P07" {
		t.Fatalf("second CREATE: %v, want 42P07", err)
	}
	exec(t, c, strings.Replace(ticksDDL, "CREATE TABLE", "CREATE TABLE IF NOT EXISTS", 1))
}

// TestBadDDLCreatesNothing: invalid spiral options and comments get a clear
// error with a SQLSTATE, and no table is left behind (invariant 6).
func TestBadDDLCreatesNothing(t *testing.T) {
	e := newEnv(t)
	c := connect(t, e.via)
	cases := map[string]string{
		"frames not multiples": `CREATE TABLE x (t timestamptz NOT NULL, v int) WITH (spiral.frames = '1h,90m')`,
		"unknown option":       `CREATE TABLE x (t timestamptz NOT NULL, v int) WITH (spiral.frames = '1m', spiral.colour = 'red')`,
		"unknown kind":         "CREATE TABLE x (t timestamptz NOT NULL,\n v int -- Spiral: average\n) WITH (spiral.frames = '1m')",
		"kind on text":         "CREATE TABLE x (t timestamptz NOT NULL,\n v text -- Spiral: stats\n) WITH (spiral.frames = '1m')",
		"missing tenant":       `CREATE TABLE x (t timestamptz NOT NULL, v int) WITH (spiral.frames = '1m', spiral.tenant = 'nope')`,
	}
	for name, ddl := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := c.Exec(context.Background(), ddl)
			code := sqlState(err)
			if code == "" || code[:2] != "22" && code[:2] != "42" {
				t.Fatalf("err = %v (%s), want a 22xxx or 42xxx error", err, code)
			}
			var n int
			if err := c.QueryRow(context.Background(), `SELECT count(*) FROM pg_class WHERE relname LIKE 'x%'`).Scan(&n); err != nil || n != 0 {
				t.Fatalf("%d relations left behind (%v)", n, err)
			}
		})
	}
}

// load inserts a deterministic spread of ticks: late, out of order, with
// NULL prices, over three days and three tenants.
func load(t *testing.T, c *pgx.Conn, seed int) {
	t.Helper()
	exec(t, c, fmt.Sprintf(`INSERT INTO ticks
		SELECT '2024-03-01'::timestamptz + ((g * 7919 + %d) %% 259200) * interval '1 second',
		       g %% 3, CASE WHEN g %% 17 = 0 THEN NULL ELSE 100 + ((g * 31) %% 1000) / 7.0 END, g %% 50
		FROM generate_series(1, 3000) g`, seed))
}

func TestRefreshThroughProxy(t *testing.T) {
	e := newEnv(t)
	c := connect(t, e.via)
	exec(t, c, ticksDDL)
	load(t, c, 0)
	var n int64
	if err := c.QueryRow(context.Background(), `SELECT spiral_refresh('ticks')`, pgx.QueryExecModeSimpleProtocol).Scan(&n); err != nil || n == 0 {
		t.Fatalf("spiral_refresh = %d, %v", n, err)
	}
	checkTiers(t, c)
	// Updates, deletes and late rows; refreshed through the extended
	// protocol and pgx's statement cache, twice.
	exec(t, c, `UPDATE ticks SET price = price * 2, t = t + interval '40 minutes' WHERE sym = 1 AND vol < 10`)
	exec(t, c, `DELETE FROM ticks WHERE sym = 2 AND vol > 40`)
	load(t, c, 11)
	for i, want := range []bool{true, false} {
		if err := c.QueryRow(context.Background(), `SELECT spiral_refresh('ticks')`).Scan(&n); err != nil || (n > 0) != want {
			t.Fatalf("extended refresh %d = %d, %v", i, n, err)
		}
	}
	checkTiers(t, c)
	var lag *time.Duration
	if err := c.QueryRow(context.Background(), `SELECT spiral_lag('ticks')`).Scan(&lag); err != nil || lag != nil {
		t.Fatalf("lag after refresh = %v, %v; want NULL", lag, err)
	}
}

// TestCancelRefresh: spiral_refresh runs in spiral, not upstream, so a
// cancel request must stop it there. The refresh waits for the table's
// refresh lock, held by another connection; a CancelRequest answers it
// with 57014, and once the lock is free it does not go on: the marks stay.
// A client that hangs up instead stops it the same way.
func TestCancelRefresh(t *testing.T) {
	e := newEnv(t)
	via, direct := connect(t, e.via), connect(t, e.direct)
	exec(t, via, ticksDDL)
	load(t, via, 0)
	exec(t, direct, `SELECT pg_advisory_lock(21328, 'ticks'::regclass::oid::int)`) // lockTable's key
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeSimpleProtocol, pgx.QueryExecModeCacheStatement} {
		c := connect(t, e.via)
		waitLockWaiter(t, direct, false) // the last mode's refresh is gone
		done := make(chan error, 1)
		go func() {
			var n int64
			done <- c.QueryRow(context.Background(), `SELECT spiral_refresh('ticks')`, mode).Scan(&n)
		}()
		waitLockWaiter(t, direct, true)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := c.PgConn().CancelRequest(ctx); err != nil {
			t.Fatal(err)
		}
		cancel()
		select {
		case err := <-done:
			if sqlState(err) != "57014" {
				t.Fatalf("%v: cancelled refresh: %v, want 57014", mode, err)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("%v: the cancel request did not stop spiral_refresh", mode)
		}
		if got := query(t, c, `SELECT 1`); len(got) != 1 {
			t.Fatalf("%v: session after the cancel: %v", mode, got)
		}
	}
	// A client that hangs up mid-refresh stops it too: nobody is left to
	// answer, and it would hold a connection and the table's lock. (pgx
	// sends a cancel request when its connection breaks, so the hang-up is
	// done on a hijacked connection, with no cancel request.)
	waitLockWaiter(t, direct, false)
	hangUpMidStatement(t, e.via, `SELECT spiral_refresh('ticks')`, func() { waitLockWaiter(t, direct, true) })
	waitLockWaiter(t, direct, false)
	exec(t, direct, `SELECT pg_advisory_unlock(21328, 'ticks'::regclass::oid::int)`)
	time.Sleep(500 * time.Millisecond) // time for a refresh that was not stopped to run
	if got := query(t, direct, `SELECT count(*) > 0 FROM spiral.marks`); got[0] != "true" {
		t.Fatalf("marks after the cancelled refreshes: %v; the refresh went on", got)
	}
}

// hangUpMidStatement sends sql in the simple protocol on a new connection,
// calls running, and closes the connection without a word.
func hangUpMidStatement(t *testing.T, dsn, sql string, running func()) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	pc, err := pgconn.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	hc, err := pc.Hijack()
	if err != nil {
		t.Fatal(err)
	}
	hc.Frontend.Send(&pgproto3.Query{String: sql})
	if err := hc.Frontend.Flush(); err != nil {
		t.Fatal(err)
	}
	running()
	_ = hc.Conn.Close()
}

// waitLockWaiter polls until a backend of the test's database waits for an
// advisory lock (the refresh under test has reached lockTable), or, when
// want is false, until none does.
func waitLockWaiter(t *testing.T, c *pgx.Conn, want bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		got := query(t, c, `SELECT count(*) > 0 FROM pg_stat_activity WHERE datname = current_database() AND wait_event = 'advisory'`)
		if got[0] == fmt.Sprint(want) {
			return
		}
	}
	t.Fatalf("waiting for the refresh lock: still not %v after 20 s", want)
}

// TestEqualTenantsWithOtherText: marks of one tenant whose jsonb text
// differs (numeric 1.0 and 1.00, written by two statements) are one tenant
// to the refresh: its rows are aggregated once, not once per mark.
func TestEqualTenantsWithOtherText(t *testing.T) {
	e := newEnv(t)
	c := connect(t, e.via)
	exec(t, c, `CREATE TABLE acct (t timestamptz NOT NULL, a numeric NOT NULL,
		x int -- Spiral: sum
		) WITH (spiral.frames = '1m,1h', spiral.tenant = 'a')`)
	exec(t, c, `INSERT INTO acct VALUES ('2024-01-01 00:00:10+00', 1.0, 1), ('2024-01-01 00:00:20+00', 2, 5)`)
	exec(t, c, `INSERT INTO acct VALUES ('2024-01-01 00:00:30+00', 1.00, 2)`)
	if got := query(t, c, `SELECT scope_values::text FROM spiral.changelog ORDER BY 1`); len(got) != 3 {
		t.Fatalf("want marks for 1.0, 1.00 and 2: %v", got)
	}
	exec(t, c, `SELECT spiral_refresh('acct')`)
	for _, tier := range []string{"acct_1m", "acct_1h"} {
		got := query(t, c, `SELECT a::text, row_count, x FROM `+tier+` ORDER BY a`)
		if fmt.Sprint(got) != "[1.0 | 2 | 3 2 | 1 | 5]" {
			t.Errorf("%s: %v", tier, got)
		}
	}
}

func TestRefreshScope(t *testing.T) {
	e := newEnv(t)
	c := connect(t, e.via)
	exec(t, c, ticksDDL)
	load(t, c, 0)
	var n int64
	if err := c.QueryRow(context.Background(), `SELECT spiral_refresh('ticks', 'sym = 1')`, pgx.QueryExecModeSimpleProtocol).Scan(&n); err != nil || n == 0 {
		t.Fatalf("scoped refresh = %d, %v", n, err)
	}
	left := query(t, c, `SELECT DISTINCT scope_values->>'sym' FROM spiral.changelog ORDER BY 1`)
	if strings.Join(left, ",") != "0,2" {
		t.Fatalf("tenants still dirty after refreshing sym 1: %v", left)
	}
	_, err := c.Exec(context.Background(), `SELECT spiral_refresh('ticks', 'price > 3')`, pgx.QueryExecModeSimpleProtocol)
	if sqlState(err) != "22023" {
		t.Fatalf("bad scope: %v, want 22023", err)
	}
	_, err = c.Exec(context.Background(), `SELECT spiral_refresh('nope')`, pgx.QueryExecModeSimpleProtocol)
	if sqlState(err) != "42P01" {
		t.Fatalf("untracked table: %v, want 42P01", err)
	}
}

func TestWorkerKeepsTiersCurrent(t *testing.T) {
	e := newEnv(t)
	c := connect(t, e.via)
	exec(t, c, ticksDDL)
	e.worker(t)
	load(t, c, 0)
	exec(t, c, `DELETE FROM ticks WHERE vol = 3`)
	waitClean(t, c)
	checkTiers(t, c)
}

// waitClean polls spiral_lag until the table has no dirty marks.
func waitClean(t *testing.T, c *pgx.Conn) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		var lag *time.Duration
		if err := c.QueryRow(context.Background(), `SELECT spiral_lag('ticks')`).Scan(&lag); err != nil {
			t.Fatal(err)
		}
		if lag == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still dirty after 60s (lag %v)", *lag)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestAlterFramesBackfills(t *testing.T) {
	e := newEnv(t)
	c := connect(t, e.via)
	exec(t, c, strings.Replace(ticksDDL, "'1m,1h,1d'", "'1m,1d'", 1))
	load(t, c, 0)
	exec(t, c, `SELECT spiral_refresh('ticks')`)
	tag := exec(t, c, `ALTER TABLE ticks SET (spiral.frames = '1m,1h,1d')`)
	if tag.String() != "ALTER TABLE" {
		t.Fatalf("tag %q", tag.String())
	}
	exec(t, c, `SELECT spiral_refresh('ticks')`)
	checkTiers(t, c)
}

func TestDropAndTruncate(t *testing.T) {
	e := newEnv(t)
	c := connect(t, e.via)
	exec(t, c, ticksDDL)
	load(t, c, 0)
	exec(t, c, `SELECT spiral_refresh('ticks')`)
	exec(t, c, `TRUNCATE ticks`)
	var n int
	if err := c.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM ticks_1m) + (SELECT count(*) FROM ticks_1d)`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("tiers after TRUNCATE: %d rows, %v", n, err)
	}
	exec(t, c, `DROP TABLE ticks`)
	if err := c.QueryRow(context.Background(), `SELECT count(*) FROM pg_class WHERE relname LIKE 'ticks%'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("after DROP: %d relations, %v", n, err)
	}
}

// TestRefreshVacuumsChangelog: once a refresh has removed
// rollup.DefaultVacuumAfter marks, the changelog is vacuumed, so rewritten
// queries' bitmap scans of it stop visiting removed marks; a small refresh
// does not vacuum.
func TestRefreshVacuumsChangelog(t *testing.T) {
	e := newEnv(t)
	c := connect(t, e.via)
	exec(t, c, `CREATE TABLE m (t timestamptz NOT NULL, dev int NOT NULL,
		x int -- Spiral: sum
		) WITH (spiral.frames = '1m', spiral.tenant = 'dev')`)
	vacuums := func() string {
		return query(t, c, `SELECT vacuum_count FROM pg_stat_user_tables WHERE relid = 'spiral.marks'::regclass`)[0]
	}
	insert := func(tenants int) {
		exec(t, c, fmt.Sprintf(`INSERT INTO m SELECT '2024-01-01', g, 1 FROM generate_series(1, %d) g`, tenants))
		exec(t, c, `SELECT spiral_refresh('m')`)
	}
	insert(10)
	if got := vacuums(); got != "0" {
		t.Fatalf("10 marks removed: %s vacuums, want 0", got)
	}
	insert(rollup.DefaultVacuumAfter)
	if got := vacuums(); got != "1" {
		t.Fatalf("%d marks removed: %s vacuums, want 1", rollup.DefaultVacuumAfter+10, got)
	}
	if got := query(t, c, `SELECT n_dead_tup FROM pg_stat_user_tables WHERE relid = 'spiral.marks'::regclass`)[0]; got != "0" {
		t.Errorf("dead marks after the vacuum: %s", got)
	}
}
