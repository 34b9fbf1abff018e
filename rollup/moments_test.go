package rollup

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"spiral/internal/pgtest"
)

// TestFoldedMomentsMatchSQL: the finest tier's stats and float open/close
// of a table with sketch columns, folded in Go (a set of few buckets),
// equal what the SQL path stores for the same rows (stats 1e-9 relative,
// open/close exactly), for ordinary data, data with a large common offset,
// NULLs, an all-NULL bucket, non-finite values and rows sharing a time;
// and the tier above, merged in SQL from them, does too.
func TestFoldedMomentsMatchSQL(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.NewDB(t)
	pgtest.Exec(t, dsn, `CREATE SCHEMA spiral; CREATE TYPE spiral.moments AS (n bigint, m1 float8, m2 float8, m3 float8, m4 float8)`)
	pgtest.Exec(t, dsn, `CREATE TABLE viago (t timestamptz NOT NULL, sym int NOT NULL, price float8, p4 float4)`)
	pgtest.Exec(t, dsn, `INSERT INTO viago SELECT '2024-01-01'::timestamptz + i * interval '7 seconds', i % 4,
		CASE WHEN i % 4 = 0 THEN 1e9 + (i % 13) * 0.001        -- a large offset
		     WHEN i % 4 = 1 AND i BETWEEN 60 AND 120 THEN NULL -- an all-NULL minute
		     WHEN i % 4 = 1 THEN CASE WHEN i % 5 = 0 THEN NULL ELSE sin(i) * 1e3 END
		     WHEN i % 4 = 2 AND i = 42 THEN 'Infinity'
		     WHEN i % 4 = 2 AND i = 98 THEN 'NaN'
		     ELSE (i % 17)::float8 END
		FROM generate_series(0, 1999) i`)
	pgtest.Exec(t, dsn, `UPDATE viago SET p4 = price`)
	// rows at the same times as others, with values above and below theirs
	pgtest.Exec(t, dsn, `INSERT INTO viago SELECT t, sym, price + s, price - s FROM viago, (VALUES (-1.5), (2.5)) v(s) WHERE extract(second FROM t)::int % 3 = 0`)
	pgtest.Exec(t, dsn, `INSERT INTO viago SELECT t, sym, 'NaN', 'NaN' FROM viago WHERE extract(second FROM t)::int % 10 = 4 AND price IS NOT NULL`)
	pgtest.Exec(t, dsn, `CREATE TABLE viasql AS SELECT * FROM viago`)
	frames := []Frame{{Name: "1m", Seconds: 60}, {Name: "1h", Seconds: 3600}}
	table := func(name string, kinds ...Kind) *Table {
		return &Table{Name: name, Schema: "public", TimeColumn: "t", ScopeColumns: []string{"sym"}, ScopeTypes: []string{"int4"},
			TimeZone: "UTC", Frames: frames, Columns: []Column{{Name: "price", Type: "float8", Kinds: kinds},
				{Name: "p4", Type: "float4", Kinds: []Kind{KindOHLC}}}}
	}
	goT, sqlT := table("viago", KindStats, KindOHLC, KindSketch), table("viasql", KindStats, KindOHLC)
	for _, c := range goT.sqlPart(true).TierColumns() {
		if c.Kind == KindStats || c.floatOpenClose() {
			t.Fatalf("the SQL part of a set folded in Go computes %s", c.Name)
		}
	}
	conn := pgtest.Connect(t, dsn)
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tb := range []*Table{goT, sqlT} {
		for _, f := range frames {
			pgtest.Exec(t, dsn, tb.TierDDL(f))
		}
		tx, err := conn.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var items []item // one per tenant: 4 x 300 minutes, folded unordered with the stats
		for sym := range 4 {
			items = append(items, item{scope: fmt.Appendf(nil, `{"sym": %d}`, sym), lo: t0, hi: t0.Add(5 * time.Hour)})
		}
		if err := recompute(ctx, tx, tb, items, time.UTC, nil); err != nil {
			t.Fatalf("recompute %s: %v", tb.Name, err)
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range frames {
		rows, err := conn.Query(ctx, `SELECT g.sym, g.t, (g.price_stats).n, (s.price_stats).n,
			ARRAY[(g.price_stats).m1, (g.price_stats).m2, (g.price_stats).m3, (g.price_stats).m4],
			ARRAY[(s.price_stats).m1, (s.price_stats).m2, (s.price_stats).m3, (s.price_stats).m4]
			FROM viago_`+f.Name+` g FULL JOIN viasql_`+f.Name+` s USING (sym, t) ORDER BY 1, 2`)
		if err != nil {
			t.Fatal(err)
		}
		count := 0
		for rows.Next() {
			var sym int
			var at time.Time
			var gn, sn *int64
			var gm, sm []float64
			if err := rows.Scan(&sym, &at, &gn, &sn, &gm, &sm); err != nil {
				t.Fatal(err)
			}
			if gn == nil || sn == nil || *gn != *sn {
				t.Fatalf("%s sym %d %s: n %v (Go) vs %v (SQL)", f.Name, sym, at, gn, sn)
			}
			if !sameStats(*gn, gm, sm) {
				t.Errorf("%s sym %d %s: n %d, m1..m4 %v (Go) vs %v (SQL)", f.Name, sym, at, *gn, gm, sm)
			}
			count++
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		if count < 4 {
			t.Fatalf("%s: %d buckets compared", f.Name, count)
		}
		var differ int
		err = conn.QueryRow(ctx, `SELECT count(*) FROM viago_`+f.Name+` g FULL JOIN viasql_`+f.Name+` s USING (sym, t)
			WHERE (g.price_ohlcv_o, g.price_ohlcv_c, g.p4_ohlcv_o, g.p4_ohlcv_c)
			IS DISTINCT FROM (s.price_ohlcv_o, s.price_ohlcv_c, s.p4_ohlcv_o, s.p4_ohlcv_c)`).Scan(&differ)
		if err != nil || differ != 0 {
			t.Fatalf("%s: open/close differ in %d buckets (%v)", f.Name, differ, err)
		}
	}
}

// sameStats compares what the moments answer: the mean and the variance
// within 1e-9 relative, skewness and kurtosis within 1e-6 (m3 and m4 of
// nearly symmetric data are rounding noise around 0, which only these
// ratios put in scale).
func sameStats(n int64, a, b []float64) bool {
	derived := func(m []float64) []float64 {
		nf := float64(n)
		return []float64{m[0], m[1] / nf, math.Sqrt(nf) * m[2] / math.Pow(m[1], 1.5), nf * m[3] / (m[1] * m[1])}
	}
	da, db := derived(a), derived(b)
	for i, tol := range []float64{1e-9, 1e-9, 1e-6, 1e-6} {
		x, y := da[i], db[i]
		switch {
		case x == y || (math.IsNaN(x) && math.IsNaN(y)):
		case i >= 2 && a[1] == 0 && b[1] == 0: // no spread: skewness and kurtosis are 0/0
		case math.IsNaN(x) || math.IsNaN(y) || math.IsInf(x, 0) || math.IsInf(y, 0):
			return false
		case math.Abs(x-y) > tol*math.Max(math.Max(math.Abs(x), math.Abs(y)), 1):
			return false
		}
	}
	return true
}
