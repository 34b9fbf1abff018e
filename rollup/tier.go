package rollup

import (
	"fmt"
	"strings"
)

// RowCountColumn is the tier column every tier keeps: count(*) of the base
// rows in the bucket.
const RowCountColumn = "row_count"

// MomentsType is the composite type of stats columns,
// (n bigint, m1 float8, m2 float8, m3 float8, m4 float8), created by the
// spiral schema migrations.
const MomentsType = "spiral.moments"

// TierColumn is one column of a tier table.
type TierColumn struct {
	Name    string // unquoted
	SQLType string // PostgreSQL type as DDL spells it
	Source  string // the base column it is computed from; "" for row_count
	Kind    Kind   // "" for the scope, time and row_count columns
	Part    string // "o", "h", "l", "c", "v" for ohlc/ohlcv columns, else ""
}

// TierColumns returns the columns every tier of t has, in table order: the
// scope columns (their own types), the bucket start (named as the base
// table's time column, timestamptz), row_count int8, then for each tracked
// column its kinds in Column.Kinds order (see the Kind constants for names).
// Types: sum follows PostgreSQL's sum (int2/int4 -> int8, int8 -> numeric,
// otherwise the column's type); min, max and the o/h/l/c parts keep the
// column's type; count and ohlcv's v are int8; stats is spiral.moments;
// sketch and tdigest are bytea.
func (t *Table) TierColumns() []TierColumn {
	cols := make([]TierColumn, 0, len(t.ScopeColumns)+2+2*len(t.Columns))
	for i, s := range t.ScopeColumns {
		cols = append(cols, TierColumn{Name: s, SQLType: t.scopeType(i), Source: s})
	}
	cols = append(cols,
		TierColumn{Name: t.TimeColumn, SQLType: "timestamptz", Source: t.TimeColumn},
		TierColumn{Name: RowCountColumn, SQLType: "int8"})
	for _, c := range t.Columns {
		for _, k := range c.Kinds {
			for _, tc := range kindColumns(c, k) {
				if !(t.goOpenClose && tc.floatOpenClose()) {
					cols = append(cols, tc)
				}
			}
		}
	}
	return cols
}

// floatOpenClose reports whether c is the open or close of a float column,
// which the refresh folds in Go for sets of few buckets (see goColumn).
func (c TierColumn) floatOpenClose() bool {
	return (c.Part == "o" || c.Part == "c") && isFloat(c.SQLType)
}

// scopeType is the type of scope column i; Validate makes sure there is one.
func (t *Table) scopeType(i int) string {
	if i < len(t.ScopeTypes) {
		return t.ScopeTypes[i]
	}
	return ""
}

// keyCount is the number of leading key columns of TierColumns: the scope
// columns and the bucket start.
func (t *Table) keyCount() int { return len(t.ScopeColumns) + 1 }

// kindColumns returns the tier columns that kind k of column c needs.
func kindColumns(c Column, k Kind) []TierColumn {
	col := func(suffix, typ, part string) TierColumn {
		return TierColumn{Name: c.Name + suffix, SQLType: typ, Source: c.Name, Kind: k, Part: part}
	}
	switch k {
	case KindSum:
		return []TierColumn{col("", sumType(c.Type), "")}
	case KindMin, KindMax, KindCount, KindStats, KindSketch, KindTDigest:
		return []TierColumn{col("_"+string(k), singleType(c.Type, k), "")}
	case KindOHLC, KindOHLCV:
		cols := []TierColumn{col("_ohlcv_o", c.Type, "o"), col("_ohlcv_h", c.Type, "h"),
			col("_ohlcv_l", c.Type, "l"), col("_ohlcv_c", c.Type, "c")}
		if k == KindOHLCV {
			cols = append(cols, col("_ohlcv_v", "int8", "v"))
		}
		return cols
	}
	panic(fmt.Sprintf("rollup: unknown kind %q (Validate not called?)", k))
}

// singleType is the type of the one column that kind k keeps for a column
// of type typ.
func singleType(typ string, k Kind) string {
	switch k {
	case KindCount:
		return "int8"
	case KindStats:
		return MomentsType
	case KindSketch, KindTDigest:
		return "bytea"
	}
	return typ
}

// sumType is the result type of PostgreSQL's sum over typ.
func sumType(typ string) string {
	switch baseType(typ) {
	case "int2", "int4":
		return "int8"
	case "int8", "numeric":
		return "numeric"
	}
	return typ
}

// baseType strips a type modifier: "numeric(12,2)" -> "numeric".
func baseType(typ string) string {
	if i := strings.IndexByte(typ, '('); i >= 0 {
		return strings.TrimSpace(typ[:i])
	}
	return typ
}

// TierDDL returns the CREATE TABLE statement for the tier of frame f, with
// the scope columns and the bucket start as primary key (and NOT NULL).
func (t *Table) TierDDL(f Frame) string {
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE TABLE %s (\n", t.tierRelation(f))
	keys := t.keyCount()
	for i, c := range t.TierColumns() {
		fmt.Fprintf(&b, "    %s %s", QuoteIdent(c.Name), c.SQLType)
		if i <= keys { // the keys and row_count
			b.WriteString(" NOT NULL")
		}
		b.WriteString(",\n")
	}
	fmt.Fprintf(&b, "    PRIMARY KEY (%s)\n)", strings.Join(t.keyIdents(), ", "))
	return b.String()
}

// TierIndexDDL returns the index on the bucket start of the tier of frame
// f, for reading all tenants' buckets of a time range; none when the table
// has no scope columns (the primary key is the bucket start then).
func (t *Table) TierIndexDDL(f Frame) []string {
	if len(t.ScopeColumns) == 0 {
		return nil
	}
	return []string{fmt.Sprintf("CREATE INDEX ON %s (%s)", t.tierRelation(f), QuoteIdent(t.TimeColumn))}
}

// DropTierDDL returns the statement that drops the tier of frame f if it
// exists.
func (t *Table) DropTierDDL(f Frame) string {
	return "DROP TABLE IF EXISTS " + t.tierRelation(f)
}

// keyIdents returns the quoted scope columns and time column.
func (t *Table) keyIdents() []string {
	keys := make([]string, 0, t.keyCount())
	for _, s := range t.ScopeColumns {
		keys = append(keys, QuoteIdent(s))
	}
	return append(keys, QuoteIdent(t.TimeColumn))
}
