package zorder

import (
	"errors"
	"math"
	"time"
)

// MinMicros is PostgreSQL's earliest timestamptz, 4714-11-24 00:00:00 UTC
// BC, in microseconds since the Unix epoch.
const MinMicros = -210866803200000000

// MaxMicros is the latest time FromTime accepts: the largest int64.
const MaxMicros = math.MaxInt64

// ErrTimeRange reports a time outside [MinMicros, MaxMicros].
var ErrTimeRange = errors.New("zorder: time out of range")

// FromTime returns t in whole microseconds since 1970-01-01 00:00:00 UTC,
// rounded towards −∞ (spiral(t) in the design).
func FromTime(t time.Time) (int64, error) {
	sec := t.Unix()
	if sec < MinMicros/1_000_000 || sec > MaxMicros/1_000_000 {
		return 0, ErrTimeRange
	}
	us := sec*1_000_000 + int64(t.Nanosecond()/1000)
	if us < sec*1_000_000 { // overflow past MaxMicros
		return 0, ErrTimeRange
	}
	return us, nil
}

// ToTime returns the UTC time us microseconds after the Unix epoch.
func ToTime(us int64) time.Time {
	return time.UnixMicro(us).UTC()
}
