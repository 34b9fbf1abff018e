package rollup

import (
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the zones below, also where the system has none

	"spiral/internal/pgerr"
)

func TestParseFrames(t *testing.T) {
	tests := []struct {
		in   string
		want string // names joined
		secs []int64
	}{
		{"1m,1h,1d,1mon", "1m,1h,1d,1mon", []int64{60, 3600, 86400, monthSeconds}},
		{" 1M , 15m,1H ", "1m,15m,1h", []int64{60, 900, 3600}},
		{"30s,1m,5m", "30s,1m,5m", []int64{30, 60, 300}},
		{"1w", "1w", []int64{604800}},
		{"1d,1w,4w", "1d,1w,4w", []int64{86400, 604800, 4 * 604800}},
		{"01m, 1 h", "1m,1h", []int64{60, 3600}},
		{"1mon,1qtr,1year", "1mon,1qtr,1year", []int64{monthSeconds, quarterSeconds, yearSeconds}},
		{"1Month,1QUARTER,1Y", "1mon,1qtr,1year", []int64{monthSeconds, quarterSeconds, yearSeconds}},
		{"1h,1year", "1h,1year", []int64{3600, yearSeconds}},
		{"90m,1mon", "90m,1mon", []int64{5400, monthSeconds}},
		{"366d", "366d", []int64{366 * 86400}},
		{"1s,2s,4s,8s,16s,32s,64s,128s", "1s,2s,4s,8s,16s,32s,64s,128s", []int64{1, 2, 4, 8, 16, 32, 64, 128}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			fs, err := ParseFrames(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if got := FramesString(fs); got != tt.want {
				t.Errorf("names %q, want %q", got, tt.want)
			}
			for i, f := range fs {
				if f.Seconds != tt.secs[i] {
					t.Errorf("%s: %d seconds, want %d", f.Name, f.Seconds, tt.secs[i])
				}
			}
		})
	}
}

func TestParseFramesCalendarUnits(t *testing.T) {
	fs, err := ParseFrames("1mon,1qtr,1year")
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []CalendarUnit{Month, Quarter, Year} {
		if fs[i].Unit != want {
			t.Errorf("%s: unit %q, want %q", fs[i].Name, fs[i].Unit, want)
		}
	}
}

func TestParseFramesErrors(t *testing.T) {
	tests := []struct{ in, msg string }{
		{"", "no frames given"},
		{"  ", "no frames given"},
		{"1h,90m", `invalid spiral.frames "1h,90m": 90m is not a multiple of 1h`},
		{"1h,150m", "150m is not a multiple of 1h"},
		{"1m,1m", "1m is not coarser than 1m"},
		{"1m,60s", "60s is not coarser than 1m"},
		{"1h,1m", "1m is not coarser than 1h"},
		{"1m,,1h", "empty frame"},
		{"1m,", "empty frame"},
		{"0m", `frame "0m" needs a count of at least 1`},
		{"m", `frame "m" does not start with a number`},
		{"-1m", "does not start with a number"},
		{"1x", `unknown unit "x"`},
		{"1min", `unknown unit "min"`},
		{"2mon", `calendar frame "2mon" must have the count 1`},
		{"3qtr", "must have the count 1"},
		{"1w,1mon", "1w does not divide a day, so 1mon buckets cannot be built from it"},
		{"7h,1mon", "7h does not divide a day"},
		{"2d,1year", "2d does not divide a day"},
		{"1mon,40d", "fixed frame 40d cannot follow calendar frame 1mon"},
		{"1year,1qtr", "1qtr is not coarser than 1year"},
		{"1qtr,1mon", "1mon is not coarser than 1qtr"},
		{"367d", "wider than 366d"},
		{"99999999999999999999s", "count that is too large"},
		{"1s,2s,4s,8s,16s,32s,64s,128s,256s", "9 frames given, at most 8"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := ParseFrames(tt.in)
			e := pgerr.As(err)
			if e == nil {
				t.Fatalf("err = %v, want a *pgerr.Error", err)
			}
			if e.Code != pgerr.InvalidParameterValue || !strings.Contains(e.Message, tt.msg) {
				t.Errorf("got %s %q, want 22023 containing %q", e.Code, e.Message, tt.msg)
			}
			if !strings.Contains(e.Hint, "1mon") || !strings.Contains(e.Hint, "Nm") {
				t.Errorf("hint does not list the units: %q", e.Hint)
			}
		})
	}
}

func mustLoad(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func utc(s string) time.Time {
	t, err := time.Parse("2006-01-02 15:04:05.999999999", s)
	if err != nil {
		panic(err)
	}
	return t
}

func frame(t *testing.T, name string) Frame {
	t.Helper()
	return mustFrames(t, name)[0]
}

// TestBucketStart checks bucket bounds. The calendar cases in DST gaps and
// overlaps are what PostgreSQL 15 returns for date_trunc(unit, t, zone).
func TestBucketStart(t *testing.T) {
	tests := []struct {
		name, frame, zone, t, start, end string // times in UTC
	}{
		{"1m", "1m", "", "2024-05-17 13:45:59.999", "2024-05-17 13:45:00", "2024-05-17 13:46:00"},
		{"1m on the boundary", "1m", "", "2024-05-17 13:45:00", "2024-05-17 13:45:00", "2024-05-17 13:46:00"},
		{"15m", "15m", "Asia/Kolkata", "2024-05-17 13:44:00", "2024-05-17 13:30:00", "2024-05-17 13:45:00"},
		{"1s before 1970", "1s", "", "1969-12-31 23:59:59.5", "1969-12-31 23:59:59", "1970-01-01 00:00:00"},
		{"1m before 1970", "1m", "", "1969-12-31 23:59:30", "1969-12-31 23:59:00", "1970-01-01 00:00:00"},
		{"1h before 1970 on boundary", "1h", "", "1969-12-31 23:00:00", "1969-12-31 23:00:00", "1970-01-01 00:00:00"},
		{"1d long before 1970", "1d", "", "1900-02-28 12:00:00", "1900-02-28 00:00:00", "1900-03-01 00:00:00"},
		{"1d leap day", "1d", "", "2024-02-29 23:59:59", "2024-02-29 00:00:00", "2024-03-01 00:00:00"},
		{"1w starts on Thursday", "1w", "", "2024-05-17 12:00:00", "2024-05-16 00:00:00", "2024-05-23 00:00:00"},
		{"1w before 1970", "1w", "", "1969-12-31 00:00:00", "1969-12-25 00:00:00", "1970-01-01 00:00:00"},
		{"1mon leap February", "1mon", "UTC", "2024-02-29 12:00:00", "2024-02-01 00:00:00", "2024-03-01 00:00:00"},
		{"1mon February", "1mon", "", "2023-02-28 12:00:00", "2023-02-01 00:00:00", "2023-03-01 00:00:00"},
		{"1mon before 1970", "1mon", "", "1969-07-20 20:17:00", "1969-07-01 00:00:00", "1969-08-01 00:00:00"},
		{"1qtr", "1qtr", "", "2024-05-15 00:00:00", "2024-04-01 00:00:00", "2024-07-01 00:00:00"},
		{"1qtr Q4", "1qtr", "", "2024-12-31 23:59:59", "2024-10-01 00:00:00", "2025-01-01 00:00:00"},
		{"1year leap", "1year", "", "2024-12-31 23:59:59", "2024-01-01 00:00:00", "2025-01-01 00:00:00"},
		{"1year before 1970", "1year", "", "1969-06-01 00:00:00", "1969-01-01 00:00:00", "1970-01-01 00:00:00"},
		{"Berlin March (CET to CEST)", "1mon", "Europe/Berlin", "2021-03-28 12:00:00", "2021-02-28 23:00:00", "2021-03-31 22:00:00"},
		{"Berlin local April 1st", "1mon", "Europe/Berlin", "2021-03-31 22:30:00", "2021-03-31 22:00:00", "2021-04-30 22:00:00"},
		{"Berlin October (CEST to CET)", "1mon", "Europe/Berlin", "2021-10-31 12:00:00", "2021-09-30 22:00:00", "2021-10-31 23:00:00"},
		{"Berlin year", "1year", "Europe/Berlin", "2020-12-31 23:30:00", "2020-12-31 23:00:00", "2021-12-31 23:00:00"},
		{"New York quarter", "1qtr", "America/New_York", "2024-03-10 12:00:00", "2024-01-01 05:00:00", "2024-04-01 04:00:00"},
		{"Kolkata month", "1mon", "Asia/Kolkata", "2024-05-31 18:29:59", "2024-04-30 18:30:00", "2024-05-31 18:30:00"},
		{"Cairo: midnight in a DST gap", "1mon", "Africa/Cairo", "2014-08-15 00:00:00", "2014-07-31 22:00:00", "2014-08-31 21:00:00"},
		{"Cairo: just before the gap", "1mon", "Africa/Cairo", "2014-07-31 21:30:00", "2014-06-30 22:00:00", "2014-07-31 22:00:00"},
		{"Buenos Aires: midnight in a DST gap", "1mon", "America/Argentina/Buenos_Aires", "1988-12-15 00:00:00", "1988-12-01 03:00:00", "1989-01-01 02:00:00"},
		{"Havana: midnight twice", "1mon", "America/Havana", "2020-11-15 00:00:00", "2020-11-01 05:00:00", "2020-12-01 05:00:00"},
		{"Havana: first midnight", "1mon", "America/Havana", "2020-11-01 04:30:00", "2020-11-01 05:00:00", "2020-12-01 05:00:00"},
		{"Havana: October ends at the first midnight", "1mon", "America/Havana", "2020-10-15 00:00:00", "2020-10-01 04:00:00", "2020-11-01 04:00:00"},
		{"Tunis: midnight twice", "1mon", "Africa/Tunis", "1978-10-15 00:00:00", "1978-09-30 23:00:00", "1978-10-31 23:00:00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var loc *time.Location
			if tt.zone != "" {
				loc = mustLoad(t, tt.zone)
			}
			f, at := frame(t, tt.frame), utc(tt.t)
			if got := f.BucketStart(at, loc); !got.Equal(utc(tt.start)) {
				t.Errorf("BucketStart = %s, want %s", got.UTC(), tt.start)
			}
			if got := f.BucketEnd(at, loc); !got.Equal(utc(tt.end)) {
				t.Errorf("BucketEnd = %s, want %s", got.UTC(), tt.end)
			}
		})
	}
}

// TestBounds checks the range of instants of a bucket where it differs from
// [BucketStart, BucketEnd): clocks falling back across local midnight.
func TestBounds(t *testing.T) {
	tests := []struct {
		name, zone, t, lo, hi string
	}{
		{"Havana November", "America/Havana", "2020-11-01 04:30:00", "2020-11-01 04:00:00", "2020-12-01 05:00:00"},
		{"Cairo August (gap)", "Africa/Cairo", "2014-08-15 00:00:00", "2014-07-31 22:00:00", "2014-08-31 21:00:00"},
		{"Berlin April", "Europe/Berlin", "2021-04-15 00:00:00", "2021-03-31 22:00:00", "2021-04-30 22:00:00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lo, hi := frame(t, "1mon").Bounds(utc(tt.t), mustLoad(t, tt.zone))
			if !lo.Equal(utc(tt.lo)) || !hi.Equal(utc(tt.hi)) {
				t.Errorf("Bounds = [%s, %s), want [%s, %s)", lo.UTC(), hi.UTC(), tt.lo, tt.hi)
			}
		})
	}
}

// TestBucketsTile walks consecutive buckets: each starts where the last
// ended, contains the instants in between, and every instant's bucket
// contains it.
func TestBucketsTile(t *testing.T) {
	for _, name := range []string{"1m", "7m", "1h", "1d", "1w", "1mon", "1qtr", "1year"} {
		for _, zone := range []string{"UTC", "Europe/Berlin", "Asia/Kathmandu"} {
			t.Run(name+"/"+zone, func(t *testing.T) {
				f, loc := frame(t, name), mustLoad(t, zone)
				at := utc("1968-11-03 01:02:03")
				for i := 0; i < 40; i++ {
					lo, hi := f.Bounds(at, loc)
					mid := lo.Add(hi.Sub(lo) / 2)
					if !hi.After(lo) || lo.After(at) || !at.Before(hi) {
						t.Fatalf("Bounds(%s) = [%s, %s)", at, lo, hi)
					}
					if l2, h2 := f.Bounds(mid, loc); !l2.Equal(lo) || !h2.Equal(hi) {
						t.Fatalf("mid %s of [%s, %s) has bounds [%s, %s)", mid, lo, hi, l2, h2)
					}
					if got := f.BucketStart(hi.Add(-time.Nanosecond), loc); !got.Equal(f.BucketStart(lo, loc)) {
						t.Fatalf("last instant of [%s, %s) starts %s", lo, hi, got)
					}
					at = hi.Add(time.Duration(i) * 61 * time.Second)
				}
			})
		}
	}
}

func TestSQLBucket(t *testing.T) {
	tests := []struct {
		frame, zone, want string
	}{
		{"1m", "Europe/Berlin", `CASE WHEN "t" >= to_timestamp(946684800) AND "t" < 'infinity' THEN date_bin('60 seconds', "t", to_timestamp(946684800))` +
			` ELSE to_timestamp(floor(extract(epoch from "t") / 60) * 60) END`},
		{"1w", "", `CASE WHEN "t" >= to_timestamp(947116800) AND "t" < 'infinity' THEN date_bin('604800 seconds', "t", to_timestamp(947116800))` +
			` ELSE to_timestamp(floor(extract(epoch from "t") / 604800) * 604800) END`},
		{"7s", "", `CASE WHEN "t" >= to_timestamp(946684802) AND "t" < 'infinity' THEN date_bin('7 seconds', "t", to_timestamp(946684802))` +
			` ELSE to_timestamp(floor(extract(epoch from "t") / 7) * 7) END`},
		{"1mon", "Europe/Berlin", `date_trunc('month', "t", 'Europe/Berlin')`},
		{"1qtr", "", `date_trunc('quarter', "t", 'UTC')`},
		{"1year", "America/New_York", `date_trunc('year', "t", 'America/New_York')`},
		{"1mon", "it's", `date_trunc('month', "t", 'it''s')`},
	}
	for _, tt := range tests {
		t.Run(tt.frame+"/"+tt.zone, func(t *testing.T) {
			if got := frame(t, tt.frame).SQLBucket(`"t"`, tt.zone); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestCovers(t *testing.T) {
	tests := []struct {
		upper, lower, zone, t string
		want                  bool
	}{
		{"1h", "1m", "Asia/Kolkata", "2024-05-17 13:44:00", true},
		{"1mon", "1d", "UTC", "2024-05-17 13:44:00", true},
		{"1mon", "1h", "Europe/Berlin", "2024-05-17 13:44:00", true},
		{"1mon", "1d", "Europe/Berlin", "2024-05-17 13:44:00", false},
		{"1mon", "1h", "Asia/Kolkata", "2024-05-17 13:44:00", false},
		{"1mon", "30m", "Asia/Kolkata", "2024-05-17 13:44:00", true},
		{"1mon", "30m", "Asia/Kathmandu", "2024-05-17 13:44:00", false},
		{"1mon", "15m", "Asia/Kathmandu", "2024-05-17 13:44:00", true},
		{"1qtr", "1mon", "Asia/Kathmandu", "2024-05-17 13:44:00", true},
		{"1mon", "1h", "Europe/Berlin", "1890-05-17 13:44:00", false}, // local mean time
	}
	for _, tt := range tests {
		t.Run(tt.upper+"/"+tt.lower+"/"+tt.zone+"/"+tt.t, func(t *testing.T) {
			got := frame(t, tt.upper).Covers(frame(t, tt.lower), utc(tt.t), mustLoad(t, tt.zone))
			if got != tt.want {
				t.Errorf("Covers = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestFloorDiv(t *testing.T) {
	tests := []struct{ a, b, want int64 }{
		{7, 3, 2}, {6, 3, 2}, {0, 3, 0}, {-1, 3, -1}, {-3, 3, -1}, {-4, 3, -2},
	}
	for _, tt := range tests {
		if got := floorDiv(tt.a, tt.b); got != tt.want {
			t.Errorf("floorDiv(%d, %d) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}
