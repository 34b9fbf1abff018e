package rollup

import (
	"fmt"
	"strings"
)

// This file generates the SQL that the refresh engine runs for tables on the
// SQL path (SQLPath): one INSERT ... SELECT per bucket range that aggregates
// the base table, or a finer tier, into a tier. The statements are plain
// PostgreSQL 15; they use no function that spiral creates, only the
// composite type spiral.moments.
//
// Shape. A CTE src selects the rows with generated aliases only (_s1.. for
// the scope columns, _b for the bucket start, _k for the epoch when an
// ohlc kind needs it, _x1.. for base columns or _v<j> for tier columns), so
// no user column name can clash with them. CTE g groups src by scope and
// bucket. Tables with stats first compute a pivot per bucket in CTE w, a
// window over src's bucket, which g then groups. No statement joins: a
// join planned from stale statistics (a tier analyzed while the refresh's
// own rows were uncommitted has reltuples 0) becomes a nested loop over
// every pair of rows, which ran for hours on a million-row backfill.
//
// Semantics shared by both directions:
//
//   - Rows whose time column is NULL are never aggregated.
//   - sum, min, max and count are PostgreSQL's aggregates, so NULLs are
//     ignored and an all-NULL bucket stores NULL (count: 0).
//   - ohlc/ohlcv: open is the value with the earliest time among the
//     bucket's non-NULL values, ties broken by the smaller value; close the
//     value with the latest time, ties broken by the larger value (NaN sorts
//     above every number, as in PostgreSQL). Both are
//     min/max(ARRAY[time key, value])[2], which hash-aggregates without a
//     sort. The key is the exact numeric epoch (_k) for integer and
//     numeric columns, and date_part's float8 epoch (_kf) for float
//     columns: its rounding keeps distinct microseconds distinct and in
//     order while the epoch's ulp is under a microsecond, 1698-2242. It
//     costs a third of extract's numeric, which was a quarter of a
//     refresh of one busy minute. Merging tiers takes the open of the
//     earliest child bucket that has one, which is the same value.
//     high/low are max/min, v is count(col).
//   - stats: see the comment above rawMoments.
//   - A NULL tenant value fails the INSERT on the tier's primary key (NOT
//     NULL) rather than being dropped: tenant columns must be NOT NULL.
//
// Arithmetic on float8 in PostgreSQL raises 22003 where a finite result
// overflows or a non-zero one underflows to zero. The stats sums raise it for
// data whose deviations from the mean exceed about 1e77 (the fourth power
// overflows) or, non-zero, fall below about 1e-81; such buckets need the Go
// path (stats.Moments), which lets the sums overflow to infinity instead.

// SQLPath reports whether all of t's kinds can be computed by the SQL this
// file generates: everything except sketch and tdigest, which need Go.
func (t *Table) SQLPath() bool {
	for _, c := range t.Columns {
		for _, k := range c.Kinds {
			if k == KindSketch || k == KindTDigest {
				return false
			}
		}
	}
	return true
}

// RawToTierSQL returns the statement that aggregates the base rows matching
// where into the tier of frame f:
//
//	WITH src AS (SELECT ... FROM base WHERE (where) AND time IS NOT NULL), g AS (...)
//	INSERT INTO tier (columns) SELECT ... FROM g
//
// where is a predicate over the base table's columns, spliced verbatim (it
// may use $n placeholders); "" selects every row. The statement only
// inserts: the caller deletes the buckets it recomputes first. It panics
// unless SQLPath() holds.
func (t *Table) RawToTierSQL(f Frame, where string) string {
	return t.rawToTier(f, t.baseRelation(), where)
}

// rawToTier is RawToTierSQL reading from rel, a relation with the base
// table's columns.
func (t *Table) rawToTier(f Frame, rel, where string) string {
	t.mustSQLPath()
	ts := QuoteIdent(t.TimeColumn)
	items := append([]string{f.SQLBucket(ts, t.zone()) + " AS _b"}, t.timeKeys(ts)...)
	inputs := map[string]string{}
	for i, c := range t.Columns {
		alias := fmt.Sprintf("_x%d", i+1)
		inputs[c.Name] = alias
		items = append(items, QuoteIdent(c.Name)+" AS "+alias)
	}
	cond := ts + " IS NOT NULL"
	if where != "" {
		cond = "(" + where + ") AND " + cond
	}
	src := t.srcCTE(items, rel, cond)
	return t.assemble(f, src, func(j int, c TierColumn) colSQL { return rawColumn(j, c, inputs[c.Source]) })
}

// TierToTierSQL returns the statement that aggregates the rows of the tier
// of frame from that match where (a predicate over that tier's columns,
// spliced verbatim; "" for all) into buckets of the coarser frame to:
// sums of sums, sum of row_count and counts, min of mins, max of maxes,
// open/close of the earliest/latest child with a value, stats merged as
// described above rawMoments. Every bucket of to must be made of whole
// buckets of from (Frame.Covers); the caller picks from and to from
// t.Frames. It panics unless SQLPath() holds.
func (t *Table) TierToTierSQL(from, to Frame, where string) string {
	return t.tierToTier(from, to, t.tierRelation(from), where)
}

// tierToTier is TierToTierSQL reading from rel, a relation with the tier
// of from's columns.
func (t *Table) tierToTier(from, to Frame, rel, where string) string {
	t.mustSQLPath()
	ts := QuoteIdent(t.TimeColumn)
	items := append([]string{to.SQLBucket(ts, t.zone()) + " AS _b"}, t.timeKeys(ts)...)
	cols := t.TierColumns()
	for j := t.keyCount(); j < len(cols); j++ {
		items = append(items, fmt.Sprintf("%s AS _v%d", QuoteIdent(cols[j].Name), j))
	}
	src := t.srcCTE(items, rel, where)
	return t.assemble(to, src, func(j int, c TierColumn) colSQL { return tierColumn(j, c) })
}

func (t *Table) mustSQLPath() {
	if !t.SQLPath() {
		panic(fmt.Sprintf("rollup: %s has sketch or tdigest columns, which the SQL path cannot compute", t.Name))
	}
}

// timeKeys are the src items of the time keys open and close need, of time
// column ts: _k (numeric epoch) for integer and numeric ohlc columns, _kf
// (float8 epoch) for float ones unless Go folds their open and close.
func (t *Table) timeKeys(ts string) []string {
	var exact, float bool
	for _, c := range t.Columns {
		if containsKind(c.Kinds, KindOHLC) || containsKind(c.Kinds, KindOHLCV) {
			f := isFloat(c.Type)
			if f && t.goOpenClose {
				continue
			}
			exact, float = exact || !f, float || f
		}
	}
	var items []string
	if exact {
		items = append(items, fmt.Sprintf("extract(epoch from %s) AS _k", ts))
	}
	if float {
		items = append(items, fmt.Sprintf("date_part('epoch', %s) AS _kf", ts))
	}
	return items
}

func isFloat(typ string) bool {
	b := baseType(typ)
	return b == "float4" || b == "float8"
}

// srcCTE returns the src CTE: the scope columns as _s1.., then items, from
// rel, filtered by cond unless it is "".
func (t *Table) srcCTE(items []string, rel, cond string) string {
	sel := make([]string, 0, len(t.ScopeColumns)+len(items))
	for i, s := range t.ScopeColumns {
		sel = append(sel, fmt.Sprintf("%s AS _s%d", QuoteIdent(s), i+1))
	}
	sel = append(sel, items...)
	q := "src AS (\n    SELECT " + strings.Join(sel, ",\n           ") + "\n    FROM " + rel
	if cond != "" {
		q += "\n    WHERE " + cond
	}
	return q + "\n)"
}

// colSQL is how one non-key tier column is computed: for stats, window
// expressions in w; aggregates in g (each "expr AS alias"); and the final
// expression over g.
type colSQL struct {
	w, g []string
	out  string
}

// assemble builds the statement from src and the per-column pieces.
func (t *Table) assemble(f Frame, src string, column func(int, TierColumn) colSQL) string {
	cols := t.TierColumns()
	keys := t.groupKeys()
	var ws, gs, outs []string
	for _, k := range keys {
		outs = append(outs, "g."+k)
	}
	for j := t.keyCount(); j < len(cols); j++ {
		p := column(j, cols[j])
		ws, gs, outs = append(ws, p.w...), append(gs, p.g...), append(outs, p.out)
	}
	ctes, rel := []string{src}, "src"
	if len(ws) > 0 {
		ctes, rel = append(ctes, windowCTE("w", "src", keys, ws)), "w"
	}
	ctes = append(ctes, groupCTE("g", rel, keys, gs))
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = QuoteIdent(c.Name)
	}
	return "WITH " + strings.Join(ctes, ", ") +
		"\nINSERT INTO " + t.tierRelation(f) + " (" + strings.Join(names, ", ") + ")" +
		"\nSELECT " + strings.Join(outs, ",\n       ") + "\nFROM g"
}

// groupKeys are the src aliases of the group: _s1.. and _b.
func (t *Table) groupKeys() []string {
	keys := make([]string, 0, t.keyCount())
	for i := range t.ScopeColumns {
		keys = append(keys, fmt.Sprintf("_s%d", i+1))
	}
	return append(keys, "_b")
}

// groupCTE returns "name AS (SELECT keys, aggs FROM rel GROUP BY keys)".
func groupCTE(name, rel string, keys, aggs []string) string {
	q := qualify(rel, keys)
	return name + " AS (\n    SELECT " + strings.Join(append(q, aggs...), ",\n           ") +
		"\n    FROM " + rel + "\n    GROUP BY " + strings.Join(q, ", ") + "\n)"
}

// windowCTE returns "name AS (SELECT rel.*, exprs FROM rel WINDOW k AS
// (PARTITION BY keys))": exprs are window aggregates OVER k, each row's
// value over its whole bucket.
func windowCTE(name, rel string, keys, exprs []string) string {
	return name + " AS (\n    SELECT " + strings.Join(append([]string{rel + ".*"}, exprs...), ",\n           ") +
		"\n    FROM " + rel + "\n    WINDOW k AS (PARTITION BY " + strings.Join(qualify(rel, keys), ", ") + ")\n)"
}

// qualify prefixes each key with rel.
func qualify(rel string, keys []string) []string {
	q := make([]string, len(keys))
	for i, k := range keys {
		q[i] = rel + "." + k
	}
	return q
}

// simple is a column computed by one aggregate in g.
func simple(j int, agg string) colSQL {
	alias := fmt.Sprintf("_g%d", j)
	return colSQL{g: []string{agg + " AS " + alias}, out: "g." + alias}
}

// rawColumn computes tier column j from x, the src alias of its base column.
func rawColumn(j int, c TierColumn, x string) colSQL {
	switch {
	case c.Kind == "": // row_count
		return simple(j, "count(*)")
	case c.Kind == KindStats:
		return rawMoments(j, x)
	case c.Kind == KindSum:
		return simple(j, "sum("+x+")")
	case c.Kind == KindMin || c.Part == "l":
		return simple(j, "min("+x+")")
	case c.Kind == KindMax || c.Part == "h":
		return simple(j, "max("+x+")")
	case c.Part == "o":
		return simple(j, openClose("min", x, c.SQLType))
	case c.Part == "c":
		return simple(j, openClose("max", x, c.SQLType))
	}
	return simple(j, "count("+x+")") // count, ohlcv's v
}

// tierColumn computes tier column j from the same column of a finer tier,
// src alias _v<j>.
func tierColumn(j int, c TierColumn) colSQL {
	v := fmt.Sprintf("_v%d", j)
	switch {
	case c.Kind == KindStats:
		return tierMoments(j, v)
	case c.Kind == KindMin || c.Part == "l":
		return simple(j, "min("+v+")")
	case c.Kind == KindMax || c.Part == "h":
		return simple(j, "max("+v+")")
	case c.Part == "o":
		return simple(j, openClose("min", v, c.SQLType))
	case c.Part == "c":
		return simple(j, openClose("max", v, c.SQLType))
	}
	return simple(j, "sum("+v+")::"+c.SQLType) // row_count, sum, count, ohlcv's v
}

// openClose returns the open (agg min) or close (agg max) of val: the value
// at the earliest (latest) time key _k, ties to the smaller (larger) value.
func openClose(agg, val, typ string) string {
	key, v := "_k", val+"::numeric"
	if isFloat(typ) {
		key, v = "_kf", val+"::float8"
	}
	return fmt.Sprintf("(%s(ARRAY[%s, %s]) FILTER (WHERE %s IS NOT NULL))[2]::%s", agg, key, v, val, typ)
}

// Stats columns (spiral.moments: n, mean m1, central sums m2, m3, m4) are
// computed by the corrected two-pass algorithm, in both directions:
//
//  1. w: a pivot p per row, the plain mean Σx/n of its bucket (from a tier:
//     Σnᵢ·m1ᵢ/N over the parts with nᵢ > 0), a window over the bucket.
//  2. g, grouping w: n, p, and with dᵢ = xᵢ − p (from a tier: dᵢ = m1ᵢ − p),
//     e = Σdᵢ/n and the sums about p, q2..q4 (from a tier: the parts'
//     central sums shifted to p, q2 = Σ(m2ᵢ + nᵢdᵢ²),
//     q3 = Σ(m3ᵢ + 3dᵢm2ᵢ + nᵢdᵢ³), q4 = Σ(m4ᵢ + 4dᵢm3ᵢ + 6dᵢ²m2ᵢ + nᵢdᵢ⁴)).
//  3. m1 = p + e, m2 = q2 − n·e², m3 = q3 − 3e·q2 + 2n·e³,
//     m4 = q4 − 4e·q3 + 6e²·q2 − 3n·e⁴.
//
// This is the pivot form of stats' k-way merge (doc.go), with the window's
// mean as the pivot: p is within rounding of the mean, so the sums
// about it never hold the large common offset of data like 1e9 + noise,
// and e corrects the pivot's own rounding error (no naive power sums). m2
// and m4 are clamped at 0 against rounding.
//
// A bucket whose column is all NULL stores (0, 0, 0, 0, 0), as the zero
// stats.Moments. NaN and ±Inf follow stats: if p is not finite (some input
// was, or a part's mean was), m1 = p — Σx/n as PostgreSQL's avg computes it
// — and m2..m4 are NaN. Values are converted with ::float8.

// rawMoments computes stats column j from x, a base column in src.
func rawMoments(j int, x string) colSQL {
	d := fmt.Sprintf("(%s::float8 - _p%d)", x, j)
	return colSQL{
		w: []string{fmt.Sprintf("sum(%s::float8) OVER k / count(%s) OVER k AS _p%d", x, x, j)},
		g: []string{
			fmt.Sprintf("count(%s) AS _n%d", x, j),
			fmt.Sprintf("min(_p%d) AS _p%d", j, j),
			fmt.Sprintf("sum%s / count(%s) AS _e%d", d, x, j),
			fmt.Sprintf("sum(%s ^ 2) AS _q2_%d", d, j),
			fmt.Sprintf("sum(%s ^ 3) AS _q3_%d", d, j),
			fmt.Sprintf("sum(%s ^ 4) AS _q4_%d", d, j),
		},
		out: momentsOut(j),
	}
}

// tierMoments computes stats column j from v, the same column of a finer
// tier in src.
func tierMoments(j int, v string) colSQL {
	n, m1, m2, m3 := "("+v+").n", "("+v+").m1", "("+v+").m2", "("+v+").m3"
	d := fmt.Sprintf("(%s - _p%d)", m1, j)
	part := fmt.Sprintf(" FILTER (WHERE %s > 0)", n)
	return colSQL{
		w: []string{fmt.Sprintf("sum(%s * %s)%s OVER k / nullif(sum(%s) OVER k, 0) AS _p%d", n, m1, part, n, j)},
		g: []string{
			fmt.Sprintf("coalesce(sum(%s), 0)::int8 AS _n%d", n, j),
			fmt.Sprintf("min(_p%d) AS _p%d", j, j),
			fmt.Sprintf("sum(%s * %s)%s / sum(%s)%s AS _e%d", n, d, part, n, part, j),
			fmt.Sprintf("sum(%s + %s * %s ^ 2)%s AS _q2_%d", m2, n, d, part, j),
			fmt.Sprintf("sum(%s + 3 * %s * %s + %s * %s ^ 3)%s AS _q3_%d", m3, d, m2, n, d, part, j),
			fmt.Sprintf("sum((%s).m4 + 4 * %s * %s + 6 * %s ^ 2 * %s + %s * %s ^ 4)%s AS _q4_%d",
				v, d, m3, d, m2, n, d, part, j),
		},
		out: momentsOut(j),
	}
}

// momentsOut builds the spiral.moments value of stats column j from g's
// _n, _p, _e and _q2.._q4 (step 3 of the algorithm).
func momentsOut(j int) string {
	r := strings.NewReplacer("{n}", fmt.Sprintf("g._n%d", j), "{p}", fmt.Sprintf("g._p%d", j),
		"{e}", fmt.Sprintf("g._e%d", j), "{q2}", fmt.Sprintf("g._q2_%d", j),
		"{q3}", fmt.Sprintf("g._q3_%d", j), "{q4}", fmt.Sprintf("g._q4_%d", j), "{t}", MomentsType)
	return r.Replace(`CASE WHEN {n} = 0 THEN ROW(0, 0, 0, 0, 0)::{t}
            WHEN abs({p}) < 'Infinity' THEN ROW({n}, {p} + {e},
                greatest({q2} - {n} * {e} ^ 2, 0),
                {q3} - 3 * {e} * {q2} + 2 * {n} * {e} ^ 3,
                greatest({q4} - 4 * {e} * {q3} + 6 * {e} ^ 2 * {q2} - 3 * {n} * {e} ^ 4, 0))::{t}
            ELSE ROW({n}, {p}, 'NaN', 'NaN', 'NaN')::{t} END`)
}
