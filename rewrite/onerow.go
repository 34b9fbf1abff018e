package rewrite

import (
	"fmt"
	"strings"

	pg "github.com/pganalyze/pg_query_go/v5"

	"spiral/rollup"
)

// One-row groups. When the query's time key is the coarsest tier's bucket
// itself (date_trunc or date_bin of the time column, not an expression
// over it, which may map several buckets to one group) and every scope
// column is a group key or pinned to one value, each clean row of that
// tier's range is a whole group: nothing else reaches its group (finer
// tiers and raw edges lie outside the range, a dirty bucket's tier row is
// left out and read raw instead). Those rows are finished one by one,
// without an aggregate; only the rest is merged. On large results the
// merge costs as much as reading the tier.

// unitSeconds are the date_trunc units whose buckets are one fixed tier
// bucket of that many seconds (where the tier fits the unit at all).
var unitSeconds = map[string]int64{"second": 1, "minute": 60, "hour": 3600, "day": 86400}

// same reports whether every bucket of b is exactly one bucket of frame f,
// given that f fits b.
func (b bucket) same(f rollup.Frame) bool {
	switch {
	case b.unit == "":
		return !f.Calendar() && b.stride == f.Seconds*1e6
	case f.Calendar():
		return string(f.Unit) == b.unit
	}
	return unitSeconds[b.unit] == f.Seconds
}

// sameBucket reports whether time key k has one bucket form and its every
// bucket is exactly one bucket of frame f.
func (k groupKey) sameBucket(f rollup.Frame) bool {
	return len(k.buckets) == 1 && k.buckets[0].same(f)
}

// isBucketOf reports whether key k is date_trunc or date_bin of the time
// column itself whose every bucket is exactly one bucket of frame f: over
// a row of that tier (which fits k), it is the row's bucket start.
func (b *block) isBucketOf(k groupKey, f rollup.Frame) bool {
	fc, ok := k.expr.Node.(*pg.Node_FuncCall)
	if !ok || !k.sameBucket(f) {
		return false
	}
	args := fc.FuncCall.Args
	switch funcName(fc.FuncCall) {
	case "date_trunc":
		return (len(args) == 2 || len(args) == 3) && b.isTime(args[1])
	case "date_bin":
		return len(args) == 3 && b.isTime(args[1])
	}
	return false
}

// oneRowGroups reports whether the coarsest tier's clean rows are groups
// of their own and every aggregate can be finished from one row.
func (r *renderer) oneRowGroups() bool {
	b := r.b
	if len(b.keys) == 0 || len(b.finish) > 0 || r.hasMoments() {
		return false
	}
	for _, a := range b.aggs {
		if a.one == "" {
			return false
		}
	}
	if r.cr != nil && r.ranges()[0].k != len(r.c.tiers) {
		return false // the coarsest tier serves no whole bucket
	}
	top := r.c.tiers[len(r.c.tiers)-1].Frame
	keyed := make(map[string]bool)
	times := 0
	for _, k := range b.keys {
		if k.scope != "" {
			keyed[k.scope] = true
			continue
		}
		if !b.isBucketOf(k, top) {
			return false // a key like date_trunc('hour', t)::date joins buckets
		}
		times++
	}
	if times != 1 {
		return false
	}
	for _, s := range b.src.Table.ScopeColumns {
		if !keyed[s] && !b.pinned(s) {
			return false
		}
	}
	return true
}

// pinned reports whether a WHERE conjunct holds scope column col to one
// value: col = an expression over no column.
func (b *block) pinned(col string) bool {
	for _, c := range b.scope {
		e, ok := c.Node.(*pg.Node_AExpr)
		if !ok || e.AExpr.Kind != pg.A_Expr_Kind_AEXPR_OP || opName(e.AExpr.Name) != "=" {
			continue
		}
		for _, side := range [][2]*pg.Node{{e.AExpr.Lexpr, e.AExpr.Rexpr}, {e.AExpr.Rexpr, e.AExpr.Lexpr}} {
			if name, ok := b.colOf(side[0]); ok && name == col && !hasColumn(side[1]) {
				return true
			}
		}
	}
	return false
}

func hasColumn(n *pg.Node) bool {
	found := false
	visitNodes(n, func(x *pg.Node) bool {
		if _, ok := x.Node.(*pg.Node_ColumnRef); ok {
			found = true
		}
		return !found
	})
	return found
}

// finishedColumns lists the group keys and, per aggregate, its finished
// value as f<i>: with the aggregates' merges, or one row at a time.
func (r *renderer) finishedColumns(one bool) string {
	var cols []string
	for i := range r.keys {
		cols = append(cols, fmt.Sprintf("spiral_s.g%d", i+1))
	}
	for i, a := range r.b.aggs {
		v := a.merge
		if one {
			v = a.one
		}
		cols = append(cols, fmt.Sprintf("%s AS f%d", v, i+1))
	}
	return strings.Join(cols, ", ")
}

// oneRowSegments is the FROM item of a block with one-row groups: the
// coarsest tier's range finished row by row, and the other segments
// merged per group.
func (r *renderer) oneRowSegments() string {
	served := r.ranges()
	rest := r.segmentList(served[1:])
	var keys []string
	for i := range r.keys {
		keys = append(keys, fmt.Sprintf("spiral_s.g%d", i+1))
	}
	direct := fmt.Sprintf("SELECT %s FROM (%s) AS spiral_s", r.finishedColumns(true), r.tierSegment(served[0]))
	merged := fmt.Sprintf("SELECT %s FROM (%s) AS spiral_s GROUP BY %s", r.finishedColumns(false),
		strings.Join(rest, " UNION ALL "), strings.Join(keys, ", "))
	if len(rest) == 1 {
		// Only the dirty segment (a constant range with no finer range or
		// edge): it groups whole buckets of the coarsest tier, or the
		// whole range raw, so each of its rows is a group of its own.
		merged = fmt.Sprintf("SELECT %s FROM (%s) AS spiral_s", r.finishedColumns(true), rest[0])
	}
	return "((" + direct + ") UNION ALL (" + merged + "))"
}

// finishedOuter turns the outer block into a plain SELECT over finished
// groups: aggregates become their f<i> columns, HAVING a WHERE, and the
// GROUP BY goes.
func (b *block) finishedOuter(out *pg.SelectStmt) error {
	for n, i := range b.merged {
		ref, err := parseExpr(fmt.Sprintf("spiral_s.f%d", i+1))
		if err != nil {
			return err
		}
		n.Node = ref.Node
	}
	out.WhereClause, out.HavingClause, out.GroupClause = out.HavingClause, nil, nil
	return nil
}
