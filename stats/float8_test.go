package stats

import (
	"errors"
	"math"
	"testing"
)

// The expected texts were printed by PostgreSQL 15 (SELECT x::float8::text).
func TestAppendFloat8MatchesPostgres(t *testing.T) {
	for _, c := range []struct {
		f    float64
		want string
	}{
		{0, "0"},
		{math.Copysign(0, -1), "-0"},
		{1, "1"},
		{0.1, "0.1"},
		{1e15, "1e+15"},
		{1e14, "100000000000000"},
		{123456789012345, "123456789012345"},
		{1e-4, "0.0001"},
		{1e-5, "1e-05"},
		{1.5e-5, "1.5e-05"},
		{1e100, "1e+100"},
		{5e-324, "5e-324"},
		{math.MaxFloat64, "1.7976931348623157e+308"},
		{100, "100"},
		{1e20, "1e+20"},
		{1234567.125, "1234567.125"},
		{999999999999999, "999999999999999"},
		{9999999999999998, "9.999999999999998e+15"},
		{0.00012345, "0.00012345"},
		{-2.5e-7, "-2.5e-07"},
		{1e-310, "1e-310"},
		{1.0 / 3, "0.3333333333333333"},
		{2.0 / 3, "0.6666666666666666"},
		{math.NaN(), "NaN"},
		{math.Inf(1), "Infinity"},
		{math.Inf(-1), "-Infinity"},
	} {
		t.Run(c.want, func(t *testing.T) {
			if got := string(AppendFloat8(nil, c.f)); got != c.want {
				t.Fatalf("AppendFloat8(%v) = %q, want %q", c.f, got, c.want)
			}
			back, err := ParseFloat8(c.want)
			if err != nil || !sameFloat(back, c.f) {
				t.Fatalf("ParseFloat8(%q) = %v, %v; want %v", c.want, back, err, c.f)
			}
		})
	}
}

func TestParseFloat8(t *testing.T) {
	for _, c := range []struct {
		in   string
		want float64
	}{
		{"  12 ", 12},
		{" +inf", math.Inf(1)},
		{"INFINITY", math.Inf(1)},
		{"-Infinity", math.Inf(-1)},
		{"nan", math.NaN()},
		{".5", 0.5},
		{"5.", 5},
		{"+.5e+2", 50},
		{"0e-400", 0},
	} {
		t.Run(c.in, func(t *testing.T) {
			got, err := ParseFloat8(c.in)
			if err != nil || !sameFloat(got, c.want) {
				t.Fatalf("ParseFloat8(%q) = %v, %v; want %v", c.in, got, err, c.want)
			}
		})
	}
	for _, in := range []string{"", " ", "1e400", "-1e400", "1e-400", "0x10", "1_000", "abc", "1.5.5", "Inf1", "infinit"} {
		t.Run("bad/"+in, func(t *testing.T) {
			if _, err := ParseFloat8(in); !errors.Is(err, ErrFloat8Syntax) {
				t.Fatalf("ParseFloat8(%q) error = %v, want ErrFloat8Syntax", in, err)
			}
		})
	}
}

// sameFloat is bit equality, except that all NaNs are equal.
func sameFloat(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	return math.Float64bits(a) == math.Float64bits(b)
}
