package rewrite

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	pg "github.com/pganalyze/pg_query_go/v5"
	"google.golang.org/protobuf/proto"

	"spiral/internal/pgerr"
)

// Scope is a parsed scope predicate such as `symbol_id IN (1, 2) AND
// region = 'eu'`: the tenants a refresh or status request is limited to.
type Scope struct {
	Conds []ScopeCond // at most one per scope column, in scope column order
}

// ScopeCond limits one scope column to a set of values.
type ScopeCond struct {
	Column string // the scope column, case preserved
	// Values are the literals as text, to be sent as query parameters,
	// never pasted into SQL. Integers are in canonical form; other values
	// are as written. Duplicates are removed, first occurrence kept.
	Values []string
}

// scopePrefix turns a predicate into a statement PostgreSQL's parser takes.
const scopePrefix = "SELECT 1 WHERE "

// ParseScope parses pred, a condition over the scope columns of a table:
// `col = literal` and `col IN (literal, ...)` joined by AND, each column at
// most once. Literals are numbers (a leading minus is allowed) and quoted
// strings. scopeTypes, when not nil, holds the canonical type of each scope
// column; integer and floating-point values are checked against it. A blank
// pred is the empty Scope, which limits nothing. Errors are *pgerr.Error
// with SQLSTATE 22023.
func ParseScope(pred string, scopeColumns, scopeTypes []string) (Scope, error) {
	if strings.TrimSpace(pred) == "" {
		return Scope{}, nil
	}
	if scopeTypes != nil && len(scopeTypes) != len(scopeColumns) {
		return Scope{}, pgerr.New(pgerr.InternalError, "rewrite: %d scope types for %d scope columns", len(scopeTypes), len(scopeColumns))
	}
	p := &scopeParser{pred: pred, cols: scopeColumns, types: scopeTypes, values: map[string][]string{}}
	if len(scopeColumns) == 0 {
		return Scope{}, p.errorf("the table has no scope columns").
			WithHint("omit the scope, or declare scope columns with spiral.tenant")
	}
	where, err := p.parse()
	if err != nil {
		return Scope{}, err
	}
	if err := p.expr(where); err != nil {
		return Scope{}, err
	}
	return p.scope(), nil
}

// scopeParser holds the state of one ParseScope call.
type scopeParser struct {
	pred   string
	cols   []string
	types  []string
	values map[string][]string // by column
}

// errorf returns a 22023 error about the predicate with the standard hint.
func (p *scopeParser) errorf(format string, args ...any) *pgerr.Error {
	msg := fmt.Sprintf(format, args...)
	return pgerr.New(pgerr.InvalidParameterValue, "invalid scope %q: %s", p.pred, msg).
		WithHint("write conditions such as col = 3 or col IN (1, 2), joined by AND, over the scope columns: %s", strings.Join(p.cols, ", "))
}

// parse parses the predicate as the WHERE clause of `SELECT 1` and returns
// the clause, refusing anything that adds to or changes the statement.
func (p *scopeParser) parse() (*pg.Node, error) {
	if strings.IndexByte(p.pred, 0) >= 0 || !utf8.ValidString(p.pred) {
		return nil, p.errorf("it is not valid UTF-8 text")
	}
	tree, err := pg.Parse(scopePrefix + p.pred)
	if err != nil {
		return nil, p.errorf("%v", err)
	}
	if len(tree.Stmts) != 1 || tree.Stmts[0].Stmt.GetSelectStmt() == nil {
		return nil, p.errorf("it must be a single condition, not several statements")
	}
	sel := tree.Stmts[0].Stmt.GetSelectStmt()
	rest := proto.Clone(sel).(*pg.SelectStmt)
	rest.WhereClause = nil
	if sel.WhereClause == nil || !proto.Equal(rest, bareSelectOne()) {
		return nil, p.errorf("it must be a condition only, without other clauses")
	}
	return sel.WhereClause, nil
}

// bareSelectOne is the parse of the `SELECT 1` in scopePrefix.
func bareSelectOne() *pg.SelectStmt {
	one := pg.MakeAConstIntNode(1, 7)
	return &pg.SelectStmt{
		TargetList:  []*pg.Node{pg.MakeResTargetNodeWithVal(one, 7)},
		LimitOption: pg.LimitOption_LIMIT_OPTION_DEFAULT,
		Op:          pg.SetOperation_SETOP_NONE,
	}
}

// expr collects the conditions of an AND tree.
func (p *scopeParser) expr(n *pg.Node) error {
	if b := n.GetBoolExpr(); b != nil && b.Boolop == pg.BoolExprType_AND_EXPR {
		for _, a := range b.Args {
			if err := p.expr(a); err != nil {
				return err
			}
		}
		return nil
	}
	e := n.GetAExpr()
	if e == nil || len(e.Name) != 1 || e.Name[0].GetString_().GetSval() != "=" {
		return p.unsupported(n)
	}
	switch e.Kind {
	case pg.A_Expr_Kind_AEXPR_OP:
		return p.condition(e.Lexpr, []*pg.Node{e.Rexpr})
	case pg.A_Expr_Kind_AEXPR_IN:
		return p.condition(e.Lexpr, e.Rexpr.GetList().GetItems())
	}
	return p.unsupported(n)
}

// condition records `col = v` or `col IN (v, ...)`.
func (p *scopeParser) condition(col *pg.Node, vals []*pg.Node) error {
	name, err := p.column(col)
	if err != nil {
		return err
	}
	var out []string
	for _, v := range vals {
		s, err := p.value(v, name)
		if err != nil {
			return err
		}
		if !contains(out, s) {
			out = append(out, s)
		}
	}
	p.values[name] = out
	return nil
}

// column returns the scope column a ColumnRef names; it must be unqualified,
// a scope column and not yet used.
func (p *scopeParser) column(n *pg.Node) (string, error) {
	ref := n.GetColumnRef()
	if ref == nil || len(ref.Fields) != 1 || ref.Fields[0].GetString_() == nil {
		return "", p.errorf("%s: the left side of = or IN must be a scope column name", p.describe(n))
	}
	name := ref.Fields[0].GetString_().Sval
	if !contains(p.cols, name) {
		return "", p.errorf("column %s is not a scope column", quoteIdent(name))
	}
	if _, dup := p.values[name]; dup {
		return "", p.errorf("column %s appears more than once", quoteIdent(name))
	}
	return name, nil
}

// value returns the text of a literal compared with column col.
func (p *scopeParser) value(n *pg.Node, col string) (string, error) {
	s, ok := literal(n)
	if !ok {
		return "", p.errorf("%s: values must be number or string literals", p.describe(n))
	}
	return p.checkType(s, col)
}

// literal returns the text of a number or string constant, allowing a
// unary minus before a number.
func literal(n *pg.Node) (string, bool) {
	if e := n.GetAExpr(); e != nil {
		if e.Kind != pg.A_Expr_Kind_AEXPR_OP || e.Lexpr != nil || len(e.Name) != 1 || e.Name[0].GetString_().GetSval() != "-" {
			return "", false
		}
		c := e.Rexpr.GetAConst()
		s, ok := number(c)
		if !ok || strings.HasPrefix(s, "-") {
			return "", false
		}
		return "-" + s, true
	}
	c := n.GetAConst()
	if s := c.GetSval(); s != nil && !c.Isnull {
		return s.Sval, true
	}
	return number(c)
}

// number returns the text of an integer or decimal constant.
func number(c *pg.A_Const) (string, bool) {
	switch {
	case c == nil || c.Isnull:
		return "", false
	case c.GetIval() != nil:
		return strconv.FormatInt(int64(c.GetIval().Ival), 10), true
	case c.GetFval() != nil:
		return c.GetFval().Fval, true
	}
	return "", false
}

// intBits is the size of each integer type.
var intBits = map[string]int{"int2": 16, "int4": 32, "int8": 64}

// checkType checks v against the type of col and returns it, integers in
// canonical form.
func (p *scopeParser) checkType(v, col string) (string, error) {
	typ := p.typeOf(col)
	if bits, ok := intBits[typ]; ok {
		i, err := strconv.ParseInt(v, 10, bits)
		if err != nil {
			return "", p.errorf("%q is not a valid %s value for column %s", v, typ, quoteIdent(col))
		}
		return strconv.FormatInt(i, 10), nil
	}
	switch typ {
	case "float4", "float8", "numeric":
		if _, err := strconv.ParseFloat(v, 64); err != nil || strings.ContainsAny(v, "xX_") {
			return "", p.errorf("%q is not a valid %s value for column %s", v, typ, quoteIdent(col))
		}
	}
	return v, nil
}

// typeOf returns the canonical type of scope column col, or "" if unknown.
func (p *scopeParser) typeOf(col string) string {
	for i, c := range p.cols {
		if c == col && i < len(p.types) {
			return p.types[i]
		}
	}
	return ""
}

// unsupported is the error for a part of the predicate that is not an
// equality or IN condition.
func (p *scopeParser) unsupported(n *pg.Node) error {
	return p.errorf("%s is not supported; only = and IN joined by AND are", p.describe(n))
}

// describe names a node for an error message, with its position in the
// predicate when known.
func (p *scopeParser) describe(n *pg.Node) string {
	what := nodeName(n)
	if loc := nodeLocation(n) - len(scopePrefix); loc >= 0 {
		what += fmt.Sprintf(" at character %d", loc+1)
	}
	return what
}

// nodeName is a short name of what n is.
func nodeName(n *pg.Node) string {
	switch v := n.GetNode().(type) {
	case *pg.Node_BoolExpr:
		return strings.TrimSuffix(v.BoolExpr.Boolop.String(), "_EXPR")
	case *pg.Node_AExpr:
		return aExprName(v.AExpr)
	case *pg.Node_FuncCall:
		return "function call " + strings.Join(stringList(v.FuncCall.Funcname), ".")
	case *pg.Node_TypeCast:
		return "type cast"
	case *pg.Node_ColumnRef:
		return "column reference"
	case *pg.Node_ParamRef:
		return fmt.Sprintf("parameter $%d", v.ParamRef.Number)
	case *pg.Node_SubLink:
		return "subquery"
	case *pg.Node_NullTest:
		return "IS NULL test"
	case *pg.Node_AConst:
		return constName(v.AConst)
	case nil:
		return "empty expression"
	}
	return "expression " + strings.TrimPrefix(fmt.Sprintf("%T", n.GetNode()), "*pg_query.Node_")
}

// aExprName names an operator expression.
func aExprName(e *pg.A_Expr) string {
	op := strings.Join(stringList(e.Name), " ")
	switch e.Kind {
	case pg.A_Expr_Kind_AEXPR_OP:
		return "operator " + op
	case pg.A_Expr_Kind_AEXPR_IN:
		if op == "<>" {
			return "NOT IN"
		}
		return "IN"
	}
	return strings.TrimPrefix(e.Kind.String(), "AEXPR_")
}

// constName names a constant that is not a usable literal.
func constName(c *pg.A_Const) string {
	switch {
	case c.Isnull:
		return "NULL"
	case c.GetBoolval() != nil:
		return "boolean literal"
	case c.GetBsval() != nil:
		return "bit string literal"
	}
	return "literal"
}

// nodeLocation returns the byte offset recorded in n's location field, or
// -1 when it has none.
func nodeLocation(n *pg.Node) int {
	m := n.ProtoReflect()
	fd := m.WhichOneof(m.Descriptor().Oneofs().ByName("node"))
	if fd == nil || fd.Message() == nil {
		return -1
	}
	inner := m.Get(fd).Message()
	lf := inner.Descriptor().Fields().ByName("location")
	if lf == nil {
		return -1
	}
	return int(inner.Get(lf).Int())
}

// scope returns the collected conditions in scope column order.
func (p *scopeParser) scope() Scope {
	var s Scope
	for _, c := range p.cols {
		if v, ok := p.values[c]; ok {
			s.Conds = append(s.Conds, ScopeCond{Column: c, Values: v})
		}
	}
	return s
}
