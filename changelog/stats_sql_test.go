package changelog_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"spiral/changelog"
	"spiral/internal/pgtest"
	"spiral/stats"
)

// A statsGroup is one group of raw values and the states of its buckets in
// bucket order, as a tier holds them: some buckets are empty (n = 0) and a
// nil state is SQL NULL.
type statsGroup struct {
	name  string
	xs    []float64
	parts []*stats.Moments
}

// bucketed splits xs into k buckets at random, keeping the order of the
// values in each, and adds a NULL state now and then.
func bucketed(r *rand.Rand, name string, xs []float64, k int) statsGroup {
	g := statsGroup{name: name, xs: xs, parts: make([]*stats.Moments, k)}
	for i := range g.parts {
		g.parts[i] = new(stats.Moments)
	}
	for _, x := range xs {
		g.parts[r.IntN(k)].Add(x)
	}
	if r.IntN(2) == 0 {
		i := r.IntN(k + 1)
		g.parts = append(g.parts[:i], append([]*stats.Moments{nil}, g.parts[i:]...)...)
	}
	return g
}

func draw(r *rand.Rand, n int, gen func() float64) []float64 {
	xs := make([]float64, n)
	for i := range xs {
		xs[i] = gen()
	}
	return xs
}

// finiteGroups are the groups of finite values: several distributions,
// values near the ends of float8's range, and many groups of one or two rows.
func finiteGroups(r *rand.Rand) []statsGroup {
	gs := []statsGroup{
		bucketed(r, "uniform", draw(r, 4000, func() float64 { return 200*r.Float64() - 50 }), 40),
		bucketed(r, "1e9+N(0,1)", draw(r, 3000, func() float64 { return 1e9 + r.NormFloat64() }), 30),
		bucketed(r, "pareto(1.5)", draw(r, 3000, func() float64 { return math.Pow(1-r.Float64(), -1/1.5) }), 25),
		bucketed(r, "lognormal", draw(r, 2000, func() float64 { return math.Exp(2 * r.NormFloat64()) }), 20),
		bucketed(r, "two clusters", draw(r, 1000, func() float64 { return float64(2*r.IntN(2)-1)*1e6 + r.NormFloat64() }), 10),
		bucketed(r, "constant", draw(r, 200, func() float64 { return 42.5 }), 9),
		bucketed(r, "constant 1e9", draw(r, 50, func() float64 { return 1e9 + 0.25 }), 5),
		// Beyond the fast path's bounds, merged in numeric: m4 overflows
		// to Infinity; deviations near 1e-75; means 2e60 apart.
		bucketed(r, "1e100*N(0,1)", draw(r, 300, func() float64 { return 1e100 * r.NormFloat64() }), 12),
		bucketed(r, "1e-73+5e-75*N(0,1)", draw(r, 300, func() float64 { return 1e-73 + 5e-75*r.NormFloat64() }), 12),
		bucketed(r, "±1e60", draw(r, 300, func() float64 { return float64(2*r.IntN(2)-1)*1e60 + r.NormFloat64() }), 12),
		perRow("±1e78", draw(r, 50, func() float64 { return float64(2*r.IntN(2)-1) * 1e78 * (1 + r.Float64()) })), // m4 overflows
		{name: "one row", xs: []float64{3.75}, parts: []*stats.Moments{moments(3.75)}},
		{name: "two rows, one state", xs: []float64{1, 4}, parts: []*stats.Moments{moments(1, 4)}},
		{name: "two rows, two states", xs: []float64{1, 4}, parts: []*stats.Moments{moments(4), nil, moments(), moments(1)}},
	}
	for i := range 40 {
		xs := draw(r, 1+r.IntN(2), func() float64 { return 100 * r.NormFloat64() })
		gs = append(gs, bucketed(r, fmt.Sprintf("small %d", i), xs, 1+r.IntN(3)))
	}
	return gs
}

// nonFiniteGroups mix NaN and infinities into finite values.
func nonFiniteGroups(r *rand.Rand) []statsGroup {
	inf, nan := math.Inf(1), math.NaN()
	var gs []statsGroup
	for _, c := range []struct {
		name string
		xs   []float64
	}{
		{"NaN", []float64{1, nan, 3, 7}},
		{"+Inf", []float64{1, inf, 2, 5}},
		{"-Inf", []float64{-inf, 4, 4.5}},
		{"+Inf and -Inf", []float64{inf, 1, -inf, 2}},
		{"NaN and +Inf", []float64{nan, 2, inf}},
		{"+Inf alone", []float64{inf}},
		{"+Inf twice", []float64{inf, inf}},
		{"-Inf and finite", []float64{-inf, 8}},
	} {
		gs = append(gs, bucketed(r, c.name+", one state", c.xs, 1))
		gs = append(gs, bucketed(r, c.name+", random states", c.xs, 3))
		gs = append(gs, perRow(c.name, c.xs))
	}
	return gs
}

// perRow makes a state of each value.
func perRow(name string, xs []float64) statsGroup {
	g := statsGroup{name: name + ", a state per row", xs: xs}
	for _, x := range xs {
		g.parts = append(g.parts, moments(x))
	}
	return g
}

func moments(xs ...float64) *stats.Moments {
	var m stats.Moments
	for _, x := range xs {
		m.Add(x)
	}
	return &m
}

// statsDB migrates a fresh database and loads groups into raw(g, x) and
// st(g, b, s), g being the index in groups and b the bucket.
func statsDB(t *testing.T, groups []statsGroup) *pgx.Conn {
	t.Helper()
	conn := pgtest.Connect(t, pgtest.NewDB(t))
	if err := changelog.Migrate(context.Background(), conn); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	exec(t, conn, `CREATE TABLE raw (g int NOT NULL, x float8 NOT NULL);
		CREATE TABLE st (g int NOT NULL, b int NOT NULL, s spiral.moments)`)
	var rg, sg, sb []int32
	var xs []float64
	var ss []*string
	for i, g := range groups {
		for _, x := range g.xs {
			rg, xs = append(rg, int32(i)), append(xs, x)
		}
		for b, p := range g.parts {
			var text *string
			if p != nil {
				text = new(string)
				*text = p.String()
			}
			sg, sb, ss = append(sg, int32(i)), append(sb, int32(b)), append(ss, text)
		}
	}
	exec(t, conn, `INSERT INTO raw SELECT * FROM unnest($1::int[], $2::float8[])`, rg, xs)
	exec(t, conn, `INSERT INTO st SELECT g, b, s::spiral.moments FROM unnest($1::int[], $2::int[], $3::text[]) AS u(g, b, s)`, sg, sb, ss)
	exec(t, conn, `ANALYZE raw, st`)
	return conn
}

// finished is what the finishers return for one group; nil is NULL.
type finished struct {
	count                                      *int64
	mean, variance, stddev, skewness, kurtosis *float64
}

// finishSQL finishes, per group, the merge of the states of st.
const finishSQL = `
	SELECT g, spiral.spiral_stats_count(m), spiral.spiral_stats_mean(m), spiral.spiral_stats_variance(m),
	       spiral.spiral_stats_stddev(m), spiral.spiral_stats_skewness(m), spiral.spiral_stats_kurtosis(m)
	FROM (SELECT g, spiral.spiral_stats_merge(s) AS m FROM st GROUP BY g) q`

// rawSQL is what PostgreSQL's own aggregates give over the raw values.
const rawSQL = `SELECT g, count(x), avg(x), var_samp(x), stddev_samp(x), NULL::float8, NULL::float8 FROM raw GROUP BY g`

func queryFinished(t *testing.T, conn *pgx.Conn, sql string) map[int32]finished {
	t.Helper()
	rows, err := conn.Query(context.Background(), sql)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	out := map[int32]finished{}
	var g int32
	var f finished
	_, err = pgx.ForEachRow(rows, []any{&g, &f.count, &f.mean, &f.variance, &f.stddev, &f.skewness, &f.kurtosis}, func() error {
		out[g] = f
		return nil
	})
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return out
}

// goFinished is what package stats gives for the merge of parts.
func goFinished(m stats.Moments) finished {
	opt := func(v float64, ok bool) *float64 {
		if !ok {
			return nil
		}
		return &v
	}
	f := finished{mean: opt(m.Avg()), variance: opt(m.VarSamp()), stddev: opt(m.StddevSamp()),
		skewness: opt(m.Skewness()), kurtosis: opt(m.Kurtosis())}
	if m.N > 0 {
		f.count = &m.N
	}
	return f
}

func present(parts []*stats.Moments) []stats.Moments {
	var out []stats.Moments
	for _, p := range parts {
		if p != nil {
			out = append(out, *p)
		}
	}
	return out
}

// near reports whether got is want: both NULL, both NaN, the same infinity,
// or finite and |got − want| ≤ tol·max(|want|, floor).
func near(got, want *float64, tol, floor float64) bool {
	switch {
	case got == nil || want == nil:
		return got == nil && want == nil
	case !finite(*want):
		return math.IsNaN(*want) && math.IsNaN(*got) || *got == *want
	}
	return math.Abs(*got-*want) <= tol*math.Max(math.Abs(*want), floor)
}

// show prints a nullable value.
func show[T any](v *T) string {
	if v == nil {
		return "NULL"
	}
	return fmt.Sprint(*v)
}

// conditioning is ε·|mean|/σ of xs, the relative accuracy any float8 state
// (and PostgreSQL's own var_samp) can have for the central sums (stats/doc.go).
func conditioning(xs []float64) float64 {
	m := moments(xs...)
	sd, ok := m.StddevSamp()
	if !ok || sd == 0 || !finite(sd) {
		return 0
	}
	return 0x1p-53 * math.Abs(m.M1) / sd
}

// compareFinished checks got against want for every group: the count
// exactly, the mean within 1e-9 relative, the spread (and, withShape, the
// skewness and kurtosis, relative to at least 1) within 1e-9 plus 16 times
// the group's conditioning.
func compareFinished(t *testing.T, groups []statsGroup, got, want map[int32]finished, withShape bool) {
	t.Helper()
	const tol = 1e-9
	for i, g := range groups {
		gf, wf := got[int32(i)], want[int32(i)]
		if show(gf.count) != show(wf.count) {
			t.Errorf("%s: count %s, want %s", g.name, show(gf.count), show(wf.count))
		}
		spread := tol + 16*conditioning(g.xs)
		checks := []struct {
			name       string
			got, want  *float64
			tol, floor float64
		}{
			{"mean", gf.mean, wf.mean, tol, 0},
			{"variance", gf.variance, wf.variance, spread, 0},
			{"stddev", gf.stddev, wf.stddev, spread, 0},
			{"skewness", gf.skewness, wf.skewness, spread, 1},
			{"kurtosis", gf.kurtosis, wf.kurtosis, spread, 1},
		}
		if !withShape {
			checks = checks[:3]
		}
		for _, c := range checks {
			if !near(c.got, c.want, c.tol, c.floor) {
				t.Errorf("%s: %s = %s, want %s", g.name, c.name, show(c.got), show(c.want))
			}
		}
	}
}

// TestStatsMergeMatchesRawAggregates: per group, the finishers over
// spiral_stats_merge of the buckets' states give what avg, var_samp and
// stddev_samp give over the raw rows, and what stats gives for skewness and
// kurtosis of MergeAll of the states.
func TestStatsMergeMatchesRawAggregates(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 0x57a7))
	groups := append(finiteGroups(r), nonFiniteGroups(r)...)
	conn := statsDB(t, groups)
	got := queryFinished(t, conn, finishSQL)
	if len(got) != len(groups) {
		t.Fatalf("%d groups, want %d", len(got), len(groups))
	}
	compareFinished(t, groups, got, queryFinished(t, conn, rawSQL), false)
	want := map[int32]finished{}
	for i, g := range groups {
		want[int32(i)] = goFinished(stats.MergeAll(present(g.parts)))
	}
	compareFinished(t, groups, got, want, true)
}

// TestStatsMergeFoldsLikeMerge: spiral_stats_merge over states in bucket
// order is stats.Moments.Merge folded in that order, field by field, NaN
// and infinities included.
func TestStatsMergeFoldsLikeMerge(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 0x57a7))
	groups := append(finiteGroups(r), nonFiniteGroups(r)...)
	// m4 underflows: stats rounds it to 0 (and its kurtosis, from m2² = 0,
	// means nothing), the numeric merge must round to 0 too.
	groups = append(groups, bucketed(r, "1e-90*N(0,1)", draw(r, 100, func() float64 { return 1e-90 * r.NormFloat64() }), 8))
	conn := statsDB(t, groups)
	got := queryStates(t, conn, `SELECT g, spiral.spiral_stats_merge(s ORDER BY b) FROM st GROUP BY g`)
	for i, g := range groups {
		var want stats.Moments
		for _, p := range present(g.parts) {
			want.Merge(p)
		}
		if err := sameState(got[int32(i)], want); err != nil {
			t.Errorf("%s: %v", g.name, err)
		}
	}
}

// TestStatsMergeParallel: with parallel workers, partial states are merged
// by the combine function: the result is MergeAll's, up to rounding.
func TestStatsMergeParallel(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 0x57a7))
	groups := finiteGroups(r)[:5]
	conn := statsDB(t, groups)
	exec(t, conn, `ALTER TABLE st SET (parallel_workers = 2); SET max_parallel_workers_per_gather = 2;
		SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0;
		SET parallel_leader_participation = off`)
	const q = `SELECT g, spiral.spiral_stats_merge(s) FROM st GROUP BY g`
	rows, err := conn.Query(context.Background(), "EXPLAIN "+q)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(plan, "\n"), "Partial") {
		t.Fatalf("the plan aggregates in one process:\n%s", strings.Join(plan, "\n"))
	}
	got := queryStates(t, conn, q)
	for i, g := range groups {
		if err := closeState(got[int32(i)], stats.MergeAll(present(g.parts)), g.xs); err != nil {
			t.Errorf("%s: %v", g.name, err)
		}
	}
}

// TestStatsNullAndEmpty: NULL and empty states contribute nothing, no
// input at all gives NULL, and the finishers follow stats' NULL rules.
func TestStatsNullAndEmpty(t *testing.T) {
	conn := statsDB(t, nil)
	for _, c := range []struct{ sql, want string }{
		{`SELECT spiral.spiral_stats_merge(s)::text FROM st`, "NULL"},
		{`SELECT spiral.spiral_stats_merge(s)::text FROM (VALUES (NULL::spiral.moments), (NULL)) v(s)`, "NULL"},
		{`SELECT spiral.spiral_stats_merge(s)::text FROM (VALUES ('(0,0,0,0,0)'::spiral.moments), (NULL), ('(0,0,0,0,0)')) v(s)`, "NULL"},
		{`SELECT spiral.spiral_stats_merge(s)::text FROM (VALUES (NULL), ('(0,0,0,0,0)'), ('(3,2,2,0,2)'::spiral.moments), (NULL), ('(0,0,0,0,0)')) v(s)`, "(3,2,2,0,2)"},
		{`SELECT spiral.spiral_stats_merge(s)::text FROM (VALUES ('(1,1,0,0,0)'::spiral.moments), ('(1,3,0,0,0)')) v(s)`, "(2,2,2,0,2)"},
		{`SELECT spiral.spiral_stats_merge(s)::text FROM (VALUES ('(1,Infinity,NaN,NaN,NaN)'::spiral.moments), (NULL), ('(2,1,2,0,2)')) v(s)`, "(3,Infinity,NaN,NaN,NaN)"},
		{`SELECT spiral.spiral_stats_merge(s)::text FROM (VALUES ('(1,Infinity,NaN,NaN,NaN)'::spiral.moments), ('(1,-Infinity,NaN,NaN,NaN)')) v(s)`, "(2,NaN,NaN,NaN,NaN)"},
		{`SELECT spiral.spiral_stats_merge(s)::text FROM st GROUP BY g`, ""}, // no groups
		{`SELECT concat_ws(',', spiral.spiral_stats_count(NULL), spiral.spiral_stats_mean(NULL), spiral.spiral_stats_variance(NULL),
			spiral.spiral_stats_stddev(NULL), spiral.spiral_stats_skewness(NULL), spiral.spiral_stats_kurtosis(NULL))`, ""},
		{`SELECT concat_ws(',', spiral.spiral_stats_count(s), spiral.spiral_stats_mean(s), spiral.spiral_stats_variance(s),
			spiral.spiral_stats_stddev(s), spiral.spiral_stats_skewness(s), spiral.spiral_stats_kurtosis(s))
			FROM (VALUES ('(0,0,0,0,0)'::spiral.moments)) v(s)`, "0"},
		{`SELECT concat_ws(',', spiral.spiral_stats_count(s), spiral.spiral_stats_mean(s), spiral.spiral_stats_variance(s),
			spiral.spiral_stats_skewness(s), spiral.spiral_stats_kurtosis(s))
			FROM (VALUES ('(1,7.5,0,0,0)'::spiral.moments)) v(s)`, "1,7.5"},
		{`SELECT concat_ws(',', spiral.spiral_stats_variance(s), spiral.spiral_stats_skewness(s), spiral.spiral_stats_kurtosis(s))
			FROM (VALUES ('(4,7.5,0,0,0)'::spiral.moments)) v(s)`, "0"},
		{`SELECT concat_ws(',', spiral.spiral_stats_count(s), spiral.spiral_stats_mean(s), spiral.spiral_stats_variance(s),
			spiral.spiral_stats_stddev(s), spiral.spiral_stats_skewness(s), spiral.spiral_stats_kurtosis(s))
			FROM (VALUES ('(1,NaN,NaN,NaN,NaN)'::spiral.moments)) v(s)`, "1,NaN,NaN,NaN"},
	} {
		rows, err := conn.Query(context.Background(), c.sql)
		if err != nil {
			t.Fatalf("%s: %v", c.sql, err)
		}
		got, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (string, error) {
			var s *string
			err := row.Scan(&s)
			if s == nil {
				return "NULL", err
			}
			return *s, err
		})
		if err != nil {
			t.Fatalf("%s: %v", c.sql, err)
		}
		if strings.Join(got, "\n") != c.want {
			t.Errorf("%s\n= %q, want %q", c.sql, strings.Join(got, "\n"), c.want)
		}
	}
}

// queryStates runs sql, which returns (g, spiral.moments), and returns the
// states by group; a NULL state is nil.
func queryStates(t *testing.T, conn *pgx.Conn, sql string) map[int32]*stats.Moments {
	t.Helper()
	rows, err := conn.Query(context.Background(), "SELECT g, (m).n, (m).m1, (m).m2, (m).m3, (m).m4 FROM ("+sql+") q(g, m)")
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	out := map[int32]*stats.Moments{}
	var g int32
	var n *int64
	var m1, m2, m3, m4 *float64
	_, err = pgx.ForEachRow(rows, []any{&g, &n, &m1, &m2, &m3, &m4}, func() error {
		if n == nil {
			out[g] = nil
			return nil
		}
		out[g] = &stats.Moments{N: *n, M1: *m1, M2: *m2, M3: *m3, M4: *m4}
		return nil
	})
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return out
}

// sameState checks got against want, the fold of the same states in the
// same order with stats.Moments.Merge: the same arithmetic, so equal up to
// the last bits (1e-12 of each field's scale); a NULL state stands for an
// empty want.
func sameState(got *stats.Moments, want stats.Moments) error {
	return momentsWithin(got, want, 1e-12)
}

// closeState checks got against want, a merge of the same states in
// another order, within 1e-9 plus the data's conditioning.
func closeState(got *stats.Moments, want stats.Moments, xs []float64) error {
	return momentsWithin(got, want, 1e-9+16*conditioning(xs))
}

// momentsWithin compares each field within tol of its scale: |m1| + σ for
// m1, m2 for m2, n·σ³ for m3 and m4 for m4 (σ² = m2/n). A central sum
// that overflowed may be +Inf on one side and NaN on the other: stats adds
// overflowed float64 terms (Inf − Inf is NaN), the numeric merge adds the
// exact terms before it rounds.
func momentsWithin(got *stats.Moments, want stats.Moments, tol float64) error {
	if got == nil || want.N == 0 {
		if got == nil && want.N == 0 {
			return nil
		}
		return fmt.Errorf("state %v, want %v", got, want)
	}
	if got.N != want.N {
		return fmt.Errorf("state %v, want %v", *got, want)
	}
	n := float64(want.N)
	sigma := math.Sqrt(want.M2 / n)
	scales := [4]float64{math.Abs(want.M1) + sigma, want.M2, n * sigma * sigma * sigma, want.M4}
	gs, ws := [4]float64{got.M1, got.M2, got.M3, got.M4}, [4]float64{want.M1, want.M2, want.M3, want.M4}
	for i := range gs {
		switch {
		case near(&gs[i], &ws[i], tol, 0):
		case finite(gs[i]) && finite(ws[i]) && math.Abs(gs[i]-ws[i]) <= tol*scales[i]:
		case i > 0 && finite(want.M1) && !finite(gs[i]) && !finite(ws[i]): // overflowed
		default:
			return fmt.Errorf("m%d = %v, want %v: state %v, want %v", i+1, gs[i], ws[i], *got, want)
		}
	}
	return nil
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
