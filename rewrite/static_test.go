package rewrite

import (
	"strings"
	"testing"
	"time"
)

func TestLiteralInstant(t *testing.T) {
	kolkata, err := time.LoadLocation("Asia/Kolkata")
	if err != nil {
		t.Fatal(err)
	}
	utc := func(s string) int64 {
		at, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return at.UnixMicro()
	}
	cases := []struct {
		sql  string
		want int64 // 0: not read
	}{
		{`'2024-01-01'`, utc("2023-12-31T18:30:00Z")},
		{`'2024-01-01 00:00:00+00'`, utc("2024-01-01T00:00:00Z")},
		{`'2024-01-01T10:20:30.123456Z'`, utc("2024-01-01T10:20:30.123456Z")},
		{`'2024-01-01 10:20+05:45'`, utc("2024-01-01T04:35:00Z")},
		{`'2024-01-01 10:20:00-0330'`, utc("2024-01-01T13:50:00Z")},
		{`' 2024-01-01 10:20:00 '`, utc("2024-01-01T04:50:00Z")},
		{`'2024-01-01 10:20:00'::timestamptz`, utc("2024-01-01T04:50:00Z")},
		{`timestamptz '2024-01-01 10:20:00'`, utc("2024-01-01T04:50:00Z")},
		// timestamp without time zone ignores the offset and reads the
		// wall time in the session's zone
		{`'2024-01-01 10:20:00+02'::timestamp`, utc("2024-01-01T04:50:00Z")},
		{`'2024-01-02'::date`, utc("2024-01-01T18:30:00Z")},
		{`'2024-01-01 10:20:00.1234567+00'`, 0}, // finer than PostgreSQL keeps
		{`'2024-01-01 10:20:00'::date`, 0},
		{`'2024-01-01 10:20:00'::timestamp(0)`, 0},
		{`'now'`, 0},
		{`'epoch'`, 0},
		{`'Jan 1 2024'`, 0},
		{`'2024-01-01 10:20:00 +00'`, 0},
		{`'2024-01-01 10:20:00+1'`, 0},
		{`now()`, 0},
		{`$1`, 0},
		{`'2024-01-01'::text`, 0},
	}
	for _, c := range cases {
		n, err := parseExpr(c.sql)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := literalInstant(n, kolkata)
		switch {
		case c.want == 0 && ok:
			t.Errorf("%s read as %s; want it left to PostgreSQL", c.sql, time.UnixMicro(got).UTC())
		case c.want != 0 && !ok:
			t.Errorf("%s not read; want %s", c.sql, time.UnixMicro(c.want).UTC())
		case c.want != 0 && got != c.want:
			t.Errorf("%s read as %s, want %s", c.sql, time.UnixMicro(got).UTC(), time.UnixMicro(c.want).UTC())
		}
	}
}

// TestConstRangeServed: literal bounds are worked out in Go; only the
// segments that hold whole buckets or edge instants are written, and the
// statement checks PostgreSQL's reading of the bounds. The 1m tier reads
// the 1h tier's dirty buckets whenever the range holds a whole hour.
func TestConstRangeServed(t *testing.T) {
	cat := testCatalog()
	cases := []struct {
		where      string
		tiers      []string // tier tables whose own ranges the statement reads
		edges      int      // raw edge segments
		falls      bool     // the 1m tier reads dirty hours
		literalsOK bool     // the bounds are checked against literals
	}{
		{`t >= '2024-01-01' AND t < '2024-01-03'`, []string{"ticks_1h"}, 0, true, true},
		{`t >= '2024-01-01 00:30' AND t < '2024-01-03'`, []string{"ticks_1h", "ticks_1m"}, 0, true, true},
		{`t >= '2024-01-01 00:30:10' AND t < '2024-01-03 00:00:30'`, []string{"ticks_1h", "ticks_1m"}, 2, true, true},
		{`t > '2024-01-01 00:00:00' AND t <= '2024-01-01 00:59:59.999999'`, []string{"ticks_1m"}, 1, false, true},
		{`t >= now() - interval '1 day'`, []string{"ticks_1h", "ticks_1m"}, 2, true, false},
		{`t >= $1 AND t < '2024-01-03'`, []string{"ticks_1h", "ticks_1m"}, 2, true, false},
	}
	for _, c := range cases {
		sql := `SELECT date_trunc('hour', t), sym, sum(vol) FROM ticks WHERE ` + c.where + ` GROUP BY 1, 2`
		out, err := Query(sql, cat, Settings{TimeZone: "UTC"})
		if err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		for _, tier := range []string{"ticks_1m", "ticks_1h"} {
			want := strings.Contains(strings.Join(c.tiers, " "), tier)
			if got := strings.Contains(out, "public."+tier+" ticks WHERE (SELECT spiral_"); got != want {
				t.Errorf("%s: reads %s: %v, want %v\n%s", c.where, tier, got, want, out)
			}
		}
		if got := strings.Contains(out, "public.ticks_1m ticks WHERE ticks.t >= spiral_x.spiral_b"); got != c.falls {
			t.Errorf("%s: the 1m tier reads dirty hours: %v, want %v\n%s", c.where, got, c.falls, out)
		}
		if got := strings.Count(out, "AND (SELECT spiral_use FROM spiral_g) GROUP BY"); got != c.edges {
			t.Errorf("%s: %d raw edge segments, want %d\n%s", c.where, got, c.edges, out)
		}
		if got := !strings.Contains(out, "spiral_l AS"); got != c.literalsOK {
			t.Errorf("%s: constant range %v, want %v", c.where, got, c.literalsOK)
		}
	}
}

// TestDenseTierIsNotFallenTo: when the 1m tier is dense, a dirty hour is
// read raw rather than from the 1m tier, and the 1m level lists dirty
// buckets only in its own ranges, not in the hours (they would be read raw
// twice).
func TestDenseTierIsNotFallenTo(t *testing.T) {
	cat := testCatalog()
	for _, s := range cat.Sources {
		if s.Table.Name == "ticks" {
			s.Tiers[0].Dense = true
		}
	}
	for _, where := range []string{`t >= '2024-01-01 00:30' AND t < '2024-01-03'`, `t >= now() - interval '1 day'`} {
		sql := `SELECT date_trunc('hour', t), sym, sum(vol) FROM ticks WHERE ` + where + ` GROUP BY 1, 2`
		out, err := Query(sql, cat, Settings{TimeZone: "UTC"})
		if err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		if strings.Contains(out, "public.ticks_1m ticks WHERE ticks.t >= spiral_x.spiral_b") {
			t.Errorf("%s: the dense 1m tier reads dirty hours\n%s", where, out)
		}
		if !strings.Contains(out, "x.spiral_k IN (1, 2)") {
			t.Errorf("%s: dirty hours are not read raw\n%s", where, out)
		}
	}
	out, err := Query(`SELECT date_trunc('hour', t), sum(vol) FROM ticks WHERE t >= '2024-01-01 00:30' AND t < '2024-01-03' GROUP BY 1`, cat, Settings{TimeZone: "UTC"})
	if err != nil {
		t.Fatal(err)
	}
	if own := "(1, '2024-01-01 00:30:00+00'::timestamptz, '2024-01-01 01:00:00+00'::timestamptz)"; !strings.Contains(out, own) || strings.Contains(out, "(1, '2024-01-01 00:30:00+00'::timestamptz, '2024-01-03") {
		t.Errorf("the 1m level's reach is not its own range %s\n%s", own, out)
	}
}
