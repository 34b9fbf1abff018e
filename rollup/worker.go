package rollup

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// Worker keeps tiers current: every Tick it refreshes the dirty buckets of
// every tracked table, Workers tables at a time. Several workers (in one
// daemon or several) never refresh one table at once: a table another
// refresh holds is skipped until the next tick. Stopping abandons the batch
// in flight, whose transaction rolls back: its marks stay for next time.
type Worker struct {
	Refresher *Refresher
	// Tables lists the tracked tables; it is called every tick.
	Tables func(ctx context.Context) ([]Tracked, error)
	Tick   time.Duration
	// Workers is the number of tables refreshed in parallel.
	Workers int
	// Budget bounds the time one table gets per tick, so one backlog does
	// not starve the others.
	Budget time.Duration
	Log    *slog.Logger
	// OnBatch, when set, is called after every batch (metrics).
	OnBatch func(table string, buckets int64, err error)
}

// Run refreshes until ctx ends. It returns nil on cancellation.
func (w *Worker) Run(ctx context.Context) error {
	backoff := time.Duration(0)
	for {
		began := time.Now()
		err := w.tick(ctx)
		wait := untilNextTick(w.Tick, time.Since(began))
		if err != nil && ctx.Err() == nil {
			backoff = min(max(2*backoff, w.Tick), time.Minute)
			wait = backoff
			w.Log.Warn("refresh worker", "err", err, "retry_in", backoff)
		} else {
			backoff = 0
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

// untilNextTick is the wait after a tick that took took: ticks start every
// tick, so a mark written while a long batch runs waits for that batch and
// the next one, not for a whole tick more; a tick that overran its period
// is followed at once.
func untilNextTick(tick, took time.Duration) time.Duration {
	return max(tick-took, 0)
}

// tick refreshes every tracked table once.
func (w *Worker) tick(ctx context.Context) error {
	tables, err := w.Tables(ctx)
	if err != nil {
		return err
	}
	work := make(chan Tracked)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for range max(w.Workers, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for t := range work {
				if err := w.drain(ctx, t); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		}()
	}
	for _, t := range tables {
		select {
		case work <- t:
		case <-ctx.Done():
		}
	}
	close(work)
	wg.Wait()
	return errors.Join(errs...)
}

// drain refreshes batches of one table until it is clean or its budget for
// this tick is spent.
func (w *Worker) drain(ctx context.Context, t Tracked) error {
	deadline := time.Now().Add(w.budget())
	for ctx.Err() == nil && time.Now().Before(deadline) {
		n, more, err := w.Refresher.TryRefreshBatch(ctx, t)
		if w.OnBatch != nil {
			w.OnBatch(t.Table.Name, n, err)
		}
		switch {
		case errors.Is(err, ErrBusy):
			return nil
		case isDropped(err):
			w.Log.Info("tracked table went away during refresh", "table", t.Table.Name)
			return nil
		case err != nil && ctx.Err() == nil:
			return err
		case !more:
			return nil
		}
	}
	return nil
}

func (w *Worker) budget() time.Duration {
	if w.Budget > 0 {
		return w.Budget
	}
	return 4 * w.Tick
}

// isDropped reports errors of a table dropped while it was being refreshed.
func isDropped(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "42P01" || pe.Code == "42703")
}
