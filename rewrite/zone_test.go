package rewrite

import (
	"testing"
	"time"
)

func TestRegularSince(t *testing.T) {
	year := func(y int) int64 { return time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC).Unix() }
	for _, c := range []struct {
		zone         string
		width        int64
		after, until int64 // since is in [after, until]
	}{
		{"UTC", 86400, alwaysSince, alwaysSince},
		{"Etc/UTC", 3600, alwaysSince, alwaysSince},
		{"Europe/Berlin", 3600, year(1890), year(1894)}, // local mean time until 1893
		{"Europe/Berlin", 86400, noSince, noSince},      // never whole days
		{"Asia/Kolkata", 3600, noSince, noSince},        // +05:30
		{"Asia/Kolkata", 1800, year(1900), year(1946)},
		{"Asia/Kathmandu", 1800, noSince, noSince}, // +05:45 since 1986
		{"Asia/Kathmandu", 60, year(1900), year(1921)},
		{"Australia/Lord_Howe", 3600, noSince, noSince}, // 30-minute DST
		{"No/Such_Zone", 60, noSince, noSince},
	} {
		got := regularSince(c.zone, c.width)
		if got < c.after || got > c.until {
			t.Errorf("regularSince(%s, %d) = %d, want within [%d, %d]", c.zone, c.width, got, c.after, c.until)
		}
	}
}
