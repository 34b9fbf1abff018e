package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"
)

// ingestTarget is where one ingest run writes to.
type ingestTarget int

const (
	untrackedDirect ingestTarget = iota
	trackedDirect
	trackedProxy
	numIngestTargets
)

// ingestTables are the benchmark's two tables.
const (
	trackedTable   = "ticks"
	untrackedTable = "ticks_plain"
)

// ingestTargetRatio is the tracked/untracked ratio the issue asks for.
const ingestTargetRatio = 0.8

// ingestMode is one way of loading all rows: INSERT batches of batch rows,
// or one COPY when batch is 0.
type ingestMode struct {
	name  string
	batch int
}

// IngestOptions configures Ingest.
type IngestOptions struct {
	Rows    int // rows per run
	Tenants int // distinct sym values, taking turns
	Rounds  int // runs per mode and target; the table shows medians
	// ViaProxy also loads the tracked table through the proxy, as a third
	// column; the ratio is always direct against direct.
	ViaProxy bool
	Log      io.Writer // progress lines; nil means silent
}

// DefaultIngestOptions are the options `make bench` runs with.
func DefaultIngestOptions() IngestOptions {
	return IngestOptions{Rows: 1_000_000, Tenants: 100, Rounds: 3, ViaProxy: true}
}

// Validate reports options the benchmark cannot run with.
func (o IngestOptions) Validate() error {
	switch {
	case o.Rows < 1:
		return fmt.Errorf("bench: rows %d: want at least 1", o.Rows)
	case o.Tenants < 1:
		return fmt.Errorf("bench: tenants %d: want at least 1", o.Tenants)
	case o.Rounds < 1:
		return fmt.Errorf("bench: rounds %d: want at least 1", o.Rounds)
	}
	return nil
}

func (o IngestOptions) modes() []ingestMode {
	return []ingestMode{
		{"INSERT 1k rows/stmt", 1_000},
		{"INSERT 100k rows/stmt", 100_000},
		{fmt.Sprintf("COPY %s rows/stmt", humanCount(o.Rows)), 0},
	}
}

func (o IngestOptions) targets() []ingestTarget {
	if o.ViaProxy {
		return []ingestTarget{untrackedDirect, trackedDirect, trackedProxy}
	}
	return []ingestTarget{untrackedDirect, trackedDirect}
}

// ingestSample is what the runs of one mode measured.
type ingestSample struct {
	rate  [numIngestTargets][]float64 // rows/s, one per round
	marks []int64                     // marks per tracked direct run
}

// Ingest measures the write path's cost of tracking: the same rows loaded
// into a tracked table (created through spiral: statement triggers write
// dirty marks) and into an untracked twin with the same columns and index,
// over direct connections, modes and targets interleaved round by round.
// No refresh worker runs. It writes the table to w and stops everything it
// started before returning, also when ctx ends.
func Ingest(ctx context.Context, w io.Writer, opts IngestOptions) (err error) {
	s, err := openStack(ctx, opts.Validate, &opts.Log)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, s.stop()) }()
	if err := createIngestTables(ctx, s); err != nil {
		return err
	}
	start := time.Now().Truncate(time.Minute).Add(-time.Hour)
	rows := spreadTicks(opts.Rows, opts.Tenants, start, time.Hour)
	samples, err := runIngest(ctx, s, opts, rows)
	if err != nil {
		return err
	}
	return writeIngestTable(w, ingestHeader(ctx, s, opts), opts.modes(), opts.targets(), samples)
}

func createIngestTables(ctx context.Context, s *stack) error {
	if err := execAll(ctx, s.via, trackedDDL(trackedTable, demoKinds)); err != nil {
		return fmt.Errorf("create tracked table through the proxy: %w", err)
	}
	return execAll(ctx, s.direct, untrackedDDL(untrackedTable)...)
}

// runIngest runs every mode against every target, round by round; within
// a round the targets take turns going first.
func runIngest(ctx context.Context, s *stack, opts IngestOptions, rows tickRows) ([]ingestSample, error) {
	modes, targets := opts.modes(), opts.targets()
	samples := make([]ingestSample, len(modes))
	for round := range opts.Rounds {
		for i, m := range modes {
			for k := range targets {
				t := targets[(round+i+k)%len(targets)]
				rate, marks, cpu, err := ingestRun(ctx, s, m, t, rows)
				if err != nil {
					return nil, fmt.Errorf("%s into %s: %w", m.name, t, err)
				}
				fmt.Fprintf(opts.Log, "bench: round %d/%d %-22s %-18s %9.0f rows/s %7d marks  backend CPU %s\n",
					round+1, opts.Rounds, m.name, t, rate, marks, cpu)
				samples[i].rate[t] = append(samples[i].rate[t], rate)
				if t == trackedDirect {
					samples[i].marks = append(samples[i].marks, marks)
				}
			}
		}
	}
	return samples, nil
}

func (t ingestTarget) String() string {
	return [...]string{"untracked direct", "tracked direct", "tracked via proxy"}[t]
}

// ingestRun empties both tables and the marks, loads rows into t's table
// and returns rows/s, the marks the load wrote and the CPU time the
// loading backend spent (when it can be read: the server is local).
func ingestRun(ctx context.Context, s *stack, m ingestMode, t ingestTarget, rows tickRows) (float64, int64, backendCPU, error) {
	if err := execAll(ctx, s.direct, "TRUNCATE "+trackedTable+", "+untrackedTable,
		"DELETE FROM spiral.marks", "CHECKPOINT"); err != nil {
		return 0, 0, backendCPU{}, err
	}
	dsn, table := s.direct, trackedTable
	switch t {
	case untrackedDirect:
		table = untrackedTable
	case trackedProxy:
		dsn = s.via
	}
	c, err := connect(ctx, dsn)
	if err != nil {
		return 0, 0, backendCPU{}, err
	}
	defer c.Close(context.Background())
	cpu := startBackendCPU(ctx, c)
	began := time.Now()
	if err := loadIngest(ctx, c, table, m, rows); err != nil {
		return 0, 0, backendCPU{}, err
	}
	rate := float64(rows.len()) / time.Since(began).Seconds()
	cpu.stop()
	var marks int64
	err = c.QueryRow(ctx, "SELECT count(*) FROM spiral.marks").Scan(&marks)
	return rate, marks, cpu, err
}

// backendCPU is the user+system CPU time of the server backend that ran a
// load, read from /proc/PID/stat (the benchmark's server is local); pid 0
// when it cannot be read. It tells the trigger's cost apart from the
// client's and from the other load on a shared machine.
type backendCPU struct {
	pid         uint32
	start, used time.Duration
}

func startBackendCPU(ctx context.Context, c *pgx.Conn) backendCPU {
	var pid uint32
	if c.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&pid) != nil {
		return backendCPU{}
	}
	b := backendCPU{pid: pid}
	var ok bool
	if b.start, ok = procCPU(pid); !ok {
		return backendCPU{}
	}
	return b
}

func (b *backendCPU) stop() {
	if now, ok := procCPU(b.pid); ok && b.pid != 0 {
		b.used = now - b.start
		return
	}
	b.pid = 0
}

func (b backendCPU) String() string {
	if b.pid == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2fs", b.used.Seconds())
}

// procCPU reads utime+stime of pid, in clock ticks of 10ms (USER_HZ is 100
// on every Linux build Go supports).
func procCPU(pid uint32) (time.Duration, bool) {
	if pid == 0 {
		return 0, false
	}
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	// Fields after the parenthesised command name: state is field 3,
	// utime 14 and stime 15.
	i := bytes.LastIndexByte(raw, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(raw[i+1:]))
	if len(f) < 13 {
		return 0, false
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration(ut+st) * 10 * time.Millisecond, true
}

func loadIngest(ctx context.Context, c *pgx.Conn, table string, m ingestMode, rows tickRows) error {
	if m.batch == 0 {
		return copyRows(ctx, c, table, rows)
	}
	return insertBatches(ctx, c, table, rows, m.batch)
}

// ingestHeader describes the run above the table.
func ingestHeader(ctx context.Context, s *stack, opts IngestOptions) []string {
	return []string{
		fmt.Sprintf("Insert throughput, tracked vs untracked: %d rows per run, %d tenants taking turns, timestamps evenly spaced over the hour before the run (increasing); median of %d rounds, modes and targets interleaved",
			opts.Rows, opts.Tenants, opts.Rounds),
		fmt.Sprintf("tracked: %s created through spiral (tiers %s; %s; statement triggers write dirty marks); untracked: same columns and the same (sym, t) index, no triggers",
			trackedTable, tickFrames, demoKinds),
		"one connection per run, direct to PostgreSQL unless noted; INSERT = INSERT ... SELECT FROM unnest($1..$4) per batch, each its own transaction; COPY = pgx CopyFrom; TRUNCATE, DELETE FROM spiral.marks and CHECKPOINT before each run; no refresh worker running (write path only)",
		s.describe(ctx),
	}
}

// writeIngestTable prints one row per mode: medians, the ratio of medians,
// the per-round ratios and the marks a tracked load wrote.
func writeIngestTable(w io.Writer, header []string, modes []ingestMode, targets []ingestTarget, samples []ingestSample) error {
	for _, h := range header {
		fmt.Fprintln(w, h)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	proxyCol := len(targets) > int(trackedProxy)
	fmt.Fprint(tw, "mode\tuntracked rows/s\ttracked rows/s\ttracked/untracked\tby round\t")
	if proxyCol {
		fmt.Fprint(tw, "tracked via proxy rows/s\t")
	}
	fmt.Fprintln(tw, "marks per load\ttarget\t")
	for i, m := range modes {
		s := samples[i]
		r := s.ratio()
		fmt.Fprintf(tw, "%s\t%.0f\t%.0f\t%.2fx\t%s\t", m.name, medianOf(s.rate[untrackedDirect]),
			medianOf(s.rate[trackedDirect]), r, formatRatios(ratiosOf(s.rate[trackedDirect], s.rate[untrackedDirect])))
		if proxyCol {
			fmt.Fprintf(tw, "%.0f\t", medianOf(s.rate[trackedProxy]))
		}
		fmt.Fprintf(tw, "%d\t>= %.2fx %s\t\n", medianInt(s.marks), ingestTargetRatio, verdict(r >= ingestTargetRatio))
	}
	return tw.Flush()
}

// ratio is tracked over untracked, of the medians.
func (s ingestSample) ratio() float64 {
	return medianOf(s.rate[trackedDirect]) / medianOf(s.rate[untrackedDirect])
}

func medianInt(xs []int64) int64 {
	fs := make([]float64, len(xs))
	for i, x := range xs {
		fs[i] = float64(x)
	}
	return int64(medianOf(fs))
}
