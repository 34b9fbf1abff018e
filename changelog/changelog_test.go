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
	var versions [2]int
	for i := range versions {
		if err := changelog.Migrate(context.Background(), conn); err != nil {
			t.Fatalf("migrate %d: %v", i, err)
		}
		err := conn.QueryRow(context.Background(), "SELECT max(version) FROM spiral.schema_migrations").Scan(&versions[i])
		if err != nil || versions[i] < 2 {
			t.Fatalf("version after migrate %d: %d, %v", i, versions[i], err)
		}
	}
	if versions[0] != versions[1] {
		t.Fatalf("a second migrate moved the version from %d to %d", versions[0], versions[1])
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

	// 70 months in one statement: one mark from the first month's start
	// (2020-01-01 00:00 CET) to the last one's end (2025-11-01 00:00 CET).
	exec(t, conn, `INSERT INTO events SELECT '2020-01-15 12:00+01'::timestamptz + g * interval '1 month', g FROM generate_series(0, 69) g`)
	var span string
	err := conn.QueryRow(context.Background(), `SELECT format('%s - %s', to_timestamp(t_start) AT TIME ZONE 'Europe/Berlin',
		to_timestamp(t_end) AT TIME ZONE 'Europe/Berlin') FROM spiral.marks`).Scan(&span)
	if want := "2020-01-01 00:00:00 - 2025-11-01 00:00:00"; err != nil || span != want {
		t.Fatalf("70 months: mark %q, %v; want %q", span, err, want)
	}
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
		+ (SELECT count(*) FROM pg_class WHERE relname LIKE 'ticks%')
		+ (SELECT count(*) FROM pg_proc WHERE proname LIKE 'mark\_dirty\_%')`).Scan(&n)
	if err != nil || n != 0 {
		t.Fatalf("after DROP TABLE: %d leftovers (metadata, marks, tier tables, mark functions), %v", n, err)
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
	var entries, scopes, seconds int64
	const status = `SELECT dirty_entries, dirty_scopes, dirty_seconds FROM spiral.status WHERE base_view = 'ticks'`
	err := conn.QueryRow(ctx, status).Scan(&entries, &scopes, &seconds)
	if err != nil || entries != 0 || scopes != 0 || seconds != 0 {
		t.Fatalf("clean status: entries=%d scopes=%d seconds=%d, %v; want all 0", entries, scopes, seconds, err)
	}
	exec(t, conn, `INSERT INTO ticks VALUES ('2024-01-01 00:00Z', 1, 1), ('2024-01-01 00:05Z', 2, 1)`)
	err = conn.QueryRow(ctx, status).Scan(&entries, &scopes, &seconds)
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

// pgLiteral renders t (UTC) as a timestamptz literal PostgreSQL reads the
// same under any DateStyle: ISO, years before 1 as BC, years past 9999 as
// they are.
func pgLiteral(t time.Time) string {
	t = t.UTC()
	y, suffix := t.Year(), ""
	if y <= 0 {
		y, suffix = 1-y, " BC"
	}
	return fmt.Sprintf("'%04d-%02d-%02d %02d:%02d:%02d.%06d+00%s'::timestamptz",
		y, t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond()/1000, suffix)
}

// floorBucket is the exact start, in epoch seconds, of the fixed bucket of
// width seconds holding t: floor(unix seconds / width) * width (the
// fraction of a second never crosses a boundary).
func floorBucket(t time.Time, seconds int64) int64 {
	s := t.Unix()
	q := s / seconds
	if s%seconds != 0 && s < 0 {
		q--
	}
	return q * seconds
}

// TestBucketBoundaries: a row's mark is exactly its finest bucket, and so
// is the bucket the refresh computes (Frame.SQLBucket), for
// rows on a boundary and a microsecond before one, before 1970 and before
// 2000 (where the trigger's bucket arithmetic changes origin), at the ends
// of the timestamptz range, and for widths that do not divide a day.
func TestBucketBoundaries(t *testing.T) {
	at := func(y int, mon time.Month, d, h, m, s, us int) time.Time {
		return time.Date(y, mon, d, h, m, s, us*1000, time.UTC)
	}
	instants := []time.Time{
		at(2024, 1, 1, 10, 0, 0, 0), at(2024, 1, 1, 10, 0, 59, 999999), at(2024, 1, 1, 10, 1, 0, 0),
		at(2000, 1, 1, 0, 0, 0, 0), at(1999, 12, 31, 23, 59, 59, 999999), at(2000, 1, 1, 0, 0, 0, 1),
		at(1970, 1, 1, 0, 0, 0, 0), at(1969, 12, 31, 23, 59, 59, 999999),
		at(1969, 12, 31, 23, 59, 0, 0), at(1969, 12, 31, 23, 58, 59, 999999),
		at(1969, 12, 25, 0, 0, 0, 0), at(1969, 12, 24, 23, 59, 59, 999999),
		at(1900, 1, 1, 0, 0, 0, 1), at(1582, 10, 15, 0, 0, 0, 0), at(-43, 3, 15, 12, 0, 0, 0),
		at(-4713, 11, 24, 0, 0, 0, 0), at(-4713, 11, 24, 0, 0, 6, 999999), at(-4713, 11, 24, 0, 0, 7, 0),
		at(294276, 12, 31, 23, 59, 59, 999999), at(294276, 12, 31, 23, 59, 0, 0),
	}
	for _, f := range []rollup.Frame{{Name: "1m", Seconds: 60}, {Name: "7s", Seconds: 7}, {Name: "1w", Seconds: 604800}, {Name: "1d", Seconds: 86400}} {
		t.Run(f.Name, func(t *testing.T) {
			tbl := ticks()
			tbl.Frames = []rollup.Frame{f}
			conn := setup(t, tbl, ticksDDL)
			var rows []string
			for i, ts := range instants {
				rows = append(rows, fmt.Sprintf("(%s, %d, 0)", pgLiteral(ts), i))
			}
			exec(t, conn, "INSERT INTO ticks VALUES "+strings.Join(rows, ", "))
			got := map[int]string{}
			r, _ := conn.Query(context.Background(), `SELECT (scope->>'sym')::int, t_start, t_end FROM spiral.marks`)
			for r.Next() {
				var sym int
				var lo, hi int64
				if err := r.Scan(&sym, &lo, &hi); err != nil {
					t.Fatal(err)
				}
				got[sym] = fmt.Sprintf("[%d, %d)", lo, hi)
			}
			if err := r.Err(); err != nil {
				t.Fatal(err)
			}
			buckets := map[int]int64{}
			// Rows of the first day of the timestamptz range are left out: a
			// bucket that starts before 4714-11-24 BC has no tier row (the
			// refresh fails on it).
			r, _ = conn.Query(context.Background(), `SELECT sym, extract(epoch from `+f.SQLBucket("t", "")+`)::bigint FROM ticks
				WHERE t >= '4714-11-25 00:00:00+00 BC'`)
			for r.Next() {
				var sym int
				var b int64
				if err := r.Scan(&sym, &b); err != nil {
					t.Fatal(err)
				}
				buckets[sym] = b
			}
			if err := r.Err(); err != nil {
				t.Fatal(err)
			}
			for i, ts := range instants {
				lo := floorBucket(ts, f.Seconds)
				if want := fmt.Sprintf("[%d, %d)", lo, lo+f.Seconds); got[i] != want {
					t.Errorf("%s: mark %s, want %s", pgLiteral(ts), got[i], want)
				}
				if b, ok := buckets[i]; b != lo && (ok || ts.Year() > -4713) {
					t.Errorf("%s: the refresh's bucket (SQLBucket) starts at %d, want %d", pgLiteral(ts), buckets[i], lo)
				}
			}
		})
	}
}

// markFunction returns the function base's insert trigger calls.
func markFunction(t *testing.T, conn *pgx.Conn, base string) string {
	t.Helper()
	var fn string
	err := conn.QueryRow(context.Background(), `SELECT tgfoid::regproc::text FROM pg_trigger
		WHERE tgrelid = $1::regclass AND tgname = 'spiral_mark_insert'`, base).Scan(&fn)
	if err != nil {
		t.Fatal(err)
	}
	return fn
}

// TestMarkFunctionPerTable: registering a table points its mark triggers
// at a function generated for it, and a change of the finest tier (ALTER
// ... SET (spiral.frames), as the engine runs it, or a dropped tier)
// regenerates it in place.
func TestMarkFunctionPerTable(t *testing.T) {
	tbl := ticks()
	conn := setup(t, tbl, ticksDDL)
	ctx := context.Background()
	var oid uint32
	if err := conn.QueryRow(ctx, `SELECT 'ticks'::regclass::oid`).Scan(&oid); err != nil {
		t.Fatal(err)
	}
	fn := markFunction(t, conn, "ticks")
	if want := fmt.Sprintf("spiral.mark_dirty_%d", oid); fn != want {
		t.Fatalf("insert trigger calls %s, want %s", fn, want)
	}
	exec(t, conn, `INSERT INTO ticks VALUES ('2024-01-01 10:07:30Z', 1, 1)`)
	expectMarks(t, conn, `01 10:07-01 10:08 {"sym": 1}`)

	// ALTER TABLE ticks SET (spiral.frames = '5m,1h'), as internal/engine runs it.
	next := *tbl
	next.Frames = []rollup.Frame{{Name: "5m", Seconds: 300}, {Name: "1h", Seconds: 3600}}
	exec(t, conn, "BEGIN")
	exec(t, conn, `DROP TABLE ticks_1m`)
	exec(t, conn, `CREATE TABLE ticks_5m (sym int, t timestamptz, row_count bigint)`)
	exec(t, conn, fmt.Sprintf(`DELETE FROM spiral.metadata WHERE base_oid = %d AND parent_view <> 'BASE'`, oid))
	exec(t, conn, changelog.RegisterTiersSQL(&next))
	exec(t, conn, "COMMIT")
	exec(t, conn, `INSERT INTO ticks VALUES ('2024-01-01 10:07:30Z', 1, 1)`)
	expectMarks(t, conn, `01 10:05-01 10:10 {"sym": 1}`)

	// Dropping the finest tier leaves the hourly one finest.
	exec(t, conn, `DROP TABLE ticks_5m`)
	exec(t, conn, `UPDATE ticks SET price = 2 WHERE price = 1`)
	expectMarks(t, conn, `01 10:00-01 11:00 {"sym": 1}`)
	if got := markFunction(t, conn, "ticks"); got != fn {
		t.Fatalf("after the tier changes the trigger calls %s, want %s", got, fn)
	}

	// install_marker (what migration 2 runs for tables tracked before it)
	// moves triggers still on the generic function.
	exec(t, conn, `CREATE OR REPLACE TRIGGER spiral_mark_insert AFTER INSERT ON ticks
		REFERENCING NEW TABLE AS spiral_new FOR EACH STATEMENT EXECUTE FUNCTION spiral.mark_dirty()`)
	exec(t, conn, fmt.Sprintf(`SELECT spiral.install_marker(%d)`, oid))
	if got := markFunction(t, conn, "ticks"); got != fn {
		t.Fatalf("after install_marker the trigger calls %s, want %s", got, fn)
	}
}

// TestOddNamesAndSeveralScopeColumns: identifiers that need quoting, and a
// scope of several columns of different types, give the scope that
// jsonb_build_object gives.
func TestOddNamesAndSeveralScopeColumns(t *testing.T) {
	tbl := &rollup.Table{Name: "odd", TimeColumn: `at "%s"`, ScopeColumns: []string{"Sym", `re"gion`, "b"},
		ScopeTypes: []string{"int4", "text", "numeric"}, TimeZone: "UTC",
		Frames: []rollup.Frame{{Name: "1h", Seconds: 3600}}}
	conn := setup(t, tbl, `CREATE TABLE odd ("at ""%s""" timestamptz NOT NULL, "Sym" int NOT NULL, "re""gion" text NOT NULL, b numeric NOT NULL, k int)`)
	exec(t, conn, `INSERT INTO odd VALUES ('2024-01-01 10:30Z', 1, 'e''u "%s"', 1.50, 1), ('2024-01-01 10:40Z', 1, 'e''u "%s"', 1.5, 2),
		('2024-01-01 11:00Z', 2, 'us', -0.0, 3)`)
	var n int
	err := conn.QueryRow(context.Background(), `SELECT count(*) FROM spiral.marks m JOIN odd o
		ON m.scope = jsonb_build_object('Sym', o."Sym", 're"gion', o."re""gion", 'b', o.b)
		AND m.t_start = floor(extract(epoch FROM o."at ""%s""") / 3600) * 3600 AND m.t_end = m.t_start + 3600`).Scan(&n)
	if err != nil || n != 3 {
		t.Fatalf("rows matching their marks: %d, %v; marks: %v", n, err, marks(t, conn))
	}
	expectMarks(t, conn, `01 10:00-01 11:00 {"b": 1.50, "Sym": 1, "re\"gion": "e'u \"%s\""}`,
		`01 11:00-01 12:00 {"b": 0.0, "Sym": 2, "re\"gion": "us"}`)
}
