package rewrite

import (
	pg "github.com/pganalyze/pg_query_go/v5"
)

// columnName returns the name PostgreSQL gives an unnamed select-list
// expression (FigureColname in parse_target.c), and false for expressions
// whose name it does not know how to figure: those statements pass
// through.
func columnName(n *pg.Node) (string, bool) {
	name, strength, ok := figure(n)
	if !ok {
		return "", false
	}
	if strength == 0 {
		return "?column?", true
	}
	return name, true
}

// figure mirrors FigureColnameInternal: a name and its strength (2: a
// real name, 1: a type name or "case", 0: none).
func figure(n *pg.Node) (string, int, bool) {
	if n == nil {
		return "", 0, true
	}
	switch x := n.Node.(type) {
	case *pg.Node_ColumnRef:
		f := x.ColumnRef.Fields
		if s, ok := f[len(f)-1].Node.(*pg.Node_String_); ok {
			return s.String_.Sval, 2, true
		}
		return "", 0, false
	case *pg.Node_FuncCall:
		parts := stringList(x.FuncCall.Funcname)
		return parts[len(parts)-1], 2, true
	case *pg.Node_AExpr:
		if x.AExpr.Kind == pg.A_Expr_Kind_AEXPR_NULLIF {
			return "nullif", 2, true
		}
		return "", 0, true
	case *pg.Node_TypeCast:
		name, strength, ok := figure(x.TypeCast.Arg)
		if !ok {
			return "", 0, false
		}
		if strength <= 1 && x.TypeCast.TypeName != nil {
			names := stringList(x.TypeCast.TypeName.Names)
			if len(names) > 0 {
				return names[len(names)-1], 1, true
			}
		}
		return name, strength, true
	case *pg.Node_CollateClause:
		return figure(x.CollateClause.Arg)
	case *pg.Node_CaseExpr:
		name, strength, ok := figure(x.CaseExpr.Defresult)
		if ok && strength <= 1 {
			return "case", 1, true
		}
		return name, strength, ok
	case *pg.Node_CoalesceExpr:
		return "coalesce", 2, true
	case *pg.Node_MinMaxExpr:
		if x.MinMaxExpr.Op == pg.MinMaxOp_IS_GREATEST {
			return "greatest", 2, true
		}
		return "least", 2, true
	case *pg.Node_AConst, *pg.Node_ParamRef, *pg.Node_BoolExpr, *pg.Node_NullTest:
		return "", 0, true
	case *pg.Node_SqlvalueFunction:
		return sqlValueName(x.SqlvalueFunction.Op)
	}
	return "", 0, false
}

func sqlValueName(op pg.SQLValueFunctionOp) (string, int, bool) {
	name, ok := map[pg.SQLValueFunctionOp]string{
		pg.SQLValueFunctionOp_SVFOP_CURRENT_DATE:        "current_date",
		pg.SQLValueFunctionOp_SVFOP_CURRENT_TIME:        "current_time",
		pg.SQLValueFunctionOp_SVFOP_CURRENT_TIME_N:      "current_time",
		pg.SQLValueFunctionOp_SVFOP_CURRENT_TIMESTAMP:   "current_timestamp",
		pg.SQLValueFunctionOp_SVFOP_CURRENT_TIMESTAMP_N: "current_timestamp",
		pg.SQLValueFunctionOp_SVFOP_LOCALTIME:           "localtime",
		pg.SQLValueFunctionOp_SVFOP_LOCALTIME_N:         "localtime",
		pg.SQLValueFunctionOp_SVFOP_LOCALTIMESTAMP:      "localtimestamp",
		pg.SQLValueFunctionOp_SVFOP_LOCALTIMESTAMP_N:    "localtimestamp",
	}[op]
	return name, 2, ok
}
