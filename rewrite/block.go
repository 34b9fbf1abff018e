package rewrite

import (
	"fmt"
	"slices"
	"strings"

	pg "github.com/pganalyze/pg_query_go/v5"

	"spiral/rollup"
)

// Skip is why a SELECT block is not rewritten: it runs as written.
type Skip struct{ Reason string }

func (s *Skip) Error() string { return "not rewritten: " + s.Reason }

func skipf(format string, args ...any) error { return &Skip{Reason: fmt.Sprintf(format, args...)} }

// block is one SELECT block over a tracked table, understood: its time
// range, scope filter, grouping keys and aggregates.
type block struct {
	stmt *pg.SelectStmt
	src  *Source
	rv   *pg.RangeVar
	ref  string // quoted name columns are qualified with: the alias or the table name
	time string // quoted time column

	lower, upper []string      // time bounds, SQL over no columns, as timestamptz, half-open
	bounds       []string      // every bound expression, for the NULL check
	static       []staticBound // every bound as written, for constRange
	scope        []*pg.Node    // conjuncts over scope columns only
	keys         []groupKey
	aggs         []*aggregate
	names        map[string]bool  // output column names
	approx       bool             // percentiles may be answered from sketches
	finish       []FinishColumn   // select-list entries the proxy finishes
	merged       map[*pg.Node]int // each merge expression in the outer block -> its aggregate
}

// groupKey is one GROUP BY expression.
type groupKey struct {
	expr    *pg.Node
	scope   string // the scope column it is; "" for a time bucket
	buckets []bucket
}

// analyze checks that stmt is a block spiral can rewrite and returns it.
func analyze(stmt *pg.SelectStmt, cat *Catalog, ctes map[string]bool, pm PercentileMode) (*block, error) {
	if err := checkForm(stmt); err != nil {
		return nil, err
	}
	rv := stmt.FromClause[0].Node.(*pg.Node_RangeVar).RangeVar
	src := cat.lookup(rv.Schemaname, rv.Relname)
	switch {
	case src == nil:
		return nil, skipf("%s is not tracked", rv.Relname)
	case rv.Schemaname == "" && (ctes[rv.Relname] || strings.HasPrefix(rv.Relname, "spiral_")):
		return nil, skipf("%s may name a CTE", rv.Relname)
	case rv.Catalogname != "" || (rv.Alias != nil && len(rv.Alias.Colnames) > 0):
		return nil, skipf("FROM item with a catalog name or column aliases")
	case len(src.Tiers) == 0:
		return nil, skipf("no tier of %s may be read", rv.Relname)
	}
	b := &block{stmt: stmt, src: src, rv: rv, ref: rollup.QuoteIdent(refName(rv)), time: rollup.QuoteIdent(src.Table.TimeColumn),
		approx: pm.approximate(src.Table)}
	for _, step := range []func() error{b.where, b.group, b.outputs} {
		if err := step(); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// checkForm accepts a plain SELECT ... FROM one table.
func checkForm(s *pg.SelectStmt) error {
	switch {
	case s.Op != pg.SetOperation_SETOP_NONE:
		return skipf("set operation")
	case len(s.FromClause) != 1:
		return skipf("not one FROM item")
	case len(s.ValuesLists) > 0 || s.IntoClause != nil || len(s.LockingClause) > 0 || len(s.WindowClause) > 0:
		return skipf("VALUES, INTO, FOR UPDATE or WINDOW")
	case s.GroupDistinct:
		return skipf("GROUP BY DISTINCT")
	case s.WithClause != nil && s.WithClause.Recursive:
		return skipf("WITH RECURSIVE")
	}
	if _, ok := s.FromClause[0].Node.(*pg.Node_RangeVar); !ok {
		return skipf("FROM item is not a table")
	}
	return nil
}

func refName(rv *pg.RangeVar) string {
	if rv.Alias != nil {
		return rv.Alias.Aliasname
	}
	return rv.Relname
}

// colOf returns the base column a reference names, if it is one.
func (b *block) colOf(n *pg.Node) (string, bool) {
	c, ok := n.Node.(*pg.Node_ColumnRef)
	if !ok {
		return "", false
	}
	parts := c.ColumnRef.Fields
	var name string
	switch len(parts) {
	case 1:
		name = strVal(parts[0])
	case 2:
		if strVal(parts[0]) != refName(b.rv) {
			return "", false
		}
		name = strVal(parts[1])
	default:
		return "", false
	}
	_, ok = b.src.Columns[name]
	return name, ok && name != ""
}

func strVal(n *pg.Node) string {
	if s, ok := n.Node.(*pg.Node_String_); ok {
		return s.String_.Sval
	}
	return ""
}

func (b *block) isTime(n *pg.Node) bool {
	name, ok := b.colOf(n)
	return ok && name == b.src.Table.TimeColumn
}

func (b *block) isScope(name string) bool {
	return slices.Contains(b.src.Table.ScopeColumns, name)
}

// where splits the WHERE clause into time bounds and scope conditions.
func (b *block) where() error {
	for _, c := range conjuncts(b.stmt.WhereClause) {
		ok, err := b.timeBound(c)
		if err != nil {
			return err
		}
		if ok {
			continue
		}
		if !b.scopeOnly(c) {
			return skipf("WHERE condition on something other than the time range and scope columns")
		}
		b.scope = append(b.scope, c)
	}
	return nil
}

func conjuncts(n *pg.Node) []*pg.Node {
	if n == nil {
		return nil
	}
	if be, ok := n.Node.(*pg.Node_BoolExpr); ok && be.BoolExpr.Boolop == pg.BoolExprType_AND_EXPR {
		var out []*pg.Node
		for _, a := range be.BoolExpr.Args {
			out = append(out, conjuncts(a)...)
		}
		return out
	}
	return []*pg.Node{n}
}

const microsecond = " + interval '1 microsecond'"

// timeBound records c when it bounds the time column.
func (b *block) timeBound(c *pg.Node) (bool, error) {
	e, ok := c.Node.(*pg.Node_AExpr)
	if !ok {
		return false, nil
	}
	x := e.AExpr
	switch x.Kind {
	case pg.A_Expr_Kind_AEXPR_BETWEEN:
		list, ok := x.Rexpr.Node.(*pg.Node_List)
		if !b.isTime(x.Lexpr) || !ok || len(list.List.Items) != 2 {
			return false, nil
		}
		return true, b.addBounds(list.List.Items[0], ">=", list.List.Items[1], "<=")
	case pg.A_Expr_Kind_AEXPR_OP:
	default:
		return false, nil
	}
	op := opName(x.Name)
	flip := map[string]string{"<": ">", "<=": ">=", ">": "<", ">=": "<=", "=": "="}
	if _, known := flip[op]; !known {
		return false, nil
	}
	switch {
	case b.isTime(x.Lexpr):
		return true, b.addBounds(x.Rexpr, op, nil, "")
	case b.isTime(x.Rexpr):
		return true, b.addBounds(x.Lexpr, flip[op], nil, "")
	}
	return false, nil
}

// addBounds records t <op> v (and t <op2> v2).
func (b *block) addBounds(v *pg.Node, op string, v2 *pg.Node, op2 string) error {
	for _, p := range []struct {
		v  *pg.Node
		op string
	}{{v, op}, {v2, op2}} {
		if p.v == nil {
			continue
		}
		if !boundSafe(p.v) {
			return skipf("time bound is not a constant, parameter or now()-style expression")
		}
		s, err := deparseExpr(p.v)
		if err != nil {
			return err
		}
		ts := "(" + s + ")::timestamptz"
		b.bounds = append(b.bounds, ts)
		b.static = append(b.static, staticBound{p.v, p.op})
		switch p.op {
		case ">=":
			b.lower = append(b.lower, ts)
		case ">":
			b.lower = append(b.lower, ts+microsecond)
		case "<":
			b.upper = append(b.upper, ts)
		case "<=":
			b.upper = append(b.upper, ts+microsecond)
		case "=":
			b.lower = append(b.lower, ts)
			b.upper = append(b.upper, ts+microsecond)
		}
	}
	return nil
}

// boundFuncs are the stable functions a time bound may call.
var boundFuncs = map[string]bool{
	"now": true, "date_trunc": true, "date_bin": true, "to_timestamp": true, "make_timestamptz": true,
	"make_interval": true, "timezone": true, "make_date": true, "make_timestamp": true,
	"transaction_timestamp": true, "statement_timestamp": true,
}

// boundSafe reports whether a time bound evaluates to the same value
// wherever it appears in one statement and reads no column.
func boundSafe(n *pg.Node) bool {
	safe := true
	visitNodes(n, func(x *pg.Node) bool {
		switch y := x.Node.(type) {
		case *pg.Node_AConst, *pg.Node_TypeCast, *pg.Node_ParamRef, *pg.Node_SqlvalueFunction, *pg.Node_String_, *pg.Node_Integer:
		case *pg.Node_AExpr:
			safe = safe && y.AExpr.Kind == pg.A_Expr_Kind_AEXPR_OP && arithmetic(y.AExpr.Name)
		case *pg.Node_FuncCall:
			safe = safe && plainCall(y.FuncCall) && boundFuncs[funcName(y.FuncCall)]
		default:
			safe = false
		}
		return safe
	})
	return safe
}

// scopeOnly reports whether c reads only scope columns, constants and
// parameters through plain operators.
func (b *block) scopeOnly(c *pg.Node) bool {
	safe := true
	visitNodes(c, func(x *pg.Node) bool {
		switch x.Node.(type) {
		case *pg.Node_ColumnRef:
			name, ok := b.colOf(x)
			safe = safe && ok && b.isScope(name)
			return false
		case *pg.Node_AExpr, *pg.Node_BoolExpr, *pg.Node_NullTest, *pg.Node_BooleanTest, *pg.Node_AConst,
			*pg.Node_TypeCast, *pg.Node_ParamRef, *pg.Node_List, *pg.Node_AArrayExpr, *pg.Node_String_, *pg.Node_Integer:
		default:
			safe = false
		}
		return safe
	})
	return safe
}

// group resolves the GROUP BY list into scope columns and time buckets.
func (b *block) group() error {
	z := bucketer{isTime: b.isTime}
	for _, g := range b.stmt.GroupClause {
		e, err := b.resolveGroup(g)
		if err != nil {
			return err
		}
		if name, ok := b.colOf(e); ok && b.isScope(name) {
			b.keys = append(b.keys, groupKey{expr: e, scope: name})
			continue
		}
		s := z.classify(e)
		if s.shape != shapeBucket {
			return skipf("GROUP BY expression is neither a scope column nor a time bucket")
		}
		b.keys = append(b.keys, groupKey{expr: e, buckets: s.buckets})
	}
	return nil
}

// resolveGroup turns GROUP BY 1 and GROUP BY output_name into expressions.
func (b *block) resolveGroup(g *pg.Node) (*pg.Node, error) {
	switch x := g.Node.(type) {
	case *pg.Node_GroupingSet:
		return nil, skipf("grouping sets")
	case *pg.Node_AConst:
		i, ok := intConst(g)
		if !ok || i < 1 || int(i) > len(b.stmt.TargetList) {
			return nil, skipf("GROUP BY constant")
		}
		return b.stmt.TargetList[i-1].Node.(*pg.Node_ResTarget).ResTarget.Val, nil
	case *pg.Node_ColumnRef:
		if _, ok := b.colOf(g); ok || len(x.ColumnRef.Fields) != 1 {
			return g, nil
		}
		name := strVal(x.ColumnRef.Fields[0])
		for _, t := range b.stmt.TargetList {
			if rt := t.Node.(*pg.Node_ResTarget).ResTarget; rt.Name == name {
				return rt.Val, nil
			}
		}
	}
	return g, nil
}
