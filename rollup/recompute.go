package rollup

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// recompute rebuilds every tier for the items, finest tier first: the
// finest from the base table, each coarser one from the tier below it. Each
// level works on whole buckets of its frame, so a coarse bucket is always
// rebuilt from all of its children, never from a partial window. A level
// is a few statements however many items there are: one set of tenant
// ranges and one of all-tenant ranges (rangeSet), each deleted and rebuilt
// whole.
func recompute(ctx context.Context, tx pgx.Tx, t *Table, items []item, loc *time.Location, side *aside) error {
	for level, f := range t.Frames {
		for _, rs := range splitRanges(t, expandItems(items, f, loc)) {
			if err := rebuild(ctx, tx, t, t.sqlPart(t.goFinest(level, rs)), level, rs, side); err != nil {
				return fmt.Errorf("recompute %s: %w", t.TierName(f), err)
			}
		}
	}
	return nil
}

// rebuild deletes a set of ranges of one tier and aggregates them anew.
// With an aside, the raw level's states are folded on it meanwhile.
func rebuild(ctx context.Context, tx pgx.Tx, t, sqlT *Table, level int, rs rangeSet, side *aside) error {
	var early *asideFold
	if level == 0 && side != nil {
		early = side.fold(ctx, t, rs)
	}
	if err := rebuildRows(ctx, tx, t, sqlT, level, rs); err != nil {
		if early != nil {
			early.abandon()
		}
		return err
	}
	if t.SQLPath() {
		return nil
	}
	return rebuildStates(ctx, tx, t, level, rs, early)
}

// rebuildRows deletes the set's rows of one tier and inserts them anew
// with every column the SQL path computes.
func rebuildRows(ctx context.Context, tx pgx.Tx, t, sqlT *Table, level int, rs rangeSet) error {
	f := t.Frames[level]
	args := rs.args()
	if _, err := tx.Exec(ctx, rs.delete(t.tierRelation(f)), args...); err != nil {
		return err
	}
	var ins string
	if level == 0 {
		ins = sqlT.rawToTier(f, rs.source(t.baseRelation()), "")
	} else {
		from := t.Frames[level-1]
		ins = sqlT.tierToTier(from, f, rs.source(t.tierRelation(from)), "")
	}
	_, err := tx.Exec(ctx, ins, args...)
	return err
}

// rangeSet is ranges to recompute at one level: of single tenants
// (scoped), or of every tenant. A uniform set is of tenants of a table
// with one scope column that share one range: values holds their scope
// values as text, lo and hi the one range.
type rangeSet struct {
	t       *Table
	scoped  bool
	scopes  []string // jsonb objects of the scope columns, when scoped
	lo, hi  []time.Time
	uniform bool
	values  []string
}

// splitRanges sorts items into the tenant set and the all-tenant set,
// leaving out an empty one. A table without scope columns has one tenant,
// the whole table: its marks (scope {}) are all-tenant ones.
func splitRanges(t *Table, items []item) []rangeSet {
	sets := []rangeSet{{t: t, scoped: true}, {t: t}}
	for _, it := range items {
		s := &sets[1]
		if it.scope != nil && len(t.ScopeColumns) > 0 {
			s = &sets[0]
			s.scopes = append(s.scopes, string(it.scope))
		}
		s.lo, s.hi = append(s.lo, it.lo), append(s.hi, it.hi)
	}
	var out []rangeSet
	if len(sets[0].lo) > 0 {
		out = append(out, uniformSets(sets[0])...)
	}
	if len(sets[1].lo) > 0 {
		out = append(out, rangesApart(sets[1])...)
	}
	return out
}

// rangesApart splits an all-tenant set into one set per range when it has
// at most maxUniformSets ranges; otherwise it returns the set as it is. A
// set of one range reads its rows with a plain time condition. The join
// with the ranges' relation, which PostgreSQL estimates at 100 rows, gets
// a plan that sorts the whole table before joining: 1.5 s instead of
// 65 ms for one day of a million rows over 30 days.
func rangesApart(rs rangeSet) []rangeSet {
	if len(rs.lo) > maxUniformSets {
		return []rangeSet{rs}
	}
	out := make([]rangeSet, len(rs.lo))
	for i := range rs.lo {
		out[i] = rangeSet{t: rs.t, lo: rs.lo[i : i+1], hi: rs.hi[i : i+1]}
	}
	return out
}

// maxUniformSets bounds the statements one tenant set is split into by
// uniformSets.
const maxUniformSets = 4

// uniformSets splits a tenant set of a table with one scope column into
// sets whose tenants share one range, when there are at most
// maxUniformSets ranges; otherwise it returns the set as it is. A uniform
// set reads its rows with scope = ANY(tenants) and one time range, which
// PostgreSQL answers with one bitmap over the (scope, time) index, reading
// each heap page once. The join of the general set reads a page again for
// every tenant with rows on it, and under steady ingest every page of the
// current minute holds rows of every tenant.
//
// Equal tenants with other jsonb text (numeric 1.0 and 1.00) may land in
// two sets with overlapping ranges: each set deletes and recomputes its
// tenants' buckets whole, so the later one only repeats work.
func uniformSets(rs rangeSet) []rangeSet {
	if len(rs.t.ScopeColumns) != 1 || rs.t.scopeType(0) == "" {
		return []rangeSet{rs}
	}
	type span struct{ lo, hi time.Time }
	var order []span
	byRange := map[span]*rangeSet{}
	for i, scope := range rs.scopes {
		v, ok := scopeText(scope, rs.t.ScopeColumns[0])
		if !ok {
			return []rangeSet{rs}
		}
		k := span{rs.lo[i], rs.hi[i]}
		u := byRange[k]
		if u == nil {
			if len(order) == maxUniformSets {
				return []rangeSet{rs}
			}
			order = append(order, k)
			u = &rangeSet{t: rs.t, scoped: true, uniform: true, lo: []time.Time{k.lo}, hi: []time.Time{k.hi}}
			byRange[k] = u
		}
		u.scopes, u.values = append(u.scopes, scope), append(u.values, v)
	}
	out := make([]rangeSet, len(order))
	for i, k := range order {
		out[i] = *byRange[k]
	}
	return out
}

// scopeText is what jsonb's ->> gives for key col of a mark's scope object.
func scopeText(scope string, col string) (string, bool) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(scope), &m); err != nil {
		return "", false
	}
	raw, ok := m[col]
	switch {
	case !ok || len(raw) == 0 || string(raw) == "null":
		return "", false
	case raw[0] == '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", false
		}
		return s, true
	case raw[0] == '{' || raw[0] == '[':
		return "", false
	}
	return string(raw), true
}

// groupBound is an upper bound on the (tenant, bucket) groups of the set
// at frame f; not known for a set of every tenant.
func (rs rangeSet) groupBound(t *Table, f Frame) (n int64, known bool) {
	if !rs.scoped {
		return 0, false
	}
	loc := time.UTC // fixed frames count seconds; only calendar ones need the zone
	if f.Calendar() {
		var err error
		if loc, err = t.Location(); err != nil {
			return 0, false
		}
	}
	if rs.uniform {
		return int64(len(rs.values)) * countBuckets(f, item{lo: rs.lo[0], hi: rs.hi[0]}, loc), true
	}
	for i := range rs.lo {
		n += countBuckets(f, item{lo: rs.lo[i], hi: rs.hi[i]}, loc)
	}
	return n, true
}

// sortedFold reports whether the set's states at frame f are read in
// bucket order: unless it is known to have at most maxHashedGroups groups.
func (rs rangeSet) sortedFold(t *Table, f Frame) bool {
	n, known := rs.groupBound(t, f)
	return !known || n > maxHashedGroups
}

// single reports an all-tenant set of one range.
func (rs rangeSet) single() bool { return !rs.scoped && len(rs.lo) == 1 }

// direct reports a set whose rows are matched by conditions on the
// relation alone, without joining the ranges' relation.
func (rs rangeSet) direct() bool { return rs.uniform || rs.single() }

func (rs rangeSet) args() []any {
	switch {
	case rs.uniform:
		return []any{rs.values, rs.lo[0], rs.hi[0]}
	case rs.single():
		return []any{rs.lo[0], rs.hi[0]}
	case rs.scoped:
		return []any{rs.scopes, rs.lo, rs.hi}
	}
	return []any{rs.lo, rs.hi}
}

// ranges is the set as a relation _w(_k1.., lo, hi): each tenant's scope
// values in their column types, and its ranges merged (range_agg). Tenants
// are grouped by the types' equality, not by the marks' jsonb text, which
// can differ for equal values (numeric 1.0 and 1.00, timestamptz rendered
// in two sessions' time zones): so no row is in two ranges, and none is
// aggregated twice.
func (rs rangeSet) ranges() string {
	if !rs.scoped {
		return "(SELECT lower(r) AS lo, upper(r) AS hi FROM (SELECT unnest(range_agg(tstzrange(u.lo, u.hi))) AS r" +
			" FROM unnest($1::timestamptz[], $2::timestamptz[]) AS u(lo, hi)) AS m) AS _w"
	}
	keys := make([]string, len(rs.t.ScopeColumns))
	typed := make([]string, len(rs.t.ScopeColumns))
	for i, c := range rs.t.ScopeColumns {
		keys[i] = fmt.Sprintf("_k%d", i+1)
		typed[i] = fmt.Sprintf("(u.s::jsonb ->> %s)::%s AS _k%d", QuoteLiteral(c), rs.t.scopeType(i), i+1)
	}
	k := strings.Join(keys, ", ")
	return fmt.Sprintf("(SELECT %s, lower(r) AS lo, upper(r) AS hi FROM (SELECT %s, unnest(range_agg(tstzrange(u.lo, u.hi))) AS r"+
		" FROM unnest($1::text[], $2::timestamptz[], $3::timestamptz[]) AS u(s, lo, hi) GROUP BY %s) AS m) AS _w",
		k, strings.Join(typed, ", "), k)
}

// on matches the rows of rel (the base table or a tier: both name the
// scope and time columns alike) to their range. The tenant is matched by
// equality on each scope column, so indexes on (scope..., time) serve it;
// tenants are never NULL (Validate).
func (rs rangeSet) on(rel string) string {
	ts := rel + "." + QuoteIdent(rs.t.TimeColumn)
	switch {
	case rs.uniform:
		return fmt.Sprintf("%s.%s = ANY($1::text[]::%s[]) AND %s >= $2 AND %s < $3",
			rel, QuoteIdent(rs.t.ScopeColumns[0]), rs.t.scopeType(0), ts, ts)
	case rs.single():
		return fmt.Sprintf("%s >= $1 AND %s < $2", ts, ts)
	}
	conds := make([]string, 0, len(rs.t.ScopeColumns)+2)
	if rs.scoped {
		for i, c := range rs.t.ScopeColumns {
			conds = append(conds, fmt.Sprintf("%s.%s = _w._k%d", rel, QuoteIdent(c), i+1))
		}
	}
	return strings.Join(append(conds, ts+" >= _w.lo", ts+" < _w.hi"), " AND ")
}

// source is relation rel limited to the set's ranges, as a subquery with
// rel's columns only, so column names in the statement around it resolve
// as they would against rel.
func (rs rangeSet) source(rel string) string {
	if rs.direct() {
		return fmt.Sprintf("(SELECT _r.* FROM %s AS _r WHERE %s) AS _r", rel, rs.on("_r"))
	}
	return fmt.Sprintf("(SELECT _r.* FROM %s JOIN %s AS _r ON %s) AS _r", rs.ranges(), rel, rs.on("_r"))
}

// delete removes the set's rows from tier relation rel.
func (rs rangeSet) delete(rel string) string {
	if rs.direct() {
		return fmt.Sprintf("DELETE FROM %s AS _r WHERE %s", rel, rs.on("_r"))
	}
	return fmt.Sprintf("DELETE FROM %s AS _r USING %s WHERE %s", rel, rs.ranges(), rs.on("_r"))
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

// sqlPart is t without the columns rebuildStates computes (goColumn): the
// SQL path fills every other column, and rebuildStates the rest.
func (t *Table) sqlPart(finest bool) *Table {
	if t.SQLPath() {
		return t
	}
	c := *t
	c.Columns, c.goOpenClose = nil, finest
	for _, col := range t.Columns {
		var kinds []Kind
		for _, k := range col.Kinds {
			if !goKinds(finest, k) {
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
