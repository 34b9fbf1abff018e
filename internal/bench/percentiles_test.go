package bench

import (
	"bytes"
	"context"
	"math"
	"strings"
	"testing"
)

// TestPercentilesSmall runs the benchmark on a tiny data set and checks
// the tables' structure and that both approximations are close to the
// exact answers; it asserts no timing.
func TestPercentilesSmall(t *testing.T) {
	opts := PercentilesOptions{Rows: 20_000, Tenants: 5, Days: 3, Runs: 1}
	header, r, err := measurePercentiles(context.Background(), opts)
	if err != nil { // errNoTDigest: `make test` installs the extension (scripts/ensure-deps.sh)
		t.Fatal(err)
	}
	const groups = 5 * 3
	for way := range numPctWays {
		if r.groups[way] != groups || r.missing[way] != 0 || len(r.ms[way]) != opts.Runs {
			t.Errorf("%s: %d tenant-days, %d missing, %d timed runs; want %d, 0, %d",
				pctWayNames[way], r.groups[way], r.missing[way], len(r.ms[way]), groups, opts.Runs)
		}
	}
	if !r.rewritten {
		t.Error("the proxy's plan equals the raw plan: the approximate query was not rewritten")
	}
	for _, way := range rankWays {
		for i, e := range r.errs[way] {
			if e.groups != groups || !(e.maxRel < 0.05) || !(e.maxRank < 0.05) || !(e.meanRel <= e.maxRel) || !(e.meanRank <= e.maxRank) {
				t.Errorf("%s q=%v: %+v; want %d tenant-days, finite errors below 5%%", pctWayNames[way], pctQuantiles[i], e, groups)
			}
		}
	}
	var buf bytes.Buffer
	if err := writePercentilesTables(&buf, header, r); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"Percentiles: p50/p95/p99 per tenant per day", "tdigest extension 1.", "raw/proxy", "p99"} {
		if !strings.Contains(out, want) {
			t.Errorf("tables lack %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "MISMATCH") || strings.Contains(out, "NaN") {
		t.Errorf("tables report a mismatch or NaN:\n%s", out)
	}
}

func TestWritePercentilesTables(t *testing.T) {
	r := pctResult{groups: [numPctWays]int{3000, 3000, 2999}, rewritten: true}
	r.ms = [numPctWays][]float64{{9000, 10000, 11000}, {40, 50, 60}, {2000}}
	r.missing[pctExt] = 1
	for _, way := range rankWays {
		r.errs[way] = make([]pctError, len(pctQuantiles))
	}
	r.errs[pctProxy][2] = pctError{groups: 3000, maxRel: 0.0123, meanRel: 0.001, maxRank: 0.0004, meanRank: 0.0001}
	var buf bytes.Buffer
	if err := writePercentilesTables(&buf, []string{"header"}, r); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"header\n", "10000.00", "50.00", "2000.00", "200.0x", "5.0x", "yes",
		"MISMATCH raw tdigest extension: 2999 tenant-days, 1 of exact's 3000 missing",
		"p50", "p95", "p99", "1.23e-02", "4.00e-04",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("tables lack %q:\n%s", want, out)
		}
	}
}

func TestPercentileSQL(t *testing.T) {
	where := DefaultPercentilesOptions().window()
	if want := "t >= '2025-01-01 00:00:00+00' AND t < '2025-01-31 00:00:00+00'"; where != want {
		t.Fatalf("window = %q, want %q", where, want)
	}
	tests := []struct {
		way  int
		want string
	}{
		{pctExact, "percentile_cont(ARRAY[0.5,0.95,0.99]) WITHIN GROUP (ORDER BY price) AS q"},
		{pctProxy, "percentile_cont(ARRAY[0.5,0.95,0.99]) WITHIN GROUP (ORDER BY price) AS q"},
		{pctExt, "tdigest_percentile(price, 100, ARRAY[0.5,0.95,0.99]) AS q"},
	}
	for _, tt := range tests {
		t.Run(pctWayNames[tt.way], func(t *testing.T) {
			q := percentileSQL(tt.way, where)
			if !strings.HasPrefix(q, "SELECT sym, date_trunc('day', t) AS d, "+tt.want+" FROM ticks WHERE "+where) ||
				!strings.HasSuffix(q, "GROUP BY 1, 2 ORDER BY 1, 2") {
				t.Errorf("query:\n%s", q)
			}
		})
	}
	rank := rankSQL()
	if !strings.Contains(rank, "e.v[6]") || strings.Contains(rank, "e.v[7]") || !strings.Contains(rank, "x.t >= e.d AND x.t < e.d + interval '1 day'") {
		t.Errorf("rank query:\n%s", rank)
	}
}

func TestPercentilesOptionsValidate(t *testing.T) {
	if err := DefaultPercentilesOptions().Validate(); err != nil {
		t.Errorf("defaults: %v", err)
	}
	for name, change := range map[string]func(*PercentilesOptions){
		"no tenants":    func(o *PercentilesOptions) { o.Tenants = 0 },
		"no days":       func(o *PercentilesOptions) { o.Days = 0 },
		"too few rows":  func(o *PercentilesOptions) { o.Rows = 2*o.Tenants*o.Days - 1 },
		"no timed runs": func(o *PercentilesOptions) { o.Runs = 0 },
	} {
		o := DefaultPercentilesOptions()
		change(&o)
		if o.Validate() == nil {
			t.Errorf("%s: Validate accepted %+v", name, o)
		}
	}
}

func TestPercentileErrorSummary(t *testing.T) {
	k1, k2 := pctKey{sym: 1, day: 0}, pctKey{sym: 2, day: 86400}
	var answers [numPctWays]pctAnswer
	answers[pctExact] = pctAnswer{k1: {100, 200, 400}, k2: {10, 20, 40}}
	answers[pctProxy] = pctAnswer{k1: {101, 200, 400}, k2: {10, 19, 40}}
	// 11 values per group: fractional ranks step by 0.1.
	rank := func(below, upto int64) *pctRank {
		r := &pctRank{total: 11}
		for range pctQuantiles {
			r.below[pctProxy] = append(r.below[pctProxy], below)
			r.upto[pctProxy] = append(r.upto[pctProxy], upto)
		}
		return r
	}
	ranks := pctRanks{k1: rank(5, 6), k2: rank(6, 6)} // k1: at rank 0.5; k2: between ranks 0.5 and 0.6
	got := summarizeErrors(pctProxy, []pctKey{k1, k2}, answers, ranks)
	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-12 }
	if e := got[0]; e.groups != 2 || !near(e.maxRel, 0.01) || !near(e.meanRel, 0.005) || !near(e.maxRank, 0) {
		t.Errorf("p50: %+v", e)
	}
	if e := got[1]; !near(e.maxRel, 0.05) || !near(e.meanRel, 0.025) || !near(e.maxRank, 0.45) || !near(e.meanRank, 0.4) {
		t.Errorf("p95: %+v", e) // k1 at 0.5: 0.45 off; k2 in [0.5, 0.6]: 0.35 off
	}
}
