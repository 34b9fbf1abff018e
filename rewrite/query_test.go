package rewrite

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	pg "github.com/pganalyze/pg_query_go/v5"

	"spiral/rollup"
)

// rewriteDir holds the query golden files: NAME.sql in (an optional first
// line "-- tz: Zone" sets the session's TimeZone, UTC otherwise),
// NAME.golden out: the rewritten statement, broken into lines at its
// segments, or "PASS THROUGH: why". A line "-- approximate_percentiles"
// turns the session setting on; the golden then lists finished columns. A
// line "-- dense: NAME" marks tier NAME Dense (catalog.go).
const rewriteDir = "../testdata/rewrite"

// testCatalog has two tracked tables: ticks (one scope column, UTC tiers
// up to a calendar month) and metrics (two scope columns, Berlin calendar).
func testCatalog() *Catalog {
	ticks := &rollup.Table{
		Schema: "public", Name: "ticks", TimeColumn: "t", ScopeColumns: []string{"sym"}, ScopeTypes: []string{"int4"},
		TimeZone: "UTC", Frames: mustFrames("1m,1h,1d,1mon"),
		Columns: []rollup.Column{
			{Name: "price", Type: "float8", Kinds: []rollup.Kind{rollup.KindOHLCV, rollup.KindStats, rollup.KindSketch, rollup.KindTDigest}},
			{Name: "vol", Type: "int4", Kinds: []rollup.Kind{rollup.KindSum, rollup.KindMax}},
		},
	}
	metrics := &rollup.Table{
		Schema: "public", Name: "metrics", TimeColumn: "ts", ScopeColumns: []string{"region", "host"},
		ScopeTypes: []string{"text", "varchar"}, TimeZone: "Europe/Berlin", Frames: mustFrames("1h,1d,1mon"),
		Columns: []rollup.Column{{Name: "v", Type: "numeric", Kinds: []rollup.Kind{rollup.KindSum, rollup.KindCount, rollup.KindMin, rollup.KindStats}}},
	}
	return &Catalog{Sources: []*Source{
		source(ticks, 16400, map[string]string{"t": "timestamp with time zone", "sym": "integer", "price": "double precision", "vol": "integer"}),
		source(metrics, 16500, map[string]string{"ts": "timestamp with time zone", "region": "text", "host": "character varying(32)", "v": "numeric(12,3)"}),
	}}
}

func mustFrames(s string) []rollup.Frame {
	f, err := rollup.ParseFrames(s)
	if err != nil {
		panic(err)
	}
	return f
}

func source(t *rollup.Table, oid uint32, cols map[string]string) *Source {
	s := &Source{Table: t, OID: oid, Columns: cols}
	for _, f := range t.Frames {
		s.Tiers = append(s.Tiers, Tier{Frame: f, Schema: t.Schema, Name: t.TierName(f)})
	}
	return s
}

func TestRewriteGolden(t *testing.T) {
	eachGolden(t, rewriteDir, func(t *testing.T, name, sql, golden string) {
		set := Settings{TimeZone: "UTC"}
		if first, _, _ := strings.Cut(sql, "\n"); strings.HasPrefix(first, "-- tz: ") {
			set.TimeZone = strings.TrimSpace(strings.TrimPrefix(first, "-- tz: "))
		}
		if strings.Contains(sql, "-- approximate_percentiles\n") {
			set.Percentiles = PercentilesApprox
		}
		cat := testCatalog()
		for _, line := range strings.Split(sql, "\n") {
			if name, ok := strings.CutPrefix(line, "-- dense: "); ok {
				markDense(t, cat, strings.TrimSpace(name))
			}
		}
		out, fin, err := QueryFinish(sql, cat, set)
		again, _, err2 := QueryFinish(sql, cat, set)
		if out != again || (err == nil) != (err2 == nil) {
			t.Fatalf("rewriting is not deterministic:\n%s\n%s", out, again)
		}
		var got string
		if err == nil {
			if _, perr := pg.Parse(out); perr != nil {
				t.Fatalf("the rewritten statement does not parse: %v", perr)
			}
			// The proxy keeps a rewrite prepared only when it has no "$"
			// (proxy/prepared.go): one of a statement without parameters
			// must not gain one, or it is planned on every run.
			if !strings.Contains(sql, "$") && strings.Contains(out, "$") {
				t.Errorf("the rewrite of a statement without parameters holds a $, so the proxy cannot prepare it")
			}
			got = layout(out)
			if fin != nil {
				for _, c := range fin.Columns {
					got += fmt.Sprintf("-- finish column %d: %s, array %v\n", c.Index+1, c.Kind, c.Array)
				}
			}
		} else if !IsSkip(err) {
			t.Fatalf("rewrite failed: %v", err)
		} else {
			got = "PASS THROUGH: " + errText(err) + "\n"
		}
		wantPass := strings.HasPrefix(name, "pass_")
		if wantPass != (err != nil) {
			t.Errorf("%s: rewritten = %v; files named pass_* must pass through, others must be rewritten (%v)", name, err == nil, err)
		}
		compareGolden(t, golden, got)
	})
}

// markDense marks the tier named name Dense.
func markDense(t *testing.T, cat *Catalog, name string) {
	for _, s := range cat.Sources {
		for i := range s.Tiers {
			if s.Tiers[i].Name == name {
				s.Tiers[i].Dense = true
				return
			}
		}
	}
	t.Fatalf("-- dense: no tier %q in the test catalog", name)
}

func errText(err error) string {
	var s *Skip
	if errors.As(err, &s) {
		return s.Reason
	}
	return err.Error()
}

// layout breaks a rewritten statement into lines at its CTEs and segments,
// for review.
func layout(sql string) string {
	r := strings.NewReplacer(
		", spiral_", ",\n  spiral_",
		" UNION ALL ", "\n  UNION ALL\n",
		") SELECT ", ")\nSELECT ",
		" FROM (((", "\nFROM (((",
		" GROUP BY spiral_s", "\nGROUP BY spiral_s",
	)
	return r.Replace(sql) + "\n"
}
