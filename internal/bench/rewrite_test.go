package bench

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"time"
)

func TestDiffResults(t *testing.T) {
	at := time.Date(2025, 1, 30, 0, 0, 0, 0, time.UTC)
	berlin := at.In(time.FixedZone("CET", 3600))
	want := resultSet{
		names: []string{"h", "sym", "max", "sum", "avg"},
		oids:  []uint32{1184, 23, 701, 20, 701},
		rows: [][]any{
			{at, int32(1), 101.5, int64(12345), 100.25},
			{at, int32(2), math.NaN(), int64(7), nil},
		},
	}
	// with returns want with row i, column j replaced by v.
	with := func(i, j int, v any) resultSet {
		got := want
		got.rows = [][]any{append([]any(nil), want.rows[0]...), append([]any(nil), want.rows[1]...)}
		got.rows[i][j] = v
		return got
	}
	tests := []struct {
		name string
		got  resultSet
		diff string // "" for equal, else a substring of the difference
	}{
		{"identical", with(0, 0, at), ""},
		{"same instant in another zone", with(0, 0, berlin), ""},
		{"float within 1e-9 relative", with(0, 4, 100.25*(1+5e-10)), ""},
		{"NaN equals NaN", with(1, 2, math.NaN()), ""},
		{"float beyond 1e-9 relative", with(0, 4, 100.25*(1+2e-9)), "row 1 column avg"},
		{"int off by one", with(0, 3, int64(12346)), "row 1 column sum: 12346, want 12345"},
		{"int as float", with(0, 3, float64(12345)), "row 1 column sum"},
		{"value for NULL", with(1, 4, 0.0), "row 2 column avg"},
		{"NULL for value", with(0, 2, nil), "row 1 column max"},
		{"later bucket", with(1, 0, at.Add(time.Hour)), "row 2 column h"},
		{"rows swapped", resultSet{names: want.names, oids: want.oids, rows: [][]any{want.rows[1], want.rows[0]}}, "row 1 column sym"},
		{"row missing", resultSet{names: want.names, oids: want.oids, rows: want.rows[:1]}, "1 rows, want 2"},
		{"column renamed", resultSet{names: []string{"date_trunc", "sym", "max", "sum", "avg"}, oids: want.oids, rows: want.rows}, "columns"},
		{"numeric for bigint", resultSet{names: want.names, oids: []uint32{1184, 23, 701, 1700, 701}, rows: want.rows}, "column types"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := diffResults(want, tt.got)
			if tt.diff == "" && got != "" || tt.diff != "" && !strings.Contains(got, tt.diff) {
				t.Errorf("diffResults = %q, want %q", got, tt.diff)
			}
		})
	}
}

func TestRewriteQueries(t *testing.T) {
	opts := DefaultRewriteOptions()
	end := opts.rewriteEnd()
	if want := time.Date(2025, 1, 31, 0, 0, 0, 0, time.UTC); !end.Equal(want) {
		t.Fatalf("rewriteEnd = %s, want %s", end, want)
	}
	qs := rewriteQueries(end, opts.Days)
	tests := []struct {
		window, tier string
	}{
		{"t >= '2025-01-24 00:00:00+00' AND t < '2025-01-31 00:00:00+00'", "FROM ticks_1h"},
		{"t >= '2025-01-01 00:00:00+00' AND t < '2025-01-31 00:00:00+00'", "FROM ticks_1h"},
		{"t >= '2025-01-01 00:00:00+00' AND t < '2025-01-31 00:00:00+00'", "FROM ticks_1d"},
		{"sym = 7 AND t >= '2025-01-30 00:00:00+00' AND t < '2025-01-31 00:00:00+00'", "FROM ticks_1h"},
	}
	if len(qs) != len(tests) {
		t.Fatalf("%d queries, want %d", len(qs), len(tests))
	}
	for i, tt := range tests {
		t.Run(qs[i].name, func(t *testing.T) {
			q := qs[i]
			if !strings.Contains(q.sql, "FROM ticks WHERE "+tt.window+" GROUP BY") {
				t.Errorf("query lacks the window %q:\n%s", tt.window, q.sql)
			}
			if !strings.Contains(q.tier, tt.tier+" WHERE "+tt.window) {
				t.Errorf("tier query does not read %s over %q:\n%s", tt.tier, tt.window, q.tier)
			}
			if !strings.HasSuffix(q.sql, "ORDER BY 1") && !strings.HasSuffix(q.sql, "ORDER BY 1, 2") {
				t.Errorf("query does not fix its row order:\n%s", q.sql)
			}
		})
	}
}

func TestRewriteOptionsValidate(t *testing.T) {
	if err := DefaultRewriteOptions().Validate(); err != nil {
		t.Errorf("defaults: %v", err)
	}
	for name, change := range map[string]func(*RewriteOptions){
		"no tenant 7":       func(o *RewriteOptions) { o.Tenants = 6 },
		"too few rows":      func(o *RewriteOptions) { o.Rows = 99 },
		"no days":           func(o *RewriteOptions) { o.Days = 0 },
		"no runs":           func(o *RewriteOptions) { o.Runs = 0 },
		"no overhead calls": func(o *RewriteOptions) { o.Iterations = 0 },
	} {
		o := DefaultRewriteOptions()
		change(&o)
		if o.Validate() == nil {
			t.Errorf("%s: Validate accepted %+v", name, o)
		}
	}
}

func TestWriteRewriteTables(t *testing.T) {
	fast := rewriteResult{q: rewriteQuery{name: "1 fast"}, rows: 16800, rewritten: true}
	fast.ms[rawTarget] = []float64{4000, 5000, 4500}
	fast.ms[proxyTarget] = []float64{30, 10, 20} // median 20: 225x
	fast.ms[tierTarget] = []float64{15, 16, 17}  // 20/16 = 1.25x
	slow := rewriteResult{q: rewriteQuery{name: "2 slow"}, rows: 24, tierDiff: "row 3 column max: 1, want 2"}
	slow.ms = [numRewriteTargets][]float64{{100}, {50}, {10}} // 2x, 5x
	wrong := rewriteResult{q: rewriteQuery{name: "3 wrong"}, rows: 30, rewritten: true, proxyDiff: "29 rows, want 30"}
	wrong.ms = [numRewriteTargets][]float64{{1000}, {1}, {1}}
	over := []overheadResult{{cse: overheadCase{name: "SELECT 1"}, mode: "simple", iterations: 500, directUS: 30, viaUS: 50}}
	var buf bytes.Buffer
	if err := writeRewriteTables(&buf, []string{"header"}, []rewriteResult{fast, slow, wrong}, over); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"header\n",
		"225.0x", "1.25x", "raw/proxy >= 100x met, proxy/tier <= 1.5x met",
		"2.0x", "5.00x", "raw/proxy >= 100x MISSED, proxy/tier <= 1.5x MISSED",
		"MISSED: wrong answers",
		"MISMATCH query 2 slow hand-written on the tier: row 3 column max: 1, want 2",
		"MISMATCH query 3 wrong through spiral: 29 rows, want 30",
		"500 statements per side", "+20.0",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("tables lack %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "MISMATCH query 1") {
		t.Errorf("a matching query is reported as a mismatch:\n%s", out)
	}
}

func TestRewriteResultNote(t *testing.T) {
	var r rewriteResult
	r.note(proxyTarget, "")
	r.note(proxyTarget, "first")
	r.note(proxyTarget, "second")
	r.note(tierTarget, "tier")
	if r.proxyDiff != "first" || r.tierDiff != "tier" {
		t.Errorf("note kept proxy %q, tier %q; want the first of each", r.proxyDiff, r.tierDiff)
	}
}

func TestWriteBacklogTable(t *testing.T) {
	ok := rewriteResult{q: rewriteQuery{name: "3 daily"}, rows: 30}
	ok.ms[rawTarget], ok.ms[proxyTarget] = []float64{900}, []float64{30}
	wrong := rewriteResult{q: rewriteQuery{name: "4 one"}, rows: 24, proxyDiff: "row 2 column sum: 3, want 4"}
	wrong.ms[rawTarget], wrong.ms[proxyTarget] = []float64{10}, []float64{20}
	var buf bytes.Buffer
	err := writeBacklogTable(&buf, RewriteOptions{Tenants: 100}, []backlogResult{{hours: 1, results: []rewriteResult{ok}}, {hours: 24, results: []rewriteResult{wrong}}})
	if err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"N*100 dirty", "30.0x", "0.5x", "MISMATCH query 4 one through spiral: row 2 column sum: 3, want 4"} {
		if !strings.Contains(out, want) {
			t.Errorf("backlog table lacks %q:\n%s", want, out)
		}
	}
}
