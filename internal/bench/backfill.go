package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"

	"spiral/changelog"
	"spiral/internal/engine"
	"spiral/rollup"
)

// Targets of the backfill benchmark.
const (
	backfillTargetRatio = 0.7     // (a): spiral vs PostgreSQL
	backfillTargetRate  = 300_000 // (b): raw rows/s
)

// baselineSchema holds PostgreSQL's copies of the tiers and a view named
// like the base table, so that rollup's statements aim at them unchanged.
const baselineSchema = "pgbase"

// backfillEpoch is where the loaded data starts; fixed, so runs agree.
var backfillEpoch = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// backfillCase is one set of kinds the benchmark refreshes.
type backfillCase struct {
	name  string
	kinds tickKinds
	rate  bool // judged by raw rows/s rather than the ratio to PostgreSQL
}

var backfillCases = []backfillCase{
	{"(a) sum/ohlcv", tickKinds{price: "ohlcv", vol: "sum"}, false},
	{"(b) +stats/sketch/tdigest", tickKinds{price: "stats, sketch, tdigest", vol: "sum"}, true},
}

// BackfillOptions configures Backfill.
type BackfillOptions struct {
	Rows    []int // raw row counts, one run each
	Tenants int
	Days    int       // the rows' time span
	Log     io.Writer // progress lines; nil means silent
}

// DefaultBackfillOptions are the options `make bench` runs with.
func DefaultBackfillOptions() BackfillOptions {
	return BackfillOptions{Rows: []int{1_000_000, 10_000_000}, Tenants: 100, Days: 30}
}

// Validate reports options the benchmark cannot run with.
func (o BackfillOptions) Validate() error {
	if len(o.Rows) == 0 {
		return errors.New("bench: no row counts")
	}
	for _, n := range o.Rows {
		if n < o.Tenants {
			return fmt.Errorf("bench: rows %d: want at least one per tenant (%d)", n, o.Tenants)
		}
	}
	switch {
	case o.Tenants < 1:
		return fmt.Errorf("bench: tenants %d: want at least 1", o.Tenants)
	case o.Days < 1:
		return fmt.Errorf("bench: days %d: want at least 1", o.Days)
	}
	return nil
}

// backfillMethod is one way of filling the tiers.
type backfillMethod int

const (
	pgGroupBy     backfillMethod = iota // INSERT ... SELECT ... GROUP BY
	loadMarks                           // spiral, from the marks the load wrote
	backfillMarks                       // spiral, from schedule_backfill's mark
)

func (m backfillMethod) String() string {
	return [...]string{"postgres INSERT..SELECT GROUP BY", "spiral refresh, load marks", "spiral refresh, backfill mark"}[m]
}

// backfillResult is one timed fill of the tiers.
type backfillResult struct {
	rows    int
	cse     backfillCase
	method  backfillMethod
	marks   int64
	elapsed time.Duration
	match   string // whether spiral's tiers equal PostgreSQL's; "" for PostgreSQL
}

func (r backfillResult) rate() float64 { return float64(r.rows) / r.elapsed.Seconds() }

// Backfill measures refreshing a loaded table into empty tiers against
// PostgreSQL computing the same tiers with INSERT ... SELECT ... GROUP BY,
// for each row count and each backfillCase, and writes the table to w. It
// stops everything it started before returning, also when ctx ends.
func Backfill(ctx context.Context, w io.Writer, opts BackfillOptions) (err error) {
	s, err := openStack(ctx, opts.Validate, &opts.Log)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, s.stop()) }()
	var results []backfillResult
	for _, n := range opts.Rows {
		for _, c := range backfillCases {
			rs, err := backfillRun(ctx, s, opts, n, c)
			if err != nil {
				return fmt.Errorf("%s rows %s: %w", humanCount(n), c.name, err)
			}
			results = append(results, rs...)
		}
	}
	return writeBackfillTable(w, backfillHeader(ctx, s, opts), results)
}

// backfillRun creates and loads the table, then fills the tiers three
// ways: PostgreSQL, spiral from the load's marks, spiral from one backfill
// mark.
func backfillRun(ctx context.Context, s *stack, opts BackfillOptions, n int, c backfillCase) ([]backfillResult, error) {
	if err := prepareBackfill(ctx, s, opts, n, c); err != nil {
		return nil, err
	}
	tr, err := changelog.Load(ctx, s.eng.Pool(), "", trackedTable)
	if err != nil {
		return nil, err
	}
	e := backfillEnv{stack: s, table: tr.Table, base: baselineTable(tr.Table)}
	var out []backfillResult
	for _, m := range []backfillMethod{pgGroupBy, loadMarks, backfillMarks} {
		r := backfillResult{rows: n, cse: c, method: m}
		if err := e.time(ctx, &r); err != nil {
			return nil, fmt.Errorf("%s: %w", m, err)
		}
		fmt.Fprintf(opts.Log, "bench: %s rows %-26s %-34s %8.2f s %9.0f rows/s %s\n",
			humanCount(n), c.name, m, r.elapsed.Seconds(), r.rate(), r.match)
		out = append(out, r)
	}
	return out, nil
}

// backfillEnv is one loaded table and its baseline.
type backfillEnv struct {
	stack *stack
	table *rollup.Table // the tracked table
	base  *rollup.Table // PostgreSQL's copy of its SQL part
}

// prepareBackfill drops what an earlier run left, creates the tracked
// table through the proxy and the baseline schema directly, and loads n
// rows.
func prepareBackfill(ctx context.Context, s *stack, opts BackfillOptions, n int, c backfillCase) error {
	if err := execAll(ctx, s.direct, "DROP SCHEMA IF EXISTS "+baselineSchema+" CASCADE",
		"DROP TABLE IF EXISTS "+trackedTable); err != nil {
		return err
	}
	if err := execAll(ctx, s.via, trackedDDL(trackedTable, c.kinds)); err != nil {
		return fmt.Errorf("create tracked table through the proxy: %w", err)
	}
	fmt.Fprintf(opts.Log, "bench: loading %d rows %s\n", n, c.name)
	if err := loadBackfill(ctx, s.direct, opts, n); err != nil {
		return err
	}
	return execAll(ctx, s.direct, "VACUUM (FREEZE, ANALYZE) "+trackedTable)
}

// backfillLoad inserts the rows of one day [$4, $5) of the numbering:
// row i at epoch + i*$2 seconds, tenant i % $3 + 1 (tenants take turns),
// price a per-tenant wave plus noise, volume uniform in 1..1000.
const backfillLoad = `INSERT INTO ticks (t, sym, price, vol)
SELECT $1::timestamptz + make_interval(secs => i * $2::float8),
       (i % $3)::int + 1,
       100 + (i % $3) + 5 * sin(i::float8 / 5000 + i % $3) + random(),
       1 + (random() * 999)::int
FROM generate_series($4::int8, $5::int8 - 1) AS i`

// loadBackfill loads n rows directly, one INSERT per day (so one dirty
// mark per tenant and day), seeded so that every run loads the same data.
func loadBackfill(ctx context.Context, dsn string, opts BackfillOptions, n int) error {
	return loadByDay(ctx, dsn, backfillLoad, opts, n)
}

// loadByDay loads n rows directly with load, which takes the parameters of
// backfillLoad, one statement per day, after seeding random().
func loadByDay(ctx context.Context, dsn, load string, opts BackfillOptions, n int) error {
	c, err := connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer c.Close(context.Background())
	if _, err := c.Exec(ctx, "SELECT setseed(0.42)"); err != nil {
		return err
	}
	step := float64(opts.Days) * 86400 / float64(n)
	for d := range opts.Days {
		lo, hi := int64(n)*int64(d)/int64(opts.Days), int64(n)*int64(d+1)/int64(opts.Days)
		if _, err := c.Exec(ctx, load, backfillEpoch, step, opts.Tenants, lo, hi); err != nil {
			return fmt.Errorf("load day %d: %w", d+1, err)
		}
	}
	return nil
}

// baselineTable is t with the kinds SQL computes (not sketch, tdigest),
// in baselineSchema.
func baselineTable(t *rollup.Table) *rollup.Table {
	b := *t
	b.Schema, b.Columns = baselineSchema, nil
	for _, col := range t.Columns {
		var kinds []rollup.Kind
		for _, k := range col.Kinds {
			if k != rollup.KindSketch && k != rollup.KindTDigest {
				kinds = append(kinds, k)
			}
		}
		if len(kinds) > 0 {
			col.Kinds = kinds
			b.Columns = append(b.Columns, col)
		}
	}
	return &b
}

// time fills the tiers by r.method from empty, after a checkpoint, and
// records the time and, for spiral, whether its tiers equal PostgreSQL's
// (which the PostgreSQL run, first, leaves in place).
func (e backfillEnv) time(ctx context.Context, r *backfillResult) error {
	if err := e.before(ctx, r.method); err != nil {
		return err
	}
	var err error
	if r.marks, err = countMarks(ctx, e.stack.direct); err != nil {
		return err
	}
	began := time.Now()
	if r.method == pgGroupBy {
		err = runBaseline(ctx, e.stack.direct, e.base)
	} else {
		_, err = e.stack.eng.RefreshTable(ctx, "", trackedTable, "")
	}
	r.elapsed = time.Since(began)
	if err != nil || r.method == pgGroupBy {
		return err
	}
	ok, err := sameTiers(ctx, e.stack.direct, e.table, e.base)
	if err != nil {
		return fmt.Errorf("compare tiers: %w", err)
	}
	r.match = map[bool]string{true: "yes", false: "NO"}[ok]
	return nil
}

// before sets up a method's run: the baseline tables for PostgreSQL,
// empty tiers and one backfill mark for backfillMarks; then a checkpoint.
func (e backfillEnv) before(ctx context.Context, m backfillMethod) error {
	var stmts []string
	switch m {
	case pgGroupBy:
		if err := createBaseline(ctx, e.stack.direct, e.table, e.base); err != nil {
			return err
		}
	case backfillMarks:
		tiers := make([]string, len(e.table.Frames))
		for i, f := range e.table.Frames {
			tiers[i] = rollup.QualifiedName(e.table.Schema, e.table.TierName(f))
		}
		stmts = append(stmts, "TRUNCATE "+strings.Join(tiers, ", "),
			"SELECT spiral.schedule_backfill("+changelog.Literal(rollup.QualifiedName(e.table.Schema, e.table.Name))+")")
	}
	return execAll(ctx, e.stack.direct, append(stmts, "CHECKPOINT")...)
}

func countMarks(ctx context.Context, dsn string) (int64, error) {
	c, err := connect(ctx, dsn)
	if err != nil {
		return 0, err
	}
	defer c.Close(context.Background())
	var n int64
	return n, c.QueryRow(ctx, "SELECT count(*) FROM spiral.marks").Scan(&n)
}

// createBaseline creates the baseline schema: a view named like the base
// table over it, and plain tables with the tiers' columns and primary keys.
func createBaseline(ctx context.Context, dsn string, source, base *rollup.Table) error {
	stmts := []string{
		"CREATE SCHEMA " + baselineSchema,
		fmt.Sprintf("CREATE VIEW %s AS SELECT * FROM %s", rollup.QualifiedName(base.Schema, base.Name),
			rollup.QualifiedName(source.Schema, source.Name)),
	}
	for _, f := range base.Frames {
		stmts = append(stmts, base.TierDDL(f))
		stmts = append(stmts, base.TierIndexDDL(f)...)
	}
	return execAll(ctx, dsn, stmts...)
}

// baselineSQL is what PostgreSQL runs: 1m from raw, then each tier from
// the one below, every row at once.
func baselineSQL(base *rollup.Table) []string {
	stmts := []string{base.RawToTierSQL(base.Frames[0], "")}
	for i := 1; i < len(base.Frames); i++ {
		stmts = append(stmts, base.TierToTierSQL(base.Frames[i-1], base.Frames[i], ""))
	}
	return stmts
}

// runBaseline runs baselineSQL in one transaction, as a refresh does.
func runBaseline(ctx context.Context, dsn string, base *rollup.Table) error {
	c, err := connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer c.Close(context.Background())
	return pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
		for _, q := range baselineSQL(base) {
			if _, err := tx.Exec(ctx, q); err != nil {
				return err
			}
		}
		return nil
	})
}

// sameTiers reports whether every tier of spiral's has the same rows as
// PostgreSQL's in the columns computed exactly (all but stats, whose float
// sums may round differently in another order).
func sameTiers(ctx context.Context, dsn string, t, base *rollup.Table) (bool, error) {
	c, err := connect(ctx, dsn)
	if err != nil {
		return false, err
	}
	defer c.Close(context.Background())
	cols := strings.Join(exactColumns(base), ", ")
	for _, f := range base.Frames {
		mine := rollup.QualifiedName(t.Schema, t.TierName(f))
		theirs := rollup.QualifiedName(base.Schema, base.TierName(f))
		var same bool
		err := c.QueryRow(ctx, fmt.Sprintf(`SELECT (SELECT count(*) FROM %[2]s) = (SELECT count(*) FROM %[3]s)
			AND NOT EXISTS (SELECT %[1]s FROM %[2]s EXCEPT ALL SELECT %[1]s FROM %[3]s)`, cols, mine, theirs)).Scan(&same)
		if err != nil || !same {
			return false, err
		}
	}
	return true, nil
}

// exactColumns are the quoted tier columns of base other than stats.
func exactColumns(base *rollup.Table) []string {
	var out []string
	for _, c := range base.TierColumns() {
		if c.Kind != rollup.KindStats {
			out = append(out, rollup.QuoteIdent(c.Name))
		}
	}
	return out
}

func backfillHeader(ctx context.Context, s *stack, opts BackfillOptions) []string {
	return []string{
		fmt.Sprintf("Backfill: raw rows into empty %s tiers; %d tenants taking turns, rows evenly spaced over %d days from %s (loaded directly, one INSERT per day, then VACUUM (FREEZE, ANALYZE)); one run each, CHECKPOINT before each",
			tickFrames, opts.Tenants, opts.Days, backfillEpoch.Format("2006-01-02 UTC")),
		fmt.Sprintf("%s = %s; %s = %s", backfillCases[0].name, backfillCases[0].kinds, backfillCases[1].name, backfillCases[1].kinds),
		"postgres: one transaction of INSERT INTO <copy of tier> SELECT ... GROUP BY over all rows: 1m from raw, 1h from 1m, 1d from 1h; rollup's SQL-path statements (RawToTierSQL, TierToTierSQL, no WHERE) into plain tables with the tiers' columns and primary keys; for (b) only what SQL computes (row_count, vol, price_stats), not sketch or tdigest: that ratio is for information",
		fmt.Sprintf("spiral: engine.RefreshTable(ctx, \"\", \"ticks\", \"\") (%d marks per transaction, 24h max span per mark); ", engine.DefaultWorkerConfig().BatchSize) + "load marks = the marks the load's triggers wrote; backfill mark = tiers truncated, then spiral.schedule_backfill (one mark for all tenants, as ALTER ... SET spiral.frames makes); match = same tier rows as postgres (all columns but stats)",
		s.describe(ctx),
	}
}

// writeBackfillTable prints one row per run; spiral rows are compared with
// the PostgreSQL row of the same size and case.
func writeBackfillTable(w io.Writer, header []string, results []backfillResult) error {
	for _, h := range header {
		fmt.Fprintln(w, h)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "rows\tcase\tmethod\tmarks\tseconds\traw rows/s\tvs postgres\tmatch\ttarget\t")
	for _, r := range results {
		pg := findBaseline(results, r)
		ratio := "-"
		if pg != nil && r.method != pgGroupBy {
			ratio = fmt.Sprintf("%.2fx", pg.elapsed.Seconds()/r.elapsed.Seconds())
		}
		marks := "-"
		if r.method != pgGroupBy {
			marks = fmt.Sprint(r.marks)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%.2f\t%.0f\t%s\t%s\t%s\t\n", humanCount(r.rows), r.cse.name, r.method,
			marks, r.elapsed.Seconds(), r.rate(), ratio, dash(r.match), backfillVerdict(r, pg))
	}
	return tw.Flush()
}

func findBaseline(results []backfillResult, r backfillResult) *backfillResult {
	for i, b := range results {
		if b.method == pgGroupBy && b.rows == r.rows && b.cse.name == r.cse.name {
			return &results[i]
		}
	}
	return nil
}

// backfillVerdict judges a spiral row: (a) by the ratio to PostgreSQL,
// (b) by raw rows/s.
func backfillVerdict(r backfillResult, pg *backfillResult) string {
	switch {
	case r.method == pgGroupBy:
		return "-"
	case r.cse.rate:
		return fmt.Sprintf(">= %dk rows/s %s", backfillTargetRate/1000, verdict(r.rate() >= backfillTargetRate))
	case pg == nil:
		return "-"
	}
	return fmt.Sprintf(">= %.2fx %s", backfillTargetRatio, verdict(pg.elapsed.Seconds()/r.elapsed.Seconds() >= backfillTargetRatio))
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
