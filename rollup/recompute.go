package rollup

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// recompute rebuilds every tier for the items, finest tier first: the
// finest from the base table, each coarser one from the tier below it. Each
// level works on whole buckets of its frame, so a coarse bucket is always
// rebuilt from all of its children, never from a partial window.
func recompute(ctx context.Context, tx pgx.Tx, t *Table, items []item, loc *time.Location) error {
	sqlT := t.sqlPart()
	for level, f := range t.Frames {
		for _, it := range expandItems(items, f, loc) {
			if err := rebuild(ctx, tx, t, sqlT, level, it); err != nil {
				return fmt.Errorf("recompute %s: %w", t.TierName(f), err)
			}
		}
	}
	return nil
}

// rebuild deletes one range of a tier and aggregates it anew.
func rebuild(ctx context.Context, tx pgx.Tx, t, sqlT *Table, level int, it item) error {
	f := t.Frames[level]
	pred, args := rangePredicate(t, it)
	if _, err := tx.Exec(ctx, "DELETE FROM "+t.tierRelation(f)+" WHERE "+pred, args...); err != nil {
		return err
	}
	var ins string
	if level == 0 {
		ins = sqlT.RawToTierSQL(f, pred)
	} else {
		ins = sqlT.TierToTierSQL(t.Frames[level-1], f, pred)
	}
	if _, err := tx.Exec(ctx, ins, args...); err != nil {
		return err
	}
	if t.SQLPath() {
		return nil
	}
	return rebuildStates(ctx, tx, t, level, it, pred, args)
}

// rangePredicate selects the rows of one item from the base table or a
// tier (both name the scope and time columns alike), with its arguments.
// The tenant is matched by equality on each scope column, so indexes on
// (scope..., time) serve it; tenants are never NULL (Validate).
func rangePredicate(t *Table, it item) (string, []any) {
	ts := QuoteIdent(t.TimeColumn)
	if it.scope == nil {
		return fmt.Sprintf("%s >= $1 AND %s < $2", ts, ts), []any{it.lo, it.hi}
	}
	conds := make([]string, 0, len(t.ScopeColumns)+2)
	for i, c := range t.ScopeColumns {
		conds = append(conds, fmt.Sprintf("%s = ($1::jsonb ->> %s)::%s", QuoteIdent(c), QuoteLiteral(c), t.scopeType(i)))
	}
	conds = append(conds, fmt.Sprintf("%s >= $2 AND %s < $3", ts, ts))
	return strings.Join(conds, " AND "), []any{string(it.scope), it.lo, it.hi}
}

// expandItems widens each item to whole buckets of f and merges overlaps.
func expandItems(items []item, f Frame, loc *time.Location) []item {
	out := make([]item, len(items))
	for i, it := range items {
		lo, _ := f.Bounds(it.lo, loc)
		_, hi := f.Bounds(it.hi.Add(-time.Second), loc)
		out[i] = item{scope: it.scope, lo: lo, hi: hi}
	}
	return mergeItems(out)
}

// sqlPart is t without the kinds only Go can compute (sketch, tdigest):
// the SQL path fills every other column, and rebuildStates the rest.
func (t *Table) sqlPart() *Table {
	if t.SQLPath() {
		return t
	}
	c := *t
	c.Columns = nil
	for _, col := range t.Columns {
		var kinds []Kind
		for _, k := range col.Kinds {
			if k != KindSketch && k != KindTDigest {
				kinds = append(kinds, k)
			}
		}
		if len(kinds) > 0 {
			col.Kinds = kinds
			c.Columns = append(c.Columns, col)
		}
	}
	return &c
}
