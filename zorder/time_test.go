package zorder

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

func TestFromTime(t *testing.T) {
	for _, c := range []struct {
		name string
		t    time.Time
		want int64
	}{
		{"epoch", time.Unix(0, 0), 0},
		{"one micro", time.Unix(0, 1000), 1},
		{"sub-micro truncates", time.Unix(0, 1999), 1},
		{"before epoch floors", time.Unix(0, -1), -1},
		{"before epoch floors 2", time.Unix(-1, 999_999_999), -1},
		{"2000-01-01", time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), 946684800000000},
		{"zone ignored", time.Date(2000, 1, 1, 1, 0, 0, 0, time.FixedZone("CET", 3600)), 946684800000000},
		{"PostgreSQL minimum", time.Date(-4713, 11, 24, 0, 0, 0, 0, time.UTC), MinMicros},
		{"int64 maximum", time.UnixMicro(math.MaxInt64).Add(999 * time.Nanosecond), MaxMicros},
		{"year 1", time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), -62135596800000000},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := FromTime(c.t)
			if err != nil || got != c.want {
				t.Fatalf("FromTime(%v) = %d, %v; want %d", c.t, got, err, c.want)
			}
		})
	}
	for _, bad := range []time.Time{
		time.Date(-4713, 11, 23, 23, 59, 59, 999_999_999, time.UTC),
		time.UnixMicro(math.MaxInt64).Add(time.Microsecond),
		time.Date(294276, 12, 31, 0, 0, 0, 0, time.UTC),
		time.Date(-300000, 1, 1, 0, 0, 0, 0, time.UTC),
	} {
		if got, err := FromTime(bad); !errors.Is(err, ErrTimeRange) {
			t.Errorf("FromTime(%v) = %d, %v; want ErrTimeRange", bad, got, err)
		}
	}
}

func TestTimeRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	edges := []int64{MinMicros, MinMicros + 1, -1, 0, 1, MaxMicros - 1, MaxMicros}
	for i := range 10000 {
		us := MinMicros + int64(r.Uint64N(uint64(MaxMicros)+uint64(-MinMicros)))
		if i < len(edges) {
			us = edges[i]
		}
		got, err := FromTime(ToTime(us))
		if err != nil || got != us {
			t.Fatalf("FromTime(ToTime(%d)) = %d, %v", us, got, err)
		}
		if ToTime(us).Location() != time.UTC {
			t.Fatalf("ToTime(%d) not in UTC", us)
		}
	}
}
