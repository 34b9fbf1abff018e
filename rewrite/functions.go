package rewrite

import (
	"fmt"
	"strings"
	"unicode/utf8"

	pg "github.com/pganalyze/pg_query_go/v5"

	"spiral/internal/pgerr"
	"spiral/rollup"
)

// This file rewrites calls of spiral's SQL API over tier tables. The
// Welford finishers and merge (spiral_stats_*) are real functions in the
// spiral schema: calls are qualified with it. The sketch functions are not:
// PostgreSQL cannot decode a sketch. Each call becomes an expression that
// sends the states (and the call's argument) packed into one text column,
// and the proxy finishes that column in Go (see finish.go):
//
//	spiral_sketch_quantile(s, q), spiral_tdigest_quantile(s, q)  -> float8 (float8[] for an array q)
//	spiral_tdigest_cdf(s, x)                                     -> float8
//	spiral_sketch_merge(s), spiral_tdigest_merge(s)              -> bytea, an aggregate
//
// where s is a sketch (or t-digest) column of a tier table, or the merge
// aggregate of one. Filters, grouping and ordering by other columns stay in
// PostgreSQL. A sketch call anywhere else is an error naming these forms.

// sketchFuncs maps each sketch function to the state it reads and what it
// computes.
var sketchFuncs = map[string]struct {
	kind rollup.Kind
	op   Op
}{
	"spiral_sketch_quantile":  {rollup.KindSketch, OpQuantile},
	"spiral_tdigest_quantile": {rollup.KindTDigest, OpQuantile},
	"spiral_tdigest_cdf":      {rollup.KindTDigest, OpCDF},
	"spiral_sketch_merge":     {rollup.KindSketch, OpMerge},
	"spiral_tdigest_merge":    {rollup.KindTDigest, OpMerge},
}

// statsFuncs are the spiral_stats_* functions of the spiral schema.
var statsFuncs = map[string]bool{
	"spiral_stats_mean": true, "spiral_stats_variance": true, "spiral_stats_stddev": true,
	"spiral_stats_skewness": true, "spiral_stats_kurtosis": true, "spiral_stats_merge": true,
	"spiral_stats_count": true,
}

const sketchForms = "spiral_tdigest_quantile(col_tdigest, q), spiral_tdigest_quantile(spiral_tdigest_merge(col_tdigest), q), " +
	"spiral_tdigest_cdf(col_tdigest, x), spiral_tdigest_merge(col_tdigest), and the same with spiral_sketch_* over col_sketch, " +
	"each as a whole select-list entry of the outermost SELECT over a tier table"

// CallsSpiral reports whether sql may call spiral's SQL API: it contains
// "spiral_" in any letter case. Other statements need no Functions.
func CallsSpiral(sql string) bool { return containsFold(sql, "spiral_") }

// Functions rewrites the spiral_* calls of a statement. It returns the new
// text and, when sketch calls need finishing, what the proxy must finish;
// a *Skip when the statement calls none; a *pgerr.Error for a call it
// cannot evaluate.
func Functions(sql string, cat *Catalog) (string, *Finish, error) {
	if !CallsSpiral(sql) || !utf8.ValidString(sql) || strings.IndexByte(sql, 0) >= 0 {
		return "", nil, ErrNotTracked
	}
	tree, err := pg.Parse(sql)
	if err != nil {
		return "", nil, skipf("does not parse")
	}
	stats, sketches := spiralCalls(tree)
	if stats == 0 && sketches == 0 {
		return "", nil, skipf("calls no spiral API function")
	}
	var fin *Finish
	if sketches > 0 {
		if fin, err = rewriteSketches(tree, cat); err != nil {
			return "", nil, err
		}
	}
	out, err := pg.Deparse(tree)
	if err != nil {
		return "", nil, fmt.Errorf("rewrite: deparse: %w", err)
	}
	return out, fin, nil
}

// spiralName returns the name of a call of spiral's API (unqualified or
// qualified with the spiral schema), or "".
func spiralName(f *pg.FuncCall) string {
	parts := stringList(f.Funcname)
	if len(parts) == 2 && parts[0] == "spiral" || len(parts) == 1 {
		return parts[len(parts)-1]
	}
	return ""
}

// spiralCalls qualifies every spiral_stats_* call and counts the calls of
// each kind.
func spiralCalls(tree *pg.ParseResult) (stats, sketches int) {
	for _, raw := range tree.Stmts {
		visitNodes(raw.Stmt, func(n *pg.Node) bool {
			f := n.GetFuncCall()
			if f == nil {
				return true
			}
			name := spiralName(f)
			switch {
			case statsFuncs[name]:
				f.Funcname = []*pg.Node{pg.MakeStrNode("spiral"), pg.MakeStrNode(name)}
				stats++
			case sketchFuncs[name].kind != "":
				sketches++
			}
			return true
		})
	}
	return stats, sketches
}

func unsupportedSketch(format string, args ...any) *pgerr.Error {
	return pgerr.New(pgerr.FeatureNotSupported, format, args...).WithHint("Supported forms: %s.", sketchForms)
}

// rewriteSketches rewrites the sketch calls of the one SELECT in tree. Under
// EXPLAIN the calls are rewritten too, but nothing is finished.
func rewriteSketches(tree *pg.ParseResult, cat *Catalog) (*Finish, error) {
	if len(tree.Stmts) != 1 {
		return nil, unsupportedSketch("spiral sketch functions must be in a statement of their own")
	}
	root, explain := tree.Stmts[0].Stmt, false
	if e := root.GetExplainStmt(); e != nil {
		root, explain = e.Query, true
	}
	sel := root.GetSelectStmt()
	if sel == nil || sel.Op != pg.SetOperation_SETOP_NONE {
		return nil, unsupportedSketch("spiral sketch functions are supported only in a plain SELECT")
	}
	fin, used, err := sketchTargets(sel, cat)
	if err != nil {
		return nil, err
	}
	if err := checkSketchUses(root, used, sel, fin); err != nil {
		return nil, err
	}
	if explain {
		return nil, nil
	}
	return fin, nil
}

// sketchTargets rewrites the select-list entries that are sketch calls and
// returns the calls it consumed.
func sketchTargets(sel *pg.SelectStmt, cat *Catalog) (*Finish, map[*pg.FuncCall]bool, error) {
	fin, used := &Finish{}, map[*pg.FuncCall]bool{}
	tiers := tierRelations(sel.FromClause, cat)
	for i, n := range sel.TargetList {
		rt := n.GetResTarget()
		f := rt.GetVal().GetFuncCall()
		if f == nil || sketchFuncs[spiralName(f)].kind == "" {
			continue
		}
		expr, col, err := sketchCall(f, tiers, used)
		if err != nil {
			return nil, nil, err
		}
		if rt.Name == "" {
			rt.Name = spiralName(f)
		}
		rt.Val = expr
		col.Index = i
		fin.Columns = append(fin.Columns, col)
	}
	return fin, used, nil
}

// sketchCall rewrites one call into the packed column expression.
func sketchCall(f *pg.FuncCall, tiers []tierRel, used map[*pg.FuncCall]bool) (*pg.Node, FinishColumn, error) {
	name := spiralName(f)
	spec := sketchFuncs[name]
	col := FinishColumn{Kind: spec.kind, Op: spec.op}
	used[f] = true
	want := 2
	if spec.op == OpMerge {
		want = 1
	}
	if !plainCall(f) || len(f.Args) != want {
		return nil, col, unsupportedSketch("%s takes %s, without DISTINCT, FILTER, ORDER BY or OVER", name, map[int]string{1: "one argument", 2: "two arguments"}[want])
	}
	states, err := packedStates(f.Args[0], spec.kind, spec.op == OpMerge, tiers, used)
	if err != nil {
		return nil, col, err
	}
	arg := "decode('00', 'hex')"
	if spec.op != OpMerge {
		arg, col.Array, err = packedArgument(f.Args[1], spec.op)
		if err != nil {
			return nil, col, err
		}
	}
	expr, err := parseExpr(fmt.Sprintf("encode(%s || %s, 'hex')", arg, states))
	return expr, col, err
}

// packedStates is the SQL of the states part: one state, or the framed
// states of a merge aggregate.
func packedStates(n *pg.Node, kind rollup.Kind, merging bool, tiers []tierRel, used map[*pg.FuncCall]bool) (string, error) {
	if f := n.GetFuncCall(); f != nil && !merging {
		inner := spiralName(f)
		if spec := sketchFuncs[inner]; spec.op != OpMerge || spec.kind != kind {
			return "", unsupportedSketch("the state argument must be a %s column or %s of one", stateNoun(kind), mergeName(kind))
		}
		used[f] = true
		if !plainCall(f) || len(f.Args) != 1 {
			return "", unsupportedSketch("%s takes one argument, without DISTINCT, FILTER, ORDER BY or OVER", inner)
		}
		return packedStates(f.Args[0], kind, true, tiers, used)
	}
	c, err := stateColumn(n, kind, tiers)
	if err != nil {
		return "", err
	}
	frame := framedState(c)
	if merging {
		return fmt.Sprintf("string_agg(%s, ''::bytea)", frame), nil
	}
	return frame, nil
}

// framedState is the SQL of one packed state item: 'S', its length, the
// state (NULL for a NULL state).
func framedState(col string) string {
	return fmt.Sprintf("decode('53', 'hex') || int4send(length(%s)) || %s", col, col)
}

// packedArgument is the SQL of the argument part, checked by PostgreSQL:
// spiral.quantile_arg raises percentile_cont's error for q outside [0, 1].
func packedArgument(n *pg.Node, op Op) (string, bool, error) {
	q, array, err := castArgument(n)
	if err != nil {
		return "", false, err
	}
	switch {
	case op == OpCDF && array:
		return "", false, unsupportedSketch("spiral_tdigest_cdf takes one value, not an array")
	case op == OpCDF:
		return fmt.Sprintf("spiral.cdf_arg(%s)", q), false, nil
	}
	return fmt.Sprintf("spiral.quantile_arg(%s)", q), array, nil
}

// castArgument is a quantile argument cast to float8, or float8[] when it
// is an array.
func castArgument(n *pg.Node) (string, bool, error) {
	q, err := deparseExpr(n)
	if err != nil {
		return "", false, err
	}
	if isArrayExpr(n) {
		return fmt.Sprintf("(%s)::float8[]", q), true, nil
	}
	return fmt.Sprintf("(%s)::float8", q), false, nil
}

// isArrayExpr reports whether a quantile argument is an array: ARRAY[...],
// a cast to an array type, or a '{...}' literal.
func isArrayExpr(n *pg.Node) bool {
	switch x := n.Node.(type) {
	case *pg.Node_AArrayExpr:
		return true
	case *pg.Node_TypeCast:
		return len(x.TypeCast.TypeName.GetArrayBounds()) > 0 || isArrayExpr(x.TypeCast.Arg)
	}
	s, ok := stringConst(n)
	return ok && strings.HasPrefix(strings.TrimSpace(s), "{")
}

func stateNoun(k rollup.Kind) string {
	switch k {
	case rollup.KindSketch:
		return "DDSketch (<col>_sketch)"
	case rollup.KindTDigest:
		return "t-digest (<col>_tdigest)"
	}
	return string(k)
}

func mergeName(k rollup.Kind) string {
	if k == rollup.KindSketch {
		return "spiral_sketch_merge"
	}
	return "spiral_tdigest_merge"
}

// tierRel is a tier table named in a FROM clause.
type tierRel struct {
	table *rollup.Table
}

// tierRelations returns the tier tables among the FROM items, joins
// included.
func tierRelations(from []*pg.Node, cat *Catalog) []tierRel {
	var out []tierRel
	for _, n := range from {
		visitNodes(n, func(x *pg.Node) bool {
			if x.GetSelectStmt() != nil || x.GetRangeSubselect() != nil {
				return false
			}
			if rv := x.GetRangeVar(); rv != nil {
				if t := cat.tierTable(rv.Schemaname, rv.Relname); t != nil {
					out = append(out, tierRel{table: t})
				}
			}
			return true
		})
	}
	return out
}

// tierTable returns the tracked table whose tier is named so.
func (c *Catalog) tierTable(schema, name string) *rollup.Table {
	if c == nil {
		return nil
	}
	for _, s := range c.Sources {
		if schema != "" && s.Table.Schema != schema {
			continue
		}
		for _, f := range s.Table.Frames {
			if s.Table.TierName(f) == name {
				return s.Table
			}
		}
	}
	return nil
}

// stateColumn checks that n names a state column of kind in one of the
// tier tables and returns it as SQL.
func stateColumn(n *pg.Node, kind rollup.Kind, tiers []tierRel) (string, error) {
	ref := n.GetColumnRef()
	if ref == nil {
		return "", unsupportedSketch("the state argument must be a %s column of a tier table", stateNoun(kind))
	}
	name := strVal(ref.Fields[len(ref.Fields)-1])
	for _, t := range tiers {
		for _, c := range t.table.TierColumns() {
			if c.Name != name {
				continue
			}
			if c.Kind != kind {
				return "", pgerr.New(pgerr.InvalidParameterValue, "column %q holds %s states, but the function reads a %s column", name, stateNoun(c.Kind), stateNoun(kind)).
					WithHint("Use the spiral_%s_* functions on it.", c.Kind)
			}
			return deparseExpr(n)
		}
	}
	return "", unsupportedSketch("%q is not a %s column of a tier table in FROM", name, stateNoun(kind))
}

// checkSketchUses rejects sketch calls the select list did not consume,
// and uses of finished columns that PostgreSQL would have to evaluate.
func checkSketchUses(root *pg.Node, used map[*pg.FuncCall]bool, sel *pg.SelectStmt, fin *Finish) error {
	var stray string
	visitNodes(root, func(n *pg.Node) bool {
		if f := n.GetFuncCall(); f != nil && !used[f] && sketchFuncs[spiralName(f)].kind != "" && stray == "" {
			stray = spiralName(f)
		}
		return true
	})
	if stray != "" {
		return unsupportedSketch("%s is not supported in this position", stray)
	}
	if len(sel.DistinctClause) > 0 {
		return unsupportedSketch("SELECT DISTINCT with spiral sketch functions is not supported")
	}
	for _, c := range fin.Columns {
		name := sel.TargetList[c.Index].GetResTarget().Name
		for _, s := range sel.SortClause {
			if refersTo(s.GetSortBy().GetNode(), c.Index, name) {
				return unsupportedSketch("ORDER BY %s: the proxy computes that column after PostgreSQL has sorted the rows", name)
			}
		}
	}
	return nil
}

// refersTo reports whether an ORDER BY item names output column i.
func refersTo(n *pg.Node, i int, name string) bool {
	if v, ok := intConst(n); ok {
		return v == int64(i+1)
	}
	ref := n.GetColumnRef()
	return ref != nil && len(ref.Fields) == 1 && strVal(ref.Fields[0]) == name
}
