package rollup

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestUniformSets: tenants of a one-column scope are grouped by their range
// into sets read with scope = ANY(...); more ranges than maxUniformSets, or
// two scope columns, keep the one joined set. The all-tenant ranges become
// one set each (single), read with a plain time condition, unless there
// are more than maxUniformSets of them.
func TestUniformSets(t *testing.T) {
	one := &Table{Name: "ticks", Schema: "public", TimeColumn: "t", ScopeColumns: []string{"sym"}, ScopeTypes: []string{"text"}}
	two := &Table{Name: "ticks", Schema: "public", TimeColumn: "t", ScopeColumns: []string{"a", "b"}, ScopeTypes: []string{"int4", "int4"}}
	none := &Table{Name: "ticks", Schema: "public", TimeColumn: "t"}
	m := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	mk := func(scope string, lo, hi int) item { // "" is every tenant
		var b []byte
		if scope != "" {
			b = []byte(scope)
		}
		return item{scope: b, lo: m.Add(time.Duration(lo) * time.Minute), hi: m.Add(time.Duration(hi) * time.Minute)}
	}
	describe := func(sets []rangeSet) string {
		var out string
		for _, s := range sets {
			if s.single() {
				out += "single"
			}
			out += fmt.Sprintf("[uniform=%v %v %d-%d]", s.uniform, s.values, int(s.lo[0].Sub(m).Minutes()), int(s.hi[len(s.hi)-1].Sub(m).Minutes()))
		}
		return out
	}
	for i, c := range []struct {
		tb    *Table
		items []item
		want  string
	}{
		{one, []item{mk(`{"sym": "A"}`, 0, 1), mk(`{"sym": "B \"q\""}`, 0, 1), mk(`{"sym": "C"}`, 1, 2), mk(``, 5, 6)},
			`[uniform=true [A B "q"] 0-1][uniform=true [C] 1-2]single[uniform=false [] 5-6]`},
		{one, []item{mk(``, 0, 1), mk(``, 2, 3), mk(``, 5, 6)}, `single[uniform=false [] 0-1]single[uniform=false [] 2-3]single[uniform=false [] 5-6]`},
		{two, []item{mk(``, 0, 1), mk(``, 2, 3), mk(``, 4, 5), mk(``, 6, 7), mk(``, 8, 9)}, `[uniform=false [] 0-9]`},
		{one, []item{mk(`{"sym": 1.0}`, 0, 1), mk(`{"sym": 1.00}`, 0, 2)},
			`[uniform=true [1.0] 0-1][uniform=true [1.00] 0-2]`},
		{one, []item{mk(`{"sym": "A"}`, 0, 1), mk(`{"sym": "B"}`, 1, 2), mk(`{"sym": "C"}`, 2, 3), mk(`{"sym": "D"}`, 3, 4), mk(`{"sym": "E"}`, 4, 5)},
			`[uniform=false [] 0-5]`},
		{one, []item{mk(`{"sym": "A"}`, 0, 1), mk(`{"sym": null}`, 0, 1)}, `[uniform=false [] 0-1]`},
		{two, []item{mk(`{"a": 1, "b": 2}`, 0, 1), mk(`{"a": 2, "b": 1}`, 0, 1)}, `[uniform=false [] 0-1]`},
		{none, []item{mk(`{}`, 0, 1), mk(`{}`, 2, 3)}, `single[uniform=false [] 0-1]single[uniform=false [] 2-3]`},
	} {
		if got := describe(splitRanges(c.tb, c.items)); got != c.want {
			t.Errorf("case %d: got %s, want %s", i, got, c.want)
		}
	}
}

// TestGroupBound: a uniform set has tenants × buckets groups, a joined set
// the buckets of each tenant's range, a set of every tenant an unknown
// number; and statesSource sorts the rows only when the bound is unknown or
// over maxHashedGroups, reading a column with several state kinds once; the
// stats are folded only when the rows are not sorted.
func TestGroupBound(t *testing.T) {
	tb := &Table{Name: "ticks", Schema: "public", TimeColumn: "t", ScopeColumns: []string{"sym"}, ScopeTypes: []string{"text"},
		TimeZone: "UTC", Frames: []Frame{{Name: "1m", Seconds: 60}},
		Columns: []Column{{Name: "price", Type: "float8", Kinds: []Kind{KindStats, KindSketch}}}}
	m := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	mk := func(scope string, lo, hi int) item {
		var b []byte
		if scope != "" {
			b = []byte(scope)
		}
		return item{scope: b, lo: m.Add(time.Duration(lo) * time.Minute), hi: m.Add(time.Duration(hi) * time.Minute)}
	}
	uniform := splitRanges(tb, []item{mk(`{"sym": "A"}`, 0, 3), mk(`{"sym": "B"}`, 0, 3)})[0]
	joined := rangeSet{t: tb, scoped: true, scopes: []string{`{"sym": "A"}`, `{"sym": "B"}`},
		lo: []time.Time{m, m.Add(10 * time.Minute)}, hi: []time.Time{m.Add(time.Minute), m.Add(5000 * time.Minute)}}
	all := splitRanges(tb, []item{mk(``, 0, 3)})[0]
	for _, c := range []struct {
		rs     rangeSet
		n      int64
		known  bool
		sorted bool
	}{{uniform, 6, true, false}, {joined, 1 + 4990, true, true}, {all, 0, false, true}} {
		n, known := c.rs.groupBound(tb, tb.Frames[0])
		if n != c.n || known != c.known {
			t.Errorf("groupBound = %d, %v; want %d, %v", n, known, c.n, c.known)
		}
		spec := foldSpec{cols: tb.stateColumns(tb.goFinest(0, c.rs))}
		sql := statesSource(tb, 0, c.rs, c.rs.sortedFold(tb, tb.Frames[0]), &spec)
		of := "[0 0]" // stats and sketch read price once
		if c.sorted {
			of = "[0]" // sketch only: the INSERT computes the stats
		}
		if sorted := strings.Contains(sql, "ORDER BY"); sorted != c.sorted || spec.nvals != 1 || fmt.Sprint(spec.of) != of {
			t.Errorf("statesSource: sorted %v (want %v), %d values, of %v: %s", sorted, c.sorted, spec.nvals, spec.of, sql)
		}
	}
}
