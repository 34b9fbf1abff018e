package rollup

// Kind is one thing a tier keeps for a tracked column, named as in the
// `-- Spiral: kind[, kind...]` magic comment.
type Kind string

// The kinds a column may carry.
const (
	KindSum     Kind = "sum"     // tier column keeps the base column's name
	KindMin     Kind = "min"     // <col>_min
	KindMax     Kind = "max"     // <col>_max
	KindCount   Kind = "count"   // <col>_count: count(col), non-null values
	KindOHLC    Kind = "ohlc"    // <col>_ohlcv_o, _h, _l, _c
	KindOHLCV   Kind = "ohlcv"   // as ohlc, plus <col>_ohlcv_v = count(col)
	KindStats   Kind = "stats"   // <col>_stats: spiral.moments (Welford n, m1..m4)
	KindSketch  Kind = "sketch"  // <col>_sketch: bytea, stats.Sketch (DDSketch)
	KindTDigest Kind = "tdigest" // <col>_tdigest: bytea, stats.TDigest
)

// Kinds lists every kind, in the order tier columns are laid out.
var Kinds = []Kind{KindSum, KindMin, KindMax, KindCount, KindOHLC, KindOHLCV, KindStats, KindSketch, KindTDigest}

// CalendarUnit is the unit of a calendar frame; "" for fixed frames.
type CalendarUnit string

// Calendar units, bucketed with date_trunc in the table's time zone.
const (
	Month   CalendarUnit = "month"
	Quarter CalendarUnit = "quarter"
	Year    CalendarUnit = "year"
)

// Frame is the bucket width of one tier.
type Frame struct {
	// Name is the canonical spelling used in tier names: "1m", "5m", "1h",
	// "1d", "1w", "1mon", "1qtr", "1year" (also "30s" etc. for seconds).
	Name string
	// Seconds is the width of a fixed frame; for calendar frames it is the
	// nominal width (month 2629746, quarter 7889238, year 31556952: the mean
	// Gregorian lengths), used only for ordering and reporting.
	Seconds int64
	// Unit is set for calendar frames, which bucket with date_trunc(Unit, t)
	// in the table's time zone; fixed frames bucket on epoch arithmetic, UTC
	// aligned.
	Unit CalendarUnit
}

// Calendar reports whether f buckets by calendar unit.
func (f Frame) Calendar() bool { return f.Unit != "" }

// Column is a tracked column of the base table and the kinds its tiers keep.
type Column struct {
	Name  string // exactly as in the base table (case preserved, unquoted)
	Type  string // PostgreSQL type name, canonical: int2, int4, int8, float4, float8, numeric
	Kinds []Kind // deduplicated, in Kinds order
}

// Table is a tracked table: the base table and what its tiers keep. It is
// what `CREATE TABLE ... WITH (spiral.*)` and the magic comments declare,
// validated.
type Table struct {
	Schema       string   // base table schema ("" = first schema of the search_path, resolved before Register)
	Name         string   // base table name, case preserved
	TimeColumn   string   // the timestamptz column buckets are taken from
	ScopeColumns []string // tenant columns, in declared order; may be empty
	ScopeTypes   []string // their canonical PostgreSQL types (int2/int4/int8/text/uuid/...)
	TimeZone     string   // IANA zone for calendar frames; "UTC" by default
	Frames       []Frame  // strictly increasing, each a multiple of the one below
	Columns      []Column // tracked columns, in table order
	// ApproximatePercentiles (spiral.approximate_percentiles = 'on'):
	// percentiles over the table may be answered from its sketch tiers in
	// sessions that leave spiral.approximate_percentiles at "table".
	ApproximatePercentiles bool

	// goOpenClose is set only on sqlPart's copy: the open and close of
	// float columns are folded in Go, so its tiers leave them out.
	goOpenClose bool
}
