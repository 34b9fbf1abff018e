package engine_test

// Generators of the rewrite differential test (rewrite_diff_test.go): random
// tracked tables, their data history as replayable SQL, and random queries
// from the grammar the rewriter serves, with what the comparison needs to
// know about each output column.

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// diffEpoch is where every table's data starts. The data spans the leap
// day, three month ends and the spring DST changes of New York (Mar 10),
// Berlin (Mar 31) and Lord Howe (Apr 7, 30 minutes).
var diffEpoch = time.Date(2024, 2, 10, 0, 0, 0, 0, time.UTC)

// diffZones are the session TimeZones queries run in.
var diffZones = []string{"UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Asia/Kathmandu", "Australia/Lord_Howe"}

// diffFrameSets are the tier chains tables are created with, and the
// spiral.timezone values each is valid with besides UTC (the fixed frame
// under the first calendar frame must fit the zone's offsets).
var diffFrameSets = []struct {
	frames string
	zones  []string
}{
	{"1m,1h,1d", nil},
	{"1m,1h", nil},
	{"5m,1h,1d,1mon", nil},
	{"1h,1d,1mon,1year", nil},
	{"1m,1h,1d,1w", nil},
	{"1m,15m,1h,1d", nil},
	{"1m,1h,1mon", []string{"Europe/Berlin", "America/New_York"}},
	{"5m,30m,1mon,1qtr,1year", []string{"Asia/Kolkata", "Australia/Lord_Howe"}},
	{"1m,15m,1mon", []string{"Asia/Kathmandu"}},
}

// diffKinds are the magic-comment kinds value columns carry.
var diffKinds = []string{"sum", "min", "max", "count", "ohlcv", "stats"}

// diffSpellings are the ways the DDL writes each column type.
var diffSpellings = map[string][]string{
	"int4": {"int4", "integer", "int"}, "int8": {"int8", "bigint"}, "text": {"text"},
	"numeric": {"numeric"}, "float8": {"float8", "double precision"},
}

func diffPick[T any](rng *rand.Rand, xs []T) T { return xs[rng.IntN(len(xs))] }

// diffTable is a random tracked table.
type diffTable struct {
	schema  string // "" for public
	name    string
	frames  string
	zone    string // spiral.timezone, "" when not given
	scope   []diffCol
	values  []diffCol
	tenants int // distinct values of each scope column in generated rows
	days    int // the data's span from diffEpoch
	rows    int // rows of a bulk load
	create  string
}

// diffCol is a scope or value column.
type diffCol struct {
	name, typ, spelling string // typ: int4, int8, text, numeric or float8
	kinds               []string
}

func (c diffCol) has(kinds ...string) bool {
	for _, k := range kinds {
		if slices.Contains(c.kinds, k) {
			return true
		}
	}
	return false
}

func (c diffCol) float() bool { return c.typ == "float8" }

func newDiffTable(seed uint64, rng *rand.Rand, rows int) *diffTable {
	tb := &diffTable{name: fmt.Sprintf("q%d", seed), days: 60 + rng.IntN(31), tenants: 2 + rng.IntN(4), rows: rows}
	if rng.IntN(3) == 0 {
		tb.schema = "diff"
	}
	fs := diffPick(rng, diffFrameSets)
	tb.frames = fs.frames
	switch {
	case len(fs.zones) > 0 && rng.IntN(4) != 0:
		tb.zone = diffPick(rng, fs.zones)
	case rng.IntN(5) == 0:
		tb.zone = "UTC"
	}
	for i := range rng.IntN(4) {
		typ := diffPick(rng, []string{"int4", "int8", "text"})
		tb.scope = append(tb.scope, diffCol{name: fmt.Sprintf("s%d", i+1), typ: typ, spelling: diffPick(rng, diffSpellings[typ])})
	}
	for i := range 1 + rng.IntN(4) {
		typ := diffPick(rng, []string{"int4", "int8", "numeric", "float8"})
		c := diffCol{name: fmt.Sprintf("v%d", i+1), typ: typ, spelling: diffPick(rng, diffSpellings[typ])}
		if i == 0 || rng.IntN(7) != 0 {
			perm := rng.Perm(len(diffKinds))[:1+rng.IntN(3)]
			for _, k := range perm {
				c.kinds = append(c.kinds, diffKinds[k])
			}
		}
		tb.values = append(tb.values, c)
	}
	tb.create = tb.ddl(rng)
	return tb
}

func (tb *diffTable) qname() string {
	if tb.schema == "" {
		return tb.name
	}
	return tb.schema + "." + tb.name
}

// ddl is the CREATE TABLE sent through the proxy, one column per line so
// that the magic comments attach to their columns.
func (tb *diffTable) ddl(rng *rand.Rand) string {
	type line struct{ decl, comment string }
	lines := []line{{decl: "t timestamptz NOT NULL"}}
	var tenants []string
	for _, c := range tb.scope {
		lines = append(lines, line{decl: c.name + " " + c.spelling + " NOT NULL"})
		tenants = append(tenants, c.name)
	}
	for _, c := range tb.values {
		l := line{decl: c.name + " " + c.spelling}
		if len(c.kinds) > 0 {
			l.comment = " -- Spiral: " + strings.Join(c.kinds, ", ")
		}
		lines = append(lines, l)
	}
	rng.Shuffle(len(lines)-1, func(i, j int) { lines[i+1], lines[j+1] = lines[j+1], lines[i+1] })
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE TABLE %s (\n", tb.qname())
	for i, l := range lines {
		b.WriteString("  " + l.decl)
		if i < len(lines)-1 {
			b.WriteString(",")
		}
		b.WriteString(l.comment + "\n")
	}
	fmt.Fprintf(&b, ") WITH (spiral.frames = '%s'", tb.frames)
	if len(tenants) > 0 || rng.IntN(2) == 0 {
		fmt.Fprintf(&b, ", spiral.tenant = '%s'", strings.Join(tenants, diffPick(rng, []string{",", ", "})))
	}
	if tb.zone != "" {
		fmt.Fprintf(&b, ", spiral.timezone = '%s'", tb.zone)
	}
	return b.String() + ")"
}

// diffRand is SQL for a pseudo-random float8 in [0, 1) of the row number g
// of generate_series: reproducible in psql, since PostgreSQL's hash
// functions give the same values on every platform.
func diffRand(seed uint64, k int) string {
	return fmt.Sprintf("((hashint8extended(g, %d) & 281474976710655)::float8 / 281474976710656)", int64(seed%1_000_000_000_000)*32+int64(k))
}

// scopeValue is the SQL literal of the i-th tenant value (from 1) of c.
func (c diffCol) scopeValue(i int) string {
	switch c.typ {
	case "int8":
		return fmt.Sprintf("%d", int64(i)*10_000_000_000)
	case "text":
		return fmt.Sprintf("'k%d'", i)
	}
	return fmt.Sprint(i)
}

// scopeExpr is SQL drawing a tenant value of c from r, a float in [0, 1).
func (c diffCol) scopeExpr(r string, tenants int) string {
	switch c.typ {
	case "int8":
		return fmt.Sprintf("(floor(%s * %d)::int8 + 1) * 10000000000", r, tenants)
	case "text":
		return fmt.Sprintf("'k' || (floor(%s * %d)::int + 1)", r, tenants)
	}
	return fmt.Sprintf("floor(%s * %d)::int4 + 1", r, tenants)
}

// valueExpr is SQL drawing a value of c from r. float8 values stay
// positive, so that float sums have no cancellation and compare within
// 1e-9 relative; numeric values keep two decimals.
func (c diffCol) valueExpr(r string) string {
	switch c.typ {
	case "int4":
		return fmt.Sprintf("floor(%s * 2000 - 500)::int4", r)
	case "int8":
		return fmt.Sprintf("floor(%s * 2e12 - 5e11)::int8", r)
	case "numeric":
		return fmt.Sprintf("round((%s * 2000 - 500)::numeric, 2)", r)
	}
	return fmt.Sprintf("%s * 1000 + 1", r)
}

// insert is an INSERT of n generated rows between from and from+span.
func (tb *diffTable) insert(seed uint64, n int, from time.Time, span time.Duration) string {
	cols := []string{"t"}
	secs := max(int64(span/time.Second), 1)
	at := fmt.Sprintf("%s * %d", diffRand(seed, 0), secs)
	if seed%3 == 0 {
		at = "floor(" + at + ")"
	}
	exprs := []string{fmt.Sprintf("'%s'::timestamptz + %s * interval '1 second'", from.UTC().Format("2006-01-02 15:04:05+00"), at)}
	for i, c := range tb.scope {
		cols = append(cols, c.name)
		exprs = append(exprs, c.scopeExpr(diffRand(seed, 1+i), tb.tenants))
	}
	for i, c := range tb.values {
		cols = append(cols, c.name)
		exprs = append(exprs, fmt.Sprintf("CASE WHEN %s < 0.06 THEN NULL ELSE %s END", diffRand(seed, 10+i), c.valueExpr(diffRand(seed, 20+i))))
	}
	return fmt.Sprintf("INSERT INTO %s (%s)\n  SELECT %s\n  FROM generate_series(1, %d) g",
		tb.qname(), strings.Join(cols, ", "), strings.Join(exprs, ",\n    "), n)
}

// bulk is the initial load over the whole span.
func (tb *diffTable) bulk(seed uint64) string {
	return tb.insert(seed, tb.rows, diffEpoch, time.Duration(tb.days)*24*time.Hour)
}

// instant is a random time around the data: on minute, hour, day and month
// boundaries (of UTC or of loc) or anywhere, down to the microsecond.
func (tb *diffTable) instant(rng *rand.Rand, loc *time.Location) time.Time {
	start := diffEpoch.Add(-3 * 24 * time.Hour)
	at := start.Add(time.Duration(rng.Int64N(int64(tb.days+6)*86400)) * time.Second)
	l := at.In(loc)
	switch rng.IntN(8) {
	case 0:
		return at.Truncate(time.Minute)
	case 1:
		return at.Truncate(time.Hour)
	case 2:
		return at.Truncate(24 * time.Hour)
	case 3:
		return time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, loc)
	case 4:
		return time.Date(l.Year(), l.Month(), 1, 0, 0, 0, 0, loc)
	case 5:
		return time.Date(l.Year(), l.Month(), l.Day(), l.Hour(), 0, 0, 0, loc)
	case 6:
		return at.Add(time.Duration(rng.IntN(1_000_000)) * time.Microsecond)
	}
	return at
}

// scopeCond is `col = v` or `col IN (...)` over one scope column, now and
// then naming a tenant that has no rows.
func (tb *diffTable) scopeCond(rng *rand.Rand, p string) string {
	c := diffPick(rng, tb.scope)
	v := func() string { return c.scopeValue(1 + rng.IntN(tb.tenants+1)) }
	if rng.IntN(3) == 0 {
		return fmt.Sprintf("%s%s IN (%s, %s)", p, c.name, v(), v())
	}
	return fmt.Sprintf("%s%s = %s", p, c.name, v())
}

// pred is a WHERE condition for UPDATE and DELETE: a time window, a tenant,
// every m-th second, or several of these.
func (tb *diffTable) pred(rng *rand.Rand, maxWindow time.Duration) string {
	var conds []string
	if rng.IntN(2) == 0 {
		from := tb.instant(rng, time.UTC)
		to := from.Add(time.Duration(rng.Int64N(int64(maxWindow))) + time.Minute)
		conds = append(conds, fmt.Sprintf("t >= '%s' AND t < '%s'", from.Format("2006-01-02 15:04:05+00"), to.Format("2006-01-02 15:04:05+00")))
	}
	if len(tb.scope) > 0 && rng.IntN(2) == 0 {
		conds = append(conds, tb.scopeCond(rng, ""))
	}
	if len(conds) == 0 || rng.IntN(3) == 0 {
		m := 5 + rng.IntN(40)
		conds = append(conds, fmt.Sprintf("floor(extract(epoch from t))::int8 %% %d = %d", m, rng.IntN(m)))
	}
	return strings.Join(conds, " AND ")
}

// valueChange is an assignment that changes a value column: a new value,
// NULL, or a value for NULLs.
func (c diffCol) valueChange(rng *rand.Rand) string {
	switch rng.IntN(6) {
	case 0:
		return c.name + " = NULL"
	case 1:
		return fmt.Sprintf("%s = coalesce(%s, %s)", c.name, c.name, c.valueExpr("0.5"))
	}
	switch c.typ {
	case "int4", "int8":
		return fmt.Sprintf("%s = %s + %d", c.name, c.name, rng.IntN(100)-30)
	case "numeric":
		return fmt.Sprintf("%s = %s * -1 + 0.37", c.name, c.name)
	}
	return fmt.Sprintf("%s = %s * 1.5 + 0.25", c.name, c.name)
}

// mutation is one write of the history: late and out-of-order inserts,
// updates that move rows across tenants and buckets or change values, and
// deletes. small keeps it to a few rows, for the concurrent writers.
func (tb *diffTable) mutation(rng *rand.Rand, small bool) string {
	window := 5 * 24 * time.Hour
	if small {
		window = 6 * time.Hour
	}
	switch rng.IntN(6) {
	case 0, 1:
		n := 5 + rng.IntN(300)
		if small {
			n = 1 + rng.IntN(20)
		}
		return tb.insert(rng.Uint64(), n, tb.instant(rng, time.UTC), time.Duration(rng.Int64N(int64(window)))+time.Minute)
	case 2:
		if len(tb.scope) == 0 {
			return fmt.Sprintf("UPDATE %s SET t = t - interval '1 day' WHERE %s", tb.qname(), tb.pred(rng, window))
		}
		c := diffPick(rng, tb.scope)
		return fmt.Sprintf("UPDATE %s SET %s = %s WHERE %s", tb.qname(), c.name, c.scopeValue(1+rng.IntN(tb.tenants)), tb.pred(rng, window))
	case 3:
		return fmt.Sprintf("UPDATE %s SET t = t + interval '%d minutes' WHERE %s", tb.qname(), rng.IntN(8000)-4000, tb.pred(rng, window))
	case 4:
		c := diffPick(rng, tb.values)
		return fmt.Sprintf("UPDATE %s SET %s WHERE %s", tb.qname(), c.valueChange(rng), tb.pred(rng, window))
	}
	return fmt.Sprintf("DELETE FROM %s WHERE %s", tb.qname(), tb.pred(rng, window))
}

// refresh is a spiral_refresh of the whole table or, now and then, of one
// tenant.
func (tb *diffTable) refresh(rng *rand.Rand) string {
	if len(tb.scope) == 0 || rng.IntN(2) == 0 {
		return fmt.Sprintf("SELECT spiral_refresh('%s')", tb.qname())
	}
	c := diffPick(rng, tb.scope)
	scope := fmt.Sprintf("%s = %s", c.name, c.scopeValue(1+rng.IntN(tb.tenants)))
	return fmt.Sprintf("SELECT spiral_refresh('%s', '%s')", tb.qname(), strings.ReplaceAll(scope, "'", "''"))
}

// diffQuery is one generated query. It is kept as a structure, not text,
// so that a mismatch can be shrunk.
type diffQuery struct {
	from    string // the FROM item, with its alias if any
	items   []diffItem
	groupBy int // 0: positions, 1: expressions, 2: aliases
	where   []diffCond
	having  string
	order   []diffOrder
	limit   int
	wrap    int // 0: none, 1: WITH h AS (...) SELECT * FROM h, 2: SELECT * FROM (...) s
	outer   string
	loc     *time.Location // the session TimeZone literals were written for
}

// diffItem is one output column.
type diffItem struct {
	id     int
	expr   string
	alias  string
	key    bool // a GROUP BY key
	approx bool // a numeric result compared within 1e-9 relative
	exact  bool // an integer aggregate, fine as a sort key
	zoned  bool // holds a literal read in the session TimeZone
}

// diffCond is one WHERE condition: free text, or a time bound (lo/hi set).
type diffCond struct {
	text   string
	col    string
	lo, hi *diffBound
	// between writes lo and hi as BETWEEN, which includes both ends.
	between bool
}

// diffBound is one end of a time range.
type diffBound struct {
	at       time.Time
	op       string // >=, > (lo); <, <= (hi)
	form     int    // how the literal is written, see literal
	reversed bool   // write 'lit' <= t rather than t >= 'lit'
}

// diffOrder is one ORDER BY term, by item id.
type diffOrder struct {
	id   int
	desc bool
}

func (q *diffQuery) clone() *diffQuery {
	c := *q
	c.items = slices.Clone(q.items)
	c.where = slices.Clone(q.where)
	c.order = slices.Clone(q.order)
	return &c
}

// literal writes at in one of several forms PostgreSQL reads as a
// timestamptz, some of them in the session's zone; form 7 is a parameter.
func (b *diffBound) literal(loc *time.Location, args *[]any) string {
	l := b.at.In(loc)
	wall := l.Format("2006-01-02 15:04:05.999999")
	switch b.form {
	case 0:
		return "'" + b.at.UTC().Format("2006-01-02 15:04:05.999999") + "+00'"
	case 1:
		return "'" + wall + "'"
	case 2:
		return "'" + b.at.UTC().Format("2006-01-02T15:04:05.999999Z") + "'"
	case 3:
		return "'" + l.Format("2006-01-02 15:04:05.999999-07:00") + "'::timestamptz"
	case 4:
		return "timestamptz '" + wall + "'"
	case 5:
		return "'" + wall + "'::timestamp"
	case 6:
		if l.Hour() == 0 && l.Minute() == 0 && l.Second() == 0 && l.Nanosecond() == 0 {
			return "'" + l.Format("2006-01-02") + "'" + diffPickForm(b.at, "", "::date")
		}
		return "'" + wall + "'"
	}
	*args = append(*args, b.at)
	return fmt.Sprintf("$%d", len(*args))
}

// diffPickForm picks one of two spellings by a bit of at, deterministically.
func diffPickForm(at time.Time, a, b string) string {
	if at.Unix()/86400%2 == 0 {
		return a
	}
	return b
}

func (c diffCond) sql(loc *time.Location, args *[]any) string {
	if c.lo == nil && c.hi == nil {
		return c.text
	}
	if c.between {
		return fmt.Sprintf("%s BETWEEN %s AND %s", c.col, c.lo.literal(loc, args), c.hi.literal(loc, args))
	}
	var parts []string
	for _, b := range []*diffBound{c.lo, c.hi} {
		if b == nil {
			continue
		}
		lit := b.literal(loc, args)
		if b.reversed {
			flip := map[string]string{">=": "<=", ">": "<", "<": ">", "<=": ">="}
			parts = append(parts, fmt.Sprintf("%s %s %s", lit, flip[b.op], c.col))
		} else {
			parts = append(parts, fmt.Sprintf("%s %s %s", c.col, b.op, lit))
		}
	}
	return strings.Join(parts, " AND ")
}

func (q *diffQuery) pos(id int) int {
	for i, it := range q.items {
		if it.id == id {
			return i + 1
		}
	}
	return 0
}

// sql renders the query and its parameters.
func (q *diffQuery) sql() (string, []any) {
	var args []any
	sel := make([]string, len(q.items))
	var keys []string
	for i, it := range q.items {
		sel[i] = it.expr
		if it.alias != "" {
			sel[i] += " AS " + it.alias
		}
		if !it.key {
			continue
		}
		switch {
		case q.groupBy == 2 && it.alias != "":
			keys = append(keys, it.alias)
		case q.groupBy >= 1:
			keys = append(keys, it.expr)
		default:
			keys = append(keys, fmt.Sprint(i+1))
		}
	}
	s := "SELECT " + strings.Join(sel, ", ") + " FROM " + q.from
	var conds []string
	for _, c := range q.where {
		conds = append(conds, c.sql(q.loc, &args))
	}
	if len(conds) > 0 {
		s += " WHERE " + strings.Join(conds, " AND ")
	}
	if len(keys) > 0 {
		s += " GROUP BY " + strings.Join(keys, ", ")
	}
	if q.having != "" {
		s += " HAVING " + q.having
	}
	switch q.wrap {
	case 1:
		s = "WITH h AS (" + s + ") SELECT * FROM h"
	case 2:
		s = "SELECT * FROM (" + s + ") s"
		if q.outer != "" {
			s += " WHERE " + q.outer
		}
	}
	if len(q.order) > 0 {
		terms := make([]string, len(q.order))
		for i, o := range q.order {
			terms[i] = fmt.Sprint(q.pos(o.id))
			if o.desc {
				terms[i] += " DESC"
			}
		}
		s += " ORDER BY " + strings.Join(terms, ", ")
	}
	if q.limit > 0 {
		s += fmt.Sprintf(" LIMIT %d", q.limit)
	}
	return s, args
}

// ordered reports whether ORDER BY fixes the order of every row: it names
// every key (so no two rows tie), or there is at most one row.
func (q *diffQuery) ordered() bool {
	for _, it := range q.items {
		if it.key && !slices.ContainsFunc(q.order, func(o diffOrder) bool { return o.id == it.id }) {
			return false
		}
	}
	return true
}

// zoned reports whether q holds a literal PostgreSQL reads in the session
// TimeZone when it analyses the statement. A prepared statement keeps that
// reading until its plan is invalidated (by DDL, or an ANALYZE of any
// table it reads), so after a change of TimeZone its answer depends on
// invalidations the test does not control; such a query is compared in the
// extended protocol only in the TimeZone it was prepared in.
func (q *diffQuery) zoned() bool {
	for _, it := range q.items {
		if it.zoned {
			return true
		}
	}
	for _, c := range q.where {
		for _, b := range []*diffBound{c.lo, c.hi} {
			if b != nil && (b.form == 1 || b.form == 4 || b.form == 6) {
				return true
			}
		}
	}
	return false
}

// approx lists, per output column, whether it is compared within 1e-9
// relative although its type is numeric.
func (q *diffQuery) approx() []bool {
	out := make([]bool, len(q.items))
	for i, it := range q.items {
		out[i] = it.approx
	}
	return out
}

// smaller returns the queries one step simpler than q, for shrinking.
func (q *diffQuery) smaller() []*diffQuery {
	var out []*diffQuery
	if q.wrap != 0 {
		c := q.clone()
		c.wrap, c.outer = 0, ""
		out = append(out, c)
	}
	for i := range q.items {
		if len(q.items) == 1 || q.items[i].alias != "" && strings.Contains(q.outer, q.items[i].alias) {
			continue
		}
		c := q.clone()
		id := c.items[i].id
		c.items = slices.Delete(c.items, i, i+1)
		c.order = slices.DeleteFunc(c.order, func(o diffOrder) bool { return o.id == id })
		if c.limit > 0 && !c.ordered() {
			c.limit = 0
		}
		out = append(out, c)
	}
	for i, w := range q.where {
		c := q.clone()
		c.where = slices.Delete(c.where, i, i+1)
		out = append(out, c)
		if w.lo != nil && w.hi != nil {
			out = append(out, q.narrowed(i, true), q.narrowed(i, false))
		}
	}
	if q.having != "" {
		c := q.clone()
		c.having = ""
		out = append(out, c)
	}
	if q.limit > 0 {
		c := q.clone()
		c.limit = 0
		out = append(out, c)
	}
	if len(q.order) > 0 {
		c := q.clone()
		c.order, c.limit = nil, 0
		out = append(out, c)
	}
	return out
}

// narrowed halves the i-th time range, keeping its upper or lower half.
func (q *diffQuery) narrowed(i int, upper bool) *diffQuery {
	c := q.clone()
	w := c.where[i]
	lo, hi := *w.lo, *w.hi
	mid := lo.at.Add(hi.at.Sub(lo.at) / 2).Truncate(time.Minute)
	if upper {
		lo.at = mid
	} else {
		hi.at = mid
	}
	w.lo, w.hi = &lo, &hi
	c.where[i] = w
	return c
}

// diffGen draws queries over one table.
type diffGen struct {
	rng  *rand.Rand
	tb   *diffTable
	loc  *time.Location
	safe bool // no query that may fail (division by a zero count)
	p    string
	next int
}

func (g *diffGen) item(expr string, key bool) diffItem {
	g.next++
	return diffItem{id: g.next, expr: expr, key: key}
}

// query draws one query.
func (g *diffGen) query() *diffQuery {
	rng, tb := g.rng, g.tb
	q := &diffQuery{loc: g.loc, from: tb.qname(), groupBy: rng.IntN(3)}
	g.p, g.next = "", 0
	if tb.schema == "" && rng.IntN(5) == 0 {
		q.from = "public." + tb.name
	}
	if rng.IntN(3) == 0 {
		alias := diffPick(rng, []string{"x", "tk"})
		q.from += diffPick(rng, []string{" AS ", " "}) + alias
		if rng.IntN(2) == 0 {
			g.p = alias + "."
		}
	}
	span := g.where(q)
	g.keys(q, span)
	for range 1 + rng.IntN(4) {
		q.items = append(q.items, g.aggregate())
	}
	if rng.IntN(4) == 0 {
		q.having = fmt.Sprintf("count(*) %s %d", diffPick(rng, []string{">", ">="}), rng.IntN(6))
	}
	g.shuffle(q)
	q.wrap = [10]int{1: 1, 2: 2}[rng.IntN(10)]
	if q.wrap != 0 || rng.IntN(4) == 0 {
		for i := range q.items {
			q.items[i].alias = fmt.Sprintf("c%d", i)
		}
	}
	if q.wrap == 2 {
		for _, it := range q.items {
			if it.exact && rng.IntN(2) == 0 {
				q.outer = fmt.Sprintf("s.%s >= %d", it.alias, rng.IntN(4))
			}
		}
	}
	g.orderBy(q)
	return q
}

// where adds time bounds (none, one-sided, both, BETWEEN), a scope filter
// and now and then a filter on a value column; it returns how long the
// queried range is (0 when unbounded).
func (g *diffGen) where(q *diffQuery) time.Duration {
	rng, tb := g.rng, g.tb
	bound := func(ops ...string) *diffBound {
		return &diffBound{at: tb.instant(rng, g.loc), op: diffPick(rng, ops), form: rng.IntN(8), reversed: rng.IntN(6) == 0}
	}
	c := diffCond{col: g.p + "t"}
	var span time.Duration
	switch rng.IntN(10) {
	case 0:
	case 1:
		c.lo = bound(">=", ">")
	case 2:
		c.hi = bound("<", "<=")
	default:
		c.lo, c.hi = bound(">=", ">"), bound("<", "<=")
		if rng.IntN(2) == 0 { // a short range
			c.hi.at = c.lo.at.Add(time.Duration(rng.Int64N(int64(72 * time.Hour))))
		}
		if c.hi.at.Before(c.lo.at) {
			c.lo.at, c.hi.at = c.hi.at, c.lo.at
		}
		span = c.hi.at.Sub(c.lo.at)
		c.between = rng.IntN(5) == 0
	}
	if c.lo != nil || c.hi != nil {
		q.where = append(q.where, c)
	}
	if len(tb.scope) > 0 && rng.IntN(2) == 0 {
		q.where = append(q.where, diffCond{text: tb.scopeCond(rng, g.p)})
	}
	if rng.IntN(15) == 0 {
		v := diffPick(rng, tb.values)
		q.where = append(q.where, diffCond{text: fmt.Sprintf("%s%s > %s", g.p, v.name, v.valueExpr("0.3"))})
	}
	rng.Shuffle(len(q.where), func(i, j int) { q.where[i], q.where[j] = q.where[j], q.where[i] })
	return span
}

// keys adds the GROUP BY keys: at most one time bucket and some scope
// columns. Fine buckets only over short ranges, to keep results small.
func (g *diffGen) keys(q *diffQuery, span time.Duration) {
	rng, tb := g.rng, g.tb
	if rng.IntN(5) != 0 {
		short := span > 0 && span <= 72*time.Hour
		expr := g.bucket(short)
		it := g.item(expr, true)
		it.zoned = strings.Contains(expr, ", '2000-01-01')")
		q.items = append(q.items, it)
	}
	for _, c := range tb.scope {
		if rng.IntN(3) == 0 {
			q.items = append(q.items, g.item(g.p+c.name, true))
		}
	}
}

// bucket draws a time-bucket expression.
func (g *diffGen) bucket(short bool) string {
	rng, t := g.rng, g.p+"t"
	fine := []string{
		fmt.Sprintf("date_trunc('minute', %s)", t),
		fmt.Sprintf("date_bin('15 minutes', %s, '2000-01-01')", t),
		fmt.Sprintf("date_bin('5 minutes', %s, timestamptz '2024-01-01 00:00:00+00')", t),
		fmt.Sprintf("floor(extract(epoch from %s)/300)*300", t),
		fmt.Sprintf("to_timestamp(floor(extract(epoch from %s)/300)*300)", t),
		fmt.Sprintf("date_bin('1 minute', %s, '2020-01-01 00:00:00+00')", t),
		fmt.Sprintf("date_trunc('minute', %s)::date", t),
	}
	coarse := []string{
		fmt.Sprintf("date_trunc('hour', %s)", t),
		fmt.Sprintf("date_trunc('hour', %s)", t),
		fmt.Sprintf("date_trunc('day', %s)", t),
		fmt.Sprintf("date_trunc('day', %s)", t),
		fmt.Sprintf("date_trunc('week', %s)", t),
		fmt.Sprintf("date_trunc('month', %s)", t),
		fmt.Sprintf("date_trunc('quarter', %s)", t),
		fmt.Sprintf("date_trunc('year', %s)", t),
		fmt.Sprintf("date_trunc('day', %s, 'Asia/Kolkata')", t),
		fmt.Sprintf("date_trunc('day', %s, 'UTC')", t),
		fmt.Sprintf("date_trunc('month', %s, 'Europe/Berlin')", t),
		fmt.Sprintf("date_trunc('hour', %s, 'Asia/Kathmandu')", t),
		fmt.Sprintf("date_bin('1 hour', %s, '2000-01-01')", t),
		fmt.Sprintf("date_bin('1 day', %s, '2024-01-01 00:00:00+00')", t),
		fmt.Sprintf("floor(extract(epoch from %s)/3600)*3600", t),
		fmt.Sprintf("floor(extract(epoch from %s)/86400)*86400", t),
		fmt.Sprintf("to_timestamp(floor(extract(epoch from %s)/3600)*3600)", t),
		fmt.Sprintf("date_trunc('day', %s)::date", t),
		fmt.Sprintf("%s::date", t),
		fmt.Sprintf("extract(hour from %s)", t),
		fmt.Sprintf("date_trunc('hour', %s)::date", t),
	}
	if short && rng.IntN(2) == 0 {
		return diffPick(rng, fine)
	}
	return diffPick(rng, coarse)
}

// aggregate draws an output aggregate: mostly one the table's kinds can
// serve, sometimes any, and sometimes one no tier can serve.
func (g *diffGen) aggregate() diffItem {
	rng := g.rng
	switch rng.IntN(10) {
	case 0:
		it := g.item("count(*)", false)
		it.exact = true
		return it
	case 1, 2:
		return g.anyAggregate(diffPick(rng, g.tb.values))
	case 3:
		return g.oddAggregate()
	}
	var served []diffCol
	for _, c := range g.tb.values {
		if len(c.kinds) > 0 {
			served = append(served, c)
		}
	}
	c := diffPick(rng, served)
	var fns []string
	if c.has("sum") {
		fns = append(fns, "sum")
		if c.has("count", "ohlcv", "stats") {
			fns = append(fns, "avg")
		}
		if !g.safe {
			fns = append(fns, "sum/count")
		}
	}
	if c.has("min", "ohlcv") {
		fns = append(fns, "min")
	}
	if c.has("max", "ohlcv") {
		fns = append(fns, "max")
	}
	if c.has("min", "ohlcv") && c.has("max", "ohlcv") {
		fns = append(fns, "max-min")
	}
	if c.has("count", "ohlcv", "stats") {
		fns = append(fns, "count")
	}
	if c.has("stats") {
		fns = append(fns, "avg", "stddev", "stddev_samp", "stddev_pop", "variance", "var_samp", "var_pop")
	}
	return g.aggOf(diffPick(rng, fns), c)
}

// anyAggregate is any aggregate over c, whatever its kinds.
func (g *diffGen) anyAggregate(c diffCol) diffItem {
	fns := []string{"sum", "min", "max", "count", "avg", "stddev", "var_pop", "max-min"}
	return g.aggOf(diffPick(g.rng, fns), c)
}

func (g *diffGen) aggOf(fn string, c diffCol) diffItem {
	v := g.p + c.name
	var it diffItem
	switch fn {
	case "sum/count":
		it = g.item(fmt.Sprintf("sum(%s)/count(*)", v), false)
	case "max-min":
		it = g.item(fmt.Sprintf("max(%s) - min(%s)", v, v), false)
	default:
		it = g.item(fmt.Sprintf("%s(%s)", fn, v), false)
	}
	it.exact = fn == "count"
	// Moments of integer and numeric columns are numeric results compared
	// within 1e-9 relative; everything else of theirs is exact, avg
	// included. float8 results are compared within 1e-9 relative anyway.
	it.approx = !c.float() && (strings.HasPrefix(fn, "stddev") || strings.HasPrefix(fn, "var"))
	return it
}

// oddAggregate is an aggregate no tier can serve; it must pass through.
func (g *diffGen) oddAggregate() diffItem {
	rng := g.rng
	c := diffPick(rng, g.tb.values)
	v, t := g.p+c.name, g.p+"t"
	s := v
	if len(g.tb.scope) > 0 {
		s = g.p + diffPick(rng, g.tb.scope).name
	}
	exprs := []string{
		fmt.Sprintf("count(DISTINCT %s)", v),
		fmt.Sprintf("sum(%s) FILTER (WHERE %s > %s)", v, v, c.valueExpr("0.5")),
		fmt.Sprintf("min(%s)", t),
		fmt.Sprintf("max(%s)", t),
		fmt.Sprintf("percentile_cont(0.5) WITHIN GROUP (ORDER BY %s)", v),
		fmt.Sprintf("bool_or(%s > %s)", v, c.valueExpr("0.7")),
		fmt.Sprintf("count(*) FILTER (WHERE %s IS NULL)", v),
		fmt.Sprintf("max(%s)", s),
		fmt.Sprintf("count(DISTINCT %s)", s),
		fmt.Sprintf("sum(%s * 2)", v),
		fmt.Sprintf("count(%s)", t),
	}
	return g.item(diffPick(rng, exprs), false)
}

// shuffle moves the keys among the aggregates now and then.
func (g *diffGen) shuffle(q *diffQuery) {
	if g.rng.IntN(4) == 0 {
		g.rng.Shuffle(len(q.items), func(i, j int) { q.items[i], q.items[j] = q.items[j], q.items[i] })
	}
}

// orderBy adds ORDER BY: every key (a total order; then maybe LIMIT), an
// integer aggregate before the keys, or only some keys.
func (g *diffGen) orderBy(q *diffQuery) {
	rng := g.rng
	var keys, exact []diffOrder
	for _, it := range q.items {
		if it.key {
			keys = append(keys, diffOrder{id: it.id, desc: rng.IntN(3) == 0})
		} else if it.exact {
			exact = append(exact, diffOrder{id: it.id, desc: rng.IntN(2) == 0})
		}
	}
	rng.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
	switch rng.IntN(6) {
	case 0:
		return
	case 1:
		if len(keys) > 1 {
			q.order = keys[:1+rng.IntN(len(keys)-1)]
			return
		}
	case 2:
		if len(exact) > 0 {
			q.order = append([]diffOrder{exact[0]}, keys...)
		}
	}
	if q.order == nil {
		q.order = keys
	}
	if rng.IntN(3) == 0 && q.ordered() {
		q.limit = 1 + rng.IntN(20)
	}
}
