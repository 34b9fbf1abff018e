package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"

	"spiral/internal/engine"
)

// lagTarget is the freshness target: spiral_lag under this, in seconds.
const lagTarget = 2.0

// lagDrainCap bounds the wait for the worker to catch up after the writer
// stops.
const lagDrainCap = 60 * time.Second

// lagMaxBatch bounds the rows of one catch-up INSERT after a slow one.
const lagMaxBatch = 10_000

// lagQuery is what the sampler asks, on a direct connection.
const lagQuery = `SELECT extract(epoch FROM coalesce(spiral_lag('ticks'), '0'))::float8`

// LagOptions configures Lag.
type LagOptions struct {
	Rate     int             // rows/s the writer keeps
	Duration time.Duration   // how long it writes
	Tenants  int             // distinct sym values, taking turns
	Interval time.Duration   // one INSERT every Interval
	Ticks    []time.Duration // worker ticks, one run each
	Sample   time.Duration   // how often spiral_lag is read
	Log      io.Writer       // progress lines; nil means silent
}

// DefaultLagOptions are the options `make bench` runs with: the issue's
// 10k rows/s for 60 s, the worker as `spiral serve` starts it.
func DefaultLagOptions() LagOptions {
	return LagOptions{
		Rate: 10_000, Duration: 60 * time.Second, Tenants: 100, Interval: 10 * time.Millisecond,
		Ticks: []time.Duration{engine.DefaultWorkerConfig().Tick}, Sample: 100 * time.Millisecond,
	}
}

// Validate reports options the benchmark cannot run with.
func (o LagOptions) Validate() error {
	switch {
	case o.Rate < 1 || o.Tenants < 1:
		return fmt.Errorf("bench: rate %d, tenants %d: want at least 1 each", o.Rate, o.Tenants)
	case o.Duration < time.Second:
		return fmt.Errorf("bench: duration %s: want at least 1s", o.Duration)
	case o.Interval <= 0 || o.Sample <= 0:
		return errors.New("bench: interval and sample period must be positive")
	case len(o.Ticks) == 0:
		return errors.New("bench: no worker tick")
	}
	for _, t := range o.Ticks {
		if t <= 0 {
			return fmt.Errorf("bench: worker tick %s: want a positive duration", t)
		}
	}
	return nil
}

// lagResult is one run at one worker tick.
type lagResult struct {
	tick      time.Duration
	sent      int           // rows the writer inserted
	elapsed   time.Duration // how long it wrote
	lags      []float64     // spiral_lag samples, seconds
	written   int64         // marks the triggers wrote
	remaining int64         // marks left when the writer stopped
	drain     time.Duration // until clean after the writer stopped
	drained   bool          // whether that happened within lagDrainCap
}

func (r lagResult) rate() float64 { return float64(r.sent) / r.elapsed.Seconds() }

// Lag measures freshness: with the refresh worker running, a writer
// inserts at a steady rate into a table created through spiral while a
// sampler reads spiral_lag; one run per worker tick. It writes the table
// to w and stops everything it started before returning, also when ctx
// ends.
func Lag(ctx context.Context, w io.Writer, opts LagOptions) (err error) {
	s, err := openStack(ctx, opts.Validate, &opts.Log)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, s.stop()) }()
	var results []lagResult
	for _, tick := range opts.Ticks {
		r, err := lagRun(ctx, s, opts, tick)
		if err != nil {
			return fmt.Errorf("tick %s: %w", tick, err)
		}
		fmt.Fprintf(opts.Log, "bench: tick %s: %.0f rows/s, lag p50 %.2fs p99 %.2fs max %.2fs\n",
			tick, r.rate(), quantileOf(r.lags, 0.5), quantileOf(r.lags, 0.99), quantileOf(r.lags, 1))
		results = append(results, r)
	}
	return writeLagTable(w, lagHeader(ctx, s, opts), results)
}

// lagRun creates the table afresh, starts the worker, writes and samples
// for opts.Duration, then waits for the worker to catch up.
func lagRun(ctx context.Context, s *stack, opts LagOptions, tick time.Duration) (lagResult, error) {
	r := lagResult{tick: tick}
	if err := execAll(ctx, s.direct, "DROP TABLE IF EXISTS "+trackedTable); err != nil {
		return r, err
	}
	if err := execAll(ctx, s.via, trackedDDL(trackedTable, demoKinds)); err != nil {
		return r, fmt.Errorf("create tracked table through the proxy: %w", err)
	}
	stopWorker := startWorker(s, tick)
	defer stopWorker()
	seq0, err := marksWritten(ctx, s.direct)
	if err != nil {
		return r, err
	}
	if err := writeAndSample(ctx, s.direct, opts, &r); err != nil {
		return r, err
	}
	if r.remaining, err = countMarks(ctx, s.direct); err != nil {
		return r, err
	}
	seq1, err := marksWritten(ctx, s.direct)
	r.written = seq1 - seq0
	if err != nil {
		return r, err
	}
	r.drain, r.drained, err = awaitClean(ctx, s.direct)
	return r, err
}

// startWorker runs the engine's worker with the default configuration but
// tick; the returned func stops it and waits.
func startWorker(s *stack, tick time.Duration) func() {
	cfg := engine.DefaultWorkerConfig()
	cfg.Tick = tick
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.eng.Worker(cfg, nil).Run(ctx) // returns nil on cancellation
	}()
	return func() { cancel(); <-done }
}

// marksWritten is the last mark id handed out.
func marksWritten(ctx context.Context, dsn string) (int64, error) {
	c, err := connect(ctx, dsn)
	if err != nil {
		return 0, err
	}
	defer c.Close(context.Background())
	var n int64
	err = c.QueryRow(ctx, "SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM spiral.marks_id_seq").Scan(&n)
	return n, err
}

// writeAndSample runs the writer for opts.Duration with the sampler
// beside it, and records both into r.
func writeAndSample(ctx context.Context, dsn string, opts LagOptions, r *lagResult) error {
	sc, err := connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer sc.Close(context.Background())
	sctx, stopSampler := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var serr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		r.lags, serr = sampleLag(sctx, sc, opts.Sample)
	}()
	werr := writeSteady(ctx, dsn, opts, r)
	stopSampler()
	wg.Wait()
	return errors.Join(werr, serr)
}

// writeSteady inserts opts.Rate rows/s for opts.Duration over one direct
// connection: every opts.Interval the rows due by then (at most
// lagMaxBatch), timestamped now, in one INSERT.
func writeSteady(ctx context.Context, dsn string, opts LagOptions, r *lagResult) error {
	c, err := connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer c.Close(context.Background())
	gen := newTickGen(opts.Tenants, 7)
	tk := time.NewTicker(opts.Interval)
	defer tk.Stop()
	start := time.Now()
	for time.Since(start) < opts.Duration {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tk.C:
		}
		due := min(int(time.Since(start).Seconds()*float64(opts.Rate))-r.sent, lagMaxBatch)
		if due <= 0 {
			continue
		}
		if err := insertNow(ctx, c, gen, due); err != nil {
			return err
		}
		r.sent += due
	}
	r.elapsed = time.Since(start)
	return nil
}

// insertNow inserts n rows timestamped now, a microsecond apart.
func insertNow(ctx context.Context, c *pgx.Conn, gen *tickGen, n int) error {
	var rows tickRows
	now := time.Now()
	gen.fill(&rows, n, func(k int) time.Time { return now.Add(time.Duration(k) * time.Microsecond) })
	return insertBatches(ctx, c, trackedTable, rows, n)
}

// sampleLag reads spiral_lag every period until ctx ends.
func sampleLag(ctx context.Context, c *pgx.Conn, period time.Duration) ([]float64, error) {
	tk := time.NewTicker(period)
	defer tk.Stop()
	var lags []float64
	for {
		select {
		case <-ctx.Done():
			return lags, nil
		case <-tk.C:
		}
		var lag float64
		if err := c.QueryRow(ctx, lagQuery).Scan(&lag); err != nil {
			if ctx.Err() != nil {
				return lags, nil
			}
			return lags, fmt.Errorf("sample lag: %w", err)
		}
		lags = append(lags, lag)
	}
}

// awaitClean polls until no mark is left and returns how long that took
// and whether it happened within lagDrainCap.
func awaitClean(ctx context.Context, dsn string) (time.Duration, bool, error) {
	c, err := connect(ctx, dsn)
	if err != nil {
		return 0, false, err
	}
	defer c.Close(context.Background())
	start := time.Now()
	for time.Since(start) < lagDrainCap {
		var n int64
		if err := c.QueryRow(ctx, "SELECT count(*) FROM spiral.marks").Scan(&n); err != nil {
			return 0, false, fmt.Errorf("await clean: %w", err)
		}
		if n == 0 {
			return time.Since(start), true, nil
		}
		select {
		case <-ctx.Done():
			return 0, false, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return time.Since(start), false, nil
}

func lagHeader(ctx context.Context, s *stack, opts LagOptions) []string {
	def := engine.DefaultWorkerConfig()
	ticks := make([]string, len(opts.Ticks))
	for i, t := range opts.Ticks {
		ticks[i] = t.String()
	}
	return []string{
		fmt.Sprintf("Freshness under sustained ingest: %d rows/s for %s into %s (created through spiral: tiers %s; %s), %d tenants taking turns, rows timestamped at send time",
			opts.Rate, opts.Duration, trackedTable, tickFrames, demoKinds, opts.Tenants),
		fmt.Sprintf("writer: one direct connection, every %s one INSERT ... SELECT FROM unnest of the rows due (%d on schedule, at most %d to catch up); sampler: %s every %s on another",
			opts.Interval, opts.Rate*int(opts.Interval)/int(time.Second), lagMaxBatch, lagQuery, opts.Sample),
		fmt.Sprintf("refresh worker: engine.Worker, DefaultWorkerConfig (tick %s, %d marks per transaction, %d workers) with tick %s; drain = time to no marks after the writer stops (cap %s)",
			def.Tick, def.BatchSize, def.Workers, strings.Join(ticks, ", "), lagDrainCap),
		s.describe(ctx),
	}
}

// writeLagTable prints one row per worker tick.
func writeLagTable(w io.Writer, header []string, results []lagResult) error {
	for _, h := range header {
		fmt.Fprintln(w, h)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "worker tick\trows/s\tsamples\tlag p50 s\tlag p99 s\tlag max s\tmarks written\tmarks left\tdrain s\ttarget\t")
	for _, r := range results {
		drain := fmt.Sprintf("%.1f", r.drain.Seconds())
		if !r.drained {
			drain = fmt.Sprintf("> %.0f", lagDrainCap.Seconds())
		}
		p99 := quantileOf(r.lags, 0.99)
		fmt.Fprintf(tw, "%s\t%.0f\t%d\t%.2f\t%.2f\t%.2f\t%d\t%d\t%s\tp99 < %.0f s %s\t\n", r.tick, r.rate(), len(r.lags),
			quantileOf(r.lags, 0.5), p99, quantileOf(r.lags, 1), r.written, r.remaining, drain, lagTarget, verdict(p99 < lagTarget))
	}
	return tw.Flush()
}
