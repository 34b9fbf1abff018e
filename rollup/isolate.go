package rollup

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// This file keeps one bad range from stopping a table's refresh. A batch
// that fails on its data (SQLSTATE class 22, such as a float8 sum that
// overflows, or class 54) is split in halves, each half tried in a
// transaction of its own, until the marks that fail alone are found. Those
// are set aside (Marks.SetAside) with their error and a time to try again.
// They stay dirty, so a query reads their ranges from the raw table and
// gets the raw table's own answer or error. Marks are sorted by tenant and
// time before the split, so the marks of one bad range (a tenant's day,
// say) stay together and are found in few steps. A mark of every tenant
// (a backfill's) that fails alone is split by tenant first (split.go).

// Failure is a mark a refresh set aside.
type Failure struct {
	ID         int64
	Start, End int64 // the range set aside, epoch seconds
	Scope      []byte
	Cause      *pgconn.PgError
}

func (f Failure) String() string {
	scope := "every tenant"
	if f.Scope != nil {
		scope = string(f.Scope)
	}
	return fmt.Sprintf("[%s UTC, %s UTC) of %s", time.Unix(f.Start, 0).UTC().Format(time.DateTime), time.Unix(f.End, 0).UTC().Format(time.DateTime), scope)
}

// RangesFailed is Refresh's error when some dirty ranges could not be
// recomputed; every other range was. It unwraps to the first one's cause.
type RangesFailed struct {
	Table   string
	Buckets int64 // finest-tier buckets recomputed all the same
	Failed  []Failure
}

func (e *RangesFailed) Error() string {
	f := e.Failed[0]
	return fmt.Sprintf("refresh %s: %d dirty range(s) could not be recomputed; the first, %s, failed with: %s (SQLSTATE %s). They stay dirty and are read from the raw table; %d bucket(s) elsewhere were refreshed",
		e.Table, len(e.Failed), f, f.Cause.Message, f.Cause.Code, e.Buckets)
}

func (e *RangesFailed) Unwrap() error { return e.Failed[0].Cause }

// dataError is err's PostgreSQL error when the data caused it: classes 22
// (data exception) and 54 (program limit exceeded).
func dataError(err error) *pgconn.PgError {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && (strings.HasPrefix(pe.Code, "22") || strings.HasPrefix(pe.Code, "54")) {
		return pe
	}
	return nil
}

// isolate recomputes marks, which failed together with cause, in halves,
// and sets aside each mark that fails alone.
func (r *Refresher) isolate(ctx context.Context, conn *pgx.Conn, t Tracked, marks []Mark, cause *pgconn.PgError) (outcome, error) {
	switch len(marks) {
	case 0:
		return outcome{}, cause
	case 1:
		parts, err := r.splitByTenant(ctx, conn, t, marks[0])
		if err != nil {
			return outcome{}, err
		}
		if len(parts) > 1 {
			return r.isolate(ctx, conn, t, parts, cause)
		}
		return r.setAside(ctx, conn, t, marks[0], cause)
	}
	marks = slices.Clone(marks)
	slices.SortFunc(marks, func(a, b Mark) int {
		if c := bytes.Compare(a.Scope, b.Scope); c != 0 {
			return c
		}
		return cmp.Compare(a.Start, b.Start)
	})
	o := outcome{more: true}
	for _, part := range [][]Mark{marks[:len(marks)/2], marks[len(marks)/2:]} {
		ids := make([]int64, len(part))
		for i, m := range part {
			ids[i] = m.ID
		}
		p, err := r.attempt(ctx, conn, t, Want{IDs: ids, Held: true, Limit: len(ids)})
		if c := dataError(err); c != nil && ctx.Err() == nil {
			p, err = r.isolate(ctx, conn, t, p.tried, c)
		}
		o.add(p)
		if err != nil {
			return o, err
		}
	}
	return o, nil
}

// batchEnd is where a batch stops recomputing mark m (clipEnd).
func (r *Refresher) batchEnd(t Tracked, m Mark) (int64, error) {
	loc, err := t.Table.Location()
	if err != nil {
		return 0, err
	}
	return clipEnd(m, t.Table.Frames[0], loc, r.MaxSpan), nil
}

// setAside sets aside the part of m a batch recomputes.
func (r *Refresher) setAside(ctx context.Context, conn *pgx.Conn, t Tracked, m Mark, cause *pgconn.PgError) (outcome, error) {
	end, err := r.batchEnd(t, m)
	if err != nil {
		return outcome{}, err
	}
	var id int64
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		id, err = r.Marks.SetAside(ctx, tx, t.OID, m, end, cause)
		return err
	})
	if err != nil {
		return outcome{}, fmt.Errorf("set aside a failing range: %w", err)
	}
	o := outcome{more: true}
	if id == 0 {
		return o, nil
	}
	f := Failure{ID: id, Start: m.Start, End: end, Scope: m.Scope, Cause: cause}
	if r.Log != nil {
		r.Log.Warn("a dirty range could not be recomputed; it stays dirty, is read from the raw table and is tried again later (spiral.failed_ranges)",
			"table", t.Table.Name, "range", f.String(), "sqlstate", cause.Code, "err", cause.Message)
	}
	o.failed = []Failure{f}
	return o, nil
}
