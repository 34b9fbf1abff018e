package engine_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestNoMarkLostUnderConcurrency is invariant 4 under load: writers at READ
// COMMITTED and REPEATABLE READ insert (late and out of order), update
// (moving rows across tenants and buckets), delete and roll back, while the
// worker and explicit spiral_refresh calls recompute tiers concurrently.
// After the writers stop, one more refresh must leave every tier row equal
// to a recomputation from the raw table: a mark removed by a refresh that
// did not see its data would leave a stale bucket behind.
func TestNoMarkLostUnderConcurrency(t *testing.T) {
	e := newEnv(t)
	c := connect(t, e.via)
	exec(t, c, ticksDDL)
	e.worker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, 8)
	for w := range 4 {
		level := pgx.ReadCommitted
		if w%2 == 1 {
			level = pgx.RepeatableRead
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errc <- writer(ctx, e.direct, level, uint64(w), 120)
		}()
	}
	refreshing, stopRefresh := context.WithCancel(ctx)
	refreshDone := make(chan error, 1)
	go func() { refreshDone <- refresher(refreshing, e.via) }()
	wg.Wait()
	stopRefresh()
	close(errc)
	for err := range errc {
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := <-refreshDone; err != nil {
		t.Fatal(err)
	}
	var n int64
	if err := c.QueryRow(ctx, `SELECT count(*) FROM ticks`).Scan(&n); err != nil || n < 1000 {
		t.Fatalf("only %d rows written (%v): the writers did not exercise anything", n, err)
	}
	exec(t, c, `SELECT spiral_refresh('ticks')`)
	checkTiers(t, c)
}

// writer runs txs transactions of random writes at the given isolation
// level. Serialization failures are expected at REPEATABLE READ and end
// only that transaction.
func writer(ctx context.Context, dsn string, level pgx.TxIsoLevel, seed uint64, txs int) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	rng := rand.New(rand.NewPCG(seed, 42))
	for range txs {
		if err := writeTx(ctx, conn, level, rng); err != nil && !serialization(err) {
			return fmt.Errorf("writer %d: %w", seed, err)
		}
	}
	return nil
}

func writeTx(ctx context.Context, conn *pgx.Conn, level pgx.TxIsoLevel, rng *rand.Rand) error {
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: level})
	if err != nil {
		return err
	}
	defer tx.Rollback(context.Background())
	for range 1 + rng.IntN(3) {
		if _, err := tx.Exec(ctx, randomWrite(rng)); err != nil {
			return err
		}
	}
	if rng.IntN(10) == 0 {
		return tx.Rollback(ctx)
	}
	return tx.Commit(ctx)
}

// randomWrite returns one INSERT, UPDATE or DELETE over three days and
// four tenants.
func randomWrite(rng *rand.Rand) string {
	at := fmt.Sprintf("'2024-03-01'::timestamptz + %d * interval '1 second'", rng.IntN(3*86400))
	switch rng.IntN(6) {
	case 0:
		return fmt.Sprintf(`UPDATE ticks SET sym = %d, t = %s WHERE ctid = (SELECT ctid FROM ticks WHERE sym = %d LIMIT 1)`,
			rng.IntN(4), at, rng.IntN(4))
	case 1:
		return fmt.Sprintf(`UPDATE ticks SET price = price + 1, vol = vol + 1 WHERE sym = %d AND vol = %d`, rng.IntN(4), rng.IntN(50))
	case 2:
		return fmt.Sprintf(`DELETE FROM ticks WHERE sym = %d AND vol = %d`, rng.IntN(4), rng.IntN(50))
	}
	return fmt.Sprintf(`INSERT INTO ticks SELECT %s + g * interval '7 seconds', %d, 100 + random() * 10, (random() * 50)::int
		FROM generate_series(1, %d) g`, at, rng.IntN(4), 1+rng.IntN(20))
}

// refresher calls spiral_refresh through the proxy until ctx ends.
func refresher(ctx context.Context, dsn string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	for ctx.Err() == nil {
		_, err := conn.Exec(ctx, `SELECT spiral_refresh('ticks')`)
		if err != nil && ctx.Err() == nil {
			return fmt.Errorf("concurrent spiral_refresh: %w", err)
		}
		time.Sleep(5 * time.Millisecond) // pacing, not waiting for a state
	}
	return nil
}

func serialization(err error) bool {
	c := sqlState(err)
	return c == "40001" || c == "40P01" || errors.Is(err, context.Canceled)
}
