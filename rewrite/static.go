package rewrite

import (
	"fmt"
	"strings"
	"time"

	pg "github.com/pganalyze/pg_query_go/v5"
)

// Constant ranges. When every time bound is a literal, spiral works out
// the query's range and each tier level's whole buckets in Go, lists only
// the segments that can hold rows and writes their bounds as literals.
// PostgreSQL then sets up a plan of about half the nodes: for a small
// query, setting up the plan costs more than running it.
//
// Go reads the literals as PostgreSQL would under the session's TimeZone,
// and the statement checks that reading when it runs: if the bounds as
// PostgreSQL reads them differ from the ones planned for (another
// TimeZone, a literal Go read differently), tiers serve nothing and the
// whole range is read raw, as when they are out of spiral.max_segments.
// So Go's reading decides only how fast the answer comes, never what it
// is.

// staticBound is one time bound as written: t <op> v.
type staticBound struct {
	v  *pg.Node
	op string
}

// constRange is the query's range [lo, hi) and, per tier level k (index
// k-1), its whole buckets [c, f); microseconds since 1970. served are the
// ranges the levels serve that hold whole buckets.
type constRange struct {
	lo, hi int64
	c, f   []int64
	served []servedRange
}

// constRange works out the block's range when every bound is a literal,
// both ends are bounded, every tier is a fixed frame and the range covers
// a whole finest bucket; otherwise nil.
func (r *renderer) constRange() *constRange {
	b := r.b
	if len(b.lower) == 0 || len(b.upper) == 0 {
		return nil
	}
	zone, err := time.LoadLocation(r.set.TimeZone)
	if err != nil || r.set.TimeZone == "" || strings.EqualFold(r.set.TimeZone, "local") {
		return nil
	}
	cr := &constRange{lo: minStatic, hi: maxStatic}
	for _, s := range b.static {
		at, ok := literalInstant(s.v, zone)
		if !ok {
			return nil
		}
		lo, hi := boundRange(at, s.op)
		cr.lo, cr.hi = max(cr.lo, lo), min(cr.hi, hi)
	}
	if cr.lo < 0 || cr.hi > maxStatic || (r.c.since != alwaysSince && cr.lo < r.c.since*1e6) {
		return nil
	}
	for _, t := range r.c.tiers {
		if t.Frame.Calendar() {
			return nil
		}
		w := t.Frame.Seconds * 1e6
		cr.c = append(cr.c, ceilTo(cr.lo, w))
		cr.f = append(cr.f, cr.hi-cr.hi%w)
	}
	if cr.c[0] >= cr.f[0] {
		return nil
	}
	cr.served = cr.listServed()
	return cr
}

// The instants a constant range may span: 1970 up to the year 10000.
const (
	minStatic = int64(0)
	maxStatic = int64(253402300800) * 1e6
)

// boundRange is the range t <op> at allows.
func boundRange(at int64, op string) (lo, hi int64) {
	lo, hi = minStatic, maxStatic
	switch op {
	case ">=":
		lo = at
	case ">":
		lo = at + 1
	case "<":
		hi = at
	case "<=":
		hi = at + 1
	case "=":
		lo, hi = at, at+1
	}
	return lo, hi
}

func ceilTo(x, w int64) int64 {
	if x%w == 0 {
		return x
	}
	return x - x%w + w
}

// listServed lists the ranges each level serves, as served() does, but
// only those that hold whole buckets, with literal bounds.
func (cr *constRange) listServed() []servedRange {
	K := len(cr.c)
	v := func(k int) bool { return cr.c[k-1] < cr.f[k-1] }
	type span struct {
		k, i   int
		lo, hi int64
		ok     bool
	}
	all := []span{{K, 1, cr.c[K-1], cr.f[K-1], v(K)}}
	for k := K - 1; k >= 1; k-- {
		hi := cr.f[k-1]
		if v(k + 1) {
			hi = cr.c[k]
		}
		all = append(all, span{k, 1, cr.c[k-1], hi, v(k)}, span{k, 2, cr.f[k], cr.f[k-1], v(k) && v(k+1)})
	}
	var out []servedRange
	for _, s := range all {
		if s.ok && s.lo < s.hi {
			out = append(out, servedRange{k: s.k, i: s.i, lo: timestampLiteral(s.lo), hi: timestampLiteral(s.hi), valid: "true"})
		}
	}
	return out
}

// timestampLiteral writes microseconds since 1970 as a timestamptz.
func timestampLiteral(us int64) string {
	return "'" + time.UnixMicro(us).UTC().Format("2006-01-02 15:04:05.999999") + "+00'::timestamptz"
}

// literalInstant reads a bound that is a string literal, bare or cast to
// timestamptz, timestamp or date, the way PostgreSQL reads it in zone.
func literalInstant(n *pg.Node, zone *time.Location) (int64, bool) {
	typ := "timestamptz"
	if tc, ok := n.Node.(*pg.Node_TypeCast); ok {
		name := tc.TypeCast.TypeName
		if name == nil || len(name.Typmods) > 0 || len(name.ArrayBounds) > 0 || len(name.Names) == 0 {
			return 0, false
		}
		typ = strVal(name.Names[len(name.Names)-1])
		n = tc.TypeCast.Arg
	}
	c, ok := n.Node.(*pg.Node_AConst)
	if !ok || c.AConst.GetSval() == nil {
		return 0, false
	}
	s := strings.TrimSpace(c.AConst.GetSval().Sval)
	var at time.Time
	switch typ {
	case "timestamptz":
		at, ok = parseTimestamp(s, zone, true)
	case "timestamp":
		at, ok = parseTimestamp(s, zone, false)
	case "date":
		at, ok = parseDate(s, zone)
	default:
		return 0, false
	}
	return at.UnixMicro(), ok && at.Nanosecond()%1000 == 0
}

// The ISO forms read: a date, a time of day with optional fraction and an
// optional UTC offset.
var (
	dateLayout   = "2006-01-02"
	clockLayouts = []string{"15:04:05.999999", "15:04"}
)

func parseDate(s string, zone *time.Location) (time.Time, bool) {
	d, err := time.ParseInLocation(dateLayout, s, zone)
	return d, err == nil
}

// parseTimestamp reads "date[ T]time[offset]"; without an offset, or when
// the offset is ignored (timestamp without time zone), the wall time is
// read in zone.
func parseTimestamp(s string, zone *time.Location, offsets bool) (time.Time, bool) {
	if len(s) == len(dateLayout) {
		return parseDate(s, zone)
	}
	if len(s) < len(dateLayout)+6 || (s[10] != ' ' && s[10] != 'T') {
		return time.Time{}, false
	}
	clock, off, hasOff := splitOffset(s[11:])
	if hasOff && !offsets {
		hasOff = false
	}
	for _, l := range clockLayouts {
		wall, err := time.ParseInLocation(dateLayout+" "+l, s[:10]+" "+clock, time.UTC)
		if err != nil {
			continue
		}
		if hasOff {
			return wall.Add(-time.Duration(off) * time.Second), true
		}
		at := time.Date(wall.Year(), wall.Month(), wall.Day(), wall.Hour(), wall.Minute(), wall.Second(), wall.Nanosecond(), zone)
		return at, true
	}
	return time.Time{}, false
}

// splitOffset splits "15:04:05+05:30" into the clock and the offset in
// seconds east of UTC (forms +hh, +hhmm, +hh:mm; Z means UTC).
func splitOffset(s string) (clock string, off int, ok bool) {
	if strings.HasSuffix(s, "Z") {
		return s[:len(s)-1], 0, true
	}
	i := strings.LastIndexAny(s, "+-")
	if i < 0 {
		return s, 0, false
	}
	rest := strings.Replace(s[i+1:], ":", "", 1)
	h, okH := twoDigits(rest, 0)
	m, okM := twoDigits(rest, 2)
	if len(rest) == 2 {
		m, okM = 0, true
	}
	if !okH || !okM || (len(rest) != 2 && len(rest) != 4) || h > 15 || m > 59 {
		return s, 0, false
	}
	off = h*3600 + m*60
	if s[i] == '-' {
		off = -off
	}
	return s[:i], off, true
}

// twoDigits reads the decimal digits s[at] and s[at+1].
func twoDigits(s string, at int) (int, bool) {
	if len(s) < at+2 || s[at] < '0' || s[at] > '9' || s[at+1] < '0' || s[at+1] > '9' {
		return 0, false
	}
	return int(s[at]-'0')*10 + int(s[at+1]-'0'), true
}

// ranges are the served ranges segments read: listed in Go for a constant
// range, else as expressions over spiral_l.
func (r *renderer) ranges() []servedRange {
	if r.cr != nil {
		return r.cr.served
	}
	return r.served()
}

// constHead are the first CTEs of a constant range: spiral_b, and a
// spiral_r of literals in place of spiral_l and spiral_r.
func (r *renderer) constHead() []string {
	return []string{
		"spiral_b AS MATERIALIZED (" + r.constRangeCTE() + ")",
		"spiral_r (spiral_k, spiral_lo, spiral_hi) AS (" + r.constServedCTE() + ")",
		"spiral_q (spiral_k, spiral_lo, spiral_hi) AS (" + r.constReachCTE() + ")",
	}
}

// constReachCTE lists each level's reach, as reachCTE does, with literal
// bounds.
func (r *renderer) constReachCTE() string {
	var rows []string
	for k := 1; k <= len(r.c.tiers); k++ {
		for _, s := range r.constReach(k) {
			rows = append(rows, fmt.Sprintf("(%d, %s, %s)", k, timestampLiteral(s[0]), timestampLiteral(s[1])))
		}
	}
	return "SELECT * FROM (VALUES " + strings.Join(rows, ", ") + ") q WHERE (SELECT spiral_go FROM spiral_b)"
}

// constReach is level k's reach for a constant range: the non-empty
// ranges [lo, hi) of reachCTE, in microseconds.
func (r *renderer) constReach(k int) [][2]int64 {
	c, f := r.cr.c, r.cr.f
	var out [][2]int64
	add := func(lo, hi int64) {
		if lo < hi {
			out = append(out, [2]int64{lo, hi})
		}
	}
	m := r.stop(k)
	if m == len(r.c.tiers) || c[m] >= f[m] {
		add(c[k-1], f[k-1])
		return out
	}
	add(c[k-1], c[m])
	add(f[m], f[k-1])
	return out
}

// constRangeCTE is spiral_b for a constant range: spiral_go holds when
// tiers may serve the statement and PostgreSQL reads the bounds as Go did.
func (r *renderer) constRangeCTE() string {
	lo, hi := r.span()
	ok := append(r.okConds(), fmt.Sprintf("%s = %s", lo, timestampLiteral(r.cr.lo)), fmt.Sprintf("%s = %s", hi, timestampLiteral(r.cr.hi)))
	return fmt.Sprintf("SELECT coalesce(%s, false) AS spiral_go%s", strings.Join(ok, " AND "), r.noticeFrom())
}

func (r *renderer) constServedCTE() string {
	var rows []string
	for _, s := range r.cr.served {
		rows = append(rows, fmt.Sprintf("(%d, %s, %s)", s.k, s.lo, s.hi))
	}
	return "VALUES " + strings.Join(rows, ", ")
}

// constGateCTE is gateCTE for a constant range: whether tiers serve the
// statement, and the NOTICE when it needs too many segments.
func (r *renderer) constGateCTE() string {
	return fmt.Sprintf("SELECT u.u AS spiral_use, CASE WHEN NOT u.u AND l.spiral_go THEN %s END AS spiral_note "+
		"FROM spiral_b l, (SELECT %s AS n OFFSET 0) n, "+
		"LATERAL (SELECT coalesce(l.spiral_go AND n.n <= %s, false) AS u OFFSET 0) u",
		r.fallbackNotice("n.n"), segmentCount(fmt.Sprint(len(r.cr.served))), r.limit())
}

// constEdges are the raw edges [lo, c_1) and [f_1, hi) of a constant
// range that hold any instant.
func (r *renderer) constEdges(edge func(cond string) string) []string {
	tcol := r.b.ref + "." + r.b.time
	var out []string
	if r.cr.lo < r.cr.c[0] {
		out = append(out, edge(tcol+" < "+timestampLiteral(r.cr.c[0])))
	}
	if r.cr.f[0] < r.cr.hi {
		out = append(out, edge(tcol+" >= "+timestampLiteral(r.cr.f[0])))
	}
	return out
}

// reaches reports whether level k's reach may hold a whole bucket: always,
// unless the range is constant and its reach is empty (the buckets of
// the levels above cover it). A level that reaches nothing has no dirty
// buckets to list, read or let fall, so its parts are left out.
func (r *renderer) reaches(k int) bool {
	return r.cr == nil || len(r.constReach(k)) > 0
}
