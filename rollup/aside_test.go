package rollup

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"spiral/internal/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// TestAsideReadsTheBatchSnapshot: an aside fold sees exactly the rows of
// the transaction that exported its snapshot, not rows committed since,
// and gives the same states as a fold in that transaction.
func TestAsideReadsTheBatchSnapshot(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.NewDB(t)
	pgtest.Exec(t, dsn, `CREATE TABLE ticks (t timestamptz NOT NULL, sym int NOT NULL, price float8)`)
	pgtest.Exec(t, dsn, `INSERT INTO ticks SELECT '2024-01-01'::timestamptz + i * interval '1 second', i % 3, i FROM generate_series(0, 599) i`)
	tb := &Table{Name: "ticks", Schema: "public", TimeColumn: "t", ScopeColumns: []string{"sym"}, ScopeTypes: []string{"int4"},
		TimeZone: "UTC", Frames: []Frame{{Name: "1m", Seconds: 60}},
		Columns: []Column{{Name: "price", Type: "float8", Kinds: []Kind{KindSketch, KindTDigest}}}}
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	conn := pgtest.Connect(t, dsn)
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead})
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	side, err := newAside(ctx, pool, tx, tb)
	if err != nil || side == nil {
		t.Fatalf("newAside: %v, %v", side, err)
	}
	pgtest.Exec(t, dsn, `INSERT INTO ticks SELECT t + interval '1 ms', sym, price * 7 FROM ticks`) // committed after the snapshot
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	sets := splitRanges(tb, []item{{scope: []byte(`{"sym": 1}`), lo: t0, hi: t0.Add(5 * time.Minute)}, {scope: []byte(`{"sym": 2}`), lo: t0, hi: t0.Add(10 * time.Minute)}})
	buckets := 0
	for _, rs := range sets {
		f := side.fold(ctx, tb, rs).result()
		if f.err != nil || f.skipped {
			t.Fatalf("aside fold: skipped %v, %v", f.skipped, f.err)
		}
		in, err := readStates(ctx, tx, tb, 0, rs)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := fmt.Sprint(f.out), fmt.Sprint(in); got != want {
			t.Errorf("aside fold differs from the transaction's:\n%s\n%s", got, want)
		}
		buckets += len(in.bucket)
	}
	if buckets != 15 {
		t.Errorf("%d buckets in %d sets, want 5+10", buckets, len(sets))
	}
}
