package rollup

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// A backfill marks a range of every tenant at once, and its batches
// recompute a day of it at a time. When such a mark fails alone, the
// tenant whose data fails it is not known yet: the mark is split into one
// mark per tenant holding rows in its range, which isolate then halves as
// it does any batch, so that only the failing tenant's range is set aside
// and every other tenant's day is refreshed.

// maxSplitTenants bounds the marks one split writes; a range of more
// tenants is set aside whole.
const maxSplitTenants = 10000

// splitByTenant replaces the part of m a batch recomputes, when m is of
// every tenant on a table with scope columns, by one mark per tenant with
// rows in that part (in the base table or any tier), and returns those
// marks. It returns nil when m is not split: one tenant or none, more than
// maxSplitTenants, or m is gone.
func (r *Refresher) splitByTenant(ctx context.Context, conn *pgx.Conn, t Tracked, m Mark) ([]Mark, error) {
	if m.Scope != nil || len(t.Table.ScopeColumns) == 0 {
		return nil, nil
	}
	end, err := r.batchEnd(t, m)
	if err != nil {
		return nil, err
	}
	var parts []Mark
	err = pgx.BeginTxFunc(ctx, conn, pgx.TxOptions{IsoLevel: pgx.RepeatableRead}, func(tx pgx.Tx) error {
		var scopes [][]byte
		rows, err := tx.Query(ctx, t.Table.tenantsSQL(m.Start, end), maxSplitTenants+1)
		if err == nil {
			scopes, err = pgx.CollectRows(rows, pgx.RowTo[[]byte])
		}
		if err != nil {
			return fmt.Errorf("list the tenants of a failing range: %w", err)
		}
		if len(scopes) < 2 || len(scopes) > maxSplitTenants {
			return nil
		}
		parts, err = r.Marks.Split(ctx, tx, m, end, scopes)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("split a failing range by tenant: %w", err)
	}
	return parts, nil
}

// tenantsSQL lists, as jsonb objects like the changelog's marks, the
// tenants with rows in [lo, hi) (epoch seconds) in the base table or in a
// tier bucket overlapping it, at most $1 of them.
func (t *Table) tenantsSQL(lo, hi int64) string {
	var cols []string
	for _, c := range t.ScopeColumns {
		cols = append(cols, QuoteLiteral(c)+", x."+QuoteIdent(c))
	}
	obj := "jsonb_build_object(" + strings.Join(cols, ", ") + ")"
	tcol := "x." + QuoteIdent(t.TimeColumn)
	from := func(rel string, back time.Duration) string {
		return fmt.Sprintf("SELECT %s FROM %s x WHERE %s >= to_timestamp(%d) AND %s < to_timestamp(%d)",
			obj, rel, tcol, lo-int64(back/time.Second), tcol, hi)
	}
	parts := []string{from(t.baseRelation(), 0)}
	for _, f := range t.Frames {
		// A bucket starting up to its width before lo overlaps the range;
		// a calendar bucket is at most a year and a day long.
		back := time.Duration(f.Seconds) * time.Second
		if f.Calendar() {
			back = 367 * 24 * time.Hour
		}
		parts = append(parts, from(t.tierRelation(f), back))
	}
	return "SELECT s FROM (" + strings.Join(parts, " UNION ") + ") u(s) ORDER BY 1 LIMIT $1"
}
