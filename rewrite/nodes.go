package rewrite

import (
	"fmt"
	"strings"

	pg "github.com/pganalyze/pg_query_go/v5"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// funcName is a function call's name without a pg_catalog qualifier; ""
// for names qualified with any other schema.
func funcName(f *pg.FuncCall) string {
	parts := stringList(f.Funcname)
	switch {
	case len(parts) == 1:
		return parts[0]
	case len(parts) == 2 && parts[0] == "pg_catalog":
		return parts[1]
	}
	return ""
}

// plainCall reports whether f is an ordinary call: no DISTINCT, FILTER,
// ORDER BY, WITHIN GROUP, OVER or VARIADIC.
func plainCall(f *pg.FuncCall) bool {
	return !f.AggDistinct && f.AggFilter == nil && len(f.AggOrder) == 0 && !f.AggWithinGroup &&
		f.Over == nil && !f.FuncVariadic
}

// opName is an operator's name; "" for schema-qualified operators.
func opName(name []*pg.Node) string {
	parts := stringList(name)
	if len(parts) != 1 {
		return ""
	}
	return parts[0]
}

// arithmetic reports whether an operator is + - * / or %.
func arithmetic(name []*pg.Node) bool {
	switch opName(name) {
	case "+", "-", "*", "/", "%":
		return true
	}
	return false
}

// stringConst returns the value of a string literal, also under a cast.
func stringConst(n *pg.Node) (string, bool) {
	if n == nil {
		return "", false
	}
	if c, ok := n.Node.(*pg.Node_TypeCast); ok {
		return stringConst(c.TypeCast.Arg)
	}
	c, ok := n.Node.(*pg.Node_AConst)
	if !ok || c.AConst.Isnull {
		return "", false
	}
	s, ok := c.AConst.Val.(*pg.A_Const_Sval)
	if !ok {
		return "", false
	}
	return s.Sval.Sval, true
}

// intConst returns the value of an integer literal.
func intConst(n *pg.Node) (int64, bool) {
	c, ok := n.Node.(*pg.Node_AConst)
	if !ok || c.AConst.Isnull {
		return 0, false
	}
	i, ok := c.AConst.Val.(*pg.A_Const_Ival)
	if !ok {
		return 0, false
	}
	return int64(i.Ival.Ival), true
}

// typeNameIs reports whether a type name is name, possibly pg_catalog
// qualified, without typmods or array bounds.
func typeNameIs(tn *pg.TypeName, name string) bool {
	if tn == nil || len(tn.Typmods) > 0 || len(tn.ArrayBounds) > 0 || tn.Setof || tn.PctType {
		return false
	}
	parts := stringList(tn.Names)
	return (len(parts) == 1 && parts[0] == name) || (len(parts) == 2 && parts[0] == "pg_catalog" && parts[1] == name)
}

// normalized returns a copy of n with every location field zeroed, for
// comparing expressions written in different places.
func normalized(n *pg.Node) *pg.Node {
	c := proto.Clone(n).(*pg.Node)
	clearLocations(c.ProtoReflect())
	return c
}

func clearLocations(m protoreflect.Message) {
	m.Range(func(fd protoreflect.FieldDescriptor, _ protoreflect.Value) bool {
		if fd.Name() == "location" && fd.Kind() == protoreflect.Int32Kind {
			m.Clear(fd)
		}
		return true
	})
	eachChild(m, func(c protoreflect.Message, _ func(*pg.Node)) bool {
		clearLocations(c)
		return true
	})
}

// eachChild calls f on every message held directly by m, in field order,
// with a function that replaces that child by a node (valid where the
// child is a pg.Node). It stops when f returns false, and reports whether
// it went through all of them.
func eachChild(m protoreflect.Message, f func(child protoreflect.Message, set func(*pg.Node)) bool) bool {
	all := true
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.Message() == nil || fd.IsMap():
		case fd.IsList():
			l := v.List()
			for i := 0; i < l.Len() && all; i++ {
				all = f(l.Get(i).Message(), func(n *pg.Node) { l.Set(i, protoreflect.ValueOfMessage(n.ProtoReflect())) })
			}
		default:
			all = f(v.Message(), func(n *pg.Node) { m.Set(fd, protoreflect.ValueOfMessage(n.ProtoReflect())) })
		}
		return all
	})
	return all
}

// sameExpr reports whether two expressions are written alike, locations
// aside.
func sameExpr(a, b *pg.Node) bool {
	return proto.Equal(normalized(a), normalized(b))
}

var nodeDescriptor = (&pg.Node{}).ProtoReflect().Descriptor()

// replaceNodes visits every pg.Node below m, outermost first; where f
// returns a node, that node takes the visited one's place and is not
// visited further.
func replaceNodes(m protoreflect.Message, f func(*pg.Node) *pg.Node) {
	eachChild(m, func(c protoreflect.Message, set func(*pg.Node)) bool {
		if r := replaceOne(c, f); r != nil {
			set(r)
		}
		return true
	})
}

// replaceOne applies f to a Node message, or descends into any other.
func replaceOne(m protoreflect.Message, f func(*pg.Node) *pg.Node) *pg.Node {
	if m.Descriptor() == nodeDescriptor {
		if r := f(m.Interface().(*pg.Node)); r != nil {
			return r
		}
	}
	replaceNodes(m, f)
	return nil
}

// visitNodes calls f on every pg.Node at or below n; f returns false to
// skip a node's children.
func visitNodes(n *pg.Node, f func(*pg.Node) bool) {
	if n == nil {
		return
	}
	if !f(n) {
		return
	}
	visitChildren(n.ProtoReflect(), f)
}

func visitChildren(m protoreflect.Message, f func(*pg.Node) bool) {
	eachChild(m, func(c protoreflect.Message, _ func(*pg.Node)) bool {
		visitMessage(c, f)
		return true
	})
}

func visitMessage(m protoreflect.Message, f func(*pg.Node) bool) {
	if m.Descriptor() == nodeDescriptor {
		visitNodes(m.Interface().(*pg.Node), f)
		return
	}
	visitChildren(m, f)
}

// deparseExpr prints one expression as SQL.
func deparseExpr(n *pg.Node) (string, error) {
	sel := &pg.SelectStmt{TargetList: []*pg.Node{{Node: &pg.Node_ResTarget{ResTarget: &pg.ResTarget{Val: n}}}}}
	out, err := pg.Deparse(&pg.ParseResult{Stmts: []*pg.RawStmt{{Stmt: &pg.Node{Node: &pg.Node_SelectStmt{SelectStmt: sel}}}}})
	if err != nil {
		return "", fmt.Errorf("deparse: %w", err)
	}
	s, ok := strings.CutPrefix(out, "SELECT ")
	if !ok {
		return "", fmt.Errorf("deparse: unexpected %q", out)
	}
	return s, nil
}

// parseSelect parses one SELECT statement.
func parseSelect(sql string) (*pg.SelectStmt, error) {
	tree, err := pg.Parse(sql)
	if err != nil {
		return nil, fmt.Errorf("generated SQL does not parse: %w\n%s", err, sql)
	}
	if len(tree.Stmts) != 1 {
		return nil, fmt.Errorf("generated SQL is %d statements", len(tree.Stmts))
	}
	s, ok := tree.Stmts[0].Stmt.Node.(*pg.Node_SelectStmt)
	if !ok {
		return nil, fmt.Errorf("generated SQL is not a SELECT")
	}
	return s.SelectStmt, nil
}

// parseExpr parses one expression.
func parseExpr(sql string) (*pg.Node, error) {
	s, err := parseSelect("SELECT " + sql)
	if err != nil {
		return nil, err
	}
	return s.TargetList[0].Node.(*pg.Node_ResTarget).ResTarget.Val, nil
}
