package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"
)

// Targets of the rewrite benchmark (DESIGN.md, performance targets).
const (
	rewriteTargetSpeedup = 100.0 // raw/proxy, at least
	rewriteTargetTier    = 1.5   // proxy/tier, at most
)

// rewriteFloatTol is the relative difference allowed between two float
// results, as invariant 1 allows for float sums, averages and moments.
const rewriteFloatTol = 1e-9

// rewriteTenant is the tenant of the single-tenant query and the point
// query.
const rewriteTenant = 7

// rewriteKinds are the kinds of the benchmark table: what the four
// queries need.
var rewriteKinds = tickKinds{price: "ohlcv, stats", vol: "sum"}

// RewriteOptions configures Rewrite.
type RewriteOptions struct {
	Rows       int // raw rows
	Tenants    int // distinct sym values, taking turns
	Days       int // the rows' time span, ending at rewriteEnd
	Runs       int // timed runs per query and target after one warm-up; the table shows medians
	Iterations int // statements per cell of the overhead table
	Log        io.Writer
}

// DefaultRewriteOptions are the options `make bench` runs with: the
// issue's 10M rows, 100 tenants, 30 days.
func DefaultRewriteOptions() RewriteOptions {
	return RewriteOptions{Rows: 10_000_000, Tenants: 100, Days: 30, Runs: 5, Iterations: 2000}
}

// Validate reports options the benchmark cannot run with.
func (o RewriteOptions) Validate() error {
	switch {
	case o.Tenants < rewriteTenant:
		return fmt.Errorf("bench: tenants %d: want at least %d (query 4 reads sym = %d)", o.Tenants, rewriteTenant, rewriteTenant)
	case o.Rows < o.Tenants:
		return fmt.Errorf("bench: rows %d: want at least one per tenant (%d)", o.Rows, o.Tenants)
	case o.Days < 1:
		return fmt.Errorf("bench: days %d: want at least 1", o.Days)
	case o.Runs < 1 || o.Iterations < 1:
		return fmt.Errorf("bench: runs %d, iterations %d: want at least 1 each", o.Runs, o.Iterations)
	}
	return nil
}

// rewriteEnd is where the loaded data ends: Days after backfillEpoch,
// where the backfill benchmark's loader starts it.
func (o RewriteOptions) rewriteEnd() time.Time { return backfillEpoch.AddDate(0, 0, o.Days) }

// rewriteQuery is one query of the benchmark.
type rewriteQuery struct {
	name string
	sql  string // run directly (raw) and through the proxy
	tier string // the same answer, hand-written against a tier
}

// sqlTime is t as a timestamptz literal.
func sqlTime(t time.Time) string { return "'" + t.UTC().Format("2006-01-02 15:04:05") + "+00'" }

// timeRange is the WHERE condition t >= from AND t < to.
func timeRange(from, to time.Time) string {
	return fmt.Sprintf("t >= %s AND t < %s", sqlTime(from), sqlTime(to))
}

// rewriteQueries are the four queries over windows ending at end;
// the second and third span days.
func rewriteQueries(end time.Time, days int) []rewriteQuery {
	week, all := timeRange(end.AddDate(0, 0, -7), end), timeRange(end.AddDate(0, 0, -days), end)
	day := timeRange(end.AddDate(0, 0, -1), end)
	return []rewriteQuery{
		{"1 hourly per tenant, 7 days", hourlyPerTenant(week), hourlyPerTenantTier(week)},
		{fmt.Sprintf("2 hourly per tenant, %d days", days), hourlyPerTenant(all), hourlyPerTenantTier(all)},
		{fmt.Sprintf("3 daily stddev, %d days", days), dailyStddev(all), dailyStddevTier(all)},
		{"4 one tenant hourly, 1 day", oneTenant(day), oneTenantTier(day)},
	}
}

func hourlyPerTenant(where string) string {
	return `SELECT date_trunc('hour', t) AS h, sym, max(price), sum(vol), avg(price) FROM ticks WHERE ` +
		where + ` GROUP BY 1, 2 ORDER BY 1, 2`
}

// hourlyPerTenantTier reads the hourly tier: max is the OHLC high, avg
// the moments' mean.
func hourlyPerTenantTier(where string) string {
	return `SELECT t AS h, sym, price_ohlcv_h AS max, vol AS sum, (price_stats).m1 AS avg FROM ticks_1h WHERE ` +
		where + ` ORDER BY 1, 2`
}

func dailyStddev(where string) string {
	return `SELECT date_trunc('day', t), stddev(price) FROM ticks WHERE ` + where + ` GROUP BY 1 ORDER BY 1`
}

// dailyStddevTier merges the tenants' daily moments per day with the
// k-way merge of stats/doc.go and finishes them as stddev_samp.
func dailyStddevTier(where string) string {
	return `WITH parts AS (SELECT t, (price_stats).* FROM ticks_1d WHERE ` + where + ` AND (price_stats).n > 0),
g AS (SELECT t, sum(n) AS total, coalesce(min(m1) FILTER (WHERE abs(m1) < 'Infinity'), 0) AS p
      FROM parts GROUP BY t),
c AS (SELECT t, total, p + sum(n * (m1 - p)) / total AS mean FROM parts JOIN g USING (t) GROUP BY t, total, p)
SELECT t AS date_trunc,
       CASE WHEN total > 1 THEN sqrt(sum(m2 + n * (m1 - mean)^2) / (total - 1)) END AS stddev
FROM parts JOIN c USING (t) GROUP BY t, total, mean ORDER BY 1`
}

func oneTenant(where string) string {
	return fmt.Sprintf(`SELECT date_trunc('hour', t), max(price), sum(vol), count(*) FROM ticks WHERE sym = %d AND %s GROUP BY 1 ORDER BY 1`,
		rewriteTenant, where)
}

func oneTenantTier(where string) string {
	return fmt.Sprintf(`SELECT t AS date_trunc, price_ohlcv_h AS max, vol AS sum, row_count AS count FROM ticks_1h WHERE sym = %d AND %s ORDER BY 1`,
		rewriteTenant, where)
}

// pointQuery is a pass-through statement on the tracked table: one
// minute of one tenant by index, no aggregate.
func pointQuery(end time.Time) string {
	from := end.AddDate(0, 0, -1)
	return fmt.Sprintf(`SELECT t, price, vol FROM ticks WHERE sym = %d AND %s`, rewriteTenant, timeRange(from, from.Add(time.Minute)))
}

// Where a query of the benchmark runs.
const (
	rawTarget   = iota // the query, directly
	proxyTarget        // the query, through spiral
	tierTarget         // the hand-written tier query, directly
	numRewriteTargets
)

// rewriteResult is one query's figures.
type rewriteResult struct {
	q         rewriteQuery
	rows      int
	ms        [numRewriteTargets][]float64 // per timed run
	rewritten bool                         // EXPLAIN through spiral differs from EXPLAIN directly
	proxyDiff string                       // how the proxy's answers differed from raw; "" if never
	tierDiff  string                       // likewise for the tier query
}

func (r rewriteResult) median(target int) float64 { return medianOf(r.ms[target]) }

// speedup is raw/proxy of the medians; tierRatio is proxy/tier.
func (r rewriteResult) speedup() float64   { return r.median(rawTarget) / r.median(proxyTarget) }
func (r rewriteResult) tierRatio() float64 { return r.median(proxyTarget) / r.median(tierTarget) }

// Rewrite measures aggregate queries over a tracked table run directly,
// through spiral (rewritten onto the tiers when spiral can) and
// hand-written against the tiers, checks that the three agree, and
// measures spiral's per-statement overhead; it writes the tables to w and
// stops everything it started before returning, also when ctx ends.
func Rewrite(ctx context.Context, w io.Writer, opts RewriteOptions) (err error) {
	s, err := openStack(ctx, opts.Validate, &opts.Log)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, s.stop()) }()
	if err := prepareRewrite(ctx, s, opts); err != nil {
		return err
	}
	e, err := openRewriteEnv(ctx, s)
	if err != nil {
		return err
	}
	defer e.close()
	results, err := e.queries(ctx, opts)
	if err != nil {
		return err
	}
	over, err := e.overheads(ctx, opts)
	if err != nil {
		return err
	}
	backlog, err := e.backlog(ctx, opts)
	if err != nil {
		return err
	}
	if err := writeRewriteTables(w, rewriteHeader(ctx, s, opts), results, over); err != nil {
		return err
	}
	return writeBacklogTable(w, opts, backlog)
}

// prepareRewrite creates the tracked table through the proxy, adds an
// index on time, loads the rows directly, refreshes until no mark is
// left and vacuums.
func prepareRewrite(ctx context.Context, s *stack, opts RewriteOptions) error {
	if err := execAll(ctx, s.direct, "DROP TABLE IF EXISTS "+trackedTable); err != nil {
		return err
	}
	if err := execAll(ctx, s.via, trackedDDL(trackedTable, rewriteKinds)); err != nil {
		return fmt.Errorf("create tracked table through the proxy: %w", err)
	}
	if err := execAll(ctx, s.direct, "CREATE INDEX ON "+trackedTable+" (t)"); err != nil {
		return err
	}
	return loadRefreshVacuum(ctx, s, opts.Log, backfillLoad, BackfillOptions{Tenants: opts.Tenants, Days: opts.Days}, opts.Rows)
}

// loadRefreshVacuum loads rows into the tracked table directly with load
// (see loadByDay), refreshes until no mark is left, and vacuums.
func loadRefreshVacuum(ctx context.Context, s *stack, log io.Writer, load string, opts BackfillOptions, rows int) error {
	fmt.Fprintf(log, "bench: loading %d rows\n", rows)
	began := time.Now()
	if err := loadByDay(ctx, s.direct, load, opts, rows); err != nil {
		return err
	}
	fmt.Fprintf(log, "bench: loaded in %.1f s; refreshing\n", time.Since(began).Seconds())
	began = time.Now()
	if err := refreshClean(ctx, s); err != nil {
		return err
	}
	fmt.Fprintf(log, "bench: refreshed in %.1f s; vacuuming\n", time.Since(began).Seconds())
	return execAll(ctx, s.direct, "VACUUM (FREEZE, ANALYZE)")
}

// refreshMaxPasses bounds the refreshes refreshClean makes.
const refreshMaxPasses = 10

// refreshClean refreshes the table until no mark is left.
func refreshClean(ctx context.Context, s *stack) error {
	for range refreshMaxPasses {
		if _, err := s.eng.RefreshTable(ctx, "", trackedTable, ""); err != nil {
			return fmt.Errorf("refresh: %w", err)
		}
		n, err := countMarks(ctx, s.direct)
		if err != nil || n == 0 {
			return err
		}
	}
	return fmt.Errorf("refresh: marks left after %d passes", refreshMaxPasses)
}

// rewriteEnv holds one connection directly and one through spiral, both
// in session TimeZone UTC.
type rewriteEnv struct {
	direct, via *pgx.Conn
}

func openRewriteEnv(ctx context.Context, s *stack) (*rewriteEnv, error) {
	direct, err := connectUTC(ctx, s.direct)
	if err != nil {
		return nil, err
	}
	via, err := connectUTC(ctx, s.via)
	if err != nil {
		direct.Close(context.Background())
		return nil, err
	}
	return &rewriteEnv{direct: direct, via: via}, nil
}

func (e *rewriteEnv) close() {
	e.direct.Close(context.Background())
	e.via.Close(context.Background())
}

// connectUTC opens one connection to dsn with TimeZone UTC.
func connectUTC(ctx context.Context, dsn string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	cfg.RuntimeParams["timezone"] = "UTC"
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	return c, nil
}

// conn is where target runs; the statement is q.tier for tierTarget.
func (e *rewriteEnv) conn(target int) *pgx.Conn {
	if target == proxyTarget {
		return e.via
	}
	return e.direct
}

func (q rewriteQuery) text(target int) string {
	if target == tierTarget {
		return q.tier
	}
	return q.sql
}

// queries runs every query: one warm-up and opts.Runs timed runs per
// target, targets interleaved within each run; every answer is compared
// with the raw warm-up's.
func (e *rewriteEnv) queries(ctx context.Context, opts RewriteOptions) ([]rewriteResult, error) {
	var out []rewriteResult
	for _, q := range rewriteQueries(opts.rewriteEnd(), opts.Days) {
		r, err := e.query(ctx, q, opts.Runs)
		if err != nil {
			return nil, fmt.Errorf("query %s: %w", q.name, err)
		}
		fmt.Fprintf(opts.Log, "bench: query %-32s raw %9.2f ms  proxy %9.2f ms  tier %8.2f ms  proxy=raw %s  tier=raw %s\n",
			q.name, r.median(rawTarget), r.median(proxyTarget), r.median(tierTarget), sameWord(r.proxyDiff), sameWord(r.tierDiff))
		out = append(out, r)
	}
	return out, nil
}

func (e *rewriteEnv) query(ctx context.Context, q rewriteQuery, runs int) (rewriteResult, error) {
	return e.queryOn(ctx, q, runs, numRewriteTargets)
}

// queryOn is query over the first targets targets only (rawTarget,
// proxyTarget, tierTarget in that order).
func (e *rewriteEnv) queryOn(ctx context.Context, q rewriteQuery, runs, targets int) (rewriteResult, error) {
	r := rewriteResult{q: q}
	var err error
	if r.rewritten, err = e.planDiffers(ctx, q.sql); err != nil {
		return r, err
	}
	want, _, err := fetch(ctx, e.direct, q.sql)
	if err != nil {
		return r, err
	}
	r.rows = len(want.rows)
	for run := -1; run < runs; run++ { // run -1 is the warm-up
		for target := range targets {
			got, took, err := fetch(ctx, e.conn(target), q.text(target))
			if err != nil {
				return r, fmt.Errorf("%s: %w", targetName(target), err)
			}
			r.note(target, diffResults(want, got))
			if run >= 0 {
				r.ms[target] = append(r.ms[target], took.Seconds()*1000)
			}
		}
	}
	return r, nil
}

// note records the first difference of target's answer from raw.
func (r *rewriteResult) note(target int, diff string) {
	switch {
	case diff == "":
	case target == proxyTarget && r.proxyDiff == "":
		r.proxyDiff = diff
	case target == tierTarget && r.tierDiff == "":
		r.tierDiff = diff
	case target == rawTarget && r.proxyDiff == "": // raw disagrees with itself: nothing can match
		r.proxyDiff = "raw itself: " + diff
	}
}

func targetName(target int) string { return [...]string{"raw", "proxy", "tier"}[target] }

// planDiffers reports whether EXPLAIN (COSTS OFF) of sql through spiral
// differs from EXPLAIN directly: whether spiral rewrote it.
func (e *rewriteEnv) planDiffers(ctx context.Context, sql string) (bool, error) {
	var plans [2]string
	for i, c := range []*pgx.Conn{e.direct, e.via} {
		res, _, err := fetch(ctx, c, "EXPLAIN (COSTS OFF) "+sql)
		if err != nil {
			return false, fmt.Errorf("explain: %w", err)
		}
		plans[i] = fmt.Sprint(res.rows)
	}
	return plans[0] != plans[1], nil
}

// resultSet is an answer as a client sees it.
type resultSet struct {
	names []string
	oids  []uint32
	rows  [][]any
}

// fetch runs sql in the simple protocol, reads and decodes every row and
// returns the answer and the time that took.
func fetch(ctx context.Context, c *pgx.Conn, sql string) (resultSet, time.Duration, error) {
	var res resultSet
	began := time.Now()
	rows, err := c.Query(ctx, sql, pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		return res, 0, err
	}
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			rows.Close()
			return res, 0, err
		}
		res.rows = append(res.rows, vals)
	}
	if err := rows.Err(); err != nil {
		return res, 0, err
	}
	took := time.Since(began)
	for _, fd := range rows.FieldDescriptions() {
		res.names = append(res.names, fd.Name)
		res.oids = append(res.oids, fd.DataTypeOID)
	}
	return res, took, nil
}

// diffResults says how got differs from want, "" if it does not: column
// names and types, row count and order, values exact except floats, which
// may differ by rewriteFloatTol relative.
func diffResults(want, got resultSet) string {
	switch {
	case !reflect.DeepEqual(want.names, got.names):
		return fmt.Sprintf("columns %v, want %v", got.names, want.names)
	case !reflect.DeepEqual(want.oids, got.oids):
		return fmt.Sprintf("column types %v, want %v", got.oids, want.oids)
	case len(want.rows) != len(got.rows):
		return fmt.Sprintf("%d rows, want %d", len(got.rows), len(want.rows))
	}
	for i := range want.rows {
		for j := range want.rows[i] {
			if !sameValue(want.rows[i][j], got.rows[i][j]) {
				return fmt.Sprintf("row %d column %s: %v, want %v", i+1, want.names[j], got.rows[i][j], want.rows[i][j])
			}
		}
	}
	return ""
}

// sameValue compares two decoded values: floats within rewriteFloatTol,
// timestamps as instants, everything else exactly.
func sameValue(a, b any) bool {
	switch a := a.(type) {
	case float64:
		b, ok := b.(float64)
		return ok && closeFloat(a, b)
	case float32:
		b, ok := b.(float32)
		return ok && closeFloat(float64(a), float64(b))
	case time.Time:
		b, ok := b.(time.Time)
		return ok && a.Equal(b)
	}
	return reflect.DeepEqual(a, b)
}

// closeFloat is true for equal values (NaN equals NaN) and for finite ones
// within rewriteFloatTol of each other, relative to the larger.
func closeFloat(a, b float64) bool {
	if a == b || math.IsNaN(a) && math.IsNaN(b) {
		return true
	}
	return math.Abs(a-b) <= rewriteFloatTol*math.Max(math.Abs(a), math.Abs(b))
}

// overheadCase is one statement of the overhead table: the direct side
// runs direct, the proxy side via.
type overheadCase struct {
	name        string
	direct, via string
}

// overheadModes are the protocols the overhead is measured in.
var overheadModes = []struct {
	name string
	mode pgx.QueryExecMode
}{
	{"simple", pgx.QueryExecModeSimpleProtocol},
	{"extended, prepared", pgx.QueryExecModeCacheStatement},
}

// overheadResult is the mean latency of one case in one protocol, in
// microseconds, directly and through spiral.
type overheadResult struct {
	cse        overheadCase
	mode       string
	iterations int
	directUS   float64
	viaUS      float64
}

// overheadCases are a pass-through SELECT 1, a pass-through point query
// on the tracked table and the single-tenant query (through spiral: the
// query, rewritten; directly: its hand-written tier query).
func overheadCases(end time.Time) []overheadCase {
	day := timeRange(end.AddDate(0, 0, -1), end)
	point := pointQuery(end)
	return []overheadCase{
		{"SELECT 1 (pass-through)", "SELECT 1", "SELECT 1"},
		{"point query on ticks (pass-through)", point, point},
		{"query 4 (proxy: rewritten; direct: tier SQL)", oneTenantTier(day), oneTenant(day)},
	}
}

// overheadChunk is how many statements run on one side before the other
// side takes its turn.
const overheadChunk = 50

// overheads measures every case in every protocol.
func (e *rewriteEnv) overheads(ctx context.Context, opts RewriteOptions) ([]overheadResult, error) {
	var out []overheadResult
	for _, c := range overheadCases(opts.rewriteEnd()) {
		for _, m := range overheadModes {
			r := overheadResult{cse: c, mode: m.name, iterations: opts.Iterations}
			var err error
			r.directUS, r.viaUS, err = e.overhead(ctx, c, m.mode, opts.Iterations)
			if err != nil {
				return nil, fmt.Errorf("overhead %s, %s: %w", c.name, m.name, err)
			}
			fmt.Fprintf(opts.Log, "bench: overhead %-46s %-18s direct %8.1f µs  proxy %8.1f µs\n", c.name, m.name, r.directUS, r.viaUS)
			out = append(out, r)
		}
	}
	return out, nil
}

// overhead runs c n times on each side, sequentially on one connection
// per side, the sides taking turns every overheadChunk statements after
// one warm-up chunk each; it returns the mean latencies in microseconds.
func (e *rewriteEnv) overhead(ctx context.Context, c overheadCase, mode pgx.QueryExecMode, n int) (float64, float64, error) {
	var sum [2]time.Duration
	for done := -overheadChunk; done < n; done += overheadChunk {
		k := min(overheadChunk, n-max(done, 0))
		for side, conn := range []*pgx.Conn{e.direct, e.via} {
			took, err := repeat(ctx, conn, mode, []string{c.direct, c.via}[side], k)
			if err != nil {
				return 0, 0, err
			}
			if done >= 0 {
				sum[side] += took
			}
		}
	}
	return perCallUS(sum[0], n), perCallUS(sum[1], n), nil
}

func perCallUS(d time.Duration, n int) float64 { return d.Seconds() * 1e6 / float64(n) }

// repeat runs sql k times, reading every row, and returns the time taken.
func repeat(ctx context.Context, c *pgx.Conn, mode pgx.QueryExecMode, sql string, k int) (time.Duration, error) {
	began := time.Now()
	for range k {
		rows, err := c.Query(ctx, sql, mode)
		if err != nil {
			return 0, err
		}
		for rows.Next() {
		}
		if err := rows.Err(); err != nil {
			return 0, err
		}
	}
	return time.Since(began), nil
}

func rewriteHeader(ctx context.Context, s *stack, opts RewriteOptions) []string {
	end := opts.rewriteEnd()
	return []string{
		fmt.Sprintf("Transparent rewrite: %s rows in %s (created through spiral: tiers %s; %s; plus an index on (t)), %d tenants taking turns, evenly spaced over %d days %s..%s, loaded directly, refreshed until no mark is left, VACUUM (FREEZE, ANALYZE)",
			humanCount(opts.Rows), trackedTable, tickFrames, rewriteKinds, opts.Tenants, opts.Days,
			end.AddDate(0, 0, -opts.Days).Format("2006-01-02"), end.Format("2006-01-02 UTC")),
		fmt.Sprintf("raw = the query directly; proxy = the same text through spiral; tier = hand-written against %s_1h / %s_1d directly; simple protocol, TimeZone UTC, every row fetched and decoded; median of %d runs after one warm-up, the three interleaved in each run",
			trackedTable, trackedTable, opts.Runs),
		fmt.Sprintf("proxy=raw, tier=raw: same column names and types and the same rows in order as the raw query (ints and timestamps exact, floats within %g relative), every run; rewritten: EXPLAIN (COSTS OFF) through spiral differs from directly", rewriteFloatTol),
		s.describe(ctx),
	}
}

// writeRewriteTables prints the query table, any mismatches in full, and
// the overhead table.
func writeRewriteTables(w io.Writer, header []string, results []rewriteResult, over []overheadResult) error {
	for _, h := range header {
		fmt.Fprintln(w, h)
	}
	fmt.Fprintln(w)
	if err := writeQueryTable(w, results); err != nil {
		return err
	}
	writeMismatches(w, results)
	fmt.Fprintf(w, "\nPer-statement overhead: mean latency through spiral minus directly, %d statements per side on one connection each, the sides taking turns every %d after a warm-up of %d; pgx simple protocol, and extended with pgx's statement cache (Parse once per connection, then Bind/Execute)\n\n",
		firstIterations(over), overheadChunk, overheadChunk)
	return writeOverheadTable(w, over)
}

func writeQueryTable(w io.Writer, results []rewriteResult) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "query\trows\traw ms\tproxy ms\ttier ms\traw/proxy\tproxy/tier\trewritten\tproxy=raw\ttier=raw\ttarget\t")
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%d\t%.2f\t%.2f\t%.2f\t%.1fx\t%.2fx\t%s\t%s\t%s\t%s\t\n", r.q.name, r.rows,
			r.median(rawTarget), r.median(proxyTarget), r.median(tierTarget), r.speedup(), r.tierRatio(),
			yesNo(r.rewritten), sameWord(r.proxyDiff), sameWord(r.tierDiff), rewriteVerdict(r))
	}
	return tw.Flush()
}

// rewriteVerdict judges a query against both targets; speed over wrong
// answers counts for nothing.
func rewriteVerdict(r rewriteResult) string {
	if r.proxyDiff != "" {
		return "MISSED: wrong answers"
	}
	return fmt.Sprintf("raw/proxy >= %.0fx %s, proxy/tier <= %.1fx %s",
		rewriteTargetSpeedup, verdict(r.speedup() >= rewriteTargetSpeedup),
		rewriteTargetTier, verdict(r.tierRatio() <= rewriteTargetTier))
}

func writeMismatches(w io.Writer, results []rewriteResult) {
	for _, r := range results {
		if r.proxyDiff != "" {
			fmt.Fprintf(w, "MISMATCH query %s through spiral: %s\n", r.q.name, r.proxyDiff)
		}
		if r.tierDiff != "" {
			fmt.Fprintf(w, "MISMATCH query %s hand-written on the tier: %s\n", r.q.name, r.tierDiff)
		}
	}
}

func writeOverheadTable(w io.Writer, over []overheadResult) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "statement\tprotocol\tdirect µs\tproxy µs\toverhead µs\t")
	for _, r := range over {
		fmt.Fprintf(tw, "%s\t%s\t%.1f\t%.1f\t%+.1f\t\n", r.cse.name, r.mode, r.directUS, r.viaUS, r.viaUS-r.directUS)
	}
	return tw.Flush()
}

func firstIterations(over []overheadResult) int {
	if len(over) == 0 {
		return 0
	}
	return over[0].iterations
}

// sameWord is the table's word for a comparison: "yes" when diff is empty.
func sameWord(diff string) string {
	if diff == "" {
		return "yes"
	}
	return "NO"
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
