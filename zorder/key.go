package zorder

import (
	"errors"
	"math"
	"time"
)

// The time coordinate of a key is the minute since the epoch, clamped to
// [MinKeyMinute, MaxKeyMinute].
const (
	MinKeyMinute = math.MinInt32
	MaxKeyMinute = math.MaxInt32
)

// ErrBounds reports bounds whose start is after their end.
var ErrBounds = errors.New("zorder: range start after end")

// Key returns the z-order key of the tenant hash at time t.
func Key(hash uint64, t time.Time) int64 {
	return keyAt(hash, floorDiv(t.Unix(), 60))
}

// KeyMicros is Key for a time in microseconds since the epoch.
func KeyMicros(hash uint64, us int64) int64 {
	return keyAt(hash, floorDiv(us, 60e6))
}

// Bounds returns [lo, hi] such that Key(hash, t) lies in it for every t with
// from ≤ t ≤ to.
func Bounds(hash uint64, from, to time.Time) (lo, hi int64, err error) {
	if from.After(to) {
		return 0, 0, ErrBounds
	}
	return Key(hash, from), Key(hash, to), nil
}

// BoundsMicros is Bounds for times in microseconds since the epoch.
func BoundsMicros(hash uint64, from, to int64) (lo, hi int64, err error) {
	if from > to {
		return 0, 0, ErrBounds
	}
	return KeyMicros(hash, from), KeyMicros(hash, to), nil
}

// Split recovers the top 32 bits of the tenant hash and the (clamped) minute
// since the epoch from a key.
func Split(key int64) (hashHigh uint32, minute int64) {
	z := uint64(key) ^ 1<<63
	return compact(z >> 1), int64(compact(z)) + MinKeyMinute
}

func keyAt(hash uint64, minute int64) int64 {
	minute = max(MinKeyMinute, min(minute, MaxKeyMinute))
	coord := uint32(minute - MinKeyMinute)
	z := spread(uint32(hash>>32))<<1 | spread(coord)
	return int64(z ^ 1<<63)
}

// spread moves bit i of x to bit 2i.
func spread(x uint32) uint64 {
	v := uint64(x)
	v = (v | v<<16) & 0x0000ffff0000ffff
	v = (v | v<<8) & 0x00ff00ff00ff00ff
	v = (v | v<<4) & 0x0f0f0f0f0f0f0f0f
	v = (v | v<<2) & 0x3333333333333333
	v = (v | v<<1) & 0x5555555555555555
	return v
}

// compact is the inverse of spread: it gathers the even bits of v.
func compact(v uint64) uint32 {
	v &= 0x5555555555555555
	v = (v | v>>1) & 0x3333333333333333
	v = (v | v>>2) & 0x0f0f0f0f0f0f0f0f
	v = (v | v>>4) & 0x00ff00ff00ff00ff
	v = (v | v>>8) & 0x0000ffff0000ffff
	v = (v | v>>16) & 0x00000000ffffffff
	return uint32(v)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}
