package changelog

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"spiral/rollup"
)

// Store reads and settles marks for the refresh engine; it implements
// rollup.Marks. All its work happens in the caller's transaction.
type Store struct{}

var _ rollup.Marks = Store{}

// Pending returns the marks of base visible in tx's snapshot that w
// selects, oldest first. Marks for every tenant (scope NULL, from a
// backfill) never match a scope condition. Unless w.Held, a mark set aside
// is left out until its time to retry, and so are the short marks of its
// tenant that share a bucket of the coarsest tier with it (rollup.Want).
func (Store) Pending(ctx context.Context, tx pgx.Tx, base uint32, w rollup.Want) ([]rollup.Mark, error) {
	q := `SELECT id, t_start, t_end, scope FROM spiral.marks m WHERE base_oid = $1`
	args := []any{base}
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	for _, c := range w.Conds {
		q += fmt.Sprintf(" AND scope ->> %s = ANY(%s::text[])", arg(c.Column), arg(c.Values))
	}
	if w.IDs != nil {
		q += " AND id = ANY(" + arg(w.IDs) + ")"
	}
	if len(w.Skip) > 0 {
		q += " AND id <> ALL(" + arg(w.Skip) + ")"
	}
	if !w.Held {
		held := "h.id = m.id"
		if w.Hold.Seconds > 0 {
			held += " OR " + sharesBucket(w.Hold, arg(w.Hold.Seconds))
		}
		q += ` AND NOT EXISTS (SELECT FROM spiral.refresh_failures f JOIN spiral.marks h ON h.id = f.mark_id
			WHERE f.base_oid = $1 AND f.retry_at > now() AND (` + held + `))`
	}
	q += " ORDER BY id LIMIT " + arg(w.Limit)
	rows, err := tx.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("pending marks: %w", err)
	}
	marks, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (rollup.Mark, error) {
		var m rollup.Mark
		err := r.Scan(&m.ID, &m.Start, &m.End, &m.Scope)
		return m, err
	})
	return marks, wrap("pending marks", err)
}

// sharesBucket is SQL: mark m is short (one bucket of hold's tier at most)
// and of the same tenant as mark h, and they share a bucket of that tier:
// for a fixed tier, one aligned on the epoch; for a calendar tier, one
// within w seconds, w bounding its buckets.
func sharesBucket(hold rollup.Hold, w string) string {
	near := "m.t_start < h.t_end + %[1]s AND m.t_end > h.t_start - %[1]s"
	if !hold.Calendar {
		near = "m.t_start < (h.t_end + %[1]s - 1) / %[1]s * %[1]s AND m.t_end > h.t_start / %[1]s * %[1]s"
	}
	return fmt.Sprintf("h.scope IS NOT DISTINCT FROM m.scope AND m.t_end - m.t_start <= %[1]s AND "+near, w)
}

// Remove deletes the marks with these IDs.
func (Store) Remove(ctx context.Context, tx pgx.Tx, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := tx.Exec(ctx, `DELETE FROM spiral.marks WHERE id = ANY($1)`, ids)
	return wrap("remove marks", err)
}

// Trim moves the start of a mark whose beginning has been recomputed.
func (Store) Trim(ctx context.Context, tx pgx.Tx, id int64, start int64) error {
	_, err := tx.Exec(ctx, `UPDATE spiral.marks SET t_start = $2 WHERE id = $1 AND t_end > $2`, id, start)
	return wrap("trim mark", err)
}

// SetAside implements rollup.Marks. The first failure is tried again after
// a minute, each next one after twice as long, up to an hour. It also
// drops the failures of marks that are gone (Remove leaves them, so that
// the refresh's hot path does not touch this table).
func (Store) SetAside(ctx context.Context, tx pgx.Tx, base uint32, m rollup.Mark, end int64, cause *pgconn.PgError) (int64, error) {
	id := m.ID
	if end < m.End {
		err := tx.QueryRow(ctx, `WITH part AS (
			INSERT INTO spiral.marks (base_oid, t_start, t_end, scope, created_at)
			SELECT base_oid, t_start, $2, scope, created_at FROM spiral.marks WHERE id = $1 AND t_start < $2 AND t_end > $2
			RETURNING id)
			UPDATE spiral.marks SET t_start = $2 FROM part WHERE spiral.marks.id = $1 RETURNING part.id`, m.ID, end).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return 0, nil
		}
		if err != nil {
			return 0, wrap("split a failing mark", err)
		}
	}
	tag, err := tx.Exec(ctx, `INSERT INTO spiral.refresh_failures AS f
			(mark_id, base_oid, failures, sqlstate, error, first_failed, last_failed, retry_at)
		SELECT $1, $2, 1, $3, $4, now(), now(), now() + interval '1 minute'
		WHERE EXISTS (SELECT FROM spiral.marks WHERE id = $1)
		ON CONFLICT (mark_id) DO UPDATE SET failures = f.failures + 1, sqlstate = excluded.sqlstate,
			error = excluded.error, last_failed = now(),
			retry_at = now() + least(interval '1 minute' * 2 ^ least(f.failures, 6), interval '1 hour')`,
		id, base, cause.Code, cause.Message)
	if err != nil {
		return 0, wrap("record a refresh failure", err)
	}
	if tag.RowsAffected() == 0 {
		return 0, nil
	}
	_, err = tx.Exec(ctx, `DELETE FROM spiral.refresh_failures f WHERE NOT EXISTS (SELECT FROM spiral.marks m WHERE m.id = f.mark_id)`)
	return id, wrap("drop failures of removed marks", err)
}

// Split implements rollup.Marks.
func (Store) Split(ctx context.Context, tx pgx.Tx, m rollup.Mark, end int64, scopes [][]byte) ([]rollup.Mark, error) {
	rows, err := tx.Query(ctx, `INSERT INTO spiral.marks (base_oid, t_start, t_end, scope, created_at)
		SELECT m.base_oid, m.t_start, $2, u.s, m.created_at FROM spiral.marks m, unnest($3::jsonb[]) u(s)
		WHERE m.id = $1 AND m.t_start < $2
		RETURNING id, t_start, t_end, scope`, m.ID, end, scopes)
	var parts []rollup.Mark
	if err == nil {
		parts, err = pgx.CollectRows(rows, pgx.RowToStructByPos[rollup.Mark])
	}
	if err != nil {
		return nil, wrap("split a mark by tenant", err)
	}
	if end < m.End {
		_, err = tx.Exec(ctx, `UPDATE spiral.marks SET t_start = $2 WHERE id = $1`, m.ID, end)
	} else {
		_, err = tx.Exec(ctx, `DELETE FROM spiral.marks WHERE id = $1`, m.ID)
	}
	return parts, wrap("split a mark by tenant", err)
}

// Vacuum reclaims removed marks, skipping the vacuum when another one (an
// autovacuum, another daemon's) holds the table. A connection that may not
// vacuum it gets a warning from PostgreSQL, not an error.
func (Store) Vacuum(ctx context.Context, conn *pgx.Conn) error {
	_, err := conn.Exec(ctx, `VACUUM (SKIP_LOCKED) spiral.marks`)
	return wrap("vacuum marks", err)
}

// querier is what catalog reads need: a connection, pool or transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// ErrNotTracked is wrapped by Load for a table spiral does not track.
var ErrNotTracked = fmt.Errorf("changelog: not a tracked table")

// Load reads one tracked table's spec from spiral.metadata. An empty schema
// matches any schema, and is an error when the name is tracked in several.
func Load(ctx context.Context, q querier, schema, name string) (rollup.Tracked, error) {
	all, err := LoadAll(ctx, q)
	if err != nil {
		return rollup.Tracked{}, err
	}
	var found []rollup.Tracked
	for _, t := range all {
		if t.Table.Name == name && (schema == "" || t.Table.Schema == schema) {
			found = append(found, t)
		}
	}
	switch len(found) {
	case 0:
		return rollup.Tracked{}, fmt.Errorf("%w: %s", ErrNotTracked, qualified(schema, name))
	case 1:
		return found[0], nil
	}
	return rollup.Tracked{}, fmt.Errorf("%s is tracked in several schemas; qualify it", quoteIdent(name))
}

// catalogQuery returns one row per tracked base table with its tiers'
// frames, and the types of its scope columns as the catalog has them.
const catalogQuery = `
SELECT b.base_oid::int8, b.view_schema, b.view_name, b.time_column, b.scope_columns, b.timezone, b.columns,
       b.approximate_percentiles,
       coalesce((SELECT string_agg(t.frame, ',' ORDER BY t.frame_seconds) FROM spiral.metadata t
                 WHERE t.base_oid = b.base_oid AND t.parent_view <> 'BASE'), ''),
       coalesce((SELECT array_agg(format_type(a.atttypid, NULL) ORDER BY s.ord)
                 FROM unnest(b.scope_columns) WITH ORDINALITY AS s(col, ord)
                 JOIN pg_attribute a ON a.attrelid = b.base_oid AND a.attname = s.col), '{}')
FROM spiral.metadata b
WHERE b.parent_view = 'BASE'
ORDER BY b.view_schema, b.view_name`

// LoadAll reads every tracked table.
func LoadAll(ctx context.Context, q querier) ([]rollup.Tracked, error) {
	return load(ctx, q, catalogQuery)
}

// LoadDirty reads the tracked tables that have marks: one index probe per
// table, so an idle worker can look often.
func LoadDirty(ctx context.Context, q querier) ([]rollup.Tracked, error) {
	return load(ctx, q, strings.Replace(catalogQuery, "WHERE b.parent_view = 'BASE'",
		"WHERE b.parent_view = 'BASE' AND EXISTS (SELECT FROM spiral.marks m WHERE m.base_oid = b.base_oid)", 1))
}

func load(ctx context.Context, q querier, sql string) ([]rollup.Tracked, error) {
	rows, err := q.Query(ctx, sql)
	if err != nil {
		return nil, fmt.Errorf("load catalog: %w", err)
	}
	out, err := pgx.CollectRows(rows, scanTracked)
	return out, wrap("load catalog", err)
}

func scanTracked(r pgx.CollectableRow) (rollup.Tracked, error) {
	var oid int64
	var t rollup.Table
	var cols []columnJSON
	var frames string
	if err := r.Scan(&oid, &t.Schema, &t.Name, &t.TimeColumn, &t.ScopeColumns, &t.TimeZone, &cols, &t.ApproximatePercentiles,
		&frames, &t.ScopeTypes); err != nil {
		return rollup.Tracked{}, err
	}
	fs, err := rollup.ParseFrames(frames)
	if err != nil {
		return rollup.Tracked{}, fmt.Errorf("frames of %s: %w", t.Name, err)
	}
	t.Frames = fs
	for i, st := range t.ScopeTypes {
		t.ScopeTypes[i] = rollup.CanonicalType(strings.TrimSpace(st))
	}
	for _, c := range cols {
		t.Columns = append(t.Columns, rollup.Column{Name: c.Name, Type: c.Type, Kinds: c.Kinds})
	}
	return rollup.Tracked{Table: &t, OID: uint32(oid)}, nil
}
