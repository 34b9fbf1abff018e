package engine_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
)

const overflowDDL = `CREATE TABLE ov (
  t timestamptz NOT NULL,
  sym int NOT NULL,
  x double precision -- Spiral: sum, ohlcv
) WITH (spiral.frames = '1m,1h,1d', spiral.tenant = 'sym')`

// poison is two rows whose float8 sum overflows: PostgreSQL fails any sum
// over both (22003), raw or in a tier.
const poison = `INSERT INTO ov VALUES ('2024-03-02 10:00:05', 1, 1e308), ('2024-03-02 10:00:06', 1, 1e308)`

// refreshErr runs spiral_refresh('ov') through the proxy.
func refreshErr(c *pgx.Conn) (int64, error) {
	var n int64
	err := c.QueryRow(context.Background(), `SELECT spiral_refresh('ov')`, pgx.QueryExecModeSimpleProtocol).Scan(&n)
	return n, err
}

// cleanHour is SQL: no mark is left on the hour (h, sym).
const cleanHour = `NOT EXISTS (SELECT FROM spiral.marks m WHERE (m.scope IS NULL OR (m.scope ->> 'sym')::int = %[2]s)
	AND m.t_start < extract(epoch FROM %[1]s) + 3600 AND m.t_end > extract(epoch FROM %[1]s))`

// checkCleanHours compares the hourly tier with the raw table on every
// clean hour (cleanHour) and checks that at least minSym1 hours of sym 1
// were compared. The sums are of integral floats, so exact.
func checkCleanHours(t *testing.T, c *pgx.Conn, minSym1 int) {
	t.Helper()
	got := query(t, c, `SELECT t, sym, x, row_count FROM ov_1h h WHERE `+fmt.Sprintf(cleanHour, "h.t", "h.sym")+` ORDER BY 1, 2`)
	want := query(t, c, `SELECT date_trunc('hour', t) hh, sym, sum(x), count(*) FROM ov
		WHERE `+fmt.Sprintf(cleanHour, "date_trunc('hour', t)", "sym")+` GROUP BY 1, 2 ORDER BY 1, 2`)
	sameRows(t, "ov_1h where no mark is left", got, want)
	n := 0
	for _, r := range got {
		if strings.Contains(r, " | 1 | ") {
			n++
		}
	}
	if n < minSym1 {
		t.Fatalf("only %d clean hours of sym 1 compared, want at least %d: the refresh left too much dirty", n, minSym1)
	}
}

// TestFailingRangeIsSetAside: a range whose recomputation fails on its
// data (a float8 sum that overflows) no longer stops the table's refresh.
// spiral_refresh recomputes everything else and fails with the data's
// SQLSTATE; the failing marks stay, listed in spiral.failed_ranges; a
// query over them gets the raw table's error, one elsewhere its answer;
// the worker keeps the rest of the table current and does not retry the
// failing marks before their time; once the data is fixed, they refresh.
// A backfill's one mark for every tenant is split so that only its
// failing tenant's day stays behind.
func TestFailingRangeIsSetAside(t *testing.T) {
	e := newEnv(t)
	c := connect(t, e.via)
	ctx := context.Background()
	exec(t, c, overflowDDL)
	exec(t, c, `INSERT INTO ov SELECT '2024-03-01'::timestamptz + (g * 97 % 259200) * interval '1 second', g % 3, (g % 1000)::float8
		FROM generate_series(1, 3000) g`)
	exec(t, c, poison)

	n, err := refreshErr(c)
	if sqlState(err) != "22003" || !strings.Contains(err.Error(), "could not be recomputed") {
		t.Fatalf("spiral_refresh = %d, %v; want 22003 naming the ranges", n, err)
	}
	checkSetAside(t, c, `{"sym": 1}`)
	checkCleanHours(t, c, 20)
	_, err = c.Exec(ctx, `SELECT date_trunc('day', t), sum(x) FROM ov GROUP BY 1`)
	if sqlState(err) != "22003" {
		t.Fatalf("query over the failing range: %v, want the raw table's 22003", err)
	}
	const others = `SELECT date_trunc('hour', t) h, sym, sum(x), max(x), count(*) FROM ov WHERE sym <> 1 GROUP BY 1, 2 ORDER BY 1, 2`
	sameRows(t, "query outside the failing range", query(t, c, others), query(t, connect(t, e.direct), others))

	reg := e.worker(t)
	exec(t, c, `INSERT INTO ov VALUES ('2024-03-03 07:00:00', 0, 5), ('2024-03-01 07:00:00', 1, 6)`)
	waitOnlySetAside(t, c)
	if got, want := gauge(t, reg, "spiral_failed_ranges", "public.ov"), query(t, c, `SELECT count(*) FROM spiral.failed_ranges`)[0]; fmt.Sprint(got) != want || got == 0 {
		t.Fatalf("spiral_failed_ranges = %v, want %s", got, want)
	}
	checkCleanHours(t, c, 20)
	var retried int
	if err := c.QueryRow(ctx, `SELECT count(*) FROM spiral.failed_ranges WHERE failures > 1`).Scan(&retried); err != nil || retried != 0 {
		t.Fatalf("%d failing ranges retried before their time, %v", retried, err)
	}

	exec(t, c, `DELETE FROM ov WHERE x > 1e300`)
	if n, err := refreshErr(c); err != nil || n == 0 {
		t.Fatalf("refresh after the fix = %d, %v", n, err)
	}
	checkCleanHours(t, c, 72)
	if left := query(t, c, `SELECT count(*) FROM spiral.marks`); left[0] != "0" {
		t.Fatalf("%s marks left after the fix", left[0])
	}
	if got := gauge(t, reg, "spiral_failed_ranges", "public.ov"); got != 0 {
		t.Fatalf("spiral_failed_ranges = %v after the fix, want 0", got)
	}

	exec(t, c, poison)
	exec(t, c, `ALTER TABLE ov SET (spiral.frames = '1m,1h')`)
	if _, err := refreshErr(c); sqlState(err) != "22003" {
		t.Fatalf("backfill refresh: %v, want 22003", err)
	}
	if left := query(t, c, `SELECT count(*) FROM spiral.marks WHERE scope IS NULL OR scope ->> 'sym' <> '1'`); left[0] != "0" {
		t.Fatalf("%s marks of every tenant or of the other tenants left: the backfill's failing chunk was not split by tenant", left[0])
	}
	aside := query(t, c, `SELECT scope_values::text, range_start <= '2024-03-02 10:00:05' AND range_end > '2024-03-02 10:00:05'
		AND range_end - range_start <= interval '1 day' FROM spiral.failed_ranges`)
	// The poison's own minute mark and the backfill's part for sym 1.
	if len(aside) != 2 || aside[0] != `{"sym": 1} | true` || aside[1] != aside[0] {
		t.Fatalf("ranges set aside after the backfill: %v; want two of sym 1, each at most a day holding the poison", aside)
	}
	checkCleanHours(t, c, 20)
}

// gauge gathers reg and returns the value of the gauge name for table.
func gauge(t *testing.T, reg *prometheus.Registry, name, table string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			if mf.GetName() == name && len(m.GetLabel()) == 1 && m.GetLabel()[0].GetValue() == table {
				return m.GetGauge().GetValue()
			}
		}
	}
	t.Fatalf("no %s{table=%q} among the worker's metrics", name, table)
	return 0
}

// checkSetAside checks that every mark left is of scope, overlaps the
// poisoned day 2024-03-02 and is set aside with the overflow's SQLSTATE.
func checkSetAside(t *testing.T, c *pgx.Conn, scope string) {
	t.Helper()
	marks := query(t, c, `SELECT scope_values::text, to_timestamp(t_start) < '2024-03-03' AND to_timestamp(t_end) > '2024-03-02' FROM spiral.changelog`)
	if len(marks) == 0 {
		t.Fatal("no marks left: the failing range was refreshed or dropped")
	}
	for _, m := range marks {
		if m != scope+" | true" {
			t.Fatalf("marks left: %v; want only %s on 2024-03-02", marks, scope)
		}
	}
	aside := query(t, c, `SELECT DISTINCT sqlstate FROM spiral.failed_ranges`)
	if n := query(t, c, `SELECT count(*) FROM spiral.failed_ranges`); n[0] != fmt.Sprint(len(marks)) || len(aside) != 1 || aside[0] != "22003" {
		t.Fatalf("spiral.failed_ranges: %s rows, SQLSTATEs %v, for %d marks", n[0], aside, len(marks))
	}
}

// waitOnlySetAside waits until every mark left is one set aside.
func waitOnlySetAside(t *testing.T, c *pgx.Conn) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		var n int
		err := c.QueryRow(context.Background(), `SELECT count(*) FROM spiral.marks m
			WHERE NOT EXISTS (SELECT FROM spiral.refresh_failures f WHERE f.mark_id = m.id)`).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d marks still pending after 60s", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
