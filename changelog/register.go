package changelog

import (
	"encoding/json"
	"fmt"
	"strings"

	"spiral/rollup"
)

// Literal renders s as a SQL string literal that means s whatever the
// session's standard_conforming_strings is (E” with ' and \ escaped).
func Literal(s string) string {
	s = strings.ReplaceAll(s, `\`, `\\`)
	return "E'" + strings.ReplaceAll(s, `'`, `''`) + "'"
}

func textArray(items []string) string {
	lits := make([]string, len(items))
	for i, it := range items {
		lits[i] = Literal(it)
	}
	return "ARRAY[" + strings.Join(lits, ", ") + "]::text[]"
}

// columnJSON is how tracked columns are stored in spiral.metadata.columns.
type columnJSON struct {
	Name  string        `json:"name"`
	Type  string        `json:"type"`
	Kinds []rollup.Kind `json:"kinds"`
}

func columnsJSON(cols []rollup.Column) string {
	out := make([]columnJSON, len(cols))
	for i, c := range cols {
		out[i] = columnJSON{Name: c.Name, Type: c.Type, Kinds: c.Kinds}
	}
	b, _ := json.Marshal(out) // plain strings: cannot fail
	return string(b)
}

// RegisterSQL returns the statement that records t and its tiers in
// spiral.metadata. It runs as the user creating the table, after the base
// and tier tables exist: row-level security admits it only for tables that
// user owns. The schema is taken from where the base table really is.
func RegisterSQL(t *rollup.Table) string {
	base := registerRow(t, Literal("BASE"), Literal(t.Name), "0", "NULL", "NULL", Literal(columnsJSON(t.Columns)))
	return registerSQL(t, append([]string{base}, tierRows(t)...))
}

// RegisterTiersSQL records t's tiers (not the base) in spiral.metadata.
func RegisterTiersSQL(t *rollup.Table) string { return registerSQL(t, tierRows(t)) }

func tierRows(t *rollup.Table) []string {
	var rows []string
	for _, f := range t.Frames {
		unit := "NULL"
		if f.Calendar() {
			unit = Literal(string(f.Unit))
		}
		rows = append(rows, registerRow(t, Literal(t.Name), Literal(t.Name+"_"+f.Name),
			fmt.Sprint(f.Seconds), Literal(f.Name), unit, "'[]'"))
	}
	return rows
}

func registerSQL(t *rollup.Table, rows []string) string {
	base := Literal(qualified(t.Schema, t.Name)) + "::regclass"
	return fmt.Sprintf(`INSERT INTO spiral.metadata (view_schema, view_name, parent_view, frame_seconds,
  scope_columns, frame, calendar_unit, time_column, timezone, columns, approximate_percentiles, base_oid)
SELECT n.nspname, v.view_name, v.parent_view, v.frame_seconds, v.scope_columns, v.frame, v.calendar_unit,
  v.time_column, v.timezone, v.columns::jsonb, v.approximate_percentiles, c.oid
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace,
  (VALUES %s) AS v(parent_view, view_name, frame_seconds, scope_columns, frame, calendar_unit, time_column, timezone, columns,
    approximate_percentiles)
WHERE c.oid = %s`, strings.Join(rows, ",\n  "), base)
}

func registerRow(t *rollup.Table, parent, name, seconds, frame, unit, cols string) string {
	tz := t.TimeZone
	if tz == "" {
		tz = "UTC"
	}
	return fmt.Sprintf("(%s, %s, %s::bigint, %s, %s::text, %s::text, %s, %s, %s, %t)",
		parent, name, seconds, textArray(t.ScopeColumns), frame, unit, Literal(t.TimeColumn), Literal(tz), cols, t.ApproximatePercentiles)
}
