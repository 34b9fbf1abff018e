package engine_test

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"spiral/stats"
)

// latDDL tracks one float column with every statistical state.
const latDDL = `CREATE TABLE lat (
  t timestamptz NOT NULL,
  svc int NOT NULL,
  ms double precision -- Spiral: stats, sketch, tdigest
) WITH (spiral.frames = '1m,1h,1d', spiral.tenant = 'svc')`

// latDistributions fill lat with one distribution per tenant over two
// days: log-uniform, a large common offset, exponential, normal around 0
// (negative and positive), and a few identical values.
const latLoad = `SELECT setseed(0.25);
INSERT INTO lat SELECT '2024-01-01'::timestamptz + (i * 2.3) * interval '1 second', s,
  CASE s
    WHEN 1 THEN exp(random() * 8)
    WHEN 2 THEN 1e6 + random() * 1000
    WHEN 3 THEN -ln(1 - random()) * 50
    WHEN 4 THEN sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()) * 10
    ELSE 7 END
FROM generate_series(0, 75000) i, generate_series(1, 5) s WHERE (i + s) % 3 = 0`

// loadLat creates lat with ddl through a new proxy, loads latLoad and
// refreshes it.
func loadLat(t *testing.T, ddl string) (via, direct *pgx.Conn) {
	t.Helper()
	e := newEnv(t)
	via, direct = connect(t, e.via), connect(t, e.direct)
	exec(t, via, ddl)
	exec(t, direct, latLoad)
	exec(t, via, `SELECT spiral_refresh('lat')`)
	return via, direct
}

var testQuantiles = []float64{0, 0.01, 0.25, 0.5, 0.9, 0.99, 1}

// exactQuantiles returns, per group of the raw query's GROUP BY, the exact
// percentile_cont and the two order statistics it interpolates between.
type exact struct{ cont, lo, hi, sorted []float64 }

func exactBy(t *testing.T, c *pgx.Conn, table, where, groupBy string) map[string]exact {
	t.Helper()
	q := fmt.Sprintf(`SELECT (%[3]s)::text, percentile_cont($1::float8[]) WITHIN GROUP (ORDER BY ms), array_agg(ms ORDER BY ms)
		FROM %[1]s WHERE %[2]s GROUP BY 1`, table, where, groupBy)
	rows, err := c.Query(context.Background(), q, testQuantiles)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]exact{}
	var key string
	var cont, sorted []float64
	_, err = pgx.ForEachRow(rows, []any{&key, &cont, &sorted}, func() error {
		e := exact{cont: cont, sorted: sorted}
		for _, q := range testQuantiles {
			r := q * float64(len(sorted)-1)
			e.lo = append(e.lo, sorted[int(math.Floor(r))])
			e.hi = append(e.hi, sorted[int(math.Ceil(r))])
		}
		out[key] = e
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSketchQuantilesOnTiers: through the proxy, quantiles of merged tier
// states are within DDSketch's stated bound of the exact percentile_cont
// at every tier, and t-digest's within a rank error of 0.5%, for daily groups
// and for a range that is not aligned to days; both protocols.
func TestSketchQuantilesOnTiers(t *testing.T) {
	via, direct := loadLat(t, latDDL)
	ranges := []struct{ where, group string }{
		{"true", "svc || ' ' || date_trunc('day', t)"},
		{"t >= '2024-01-01 05:00+00' AND t < '2024-01-02 17:00+00'", "svc"},
	}
	for _, r := range ranges {
		want := exactBy(t, direct, "lat", r.where, r.group)
		for _, tier := range []string{"lat_1m", "lat_1h", "lat_1d"} {
			if tier == "lat_1d" && r.where != "true" {
				continue // day buckets do not fit the range
			}
			for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeSimpleProtocol, pgx.QueryExecModeCacheStatement} {
				q := fmt.Sprintf(`SELECT (%s)::text, spiral_sketch_quantile(spiral_sketch_merge(ms_sketch), $1::float8[]),
					spiral_tdigest_quantile(spiral_tdigest_merge(ms_tdigest), $1::float8[]) AS td
					FROM %s WHERE %s GROUP BY 1`, r.group, tier, r.where)
				checkQuantiles(t, fmt.Sprintf("%s %v %s", tier, mode, r.group), via, mode, q, want)
			}
		}
	}
}

func checkQuantiles(t *testing.T, what string, via *pgx.Conn, mode pgx.QueryExecMode, q string, want map[string]exact) {
	t.Helper()
	rows, err := via.Query(context.Background(), q, mode, testQuantiles)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if f := rows.FieldDescriptions(); f[1].DataTypeOID != 1022 || f[1].Name != "spiral_sketch_quantile" || f[2].DataTypeOID != 1022 {
		t.Fatalf("%s: fields %+v, want float8[] spiral_sketch_quantile and td", what, f)
	}
	var key string
	var sk, td []float64
	n := 0
	_, err = pgx.ForEachRow(rows, []any{&key, &sk, &td}, func() error {
		n++
		w, ok := want[key]
		if !ok {
			return fmt.Errorf("group %q not in the raw answer", key)
		}
		for i, q := range testQuantiles {
			if bound := w.sketchBound(i); math.Abs(sk[i]-w.cont[i]) > bound*1.0000001 {
				t.Errorf("%s group %s q=%v: DDSketch %v, exact %v: off by %v, bound %v", what, key, q, sk[i], w.cont[i], math.Abs(sk[i]-w.cont[i]), bound)
			}
			if r := rankError(w.sorted, td[i], q); !(r <= maxDigestRankError) {
				t.Errorf("%s group %s q=%v: t-digest %v has rank error %v, over %v", what, key, q, td[i], r, maxDigestRankError)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if n != len(want) {
		t.Fatalf("%s: %d groups, raw has %d", what, n, len(want))
	}
	t.Logf("%s: largest t-digest rank error so far %.5f", what, maxSeenRankError)
}

// maxDigestRankError bounds the t-digest's rank error in these tests (the
// largest seen here is printed by -v).
const maxDigestRankError = 0.005

// rankError is how far q lies from the fractional ranks x takes in sorted
// (percentile_cont's rank q·(n−1)): the ranks of the values equal to x
// (within 1e-12 relative), or the gap between its neighbours.
func rankError(sorted []float64, x, q float64) float64 {
	if math.IsNaN(x) || len(sorted) < 2 {
		return math.NaN()
	}
	tol := 1e-12 * math.Abs(x)
	below := sort.SearchFloat64s(sorted, x-tol)
	upto := sort.Search(len(sorted), func(i int) bool { return sorted[i] > x+tol })
	lo, hi := float64(below), float64(upto-1)
	if upto == below { // between two values
		lo, hi = float64(below-1), float64(below)
	}
	n := float64(len(sorted) - 1)
	r := q * n
	err := 0.0
	switch {
	case r < lo:
		err = (lo - r) / n
	case r > hi:
		err = (r - hi) / n
	}
	maxSeenRankError = math.Max(maxSeenRankError, err)
	return err
}

// maxSeenRankError is the largest rank error rankError computed.
var maxSeenRankError float64

// sketchBound is DDSketch's bound for quantile i: α·((1−f)·|x⌊r⌋| +
// f·|x⌈r⌉|), taken from above as α times the larger order statistic, plus
// 1e-9 relative for rounding.
func (w exact) sketchBound(i int) float64 {
	return stats.DefaultRelativeAccuracy*math.Max(math.Abs(w.lo[i]), math.Abs(w.hi[i])) + 1e-9*math.Abs(w.cont[i])
}

// TestSketchFunctionErrors: bad arguments and states get clear errors with
// SQLSTATEs, on both protocols, and the session goes on.
func TestSketchFunctionErrors(t *testing.T) {
	e := newEnv(t)
	via, direct := connect(t, e.via), connect(t, e.direct)
	exec(t, via, latDDL)
	exec(t, direct, `INSERT INTO lat VALUES ('2024-01-01 00:00:01+00', 1, 5), ('2024-01-01 00:00:02+00', 1, 6),
		('2024-01-01 00:01:00+00', 2, NULL)`)
	exec(t, via, `SELECT spiral_refresh('lat')`)
	cases := []struct{ sql, code string }{
		{`SELECT spiral_tdigest_quantile(ms_tdigest, 1.5) FROM lat_1m`, "22003"},
		{`SELECT spiral_sketch_quantile(ms_sketch, ARRAY[0.5, -0.1]) FROM lat_1m`, "22003"},
		{`SELECT spiral_sketch_quantile(ms_tdigest, 0.5) FROM lat_1m`, "22023"},
		{`SELECT 1 + spiral_tdigest_quantile(ms_tdigest, 0.5) FROM lat_1m`, "0A000"},
		{`SELECT spiral_tdigest_quantile(ms, 0.5) FROM lat`, "0A000"},
	}
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeSimpleProtocol, pgx.QueryExecModeCacheStatement} {
		for _, c := range cases {
			_, err := via.Exec(context.Background(), c.sql, mode)
			if sqlState(err) != c.code {
				t.Errorf("%v %s: %v, want SQLSTATE %s", mode, c.sql, err, c.code)
			}
		}
		// NULL states and a NULL q give NULL, as percentile_cont does.
		got := query(t, via, `SELECT svc, spiral_tdigest_quantile(ms_tdigest, 0.5), spiral_sketch_quantile(ms_sketch, NULL::float8)
			FROM lat_1m ORDER BY svc`, mode)
		if fmt.Sprint(got) != "[1 | 5.5 | <nil> 2 | <nil> | <nil>]" {
			t.Errorf("%v: NULL handling: %v", mode, got)
		}
	}
	exec(t, direct, `UPDATE lat_1m SET ms_sketch = '\x0102ff'::bytea WHERE svc = 1`)
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeSimpleProtocol, pgx.QueryExecModeCacheStatement} {
		_, err := via.Exec(context.Background(), `SELECT spiral_sketch_quantile(ms_sketch, 0.5) FROM lat_1m`, mode)
		if sqlState(err) != "XX001" {
			t.Errorf("%v: corrupt state: %v, want XX001", mode, err)
		}
		if got := query(t, via, `SELECT 1`, mode); fmt.Sprint(got) != "[1]" {
			t.Fatalf("%v: session after the error: %v", mode, got)
		}
	}
}

// TestNonFiniteValuesInStates: NaN and ±Inf do not stop the refresh. Their buckets, and every coarser bucket
// over them, store the marker state; the other columns are exact, other
// buckets are normal, and every percentile over a marked bucket is 22023,
// as it is over the raw values.
func TestNonFiniteValuesInStates(t *testing.T) {
	e := newEnv(t)
	via, direct := connect(t, e.via), connect(t, e.direct)
	exec(t, via, latDDL)
	exec(t, direct, `INSERT INTO lat VALUES
		('2024-01-01 00:00:01+00', 1, 5), ('2024-01-01 00:00:02+00', 1, 'NaN'),
		('2024-01-01 00:01:01+00', 2, 'Infinity'), ('2024-01-01 00:02:01+00', 3, '-Infinity'),
		('2024-01-01 00:03:01+00', 4, 'NaN'), ('2024-01-01 00:03:02+00', 4, 2),
		('2024-01-01 00:04:01+00', 5, 3), ('2024-01-01 00:04:02+00', 5, 4)`)
	exec(t, via, `SELECT spiral_refresh('lat')`)
	for _, tier := range []string{"lat_1m", "lat_1h", "lat_1d"} {
		got := query(t, direct, `SELECT svc, row_count, (ms_stats).n, ms_sketch = '\xfe', ms_tdigest = '\xfe' FROM `+tier+` ORDER BY svc`)
		want := "[1 | 2 | 2 | true | true 2 | 1 | 1 | true | true 3 | 1 | 1 | true | true 4 | 2 | 2 | true | true 5 | 2 | 2 | false | false]"
		if fmt.Sprint(got) != want {
			t.Errorf("%s: %v, want %s", tier, got, want)
		}
	}
	exec(t, via, `SET spiral.approximate_percentiles = on`)
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeSimpleProtocol, pgx.QueryExecModeCacheStatement} {
		for _, q := range []string{
			`SELECT spiral_sketch_quantile(ms_sketch, 0.5) FROM lat_1d WHERE svc = 4`,
			`SELECT spiral_tdigest_quantile(spiral_tdigest_merge(ms_tdigest), 0.5) FROM lat_1h`,
			`SELECT svc, percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) FROM lat GROUP BY svc`,
		} {
			if _, err := via.Exec(context.Background(), q, mode); sqlState(err) != "22023" {
				t.Errorf("%v %s: %v, want SQLSTATE 22023", mode, q, err)
			}
		}
		got := query(t, via, `SELECT spiral_sketch_quantile(ms_sketch, 0.5) FROM lat_1d WHERE svc = 5`, mode)
		if fmt.Sprint(got) != "[3.5]" && !strings.HasPrefix(fmt.Sprint(got), "[3.4") {
			t.Errorf("%v: a clean bucket's median: %v", mode, got)
		}
	}
}

// TestApproximatePercentiles: with spiral.approximate_percentiles on,
// percentile_cont over a tracked table is answered from t-digest tiers
// (DDSketch where the column has no t-digest) plus raw values of dirty and
// edge ranges, within the same bounds as on tiers, across tier boundaries
// and with fresh unrefreshed rows; a plan that falls back to the raw table
// returns PostgreSQL's exact answer; with the setting off it passes
// through exactly.
func TestApproximatePercentiles(t *testing.T) {
	e := newEnv(t)
	via, direct := connect(t, e.via), connect(t, e.direct)
	exec(t, via, latDDL)
	exec(t, via, `CREATE TABLE lat_s (t timestamptz NOT NULL, svc int NOT NULL,
		ms double precision -- Spiral: sketch
		) WITH (spiral.frames = '1m,1h,1d', spiral.tenant = 'svc')`)
	exec(t, direct, latLoad)
	exec(t, direct, `INSERT INTO lat_s SELECT * FROM lat`)
	exec(t, via, `SELECT spiral_refresh('lat')`)
	exec(t, via, `SELECT spiral_refresh('lat_s')`)
	exec(t, direct, `INSERT INTO lat SELECT t + interval '7 seconds', svc, ms * 3 FROM lat WHERE t < '2024-01-01 02:00+00'`)
	exec(t, direct, `INSERT INTO lat_s SELECT t + interval '7 seconds', svc, ms * 3 FROM lat_s WHERE t < '2024-01-01 02:00+00'`)
	where := "t >= '2024-01-01 00:17:23+00' AND t < '2024-01-02 17:42:00+00'"
	exec(t, via, `SET spiral.approximate_percentiles = on`)
	for _, table := range []string{"lat", "lat_s"} {
		raw := fmt.Sprintf(`SELECT svc, percentile_cont($1::float8[]) WITHIN GROUP (ORDER BY ms) AS q FROM %s WHERE %s GROUP BY 1 ORDER BY 1`, table, where)
		if !strings.Contains(plan(t, via, raw, testQuantiles), table+"_1h") {
			t.Fatalf("%s: the approximate plan does not read the hourly tier", table)
		}
		want := exactBy(t, direct, table, where, "svc")
		for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeSimpleProtocol, pgx.QueryExecModeCacheStatement} {
			got := arraysBy(t, via, mode, raw)
			for key, w := range want {
				for i, q := range testQuantiles {
					var ok bool
					if table == "lat" {
						ok = rankError(w.sorted, got[key][i], q) <= maxDigestRankError
					} else {
						ok = math.Abs(got[key][i]-w.cont[i]) <= w.sketchBound(i)*1.0000001
					}
					if !ok {
						t.Errorf("%s %v svc %s q=%v: %v, exact %v", table, mode, key, q, got[key][i], w.cont[i])
					}
				}
			}
		}
		// Fallback to the raw table: PostgreSQL's exact answer.
		exec(t, via, `SET spiral.max_segments = 1`)
		sameRows(t, table+" fallback", query(t, via, raw, testQuantiles), query(t, direct, raw, testQuantiles))
		exec(t, via, `RESET spiral.max_segments`)
	}
	exec(t, via, `SET spiral.approximate_percentiles = off`)
	q := `SELECT svc, percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) FROM lat GROUP BY 1 ORDER BY 1`
	sameRows(t, "setting off", query(t, via, q), query(t, direct, q))
	if strings.Contains(plan(t, via, q), "lat_1h") {
		t.Fatal("with the setting off, the plan reads a tier")
	}
}

func arraysBy(t *testing.T, c *pgx.Conn, mode pgx.QueryExecMode, q string) map[string][]float64 {
	t.Helper()
	rows, err := c.Query(context.Background(), q, mode, testQuantiles)
	if err != nil {
		t.Fatal(err)
	}
	if f := rows.FieldDescriptions(); f[1].DataTypeOID != 1022 || f[1].Name != "q" {
		t.Fatalf("%v: fields %+v", mode, f)
	}
	out := map[string][]float64{}
	var key int32
	var qs []float64
	if _, err := pgx.ForEachRow(rows, []any{&key, &qs}, func() error { out[fmt.Sprint(key)] = qs; return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

// plan returns the plan of q, prepared anew (the simple protocol).
func plan(t *testing.T, c *pgx.Conn, q string, args ...any) string {
	t.Helper()
	return strings.Join(query(t, c, "EXPLAIN "+q, append([]any{pgx.QueryExecModeSimpleProtocol}, args...)...), "\n")
}

// TestApproximatePercentilesTableOption: the table option makes
// approximate percentiles the default for that table; a session's explicit
// off wins; ALTER TABLE ... SET turns the option off again.
func TestApproximatePercentilesTableOption(t *testing.T) {
	via, direct := loadLat(t, strings.Replace(latDDL, "spiral.tenant = 'svc'", "spiral.tenant = 'svc', spiral.approximate_percentiles = 'on'", 1))
	q := `SELECT svc, percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) FROM lat GROUP BY 1 ORDER BY 1`
	if got := query(t, via, `SHOW spiral.approximate_percentiles`); fmt.Sprint(got) != "[table]" {
		t.Fatalf("default setting %v, want table", got)
	}
	if !strings.Contains(plan(t, via, q), "lat_1h") {
		t.Fatal("with the table option on, the plan does not read a tier")
	}
	exec(t, via, `SET spiral.approximate_percentiles = off`)
	if strings.Contains(plan(t, via, q), "lat_1h") {
		t.Fatalf("with the session setting off, the plan reads a tier: %s", plan(t, via, q))
	}
	sameRows(t, "session off", query(t, via, q), query(t, direct, q))
	exec(t, via, `RESET spiral.approximate_percentiles`)
	// A statement prepared while approximate answers were allowed answers
	// exactly after SET ... = off (a run-time guard).
	q2 := strings.Replace(q, "0.5", "0.75", 1)
	approx := query(t, via, q2)
	exec(t, via, `SET spiral.approximate_percentiles = off`)
	sameRows(t, "cached statement after off", query(t, via, q2), query(t, direct, q2))
	exec(t, via, `RESET spiral.approximate_percentiles`)
	if fmt.Sprint(approx) == fmt.Sprint(query(t, direct, q2)) {
		t.Fatal("the approximate answer equals the exact one; the guard test proves nothing")
	}
	exec(t, via, `ALTER TABLE lat SET (spiral.approximate_percentiles = 'off')`)
	if strings.Contains(plan(t, via, q), "lat_1h") {
		t.Fatal("after ALTER TABLE ... SET (spiral.approximate_percentiles = 'off'), the plan reads a tier")
	}
	_, err := via.Exec(context.Background(), `CREATE TABLE bad (t timestamptz NOT NULL,
		v int -- Spiral: sum
		) WITH (spiral.frames = '1h', spiral.approximate_percentiles = 'on')`)
	if sqlState(err) != "22023" {
		t.Fatalf("option on a table without sketches: %v, want 22023", err)
	}
}

// TestStatsFunctionsThroughProxy: the unqualified spiral_stats_* names work
// through the proxy over tier states and agree with avg/var_samp/
// stddev_samp on the raw rows (query rounds to 9 significant digits).
func TestStatsFunctionsThroughProxy(t *testing.T) {
	via, direct := loadLat(t, latDDL)
	for _, tier := range []string{"lat_1m", "lat_1h", "lat_1d"} {
		got := query(t, via, `SELECT svc, spiral_stats_count(spiral_stats_merge(ms_stats)), spiral_stats_mean(spiral_stats_merge(ms_stats)),
			spiral_stats_variance(spiral_stats_merge(ms_stats)), spiral_stats_stddev(spiral_stats_merge(ms_stats)) FROM `+tier+` GROUP BY 1 ORDER BY 1`)
		want := query(t, direct, `SELECT svc, count(ms), avg(ms), var_samp(ms), stddev_samp(ms) FROM lat GROUP BY 1 ORDER BY 1`)
		sameRows(t, tier, got, want)
	}
}
