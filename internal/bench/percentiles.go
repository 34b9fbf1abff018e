package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// pctQuantiles are the quantiles every way is asked for, in order.
var pctQuantiles = []float64{0.5, 0.95, 0.99}

// pctCompression is the tdigest extension's compression, as in the stats
// benchmark.
const pctCompression = 100

// pctKinds are the kinds of the benchmark table: the t-digest the
// approximate plan reads.
var pctKinds = tickKinds{price: "tdigest", vol: "sum"}

// percentileLoad is backfillLoad with prices that are not near-constant:
// row i at epoch + i*$2 seconds, tenant s = i % $3 + 1 (tenants take
// turns), price a per-tenant base times exp of a normal noise with a
// per-tenant spread (log-normal, skewed to the right) and a slow drift,
// volume uniform in 1..1000.
const percentileLoad = `INSERT INTO ticks (t, sym, price, vol)
SELECT $1::timestamptz + make_interval(secs => i * $2::float8),
       (i % $3)::int + 1,
       (10 + 3 * (i % $3)) * exp((0.2 + 0.15 * (i % $3 % 5)) * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())
                                + 0.3 * sin(i * $2::float8 / 86400 + i % $3)),
       1 + (random() * 999)::int
FROM generate_series($4::int8, $5::int8 - 1) AS i`

// PercentilesOptions configures Percentiles.
type PercentilesOptions struct {
	Rows    int // raw rows
	Tenants int // distinct sym values, taking turns
	Days    int // the rows' time span, from backfillEpoch; the queries read all of it
	Runs    int // timed runs per way after one warm-up; the table shows medians
	Log     io.Writer
}

// DefaultPercentilesOptions are the options `make bench` runs with: the
// issue's 10M rows, 100 tenants, 30 days.
func DefaultPercentilesOptions() PercentilesOptions {
	return PercentilesOptions{Rows: 10_000_000, Tenants: 100, Days: 30, Runs: 5}
}

// Validate reports options the benchmark cannot run with.
func (o PercentilesOptions) Validate() error {
	switch {
	case o.Tenants < 1:
		return fmt.Errorf("bench: tenants %d: want at least 1", o.Tenants)
	case o.Days < 1:
		return fmt.Errorf("bench: days %d: want at least 1", o.Days)
	case o.Rows < 2*o.Tenants*o.Days:
		return fmt.Errorf("bench: rows %d: want at least two per tenant and day (%d)", o.Rows, 2*o.Tenants*o.Days)
	case o.Runs < 1:
		return fmt.Errorf("bench: runs %d: want at least 1", o.Runs)
	}
	return nil
}

// window is the WHERE condition of every query: all loaded days.
func (o PercentilesOptions) window() string {
	return timeRange(backfillEpoch, backfillEpoch.AddDate(0, 0, o.Days))
}

// The ways the percentiles are computed, in table order.
const (
	pctExact = iota // percentile_cont on the raw table, directly
	pctProxy        // the same text through spiral, approximate_percentiles on
	pctExt          // the tdigest extension's aggregate on the raw table, directly
	numPctWays
)

var pctWayNames = [numPctWays]string{"raw exact percentile_cont", "proxy approximate (spiral t-digest tiers)", "raw tdigest extension"}

// pctArray is pctQuantiles as an SQL array literal.
func pctArray() string {
	parts := make([]string, len(pctQuantiles))
	for i, q := range pctQuantiles {
		parts[i] = strconv.FormatFloat(q, 'g', -1, 64)
	}
	return "ARRAY[" + strings.Join(parts, ",") + "]"
}

// percentileSQL is the query of way: per tenant and day over where, the
// quantiles as one float8[] column q.
func percentileSQL(way int, where string) string {
	agg := "percentile_cont(" + pctArray() + ") WITHIN GROUP (ORDER BY price)"
	if way == pctExt {
		agg = fmt.Sprintf("tdigest_percentile(price, %d, %s)", pctCompression, pctArray())
	}
	return `SELECT sym, date_trunc('day', t) AS d, ` + agg + ` AS q FROM ticks WHERE ` + where + ` GROUP BY 1, 2 ORDER BY 1, 2`
}

// pctKey is one tenant-day.
type pctKey struct {
	sym int32
	day int64 // Unix seconds of the day's start
}

// pctAnswer is one way's quantiles per tenant-day.
type pctAnswer map[pctKey][]float64

// pctError summarizes one approximate way's error at one quantile over
// every tenant-day both it and the exact way answered.
type pctError struct {
	groups            int
	maxRel, meanRel   float64 // |est − exact| / |exact|
	maxRank, meanRank float64 // rankErrCounts of the estimate among the group's values
}

// pctResult is the benchmark's figures.
type pctResult struct {
	groups    [numPctWays]int        // rows of each way's answer
	ms        [numPctWays][]float64  // per timed run
	rewritten bool                   // EXPLAIN through spiral differs from EXPLAIN directly
	errs      [numPctWays][]pctError // per quantile, for pctProxy and pctExt
	missing   [numPctWays]int        // exact tenant-days a way did not answer
	rankTook  time.Duration          // the rank-error query
}

func (r pctResult) median(way int) float64 { return medianOf(r.ms[way]) }

// ratio is exact/way of the medians.
func (r pctResult) ratio(way int) float64 { return r.median(pctExact) / r.median(way) }

// errNoTDigest reports that the tdigest extension is not installed.
var errNoTDigest = errors.New("bench: the tdigest extension is not installed (`./scripts/ensure-deps.sh bench` or `apt-get install -y postgresql-15-tdigest`)")

// Percentiles measures p50/p95/p99 per tenant per day over a tracked
// table three ways: exact percentile_cont on the raw table, the same
// query through spiral with spiral.approximate_percentiles on (answered
// from the t-digest tiers) and the tdigest extension on the raw table; it
// writes a speed table and a table of the approximations' errors against
// the exact answers to w, and stops everything it started before
// returning, also when ctx ends.
func Percentiles(ctx context.Context, w io.Writer, opts PercentilesOptions) error {
	header, r, err := measurePercentiles(ctx, opts)
	if err != nil {
		return err
	}
	return writePercentilesTables(w, header, r)
}

// measurePercentiles runs the benchmark and returns the tables' header
// and figures.
func measurePercentiles(ctx context.Context, opts PercentilesOptions) (header []string, r pctResult, err error) {
	s, err := openStack(ctx, opts.Validate, &opts.Log)
	if err != nil {
		return nil, r, err
	}
	defer func() { err = errors.Join(err, s.stop()) }()
	if err := preparePercentiles(ctx, s, opts); err != nil {
		return nil, r, err
	}
	e, err := openRewriteEnv(ctx, s)
	if err != nil {
		return nil, r, err
	}
	defer e.close()
	if _, err := e.via.Exec(ctx, "SET spiral.approximate_percentiles = on"); err != nil {
		return nil, r, fmt.Errorf("through the proxy: %w", err)
	}
	if r, err = e.percentiles(ctx, opts); err != nil {
		return nil, r, err
	}
	header, err = percentilesHeader(ctx, s, e.direct, opts)
	return header, r, err
}

// preparePercentiles creates the extension, the tracked table through the
// proxy, loads the rows directly, refreshes until no mark is left and
// vacuums.
func preparePercentiles(ctx context.Context, s *stack, opts PercentilesOptions) error {
	if err := execAll(ctx, s.direct, "CREATE EXTENSION IF NOT EXISTS tdigest"); err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "58P01" { // undefined_file: no control file
			return fmt.Errorf("%w: %v", errNoTDigest, err)
		}
		return err
	}
	if err := execAll(ctx, s.direct, "DROP TABLE IF EXISTS "+trackedTable); err != nil {
		return err
	}
	if err := execAll(ctx, s.via, trackedDDL(trackedTable, pctKinds)); err != nil {
		return fmt.Errorf("create tracked table through the proxy: %w", err)
	}
	return loadRefreshVacuum(ctx, s, opts.Log, percentileLoad, BackfillOptions{Tenants: opts.Tenants, Days: opts.Days}, opts.Rows)
}

// pctConn is where way runs.
func (e *rewriteEnv) pctConn(way int) *pgx.Conn {
	if way == pctProxy {
		return e.via
	}
	return e.direct
}

// percentiles times the three ways, one warm-up and opts.Runs timed runs,
// the ways interleaved within each run, and measures the approximations'
// errors on the warm-up's answers.
func (e *rewriteEnv) percentiles(ctx context.Context, opts PercentilesOptions) (pctResult, error) {
	var r pctResult
	var err error
	where := opts.window()
	if r.rewritten, err = e.planDiffers(ctx, percentileSQL(pctProxy, where)); err != nil {
		return r, err
	}
	var answers [numPctWays]pctAnswer
	for run := -1; run < opts.Runs; run++ { // run -1 is the warm-up
		for way := range numPctWays {
			res, took, err := fetch(ctx, e.pctConn(way), percentileSQL(way, where))
			if err != nil {
				return r, fmt.Errorf("%s: %w", pctWayNames[way], err)
			}
			if run < 0 {
				r.groups[way] = len(res.rows)
				if answers[way], err = pctAnswerOf(res); err != nil {
					return r, fmt.Errorf("%s: %w", pctWayNames[way], err)
				}
				continue
			}
			r.ms[way] = append(r.ms[way], took.Seconds()*1000)
		}
		if run >= 0 {
			fmt.Fprintf(opts.Log, "bench: run %d: exact %9.2f ms  proxy %9.2f ms  tdigest ext %9.2f ms\n",
				run+1, r.ms[pctExact][run], r.ms[pctProxy][run], r.ms[pctExt][run])
		}
	}
	return r, e.pctErrors(ctx, &r, answers, opts.Log)
}

// pctAnswerOf reads an answer of (sym int4, d timestamptz, q float8[]).
func pctAnswerOf(res resultSet) (pctAnswer, error) {
	out := make(pctAnswer, len(res.rows))
	for i, row := range res.rows {
		if len(row) != 3 {
			return nil, fmt.Errorf("row %d: %d columns, want 3", i+1, len(row))
		}
		sym, ok1 := row[0].(int32)
		day, ok2 := row[1].(time.Time)
		qs, err := floatsOf(row[2])
		if !ok1 || !ok2 || err != nil || len(qs) != len(pctQuantiles) {
			return nil, fmt.Errorf("row %d: %v: want (int4, timestamptz, float8[%d])", i+1, row, len(pctQuantiles))
		}
		out[pctKey{sym: sym, day: day.Unix()}] = qs
	}
	return out, nil
}

// floatsOf reads a decoded float8[] without NULLs.
func floatsOf(v any) ([]float64, error) {
	switch v := v.(type) {
	case []float64:
		return v, nil
	case []any:
		out := make([]float64, len(v))
		for i, x := range v {
			f, ok := x.(float64)
			if !ok {
				return nil, fmt.Errorf("element %d: %T", i+1, x)
			}
			out[i] = f
		}
		return out, nil
	}
	return nil, fmt.Errorf("%T, want float8[]", v)
}

// pctErrors fills r.errs and r.missing: relative errors in Go, rank errors
// from one pass over the raw table that counts, per tenant-day, the
// values below and at most each estimate.
func (e *rewriteEnv) pctErrors(ctx context.Context, r *pctResult, answers [numPctWays]pctAnswer, log io.Writer) error {
	exact := answers[pctExact]
	var common []pctKey // tenant-days every way answered
	for k := range exact {
		ok := true
		for _, way := range []int{pctProxy, pctExt} {
			if _, in := answers[way][k]; !in {
				r.missing[way]++
				ok = false
			}
		}
		if ok {
			common = append(common, k)
		}
	}
	began := time.Now()
	ranks, err := rankCounts(ctx, e.direct, common, answers)
	if err != nil {
		return fmt.Errorf("rank errors: %w", err)
	}
	r.rankTook = time.Since(began)
	fmt.Fprintf(log, "bench: rank errors of %d tenant-days counted in %.1f s\n", len(common), r.rankTook.Seconds())
	for _, way := range []int{pctProxy, pctExt} {
		r.errs[way] = summarizeErrors(way, common, answers, ranks)
	}
	return nil
}

// pctRanks are, per tenant-day, the group's size and for each approximate
// way and quantile how many values lie below the estimate and at most it.
type pctRanks map[pctKey]*pctRank

type pctRank struct {
	total       int64
	below, upto [numPctWays][]int64
}

// rankWays are the ways whose estimates rankCounts places.
var rankWays = []int{pctProxy, pctExt}

// rankCounts loads the estimates of keys into a temporary table and counts
// in one join with the raw table.
func rankCounts(ctx context.Context, c *pgx.Conn, keys []pctKey, answers [numPctWays]pctAnswer) (pctRanks, error) {
	if _, err := c.Exec(ctx, `CREATE TEMP TABLE pct_est (sym int4 NOT NULL, d timestamptz NOT NULL, v float8[] NOT NULL)`); err != nil {
		return nil, err
	}
	defer func() { _, _ = c.Exec(context.Background(), "DROP TABLE IF EXISTS pct_est") }()
	_, err := c.CopyFrom(ctx, pgx.Identifier{"pct_est"}, []string{"sym", "d", "v"},
		pgx.CopyFromSlice(len(keys), func(i int) ([]any, error) {
			k := keys[i]
			var v []float64
			for _, way := range rankWays {
				v = append(v, answers[way][k]...)
			}
			return []any{k.sym, time.Unix(k.day, 0).UTC(), v}, nil
		}))
	if err != nil {
		return nil, fmt.Errorf("copy estimates: %w", err)
	}
	if _, err := c.Exec(ctx, "ANALYZE pct_est"); err != nil {
		return nil, err
	}
	return scanRanks(ctx, c, rankSQL())
}

// rankSQL counts, per tenant-day of pct_est, its values and for each
// estimate v[j] those below it and those at most it. A tenant-day is the
// range [d, d + 1 day) of its tenant (TimeZone is UTC; the window is
// whole days), which the (sym, t) index spiral adds to the table serves;
// joined on date_trunc instead, PostgreSQL scans every day of the tenant
// for each tenant-day.
func rankSQL() string {
	var b strings.Builder
	b.WriteString("SELECT e.sym, e.d, count(*)")
	for j := 1; j <= len(rankWays)*len(pctQuantiles); j++ {
		fmt.Fprintf(&b, ",\n  count(*) FILTER (WHERE x.price < e.v[%d]), count(*) FILTER (WHERE x.price <= e.v[%d])", j, j)
	}
	b.WriteString("\nFROM pct_est e JOIN ticks x ON x.sym = e.sym AND x.t >= e.d AND x.t < e.d + interval '1 day'\nGROUP BY e.sym, e.d")
	return b.String()
}

func scanRanks(ctx context.Context, c *pgx.Conn, sql string) (pctRanks, error) {
	rows, err := c.Query(ctx, sql)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := pctRanks{}
	nq := len(pctQuantiles)
	counts := make([]int64, 2*len(rankWays)*nq)
	for rows.Next() {
		var sym int32
		var day time.Time
		r := &pctRank{}
		dest := []any{&sym, &day, &r.total}
		for i := range counts {
			dest = append(dest, &counts[i])
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		for i, way := range rankWays {
			for q := range nq {
				j := 2 * (i*nq + q)
				r.below[way] = append(r.below[way], counts[j])
				r.upto[way] = append(r.upto[way], counts[j+1])
			}
		}
		out[pctKey{sym: sym, day: day.Unix()}] = r
	}
	return out, rows.Err()
}

// summarizeErrors is way's error per quantile over keys.
func summarizeErrors(way int, keys []pctKey, answers [numPctWays]pctAnswer, ranks pctRanks) []pctError {
	out := make([]pctError, len(pctQuantiles))
	for i, q := range pctQuantiles {
		e := &out[i]
		for _, k := range keys {
			exact, est := answers[pctExact][k][i], answers[way][k][i]
			rel := math.Abs(est-exact) / math.Abs(exact)
			e.maxRel, e.meanRel = math.Max(e.maxRel, rel), e.meanRel+rel
			rk := math.NaN() // a tenant-day the rank query did not see
			if r := ranks[k]; r != nil && r.total > 1 {
				rk = rankErrCounts(r.below[way][i], r.upto[way][i], r.total, q)
			}
			e.maxRank, e.meanRank = math.Max(e.maxRank, rk), e.meanRank+rk
			e.groups++
		}
		if e.groups > 0 {
			e.meanRel /= float64(e.groups)
			e.meanRank /= float64(e.groups)
		}
	}
	return out
}

// percentilesHeader describes the data, the ways and the server.
func percentilesHeader(ctx context.Context, s *stack, direct *pgx.Conn, opts PercentilesOptions) ([]string, error) {
	var ext, jit string
	err := direct.QueryRow(ctx, `SELECT (SELECT extversion FROM pg_extension WHERE extname = 'tdigest'),
		current_setting('jit') || CASE WHEN pg_jit_available() THEN ' (available)' ELSE ' (not available)' END`).Scan(&ext, &jit)
	if err != nil {
		return nil, fmt.Errorf("versions: %w", err)
	}
	end := backfillEpoch.AddDate(0, 0, opts.Days)
	return []string{
		fmt.Sprintf("Percentiles: p50/p95/p99 per tenant per day, %s rows in %s (created through spiral: tiers %s; %s), %d tenants taking turns, evenly spaced over %d days %s..%s, price = per-tenant base × exp(per-tenant σ × N(0,1) + slow drift); loaded directly, refreshed until no mark is left, VACUUM (FREEZE, ANALYZE)",
			humanCount(opts.Rows), trackedTable, tickFrames, pctKinds, opts.Tenants, opts.Days,
			backfillEpoch.Format("2006-01-02"), end.Format("2006-01-02 UTC")),
		fmt.Sprintf("raw exact = percentile_cont(%s) WITHIN GROUP (ORDER BY price) ... GROUP BY sym, date_trunc('day', t), directly (jit %s); proxy approx = the same text through spiral after SET spiral.approximate_percentiles = on (upstream jit off); raw tdigest-ext = tdigest_percentile(price, %d, %s) instead, tdigest extension %s, directly",
			pctArray(), jit, pctCompression, pctArray(), ext),
		fmt.Sprintf("simple protocol, TimeZone UTC, every row fetched and decoded; median of %d runs after one warm-up, the three interleaved in each run; errors from the warm-up's answers against raw exact, over every tenant-day", opts.Runs),
		s.describe(ctx),
	}, nil
}

// writePercentilesTables prints the header, the speed table and the
// error table.
func writePercentilesTables(w io.Writer, header []string, r pctResult) error {
	for _, h := range header {
		fmt.Fprintln(w, h)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "tenant-days\traw exact ms\tproxy approx ms\traw tdigest-ext ms\traw/proxy\traw/tdigest-ext\tproxy rewritten\t")
	fmt.Fprintf(tw, "%d\t%.2f\t%.2f\t%.2f\t%.1fx\t%.1fx\t%s\t\n", r.groups[pctExact],
		r.median(pctExact), r.median(pctProxy), r.median(pctExt), r.ratio(pctProxy), r.ratio(pctExt), yesNo(r.rewritten))
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, way := range rankWays {
		if r.missing[way] > 0 || r.groups[way] != r.groups[pctExact] {
			fmt.Fprintf(w, "MISMATCH %s: %d tenant-days, %d of exact's %d missing\n",
				pctWayNames[way], r.groups[way], r.missing[way], r.groups[pctExact])
		}
	}
	fmt.Fprintf(w, "\nError against raw exact: relative = |est − exact| / |exact|; rank = distance from q to the fractional ranks the estimate occupies among the tenant-day's values (counted in SQL, %.1f s)\n\n", r.rankTook.Seconds())
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "way\tq\ttenant-days\tmax rel err\tmean rel err\tmax rank err\tmean rank err\t")
	for _, way := range rankWays {
		for i, e := range r.errs[way] {
			fmt.Fprintf(tw, "%s\tp%.4g\t%d\t%.2e\t%.2e\t%.2e\t%.2e\t\n", pctWayNames[way],
				100*pctQuantiles[i], e.groups, e.maxRel, e.meanRel, e.maxRank, e.meanRank)
		}
	}
	return tw.Flush()
}
