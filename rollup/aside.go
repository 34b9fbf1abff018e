package rollup

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The finest tier's sketch and t-digest states (and, for sets of few
// buckets, its stats and float open/close: goFinest) are folded in Go from
// the same raw rows PostgreSQL aggregates into the tier. An aside is a
// second connection that reads those rows under the batch's own snapshot
// (pg_export_snapshot / SET TRANSACTION SNAPSHOT), so the fold runs while
// PostgreSQL runs the INSERT, instead of after it: the batch takes about
// the longer of the two, not their sum. It reads only the base table,
// which the batch does not write, so it sees exactly what the batch's
// transaction sees.

// asideWait bounds the wait for a pool connection; without one the states
// are read in the batch's transaction after the INSERT, as before. It
// keeps refreshes that each hold a connection from waiting on each other.
const asideWait = 50 * time.Millisecond

// aside reads under an exported snapshot; nil means no aside.
type aside struct {
	pool     *pgxpool.Pool
	snapshot string
}

// newAside exports tx's snapshot for an aside reader. Only tables with
// states need one.
func newAside(ctx context.Context, pool *pgxpool.Pool, tx pgx.Tx, t *Table) (*aside, error) {
	if pool == nil || t.SQLPath() {
		return nil, nil
	}
	var id string
	if err := tx.QueryRow(ctx, "SELECT pg_export_snapshot()").Scan(&id); err != nil {
		return nil, fmt.Errorf("export snapshot: %w", err)
	}
	return &aside{pool: pool, snapshot: id}, nil
}

// folded is what an aside fold returns; skipped means it found no
// connection and the caller folds in its own transaction.
type folded struct {
	out     *stateRows
	err     error
	skipped bool
}

// asideFold is a fold under way on an aside.
type asideFold struct {
	done   chan folded
	cancel context.CancelFunc
}

// fold starts reading and folding the raw level's states of rs in a
// goroutine. The caller must end it with result or abandon.
func (a *aside) fold(ctx context.Context, t *Table, rs rangeSet) *asideFold {
	ctx, cancel := context.WithCancel(ctx)
	f := &asideFold{done: make(chan folded, 1), cancel: cancel}
	go func() {
		out, skipped, err := a.read(ctx, t, rs)
		f.done <- folded{out: out, err: err, skipped: skipped}
	}()
	return f
}

// result waits for the fold.
func (f *asideFold) result() folded {
	r := <-f.done
	f.cancel()
	return r
}

// abandon stops the fold and waits for its goroutine.
func (f *asideFold) abandon() {
	f.cancel()
	<-f.done
}

func (a *aside) read(ctx context.Context, t *Table, rs rangeSet) (*stateRows, bool, error) {
	wctx, cancel := context.WithTimeout(ctx, asideWait)
	conn, err := a.pool.Acquire(wctx)
	cancel()
	if err != nil {
		return nil, true, nil
	}
	defer conn.Release()
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, false, fmt.Errorf("aside: %w", err)
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(ctx, "SET TRANSACTION SNAPSHOT "+QuoteLiteral(a.snapshot)); err != nil {
		return nil, false, fmt.Errorf("aside: import snapshot: %w", err)
	}
	out, err := readStates(ctx, tx, t, 0, rs)
	return out, false, errors.Join(err, tx.Commit(ctx))
}
