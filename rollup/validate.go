package rollup

import (
	"fmt"
	"strings"
	"time"

	"spiral/internal/pgerr"
)

// numericTypes may carry every kind.
var numericTypes = map[string]bool{"int2": true, "int4": true, "int8": true, "float4": true, "float8": true, "numeric": true}

// orderedTypes may carry min, max and count besides the numeric types.
// text is left out on purpose: its min and max depend on the collation,
// which a tier column would not share with the base column.
var orderedTypes = map[string]bool{"timestamptz": true, "timestamp": true, "date": true}

// typeAliases maps SQL spellings to the canonical names Column.Type uses.
var typeAliases = map[string]string{
	"smallint": "int2", "integer": "int4", "int": "int4", "bigint": "int8",
	"real": "float4", "double precision": "float8", "decimal": "numeric",
	"timestamp with time zone": "timestamptz", "timestamp without time zone": "timestamp",
}

// Validate checks that t is a table spiral can keep tiers for, and
// normalises it in place: each column's Kinds are deduplicated and put in
// Kinds order (ohlc is dropped where ohlcv is present, since ohlcv keeps the
// same columns and more), and type aliases become canonical names
// ("integer" -> "int4", "decimal(12,2)" -> "numeric(12,2)").
//
// Kinds per type: every kind on int2, int4, int8, float4, float8 and
// numeric (a typmod is kept); min, max and count on timestamptz, timestamp
// and date; count on any type. text is not allowed for min and max, because
// a tier column would not share the base column's collation.
//
// It also checks: a time column; distinct tenant columns other than the time
// column; the frame chain (as ParseFrames); an IANA time zone that loads
// (abbreviations such as CET are refused: PostgreSQL reads them as fixed
// offsets); that the fixed frame under the first calendar frame fits the
// zone's UTC offsets at every calendar bucket from 1970 to 2200
// (Frame.Covers); tier table and column names within 63 bytes; and no two
// tier columns with one name.
//
// Errors are *pgerr.Error: 42804 for a kind on a type that cannot carry it,
// 22023 for everything else.
func (t *Table) Validate() error {
	checks := []func() error{t.validateNames, t.validateScope, t.validateFrames,
		t.validateZone, t.validateColumns, t.validateTierNames}
	for _, check := range checks {
		if err := check(); err != nil {
			return err
		}
	}
	return nil
}

// invalid is a 22023 error.
func invalid(format string, args ...any) *pgerr.Error {
	return pgerr.New(pgerr.InvalidParameterValue, format, args...)
}

// validateNames checks that the table and time column are named and that no
// identifier holds a NUL byte.
func (t *Table) validateNames() error {
	switch {
	case t.Name == "":
		return invalid("tracked table has no name")
	case t.TimeColumn == "":
		return invalid("table %q has no time column", t.Name).
			WithHint("Spiral buckets rows by a timestamptz column; the table needs one.")
	}
	names := append([]string{t.Schema, t.Name, t.TimeColumn}, t.ScopeColumns...)
	for _, c := range t.Columns {
		names = append(names, c.Name)
	}
	for _, n := range names {
		if strings.ContainsRune(n, 0) {
			return invalid("identifier %q contains a NUL byte", n)
		}
	}
	return nil
}

// validateScope checks the tenant columns: distinct, not the time column,
// each with a type.
func (t *Table) validateScope() error {
	if len(t.ScopeTypes) != len(t.ScopeColumns) {
		return pgerr.New(pgerr.InternalError, "rollup: %d scope columns but %d scope types",
			len(t.ScopeColumns), len(t.ScopeTypes))
	}
	seen := map[string]bool{}
	for i, s := range t.ScopeColumns {
		switch {
		case s == "":
			return invalid("invalid spiral.tenant: empty column name")
		case s == t.TimeColumn:
			return invalid("invalid spiral.tenant: %q is the time column", s).
				WithHint("Tenant columns name who a row belongs to; the time column is bucketed separately.")
		case seen[s]:
			return invalid("invalid spiral.tenant: column %q is listed twice", s)
		case t.ScopeTypes[i] == "":
			return pgerr.New(pgerr.InternalError, "rollup: scope column %q has no type", s)
		}
		seen[s] = true
	}
	return nil
}

// validateFrames checks the frame chain as ParseFrames does.
func (t *Table) validateFrames() error {
	return checkChain(FramesString(t.Frames), t.Frames)
}

// Location loads the table's time zone; "" means UTC.
func (t *Table) Location() (*time.Location, error) {
	name := t.zone()
	if name != "UTC" && name != "GMT" && !strings.Contains(name, "/") {
		return nil, invalid("invalid spiral.timezone %q: not an IANA zone name", name).
			WithHint("Use a name such as Europe/Berlin, America/New_York or UTC; abbreviations such as CET " +
				"mean a fixed offset in PostgreSQL but a zone with DST elsewhere.")
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, invalid("invalid spiral.timezone %q: unknown time zone", name).
			WithHint("Use an IANA zone name such as Europe/Berlin, America/New_York or UTC.")
	}
	return loc, nil
}

// zone is the table's time zone name, UTC by default.
func (t *Table) zone() string {
	if t.TimeZone == "" {
		return "UTC"
	}
	return t.TimeZone
}

// validateZone loads the zone and checks that the fixed frame below the
// first calendar frame fits it (see fitsZone).
func (t *Table) validateZone() error {
	loc, err := t.Location()
	if err != nil {
		return err
	}
	for i := 1; i < len(t.Frames); i++ {
		lo, hi := t.Frames[i-1], t.Frames[i]
		if hi.Calendar() && !lo.Calendar() {
			return t.fitsZone(lo, hi, loc)
		}
	}
	return nil
}

// Calendar buckets over fixed ones are checked between these years: before
// 1970 many zones kept local mean time, whose offsets are not whole minutes.
const (
	fitFromYear = 1970
	fitToYear   = 2200
)

// fitsZone checks that every bucket of the calendar frame hi from 1970 to
// 2200 starts and ends on the UTC grid of the fixed frame lo, so that hi can
// be aggregated from lo's tier (UTC days do not fit Europe/Berlin months;
// UTC hours do).
func (t *Table) fitsZone(lo, hi Frame, loc *time.Location) error {
	at := time.Date(fitFromYear, 1, 1, 0, 0, 0, 0, time.UTC)
	for at.Year() < fitToYear {
		start, end := hi.Bounds(at, loc)
		if start.Unix()%lo.Seconds != 0 {
			return invalid("spiral.timezone %q does not fit frame %s: the %s bucket of %s starts at %s, not on the UTC grid of %s",
				t.zone(), lo.Name, hi.Name, start.Format("2006-01"), start.UTC().Format("2006-01-02 15:04:05 UTC"), lo.Name).
				WithHint("Fixed frames are UTC aligned; the frame below %s must divide the zone's UTC offset "+
					"(1h for most zones, 30m or 15m for some), or use spiral.timezone = 'UTC'.", hi.Name)
		}
		at = end
	}
	return nil
}

// validateColumns normalises and checks the tracked columns.
func (t *Table) validateColumns() error {
	seen := map[string]bool{}
	for i := range t.Columns {
		c := &t.Columns[i]
		switch {
		case c.Name == "":
			return invalid("tracked column with an empty name")
		case seen[c.Name]:
			return invalid("column %q is tracked twice", c.Name)
		case c.Type == "":
			return pgerr.New(pgerr.InternalError, "rollup: column %q has no type", c.Name)
		}
		seen[c.Name] = true
		c.Type = CanonicalType(c.Type)
		kinds, err := normalizeKinds(c.Name, c.Kinds)
		if err != nil {
			return err
		}
		c.Kinds = kinds
		if err := checkKinds(*c); err != nil {
			return err
		}
	}
	return nil
}

// CanonicalType returns the canonical name of a PostgreSQL type spelling,
// keeping any type modifier: "integer" -> "int4", "DECIMAL(12,2)" ->
// "numeric(12,2)". Names it does not know are returned unchanged.
func CanonicalType(typ string) string {
	typ = strings.TrimSpace(typ)
	base, mod := baseType(typ), strings.TrimPrefix(typ, baseType(typ))
	lower := strings.ToLower(base)
	if c, ok := typeAliases[lower]; ok {
		return c + mod
	}
	if numericTypes[lower] || orderedTypes[lower] {
		return lower + mod
	}
	return typ
}

// normalizeKinds deduplicates kinds and orders them as Kinds does; ohlc is
// dropped when ohlcv is present. Unknown kinds and an empty list are 22023.
func normalizeKinds(col string, kinds []Kind) ([]Kind, error) {
	has := map[Kind]bool{}
	for _, k := range kinds {
		if !isKind(k) {
			return nil, invalid("unknown kind %q on column %q", k, col).
				WithHint("Valid kinds: %s.", joinKinds(Kinds))
		}
		has[k] = true
	}
	if len(has) == 0 {
		return nil, invalid("column %q has no kinds", col).WithHint("Valid kinds: %s.", joinKinds(Kinds))
	}
	if has[KindOHLCV] {
		delete(has, KindOHLC)
	}
	out := make([]Kind, 0, len(has))
	for _, k := range Kinds {
		if has[k] {
			out = append(out, k)
		}
	}
	return out, nil
}

func isKind(k Kind) bool {
	for _, v := range Kinds {
		if v == k {
			return true
		}
	}
	return false
}

// KindsFor returns the kinds a column of type typ (canonical) may carry.
func KindsFor(typ string) []Kind {
	switch base := baseType(typ); {
	case numericTypes[base]:
		return Kinds
	case orderedTypes[base]:
		return []Kind{KindMin, KindMax, KindCount}
	}
	return []Kind{KindCount}
}

// checkKinds rejects a kind the column's type cannot carry, with 42804.
func checkKinds(c Column) error {
	allowed := KindsFor(c.Type)
	for _, k := range c.Kinds {
		if !containsKind(allowed, k) {
			return pgerr.New(pgerr.DatatypeMismatch, "column %q of type %s cannot keep %s", c.Name, c.Type, k).
				WithHint("Kinds valid for %s: %s; every kind needs one of int2, int4, int8, float4, float8, numeric.",
					c.Type, joinKinds(allowed))
		}
	}
	return nil
}

func containsKind(ks []Kind, k Kind) bool {
	for _, v := range ks {
		if v == k {
			return true
		}
	}
	return false
}

func joinKinds(ks []Kind) string {
	s := make([]string, len(ks))
	for i, k := range ks {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}

// validateTierNames checks that tier table and column names fit
// PostgreSQL's identifier limit and that no two tier columns share a name.
func (t *Table) validateTierNames() error {
	for _, f := range t.Frames {
		if n := t.TierName(f); len(n) > MaxIdentifierLength {
			return invalid("tier table name %q is %d bytes, longer than PostgreSQL's limit of %d",
				n, len(n), MaxIdentifierLength).
				WithHint("Tier tables are named <table>_<frame>; use a shorter table name.")
		}
	}
	owner := map[string]string{}
	for _, c := range t.TierColumns() {
		what := t.describe(c)
		if len(c.Name) > MaxIdentifierLength {
			return invalid("tier column name %q for %s is %d bytes, longer than PostgreSQL's limit of %d",
				c.Name, what, len(c.Name), MaxIdentifierLength).WithHint("Use a shorter column name.")
		}
		if prev, ok := owner[c.Name]; ok {
			return invalid("tier column %q would hold both %s and %s", c.Name, prev, what).
				WithHint("Rename one of the columns or drop one of the kinds.")
		}
		owner[c.Name] = what
	}
	return nil
}

// describe names what a tier column holds, for error messages.
func (t *Table) describe(c TierColumn) string {
	switch {
	case c.Kind != "":
		return fmt.Sprintf("%s of column %q", c.Kind, c.Source)
	case c.Name == RowCountColumn && c.Source == "":
		return "the row count"
	case c.Source == t.TimeColumn:
		return "the bucket start"
	}
	return fmt.Sprintf("tenant column %q", c.Source)
}
