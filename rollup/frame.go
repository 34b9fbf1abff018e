package rollup

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"spiral/internal/pgerr"
)

// MaxFrames is the most frames one table may declare.
const MaxFrames = 8

// maxFixedSeconds bounds fixed frames: anything wider than a leap year
// should be the calendar frame 1year.
const maxFixedSeconds = 366 * 86400

const secondsPerDay = 86400

// Nominal widths of calendar frames (mean Gregorian lengths), used only for
// ordering and reporting.
const (
	monthSeconds   = 2629746
	quarterSeconds = 3 * monthSeconds
	yearSeconds    = 12 * monthSeconds
)

// fixedUnits maps a fixed unit suffix to its length in seconds.
var fixedUnits = map[string]int64{"s": 1, "m": 60, "h": 3600, "d": secondsPerDay, "w": 7 * secondsPerDay}

// calendarUnits maps each calendar spelling to its frame.
var calendarUnits = map[string]Frame{
	"mon":     {Name: "1mon", Seconds: monthSeconds, Unit: Month},
	"month":   {Name: "1mon", Seconds: monthSeconds, Unit: Month},
	"qtr":     {Name: "1qtr", Seconds: quarterSeconds, Unit: Quarter},
	"quarter": {Name: "1qtr", Seconds: quarterSeconds, Unit: Quarter},
	"y":       {Name: "1year", Seconds: yearSeconds, Unit: Year},
	"year":    {Name: "1year", Seconds: yearSeconds, Unit: Year},
}

const framesHint = "List frames from finest to coarsest, comma separated, each a multiple of the one before: " +
	"fixed Ns, Nm, Nh, Nd, Nw (N ≥ 1, at most 366d), then optionally the calendar frames 1mon (1month), " +
	"1qtr (1quarter), 1year (1y); a calendar frame may only follow a fixed frame that divides a day."

// ParseFrames parses the value of the spiral.frames option, e.g.
// "1m, 1h, 1d, 1mon". Units are case-insensitive; fixed frames keep the
// user's unit in their canonical Name ("15m", not "900s"). The frames must
// be strictly increasing, each a multiple of the one below (see checkChain).
// Errors are *pgerr.Error with SQLSTATE 22023.
func ParseFrames(s string) ([]Frame, error) {
	if strings.TrimSpace(s) == "" {
		return nil, framesError(s, "no frames given")
	}
	var frames []Frame
	for _, tok := range strings.Split(s, ",") {
		f, err := parseFrame(s, strings.TrimSpace(tok))
		if err != nil {
			return nil, err
		}
		frames = append(frames, f)
	}
	if err := checkChain(s, frames); err != nil {
		return nil, err
	}
	return frames, nil
}

// parseFrame parses one frame such as "15m" or "1mon"; s is the whole
// option value, for error messages.
func parseFrame(s, tok string) (Frame, error) {
	if tok == "" {
		return Frame{}, framesError(s, "empty frame in the list")
	}
	digits := len(tok) - len(strings.TrimLeft(tok, "0123456789"))
	if digits == 0 {
		return Frame{}, framesError(s, "frame %q does not start with a number", tok)
	}
	unit := strings.ToLower(strings.TrimSpace(tok[digits:]))
	n, err := strconv.ParseInt(tok[:digits], 10, 64)
	switch {
	case err != nil:
		return Frame{}, framesError(s, "frame %q has a count that is too large", tok)
	case n < 1:
		return Frame{}, framesError(s, "frame %q needs a count of at least 1", tok)
	}
	if f, ok := calendarUnits[unit]; ok {
		if n != 1 {
			return Frame{}, framesError(s, "calendar frame %q must have the count 1 (use %s)", tok, f.Name)
		}
		return f, nil
	}
	width, ok := fixedUnits[unit]
	if !ok {
		return Frame{}, framesError(s, "frame %q has an unknown unit %q", tok, unit)
	}
	if n > maxFixedSeconds/width {
		return Frame{}, framesError(s, "frame %q is wider than 366d (use 1year)", tok)
	}
	return Frame{Name: strconv.FormatInt(n, 10) + unit, Seconds: n * width}, nil
}

// checkChain enforces the frame rules: at least one and at most MaxFrames
// frames; each strictly coarser than the one below it and made of whole
// buckets of it: a fixed frame's width is a multiple of the fixed frame
// below; a calendar frame sits on a fixed frame that divides a day (1w does
// not divide a month) or on a finer calendar frame (month, quarter, year);
// a fixed frame never sits on a calendar frame. Whether a fixed frame's UTC
// grid fits the table's time zone is checked by Table.Validate.
func checkChain(s string, frames []Frame) error {
	switch {
	case len(frames) == 0:
		return framesError(s, "no frames given")
	case len(frames) > MaxFrames:
		return framesError(s, "%d frames given, at most %d are allowed", len(frames), MaxFrames)
	}
	for i := 1; i < len(frames); i++ {
		if err := checkPair(frames[i-1], frames[i]); err != "" {
			return framesError(s, "%s", err)
		}
	}
	return nil
}

// checkPair returns what is wrong with frame hi sitting directly on lo, or "".
func checkPair(lo, hi Frame) string {
	switch {
	case hi.Seconds <= lo.Seconds:
		return fmt.Sprintf("%s is not coarser than %s", hi.Name, lo.Name)
	case lo.Calendar() && !hi.Calendar():
		return fmt.Sprintf("fixed frame %s cannot follow calendar frame %s", hi.Name, lo.Name)
	case lo.Calendar():
		return "" // month < quarter < year: each is made of whole buckets of the others
	case hi.Calendar() && secondsPerDay%lo.Seconds != 0:
		return fmt.Sprintf("%s does not divide a day, so %s buckets cannot be built from it", lo.Name, hi.Name)
	case !hi.Calendar() && hi.Seconds%lo.Seconds != 0:
		return fmt.Sprintf("%s is not a multiple of %s", hi.Name, lo.Name)
	}
	return ""
}

// framesError is a 22023 error about the spiral.frames value s.
func framesError(s, format string, args ...any) *pgerr.Error {
	msg := fmt.Sprintf(format, args...)
	return pgerr.New(pgerr.InvalidParameterValue, "invalid spiral.frames %q: %s", s, msg).WithHint("%s", framesHint)
}

// FramesString joins frame names as spiral.frames spells them: "1m,1h,1mon".
func FramesString(frames []Frame) string {
	names := make([]string, len(frames))
	for i, f := range frames {
		names[i] = f.Name
	}
	return strings.Join(names, ",")
}

// BucketStart returns the start of the bucket that holds t, the value the
// tier's time column stores. A fixed frame floors the Unix time to a
// multiple of its width (UTC aligned; 1w buckets therefore start on
// Thursdays, like 1970-01-01) and returns it in UTC. A calendar frame
// returns what PostgreSQL's date_trunc(unit, t, zone) returns, in loc: the
// first of the month, quarter or year at local midnight; when that midnight
// falls in a DST gap it is read with the offset before the gap, and when it
// occurs twice (clocks fall back across midnight) it is the second
// occurrence, as PostgreSQL resolves local times. A nil loc means UTC.
func (f Frame) BucketStart(t time.Time, loc *time.Location) time.Time {
	if !f.Calendar() {
		return time.Unix(floorDiv(t.Unix(), f.Seconds)*f.Seconds, 0).UTC()
	}
	y, m := f.wallStart(t, orUTC(loc))
	return time.Unix(localInstant(wallSeconds(y, m), orUTC(loc), false), 0).In(orUTC(loc))
}

// BucketEnd returns the end (exclusive) of the bucket that holds t: the first
// instant that belongs to the next bucket.
func (f Frame) BucketEnd(t time.Time, loc *time.Location) time.Time {
	_, end := f.Bounds(t, loc)
	return end
}

// Bounds returns the half-open range [lo, hi) of instants that share t's
// bucket. For fixed frames lo is BucketStart(t). For calendar frames lo is
// the first instant whose local time is in the bucket; it differs from
// BucketStart only where clocks fall back across local midnight on the
// first of a month (America/Havana, 2020-11-01), where lo is the first
// occurrence of that midnight and BucketStart the second.
func (f Frame) Bounds(t time.Time, loc *time.Location) (lo, hi time.Time) {
	if !f.Calendar() {
		start := f.BucketStart(t, nil)
		return start, start.Add(time.Duration(f.Seconds) * time.Second)
	}
	loc = orUTC(loc)
	y, m := f.wallStart(t, loc)
	next := wallSeconds(y, m+time.Month(f.months()))
	lo = time.Unix(localInstant(wallSeconds(y, m), loc, true), 0).In(loc)
	hi = time.Unix(localInstant(next, loc, true), 0).In(loc)
	return lo, hi
}

// months is the length of a calendar frame in months.
func (f Frame) months() int {
	switch f.Unit {
	case Quarter:
		return 3
	case Year:
		return 12
	}
	return 1
}

// wallStart returns the local year and first month of the calendar bucket
// holding t.
func (f Frame) wallStart(t time.Time, loc *time.Location) (int, time.Month) {
	y, m, _ := t.In(loc).Date()
	n := time.Month(f.months())
	return y, (m-1)/n*n + 1
}

// wallSeconds is local midnight on the first of month m of year y, counted
// as if the local clock were UTC. m may overflow; time.Date normalises it.
func wallSeconds(y int, m time.Month) int64 {
	return time.Date(y, m, 1, 0, 0, 0, 0, time.UTC).Unix()
}

// localInstant returns the Unix time at which loc's clock reads wall
// (seconds of wall time since 1970-01-01 00:00). A wall time that does not
// exist (DST gap) or exists twice (overlap) is resolved as PostgreSQL's
// DetermineTimeZoneOffset does: a gap with the offset before it, an overlap
// with the offset after it (the second occurrence). With first set it
// returns instead the earliest instant whose wall time is at or after wall:
// the transition itself for a gap, the first occurrence for an overlap.
func localInstant(wall int64, loc *time.Location, first bool) int64 {
	prev := time.Unix(wall-secondsPerDay, 0).In(loc)
	_, before := prev.Zone()
	_, end := prev.ZoneBounds()
	if end.IsZero() {
		return wall - int64(before)
	}
	_, after := end.Zone()
	boundary := end.Unix()
	bt, at := wall-int64(before), wall-int64(after)
	switch {
	case bt < boundary && at < boundary:
		return bt
	case bt >= boundary && at >= boundary:
		return at
	case bt > at && first: // gap: the clock jumps over wall at boundary
		return boundary
	case bt > at || first: // gap as PostgreSQL reads it; first occurrence of an overlap
		return bt
	}
	return at
}

// floorDiv is a/b rounded towards negative infinity, for b > 0.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

func orUTC(loc *time.Location) *time.Location {
	if loc == nil {
		return time.UTC
	}
	return loc
}

// SQLBucket returns a SQL expression of type timestamptz for the start of
// the bucket holding col, an already quoted column expression. It computes
// what BucketStart computes. Fixed frames floor the epoch: from 2000 on
// (where nearly all rows are) with date_bin, integer arithmetic on
// microseconds, against an origin that is a multiple of the frame from the
// Unix epoch and at or before the row, so date_bin never crosses it (as the
// changelog's mark functions do); before that, and for ±infinity, by
// flooring the exact numeric epoch, about six times slower. Calendar frames
// use date_trunc with the time zone tz ("" means UTC).
func (f Frame) SQLBucket(col, tz string) string {
	if !f.Calendar() {
		origin := (946684800 + f.Seconds - 1) / f.Seconds * f.Seconds
		return fmt.Sprintf("CASE WHEN %[1]s >= to_timestamp(%[2]d) AND %[1]s < 'infinity' THEN date_bin('%[3]d seconds', %[1]s, to_timestamp(%[2]d))"+
			" ELSE to_timestamp(floor(extract(epoch from %[1]s) / %[3]d) * %[3]d) END", col, origin, f.Seconds)
	}
	if tz == "" {
		tz = "UTC"
	}
	return fmt.Sprintf("date_trunc(%s, %s, %s)", QuoteLiteral(string(f.Unit)), col, QuoteLiteral(tz))
}

// Covers reports whether the bucket of f that holds t is made of whole
// buckets of the finer frame lower, so that it can be aggregated from
// lower's tier. It is always true for two fixed or two calendar frames that
// pass ParseFrames; for a calendar frame over a fixed one it depends on the
// zone's UTC offset at the bucket's bounds.
func (f Frame) Covers(lower Frame, t time.Time, loc *time.Location) bool {
	if lower.Calendar() || !f.Calendar() {
		return true
	}
	lo, hi := f.Bounds(t, loc)
	return lo.Unix()%lower.Seconds == 0 && hi.Unix()%lower.Seconds == 0
}
