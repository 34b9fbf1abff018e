package changelog_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"spiral/changelog"
	"spiral/internal/pgtest"
	"spiral/rollup"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// ticks is a tracked table with 1m and 1h fixed tiers and one tenant column.
func ticks() *rollup.Table {
	return &rollup.Table{
		Name: "ticks", TimeColumn: "t", ScopeColumns: []string{"sym"}, ScopeTypes: []string{"int4"}, TimeZone: "UTC",
		Frames:  []rollup.Frame{{Name: "1m", Seconds: 60}, {Name: "1h", Seconds: 3600}},
		Columns: []rollup.Column{{Name: "price", Type: "float8", Kinds: []rollup.Kind{rollup.KindSum}}},
	}
}

// setup migrates a fresh database and creates t as a tracked table with
// minimal tier tables, the way the proxy's DDL does: one transaction.
func setup(t *testing.T, tbl *rollup.Table, baseDDL string) *pgx.Conn {
	t.Helper()
	conn := pgtest.Connect(t, pgtest.NewDB(t))
	ctx := context.Background()
	if err := changelog.Migrate(ctx, conn); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	stmts := []string{baseDDL}
	for _, f := range tbl.Frames {
		stmts = append(stmts, fmt.Sprintf(`CREATE TABLE %q (sym int, t timestamptz, row_count bigint)`, tbl.Name+"_"+f.Name))
	}
	stmts = append(stmts, changelog.TriggerDDL(tbl.Schema, tbl.Name)...)
	stmts = append(stmts, changelog.RegisterSQL(tbl))
	exec(t, conn, "BEGIN")
	for _, s := range stmts {
		exec(t, conn, s)
	}
	exec(t, conn, "COMMIT")
	return conn
}

func exec(t *testing.T, conn *pgx.Conn, sql string, args ...any) {
	t.Helper()
	if _, err := conn.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// marks returns the changelog as "t_start-t_end scope" lines, sorted.
func marks(t *testing.T, conn *pgx.Conn) []string {
	t.Helper()
	rows, err := conn.Query(context.Background(), `
		SELECT format('%s-%s %s', to_char(to_timestamp(t_start) AT TIME ZONE 'UTC', 'DD HH24:MI'),
		              to_char(to_timestamp(t_end) AT TIME ZONE 'UTC', 'DD HH24:MI'), coalesce(scope_values::text, '*'))
		FROM spiral.changelog ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func clearMarks(t *testing.T, conn *pgx.Conn) { exec(t, conn, "DELETE FROM spiral.marks") }

func expectMarks(t *testing.T, conn *pgx.Conn, want ...string) {
	t.Helper()
	got := marks(t, conn)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("marks:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	clearMarks(t, conn)
}

const ticksDDL = `CREATE TABLE ticks (t timestamptz NOT NULL, sym int NOT NULL, price float8)`

func TestMigrateIdempotent(t *testing.T) {
	conn := pgtest.Connect(t, pgtest.NewDB(t))
	for i := 0; i < 2; i++ {
		if err := changelog.Migrate(context.Background(), conn); err != nil {
			t.Fatalf("migrate %d: %v", i, err)
		}
	}
	var v int
	if err := conn.QueryRow(context.Background(), "SELECT max(version) FROM spiral.schema_migrations").Scan(&v); err != nil || v != 2 {
		t.Fatalf("version %d, %v", v, err)
	}
}

func TestMarksFromEveryKindOfWrite(t *testing.T) {
	conn := setup(t, ticks(), ticksDDL)
	exec(t, conn, `INSERT INTO ticks VALUES ('2024-01-01 10:00:05Z', 1, 1), ('2024-01-01 10:00:55Z', 1, 2),
		('2024-01-01 10:01:00Z', 1, 3), ('2024-01-01 10:00:30Z', 2, 4)`)
	expectMarks(t, conn, `01 10:00-01 10:01 {"sym": 1}`, `01 10:00-01 10:01 {"sym": 2}`, `01 10:01-01 10:02 {"sym": 1}`)

	// UPDATE marks the old and the new bucket and tenant.
	exec(t, conn, `UPDATE ticks SET sym = 3, t = '2024-01-01 11:30:00Z' WHERE price = 4`)
	expectMarks(t, conn, `01 10:00-01 10:01 {"sym": 2}`, `01 11:30-01 11:31 {"sym": 3}`)

	exec(t, conn, `DELETE FROM ticks WHERE price = 3`)
	expectMarks(t, conn, `01 10:01-01 10:02 {"sym": 1}`)

	exec(t, conn, `MERGE INTO ticks k USING (VALUES (1, 10.0)) AS v(sym, price) ON k.sym = v.sym AND k.price = 1
		WHEN MATCHED THEN UPDATE SET price = v.price`)
	expectMarks(t, conn, `01 10:00-01 10:01 {"sym": 1}`)

	_, err := conn.PgConn().CopyFrom(context.Background(), strings.NewReader("2024-01-02 00:00:00Z\t7\t1\n"), "COPY ticks FROM STDIN")
	if err != nil {
		t.Fatal(err)
	}
	expectMarks(t, conn, `02 00:00-02 00:01 {"sym": 7}`)

	// A statement touching nothing marks nothing.
	exec(t, conn, `UPDATE ticks SET price = 0 WHERE false`)
	expectMarks(t, conn)
}

// TestTenantsApart: a write of one tenant dirties only that tenant (invariant 5).
func TestTenantsApart(t *testing.T) {
	conn := setup(t, ticks(), ticksDDL)
	exec(t, conn, `INSERT INTO ticks SELECT '2024-01-01'::timestamptz + g * interval '1 minute', g % 3, g FROM generate_series(0, 5) g`)
	clearMarks(t, conn)
	exec(t, conn, `UPDATE ticks SET price = price + 1 WHERE sym = 2`)
	for _, m := range marks(t, conn) {
		if !strings.HasSuffix(m, `{"sym": 2}`) {
			t.Fatalf("a write to tenant 2 marked %s", m)
		}
	}
}

// TestBulkWriteSpans: more than 64 buckets of one tenant in one statement
// become one spanning mark; other tenants keep exact marks.
func TestBulkWriteSpans(t *testing.T) {
	conn := setup(t, ticks(), ticksDDL)
	exec(t, conn, `INSERT INTO ticks SELECT '2024-01-01'::timestamptz + g * interval '1 minute', 1, g FROM generate_series(0, 99) g
		UNION ALL SELECT '2024-01-01 05:00Z', 2, 0`)
	expectMarks(t, conn, `01 00:00-01 01:40 {"sym": 1}`, `01 05:00-01 05:01 {"sym": 2}`)
}

func TestUnscopedAndCalendarFinestFrame(t *testing.T) {
	tbl := &rollup.Table{Name: "events", TimeColumn: "at", TimeZone: "Europe/Berlin",
		Frames: []rollup.Frame{{Name: "1mon", Seconds: 2629746, Unit: rollup.Month}}}
	conn := setup(t, tbl, `CREATE TABLE events (at timestamptz NOT NULL, v int)`)
	// 2024-02-29 23:30 UTC is March 1st in Berlin.
	exec(t, conn, `INSERT INTO events VALUES ('2024-02-29 23:30:00Z', 1)`)
	// The month ends at April 1st 00:00 CEST, 22:00 UTC.
	expectMarks(t, conn, `29 23:00-31 22:00 {}`)
}

func TestTruncateEmptiesTiers(t *testing.T) {
	conn := setup(t, ticks(), ticksDDL)
	exec(t, conn, `INSERT INTO ticks VALUES ('2024-01-01Z', 1, 1)`)
	exec(t, conn, `INSERT INTO ticks_1m VALUES (1, '2024-01-01Z', 1)`)
	exec(t, conn, `TRUNCATE ticks`)
	var n int
	if err := conn.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM ticks_1m) + (SELECT count(*) FROM spiral.marks)`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("after TRUNCATE: %d tier rows + marks, %v", n, err)
	}
}

func TestDropForgetsTable(t *testing.T) {
	conn := setup(t, ticks(), ticksDDL)
	exec(t, conn, `INSERT INTO ticks VALUES ('2024-01-01Z', 1, 1)`)
	exec(t, conn, `DROP TABLE ticks_1h`)
	var n int
	if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM spiral.metadata`).Scan(&n); err != nil || n != 2 {
		t.Fatalf("after dropping a tier: %d metadata rows, want 2 (%v)", n, err)
	}
	exec(t, conn, `DROP TABLE ticks`)
	err := conn.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM spiral.metadata) + (SELECT count(*) FROM spiral.marks)
		+ (SELECT count(*) FROM pg_class WHERE relname LIKE 'ticks%')`).Scan(&n)
	if err != nil || n != 0 {
		t.Fatalf("after DROP TABLE: %d leftovers (metadata, marks, tier tables), %v", n, err)
	}
}

// TestForeignRegistrationRefused: a user cannot register a tier for a table
// it does not own (a forged tier would feed other users' queries).
func TestForeignRegistrationRefused(t *testing.T) {
	conn := setup(t, ticks(), ticksDDL)
	exec(t, conn, `DROP ROLE IF EXISTS mallory; CREATE ROLE mallory`)
	t.Cleanup(func() { exec(t, conn, `DROP OWNED BY mallory; DROP ROLE mallory`) })
	exec(t, conn, `GRANT CREATE ON SCHEMA public TO mallory`)
	exec(t, conn, `SET ROLE mallory`)
	exec(t, conn, `CREATE TABLE fake_tier (sym int)`)
	_, err := conn.Exec(context.Background(), `INSERT INTO spiral.metadata (view_schema, view_name, parent_view, frame_seconds,
		scope_columns, time_column, base_oid) VALUES ('public', 'fake_tier', 'ticks', 60, '{sym}', 't', 'ticks'::regclass)`)
	if err == nil || !strings.Contains(err.Error(), "row-level security") {
		t.Fatalf("forged registration: %v", err)
	}
	exec(t, conn, `RESET ROLE`)
}

func TestStatusAndLag(t *testing.T) {
	conn := setup(t, ticks(), ticksDDL)
	var lag *time.Duration
	ctx := context.Background()
	if err := conn.QueryRow(ctx, `SELECT spiral_lag('ticks')`).Scan(&lag); err != nil || lag != nil {
		t.Fatalf("clean table lag = %v, %v; want NULL", lag, err)
	}
	exec(t, conn, `INSERT INTO ticks VALUES ('2024-01-01 00:00Z', 1, 1), ('2024-01-01 00:05Z', 2, 1)`)
	var entries, scopes, seconds int64
	err := conn.QueryRow(ctx, `SELECT dirty_entries, dirty_scopes, dirty_seconds FROM spiral.status WHERE base_view = 'ticks'`).Scan(&entries, &scopes, &seconds)
	if err != nil || entries != 2 || scopes != 2 || seconds != 120 {
		t.Fatalf("status: entries=%d scopes=%d seconds=%d, %v", entries, scopes, seconds, err)
	}
	if err := conn.QueryRow(ctx, `SELECT spiral_lag('ticks')`).Scan(&lag); err != nil || lag == nil || *lag < 0 {
		t.Fatalf("dirty table lag = %v, %v", lag, err)
	}
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM spiral.scope_status WHERE base_view = 'ticks'`).Scan(&n); err != nil || n != 2 {
		t.Fatalf("scope_status rows = %d, %v", n, err)
	}
}

func TestRefreshOnDirectConnectionExplains(t *testing.T) {
	conn := setup(t, ticks(), ticksDDL)
	_, err := conn.Exec(context.Background(), `SELECT spiral_refresh('ticks')`)
	if err == nil || !strings.Contains(err.Error(), "0A000") {
		t.Fatalf("direct spiral_refresh: %v, want 0A000", err)
	}
}
