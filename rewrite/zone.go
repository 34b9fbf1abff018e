package rewrite

import (
	"math"
	"strings"
	"sync"
	"time"
)

// The instants at which a zone's offsets became and stayed a multiple of
// some width: local boundaries of hours, days, ... coincide with UTC
// multiples of the width only while they do. Memoised per (zone, width).
var regular struct {
	sync.Mutex
	since map[regularKey]int64
}

type regularKey struct {
	zone  string
	width int64
}

// noSince means "never": the zone is not regular for the width.
const noSince = math.MaxInt64

// alwaysSince means the zone was always regular for the width.
const alwaysSince = math.MinInt64

// regularSince returns the Unix time (seconds) from which every UTC offset
// of zone is a multiple of width seconds, alwaysSince for zones that always
// were, and noSince for zones that never settle or are unknown.
func regularSince(zone string, width int64) int64 {
	if isUTC(zone) || width == 1 {
		return alwaysSince
	}
	regular.Lock()
	defer regular.Unlock()
	if regular.since == nil {
		regular.since = make(map[regularKey]int64)
	}
	k := regularKey{zone, width}
	if v, ok := regular.since[k]; ok {
		return v
	}
	v := scanZone(zone, width)
	regular.since[k] = v
	return v
}

// scanZone walks the zone's periods from 1800 to 2200; a period that ends
// irregular at 2200 makes the zone never regular.
func scanZone(zone string, width int64) int64 {
	loc, err := time.LoadLocation(zone)
	if err != nil || zone == "" || strings.EqualFold(zone, "local") {
		return noSince
	}
	since := int64(alwaysSince)
	end := time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
	for t := time.Date(1800, 1, 1, 0, 0, 0, 0, time.UTC); t.Before(end); {
		_, off := t.In(loc).Zone()
		_, next := t.In(loc).ZoneBounds()
		switch {
		case next.IsZero():
			next = end // no transition after t
		case !next.After(t):
			next = t.Add(24 * time.Hour) // ZoneBounds can stall at year ends
		}
		if int64(off)%width != 0 {
			since = next.Unix()
		}
		t = next
	}
	// Offsets past 2037 come from the zone's recurring rule: an irregular
	// period that late recurs every year.
	if since >= time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC).Unix() {
		return noSince
	}
	return since
}

// isUTC reports whether a zone name is one of the spellings of UTC.
func isUTC(zone string) bool {
	switch strings.ToLower(zone) {
	case "utc", "etc/utc", "gmt", "etc/gmt", "z", "zulu", "universal", "etc/universal", "uct", "etc/uct",
		"gmt0", "etc/gmt0", "gmt+0", "gmt-0", "etc/gmt+0", "etc/gmt-0", "greenwich", "etc/greenwich":
		return true
	}
	return false
}

// sameZone reports whether two zone names certainly denote the same zone.
func sameZone(a, b string) bool {
	return strings.EqualFold(a, b) || (isUTC(a) && isUTC(b))
}
