package rewrite

import (
	"fmt"

	pg "github.com/pganalyze/pg_query_go/v5"

	"spiral/rollup"
)

// aggregate is one aggregate call of a rewritten block: the partial columns
// every segment yields for it, and how the outer block merges them back
// into exactly what the raw aggregate returns.
type aggregate struct {
	call  *pg.Node // the call as written (first occurrence)
	parts []part
	merge string // SQL over spiral_s.<part> columns
	// one is the merge of a group of one partial row, without an
	// aggregate: the same value and type ("" when there is no such form).
	one string
	// moments: the merge needs the per-group mean column <prefix>_mean.
	moments bool
	prefix  string
	// finish: the merge is a packed sketch column the proxy finishes
	// (approximate percentiles); Index is set once its position is known.
	finish *FinishColumn
}

// part is one partial column.
type part struct {
	name string // column name in spiral_s
	typ  string // the type both kinds of segment cast to
	tier string // over a tier row, qualified with the block's reference name
	raw  string // an aggregate over base rows
}

var supportedAggregates = map[string]bool{
	"count": true, "sum": true, "min": true, "max": true, "avg": true,
	"stddev": true, "stddev_samp": true, "stddev_pop": true, "variance": true, "var_samp": true, "var_pop": true,
}

// percentileAggregates are answered from sketches when the session opts in.
var percentileAggregates = map[string]bool{"percentile_cont": true, "percentile_disc": true}

// aggregateCall reports whether n calls a supported aggregate, and its
// name.
func aggregateCall(n *pg.Node, approx bool) (*pg.FuncCall, string, bool) {
	f, ok := n.Node.(*pg.Node_FuncCall)
	if !ok {
		return nil, "", false
	}
	name := funcName(f.FuncCall)
	return f.FuncCall, name, supportedAggregates[name] || approx && percentileAggregates[name]
}

// aggBuilder derives aggregates from one source's tiers.
type aggBuilder struct {
	src   *Source
	ref   string // quoted reference name of the FROM item
	colOf func(*pg.Node) (string, bool)
}

// build returns how to compute call from the tiers, or an error saying why
// it cannot be.
func (b aggBuilder) build(call *pg.FuncCall, name, prefix string) (*aggregate, error) {
	if percentileAggregates[name] {
		return b.percentile(call, name, prefix)
	}
	if !plainCall(call) {
		return nil, skipf("%s with DISTINCT, FILTER, ORDER BY or OVER", name)
	}
	if call.AggStar {
		if name != "count" {
			return nil, skipf("%s(*)", name)
		}
		return b.countStar(prefix), nil
	}
	if len(call.Args) != 1 {
		return nil, skipf("%s with %d arguments", name, len(call.Args))
	}
	colName, ok := b.colOf(call.Args[0])
	if !ok {
		return nil, skipf("%s over an expression, not a column", name)
	}
	col := b.column(colName)
	if col == nil {
		return nil, skipf("%s(%s): the column is not tracked", name, colName)
	}
	return b.forColumn(name, col, prefix)
}

func (b aggBuilder) column(name string) *rollup.Column {
	for i := range b.src.Table.Columns {
		if b.src.Table.Columns[i].Name == name {
			return &b.src.Table.Columns[i]
		}
	}
	return nil
}

// sumInt8 merges bigint partials (counts, sums of smallint and integer
// columns) into a bigint (migration 8); sum(bigint) would go through
// numeric, at about the cost of the rest of the merge.
const sumInt8 = "spiral.sum_int8"

func (b aggBuilder) countStar(prefix string) *aggregate {
	c := prefix + "_c"
	return &aggregate{
		parts: []part{{name: c, typ: "int8", tier: b.ref + "." + rollup.RowCountColumn, raw: "count(*)"}},
		merge: fmt.Sprintf("coalesce(%s(spiral_s.%s), 0)", sumInt8, c),
		one:   fmt.Sprintf("coalesce(spiral_s.%s, 0)", c),
	}
}

func (b aggBuilder) forColumn(name string, col *rollup.Column, prefix string) (*aggregate, error) {
	raw := b.ref + "." + rollup.QuoteIdent(col.Name)
	switch name {
	case "count":
		return b.count(col, raw, prefix)
	case "sum":
		return b.sum(col, raw, prefix)
	case "min", "max":
		return b.extreme(name, col, raw, prefix)
	case "avg":
		return b.avg(col, raw, prefix)
	}
	return b.moments(name, col, raw, prefix)
}

// tierCol is a tier column of col, qualified.
func (b aggBuilder) tierCol(col *rollup.Column, suffix string) string {
	return b.ref + "." + rollup.QuoteIdent(col.Name+suffix)
}

// countSource is count(col) over a tier row, or "".
func (b aggBuilder) countSource(col *rollup.Column) string {
	switch {
	case hasKind(col, rollup.KindCount):
		return b.tierCol(col, "_count")
	case hasKind(col, rollup.KindOHLCV):
		return b.tierCol(col, "_ohlcv_v")
	case hasKind(col, rollup.KindStats):
		return fmt.Sprintf("coalesce((%s).n, 0)", b.tierCol(col, "_stats"))
	}
	return ""
}

func (b aggBuilder) count(col *rollup.Column, raw, prefix string) (*aggregate, error) {
	src := b.countSource(col)
	if src == "" {
		return nil, skipf("count(%s): no tier keeps a count of it", col.Name)
	}
	c := prefix + "_c"
	return &aggregate{
		parts: []part{{name: c, typ: "int8", tier: src, raw: "count(" + raw + ")"}},
		merge: fmt.Sprintf("coalesce(%s(spiral_s.%s), 0)", sumInt8, c),
		one:   fmt.Sprintf("coalesce(spiral_s.%s, 0)", c),
	}, nil
}

// sumType is sum's result type for a column type, "" where the rewrite
// could not reproduce it exactly.
func sumType(typ string) string {
	switch typ {
	case "int2", "int4":
		return "int8"
	case "int8", "numeric":
		return "numeric"
	case "float8":
		return "float8"
	}
	return ""
}

func (b aggBuilder) sum(col *rollup.Column, raw, prefix string) (*aggregate, error) {
	typ := sumType(col.Type)
	if !hasKind(col, rollup.KindSum) || typ == "" {
		return nil, skipf("sum(%s): no tier keeps an exact sum of it", col.Name)
	}
	s := prefix + "_s"
	merge := fmt.Sprintf("sum(spiral_s.%s)", s)
	if typ == "int8" {
		merge = fmt.Sprintf("%s(spiral_s.%s)", sumInt8, s)
	}
	return &aggregate{parts: []part{{name: s, typ: typ, tier: b.tierCol(col, ""), raw: "sum(" + raw + ")"}}, merge: merge,
		one: "spiral_s." + s}, nil
}

func (b aggBuilder) extreme(name string, col *rollup.Column, raw, prefix string) (*aggregate, error) {
	var src string
	switch {
	case name == "min" && hasKind(col, rollup.KindMin):
		src = b.tierCol(col, "_min")
	case name == "max" && hasKind(col, rollup.KindMax):
		src = b.tierCol(col, "_max")
	case name == "min" && (hasKind(col, rollup.KindOHLC) || hasKind(col, rollup.KindOHLCV)):
		src = b.tierCol(col, "_ohlcv_l")
	case name == "max" && (hasKind(col, rollup.KindOHLC) || hasKind(col, rollup.KindOHLCV)):
		src = b.tierCol(col, "_ohlcv_h")
	default:
		return nil, skipf("%s(%s): no tier keeps it", name, col.Name)
	}
	p := prefix + "_x"
	return &aggregate{
		parts: []part{{name: p, typ: col.Type, tier: src, raw: name + "(" + raw + ")"}},
		merge: fmt.Sprintf("%s(spiral_s.%s)", name, p),
		one:   "spiral_s." + p,
	}, nil
}

// avg merges a sum and a count. Integer and numeric columns divide as
// numerics, as PostgreSQL's avg does; float8 columns as float8.
func (b aggBuilder) avg(col *rollup.Column, raw, prefix string) (*aggregate, error) {
	cnt := b.countSource(col)
	var sum, typ string
	switch col.Type {
	case "int2", "int4", "int8", "numeric":
		typ = "numeric"
	case "float8":
		typ = "float8"
	default:
		return nil, skipf("avg(%s): %s averages cannot be rebuilt exactly", col.Name, col.Type)
	}
	switch {
	case hasKind(col, rollup.KindSum):
		sum = b.tierCol(col, "")
	case hasKind(col, rollup.KindStats) && typ == "float8":
		// n·mean is exact enough only for float results; integer and
		// numeric averages are exact in PostgreSQL.
		st := b.tierCol(col, "_stats")
		sum = fmt.Sprintf("CASE WHEN (%s).n > 0 THEN (%s).n * (%s).m1 END", st, st, st)
	}
	if sum == "" || cnt == "" {
		return nil, skipf("avg(%s): no tier keeps its sum and count", col.Name)
	}
	s, c := prefix+"_s", prefix+"_c"
	sumTyp, merged, one := typ, fmt.Sprintf("sum(spiral_s.%s)", s), "spiral_s."+s
	if sumType(col.Type) == "int8" {
		// Sums of smallint and integer are bigints; PostgreSQL's avg
		// divides them as numerics too.
		sumTyp, merged, one = "int8", fmt.Sprintf("%s(spiral_s.%s)::numeric", sumInt8, s), "spiral_s."+s+"::numeric"
	}
	return &aggregate{
		parts: []part{
			{name: s, typ: sumTyp, tier: sum, raw: "sum(" + raw + ")"},
			{name: c, typ: "int8", tier: cnt, raw: "count(" + raw + ")"},
		},
		merge: fmt.Sprintf("(%s / nullif(%s(spiral_s.%s), 0)::%s)", merged, sumInt8, c, typ),
		one:   fmt.Sprintf("(%s / nullif(spiral_s.%s, 0)::%s)", one, c, typ),
	}, nil
}

// moments merges Welford states with the k-way closed form (package stats):
// M2 = Σ (m2_i + n_i·(m1_i − mean)²), the mean per group coming from the
// window layer.
func (b aggBuilder) moments(name string, col *rollup.Column, raw, prefix string) (*aggregate, error) {
	if !hasKind(col, rollup.KindStats) {
		return nil, skipf("%s(%s): no tier keeps its moments", name, col.Name)
	}
	if col.Type == "float4" {
		return nil, skipf("%s(%s): float4", name, col.Name)
	}
	if col.Type != "float8" {
		// PostgreSQL computes these exactly in numeric for integer and
		// numeric columns, to 15 to 20 significant digits; float8 moments
		// merged across buckets do not reliably hold the last ones.
		return nil, skipf("%s(%s): its numeric answer has more digits than float8 moments keep", name, col.Name)
	}
	st := b.tierCol(col, "_stats")
	f8 := raw + "::float8"
	n, m1, m2 := prefix+"_n", prefix+"_m1", prefix+"_m2"
	parts := []part{
		{name: n, typ: "int8", tier: fmt.Sprintf("coalesce((%s).n, 0)", st), raw: "count(" + raw + ")"},
		{name: m1, typ: "float8", tier: fmt.Sprintf("(%s).m1", st), raw: "avg(" + f8 + ")"},
		{name: m2, typ: "float8", tier: fmt.Sprintf("(%s).m2", st), raw: fmt.Sprintf("var_pop(%s) * count(%s)", f8, raw)},
	}
	sumN := fmt.Sprintf("%s(spiral_s.%s)", sumInt8, n)
	m2sum := fmt.Sprintf("sum(spiral_s.%s + spiral_s.%s * (spiral_s.%s - spiral_s.%s_mean) ^ 2) FILTER (WHERE spiral_s.%s > 0)",
		m2, n, m1, prefix, n)
	var v string
	switch name {
	case "var_pop", "stddev_pop":
		v = fmt.Sprintf("CASE WHEN %s > 0 THEN %s / %s::float8 END", sumN, m2sum, sumN)
	default:
		v = fmt.Sprintf("CASE WHEN %s > 1 THEN %s / (%s - 1)::float8 END", sumN, m2sum, sumN)
	}
	if name == "stddev" || name == "stddev_samp" || name == "stddev_pop" {
		v = "sqrt(" + v + ")"
	}
	return &aggregate{parts: parts, merge: v, moments: true, prefix: prefix}, nil
}

func hasKind(c *rollup.Column, k rollup.Kind) bool {
	for _, x := range c.Kinds {
		if x == k {
			return true
		}
	}
	return false
}

// percentile answers percentile_cont(q) WITHIN GROUP (ORDER BY col) from the
// column's t-digest states (DDSketch when it has none) plus the raw values
// of raw segments, merged and finished in the proxy. percentile_disc gets
// the same estimate, on float8 columns only (its result has the column's
// type).
func (b aggBuilder) percentile(call *pg.FuncCall, name, prefix string) (*aggregate, error) {
	if !call.AggWithinGroup || len(call.AggOrder) != 1 || len(call.Args) != 1 || call.AggDistinct ||
		call.AggFilter != nil || call.Over != nil || call.FuncVariadic {
		return nil, skipf("%s in a form other than (q) WITHIN GROUP (ORDER BY col)", name)
	}
	sb := call.AggOrder[0].GetSortBy()
	if sb == nil || sb.SortbyDir == pg.SortByDir_SORTBY_DESC || sb.SortbyDir == pg.SortByDir_SORTBY_USING {
		return nil, skipf("%s ordered other than ascending", name)
	}
	colName, ok := b.colOf(sb.Node)
	col := b.column(colName)
	if !ok || col == nil {
		return nil, skipf("%s over something other than a tracked column", name)
	}
	kind := rollup.KindTDigest
	if !hasKind(col, kind) {
		kind = rollup.KindSketch
	}
	switch {
	case !hasKind(col, kind):
		return nil, skipf("%s(%s): no tier keeps a sketch of it", name, col.Name)
	case name == "percentile_disc" && col.Type != "float8":
		return nil, skipf("percentile_disc over %s: the estimate is not one of its values", col.Type)
	case !constantArgument(call.Args[0]):
		return nil, skipf("%s with a fraction that is not a constant or parameter", name)
	}
	arg, array, err := packedArgument(call.Args[0], OpQuantile)
	if err != nil {
		return nil, err
	}
	q, _, err := castArgument(call.Args[0])
	if err != nil {
		return nil, err
	}
	st, p := b.tierCol(col, "_"+string(kind)), prefix+"_q"
	raw := fmt.Sprintf("(%s.%s)::float8", b.ref, rollup.QuoteIdent(col.Name))
	return &aggregate{
		parts: []part{{name: p, typ: "bytea",
			tier: framedState(st),
			raw:  percentileRaw(name, q, raw)}},
		merge:  fmt.Sprintf("encode(%s || string_agg(spiral_s.%s, ''::bytea), 'hex')", arg, p),
		finish: &FinishColumn{Kind: kind, Op: OpQuantile, Array: array},
	}, nil
}

// percentileRaw is the partial of raw segments: the values, packed; or,
// when the plan falls back to the raw table (spiral_use is false and the
// edge segment reads every row), PostgreSQL's exact answer, packed.
func percentileRaw(name, q, raw string) string {
	return fmt.Sprintf("coalesce(string_agg(decode('56', 'hex') || float8send(%[3]s), ''::bytea) FILTER (WHERE (SELECT spiral_use FROM spiral_g)), "+
		"spiral.exact_arg(%[1]s(%[2]s) WITHIN GROUP (ORDER BY %[3]s) FILTER (WHERE NOT (SELECT spiral_use FROM spiral_g))))", name, q, raw)
}

// constantArgument reports whether n reads no column.
func constantArgument(n *pg.Node) bool {
	ok := true
	visitNodes(n, func(x *pg.Node) bool {
		switch x.Node.(type) {
		case *pg.Node_ColumnRef, *pg.Node_SubLink, *pg.Node_FuncCall:
			ok = false
		}
		return ok
	})
	return ok
}
