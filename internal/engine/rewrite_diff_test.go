package engine_test

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"spiral/internal/pgtest"
)

// The rewrite differential test (invariants 1 and 2): random tracked tables
// with a random history of writes and refreshes, so that some buckets are
// clean and some dirty, and random queries from the grammar the rewriter
// serves, each run through the proxy and directly on the database, in the
// simple and the extended protocol, under random session TimeZones. The
// answers must agree: exact for integers, numerics, times and text; within
// 1e-9 relative for float8 and for moments of integer and numeric columns,
// or one unit of the last digit for those moments: PostgreSQL rounds them
// to a scale (an integer, for large values), and the rewritten answer,
// computed in float8 and rounded to the same scale, lands one unit off when
// the exact value is within rounding error of a half unit;
// same column names, type OIDs and typmods; same row order where ORDER BY
// fixes it; same SQLSTATE where both fail.
//
// SPIRAL_DIFF_SEED fixes the seed of the first table (table i uses seed+i);
// SPIRAL_SOAK=10m (or any duration) keeps drawing tables for that long, with
// more data and queries (make soak). A mismatch is shrunk and printed as a
// script: the CREATE TABLE, every write and refresh before it, the session
// TimeZone, the query and both answers.

// diffConfig scales the test: CI runs a few tables, soak runs until until.
type diffConfig struct {
	tables  int           // tables to draw; 0: until the deadline
	until   time.Time     // soak deadline; in CI, no new table after it (once two ran)
	phases  int           // query batches per table, with writes between them
	queries int           // new queries per batch
	rows    [2]int        // bulk-load rows, min and max
	read    time.Duration // how long the concurrent test reads (0: until the deadline)
}

func diffSetup(t *testing.T) (diffConfig, uint64) {
	cfg := diffConfig{tables: 8, until: time.Now().Add(100 * time.Second), phases: 4, queries: 50, rows: [2]int{2000, 4000}, read: 12 * time.Second}
	if s := os.Getenv("SPIRAL_SOAK"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			d = 10 * time.Minute
		}
		cfg = diffConfig{until: time.Now().Add(d), phases: 5, queries: 80, rows: [2]int{2000, 15000}}
		t.Logf("soak for %v", d)
	}
	seed := uint64(time.Now().UnixNano()) % 1_000_000_000
	if s := os.Getenv("SPIRAL_DIFF_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("SPIRAL_DIFF_SEED=%q: %v", s, err)
		}
		seed = n
	}
	t.Logf("seed %d (rerun with SPIRAL_DIFF_SEED=%d)", seed, seed)
	return cfg, seed
}

// more reports whether to draw table i: in CI, up to c.tables while the
// time budget lasts (a slow rewrite must not stall CI), at least two; in a
// soak, until the deadline.
func (c diffConfig) more(i int) bool {
	if c.tables > 0 && (i >= c.tables || i >= 2 && time.Now().After(c.until)) {
		return false
	}
	return c.tables > 0 || time.Now().Before(c.until)
}

func TestRewriteDiff(t *testing.T) {
	cfg, seed := diffSetup(t)
	e := newEnv(t)
	exec(t, connect(t, e.via), "CREATE SCHEMA diff")
	var total diffStats
	for i := 0; cfg.more(i); i++ {
		s := seed + uint64(i)
		t.Run(fmt.Sprint(s), func(t *testing.T) { diffTableRun(t, e, s, cfg, &total) })
	}
	t.Logf("%d tables, %d comparisons of %d queries (%d re-run as cached statements; %d runs skipped: prepared in another TimeZone), %d with rows, %d failing alike on both sides; %d of %d queries EXPLAINed through the proxy read a tier",
		total.tables, total.compared, total.queries, total.reruns, total.skipped, total.nonEmpty, total.errors, total.rewritten, total.explained)
	if total.queries > 100 && total.nonEmpty*2 < total.compared {
		t.Fatalf("only %d of %d comparisons had rows: the generated data or queries are wrong", total.nonEmpty, total.compared)
	}
}

// diffStats counts what a run compared.
type diffStats struct {
	tables, queries, reruns, compared, nonEmpty, errors, skipped int
	explained, rewritten                                         int // queries EXPLAINed through the proxy; those whose plan reads a tier
}

func (s *diffStats) add(o diffStats) {
	s.tables++
	s.queries += o.queries
	s.reruns += o.reruns
	s.compared += o.compared
	s.nonEmpty += o.nonEmpty
	s.errors += o.errors
	s.skipped += o.skipped
	s.explained += o.explained
	s.rewritten += o.rewritten
}

// diffModes are the protocols each query runs in: the simple protocol, and
// the extended protocol through pgx's statement cache (Parse once, then
// Bind/Execute at every later run of the same text, also after the data
// and the session TimeZone changed).
var diffModes = []pgx.QueryExecMode{pgx.QueryExecModeSimpleProtocol, pgx.QueryExecModeCacheStatement}

func diffModeName(m pgx.QueryExecMode) string {
	if m == pgx.QueryExecModeSimpleProtocol {
		return "simple protocol"
	}
	return "extended protocol (cached prepared statement)"
}

// diffPrepared is when a statement was prepared: in which session TimeZone
// and after how many steps of the history.
type diffPrepared struct {
	zone  string
	steps int
}

// diffSession is one table's run: its connections, the history so far and
// the session TimeZone.
type diffSession struct {
	t           *testing.T
	seed        uint64
	tb          *diffTable
	via, direct *pgx.Conn
	history     []string
	zone        string
	prepared    map[string]diffPrepared // by query text, its first extended-protocol run
	stats       diffStats
	slowest     time.Duration
	slowSQL     string
}

func diffTableRun(t *testing.T, e *env, seed uint64, cfg diffConfig, total *diffStats) {
	rng := rand.New(rand.NewPCG(seed, 0xd1ff))
	tb := newDiffTable(seed, rng, cfg.rows[0]+rng.IntN(cfg.rows[1]-cfg.rows[0]+1))
	s := &diffSession{t: t, seed: seed, tb: tb, via: connect(t, e.via), direct: connect(t, e.direct), prepared: map[string]diffPrepared{}}
	defer func() {
		total.add(s.stats)
		t.Logf("slowest through the proxy (%v): %s", s.slowest, s.slowSQL)
	}()
	s.step(tb.create)
	s.step(fmt.Sprintf("CREATE INDEX ON %s (t)", tb.qname()))
	s.step(tb.bulk(rng.Uint64()))
	s.step(tb.refresh(rng))
	if rng.IntN(2) == 0 {
		s.step(fmt.Sprintf("SELECT spiral_refresh('%s')", tb.qname()))
	}
	if rng.IntN(2) == 0 {
		// Row estimates for the catalog's Dense verdicts (a dense tier is
		// not fallen to); never analyzed, no tier is dense.
		s.step("ANALYZE")
	}
	var done []*diffQuery
	for phase := range cfg.phases {
		if phase > 0 {
			s.writes(rng, phase)
		}
		t.Logf("phase %d: %d dirty marks", phase, s.dirty())
		for i := range cfg.queries {
			if i%10 == 0 {
				s.setZone(diffPick(rng, diffZones))
			}
			q := (&diffGen{rng: rng, tb: tb, loc: s.loc()}).query()
			s.check(q)
			done = append(done, q)
		}
		for _, q := range done[:len(done)-cfg.queries] {
			if rng.IntN(5) == 0 { // the same text again: a cached statement, new data
				s.stats.reruns++
				s.check(q)
			}
		}
	}
}

// writes is the history between two query batches: late and out-of-order
// inserts, updates, deletes, sometimes TRUNCATE and a reload, and refreshes
// of everything or of one tenant, or none.
func (s *diffSession) writes(rng *rand.Rand, phase int) {
	tb := s.tb
	if phase > 1 && rng.IntN(5) == 0 {
		s.step("TRUNCATE " + tb.qname())
		s.step(tb.bulk(rng.Uint64()))
	}
	for range 2 + rng.IntN(6) {
		s.step(tb.mutation(rng, false))
		if rng.IntN(6) == 0 {
			s.step(tb.refresh(rng))
		}
	}
	switch rng.IntN(3) {
	case 0:
		s.step(tb.refresh(rng))
	case 1:
		s.step(tb.mutation(rng, false))
	}
}

// step runs one statement of the history through the proxy.
func (s *diffSession) step(sql string) {
	s.t.Helper()
	s.history = append(s.history, sql)
	if _, err := s.via.Exec(context.Background(), sql); err != nil {
		s.t.Fatalf("seed %d: history step failed: %v\n%s", s.seed, err, sql)
	}
}

func (s *diffSession) dirty() int64 {
	var n int64
	err := s.direct.QueryRow(context.Background(), `SELECT count(*) FROM spiral.changelog WHERE base_view = $1`, s.tb.name).Scan(&n)
	if err != nil {
		s.t.Fatal(err)
	}
	return n
}

func (s *diffSession) setZone(zone string) {
	s.zone = zone
	for _, c := range []*pgx.Conn{s.via, s.direct} {
		exec(s.t, c, "SET TimeZone = '"+zone+"'")
	}
}

func (s *diffSession) loc() *time.Location {
	loc, err := time.LoadLocation(s.zone)
	if err != nil {
		s.t.Fatal(err)
	}
	return loc
}

// check runs q through the proxy and directly in both protocols and fails
// the test, with a shrunk reproducer, when the answers differ.
func (s *diffSession) check(q *diffQuery) {
	s.t.Helper()
	s.stats.queries++
	if s.stats.queries%4 == 0 {
		s.explain(q)
	}
	for _, mode := range diffModes {
		sql, _ := q.sql()
		if mode != pgx.QueryExecModeSimpleProtocol {
			if _, ok := s.prepared[sql]; !ok {
				s.prepared[sql] = diffPrepared{zone: s.zone, steps: len(s.history)}
			} else if s.ambiguous(q) {
				s.stats.skipped++
				continue
			}
		}
		got, want, d := s.compare(mode, q)
		if d == "" && mode == pgx.QueryExecModeSimpleProtocol && s.stats.queries%3 == 0 {
			// Again: the proxy now runs the statement it prepared the
			// first time (EXECUTE).
			got, want, d = s.compare(mode, q)
		}
		s.stats.compared++
		switch {
		case want.err != nil && sqlState(want.err) != "22012":
			s.t.Fatalf("seed %d: the query fails directly (%v): the generator is wrong\n%s", s.seed, want.err, sql)
		case want.err != nil:
			s.stats.errors++
		case len(want.rows) > 0:
			s.stats.nonEmpty++
		}
		if d != "" {
			s.t.Fatal(s.report(mode, q, got, want, d))
		}
	}
}

// explain counts whether the proxy's plan for q reads a tier, so that the
// log shows how much of the test exercises the rewrite at all.
func (s *diffSession) explain(q *diffQuery) {
	sql, args := q.sql()
	rows, err := s.via.Query(context.Background(), "EXPLAIN "+sql, append([]any{pgx.QueryExecModeSimpleProtocol}, args...)...)
	if err != nil {
		return
	}
	plan, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return
	}
	s.stats.explained++
	if strings.Contains(strings.Join(plan, "\n"), s.tb.name+"_") {
		s.stats.rewritten++
	}
}

// ambiguous reports whether q's answer in the extended protocol depends on
// when PostgreSQL last analysed its prepared statement (see zoned).
func (s *diffSession) ambiguous(q *diffQuery) bool {
	sql, _ := q.sql()
	p, ok := s.prepared[sql]
	return ok && p.zone != s.zone && q.zoned()
}

func (s *diffSession) compare(mode pgx.QueryExecMode, q *diffQuery) (got, want diffResult, d string) {
	sql, args := q.sql()
	start := time.Now()
	got = diffRun(s.via, mode, sql, args)
	if d := time.Since(start); d > s.slowest {
		s.slowest, s.slowSQL = d, sql
	}
	want = diffRun(s.direct, mode, sql, args)
	return got, want, diffCompare(diffShape{approx: q.approx(), ordered: q.ordered()}, got, want)
}

// report shrinks a mismatching query and describes how to reproduce it.
func (s *diffSession) report(mode pgx.QueryExecMode, q *diffQuery, got, want diffResult, d string) string {
	orig, _ := q.sql()
	small := diffShrink(q, func(c *diffQuery) bool {
		if mode != pgx.QueryExecModeSimpleProtocol && s.ambiguous(c) {
			return false
		}
		_, _, d := s.compare(mode, c)
		return d != ""
	}, 200)
	if small != q {
		got, want, d = s.compare(mode, small)
	}
	sql, args := small.sql()
	var b strings.Builder
	fmt.Fprintf(&b, "invariant 1/2 violated: the proxy's answer differs from the raw table's\n")
	soak := "" // a soak draws bigger tables from the same seed
	if os.Getenv("SPIRAL_SOAK") != "" {
		soak = "SPIRAL_SOAK=1s "
	}
	fmt.Fprintf(&b, "seed %d; rerun: %sSPIRAL_DIFF_SEED=%d go test -count=1 -run 'TestRewriteDiff$/^%d$' ./internal/engine/\n", s.seed, soak, s.seed, s.seed)
	fmt.Fprintf(&b, "protocol: %s; session TimeZone: %s", diffModeName(mode), s.zone)
	if p, ok := s.prepared[orig]; ok && mode != pgx.QueryExecModeSimpleProtocol && (p.zone != s.zone || p.steps != len(s.history)) {
		fmt.Fprintf(&b, "\nthe statement was prepared (Parse) through the proxy under TimeZone %s after step %d of the %d below, and executed again now", p.zone, p.steps, len(s.history))
	}
	fmt.Fprintf(&b, "\ndifference: %s\n\n-- reproducer: run through the proxy and directly, then compare\n", d)
	if s.tb.schema != "" {
		b.WriteString("CREATE SCHEMA IF NOT EXISTS diff;\n")
	}
	for _, h := range s.history {
		b.WriteString(h + ";\n")
	}
	fmt.Fprintf(&b, "SET TimeZone = '%s';\n%s;\n", s.zone, sql)
	for i, a := range args {
		fmt.Fprintf(&b, "-- $%d = '%s'\n", i+1, a.(time.Time).UTC().Format("2006-01-02 15:04:05.999999+00"))
	}
	if sql != orig {
		fmt.Fprintf(&b, "-- shrunk from: %s\n", orig)
	}
	shape := diffShape{approx: small.approx(), ordered: small.ordered()}
	fmt.Fprintf(&b, "\nthrough the proxy: %s\ndirectly:          %s", got.describe(shape), want.describe(shape))
	return b.String()
}

// diffShrink returns the smallest query reachable from q by single
// simplifications that all still fail, trying at most budget queries.
func diffShrink(q *diffQuery, fails func(*diffQuery) bool, budget int) *diffQuery {
	for progress := true; progress && budget > 0; {
		progress = false
		for _, c := range q.smaller() {
			if budget--; budget < 0 {
				break
			}
			if fails(c) {
				q, progress = c, true
				break
			}
		}
	}
	return q
}

// TestRewriteDiffConcurrent: writers at READ COMMITTED and REPEATABLE READ
// and the worker change the table and its tiers while a reader, through the
// proxy and inside one REPEATABLE READ transaction, runs a query, turns
// the rewrite off, and runs it again. Both answers come from one snapshot,
// so they must be equal.
func TestRewriteDiffConcurrent(t *testing.T) {
	cfg, seed := diffSetup(t)
	e := newEnv(t)
	rng := rand.New(rand.NewPCG(seed, 0xc0c0))
	tb := newDiffTable(seed, rng, 3000)
	via := connect(t, e.via)
	exec(t, via, "CREATE SCHEMA diff")
	for _, sql := range []string{tb.create, "CREATE INDEX ON " + tb.qname() + " (t)", tb.bulk(rng.Uint64()), tb.refresh(rng)} {
		exec(t, via, sql)
	}
	t.Logf("table:\n%s", tb.create)
	e.worker(t)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() }) // also when the reader fails
	var writes atomic.Int64
	errc := make(chan error, 2)
	for w, level := range []pgx.TxIsoLevel{pgx.ReadCommitted, pgx.RepeatableRead} {
		dsn := []string{e.via, e.direct}[w]
		wg.Add(1)
		go func() {
			defer wg.Done()
			errc <- diffWriter(ctx, dsn, level, tb, seed+uint64(w)+1, &writes)
		}()
	}
	r := diffReader{t: t, c: via, tb: tb, rng: rng, prepared: map[string]string{}}
	r.run(cfg)
	cancel()
	wg.Wait()
	close(errc)
	for err := range errc {
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d reader transactions, %d of them with dirty marks in their snapshot; %d committed write transactions", r.txs, r.dirty, writes.Load())
	if writes.Load() < 10 || r.dirty == 0 {
		t.Fatalf("%d write transactions committed, %d of %d reads saw dirty marks: the test did not exercise anything", writes.Load(), r.dirty, r.txs)
	}
}

// diffReader is the reader of the concurrent test.
type diffReader struct {
	t        *testing.T
	c        *pgx.Conn
	tb       *diffTable
	rng      *rand.Rand
	zone     string
	prepared map[string]string // by query text, the TimeZone it was prepared in
	txs      int
	dirty    int // transactions whose snapshot had dirty marks
}

// run runs reader transactions for cfg.read, or until the soak deadline.
func (r *diffReader) run(cfg diffConfig) {
	until := time.Now().Add(cfg.read)
	if cfg.read == 0 {
		until = cfg.until
	}
	for ; time.Now().Before(until); r.txs++ {
		if r.txs%5 == 0 {
			r.zone = diffPick(r.rng, diffZones)
			exec(r.t, r.c, "SET TimeZone = '"+r.zone+"'")
		}
		loc, err := time.LoadLocation(r.zone)
		if err != nil {
			r.t.Fatal(err)
		}
		r.tx((&diffGen{rng: r.rng, tb: r.tb, loc: loc, safe: true}).query())
	}
}

// tx runs q with the rewrite on and then off, in the simple protocol and
// the extended one, in one REPEATABLE READ transaction. The extended run
// with the rewrite off parses the statement anew (pgx's describe-exec
// mode), so that the proxy sees it while the rewrite is off.
func (r *diffReader) tx(q *diffQuery) {
	t, c := r.t, r.c
	sql, args := q.sql()
	cached := pgx.QueryExecModeCacheStatement
	if z, ok := r.prepared[sql]; !ok {
		r.prepared[sql] = r.zone
	} else if z != r.zone && q.zoned() {
		cached = pgx.QueryExecModeDescribeExec
	}
	exec(t, c, "BEGIN ISOLATION LEVEL REPEATABLE READ")
	on := []diffResult{diffRun(c, pgx.QueryExecModeSimpleProtocol, sql, args), diffRun(c, cached, sql, args)}
	exec(t, c, "SET spiral.enable_rewrite = off")
	off := []diffResult{diffRun(c, pgx.QueryExecModeSimpleProtocol, sql, args), diffRun(c, pgx.QueryExecModeDescribeExec, sql, args)}
	exec(t, c, "SET spiral.enable_rewrite = on")
	var marks int64
	if err := c.QueryRow(context.Background(), `SELECT count(*) FROM spiral.changelog WHERE base_view = $1`, r.tb.name).Scan(&marks); err != nil {
		t.Fatalf("reading the dirty marks: %v", err)
	}
	if marks > 0 {
		r.dirty++
	}
	exec(t, c, "COMMIT")
	for i, mode := range []pgx.QueryExecMode{pgx.QueryExecModeSimpleProtocol, cached} {
		if off[i].err != nil {
			t.Fatalf("the query fails with the rewrite off (%v): the generator is wrong\n%s", off[i].err, diffWithArgs(sql, args))
		}
		shape := diffShape{approx: q.approx(), ordered: q.ordered(), labels: [2]string{"rewrite on", "rewrite off"}}
		if d := diffCompare(shape, on[i], off[i]); d != "" {
			t.Fatalf("invariant 1 violated under concurrent writes: in one REPEATABLE READ transaction through the proxy, the answer with the rewrite on differs from the one with it off\n"+
				"seed %s; %s; session TimeZone %s; %d dirty marks in the snapshot\ndifference: %s\n%s\n\ntable:\n%s\n\nrewrite on:  %s\nrewrite off: %s",
				r.tb.seedOf(), diffModeName(mode), r.zone, marks, d, diffWithArgs(sql, args), r.tb.create, on[i].describe(shape), off[i].describe(shape))
		}
	}
}

// seedOf recovers the seed from the table's name.
func (tb *diffTable) seedOf() string { return strings.TrimPrefix(tb.name, "q") }

func diffWithArgs(sql string, args []any) string {
	for i, a := range args {
		sql += fmt.Sprintf("\n-- $%d = '%s'", i+1, a.(time.Time).UTC().Format("2006-01-02 15:04:05.999999+00"))
	}
	return sql
}

// diffWriter runs small write transactions at level until ctx ends.
// Serialization failures and deadlocks end only their transaction.
func diffWriter(ctx context.Context, dsn string, level pgx.TxIsoLevel, tb *diffTable, seed uint64, writes *atomic.Int64) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	rng := rand.New(rand.NewPCG(seed, 7))
	for ctx.Err() == nil {
		err := pgx.BeginTxFunc(ctx, conn, pgx.TxOptions{IsoLevel: level}, func(tx pgx.Tx) error {
			for range 1 + rng.IntN(3) {
				if _, err := tx.Exec(ctx, tb.mutation(rng, true)); err != nil {
					return err
				}
			}
			return nil
		})
		switch {
		case err == nil:
			writes.Add(1)
		case ctx.Err() != nil || serialization(err):
		default:
			return fmt.Errorf("writer at %s: %w", level, err)
		}
	}
	return nil
}

// diffResult is one execution's answer.
type diffResult struct {
	fields []pgconn.FieldDescription
	rows   [][]any
	err    error
}

func diffRun(c *pgx.Conn, mode pgx.QueryExecMode, sql string, args []any) diffResult {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rows, err := c.Query(ctx, sql, append([]any{mode}, args...)...)
	if err != nil {
		return diffResult{err: err}
	}
	defer rows.Close()
	res := diffResult{fields: slices.Clone(rows.FieldDescriptions())}
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			return diffResult{err: err}
		}
		res.rows = append(res.rows, vals)
	}
	if err := rows.Err(); err != nil {
		return diffResult{fields: res.fields, err: err}
	}
	return res
}

// describe prints a result for a report: its columns and its first rows,
// sorted unless s says the order is fixed.
func (r diffResult) describe(s diffShape) string {
	if r.err != nil {
		return fmt.Sprintf("error %v", r.err)
	}
	cols := make([]string, len(r.fields))
	for i, f := range r.fields {
		cols[i] = fmt.Sprintf("%s (oid %d, typmod %d)", f.Name, f.DataTypeOID, f.TypeModifier)
	}
	rows := diffTable2(r.rows)
	if !s.ordered {
		diffSort(rows, s.approx)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d rows; columns %s", len(rows), strings.Join(cols, ", "))
	for i, row := range rows {
		if i == 15 {
			fmt.Fprintf(&b, "\n    ... %d more", len(rows)-i)
			break
		}
		b.WriteString("\n    " + diffRowText(row))
	}
	return b.String()
}

// diffShape is what the comparison needs to know about a query.
type diffShape struct {
	approx  []bool    // per column: a numeric compared within 1e-9 relative
	ordered bool      // ORDER BY fixes the order of all rows
	labels  [2]string // what the two results are; "proxy" and "direct" if empty
}

func (s diffShape) names() (string, string) {
	if s.labels[0] == "" {
		return "proxy", "direct"
	}
	return s.labels[0], s.labels[1]
}

// diffCompare returns "" when got (through the proxy) and want (directly)
// are the same answer, else what differs first.
func diffCompare(s diffShape, got, want diffResult) string {
	gn, wn := s.names()
	if got.err != nil || want.err != nil {
		gc, wc := sqlState(got.err), sqlState(want.err)
		if got.err != nil && want.err != nil && gc != "" && gc == wc {
			return ""
		}
		return fmt.Sprintf("errors differ: %s %v; %s %v", gn, got.err, wn, want.err)
	}
	if d := diffFields(got.fields, want.fields); d != "" {
		return d
	}
	g, w := diffTable2(got.rows), diffTable2(want.rows)
	if len(g) != len(w) {
		return fmt.Sprintf("%d rows, want %d\n  only %s:%s\n  only %s:%s", len(g), len(w),
			gn, diffOnly(g, w, s.approx), wn, diffOnly(w, g, s.approx))
	}
	if !s.ordered {
		diffSort(g, s.approx)
		diffSort(w, s.approx)
	}
	for i := range g {
		for j := range g[i] {
			approx := j < len(s.approx) && s.approx[j]
			if !diffCellEqual(g[i][j], w[i][j], approx) {
				return fmt.Sprintf("row %d (of %d, compared %s), column %d (%s): %s %s, %s %s\n  %s row: %s\n  %s row: %s",
					i+1, len(g), map[bool]string{true: "in order", false: "as sorted multisets"}[s.ordered], j+1, got.fields[j].Name,
					gn, g[i][j].text, wn, w[i][j].text, gn, diffRowText(g[i]), wn, diffRowText(w[i]))
			}
		}
	}
	return ""
}

// diffOnly lists (up to 5 of) the rows of a that b lacks, floats and
// approximate numerics rounded to 9 significant digits.
func diffOnly(a, b [][]diffCell, approx []bool) string {
	key := func(r []diffCell) string {
		parts := make([]string, len(r))
		for j, c := range r {
			switch {
			case c.float:
				parts[j] = fmt.Sprintf("%.9g", c.f)
			case c.num != nil && j < len(approx) && approx[j]:
				f, _ := c.num.Float64()
				parts[j] = fmt.Sprintf("%.9g", f)
			case c.num != nil:
				parts[j] = c.num.RatString()
			default:
				parts[j] = c.text
			}
		}
		return strings.Join(parts, " | ")
	}
	have := map[string]int{}
	for _, r := range b {
		have[key(r)]++
	}
	var out strings.Builder
	n := 0
	for _, r := range a {
		if k := key(r); have[k] > 0 {
			have[k]--
		} else if n++; n <= 5 {
			out.WriteString("\n    " + diffRowText(r))
		}
	}
	if n > 5 {
		fmt.Fprintf(&out, "\n    ... %d more", n-5)
	}
	if n == 0 {
		return " none"
	}
	return out.String()
}

// diffFields compares RowDescriptions: names, type OIDs, sizes and typmods.
// Table OIDs are not compared: a rewritten plan reads other tables.
func diffFields(got, want []pgconn.FieldDescription) string {
	if len(got) != len(want) {
		return fmt.Sprintf("%d columns, want %d", len(got), len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.Name != w.Name || g.DataTypeOID != w.DataTypeOID || g.TypeModifier != w.TypeModifier || g.DataTypeSize != w.DataTypeSize {
			return fmt.Sprintf("column %d is %q (oid %d, size %d, typmod %d), want %q (oid %d, size %d, typmod %d)",
				i+1, g.Name, g.DataTypeOID, g.DataTypeSize, g.TypeModifier, w.Name, w.DataTypeOID, w.DataTypeSize, w.TypeModifier)
		}
	}
	return ""
}

// diffCell is a value normalised for comparison.
type diffCell struct {
	null  bool
	text  string   // canonical text: equal texts are equal values
	float bool     // f holds a float4 or float8
	f     float64  //
	num   *big.Rat // a finite numeric
	scale int      // its digits after the point
}

func diffCells(row []any) []diffCell {
	out := make([]diffCell, len(row))
	for i, v := range row {
		out[i] = diffNormalize(v)
	}
	return out
}

func diffTable2(rows [][]any) [][]diffCell {
	out := make([][]diffCell, len(rows))
	for i, r := range rows {
		out[i] = diffCells(r)
	}
	return out
}

func diffNormalize(v any) diffCell {
	switch x := v.(type) {
	case nil:
		return diffCell{null: true, text: "NULL"}
	case float64:
		return diffCell{float: true, f: x, text: strconv.FormatFloat(x, 'g', -1, 64)}
	case float32:
		return diffCell{float: true, f: float64(x), text: strconv.FormatFloat(float64(x), 'g', -1, 32)}
	case pgtype.Numeric:
		if !x.Valid {
			return diffCell{null: true, text: "NULL"}
		}
		if x.NaN || x.InfinityModifier != pgtype.Finite {
			return diffCell{text: fmt.Sprintf("numeric NaN/inf %v %d", x.NaN, x.InfinityModifier)}
		}
		r := new(big.Rat).SetInt(x.Int)
		scale := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(max(x.Exp, -x.Exp))), nil)
		if x.Exp >= 0 {
			r.Mul(r, new(big.Rat).SetInt(scale))
		} else {
			r.Quo(r, new(big.Rat).SetInt(scale))
		}
		return diffCell{num: r, scale: max(0, int(-x.Exp)), text: r.FloatString(max(0, int(-x.Exp)))}
	case time.Time:
		return diffCell{text: x.UTC().Format(time.RFC3339Nano)}
	case string:
		return diffCell{text: strconv.Quote(x)}
	case int64:
		return diffCell{text: strconv.FormatInt(x, 10)}
	case int32:
		return diffCell{text: strconv.FormatInt(int64(x), 10)}
	case int16:
		return diffCell{text: strconv.FormatInt(int64(x), 10)}
	case bool:
		return diffCell{text: strconv.FormatBool(x)}
	}
	return diffCell{text: fmt.Sprintf("%T %v", v, v)}
}

// diffCellEqual compares two values: floats within 1e-9 relative, numerics
// exactly unless approx (then also within one unit of the last digit, when
// both have the same scale),
// everything else by its canonical text.
func diffCellEqual(a, b diffCell, approx bool) bool {
	switch {
	case a.null || b.null:
		return a.null == b.null
	case a.float && b.float:
		return diffClose(a.f, b.f)
	case a.num != nil && b.num != nil && approx:
		x, _ := a.num.Float64()
		y, _ := b.num.Float64()
		return diffClose(x, y) || a.scale == b.scale && math.Abs(x-y) <= math.Pow10(-a.scale)*1.000001
	case a.num != nil && b.num != nil:
		return a.num.Cmp(b.num) == 0
	}
	return a.float == b.float && (a.num == nil) == (b.num == nil) && a.text == b.text
}

// diffClose: within 1e-9 relative, or 1e-12 absolute for values that are
// zero up to rounding (the variance of equal floats).
func diffClose(x, y float64) bool {
	if x == y || math.IsNaN(x) && math.IsNaN(y) {
		return true
	}
	d := math.Abs(x - y)
	return d <= 1e-9*math.Max(math.Abs(x), math.Abs(y)) || d <= 1e-12
}

// diffSort orders rows by their exact columns first, so that rows whose
// floats differ in the last digits still pair up.
func diffSort(rows [][]diffCell, approx []bool) {
	key := func(r []diffCell) string {
		var exact, rest []string
		for j, c := range r {
			if c.float || j < len(approx) && approx[j] {
				rest = append(rest, c.text)
			} else if c.num != nil {
				exact = append(exact, c.num.RatString())
			} else {
				exact = append(exact, c.text)
			}
		}
		return strings.Join(exact, "\x00") + "\x01" + strings.Join(rest, "\x00")
	}
	slices.SortStableFunc(rows, func(a, b []diffCell) int { return cmp.Compare(key(a), key(b)) })
}

func diffRowText(r []diffCell) string {
	parts := make([]string, len(r))
	for i, c := range r {
		parts[i] = c.text
	}
	return strings.Join(parts, " | ")
}

// TestRewriteDiffCompare checks that the comparison can fail: it must see
// every kind of difference the differential test relies on it to see.
func TestRewriteDiffCompare(t *testing.T) {
	num := func(s string) pgtype.Numeric {
		var n pgtype.Numeric
		if err := n.Scan(s); err != nil {
			t.Fatal(err)
		}
		return n
	}
	i8 := []pgconn.FieldDescription{{Name: "n", DataTypeOID: 20, DataTypeSize: 8, TypeModifier: -1}}
	res := func(fields []pgconn.FieldDescription, vals ...any) diffResult {
		r := diffResult{fields: fields}
		for _, v := range vals {
			r.rows = append(r.rows, []any{v})
		}
		return r
	}
	rename := slices.Clone(i8)
	rename[0].Name = "m"
	numeric := []pgconn.FieldDescription{{Name: "n", DataTypeOID: 1700, DataTypeSize: -1, TypeModifier: -1}}
	typmod := []pgconn.FieldDescription{{Name: "n", DataTypeOID: 1700, DataTypeSize: -1, TypeModifier: 655366}}
	cases := []struct {
		name      string
		got, want diffResult
		shape     diffShape
		same      bool
	}{
		{"1 vs 2", res(i8, int64(1)), res(i8, int64(2)), diffShape{}, false},
		{"1.0 vs 1.0000001", res(i8, 1.0), res(i8, 1.0000001), diffShape{}, false},
		{"float rounding", res(i8, 1.0), res(i8, 1.0+1e-13), diffShape{}, true},
		{"column type", res(numeric, num("1")), res(i8, int64(1)), diffShape{}, false},
		{"column name", res(rename, int64(1)), res(i8, int64(1)), diffShape{}, false},
		{"typmod", res(typmod, num("1")), res(numeric, num("1")), diffShape{}, false},
		{"numeric scale", res(numeric, num("1.50")), res(numeric, num("1.5")), diffShape{}, true},
		{"numeric last digit", res(numeric, num("0.3333333333333333")), res(numeric, num("0.3333333333333334")), diffShape{}, false},
		{"numeric moment", res(numeric, num("0.3333333333333333")), res(numeric, num("0.3333333333333334")), diffShape{approx: []bool{true}}, true},
		{"numeric moment, one unit of its scale", res(numeric, num("778043792")), res(numeric, num("778043791")), diffShape{approx: []bool{true}}, true},
		{"numeric moment, two units", res(numeric, num("778043793")), res(numeric, num("778043791")), diffShape{approx: []bool{true}}, false},
		{"numeric moment off", res(numeric, num("1.0")), res(numeric, num("1.000001")), diffShape{approx: []bool{true}}, false},
		{"NULL vs 0", res(i8, nil), res(i8, int64(0)), diffShape{}, false},
		{"row count", res(i8, int64(1), int64(1)), res(i8, int64(1)), diffShape{}, false},
		{"order", res(i8, int64(1), int64(2)), res(i8, int64(2), int64(1)), diffShape{ordered: true}, false},
		{"multiset", res(i8, int64(1), int64(2)), res(i8, int64(2), int64(1)), diffShape{}, true},
		{"error vs rows", diffResult{err: &pgconn.PgError{Code: "22012"}}, res(i8, int64(1)), diffShape{}, false},
		{"same error", diffResult{err: &pgconn.PgError{Code: "22012"}}, diffResult{err: &pgconn.PgError{Code: "22012"}}, diffShape{}, true},
		{"other error", diffResult{err: &pgconn.PgError{Code: "22003"}}, diffResult{err: &pgconn.PgError{Code: "22012"}}, diffShape{}, false},
		{"timestamps", res(i8, time.Unix(0, 0)), res(i8, time.Unix(1, 0)), diffShape{}, false},
	}
	for _, c := range cases {
		if d := diffCompare(c.shape, c.got, c.want); (d == "") != c.same {
			t.Errorf("%s: compare says %q, want same=%v", c.name, d, c.same)
		}
	}
	// The same through a real connection: results pgx decoded.
	conn := connect(t, pgtest.NewDB(t))
	for _, mode := range diffModes {
		one := diffRun(conn, mode, "SELECT 1::int8 AS n, 0.5::numeric AS x, 1.0::float8 AS f", nil)
		for _, other := range []string{
			"SELECT 2::int8 AS n, 0.5::numeric AS x, 1.0::float8 AS f",
			"SELECT 1::int4 AS n, 0.5::numeric AS x, 1.0::float8 AS f",
			"SELECT 1::int8 AS n, 0.5000001::numeric AS x, 1.0::float8 AS f",
			"SELECT 1::int8 AS n, 0.5::numeric(10,2) AS x, 1.0::float8 AS f",
			"SELECT 1::int8 AS n, 0.5::numeric AS x, 1.0000001::float8 AS f",
			"SELECT 1::int8 AS n, 0.5::numeric AS x, 1.0::float8 AS g",
		} {
			if d := diffCompare(diffShape{}, diffRun(conn, mode, other, nil), one); d == "" {
				t.Errorf("%s: %q compares equal to the base query", diffModeName(mode), other)
			}
		}
		if d := diffCompare(diffShape{}, diffRun(conn, mode, "SELECT 1::int8 AS n, 0.50::numeric AS x, 1.0::float8 AS f", nil), one); d != "" {
			t.Errorf("%s: equal results differ: %s", diffModeName(mode), d)
		}
	}
}
