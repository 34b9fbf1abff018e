package rewrite

import (
	"fmt"

	pg "github.com/pganalyze/pg_query_go/v5"
)

// outputs names every select-list entry as PostgreSQL would, finds the
// aggregates, and rewrites the select list, HAVING, ORDER BY and DISTINCT
// ON over the merged segments: group keys become spiral_s.gN, aggregates
// their merge expressions. What remains must be plain scalar expressions.
func (b *block) outputs() error {
	b.names = make(map[string]bool)
	for _, t := range b.stmt.TargetList {
		rt := t.Node.(*pg.Node_ResTarget).ResTarget
		if rt.Name == "" {
			name, ok := columnName(rt.Val)
			if !ok {
				return skipf("cannot name a select-list expression")
			}
			rt.Name = name
		}
		b.names[rt.Name] = true
	}
	r, err := b.newReplacer()
	if err != nil {
		return err
	}
	whole := map[int]int{} // aggregate -> whole select-list entries it is
	for i, t := range b.stmt.TargetList {
		rt := t.Node.(*pg.Node_ResTarget).ResTarget
		rt.Val = r.apply(rt.Val)
		if a, ok := r.aggOf[rt.Val]; ok && b.aggs[a].finish != nil {
			whole[a]++
			col := *b.aggs[a].finish
			col.Index = i
			b.finish = append(b.finish, col)
		}
	}
	b.stmt.HavingClause = r.apply(b.stmt.HavingClause)
	for _, s := range b.stmt.SortClause {
		sb := s.Node.(*pg.Node_SortBy).SortBy
		if !b.outputName(sb.Node) {
			sb.Node = r.apply(sb.Node)
		}
	}
	for i, d := range b.stmt.DistinctClause {
		if d != nil {
			b.stmt.DistinctClause[i] = r.apply(d)
		}
	}
	if r.err != nil {
		return r.err
	}
	if len(b.aggs) == 0 && len(b.keys) == 0 {
		return skipf("no aggregate and no GROUP BY")
	}
	if err := b.checkFinished(r, whole); err != nil {
		return err
	}
	b.merged = r.aggOf
	return b.checkOuter(r.inserted)
}

// checkFinished makes sure every aggregate the proxy finishes is a whole
// select-list entry and nothing sorts or deduplicates by it: PostgreSQL
// only sees its packed states.
func (b *block) checkFinished(r *replacer, whole map[int]int) error {
	for i, a := range b.aggs {
		if a.finish != nil && r.uses[i] != whole[i] {
			return skipf("an approximate percentile inside an expression, HAVING or ORDER BY")
		}
	}
	if len(b.finish) == 0 {
		return nil
	}
	if len(b.stmt.DistinctClause) > 0 {
		return skipf("DISTINCT with an approximate percentile")
	}
	for _, s := range b.stmt.SortClause {
		n := s.Node.(*pg.Node_SortBy).SortBy.Node
		for _, f := range b.finish {
			name := b.stmt.TargetList[f.Index].Node.(*pg.Node_ResTarget).ResTarget.Name
			if refersTo(n, f.Index, name) {
				return skipf("ORDER BY an approximate percentile")
			}
		}
	}
	return nil
}

// outputName reports whether n is a bare name of an output column, which
// ORDER BY resolves to that column.
func (b *block) outputName(n *pg.Node) bool {
	c, ok := n.Node.(*pg.Node_ColumnRef)
	return ok && len(c.ColumnRef.Fields) == 1 && b.names[strVal(c.ColumnRef.Fields[0])]
}

// replacer swaps group keys and aggregates for their outer forms.
type replacer struct {
	b        *block
	keyRefs  []*pg.Node
	merges   []*pg.Node // parallel to b.aggs
	uses     []int      // parallel to b.aggs: how often each was inserted
	inserted map[*pg.Node]bool
	aggOf    map[*pg.Node]int // inserted merge -> its aggregate
	err      error
}

func (b *block) newReplacer() (*replacer, error) {
	r := &replacer{b: b, inserted: make(map[*pg.Node]bool), aggOf: make(map[*pg.Node]int)}
	for i, k := range b.keys {
		ref := fmt.Sprintf("spiral_s.g%d", i+1)
		if k.scope != "" {
			ref += "::" + b.src.Columns[k.scope]
		}
		n, err := parseExpr(ref)
		if err != nil {
			return nil, err
		}
		r.keyRefs = append(r.keyRefs, n)
	}
	return r, nil
}

// apply returns n with keys and aggregates replaced.
func (r *replacer) apply(n *pg.Node) *pg.Node {
	if n == nil {
		return nil
	}
	if x := r.swap(n); x != nil {
		return x
	}
	replaceNodes(n.ProtoReflect(), r.swap)
	return n
}

// swap returns the replacement for n, or nil to look inside it.
func (r *replacer) swap(n *pg.Node) *pg.Node {
	for i, k := range r.b.keys {
		if sameExpr(n, k.expr) {
			return r.insert(r.keyRefs[i])
		}
	}
	call, name, ok := aggregateCall(n, r.b.approx)
	if !ok {
		return nil
	}
	for i, a := range r.b.aggs {
		if sameExpr(n, a.call) {
			return r.insertMerge(i)
		}
	}
	prefix := fmt.Sprintf("a%d", len(r.b.aggs)+1)
	a, err := aggBuilder{src: r.b.src, ref: r.b.ref, colOf: r.b.colOf}.build(call, name, prefix)
	if err == nil {
		a.call = normalized(n)
		var m *pg.Node
		if m, err = parseExpr(a.merge); err == nil {
			r.b.aggs = append(r.b.aggs, a)
			r.merges = append(r.merges, m)
			r.uses = append(r.uses, 0)
			return r.insertMerge(len(r.b.aggs) - 1)
		}
	}
	if r.err == nil {
		r.err = err
	}
	return nil
}

// insertMerge returns a fresh copy of aggregate i's merge.
func (r *replacer) insertMerge(i int) *pg.Node {
	c := r.insert(r.merges[i])
	r.uses[i]++
	r.aggOf[c] = i
	return c
}

// insert returns a fresh copy of n, remembered as spiral's own.
func (r *replacer) insert(n *pg.Node) *pg.Node {
	c := normalized(n)
	r.inserted[c] = true
	return c
}

// scalarFuncs may appear over merged aggregates and group keys.
var scalarFuncs = map[string]bool{
	"round": true, "trunc": true, "abs": true, "ceil": true, "ceiling": true, "floor": true, "sqrt": true,
	"cbrt": true, "power": true, "pow": true, "ln": true, "log": true, "log10": true, "exp": true, "sign": true,
	"mod": true, "div": true, "to_char": true, "date_trunc": true, "date_part": true, "extract": true,
	"to_timestamp": true, "timezone": true, "concat": true, "lower": true, "upper": true, "length": true,
	"format": true, "left": true, "right": true, "substr": true, "substring": true, "date_bin": true,
	"make_interval": true, "justify_interval": true, "numeric": true, "float8": true, "int4": true, "int8": true,
	"text": true, "date": true, "isfinite": true,
}

// checkOuter makes sure nothing but scalar expressions over what was
// replaced is left in the select list, HAVING, ORDER BY and DISTINCT ON.
func (b *block) checkOuter(inserted map[*pg.Node]bool) error {
	var bad error
	check := func(n *pg.Node, top bool) {
		visitNodes(n, func(x *pg.Node) bool {
			if inserted[x] || bad != nil {
				return false
			}
			if top && x == n && b.outputName(x) {
				return false
			}
			switch y := x.Node.(type) {
			case *pg.Node_ColumnRef:
				bad = skipf("a column outside the GROUP BY keys and supported aggregates")
			case *pg.Node_FuncCall:
				if !plainCall(y.FuncCall) || !scalarFuncs[funcName(y.FuncCall)] {
					bad = skipf("function %s over aggregates or keys", funcName(y.FuncCall))
				}
			case *pg.Node_AExpr, *pg.Node_BoolExpr, *pg.Node_NullTest, *pg.Node_BooleanTest, *pg.Node_AConst,
				*pg.Node_TypeCast, *pg.Node_ParamRef, *pg.Node_CaseExpr, *pg.Node_CaseWhen, *pg.Node_CoalesceExpr,
				*pg.Node_MinMaxExpr, *pg.Node_SqlvalueFunction, *pg.Node_List, *pg.Node_String_, *pg.Node_Integer,
				*pg.Node_Float, *pg.Node_AArrayExpr, *pg.Node_CollateClause, *pg.Node_ResTarget, *pg.Node_SortBy:
			default:
				bad = skipf("unsupported expression over aggregates or keys")
			}
			return bad == nil
		})
	}
	for _, t := range b.stmt.TargetList {
		check(t.Node.(*pg.Node_ResTarget).ResTarget.Val, false)
	}
	check(b.stmt.HavingClause, false)
	for _, s := range b.stmt.SortClause {
		check(s.Node.(*pg.Node_SortBy).SortBy.Node, true)
	}
	for _, d := range b.stmt.DistinctClause {
		check(d, false)
	}
	return bad
}
