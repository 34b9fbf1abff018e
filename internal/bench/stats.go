package bench

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
	"text/tabwriter"

	"github.com/jackc/pgx/v5"

	"spiral/internal/pgcluster"
	"spiral/stats"
)

// statsQuantiles are the quantiles of the accuracy table.
var statsQuantiles = []float64{0.01, 0.25, 0.5, 0.9, 0.99, 0.999}

// accuracyRows is the number of values per distribution in the accuracy
// table.
const accuracyRows = 100_000

// statsDist is a named value generator with a fixed seed.
type statsDist struct {
	name string
	gen  func(r *rand.Rand) float64
}

var statsDists = []statsDist{
	{"uniform", func(r *rand.Rand) float64 { return 1000 * r.Float64() }},
	{"normal", func(r *rand.Rand) float64 { return 100 + 15*r.NormFloat64() }},
	{"lognormal", func(r *rand.Rand) float64 { return math.Exp(1 + 1.5*r.NormFloat64()) }},
	{"pareto", func(r *rand.Rand) float64 { return math.Pow(1-r.Float64(), -1/1.5) }},
	{"bimodal", func(r *rand.Rand) float64 {
		if r.IntN(2) == 0 {
			return 10 + r.NormFloat64()
		}
		return 1000 + 50*r.NormFloat64()
	}},
	{"mixed-sign", func(r *rand.Rand) float64 { return 20 + 100*r.NormFloat64() }},
	{"epoch-micros", func(r *rand.Rand) float64 { return 1.7e15 + 3.6e9*r.Float64() }},
}

func (d statsDist) values(n int) []float64 {
	r := rand.New(rand.NewPCG(uint64(len(d.name)), 0x5747))
	xs := make([]float64, n)
	for i := range xs {
		xs[i] = d.gen(r)
	}
	return xs
}

// Stats prints the report of the stats package: encoded sizes of each state,
// ns/op of add, merge, encode and decode, and a quantile accuracy table that
// puts spiral's t-digest and DDSketch next to exact percentile_cont and
// PostgreSQL's tdigest extension on the same data. It starts a throw-away
// PostgreSQL for the last part.
func Stats(ctx context.Context, w io.Writer) error {
	if err := writeStatsSizes(w); err != nil {
		return fmt.Errorf("sizes: %w", err)
	}
	if err := writeStatsTimings(ctx, w); err != nil {
		return fmt.Errorf("timings: %w", err)
	}
	if err := writeStatsAccuracy(ctx, w); err != nil {
		return fmt.Errorf("accuracy: %w", err)
	}
	return nil
}

// statsStates builds every state over xs.
func statsStates(xs []float64) (stats.Moments, *stats.Sketch, *stats.TDigest, error) {
	var m stats.Moments
	s, d := stats.NewSketch(), stats.NewTDigest()
	for _, x := range xs {
		m.Add(x)
		if err := s.Add(x); err != nil {
			return m, nil, nil, err
		}
		if err := d.Add(x); err != nil {
			return m, nil, nil, err
		}
	}
	return m, s, d, nil
}

func writeStatsSizes(w io.Writer) error {
	counts := []int{1_000, 100_000, 1_000_000}
	fmt.Fprintln(w, "Encoded size in bytes (lognormal and epoch-microsecond values)")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "state\tdata\t1k\t100k\t1M\t")
	for _, dist := range []statsDist{statsDists[2], statsDists[6]} {
		rows := map[string][]int{}
		var order []string
		for _, n := range counts {
			sizes, names, err := encodedSizes(dist.values(n))
			if err != nil {
				return err
			}
			order = names
			for i, name := range names {
				rows[name] = append(rows[name], sizes[i])
			}
		}
		for _, name := range order {
			r := rows[name]
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t\n", name, dist.name, r[0], r[1], r[2])
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintln(w)
	return err
}

func encodedSizes(xs []float64) ([]int, []string, error) {
	m, s, d, err := statsStates(xs)
	if err != nil {
		return nil, nil, err
	}
	mb, _ := m.MarshalBinary()
	mj, _ := m.MarshalJSON()
	sb, err := s.MarshalBinary()
	if err != nil {
		return nil, nil, err
	}
	db, _ := d.MarshalBinary()
	names := []string{"moments binary", "moments composite text", "moments JSON", "DDSketch 1%", "t-digest 100"}
	return []int{len(mb), len(m.String()), len(mj), len(sb), len(db)}, names, nil
}

// statsBench is one timed operation.
type statsBench struct {
	name string
	fn   func(b *testing.B)
}

func writeStatsTimings(ctx context.Context, w io.Writer) error {
	benches, err := statsBenches()
	if err != nil {
		return err
	}
	fmt.Fprintln(w, "Time per operation (testing.Benchmark; sketches hold 100k lognormal values, merges add a 1k-value state)")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "operation\tns/op\tallocs/op\tB/op\t")
	for _, sb := range benches {
		if err := ctx.Err(); err != nil {
			return err
		}
		r := testing.Benchmark(sb.fn)
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t\n", sb.name, r.NsPerOp(), r.AllocsPerOp(), r.AllocedBytesPerOp())
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err = fmt.Fprintln(w)
	return err
}

func statsBenches() ([]statsBench, error) {
	big := statsDists[2].values(100_000)
	small := statsDists[2].values(1_000)
	m, s, d, err := statsStates(big)
	if err != nil {
		return nil, err
	}
	m1, s1, d1, err := statsStates(small)
	if err != nil {
		return nil, err
	}
	return append(append(momentsBenches(m, m1), sketchBenches(s, s1)...), tdigestBenches(d, d1)...), nil
}

func momentsBenches(m, m1 stats.Moments) []statsBench {
	bin, _ := m.MarshalBinary()
	txt, _ := m.MarshalText()
	parts := slices.Repeat([]stats.Moments{m1}, 60)
	return []statsBench{
		{"moments add", func(b *testing.B) {
			var acc stats.Moments
			for i := 0; b.Loop(); i++ {
				acc.Add(float64(i))
			}
		}},
		{"moments merge", func(b *testing.B) {
			acc := m
			for b.Loop() {
				acc.Merge(m1)
			}
		}},
		{"moments MergeAll of 60", func(b *testing.B) {
			for b.Loop() {
				stats.MergeAll(parts)
			}
		}},
		{"moments encode binary", func(b *testing.B) {
			buf := make([]byte, 0, 64)
			for b.Loop() {
				buf, _ = m.AppendBinary(buf[:0])
			}
		}},
		{"moments decode binary", func(b *testing.B) {
			var out stats.Moments
			for b.Loop() {
				_ = out.UnmarshalBinary(bin)
			}
		}},
		{"moments encode composite text", func(b *testing.B) {
			for b.Loop() {
				_, _ = m.MarshalText()
			}
		}},
		{"moments decode composite text", func(b *testing.B) {
			var out stats.Moments
			for b.Loop() {
				_ = out.UnmarshalText(txt)
			}
		}},
	}
}

func sketchBenches(s, s1 *stats.Sketch) []statsBench {
	enc, _ := s.MarshalBinary()
	return []statsBench{
		{"DDSketch add", func(b *testing.B) {
			acc := stats.NewSketch()
			for i := 0; b.Loop(); i++ {
				_ = acc.Add(float64(i%1000) + 0.5)
			}
		}},
		{"DDSketch merge", func(b *testing.B) {
			var acc stats.Sketch
			_ = acc.UnmarshalBinary(enc)
			for b.Loop() {
				_ = acc.Merge(s1)
			}
		}},
		{"DDSketch encode", func(b *testing.B) {
			buf := make([]byte, 0, 4096)
			for b.Loop() {
				buf, _ = s.AppendBinary(buf[:0])
			}
		}},
		{"DDSketch decode", func(b *testing.B) {
			for b.Loop() {
				var out stats.Sketch
				_ = out.UnmarshalBinary(enc)
			}
		}},
	}
}

func tdigestBenches(d, d1 *stats.TDigest) []statsBench {
	enc, _ := d.MarshalBinary()
	return []statsBench{
		{"t-digest add", func(b *testing.B) {
			acc := stats.NewTDigest()
			for i := 0; b.Loop(); i++ {
				_ = acc.Add(float64(i%1000) + 0.5)
			}
		}},
		{"t-digest merge", func(b *testing.B) {
			var acc stats.TDigest
			_ = acc.UnmarshalBinary(enc)
			for b.Loop() {
				_ = acc.Merge(d1)
			}
		}},
		{"t-digest encode", func(b *testing.B) {
			buf := make([]byte, 0, 16384)
			for b.Loop() {
				buf, _ = d.AppendBinary(buf[:0])
			}
		}},
		{"t-digest decode", func(b *testing.B) {
			for b.Loop() {
				var out stats.TDigest
				_ = out.UnmarshalBinary(enc)
			}
		}},
	}
}

// pgQuantiles are PostgreSQL's answers for one distribution.
type pgQuantiles struct {
	exact, tdigest []float64
}

func writeStatsAccuracy(ctx context.Context, w io.Writer) error {
	c, err := pgcluster.Start(ctx, pgcluster.Options{Fast: true})
	if err != nil {
		return err
	}
	defer func() { _ = c.Stop() }()
	conn, err := pgx.Connect(ctx, c.DSN("postgres"))
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer func() { _ = conn.Close(context.Background()) }()
	versions, err := setUpTDigest(ctx, conn)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "Quantile accuracy, %d values per distribution; %s\n", accuracyRows, versions)
	fmt.Fprintln(w, "rank error = |fraction of values below the estimate − q|; DDSketch error is relative to percentile_cont")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "data\tq\tpercentile_cont\tspiral t-digest\trank err\tpg tdigest\trank err\tspiral DDSketch\trel err\t")
	for _, dist := range statsDists {
		if err := accuracyRowsFor(ctx, conn, tw, dist); err != nil {
			return fmt.Errorf("%s: %w", dist.name, err)
		}
	}
	return tw.Flush()
}

// setUpTDigest creates the extension and the data table and returns the
// versions for the table header.
func setUpTDigest(ctx context.Context, conn *pgx.Conn) (string, error) {
	if _, err := conn.Exec(ctx, "CREATE EXTENSION IF NOT EXISTS tdigest"); err != nil {
		return "", fmt.Errorf("create extension tdigest (install it with `./scripts/ensure-deps.sh bench` or `apt-get install -y postgresql-15-tdigest`): %w", err)
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE acc (dist text NOT NULL, v float8 NOT NULL)"); err != nil {
		return "", fmt.Errorf("create table: %w", err)
	}
	var pg, ext string
	err := conn.QueryRow(ctx, `SELECT current_setting('server_version'),
		(SELECT extversion FROM pg_extension WHERE extname = 'tdigest')`).Scan(&pg, &ext)
	if err != nil {
		return "", fmt.Errorf("versions: %w", err)
	}
	return fmt.Sprintf("PostgreSQL %s, tdigest extension %s (compression 100), spiral t-digest compression %d, DDSketch %g%%",
		pg, ext, stats.DefaultCompression, 100*stats.DefaultRelativeAccuracy), nil
}

// accuracyRowsFor loads one distribution, asks PostgreSQL and the sketches
// for the quantiles and prints one row per quantile.
func accuracyRowsFor(ctx context.Context, conn *pgx.Conn, tw io.Writer, dist statsDist) error {
	xs := dist.values(accuracyRows)
	pgq, err := loadAndQuery(ctx, conn, dist.name, xs)
	if err != nil {
		return err
	}
	_, s, d, err := statsStates(xs)
	if err != nil {
		return err
	}
	sorted := slices.Clone(xs)
	slices.Sort(sorted)
	for i, q := range statsQuantiles {
		exact := percentileCont(sorted, q)
		if math.Abs(exact-pgq.exact[i]) > 1e-12*math.Abs(exact) {
			return fmt.Errorf("q=%v: Go percentile_cont %v, PostgreSQL %v: data differ", q, exact, pgq.exact[i])
		}
		tv, err := d.Quantile(q)
		if err != nil {
			return err
		}
		sv, err := s.Quantile(q)
		if err != nil {
			return err
		}
		fmt.Fprintf(tw, "%s\t%v\t%.10g\t%.10g\t%.2e\t%.10g\t%.2e\t%.10g\t%.2e\t\n", dist.name, q, exact,
			tv, rankErr(sorted, tv, q), pgq.tdigest[i], rankErr(sorted, pgq.tdigest[i], q),
			sv, math.Abs(sv-exact)/math.Abs(exact))
	}
	return nil
}

func loadAndQuery(ctx context.Context, conn *pgx.Conn, name string, xs []float64) (pgQuantiles, error) {
	_, err := conn.CopyFrom(ctx, pgx.Identifier{"acc"}, []string{"dist", "v"},
		pgx.CopyFromSlice(len(xs), func(i int) ([]any, error) { return []any{name, xs[i]}, nil }))
	if err != nil {
		return pgQuantiles{}, fmt.Errorf("copy: %w", err)
	}
	var out pgQuantiles
	err = conn.QueryRow(ctx, `SELECT percentile_cont($1::float8[]) WITHIN GROUP (ORDER BY v),
		tdigest_percentile(v, 100, $1::float8[]) FROM acc WHERE dist = $2`, statsQuantiles, name).
		Scan(&out.exact, &out.tdigest)
	if err != nil {
		return out, fmt.Errorf("query: %w", err)
	}
	return out, nil
}

// percentileCont is PostgreSQL's percentile_cont over sorted values.
func percentileCont(sorted []float64, q float64) float64 {
	r := q * float64(len(sorted)-1)
	i := int(r)
	if i+1 >= len(sorted) {
		return sorted[i]
	}
	return sorted[i] + (sorted[i+1]-sorted[i])*(r-float64(i))
}

// rankErr is the distance from q to the interval of fractional ranks that v
// occupies in sorted.
func rankErr(sorted []float64, v, q float64) float64 {
	below := sort.SearchFloat64s(sorted, v)
	upto := sort.Search(len(sorted), func(i int) bool { return sorted[i] > v })
	return rankErrCounts(int64(below), int64(upto), int64(len(sorted)), q)
}

// rankErrCounts is rankErr from counts: of total values, below are less
// than the estimate and upto at most it.
func rankErrCounts(below, upto, total int64, q float64) float64 {
	n, b, u := float64(total-1), float64(below), float64(upto)
	lo, hi := b/n, (u-1)/n
	if upto == below {
		lo, hi = (b-1)/n, b/n
	}
	return max(0, lo-q, q-hi)
}
