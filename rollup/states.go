package rollup

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/jackc/pgx/v5"

	"spiral/stats"
)

// This file fills the tier columns only Go can compute: DDSketch and
// t-digest states. The SQL path has already inserted the rows of the item
// (with these columns NULL); rebuildStates streams the item's values, or
// the child tier's states, in bucket order, builds one state per bucket and
// column, and writes them into those rows with one UPDATE.
//
// A table with such columns also has the finest tier's stats (computed by
// stats.FromValues) and the open and close of its float columns folded
// here when the set has few buckets (goFinest), since the fold reads every
// raw value anyway. In SQL, the stats need a window over the bucket for
// their pivot, which sorts the rows, and open/close a min/max over
// ARRAY[time key, value]: together most of the INSERT of one busy minute
// under steady ingest. A set of many buckets (a backfill) keeps
// them in the INSERT: writing the stats with the UPDATE as well made that
// UPDATE of a million rows 50% slower, more than the window costs. Coarser
// tiers merge them in SQL, from few rows.

// stateColumn is one column of a tier that rebuildStates fills.
type stateColumn struct {
	tier   string // tier column name
	source string // base column name
	kind   Kind
	part   string // "o" or "c" for an open or close
	typ    string // the tier column's type
}

// openClose reports whether c is an open or a close (openCloseAcc).
func (c stateColumn) openClose() bool { return c.part == "o" || c.part == "c" }

// goKinds reports the kinds rebuildStates computes for a table that has
// sketch or tdigest columns: those, and stats when finest.
func goKinds(finest bool, k Kind) bool {
	return k == KindSketch || k == KindTDigest || (finest && k == KindStats)
}

// goColumn reports whether rebuildStates computes tier column c: the
// columns of goKinds, and when finest also the open and close of float
// columns.
func goColumn(finest bool, c TierColumn) bool {
	return c.Kind != "" && goKinds(finest, c.Kind) || finest && c.floatOpenClose()
}

// goFinest reports whether rebuildStates computes the stats and the float
// open/close of the set at level: at the finest level, for a set folded
// unordered.
func (t *Table) goFinest(level int, rs rangeSet) bool {
	return level == 0 && !rs.sortedFold(t, t.Frames[level])
}

func (t *Table) stateColumns(finest bool) []stateColumn {
	var out []stateColumn
	for _, c := range t.TierColumns() {
		if goColumn(finest, c) {
			out = append(out, stateColumn{tier: c.Name, source: c.Source, kind: c.Kind, part: c.Part, typ: c.SQLType})
		}
	}
	return out
}

// accumulator builds one bucket's value of a column from raw values (add,
// with the row's time key) or from the child tier's encoded states
// (merge); encode gives what the tier stores, reset empties it for the
// next bucket.
type accumulator interface {
	add(key, x float64) error
	merge(b []byte) error
	encode() ([]byte, error)
	reset()
}

func newAccumulator(c stateColumn) accumulator {
	switch {
	case c.openClose():
		return &openCloseAcc{close: c.part == "c"}
	case c.kind == KindSketch:
		return &stateAcc{s: stats.NewSketch()}
	case c.kind == KindStats:
		return &momentsAcc{}
	}
	return &stateAcc{s: stats.NewTDigest()}
}

// stateAcc builds a sketch or t-digest; encode gives nil when nothing was
// added. A value no sketch can hold (NaN, ±Inf, beyond a DDSketch's
// range), or a child state that held one, makes the bucket's state
// stats.NonFiniteState: the refresh goes on, every other column stays
// exact, and a percentile over the bucket fails (22023) the way one over
// its raw values does, rather than answering without them.
type stateAcc struct {
	s         stats.State
	nonFinite bool
}

func (a *stateAcc) add(_, x float64) error { return a.note(a.s.Add(x)) }
func (a *stateAcc) merge(b []byte) error   { return a.note(a.s.MergeBinary(b)) }

func (a *stateAcc) note(err error) error {
	if stats.Unrepresentable(err) {
		a.nonFinite = true
		return nil
	}
	return err
}

// reset keeps the state's memory: a new t-digest costs a 16 KB allocation.
func (a *stateAcc) reset() {
	a.s.Reset()
	a.nonFinite = false
}

func (a *stateAcc) encode() ([]byte, error) {
	switch {
	case a.nonFinite:
		return stats.NonFiniteState(), nil
	case a.s.Count() == 0:
		return nil, nil
	}
	return a.s.MarshalBinary()
}

// momentsAcc builds the finest tier's stats: it keeps the bucket's values
// and computes their moments in two passes (stats.FromValues), as the SQL
// path does; encode gives their binary form, the zero state for a bucket
// without values (stored as (0,0,0,0,0), as the SQL path does). Coarser
// tiers merge stats in SQL, so merge is never called.
type momentsAcc struct{ xs []float64 }

func (a *momentsAcc) add(_, x float64) error { a.xs = append(a.xs, x); return nil }
func (a *momentsAcc) reset()                 { a.xs = a.xs[:0] }

func (a *momentsAcc) merge([]byte) error {
	return errors.New("rollup: stats of coarser tiers are merged in SQL, not folded")
}

func (a *momentsAcc) encode() ([]byte, error) { return stats.FromValues(a.xs).MarshalBinary() }

// openCloseAcc builds the finest tier's open (the value of the least
// (time key, value) pair) or close (of the greatest), comparing as
// PostgreSQL's min/max(ARRAY[_kf, x]) on the SQL path does: NaN above
// every number, -0 equal to 0. encode gives the value as 8 big-endian
// bytes of its float64 bits, nil for a bucket without values.
type openCloseAcc struct {
	close bool
	has   bool
	key   float64
	x     float64
}

func (a *openCloseAcc) add(key, x float64) error {
	c := cmpFloat8(key, a.key)
	if c == 0 {
		c = cmpFloat8(x, a.x)
	}
	if !a.has || (a.close && c > 0) || (!a.close && c < 0) {
		a.has, a.key, a.x = true, key, x
	}
	return nil
}

func (a *openCloseAcc) merge([]byte) error {
	return errors.New("rollup: open and close of coarser tiers are merged in SQL, not folded")
}

func (a *openCloseAcc) reset() { a.has = false }

func (a *openCloseAcc) encode() ([]byte, error) {
	if !a.has {
		return nil, nil
	}
	return binary.BigEndian.AppendUint64(nil, math.Float64bits(a.x)), nil
}

// cmpFloat8 orders float8 values as PostgreSQL does: NaN equals NaN and
// sorts above everything else.
func cmpFloat8(a, b float64) int {
	switch an, bn := math.IsNaN(a), math.IsNaN(b); {
	case an && bn:
		return 0
	case an:
		return 1
	case bn:
		return -1
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// stateRows collects the states of each bucket, keyed as the UPDATE needs.
type stateRows struct {
	keys   [][]string // per scope column, the tenants' values as text
	bucket []int64    // bucket start, epoch seconds
	states [][][]byte // per state column
}

// rebuildStates computes the sketch and tdigest columns of a set of ranges
// at one level and writes them into the rows the SQL path inserted. early,
// when not nil, is an aside fold of the same states already under way.
func rebuildStates(ctx context.Context, tx pgx.Tx, t *Table, level int, rs rangeSet, early *asideFold) error {
	f := folded{skipped: true}
	if early != nil {
		f = early.result()
	}
	out, err := f.out, f.err
	if f.skipped {
		out, err = readStates(ctx, tx, t, level, rs)
	}
	if err != nil || len(out.bucket) == 0 {
		return err
	}
	cols := t.stateColumns(t.goFinest(level, rs))
	args, err := out.args(cols)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, statesUpdate(t, t.Frames[level], cols), args...)
	return err
}

// readStates reads the set's inputs at one level and folds them: unordered
// when the set has at most maxHashedGroups buckets, else in bucket order.
func readStates(ctx context.Context, q pgx.Tx, t *Table, level int, rs rangeSet) (*stateRows, error) {
	spec := foldSpec{nkeys: len(t.ScopeColumns), cols: t.stateColumns(t.goFinest(level, rs)), raw: level == 0}
	sorted := rs.sortedFold(t, t.Frames[level])
	sql := statesSource(t, level, rs, sorted, &spec)
	rows, err := q.Query(ctx, sql, rs.args()...)
	if err != nil {
		return nil, err
	}
	fold := foldHashed
	if sorted {
		fold = foldSorted
	}
	out, err := fold(rows, spec)
	if err != nil {
		return nil, fmt.Errorf("states: %w", err)
	}
	return out, nil
}

// statesSource selects the set's rows, in bucket order when sorted: the
// scope keys as text, the bucket start, the time key when an open or close
// is folded, and the inputs: raw values as float8 at the finest level (each
// base column once: spec.of maps the columns to them), the child tier's
// encoded states above it. It fills in spec's inputs: whether there is a
// time key, their number and which one each column folds.
func statesSource(t *Table, level int, rs rangeSet, sorted bool, spec *foldSpec) string {
	f, rel := t.Frames[level], t.baseRelation()
	if level > 0 {
		rel = t.tierRelation(t.Frames[level-1])
	}
	ts := QuoteIdent(t.TimeColumn)
	sel := make([]string, 0, len(t.ScopeColumns)+1+len(spec.cols))
	for _, s := range t.ScopeColumns {
		sel = append(sel, QuoteIdent(s)+`::text COLLATE "C"`) // grouped by equal text: memcmp order is enough
	}
	sel = append(sel, fmt.Sprintf("date_part('epoch', %s)::bigint", f.SQLBucket(ts, t.zone()))) // whole seconds: exact
	spec.timeKey = false
	for _, c := range spec.cols {
		spec.timeKey = spec.timeKey || c.openClose()
	}
	if spec.timeKey {
		sel = append(sel, fmt.Sprintf("date_part('epoch', %s)", ts)) // the SQL path's _kf
	}
	inputs := map[string]int{}
	spec.of = make([]int, len(spec.cols))
	for i, c := range spec.cols {
		expr := QuoteIdent(c.tier)
		if level == 0 {
			expr = QuoteIdent(c.source) + "::float8"
		}
		j, ok := inputs[expr]
		if !ok {
			j = len(inputs)
			inputs[expr] = j
			sel = append(sel, expr)
		}
		spec.of[i] = j
	}
	spec.nvals = len(inputs)
	q := fmt.Sprintf("SELECT %s FROM %s WHERE %s IS NOT NULL", strings.Join(sel, ", "), rs.source(rel), ts)
	if !sorted {
		return q
	}
	order := make([]string, len(t.ScopeColumns)+1)
	for i := range order {
		order[i] = fmt.Sprint(i + 1)
	}
	return q + " ORDER BY " + strings.Join(order, ", ")
}

// args are the UPDATE's arguments: a stats column as five arrays (n and
// m1..m4, which the UPDATE builds its composite from: parsing the
// composite's text costs a microsecond a row), any other as bytea.
func (o *stateRows) args(cols []stateColumn) ([]any, error) {
	args := make([]any, 0, len(o.keys)+1+len(o.states))
	for _, k := range o.keys {
		args = append(args, k)
	}
	args = append(args, o.bucket)
	for i, s := range o.states {
		switch {
		case cols[i].openClose():
			args = append(args, openCloseArg(s))
			continue
		case cols[i].kind != KindStats:
			args = append(args, s)
			continue
		}
		ns, ms := make([]int64, len(s)), [4][]float64{}
		for j := range ms {
			ms[j] = make([]float64, len(s))
		}
		for j, b := range s {
			var m stats.Moments
			if err := m.UnmarshalBinary(b); err != nil {
				return nil, err
			}
			ns[j], ms[0][j], ms[1][j], ms[2][j], ms[3][j] = m.N, m.M1, m.M2, m.M3, m.M4
		}
		args = append(args, ns, ms[0], ms[1], ms[2], ms[3])
	}
	return args, nil
}

// openCloseArg decodes an open or close column's values (openCloseAcc).
func openCloseArg(s [][]byte) []*float64 {
	out := make([]*float64, len(s))
	for j, b := range s {
		if b != nil {
			x := math.Float64frombits(binary.BigEndian.Uint64(b))
			out[j] = &x
		}
	}
	return out
}

// statesUpdate writes the states of many buckets with one UPDATE over
// unnest()ed arrays: $1..$k scope keys (text[]), $k+1 buckets (int8[]),
// then per state column one bytea[], for stats int8[] and four float8[] of
// spiral.moments' fields, for an open or close one float8[].
func statesUpdate(t *Table, f Frame, cols []stateColumn) string {
	var arrays, names, sets, conds []string
	param := func(typ string) string {
		arrays = append(arrays, fmt.Sprintf("$%d::%s[]", len(arrays)+1, typ))
		names = append(names, fmt.Sprintf("u%d", len(arrays)))
		return "u." + names[len(names)-1]
	}
	for i, s := range t.ScopeColumns {
		conds = append(conds, fmt.Sprintf("tier.%s = %s::%s", QuoteIdent(s), param("text"), t.scopeType(i)))
	}
	conds = append(conds, fmt.Sprintf("tier.%s = to_timestamp(%s)", QuoteIdent(t.TimeColumn), param("int8")))
	for _, c := range cols {
		var v string
		switch {
		case c.openClose():
			v = param("float8") + "::" + c.typ
		case c.kind == KindStats:
			v = fmt.Sprintf("ROW(%s, %s, %s, %s, %s)::%s", param("int8"), param("float8"), param("float8"), param("float8"), param("float8"), MomentsType)
		default:
			v = param("bytea")
		}
		sets = append(sets, fmt.Sprintf("%s = %s", QuoteIdent(c.tier), v))
	}
	return fmt.Sprintf("UPDATE %s AS tier SET %s FROM unnest(%s) AS u(%s) WHERE %s",
		t.tierRelation(f), strings.Join(sets, ", "), strings.Join(arrays, ", "), strings.Join(names, ", "), strings.Join(conds, " AND "))
}
