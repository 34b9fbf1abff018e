package bench

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	"spiral/rollup"
)

func TestWriteBackfillTable(t *testing.T) {
	a, b := backfillCases[0], backfillCases[1]
	results := []backfillResult{
		{rows: 1_000_000, cse: a, method: pgGroupBy, marks: 3000, elapsed: 2 * time.Second},
		{rows: 1_000_000, cse: a, method: loadMarks, marks: 3000, elapsed: 4 * time.Second, match: "yes"},
		{rows: 1_000_000, cse: a, method: backfillMarks, marks: 1, elapsed: 2500 * time.Millisecond, match: "yes"},
		{rows: 1_000_000, cse: b, method: pgGroupBy, elapsed: time.Second},
		{rows: 1_000_000, cse: b, method: loadMarks, elapsed: 2 * time.Second, match: "NO"},
		{rows: 1_000_000, cse: b, method: backfillMarks, elapsed: 5 * time.Second, match: "yes"},
	}
	var buf bytes.Buffer
	if err := writeBackfillTable(&buf, []string{"header"}, results); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"0.50x", ">= 0.70x MISSED", // (a) load marks: 2 s vs 4 s
		"0.80x", ">= 0.70x met", // (a) backfill mark
		"500000", ">= 300k rows/s met", // (b) load marks: 1M rows in 2 s
		">= 300k rows/s MISSED", "NO", // (b) backfill mark: 200k rows/s
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

func TestBaselineTable(t *testing.T) {
	tb := &rollup.Table{
		Schema: "public", Name: "ticks", TimeColumn: "t", ScopeColumns: []string{"sym"}, ScopeTypes: []string{"int4"},
		Frames: []rollup.Frame{{Name: "1m", Seconds: 60}},
		Columns: []rollup.Column{
			{Name: "price", Type: "float8", Kinds: []rollup.Kind{rollup.KindStats, rollup.KindSketch, rollup.KindTDigest}},
			{Name: "depth", Type: "float8", Kinds: []rollup.Kind{rollup.KindSketch}},
			{Name: "vol", Type: "int4", Kinds: []rollup.Kind{rollup.KindSum}},
		},
	}
	base := baselineTable(tb)
	if base.Schema != baselineSchema || base.Name != "ticks" || !base.SQLPath() {
		t.Fatalf("baseline %s.%s, SQL path %v", base.Schema, base.Name, base.SQLPath())
	}
	if len(tb.Columns) != 3 || len(tb.Columns[0].Kinds) != 3 {
		t.Fatalf("baselineTable changed its argument: %+v", tb.Columns)
	}
	got := exactColumns(base)
	want := []string{`"sym"`, `"t"`, `"row_count"`, `"vol"`}
	if !slices.Equal(got, want) {
		t.Errorf("exactColumns = %v, want %v", got, want)
	}
	if sql := baselineSQL(base); len(sql) != 1 || !strings.Contains(sql[0], `INSERT INTO "pgbase"."ticks_1m"`) {
		t.Errorf("baselineSQL = %v", sql)
	}
}
