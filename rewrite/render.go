package rewrite

import (
	"fmt"
	"strings"

	pg "github.com/pganalyze/pg_query_go/v5"
	"google.golang.org/protobuf/proto"

	"spiral/rollup"
)

// The rewritten block reads the dirty set and the data in one statement,
// hence under one snapshot (invariant 1). Its CTEs:
//
//	spiral_b  the query's time range [lo, hi) and whether tiers may serve it
//	          (the name resolves to the tracked table, the session's zone is
//	          the one planned for, no bound is NULL);
//	spiral_l  per tier level k (1 = finest): c_k, f_k, the range rounded
//	          inwards to whole buckets, and v_k = c_k < f_k;
//	spiral_r  the ranges each level serves: the coarsest its [c, f), each
//	          finer one the edges the coarser leaves;
//	spiral_q  the reach of each level: its own ranges and the dirty
//	          buckets of the levels above it that fall to it;
//	spiral_m  the changelog's marks overlapping the served range;
//	spiral_d  the dirty buckets of each level in its reach, per tenant (or
//	          all tenants);
//	spiral_x  the same, made disjoint for reading rows;
//	spiral_g  whether to use tiers at all (within spiral.max_segments) and
//	          the bounds of each served range.
//
// Segments: per level, tier rows in its ranges minus its dirty buckets;
// per level below the coarsest, tier rows in the dirty buckets of the
// level above minus its own (a dirty bucket falls to the next finer tier,
// whose clean buckets serve it, unless that tier is Dense); raw rows at the
// edges [lo, c_1) and [f_1, hi); raw rows of the dirty buckets that fall
// no further, or of the whole range when tiers do not serve it. Each
// yields partial states per group; the outer block merges them.

const epoch = "'1970-01-01 00:00:00+00'::timestamptz"

// frameSQL renders bucket arithmetic for one tier frame.
type frameSQL struct {
	f    rollup.Frame
	zone string // the table's zone, for calendar frames
}

func (s frameSQL) step() string {
	switch s.f.Unit {
	case rollup.Month:
		return "interval '1 month'"
	case rollup.Quarter:
		return "interval '3 months'"
	case rollup.Year:
		return "interval '1 year'"
	}
	return fmt.Sprintf("interval '%d seconds'", s.f.Seconds)
}

func (s frameSQL) floor(x string) string {
	if s.f.Calendar() {
		return fmt.Sprintf("date_trunc(%s, %s, %s)", rollup.QuoteLiteral(string(s.f.Unit)), x, rollup.QuoteLiteral(s.zone))
	}
	return fmt.Sprintf("date_bin(%s, %s, %s)", s.step(), x, epoch)
}

// next is the start of the bucket after the one starting at x.
func (s frameSQL) next(x string) string {
	if s.f.Calendar() {
		z := rollup.QuoteLiteral(s.zone)
		return fmt.Sprintf("((%s) AT TIME ZONE %s + %s) AT TIME ZONE %s", x, z, s.step(), z)
	}
	return fmt.Sprintf("(%s) + %s", x, s.step())
}

func (s frameSQL) ceil(x string) string {
	fl := s.floor(x)
	return fmt.Sprintf("CASE WHEN %s = %s THEN %s ELSE %s END", fl, x, x, s.next(fl))
}

// series lists the bucket starts of [lo, hi) as a one-column FROM item.
func (s frameSQL) series(lo, hi string) string {
	last := fmt.Sprintf("(%s) - interval '1 microsecond'", hi)
	if s.f.Calendar() {
		z := rollup.QuoteLiteral(s.zone)
		return fmt.Sprintf("(SELECT g AT TIME ZONE %s FROM generate_series(%s AT TIME ZONE %s, (%s) AT TIME ZONE %s, %s) g)",
			z, s.floor(lo), z, last, z, s.step())
	}
	return fmt.Sprintf("(SELECT generate_series(%s, %s, %s))", s.floor(lo), last, s.step())
}

// renderer builds the SQL of one rewritten block.
type renderer struct {
	b   *block
	c   chain
	set Settings
	// The block's own expressions, printed once.
	keys  []string // GROUP BY keys
	scope string   // " AND (cond) AND ..." over scope columns, or ""
	// markScope is the scope conditions over a mark's scope values
	// (markScopeOf), or "".
	markScope string
	where     string // the WHERE clause, parenthesised, or "true"
	// notice, when set, is sent to the client as a NOTICE by the statement.
	notice string
	// cr is the range worked out in Go when every bound is a literal
	// (static.go); nil otherwise.
	cr *constRange
}

// newRenderer prints the block's expressions.
func newRenderer(b *block, c chain, set Settings) (*renderer, error) {
	r := &renderer{b: b, c: c, set: set, where: "true"}
	for _, k := range b.keys {
		s, err := deparseExpr(k.expr)
		if err != nil {
			return nil, err
		}
		r.keys = append(r.keys, s)
	}
	for _, c := range b.scope {
		s, err := deparseExpr(c)
		if err != nil {
			return nil, err
		}
		r.scope += " AND (" + s + ")"
	}
	var err error
	if r.markScope, err = r.markScopeOf("m.scope"); err != nil {
		return nil, err
	}
	if b.stmt.WhereClause != nil {
		s, err := deparseExpr(b.stmt.WhereClause)
		if err != nil {
			return nil, err
		}
		r.where = "(" + s + ")"
	}
	r.cr = r.constRange()
	return r, nil
}

func (r *renderer) frame(k int) frameSQL {
	return frameSQL{f: r.c.tiers[k-1].Frame, zone: r.b.src.Table.TimeZone}
}

// render returns the block rewritten over the chain.
func (b *block) render(c chain, set Settings, notice string) (*pg.SelectStmt, error) {
	r, err := newRenderer(b, c, set)
	r.notice = notice
	if err != nil {
		return nil, err
	}
	one := r.oneRowGroups()
	from := r.segments()
	if one {
		from = r.oneRowSegments()
	}
	gen, err := parseSelect("WITH " + r.ctes() + " SELECT * FROM " + from + " AS spiral_s")
	if err != nil {
		return nil, err
	}
	out := b.stmt
	if out.WithClause != nil {
		gen.WithClause.Ctes = append(out.WithClause.Ctes, gen.WithClause.Ctes...)
	}
	out.WithClause = gen.WithClause
	out.FromClause = gen.FromClause
	out.WhereClause = nil
	out.GroupClause = nil
	for i := range b.keys {
		n, err := parseExpr(fmt.Sprintf("spiral_s.g%d", i+1))
		if err != nil {
			return nil, err
		}
		out.GroupClause = append(out.GroupClause, n)
	}
	if one {
		return out, b.finishedOuter(out)
	}
	return out, nil
}

func (r *renderer) ctes() string {
	head := []string{
		"spiral_b AS MATERIALIZED (" + r.rangeCTE() + ")",
		"spiral_l AS MATERIALIZED (" + r.levelsCTE() + ")",
		"spiral_r AS MATERIALIZED (" + r.servedCTE() + ")",
		"spiral_q AS MATERIALIZED (" + r.reachCTE() + ")",
	}
	gate := r.gateCTE()
	if r.cr != nil {
		head, gate = r.constHead(), r.constGateCTE()
	}
	return strings.Join(append(head,
		"spiral_m AS MATERIALIZED ("+r.marksCTE()+")",
		"spiral_n AS MATERIALIZED ("+r.countCTE()+")",
		"spiral_d AS MATERIALIZED ("+r.dirtyCTE()+")",
		"spiral_x AS MATERIALIZED ("+r.disjointCTE()+")",
		"spiral_g AS MATERIALIZED ("+gate+")",
	), ", ")
}

// span is the query's time range [lo, hi) as SQL over no column.
func (r *renderer) span() (lo, hi string) {
	b := r.b
	lo, hi = "'-infinity'::timestamptz", "'infinity'::timestamptz"
	if len(b.lower) > 0 {
		lo = "greatest(" + strings.Join(b.lower, ", ") + ")"
	}
	if len(b.upper) > 0 {
		hi = "least(" + strings.Join(b.upper, ", ") + ")"
	}
	return lo, hi
}

func (r *renderer) rangeCTE() string {
	lo, hi := r.span()
	return fmt.Sprintf("SELECT %s AS spiral_lo, %s AS spiral_hi, %s AS spiral_ok%s", lo, hi, strings.Join(r.okConds(), " AND "), r.noticeFrom())
}

// okConds are the conditions under which tiers may serve the statement at
// all, as SQL over no column.
func (r *renderer) okConds() []string {
	b := r.b
	name := rollup.QuoteIdent(b.rv.Relname)
	if b.rv.Schemaname != "" {
		name = rollup.QuoteIdent(b.rv.Schemaname) + "." + name
	}
	ok := []string{fmt.Sprintf("coalesce(to_regclass(%s)::oid = %d, false)", rollup.QuoteLiteral(name), b.src.OID)}
	if len(b.bounds) > 0 {
		ok = append(ok, "num_nulls("+strings.Join(b.bounds, ", ")+") = 0")
	}
	if r.c.session {
		ok = append(ok, "current_setting('TimeZone') = "+rollup.QuoteLiteral(r.set.TimeZone))
	}
	if len(b.finish) > 0 {
		ok = append(ok, percentileGuard(b.src.Table.ApproximatePercentiles))
	}
	return ok
}

// noticeFrom is the FROM clause of spiral_b that sends the statement's
// notice, if any.
func (r *renderer) noticeFrom() string {
	if r.notice == "" {
		return ""
	}
	return fmt.Sprintf(" FROM (SELECT spiral.notice(%s)) spiral_n", rollup.QuoteLiteral(r.notice))
}

func (r *renderer) levelsCTE() string {
	cols := []string{"b.*"}
	outer := []string{"x.*"}
	for k := 1; k <= len(r.c.tiers); k++ {
		f := r.frame(k)
		cols = append(cols, fmt.Sprintf("%s AS spiral_c%d", f.ceil("b.spiral_lo"), k), fmt.Sprintf("%s AS spiral_f%d", f.floor("b.spiral_hi"), k))
		outer = append(outer, fmt.Sprintf("x.spiral_c%d < x.spiral_f%d AS spiral_v%d", k, k, k))
	}
	ok := "b.spiral_ok"
	if r.c.since != alwaysSince {
		ok += fmt.Sprintf(" AND b.spiral_lo >= to_timestamp(%d)", r.c.since)
	}
	cols = append(cols, ok+" AS spiral_go")
	return fmt.Sprintf("SELECT %s FROM (SELECT %s FROM spiral_b b) x", strings.Join(outer, ", "), strings.Join(cols, ", "))
}

// servedRange is one range a tier level serves, as expressions over
// spiral_l: the coarsest level its [c, f), each finer one the edges the
// coarser leaves, [c_k, c_k+1) and [f_k+1, f_k).
type servedRange struct {
	k, i          int
	lo, hi, valid string
}

func (r *renderer) served() []servedRange {
	K := len(r.c.tiers)
	out := []servedRange{{K, 1, fmt.Sprintf("l.spiral_c%d", K), fmt.Sprintf("l.spiral_f%d", K), fmt.Sprintf("l.spiral_v%d", K)}}
	for k := K - 1; k >= 1; k-- {
		out = append(out,
			servedRange{k, 1, fmt.Sprintf("l.spiral_c%d", k), fmt.Sprintf("CASE WHEN l.spiral_v%d THEN l.spiral_c%d ELSE l.spiral_f%d END", k+1, k+1, k), fmt.Sprintf("l.spiral_v%d", k)},
			servedRange{k, 2, fmt.Sprintf("l.spiral_f%d", k+1), fmt.Sprintf("l.spiral_f%d", k), fmt.Sprintf("l.spiral_v%d AND l.spiral_v%d", k, k+1)})
	}
	return out
}

func (r *renderer) servedCTE() string {
	var rows []string
	for _, s := range r.served() {
		rows = append(rows, fmt.Sprintf("(%d, %s, %s, %s)", s.k, s.lo, s.hi, s.valid))
	}
	return "SELECT r.spiral_k, r.spiral_lo, r.spiral_hi FROM spiral_l l, LATERAL (VALUES " + strings.Join(rows, ", ") +
		") r(spiral_k, spiral_lo, spiral_hi, spiral_v) WHERE l.spiral_go AND r.spiral_v AND r.spiral_lo < r.spiral_hi"
}

// falls reports whether level k serves the dirty buckets of level k+1
// that lie in its reach (fallSegment); otherwise they are read raw.
func (r *renderer) falls(k int) bool {
	return k < len(r.c.tiers) && !r.c.tiers[k-1].Dense
}

// stop is the level at which the dirty buckets of level k stop falling:
// the first level m >= k that does not serve the ones above it (len(tiers)
// when every one does).
func (r *renderer) stop(k int) int {
	for r.falls(k) {
		k++
	}
	return k
}

// reachCTE lists each level's reach, the ranges whose dirty buckets it
// lists: [c_k, f_k), less [c_m+1, f_m+1) when the buckets above level m
// (stop) do not fall to it.
func (r *renderer) reachCTE() string {
	var rows []string
	for k := 1; k <= len(r.c.tiers); k++ {
		m := r.stop(k)
		if m == len(r.c.tiers) {
			rows = append(rows, fmt.Sprintf("(%d, l.spiral_c%d, l.spiral_f%d, l.spiral_v%d)", k, k, k, k))
			continue
		}
		rows = append(rows, fmt.Sprintf("(%d, l.spiral_c%d, CASE WHEN l.spiral_v%d THEN l.spiral_c%d ELSE l.spiral_f%d END, l.spiral_v%d)", k, k, m+1, m+1, k, k),
			fmt.Sprintf("(%d, l.spiral_f%d, l.spiral_f%d, l.spiral_v%d AND l.spiral_v%d)", k, m+1, k, k, m+1))
	}
	return "SELECT q.spiral_k, q.spiral_lo, q.spiral_hi FROM spiral_l l, LATERAL (VALUES " + strings.Join(rows, ", ") +
		") q(spiral_k, spiral_lo, spiral_hi, spiral_v) WHERE l.spiral_go AND q.spiral_v AND q.spiral_lo < q.spiral_hi"
}

// rawLevels lists the levels whose dirty buckets are read raw: the finest,
// and each one above a level that does not serve its dirty buckets.
func (r *renderer) rawLevels() []string {
	out := []string{"1"}
	for k := 1; k < len(r.c.tiers); k++ {
		if !r.falls(k) {
			out = append(out, fmt.Sprint(k+1))
		}
	}
	return out
}

// marksCTE reads the marks overlapping the finest level's whole buckets
// (its bounds are whole seconds when the range is constant).
func (r *renderer) marksCTE() string {
	from, use := "spiral_l l", "l.spiral_go AND l.spiral_v1"
	lo, hi := "greatest(extract(epoch FROM l.spiral_c1), -9e15)::int8", "least(extract(epoch FROM l.spiral_f1), 9e15)::int8"
	if r.cr != nil {
		from, use = "spiral_b l", "l.spiral_go"
		lo, hi = fmt.Sprint(r.cr.c[0]/1e6), fmt.Sprint(r.cr.f[0]/1e6)
	}
	if r.markScope != "" {
		use += " AND (m.scope IS NULL OR " + r.markScope + ")"
	}
	return fmt.Sprintf("SELECT to_timestamp(m.t_start) AS spiral_lo, to_timestamp(m.t_end) AS spiral_hi, m.scope AS spiral_scope "+
		"FROM %s JOIN spiral.marks m ON m.base_oid = %d AND m.t_start < %s AND m.t_end > %s WHERE %s",
		from, r.b.src.OID, hi, lo, use)
}

// markScopeOf is the block's scope conditions over the scope values of a
// mark (mark is its jsonb), joined by AND, or "" when there are none. The
// dirty set then holds only tenants the block reads: another tenant's
// buckets neither count as segments nor are read, and its tier rows are
// left out by the same conditions. A condition on a column of another
// collation than the database's default might compare the mark's copy
// otherwise, so it is left out: every tenant's marks stay then.
func (r *renderer) markScopeOf(mark string) (string, error) {
	var conds []string
	for _, c := range r.b.scope {
		if r.readsCollated(c) {
			continue
		}
		n := proto.Clone(c).(*pg.Node)
		var err error
		over := func(x *pg.Node) *pg.Node {
			name, col := r.b.colOf(x)
			if !col || err != nil {
				return nil
			}
			v, perr := parseExpr(r.markValue(mark, name))
			err = perr
			return v
		}
		if root := replaceOne(n.ProtoReflect(), over); root != nil {
			n = root
		}
		if err != nil {
			return "", err
		}
		s, err := deparseExpr(n)
		if err != nil {
			return "", err
		}
		conds = append(conds, "("+s+")")
	}
	if len(conds) == 0 {
		return "", nil
	}
	return "(" + strings.Join(conds, " AND ") + ")", nil
}

// readsCollated reports whether condition c reads a column of a
// non-default collation.
func (r *renderer) readsCollated(c *pg.Node) bool {
	found := false
	visitNodes(c, func(x *pg.Node) bool {
		if name, col := r.b.colOf(x); col && r.b.src.Collated[name] {
			found = true
		}
		return !found
	})
	return found
}

// markValue is the value of scope column col in a mark's scope, typed as
// the column is.
func (r *renderer) markValue(mark, col string) string {
	return fmt.Sprintf("(%s ->> %s)::%s", mark, rollup.QuoteLiteral(col), r.b.src.Columns[col])
}

// scopeCols lists the dirty-set columns that say which tenant a mark is
// for: spiral_all, then one typed column per scope column.
func (r *renderer) scopeCols(mark string) string {
	t := r.b.src.Table
	if len(t.ScopeColumns) == 0 {
		return "true AS spiral_all"
	}
	cols := []string{mark + " IS NULL AS spiral_all"}
	for i, s := range t.ScopeColumns {
		cols = append(cols, fmt.Sprintf("%s AS spiral_s%d", r.markValue(mark, s), i+1))
	}
	return strings.Join(cols, ", ")
}

// countCTE bounds the number of dirty buckets from above without listing
// them: a mark overlapping a level's reach in [a, b) touches
// ceil(b / W) - floor(a / W) buckets of a fixed width W (epoch seconds;
// buckets start at multiples of W), and at most ceil((b - a) / W) + 1 of a
// calendar unit, W its shortest length. Over maxDirtyBuckets, nothing is
// listed and the statement reads raw.
func (r *renderer) countCTE() string {
	lo := "extract(epoch FROM greatest(m.spiral_lo, r.spiral_lo))"
	hi := "extract(epoch FROM least(m.spiral_hi, r.spiral_hi))"
	var whens []string
	for k := 1; k <= len(r.c.tiers); k++ {
		f := r.c.tiers[k-1].Frame
		n := fmt.Sprintf("ceil(%s / %d) - floor(%s / %d)", hi, f.Seconds, lo, f.Seconds)
		switch f.Unit {
		case rollup.Month:
			n = fmt.Sprintf("ceil((%s - %s) / %d) + 1", hi, lo, 28*86400)
		case rollup.Quarter:
			n = fmt.Sprintf("ceil((%s - %s) / %d) + 1", hi, lo, 89*86400)
		case rollup.Year:
			n = fmt.Sprintf("ceil((%s - %s) / %d) + 1", hi, lo, 365*86400)
		}
		whens = append(whens, fmt.Sprintf("WHEN %d THEN %s", k, n))
	}
	return "SELECT coalesce(sum(CASE r.spiral_k " + strings.Join(whens, " ") + " END), 0) AS spiral_n " +
		"FROM spiral_q r JOIN spiral_m m ON m.spiral_lo < r.spiral_hi AND m.spiral_hi > r.spiral_lo"
}

// maxDirtyBuckets bounds the dirty buckets a statement lists and reads
// one by one from the raw table (each an index scan); beyond it, reading
// the range raw costs about as much.
const maxDirtyBuckets = 10000

// segmentCount is the number of segments of the plan, as SQL over no
// column: the served ranges (served, SQL), and per level the runs of
// adjacent dirty buckets, over every tenant the block reads (a run of
// buckets is one raw range, as the spec's segments are time ranges). NULL
// when there are more dirty buckets than maxDirtyBuckets.
func segmentCount(served string) string {
	return fmt.Sprintf("CASE WHEN (SELECT spiral_n FROM spiral_n) <= %d THEN %s + (SELECT count(*) FROM "+
		"(SELECT DISTINCT spiral_k, spiral_b FROM spiral_x) a WHERE NOT EXISTS "+
		"(SELECT FROM spiral_x p WHERE p.spiral_k = a.spiral_k AND p.spiral_e = a.spiral_b)) END", maxDirtyBuckets, served)
}

// fallbackNotice is the NOTICE of a statement that tiers could serve but
// that runs raw: n is the segment count (segmentCount), NULL when the
// dirty buckets were too many to list.
func (r *renderer) fallbackNotice(n string) string {
	segs := rollup.QuoteLiteral("spiral: the plan needs %s segments, more than spiral.max_segments = %s; the statement runs on the raw table")
	dirty := rollup.QuoteLiteral("spiral: the range has up to %s dirty buckets, more than the %s spiral reads one by one; the statement runs on the raw table")
	return fmt.Sprintf("spiral.notice(CASE WHEN %s IS NULL THEN format(%s, (SELECT spiral_n FROM spiral_n), %d) ELSE format(%s, %s, %s) END)",
		n, dirty, maxDirtyBuckets, segs, n, r.limit())
}

// limit is spiral.max_segments as SQL read when the statement runs: the
// session's SET is mirrored into a placeholder setting (engine), so a
// client's cached prepared statement follows a later SET. The value
// planned with stands in when the setting is unset or not a number (set
// with set_config behind spiral's back).
func (r *renderer) limit() string {
	planned := r.set.MaxSegments
	if planned <= 0 {
		planned = DefaultMaxSegments
	}
	// No "$" in it: the proxy prepares only statements without one.
	return fmt.Sprintf("(SELECT CASE WHEN length(s) BETWEEN 1 AND 9 AND ltrim(s, '0123456789') = '' THEN s::int ELSE %d END "+
		"FROM coalesce(current_setting('spiral.max_segments', true), '') s)", planned)
}

// dirtyCTE lists the dirty buckets of each level within its reach.
func (r *renderer) dirtyCTE() string {
	var parts []string
	for k := 1; k <= len(r.c.tiers); k++ {
		if !r.reaches(k) {
			continue
		}
		f := r.frame(k)
		parts = append(parts, fmt.Sprintf("SELECT r.spiral_k, s.spiral_b, %s AS spiral_e, %s "+
			"FROM spiral_q r JOIN spiral_m m ON m.spiral_lo < r.spiral_hi AND m.spiral_hi > r.spiral_lo, "+
			"LATERAL %s s(spiral_b) WHERE r.spiral_k = %d AND (SELECT spiral_n FROM spiral_n) <= %d",
			f.next("s.spiral_b"), r.scopeCols("m.spiral_scope"),
			f.series("greatest(m.spiral_lo, r.spiral_lo)", "least(m.spiral_hi, r.spiral_hi)"), k, maxDirtyBuckets))
	}
	return "SELECT DISTINCT * FROM (" + strings.Join(parts, " UNION ALL ") + ") d"
}

func (r *renderer) disjointCTE() string {
	return "SELECT d.* FROM spiral_d d WHERE d.spiral_all OR NOT EXISTS (SELECT FROM spiral_d a " +
		"WHERE a.spiral_all AND a.spiral_k = d.spiral_k AND a.spiral_b = d.spiral_b)"
}

// percentileGuard holds at run time while the session still allows
// approximate percentiles over the table (SET spiral.approximate_percentiles
// is mirrored into a placeholder setting): a cached prepared statement run
// after SET ... = off falls back to the raw table, where PostgreSQL computes
// the exact answer.
func percentileGuard(tableOption bool) string {
	mode := "coalesce(current_setting('spiral.approximate_percentiles', true), 'table')"
	if tableOption {
		return mode + " <> 'off'"
	}
	return mode + " = 'on'"
}

// gateCTE decides whether tiers serve the statement at all (within
// spiral.max_segments) and gives each served range's bounds, NULL when it
// serves nothing. Segments read
// them as one-row subqueries: evaluated once, usable as index bounds.
// OFFSET 0 keeps the planner from copying n's subqueries into every
// column that uses u.
func (r *renderer) gateCTE() string {
	cols := []string{"u.u AS spiral_use"}
	for _, s := range r.served() {
		on := fmt.Sprintf("u.u AND (%s) AND %s < %s", s.valid, s.lo, s.hi)
		cols = append(cols, fmt.Sprintf("CASE WHEN %s THEN %s END AS spiral_lo%d_%d", on, s.lo, s.k, s.i),
			fmt.Sprintf("CASE WHEN %s THEN %s END AS spiral_hi%d_%d", on, s.hi, s.k, s.i))
	}
	cols = append(cols, fmt.Sprintf("CASE WHEN NOT u.u AND l.spiral_go AND l.spiral_v1 THEN %s END AS spiral_note", r.fallbackNotice("n.n")))
	return fmt.Sprintf("SELECT %s "+
		"FROM spiral_l l, (SELECT %s AS n OFFSET 0) n, "+
		"LATERAL (SELECT coalesce(l.spiral_go AND l.spiral_v1 AND n.n <= %s, false) AS u OFFSET 0) u",
		strings.Join(cols, ", "), segmentCount("(SELECT count(*) FROM spiral_r)"), r.limit())
}

// segments is the FROM item the outer block reads: every segment's partial
// states per group, and for moments the per-group mean.
func (r *renderer) segments() string {
	union := "(" + strings.Join(r.segmentList(r.ranges()), " UNION ALL ") + ")"
	if !r.hasMoments() {
		return union
	}
	return r.meanLayers(union)
}

// segmentList is the tier segments of the given served ranges, the raw
// edges, the finer tiers' reads of the dirty buckets that fall to them and
// the raw reads of the rest (rawLevels).
func (r *renderer) segmentList(served []servedRange) []string {
	var segs []string
	for _, s := range served {
		segs = append(segs, r.tierSegment(s))
	}
	segs = append(segs, r.edgeSegments()...)
	for k := 1; k < len(r.c.tiers); k++ {
		if r.falls(k) && r.reaches(k+1) {
			segs = append(segs, r.fallSegment(k))
		}
	}
	return append(segs, r.dirtySegment())
}

func (r *renderer) hasMoments() bool {
	for _, a := range r.b.aggs {
		if a.moments {
			return true
		}
	}
	return false
}

// selectList is a segment's columns: the keys as written, then the
// partial states, each cast to its part's type. Over a tier row (tier > 0,
// its level) a key that is that tier's own bucket is the bucket start.
func (r *renderer) selectList(tier int) string {
	var cols []string
	for i, k := range r.keys {
		if tier > 0 && r.b.isBucketOf(r.b.keys[i], r.c.tiers[tier-1].Frame) {
			k = r.b.ref + "." + r.b.time
		}
		cols = append(cols, fmt.Sprintf("%s AS g%d", k, i+1))
	}
	for _, a := range r.b.aggs {
		for _, p := range a.parts {
			src := p.raw
			if tier > 0 {
				src = p.tier
			}
			cols = append(cols, fmt.Sprintf("(%s)::%s AS %s", src, p.typ, p.name))
		}
	}
	return strings.Join(cols, ", ")
}

func (r *renderer) groupBy() string {
	if len(r.b.keys) == 0 {
		return ""
	}
	pos := make([]string, len(r.b.keys))
	for i := range pos {
		pos[i] = fmt.Sprint(i + 1)
	}
	return " GROUP BY " + strings.Join(pos, ", ")
}

func (r *renderer) scopeMatch(dirty, row string) string {
	tenant := r.tenantMatch(dirty, row)
	if tenant == "" {
		return dirty + ".spiral_all"
	}
	return fmt.Sprintf("(%s.spiral_all OR (%s))", dirty, tenant)
}

// tenantMatch is the condition that a row is of a dirty row's tenant, ""
// for a table without scope columns.
func (r *renderer) tenantMatch(dirty, row string) string {
	var eq []string
	for i, s := range r.b.src.Table.ScopeColumns {
		eq = append(eq, fmt.Sprintf("%s.spiral_s%d = %s.%s", dirty, i+1, row, rollup.QuoteIdent(s)))
	}
	return strings.Join(eq, " AND ")
}

// tierSegment yields one row per tier row of one served range: its
// partial states are the tier's columns.
func (r *renderer) tierSegment(s servedRange) string {
	b := r.b
	t := r.c.tiers[s.k-1]
	tcol := b.ref + "." + b.time
	lo, hi := fmt.Sprintf("(SELECT spiral_lo%d_%d FROM spiral_g)", s.k, s.i), fmt.Sprintf("(SELECT spiral_hi%d_%d FROM spiral_g)", s.k, s.i)
	// "lo IS NOT NULL" has no column: a one-time filter, so an unserved
	// range reads nothing.
	use := lo + " IS NOT NULL"
	if r.cr != nil {
		lo, hi, use = s.lo, s.hi, "(SELECT spiral_use FROM spiral_g)"
	}
	return fmt.Sprintf("SELECT %s FROM %s AS %s WHERE %s AND %s >= %s AND %s < %s%s "+
		"AND NOT EXISTS (SELECT FROM spiral_d d WHERE d.spiral_k = %d AND d.spiral_b = %s AND %s)",
		r.selectList(s.k), rollup.QualifiedName(t.Schema, t.Name), b.ref, use, tcol, lo, tcol, hi,
		r.scope, s.k, tcol, r.scopeMatch("d", b.ref))
}

// fallSegment reads level k's tier rows in the dirty buckets of level
// k+1, minus level k's own dirty buckets (which fall further). As in
// dirtySegment, the buckets drive the reads (bucketRows). The own dirty
// buckets are taken out once over all the rows read, not per bucket: an
// anti-join inside the lateral read would scan spiral_d again for every
// bucket.
func (r *renderer) fallSegment(k int) string {
	b := r.b
	t := r.c.tiers[k-1]
	tcol := b.ref + "." + b.time
	read := func(cond string) string {
		return fmt.Sprintf("SELECT %s.* FROM %s AS %s WHERE %s >= spiral_x.spiral_b AND %s < spiral_x.spiral_e AND %s%s OFFSET 0",
			b.ref, rollup.QualifiedName(t.Schema, t.Name), b.ref, tcol, tcol, cond, r.scope)
	}
	// "spiral_use" has no column: a one-time filter.
	rows := fmt.Sprintf("SELECT %s.* FROM spiral_x CROSS JOIN LATERAL (%s) AS %s WHERE spiral_x.spiral_k = %d AND (SELECT spiral_use FROM spiral_g)",
		b.ref, r.bucketRows(read), b.ref, k+1)
	return fmt.Sprintf("SELECT %s FROM (%s) AS %s WHERE NOT EXISTS (SELECT FROM spiral_d d WHERE d.spiral_k = %d AND d.spiral_b = %s AND %s)",
		r.selectList(k), rows, b.ref, k, tcol, r.scopeMatch("d", b.ref))
}

// bucketRows is the rows read (by read, given a condition over spiral_x)
// for one bucket of spiral_x: a bucket of every tenant and a bucket of one
// tenant are read by two branches, one of which a one-time filter turns
// off, so that the tenant's rows are read alone over the (scope..., time)
// index, where one condition "all tenants or this one" would read every
// tenant's rows of the bucket.
func (r *renderer) bucketRows(read func(cond string) string) string {
	rows := read("spiral_x.spiral_all")
	if tenant := r.tenantMatch("spiral_x", r.b.ref); tenant != "" {
		rows = "(" + rows + ") UNION ALL (" + read("NOT spiral_x.spiral_all AND "+tenant) + ")"
	}
	return rows
}

// fromItem is the block's FROM item as written.
func (r *renderer) fromItem() string {
	rv := r.b.rv
	name := rollup.QuoteIdent(rv.Relname)
	if rv.Schemaname != "" {
		name = rollup.QuoteIdent(rv.Schemaname) + "." + name
	}
	if !rv.Inh {
		name = "ONLY " + name
	}
	if rv.Alias != nil {
		name += " AS " + rollup.QuoteIdent(rv.Alias.Aliasname)
	}
	return name
}

// edgeSegments read the raw rows of the edges [lo, c_1) and [f_1, hi)
// when tiers serve the statement. The edge bounds are written out over the
// query's own bounds, not read from spiral_g: the planner then estimates
// the edges' rows (a bucket at most) instead of a third of the range, and
// does not size their hash tables for millions of groups.
func (r *renderer) edgeSegments() []string {
	tcol := r.b.ref + "." + r.b.time
	lo, hi := r.span()
	f := r.frame(1)
	edge := func(cond string) string {
		return fmt.Sprintf("SELECT %s FROM %s WHERE %s AND %s AND (SELECT spiral_use FROM spiral_g)%s",
			r.selectList(0), r.fromItem(), r.where, cond, r.groupBy())
	}
	if r.cr != nil {
		return r.constEdges(edge)
	}
	return []string{
		edge(tcol + " < " + f.ceil(lo)),
		edge(tcol + " >= " + f.floor(hi)),
	}
}

// dirtyOrAll lists the ranges the dirty segment reads: the dirty buckets
// of rawLevels when tiers serve the statement, else the whole range for
// every tenant.
func (r *renderer) dirtyOrAll() string {
	all := []string{"0", "'-infinity'::timestamptz", "'infinity'::timestamptz", "true"}
	for _, s := range r.b.src.Table.ScopeColumns {
		all = append(all, "NULL::"+r.b.src.Columns[s])
	}
	return "(SELECT x.* FROM spiral_x x, spiral_g g WHERE g.spiral_use AND x.spiral_k IN (" + strings.Join(r.rawLevels(), ", ") + ") UNION ALL SELECT " + strings.Join(all, ", ") +
		" FROM spiral_g g WHERE NOT g.spiral_use)"
}

// dirtySegment reads the raw rows of each dirty bucket that falls no
// further (rawLevels; the others fall: fallSegment), or of the whole range
// when tiers do not serve the statement. OFFSET 0 keeps
// the lateral subquery from being flattened into a join the planner could
// drive from the raw table: the buckets drive it, and none costs nothing.
func (r *renderer) dirtySegment() string {
	b := r.b
	tcol := b.ref + "." + b.time
	read := func(cond string) string {
		return fmt.Sprintf("SELECT %s.* FROM %s WHERE %s AND %s >= spiral_x.spiral_b AND %s < spiral_x.spiral_e AND %s OFFSET 0",
			b.ref, r.fromItem(), r.where, tcol, tcol, cond)
	}
	return fmt.Sprintf("SELECT %s FROM %s AS spiral_x CROSS JOIN LATERAL (%s) AS %s%s",
		r.selectList(0), r.dirtyOrAll(), r.bucketRows(read), b.ref, r.groupBy())
}

// meanLayers adds, for each moments aggregate, the pivot and the mean of
// its parts over the group (stats/doc.go: the k-way merge).
func (r *renderer) meanLayers(union string) string {
	var part []string
	for i := range r.b.keys {
		part = append(part, fmt.Sprintf("g%d", i+1))
	}
	win := "WINDOW spiral_w AS (PARTITION BY " + strings.Join(part, ", ") + ")"
	if len(part) == 0 {
		win = "WINDOW spiral_w AS ()"
	}
	var pivots, means []string
	for _, a := range r.b.aggs {
		if !a.moments {
			continue
		}
		p := a.prefix
		pivots = append(pivots, fmt.Sprintf("coalesce(min(%s_m1) FILTER (WHERE %s_n > 0 AND abs(%s_m1) < 'Infinity') OVER spiral_w, 0) AS %s_p", p, p, p, p))
		means = append(means, fmt.Sprintf("%s_p + sum(%s_n * (%s_m1 - %s_p)) FILTER (WHERE %s_n > 0) OVER spiral_w / "+
			"nullif(sum(%s_n) FILTER (WHERE %s_n > 0) OVER spiral_w, 0) AS %s_mean", p, p, p, p, p, p, p, p))
	}
	inner := fmt.Sprintf("(SELECT spiral_u.*, %s FROM %s AS spiral_u %s)", strings.Join(pivots, ", "), union, win)
	return fmt.Sprintf("(SELECT spiral_v.*, %s FROM %s AS spiral_v %s)", strings.Join(means, ", "), inner, win)
}
