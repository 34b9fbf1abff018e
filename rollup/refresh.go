package rollup

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Mark is one dirty range of one tenant, as the changelog stores it.
type Mark struct {
	ID         int64
	Start, End int64  // epoch seconds, [Start, End), aligned to the finest frame
	Scope      []byte // jsonb object of the scope column values; nil = every tenant
}

// ScopeCond restricts a refresh to tenants whose column is one of Values
// (the values' text forms, as jsonb ->> renders them).
type ScopeCond struct {
	Column string
	Values []string
}

// Marks is what the refresh engine needs from the changelog. Every method
// runs inside the refresh's REPEATABLE READ transaction, so Pending sees
// exactly the marks whose writes the recomputation will see.
type Marks interface {
	// Pending returns up to limit marks of the base table visible in tx's
	// snapshot, oldest first; with conds, only marks of matching tenants.
	Pending(ctx context.Context, tx pgx.Tx, base uint32, conds []ScopeCond, limit int) ([]Mark, error)
	// Remove deletes the marks with these IDs.
	Remove(ctx context.Context, tx pgx.Tx, ids []int64) error
	// Trim moves the start of mark id to start: the part before it is done.
	Trim(ctx context.Context, tx pgx.Tx, id int64, start int64) error
	// Vacuum reclaims removed marks. It runs outside any transaction.
	Vacuum(ctx context.Context, conn *pgx.Conn) error
}

// Tracked is a tracked table as the catalog knows it.
type Tracked struct {
	Table *Table
	OID   uint32 // the base table's pg_class OID
}

// Refresher recomputes the tiers of dirty buckets from the data.
type Refresher struct {
	Pool  *pgxpool.Pool
	Marks Marks
	// BatchSize is the number of marks recomputed per transaction (0:
	// DefaultBatchSize).
	BatchSize int
	// MaxSpan bounds the range of one mark recomputed per transaction; the
	// rest of a longer mark (a bulk load) is left for the next batch.
	MaxSpan time.Duration
	// VacuumAfter is the number of removed marks after which the changelog
	// is vacuumed (0: DefaultVacuumAfter; negative: never). Every rewritten
	// query reads the changelog with a bitmap scan, which visits removed
	// marks until a vacuum reclaims them and never marks them dead itself.
	VacuumAfter int64

	// Log, when set, receives failures that do not fail a batch.
	Log *slog.Logger

	removed atomic.Int64 // marks removed since the last vacuum
}

// DefaultVacuumAfter is the default of Refresher.VacuumAfter: a thousand
// dead marks add roughly 0.1 ms to every rewritten query's dirty-set read.
const DefaultVacuumAfter = 1000

// ErrBusy is returned by TryRefreshBatch when another refresh of the same
// table is running.
var ErrBusy = errors.New("rollup: table is being refreshed elsewhere")

// maxRetries bounds retries of a batch that lost a serialization race.
const maxRetries = 5

// Refresh recomputes dirty buckets of t batch by batch until none is left
// (of the tenants conds selects, when given). It returns the number of
// finest-tier buckets recomputed. It waits for other refreshes of t.
func (r *Refresher) Refresh(ctx context.Context, t Tracked, conds []ScopeCond) (int64, error) {
	var total int64
	for {
		n, more, err := r.batch(ctx, t, conds, true)
		total += n
		if err != nil || !more {
			return total, err
		}
		if err := ctx.Err(); err != nil {
			return total, err
		}
	}
}

// TryRefreshBatch runs one batch unless another refresh of t is running
// (ErrBusy). It reports whether marks remain.
func (r *Refresher) TryRefreshBatch(ctx context.Context, t Tracked) (n int64, more bool, err error) {
	return r.batch(ctx, t, nil, false)
}

// batch runs one transaction, retrying serialization failures.
func (r *Refresher) batch(ctx context.Context, t Tracked, conds []ScopeCond, wait bool) (int64, bool, error) {
	conn, err := r.Pool.Acquire(ctx)
	if err != nil {
		return 0, false, fmt.Errorf("refresh %s: %w", t.Table.Name, err)
	}
	defer conn.Release()
	unlock, err := lockTable(ctx, conn.Conn(), t.OID, wait)
	if err != nil {
		return 0, false, err
	}
	defer unlock()
	for attempt := 1; ; attempt++ {
		n, removed, more, err := r.batchTx(ctx, conn.Conn(), t, conds)
		if !retryable(err) || attempt == maxRetries {
			if err == nil {
				r.vacuumIfDue(ctx, conn.Conn(), removed)
			}
			return n, more, wrapRefresh(t, err)
		}
	}
}

// vacuumIfDue counts removed marks and vacuums the changelog once
// VacuumAfter of them have accumulated. A failed vacuum is logged, not
// returned: the batch's work has committed.
func (r *Refresher) vacuumIfDue(ctx context.Context, conn *pgx.Conn, removed int) {
	after := r.VacuumAfter
	if after == 0 {
		after = DefaultVacuumAfter
	}
	if after < 0 || r.removed.Add(int64(removed)) < after {
		return
	}
	r.removed.Store(0)
	if err := r.Marks.Vacuum(ctx, conn); err != nil && ctx.Err() == nil && r.Log != nil {
		r.Log.Warn("vacuum of the changelog failed; it is tried again after the next removals", "err", err)
	}
}

// lockTable takes the per-table refresh lock, a session-level advisory lock
// taken before the transaction starts, so the refresh's snapshot is newer
// than any refresh that held the lock before.
func lockTable(ctx context.Context, conn *pgx.Conn, oid uint32, wait bool) (func(), error) {
	const class = 0x5350 // "SP"
	if wait {
		if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1, $2::oid::int)", class, oid); err != nil {
			return nil, fmt.Errorf("refresh lock: %w", err)
		}
	} else {
		var got bool
		if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1, $2::oid::int)", class, oid).Scan(&got); err != nil {
			return nil, fmt.Errorf("refresh lock: %w", err)
		}
		if !got {
			return nil, ErrBusy
		}
	}
	return func() {
		_, _ = conn.Exec(context.Background(), "SELECT pg_advisory_unlock($1, $2::oid::int)", class, oid)
	}, nil
}

func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01" || pe.Code == "23505")
}

func wrapRefresh(t Tracked, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("refresh %s: %w", t.Table.Name, err)
}

// batchTx recomputes one batch of marks in one REPEATABLE READ transaction:
// the marks it removes are exactly those visible in the snapshot it read
// the data from (invariant 4).
// It returns the buckets recomputed and the marks removed.
func (r *Refresher) batchTx(ctx context.Context, conn *pgx.Conn, t Tracked, conds []ScopeCond) (int64, int, bool, error) {
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead})
	if err != nil {
		return 0, 0, false, err
	}
	defer tx.Rollback(context.Background())
	marks, err := r.Marks.Pending(ctx, tx, t.OID, conds, r.batchSize())
	if err != nil || len(marks) == 0 {
		return 0, 0, false, errors.Join(err, tx.Commit(ctx))
	}
	loc, err := t.Table.Location()
	if err != nil {
		return 0, 0, false, err
	}
	side, err := newAside(ctx, r.Pool, tx, t.Table)
	if err != nil {
		return 0, 0, false, err
	}
	p := planBatch(t.Table, marks, loc, r.MaxSpan)
	if err := recompute(ctx, tx, t.Table, p.items, loc, side); err != nil {
		return 0, 0, false, err
	}
	if err := r.settle(ctx, tx, p); err != nil {
		return 0, 0, false, err
	}
	more := len(marks) == r.batchSize() || len(p.trims) > 0
	if err := tx.Commit(ctx); err != nil {
		return 0, 0, false, err
	}
	return p.buckets, len(p.done), more, nil
}

// settle removes the marks that were recomputed whole and trims the rest.
func (r *Refresher) settle(ctx context.Context, tx pgx.Tx, p batchPlan) error {
	if err := r.Marks.Remove(ctx, tx, p.done); err != nil {
		return err
	}
	for id, start := range p.trims {
		if err := r.Marks.Trim(ctx, tx, id, start); err != nil {
			return err
		}
	}
	return nil
}

// DefaultBatchSize is the default of Refresher.BatchSize. Under steady
// ingest every INSERT marks the current minute of each tenant it writes
// (10k rows/s in 100-row INSERTs over 100 tenants: 10k marks/s), and every
// batch recomputes that minute whole, so a tick's marks should fit one
// batch; a mark costs about a hundred bytes while the batch runs.
const DefaultBatchSize = 65536

func (r *Refresher) batchSize() int {
	if r.BatchSize <= 0 {
		return DefaultBatchSize
	}
	return r.BatchSize
}

// item is a range of one tenant (scope nil: every tenant) to recompute.
type item struct {
	scope  []byte
	lo, hi time.Time
}

type batchPlan struct {
	items   []item
	done    []int64
	trims   map[int64]int64
	buckets int64
}

// planBatch turns marks into work: each mark clipped to maxSpan (the rest
// is trimmed, not removed), then overlapping ranges of a tenant merged.
func planBatch(t *Table, marks []Mark, loc *time.Location, maxSpan time.Duration) batchPlan {
	p := batchPlan{trims: map[int64]int64{}}
	finest := t.Frames[0]
	for _, m := range marks {
		end := m.End
		if maxSpan > 0 && end-m.Start > int64(maxSpan/time.Second) {
			cut := finest.BucketStart(time.Unix(m.Start+int64(maxSpan/time.Second), 0), loc).Unix()
			if cut <= m.Start {
				cut = finest.BucketEnd(time.Unix(m.Start, 0), loc).Unix()
			}
			if cut < end {
				end = cut
				p.trims[m.ID] = cut
			}
		}
		if _, trimmed := p.trims[m.ID]; !trimmed {
			p.done = append(p.done, m.ID)
		}
		p.items = append(p.items, item{scope: m.Scope, lo: time.Unix(m.Start, 0), hi: time.Unix(end, 0)})
	}
	p.items = mergeItems(p.items)
	for _, it := range p.items {
		p.buckets += countBuckets(finest, it, loc)
	}
	return p
}

// mergeItems merges overlapping or touching ranges of the same tenant.
func mergeItems(items []item) []item {
	sort.Slice(items, func(i, j int) bool {
		if c := strings.Compare(string(items[i].scope), string(items[j].scope)); c != 0 {
			return c < 0
		}
		return items[i].lo.Before(items[j].lo)
	})
	var out []item
	for _, it := range items {
		if n := len(out); n > 0 && string(out[n-1].scope) == string(it.scope) && (it.scope != nil) == (out[n-1].scope != nil) && !it.lo.After(out[n-1].hi) {
			if it.hi.After(out[n-1].hi) {
				out[n-1].hi = it.hi
			}
			continue
		}
		out = append(out, it)
	}
	return out
}

// countBuckets is the number of buckets of f in the item's range.
func countBuckets(f Frame, it item, loc *time.Location) int64 {
	if !f.Calendar() {
		return (it.hi.Unix() - it.lo.Unix() + f.Seconds - 1) / f.Seconds
	}
	var n int64
	for t := it.lo; t.Before(it.hi); t = f.BucketEnd(t, loc) {
		n++
	}
	return n
}
