package changelog_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"spiral/changelog"
	"spiral/rollup"
)

// inTx runs f in a transaction of its own.
func inTx(t *testing.T, conn *pgx.Conn, f func(tx pgx.Tx) error) {
	t.Helper()
	if err := pgx.BeginFunc(context.Background(), conn, f); err != nil {
		t.Fatal(err)
	}
}

// pending is Store.Pending in a transaction of its own.
func pending(t *testing.T, conn *pgx.Conn, base uint32, w rollup.Want) []rollup.Mark {
	t.Helper()
	var got []rollup.Mark
	inTx(t, conn, func(tx pgx.Tx) (err error) {
		got, err = changelog.Store{}.Pending(context.Background(), tx, base, w)
		return err
	})
	return got
}

func setAside(t *testing.T, conn *pgx.Conn, base uint32, m rollup.Mark, end int64) int64 {
	t.Helper()
	var id int64
	cause := &pgconn.PgError{Code: "22003", Message: "value out of range: overflow"}
	inTx(t, conn, func(tx pgx.Tx) (err error) {
		id, err = changelog.Store{}.SetAside(context.Background(), tx, base, m, end, cause)
		return err
	})
	return id
}

// TestSetAside: a mark set aside whole keeps its ID and is left out of
// Pending until its retry time, unless Held; set aside in part, its first
// part becomes a new mark of the same age and tenant and the marks still
// cover the same range; each failure doubles the wait, up to an hour.
func TestSetAside(t *testing.T) {
	conn := setup(t, ticks(), `CREATE TABLE ticks (t timestamptz NOT NULL, sym int NOT NULL, price float8)`)
	ctx := context.Background()
	exec(t, conn, `INSERT INTO ticks VALUES ('2024-01-01 00:00:30', 1, 1), ('2024-01-01 05:00:30', 2, 1)`)
	var base uint32
	if err := conn.QueryRow(ctx, `SELECT 'ticks'::regclass::oid`).Scan(&base); err != nil {
		t.Fatal(err)
	}
	all := pending(t, conn, base, rollup.Want{Limit: 10})
	if len(all) != 2 {
		t.Fatalf("pending: %v, want 2 marks", all)
	}
	if id := setAside(t, conn, base, all[0], all[0].End); id != all[0].ID {
		t.Fatalf("set aside whole: id %d, want %d", id, all[0].ID)
	}
	if got := pending(t, conn, base, rollup.Want{Limit: 10}); len(got) != 1 || got[0].ID != all[1].ID {
		t.Fatalf("pending after set aside: %v, want only mark %d", got, all[1].ID)
	}
	if got := pending(t, conn, base, rollup.Want{Limit: 10, Held: true, Skip: []int64{all[1].ID}}); len(got) != 1 || got[0].ID != all[0].ID {
		t.Fatalf("pending held, skipping %d: %v, want mark %d", all[1].ID, got, all[0].ID)
	}
	if got := pending(t, conn, base, rollup.Want{Limit: 10, Held: true, IDs: []int64{all[1].ID}}); len(got) != 1 || got[0].ID != all[1].ID {
		t.Fatalf("pending by id: %v", got)
	}

	// Held back with it: short marks of its tenant in its coarsest bucket
	// (an hour here), not those of another hour or tenant, nor long ones.
	exec(t, conn, `DELETE FROM spiral.marks WHERE id <> $1`, all[0].ID)
	exec(t, conn, `INSERT INTO spiral.marks (base_oid, t_start, t_end, scope) SELECT $1, t_start + d, t_start + d + len, scope
		FROM spiral.marks, (VALUES (1800, 60), (3600, 60), (0, 7200)) v(d, len) WHERE id = $2`, base, all[0].ID)
	exec(t, conn, `INSERT INTO spiral.marks (base_oid, t_start, t_end, scope) SELECT $1, t_start + 60, t_end + 60, '{"sym": 9}'
		FROM spiral.marks WHERE id = $2`, base, all[0].ID)
	var got []string
	for _, m := range pending(t, conn, base, rollup.Want{Limit: 10, Hold: rollup.Hold{Seconds: 3600}}) {
		got = append(got, fmt.Sprintf("%d+%d %s", m.Start-all[0].Start, m.End-m.Start, m.Scope))
	}
	if want := []string{`3600+60 {"sym": 1}`, `0+7200 {"sym": 1}`, `60+60 {"sym": 9}`}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("pending beside a mark set aside: %q, want %q", got, want)
	}

	// A long mark (a backfill's) set aside in part.
	exec(t, conn, `DELETE FROM spiral.marks`)
	exec(t, conn, `INSERT INTO spiral.marks (base_oid, t_start, t_end, scope, created_at) VALUES ($1, 0, 7200, NULL, '2024-01-01')`, base)
	long := pending(t, conn, base, rollup.Want{Limit: 10, Held: true})[0]
	part := setAside(t, conn, base, long, 3600)
	if part == long.ID || part == 0 {
		t.Fatalf("set aside in part: id %d (mark %d)", part, long.ID)
	}
	var rows []string
	r, err := conn.Query(ctx, `SELECT format('%s-%s %s %s', t_start, t_end, coalesce(scope::text, '*'), (created_at = '2024-01-01')::text)
		FROM spiral.marks ORDER BY t_start`)
	if err == nil {
		rows, err = pgx.CollectRows(r, pgx.RowTo[string])
	}
	if err != nil || len(rows) != 2 || rows[0] != "0-3600 * true" || rows[1] != "3600-7200 * true" {
		t.Fatalf("marks after a split: %q, %v", rows, err)
	}
	if got := pending(t, conn, base, rollup.Want{Limit: 10}); len(got) != 1 || got[0].ID != long.ID {
		t.Fatalf("pending after a split: %v, want the rest, mark %d", got, long.ID)
	}

	// Waits: 1, 2, 4, 8, 16, 32, then an hour.
	for i, want := range []int{60, 120, 240, 480, 960, 1920, 3600, 3600} {
		if i > 0 {
			setAside(t, conn, base, rollup.Mark{ID: part, Start: 0, End: 3600}, 3600)
		}
		var failures, wait int
		err := conn.QueryRow(ctx, `SELECT failures, extract(epoch FROM retry_at - last_failed)::int FROM spiral.refresh_failures WHERE mark_id = $1`, part).Scan(&failures, &wait)
		if err != nil || failures != i+1 || wait != want {
			t.Fatalf("failure %d: failures %d, wait %ds, %v; want wait %ds", i+1, failures, wait, err, want)
		}
	}
	var view string
	err = conn.QueryRow(ctx, `SELECT format('%s %s %s %s', base_view, range_end - range_start, sqlstate, failures) FROM spiral.failed_ranges`).Scan(&view)
	if err != nil || view != "ticks 01:00:00 22003 8" {
		t.Fatalf("spiral.failed_ranges: %q, %v", view, err)
	}

	// Removed marks take their failures with them at the next set aside.
	exec(t, conn, `DELETE FROM spiral.marks WHERE id = $1`, part)
	if id := setAside(t, conn, base, long, long.End); id != long.ID {
		t.Fatalf("set aside: %d", id)
	}
	var left []int64
	r, err = conn.Query(ctx, `SELECT mark_id FROM spiral.refresh_failures`)
	if err == nil {
		left, err = pgx.CollectRows(r, pgx.RowTo[int64])
	}
	if err != nil || len(left) != 1 || left[0] != long.ID {
		t.Fatalf("failures left: %v, %v; want only mark %d", left, err, long.ID)
	}
	if id := setAside(t, conn, base, rollup.Mark{ID: part, End: 10}, 10); id != 0 {
		t.Fatalf("set aside a removed mark: id %d, want 0", id)
	}
}

// split is Store.Split in a transaction of its own.
func split(t *testing.T, conn *pgx.Conn, m rollup.Mark, end int64, scopes ...string) []rollup.Mark {
	t.Helper()
	var parts []rollup.Mark
	bs := make([][]byte, len(scopes))
	for i, s := range scopes {
		bs[i] = []byte(s)
	}
	inTx(t, conn, func(tx pgx.Tx) (err error) {
		parts, err = changelog.Store{}.Split(context.Background(), tx, m, end, bs)
		return err
	})
	return parts
}

// TestSplit: splitting part of a mark of every tenant leaves one mark per
// tenant over that part, of the mark's age, and the mark over the rest;
// splitting the rest removes it.
func TestSplit(t *testing.T) {
	conn := setup(t, ticks(), `CREATE TABLE ticks (t timestamptz NOT NULL, sym int NOT NULL, price float8)`)
	ctx := context.Background()
	var base uint32
	if err := conn.QueryRow(ctx, `SELECT 'ticks'::regclass::oid`).Scan(&base); err != nil {
		t.Fatal(err)
	}
	exec(t, conn, fmt.Sprintf(`INSERT INTO spiral.marks (base_oid, t_start, t_end, scope, created_at) VALUES (%d, 0, 7200, NULL, '2024-01-01')`, base))
	all := pending(t, conn, base, rollup.Want{Limit: 10})
	if len(all) != 1 {
		t.Fatalf("pending: %v, want the one mark", all)
	}
	m := all[0]
	parts := split(t, conn, m, 3600, `{"sym": 1}`, `{"sym": 2}`)
	got := fmt.Sprint(pending(t, conn, base, rollup.Want{Limit: 10}))
	want := fmt.Sprint([]rollup.Mark{{ID: m.ID, Start: 3600, End: 7200}, parts[0], parts[1]})
	if len(parts) != 2 || got != want {
		t.Fatalf("after the split: %s, want %s (parts %v)", got, want, parts)
	}
	for i, p := range parts {
		if p.Start != 0 || p.End != 3600 || string(p.Scope) != fmt.Sprintf(`{"sym": %d}`, i+1) {
			t.Fatalf("part %d: %+v", i, p)
		}
	}
	var sameAge bool
	if err := conn.QueryRow(ctx, `SELECT bool_and(created_at = '2024-01-01 00:00:00+00') FROM spiral.marks`).Scan(&sameAge); err != nil || !sameAge {
		t.Fatalf("the parts are not of the mark's age (%v)", err)
	}
	split(t, conn, rollup.Mark{ID: m.ID, Start: 3600, End: 7200}, 7200, `{"sym": 1}`)
	if n := len(pending(t, conn, base, rollup.Want{Limit: 10})); n != 3 {
		t.Fatalf("%d marks after splitting the rest, want 3 (the mark removed)", n)
	}
}
