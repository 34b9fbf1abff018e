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

// Want selects the marks a batch recomputes.
type Want struct {
	Conds []ScopeCond // only marks of matching tenants
	IDs   []int64     // when set, only these marks
	Skip  []int64     // never these (the marks this refresh set aside)
	// Held includes marks set aside whose time to retry has not come. When
	// false, the short marks (up to one coarsest bucket long) of the same
	// tenant that share a bucket of the coarsest tier with such a mark are
	// left out as well: their refresh would recompute that bucket and most
	// likely fail the same way, and under steady ingest each would cost a
	// split of its batch. Hold describes that tier.
	Held  bool
	Hold  Hold
	Limit int
}

// Hold is the coarsest tier as Want needs it: Seconds, its bucket width,
// and Calendar, whether Seconds is only a bound (a calendar tier's longest
// bucket), so that sharing a bucket means lying within Seconds.
type Hold struct {
	Seconds  int64
	Calendar bool
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
	// Pending returns the marks of the base table visible in tx's snapshot
	// that w selects, oldest first.
	Pending(ctx context.Context, tx pgx.Tx, base uint32, w Want) ([]Mark, error)
	// Remove deletes the marks with these IDs (their failures may stay
	// until the next SetAside drops them).
	Remove(ctx context.Context, tx pgx.Tx, ids []int64) error
	// Trim moves the start of mark id to start: the part before it is done.
	Trim(ctx context.Context, tx pgx.Tx, id int64, start int64) error
	// SetAside records that [m.Start, end) of mark m failed to recompute
	// with cause, and when to try it again. When end < m.End that part
	// becomes a mark of its own (same tenant and age) and m keeps the
	// rest, so the dirty set does not change. It returns the ID set aside,
	// 0 when m is gone.
	SetAside(ctx context.Context, tx pgx.Tx, base uint32, m Mark, end int64, cause *pgconn.PgError) (int64, error)
	// Split replaces [m.Start, end) of mark m, one of every tenant, by one
	// mark per scope, of the same age, and returns them; m keeps the rest
	// when end < m.End and is removed otherwise. None when m is gone.
	Split(ctx context.Context, tx pgx.Tx, m Mark, end int64, scopes [][]byte) ([]Mark, error)
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
// finest-tier buckets recomputed. It waits for other refreshes of t. Marks
// set aside after a failure are tried again at once; ranges that fail
// again stay dirty, the rest is refreshed, and the error is a
// *RangesFailed.
func (r *Refresher) Refresh(ctx context.Context, t Tracked, conds []ScopeCond) (int64, error) {
	w := Want{Conds: conds, Held: true, Limit: r.batchSize()}
	var total int64
	var failed []Failure
	for {
		o, err := r.batch(ctx, t, w, true)
		total += o.buckets
		for _, f := range o.failed {
			w.Skip = append(w.Skip, f.ID)
		}
		failed = append(failed, o.failed...)
		if err == nil && o.more {
			err = ctx.Err()
		}
		if err != nil || !o.more {
			if err == nil && len(failed) > 0 {
				err = &RangesFailed{Table: t.Table.Name, Buckets: total, Failed: failed}
			}
			return total, err
		}
	}
}

// TryRefreshBatch runs one batch unless another refresh of t is running
// (ErrBusy). It reports whether marks remain. A batch that fails on its
// data sets the failing marks aside (see isolate) and refreshes the rest.
func (r *Refresher) TryRefreshBatch(ctx context.Context, t Tracked) (n int64, more bool, err error) {
	o, err := r.batch(ctx, t, Want{Limit: r.batchSize(), Hold: t.Table.hold()}, false)
	return o.buckets, o.more, err
}

// outcome is what a batch did.
type outcome struct {
	buckets int64
	removed int  // marks removed
	more    bool // marks may remain
	tried   []Mark
	failed  []Failure // marks set aside
}

func (o *outcome) add(p outcome) {
	o.buckets += p.buckets
	o.removed += p.removed
	o.failed = append(o.failed, p.failed...)
}

// batch runs one transaction, retrying serialization failures, and
// isolates the marks of a batch that failed on its data.
func (r *Refresher) batch(ctx context.Context, t Tracked, w Want, wait bool) (outcome, error) {
	conn, err := r.Pool.Acquire(ctx)
	if err != nil {
		return outcome{}, fmt.Errorf("refresh %s: %w", t.Table.Name, err)
	}
	defer conn.Release()
	unlock, err := lockTable(ctx, conn.Conn(), t.OID, wait)
	if err != nil {
		return outcome{}, err
	}
	defer unlock()
	o, err := r.attempt(ctx, conn.Conn(), t, w)
	if cause := dataError(err); cause != nil && ctx.Err() == nil {
		o, err = r.isolate(ctx, conn.Conn(), t, o.tried, cause)
	}
	if err == nil {
		r.vacuumIfDue(ctx, conn.Conn(), o.removed)
	}
	return o, wrapRefresh(t, err)
}

// attempt runs batchTx, again after a serialization failure.
func (r *Refresher) attempt(ctx context.Context, conn *pgx.Conn, t Tracked, w Want) (outcome, error) {
	for n := 1; ; n++ {
		o, err := r.batchTx(ctx, conn, t, w)
		if !retryable(err) || n == maxRetries {
			return o, err
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
// the data from (invariant 4). The outcome names the marks it tried, also
// when it fails.
func (r *Refresher) batchTx(ctx context.Context, conn *pgx.Conn, t Tracked, w Want) (outcome, error) {
	var o outcome
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead})
	if err != nil {
		return o, err
	}
	defer tx.Rollback(context.Background())
	marks, err := r.Marks.Pending(ctx, tx, t.OID, w)
	if err != nil || len(marks) == 0 {
		return o, errors.Join(err, tx.Commit(ctx))
	}
	o.tried = marks
	loc, err := t.Table.Location()
	if err != nil {
		return o, err
	}
	side, err := newAside(ctx, r.Pool, tx, t.Table)
	if err != nil {
		return o, err
	}
	p := planBatch(t.Table, marks, loc, r.MaxSpan)
	if err := recompute(ctx, tx, t.Table, p.items, loc, side); err != nil {
		return o, err
	}
	if err := r.settle(ctx, tx, p); err != nil {
		return o, err
	}
	if err := tx.Commit(ctx); err != nil {
		return o, err
	}
	o.buckets, o.removed = p.buckets, len(p.done)
	o.more = len(marks) == w.Limit || len(p.trims) > 0
	return o, nil
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
		end := clipEnd(m, finest, loc, maxSpan)
		if end < m.End {
			p.trims[m.ID] = end
		} else {
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

// hold describes t's coarsest tier for Want; a calendar tier's longest
// bucket has a day to spare for its time zone.
func (t *Table) hold() Hold {
	f := t.Frames[len(t.Frames)-1]
	if f.Calendar() {
		return Hold{Seconds: int64(f.months())*31*secondsPerDay + secondsPerDay, Calendar: true}
	}
	return Hold{Seconds: f.Seconds}
}

// clipEnd is where a batch stops recomputing mark m: its end, or the
// finest bucket boundary maxSpan after its start (at least one bucket on).
func clipEnd(m Mark, finest Frame, loc *time.Location, maxSpan time.Duration) int64 {
	if maxSpan <= 0 || m.End-m.Start <= int64(maxSpan/time.Second) {
		return m.End
	}
	cut := finest.BucketStart(time.Unix(m.Start+int64(maxSpan/time.Second), 0), loc).Unix()
	if cut <= m.Start {
		cut = finest.BucketEnd(time.Unix(m.Start, 0), loc).Unix()
	}
	return min(cut, m.End)
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
