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

// Run refreshes until ctx ends. It returns nil on cancellation. A table
// whose refresh fails waits before it is tried again, twice as long after
// each failure up to a minute, while the other tables go on every tick;
// the whole worker waits so only when it cannot list the tables.
func (w *Worker) Run(ctx context.Context) error {
	backoff := time.Duration(0)
	waits := &tableWaits{}
	for {
		began := time.Now()
		err := w.tick(ctx, waits)
		wait := untilNextTick(w.Tick, time.Since(began))
		if err != nil && ctx.Err() == nil {
			backoff = nextBackoff(backoff, w.Tick)
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

// nextBackoff doubles a wait, from one tick up to a minute.
func nextBackoff(prev, tick time.Duration) time.Duration {
	return min(max(2*prev, tick), time.Minute)
}

// tableWaits holds the tables that failed: when each may be tried again,
// and the wait that earned.
type tableWaits struct {
	mu    sync.Mutex
	until map[uint32]tableWait
}

type tableWait struct {
	at   time.Time
	wait time.Duration
}

func (tw *tableWaits) due(oid uint32, now time.Time) bool {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	return !now.Before(tw.until[oid].at)
}

// done records a refresh's outcome and returns the wait a failure earns.
func (tw *tableWaits) done(oid uint32, failed bool, tick time.Duration) time.Duration {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	if !failed {
		delete(tw.until, oid)
		return 0
	}
	if tw.until == nil {
		tw.until = map[uint32]tableWait{}
	}
	wait := nextBackoff(tw.until[oid].wait, tick)
	tw.until[oid] = tableWait{at: time.Now().Add(wait), wait: wait}
	return wait
}

// untilNextTick is the wait after a tick that took took: ticks start every
// tick, so a mark written while a long batch runs waits for that batch and
// the next one, not for a whole tick more; a tick that overran its period
// is followed at once.
func untilNextTick(tick, took time.Duration) time.Duration {
	return max(tick-took, 0)
}

// tick refreshes every tracked table once, but those waiting after a
// failure. It fails only when it cannot list the tables.
func (w *Worker) tick(ctx context.Context, waits *tableWaits) error {
	tables, err := w.Tables(ctx)
	if err != nil {
		return err
	}
	work := make(chan Tracked)
	var wg sync.WaitGroup
	for range max(w.Workers, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for t := range work {
				err := w.drain(ctx, t)
				failed := err != nil && ctx.Err() == nil
				if wait := waits.done(t.OID, failed, w.Tick); failed {
					w.Log.Warn("refresh failed; the table is tried again later", "table", t.Table.Name, "err", err, "retry_in", wait)
				}
			}
		}()
	}
	now := time.Now()
	for _, t := range tables {
		if !waits.due(t.OID, now) {
			continue
		}
		select {
		case work <- t:
		case <-ctx.Done():
		}
	}
	close(work)
	wg.Wait()
	return nil
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
