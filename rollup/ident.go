package rollup

import "strings"

// MaxIdentifierLength is PostgreSQL's limit on identifiers in bytes
// (NAMEDATALEN − 1); longer names would be truncated silently.
const MaxIdentifierLength = 63

// QuoteIdent returns s as a double-quoted SQL identifier, doubling any
// embedded double quotes. It always quotes, so case and any character are
// kept.
func QuoteIdent(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// QualifiedName returns the quoted name, qualified by the quoted schema
// unless schema is "".
func QualifiedName(schema, name string) string {
	if schema == "" {
		return QuoteIdent(name)
	}
	return QuoteIdent(schema) + "." + QuoteIdent(name)
}

// QuoteLiteral returns s as a SQL string literal. Single quotes are doubled;
// a string with a backslash becomes an E-prefixed literal with the backslashes
// doubled, so it reads the same whatever standard_conforming_strings is.
func QuoteLiteral(s string) string {
	q := "'" + strings.ReplaceAll(s, "'", "''") + "'"
	if strings.Contains(s, `\`) {
		return "E" + strings.ReplaceAll(q, `\`, `\\`)
	}
	return q
}

// TierName returns the unquoted name of the tier table for frame f:
// "<base>_<frame>", e.g. "ticks_1m". Validate rejects tables whose tier
// names exceed MaxIdentifierLength.
func (t *Table) TierName(f Frame) string {
	return t.Name + "_" + f.Name
}

// tierRelation is the quoted, schema-qualified tier table for f.
func (t *Table) tierRelation(f Frame) string {
	return QualifiedName(t.Schema, t.TierName(f))
}

// baseRelation is the quoted, schema-qualified base table.
func (t *Table) baseRelation() string {
	return QualifiedName(t.Schema, t.Name)
}
