package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"
)

// tickKinds are the `-- Spiral:` kinds of the two value columns of a
// benchmark table: price float8 and vol int.
type tickKinds struct {
	price, vol string
}

// demoKinds are the kinds of the demo's table.
var demoKinds = tickKinds{price: "ohlcv, stats, sketch", vol: "sum"}

func (k tickKinds) String() string { return fmt.Sprintf("price: %s; vol: %s", k.price, k.vol) }

// tickFrames are the tiers every benchmark table has.
const tickFrames = "1m,1h,1d"

// tickColumns are the columns rows are written to, in order.
var tickColumns = []string{"t", "sym", "price", "vol"}

// trackedDDL declares a tracked benchmark table; it must run through the
// proxy.
func trackedDDL(name string, k tickKinds) string {
	return fmt.Sprintf(`CREATE TABLE %s (
  t     timestamptz NOT NULL,
  sym   int NOT NULL,
  price float8, -- Spiral: %s
  vol   int     -- Spiral: %s
) WITH (spiral.frames = '%s', spiral.tenant = 'sym')`, pgx.Identifier{name}.Sanitize(), k.price, k.vol, tickFrames)
}

// untrackedDDL declares the same columns as trackedDDL and the index
// spiral adds to a tracked table (scope columns, then time), without
// triggers or tiers.
func untrackedDDL(name string) []string {
	id := pgx.Identifier{name}.Sanitize()
	return []string{
		fmt.Sprintf(`CREATE TABLE %s (t timestamptz NOT NULL, sym int NOT NULL, price float8, vol int)`, id),
		fmt.Sprintf(`CREATE INDEX ON %s (sym, t)`, id),
	}
}

// tickRows holds rows column by column, as unnest() and COPY take them.
type tickRows struct {
	t     []time.Time
	sym   []int32
	price []float64
	vol   []int32
}

func (r tickRows) len() int { return len(r.t) }

// slice is rows [lo, hi), sharing storage.
func (r tickRows) slice(lo, hi int) tickRows {
	return tickRows{t: r.t[lo:hi], sym: r.sym[lo:hi], price: r.price[lo:hi], vol: r.vol[lo:hi]}
}

// tickGen makes deterministic ticks: tenants 1..n take turns, each price a
// random walk around 100 + tenant, volumes uniform in 1..1000.
type tickGen struct {
	r       *rand.Rand
	walk    []float64
	tenants int
	next    int // index of the next row
}

func newTickGen(tenants int, seed uint64) *tickGen {
	return &tickGen{r: rand.New(rand.NewPCG(seed, 0x71c5)), walk: make([]float64, tenants), tenants: tenants}
}

// fill appends n rows, row k of them timestamped at(k).
func (g *tickGen) fill(rows *tickRows, n int, at func(k int) time.Time) {
	for k := range n {
		s := g.next % g.tenants
		g.walk[s] += g.r.NormFloat64() * 0.05
		rows.t = append(rows.t, at(k))
		rows.sym = append(rows.sym, int32(s+1))
		rows.price = append(rows.price, 100+float64(s)+g.walk[s])
		rows.vol = append(rows.vol, int32(1+g.r.IntN(1000)))
		g.next++
	}
}

// spreadTicks returns n rows spaced evenly over [start, start+span), in
// increasing time, tenants round-robin.
func spreadTicks(n, tenants int, start time.Time, span time.Duration) tickRows {
	rows := tickRows{
		t: make([]time.Time, 0, n), sym: make([]int32, 0, n),
		price: make([]float64, 0, n), vol: make([]int32, 0, n),
	}
	step := float64(span) / float64(n)
	newTickGen(tenants, 42).fill(&rows, n, func(k int) time.Time {
		return start.Add(time.Duration(float64(k) * step))
	})
	return rows
}

// insertSQL is the one statement every INSERT batch runs, for any table:
// the batch's columns as four arrays.
func insertSQL(table string) string {
	return fmt.Sprintf(`INSERT INTO %s (t, sym, price, vol)
SELECT * FROM unnest($1::timestamptz[], $2::int4[], $3::float8[], $4::int4[])`, pgx.Identifier{table}.Sanitize())
}

// insertBatches writes rows with one INSERT per batch rows, each its own
// transaction (autocommit).
func insertBatches(ctx context.Context, c *pgx.Conn, table string, rows tickRows, batch int) error {
	q := insertSQL(table)
	for lo := 0; lo < rows.len(); lo += batch {
		b := rows.slice(lo, min(lo+batch, rows.len()))
		if _, err := c.Exec(ctx, q, b.t, b.sym, b.price, b.vol); err != nil {
			return fmt.Errorf("insert into %s: %w", table, err)
		}
	}
	return nil
}

// copyRows writes rows with one COPY.
func copyRows(ctx context.Context, c *pgx.Conn, table string, rows tickRows) error {
	src := pgx.CopyFromSlice(rows.len(), func(i int) ([]any, error) {
		return []any{rows.t[i], rows.sym[i], rows.price[i], rows.vol[i]}, nil
	})
	if _, err := c.CopyFrom(ctx, pgx.Identifier{table}, tickColumns, src); err != nil {
		return fmt.Errorf("copy into %s: %w", table, err)
	}
	return nil
}
