package rewrite

import (
	"slices"
	"strconv"
	"strings"
	"time"

	pg "github.com/pganalyze/pg_query_go/v5"

	"spiral/rollup"
)

// bucket is how a GROUP BY key cuts time: the instants at which the key's
// value may change. A tier can serve the key when each of its buckets lies
// between two such instants.
type bucket struct {
	// unit is set for date_trunc(unit, t [, zone]) and t::date ("day"):
	// the key changes at the unit's boundaries in zone ("" = the session's).
	unit, zone string
	// stride and origin (microseconds) are set for date_bin and the
	// epoch-arithmetic forms: the key changes at origin + k·stride.
	stride, origin int64
	// sessionOrigin: origin was read in the session's time zone.
	sessionOrigin bool
}

// unitBase is, for each date_trunc unit a tier may serve, the span in
// seconds its boundaries are multiples of in local time: a fixed tier of
// width W serves the unit when W divides it (and the zone's offsets are
// multiples of W).
var unitBase = map[string]int64{
	"second": 1, "minute": 60, "hour": 3600, "day": 86400, "week": 86400,
	"month": 86400, "quarter": 86400, "year": 86400, "decade": 86400, "century": 86400, "millennium": 86400,
}

// calendarServes lists the date_trunc units each calendar frame serves.
var calendarServes = map[rollup.CalendarUnit][]string{
	rollup.Month:   {"month", "quarter", "year", "decade", "century", "millennium"},
	rollup.Quarter: {"quarter", "year", "decade", "century", "millennium"},
	rollup.Year:    {"year", "decade", "century", "millennium"},
}

// fit is the outcome of checking a tier against a bucket.
type fit struct {
	ok bool
	// since: the tier fits only for data from this Unix time on (the zone's
	// offsets were irregular before); alwaysSince when always.
	since int64
	// session: the answer depends on the session's TimeZone.
	session bool
}

// fits reports whether every bucket of tier frame f lies within one bucket
// of b, with the session's time zone tz.
func (b bucket) fits(f rollup.Frame, tableZone, tz string) fit {
	zone, session := b.zone, b.zone == ""
	if session {
		zone = tz
	}
	if b.unit == "" {
		if f.Calendar() {
			return fit{}
		}
		origin, ok := b.originIn(tz)
		w := f.Seconds * 1e6
		return fit{ok: ok && b.stride%w == 0 && floorMod(origin, w) == 0, since: alwaysSince, session: b.sessionOrigin}
	}
	if f.Calendar() {
		ok := sameZone(zone, tableZone) && slices.Contains(calendarServes[f.Unit], b.unit)
		return fit{ok: ok, since: alwaysSince, session: session}
	}
	base, known := unitBase[b.unit]
	if !known || base%f.Seconds != 0 {
		return fit{}
	}
	since := regularSince(zone, f.Seconds)
	return fit{ok: since != noSince, since: since, session: session}
}

// originIn returns the origin as an instant, reading a wall-clock origin
// in zone tz.
func (b bucket) originIn(tz string) (int64, bool) {
	if !b.sessionOrigin {
		return b.origin, true
	}
	if isUTC(tz) {
		return b.origin, true
	}
	loc, err := time.LoadLocation(tz)
	if err != nil || tz == "" {
		return 0, false
	}
	w := time.UnixMicro(b.origin).UTC()
	return time.Date(w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(), w.Second(), w.Nanosecond(), loc).UnixMicro(), true
}

// nests reports from when the boundaries of the coarser frame hi are
// boundaries of the finer frame lo (tiers of one table).
func nests(lo, hi rollup.Frame, tableZone string) int64 {
	switch {
	case !hi.Calendar():
		return alwaysSince // validated: a multiple of lo
	case lo.Calendar():
		return alwaysSince // month, quarter, year in one zone
	case 86400%lo.Seconds != 0:
		return noSince
	}
	return regularSince(tableZone, lo.Seconds)
}

func floorMod(a, b int64) int64 {
	m := a % b
	if m < 0 {
		m += b
	}
	return m
}

// timeShape classifies an expression by how it depends on the time column.
type timeShape int

const (
	shapeConst  timeShape = iota // no column at all
	shapeRaw                     // the time column, not bucketed
	shapeBucket                  // a function of bucketed time only
	shapeOther                   // anything else: not a bucket key
)

// keyShape is what a GROUP BY expression is as a function of time.
type keyShape struct {
	shape   timeShape
	buckets []bucket
}

// bucketer recognises bucketing expressions over one time column.
type bucketer struct {
	isTime func(*pg.Node) bool // the node is a reference to the time column
}

// classify returns the shape of n.
func (z bucketer) classify(n *pg.Node) keyShape {
	switch {
	case n == nil:
		return keyShape{shape: shapeOther}
	case z.isTime(n):
		return keyShape{shape: shapeRaw}
	}
	switch x := n.Node.(type) {
	case *pg.Node_AConst:
		return keyShape{shape: shapeConst}
	case *pg.Node_TypeCast:
		return z.cast(x.TypeCast)
	case *pg.Node_FuncCall:
		return z.call(x.FuncCall)
	case *pg.Node_AExpr:
		if x.AExpr.Kind != pg.A_Expr_Kind_AEXPR_OP || !arithmetic(x.AExpr.Name) {
			return keyShape{shape: shapeOther}
		}
		return z.combine(x.AExpr.Lexpr, x.AExpr.Rexpr)
	}
	return keyShape{shape: shapeOther}
}

// cast: t::date is the day in the session's zone; casts of buckets and
// constants keep their shape; other casts of raw time stay raw.
func (z bucketer) cast(c *pg.TypeCast) keyShape {
	s := z.classify(c.Arg)
	if s.shape == shapeRaw && typeNameIs(c.TypeName, "date") {
		return keyShape{shape: shapeBucket, buckets: []bucket{{unit: "day"}}}
	}
	if s.shape == shapeRaw {
		return keyShape{shape: shapeOther}
	}
	return s
}

// combine is the shape of an operator or wrapper over several arguments.
func (z bucketer) combine(args ...*pg.Node) keyShape {
	out := keyShape{shape: shapeConst}
	for _, a := range args {
		if a == nil {
			continue
		}
		s := z.classify(a)
		switch s.shape {
		case shapeRaw, shapeOther:
			return keyShape{shape: shapeOther}
		case shapeBucket:
			out.shape = shapeBucket
			out.buckets = append(out.buckets, s.buckets...)
		}
	}
	return out
}

// wrappers are deterministic functions that may be applied to bucket
// values (their result changes only where their arguments change).
var wrappers = map[string]bool{
	"to_timestamp": true, "floor": true, "ceil": true, "ceiling": true, "round": true, "trunc": true,
	"date_trunc": true, "timezone": true, "to_char": true, "date": true,
}

func (z bucketer) call(f *pg.FuncCall) keyShape {
	if !plainCall(f) {
		return keyShape{shape: shapeOther}
	}
	name := funcName(f)
	switch name {
	case "date_trunc":
		if b, ok := z.dateTrunc(f.Args); ok {
			return keyShape{shape: shapeBucket, buckets: []bucket{b}}
		}
	case "date_bin":
		if b, ok := z.dateBin(f.Args); ok {
			return keyShape{shape: shapeBucket, buckets: []bucket{b}}
		}
	case "floor":
		if b, ok := z.epochFloor(f.Args); ok {
			return keyShape{shape: shapeBucket, buckets: []bucket{b}}
		}
	}
	if !wrappers[name] {
		return keyShape{shape: shapeOther}
	}
	return z.combine(f.Args...)
}

// dateTrunc recognises date_trunc('unit', t) and date_trunc('unit', t, 'zone').
func (z bucketer) dateTrunc(args []*pg.Node) (bucket, bool) {
	if len(args) < 2 || len(args) > 3 || !z.isTime(args[1]) {
		return bucket{}, false
	}
	unit, ok := stringConst(args[0])
	if !ok {
		return bucket{}, false
	}
	b := bucket{unit: strings.ToLower(unit)}
	if len(args) == 3 {
		zone, ok := stringConst(args[2])
		if !ok || zone == "" {
			return bucket{}, false
		}
		b.zone = zone
	}
	return b, true
}

// dateBin recognises date_bin('stride', t, 'origin').
func (z bucketer) dateBin(args []*pg.Node) (bucket, bool) {
	if len(args) != 3 || !z.isTime(args[1]) {
		return bucket{}, false
	}
	iv, ok := stringConst(args[0])
	if !ok {
		return bucket{}, false
	}
	stride, ok := parseInterval(iv)
	org, ok2 := stringConst(args[2])
	if !ok || !ok2 {
		return bucket{}, false
	}
	origin, session, ok := parseOrigin(org)
	if !ok {
		return bucket{}, false
	}
	return bucket{stride: stride, origin: origin, sessionOrigin: session}, true
}

// epochFloor recognises floor(extract(epoch from t) / N), N seconds: what
// Grafana's $__timeGroup expands to.
func (z bucketer) epochFloor(args []*pg.Node) (bucket, bool) {
	if len(args) != 1 {
		return bucket{}, false
	}
	div, ok := args[0].Node.(*pg.Node_AExpr)
	if !ok || div.AExpr.Kind != pg.A_Expr_Kind_AEXPR_OP || opName(div.AExpr.Name) != "/" || !z.isEpoch(div.AExpr.Lexpr) {
		return bucket{}, false
	}
	n, ok := intConst(div.AExpr.Rexpr)
	if !ok || n <= 0 || n > 1<<40 {
		return bucket{}, false
	}
	return bucket{stride: n * 1e6}, true
}

// isEpoch recognises extract(epoch from t) and date_part('epoch', t).
func (z bucketer) isEpoch(n *pg.Node) bool {
	f, ok := n.Node.(*pg.Node_FuncCall)
	if !ok || !plainCall(f.FuncCall) || len(f.FuncCall.Args) != 2 {
		return false
	}
	name := funcName(f.FuncCall)
	field, ok := stringConst(f.FuncCall.Args[0])
	return ok && (name == "extract" || name == "date_part") && strings.EqualFold(field, "epoch") && z.isTime(f.FuncCall.Args[1])
}

// parseInterval reads simple fixed intervals: "N unit" (or "Nunit") with
// second, minute, hour, day and week units and their usual abbreviations.
// It returns microseconds.
func parseInterval(s string) (int64, bool) {
	s = strings.TrimSpace(strings.ToLower(s))
	i := len(s) - len(strings.TrimLeft(s, "0123456789"))
	if i == 0 {
		return 0, false
	}
	n, err := strconv.ParseInt(s[:i], 10, 64)
	if err != nil || n <= 0 || n > 1<<30 {
		return 0, false
	}
	unit := strings.TrimSpace(s[i:])
	secs := map[string]int64{
		"s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1,
		"m": 60, "min": 60, "mins": 60, "minute": 60, "minutes": 60,
		"h": 3600, "hr": 3600, "hrs": 3600, "hour": 3600, "hours": 3600,
		"d": 86400, "day": 86400, "days": 86400, "w": 604800, "week": 604800, "weeks": 604800,
	}[unit]
	if secs == 0 {
		return 0, false
	}
	return n * secs * 1e6, true
}

// parseOrigin reads a date_bin origin literal. With an explicit offset it
// is an instant (session false); without one it is a wall-clock time that
// PostgreSQL reads in the session's zone: micros is then that wall time as
// if it were UTC, and originIn places it.
func parseOrigin(s string) (micros int64, session, ok bool) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05Z07:00", "2006-01-02 15:04:05Z07", "2006-01-02T15:04:05Z07"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UnixMicro(), false, true
		}
	}
	for _, layout := range []string{"2006-01-02", "2006-01-02 15:04:05", "2006-01-02T15:04:05", "2006-01-02 15:04"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UnixMicro(), true, true
		}
	}
	return 0, false, false
}
