package rewrite

import "spiral/rollup"

// Catalog is what the rewriter knows about the tracked tables of one
// database, as one session may use them.
type Catalog struct {
	Sources []*Source
}

// Source is one tracked table.
type Source struct {
	Table *rollup.Table // the spec; Schema is resolved
	OID   uint32        // the base table's pg_class OID
	// Columns maps every column of the base table to its type as
	// format_type prints it, typmod included ("character varying(10)").
	Columns map[string]string
	// Collated holds the columns of a collation other than the database's
	// default: their values compare otherwise than the changelog's copies
	// of them, which the rewriter then does not filter.
	Collated map[string]bool
	// Tiers are the tiers the session may read, finest first. A table
	// whose base has row-level security has none: reading a tier would
	// bypass the policies.
	Tiers []Tier
}

// Tier is one tier table of a source.
type Tier struct {
	Frame        rollup.Frame
	Schema, Name string
	// Dense: by the planner's estimates the tier holds more than
	// 1/DenseRatio as many rows as the base table. Reading a dirty coarser
	// bucket's clean parts from such a tier costs more than reading them
	// raw (its rows are wider and merged one by one), so a dirty bucket of
	// the tier above is read raw instead of falling to it.
	Dense bool
}

// DenseRatio is the fewest base rows per tier row that make a tier worth
// falling to (see Tier.Dense).
const DenseRatio = 4

// Settings are the session settings a rewrite depends on.
type Settings struct {
	// TimeZone is the session's TimeZone as PostgreSQL reports it.
	TimeZone string
	// MaxSegments bounds the plan: a statement whose plan would read more
	// segments (tier ranges plus dirty raw buckets) runs on the raw table.
	MaxSegments int
	// ShowRewrite makes the rewritten statement send the client a NOTICE
	// with its own text (SET spiral.show_rewrite = on).
	ShowRewrite bool
	// Percentiles says whether percentile_cont and percentile_disc may be
	// answered from DDSketch or t-digest tiers (SET
	// spiral.approximate_percentiles).
	Percentiles PercentileMode
}

// PercentileMode is spiral.approximate_percentiles.
type PercentileMode int

// The values of spiral.approximate_percentiles.
const (
	PercentilesExact  PercentileMode = iota // off: percentiles pass through
	PercentilesTable                        // table: as each table's option says
	PercentilesApprox                       // on: from sketches wherever tiers keep them
)

// ParsePercentileMode maps the setting's canonical value to its mode.
func ParsePercentileMode(v string) PercentileMode {
	switch v {
	case "on":
		return PercentilesApprox
	case "table":
		return PercentilesTable
	}
	return PercentilesExact
}

// approximate reports whether percentiles over t may be approximate.
func (m PercentileMode) approximate(t *rollup.Table) bool {
	return m == PercentilesApprox || m == PercentilesTable && t.ApproximatePercentiles
}

// DefaultMaxSegments is spiral.max_segments' default.
const DefaultMaxSegments = 50

// lookup returns the source a FROM item names: by schema and name, or by
// name alone when the reference is not qualified (the statement itself
// checks at run time that the name resolves to this table).
func (c *Catalog) lookup(schema, name string) *Source {
	for _, s := range c.Sources {
		if s.Table.Name == name && (schema == "" || s.Table.Schema == schema) {
			return s
		}
	}
	return nil
}

// Mentioned reports whether sql may name a tracked table: it contains the
// name of one, in any letter case. Statements that do not are passed
// through without parsing.
func (c *Catalog) Mentioned(sql string) bool {
	if c == nil {
		return false
	}
	for _, s := range c.Sources {
		if containsFold(sql, s.Table.Name) {
			return true
		}
	}
	return false
}
