package bench

import (
	"testing"
	"time"

	"spiral/rewrite"
	"spiral/rollup"
)

func TestSpreadTicks(t *testing.T) {
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	rows := spreadTicks(1000, 7, start, time.Hour)
	if rows.len() != 1000 || len(rows.sym) != 1000 || len(rows.price) != 1000 || len(rows.vol) != 1000 {
		t.Fatalf("got %d/%d/%d/%d rows, want 1000 of each column", rows.len(), len(rows.sym), len(rows.price), len(rows.vol))
	}
	if !rows.t[0].Equal(start) || !rows.t[999].Before(start.Add(time.Hour)) {
		t.Errorf("times span %s..%s, want within [%s, +1h)", rows.t[0], rows.t[999], start)
	}
	for i := range rows.len() {
		if i > 0 && !rows.t[i].After(rows.t[i-1]) {
			t.Fatalf("row %d at %s is not after row %d at %s", i, rows.t[i], i-1, rows.t[i-1])
		}
		if want := int32(i%7 + 1); rows.sym[i] != want {
			t.Fatalf("row %d has sym %d, want %d (tenants take turns)", i, rows.sym[i], want)
		}
		if rows.vol[i] < 1 || rows.vol[i] > 1000 || rows.price[i] <= 0 {
			t.Fatalf("row %d: vol %d, price %v out of range", i, rows.vol[i], rows.price[i])
		}
	}
	again := spreadTicks(1000, 7, start, time.Hour)
	if again.price[999] != rows.price[999] || again.vol[500] != rows.vol[500] {
		t.Error("spreadTicks is not deterministic")
	}
	if sub := rows.slice(10, 20); sub.len() != 10 || sub.sym[0] != rows.sym[10] {
		t.Errorf("slice(10, 20) = %d rows starting at sym %d", sub.len(), sub.sym[0])
	}
}

// TestTrackedDDL checks that the benchmark tables are what spiral's
// rewriter accepts and means: tiers, tenant and kinds.
func TestTrackedDDL(t *testing.T) {
	for _, k := range []tickKinds{demoKinds, backfillCases[0].kinds, backfillCases[1].kinds} {
		st, ok := rewrite.Classify(trackedDDL("ticks", k)).(*rewrite.CreateTracked)
		if !ok {
			t.Fatalf("%s: not classified as CREATE TABLE WITH spiral.*", k)
		}
		tb := st.Table
		if err := tb.Validate(); err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		if len(tb.Frames) != 3 || tb.TimeColumn != "t" || len(tb.ScopeColumns) != 1 || tb.ScopeColumns[0] != "sym" {
			t.Errorf("%s: frames %v, time %q, scope %v", k, tb.Frames, tb.TimeColumn, tb.ScopeColumns)
		}
		if len(tb.Columns) != 2 || tb.Columns[1].Name != "vol" || len(tb.Columns[1].Kinds) != 1 || tb.Columns[1].Kinds[0] != rollup.KindSum {
			t.Errorf("%s: columns %+v", k, tb.Columns)
		}
	}
}
