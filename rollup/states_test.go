package rollup

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"testing"

	"github.com/jackc/pgx/v5"

	"spiral/stats"
)

// An accumulator that saw a value no sketch holds, or a marker state,
// encodes the marker; an untouched one encodes nothing; a normal one a
// state that decodes.
func TestAccumulatorMarksUnrepresentableValues(t *testing.T) {
	for _, k := range []Kind{KindSketch, KindTDigest} {
		for _, bad := range []float64{math.NaN(), math.Inf(1), math.Inf(-1), math.MaxFloat64} {
			a := newAccumulator(stateColumn{kind: k})
			if err := a.add(0, 1); err != nil {
				t.Fatal(err)
			}
			if err := a.add(0, bad); err != nil {
				t.Fatalf("%s add(%v): %v", k, bad, err)
			}
			b, err := a.encode()
			marked := bytes.Equal(b, stats.NonFiniteState())
			want := k == KindSketch || math.IsNaN(bad) || math.IsInf(bad, 0) // t-digests hold any finite value
			if err != nil || marked != want {
				t.Errorf("%s add(%v): %x, %v; want the marker: %v", k, bad, b, err, want)
			}
		}
		parent := newAccumulator(stateColumn{kind: k})
		if err := parent.merge(stats.NonFiniteState()); err != nil {
			t.Fatal(err)
		}
		if b, _ := parent.encode(); !bytes.Equal(b, stats.NonFiniteState()) {
			t.Errorf("%s: merging the marker encodes %x", k, b)
		}
		if b, err := newAccumulator(stateColumn{kind: k}).encode(); b != nil || err != nil {
			t.Errorf("%s: empty accumulator encodes %x, %v", k, b, err)
		}
		if err := parent.merge([]byte{1, 2, 3}); err == nil || stats.Unrepresentable(err) {
			t.Errorf("%s: a corrupt child state: %v, want a decoding error", k, err)
		}
	}
}

// stateRowsFake is pgx.Rows over in-memory rows of foldStates' raw shape:
// one scope key, the bucket, one float8 value (nil for NULL).
type stateRowsFake struct {
	pgx.Rows
	rows []stateRowFake
	i    int
}

type stateRowFake struct {
	key    string
	bucket int64
	x      *float64
}

func (r *stateRowsFake) Next() bool { r.i++; return r.i <= len(r.rows) }
func (r *stateRowsFake) Err() error { return nil }
func (r *stateRowsFake) Close()     {}
func (r *stateRowsFake) Scan(dest ...any) error {
	row := r.rows[r.i-1]
	*dest[0].(*string), *dest[1].(*int64), *dest[2].(**float64) = row.key, row.bucket, row.x
	return nil
}

// Each bucket's state is built from its own rows only, though foldSorted
// reuses one accumulator per column across buckets; a NaN in one bucket
// marks that bucket alone.
func TestFoldStatesBucketsApart(t *testing.T) {
	nan := math.NaN()
	in := map[stateRowFake][]float64{
		{key: "a", bucket: 0}:  {1, 2, 3, 4},
		{key: "a", bucket: 60}: {nan, 5},
		{key: "b", bucket: 60}: {10, 20},
		{key: "c", bucket: 0}:  {7},
	}
	order := []stateRowFake{{key: "a", bucket: 0}, {key: "a", bucket: 60}, {key: "b", bucket: 60}, {key: "c", bucket: 0}}
	for _, k := range []Kind{KindSketch, KindTDigest} {
		fake := &stateRowsFake{}
		var want [][]byte
		for _, g := range order {
			fresh := newAccumulator(stateColumn{kind: k})
			for _, x := range in[g] {
				fake.rows = append(fake.rows, stateRowFake{key: g.key, bucket: g.bucket, x: &x})
				if err := fresh.add(0, x); err != nil {
					t.Fatal(err)
				}
			}
			fake.rows = append(fake.rows, stateRowFake{key: g.key, bucket: g.bucket}) // NULL: skipped
			b, err := fresh.encode()
			if err != nil {
				t.Fatal(err)
			}
			want = append(want, b)
		}
		out, err := foldSorted(fake, foldSpec{nkeys: 1, nvals: 1, cols: []stateColumn{{kind: k}}, of: []int{0}, raw: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.bucket) != len(order) {
			t.Fatalf("%s: %d buckets, want %d", k, len(out.bucket), len(order))
		}
		for i, g := range order {
			if out.keys[0][i] != g.key || out.bucket[i] != g.bucket || !bytes.Equal(out.states[0][i], want[i]) {
				t.Errorf("%s: bucket %d is (%s, %d, %x), want (%s, %d, %x)", k, i,
					out.keys[0][i], out.bucket[i], out.states[0][i], g.key, g.bucket, want[i])
			}
		}
	}
}

// foldHashed, given the rows of TestFoldStatesBucketsApart's buckets
// interleaved (each bucket's own rows in order), builds the same states as
// foldSorted does from them in bucket order, for every column that reads
// the one value.
func TestFoldHashedMatchesSorted(t *testing.T) {
	var sorted stateRowsFake
	for g, key := range []string{"a", "b", "c"} {
		for _, bucket := range []int64{0, 60} {
			for i := range 5 + g {
				x := float64(i*i) + float64(bucket)/7
				sorted.rows = append(sorted.rows, stateRowFake{key: key, bucket: bucket, x: &x})
			}
		}
	}
	var shuffled stateRowsFake // round robin over the six buckets
	for i := 0; len(shuffled.rows) < len(sorted.rows); i++ {
		for start := 0; start < len(sorted.rows); {
			end := start
			for end < len(sorted.rows) && sorted.rows[end].key == sorted.rows[start].key && sorted.rows[end].bucket == sorted.rows[start].bucket {
				end++
			}
			if start+i < end {
				shuffled.rows = append(shuffled.rows, sorted.rows[start+i])
			}
			start = end
		}
	}
	spec := foldSpec{nkeys: 1, nvals: 1, cols: []stateColumn{{kind: KindSketch}, {kind: KindTDigest}, {kind: KindStats}}, of: []int{0, 0, 0}, raw: true}
	want, err := foldSorted(&sorted, spec)
	if err != nil {
		t.Fatal(err)
	}
	got, err := foldHashed(&shuffled, spec)
	if err != nil {
		t.Fatal(err)
	}
	byGroup := func(o *stateRows) map[string]string {
		m := map[string]string{}
		for i := range o.bucket {
			m[fmt.Sprint(o.keys[0][i], o.bucket[i])] = fmt.Sprintf("%x %x %s", o.states[0][i], o.states[1][i], o.states[2][i])
		}
		return m
	}
	if g, w := byGroup(got), byGroup(want); len(w) != 6 || fmt.Sprint(g) != fmt.Sprint(w) {
		t.Errorf("hashed fold:\n%v\nsorted fold:\n%v", g, w)
	}
}

// An open/close accumulator keeps the value of the least (greatest) pair
// of time key and value, NaN above every number, whatever the order of
// the rows; a bucket without values encodes nothing.
func TestOpenCloseAccumulator(t *testing.T) {
	nan := math.NaN()
	type kx struct{ k, x float64 }
	tests := []struct {
		name        string
		rows        []kx
		open, close float64
	}{
		{"earliest and latest", []kx{{5, 1}, {3, 2}, {9, 3}, {7, 4}}, 2, 3},
		{"ties by value", []kx{{3, 8}, {3, 2}, {9, 3}, {9, 7}, {9, -1}}, 2, 7},
		{"NaN values sort last", []kx{{3, nan}, {3, 1}, {9, 2}, {9, nan}}, 1, nan},
		{"only NaN", []kx{{3, nan}}, nan, nan},
		{"infinities", []kx{{3, math.Inf(1)}, {3, math.Inf(-1)}, {4, 0}}, math.Inf(-1), 0},
	}
	for _, tt := range tests {
		for _, rev := range []bool{false, true} {
			o, c := newAccumulator(stateColumn{kind: KindOHLC, part: "o"}), newAccumulator(stateColumn{kind: KindOHLC, part: "c"})
			for i := range tt.rows {
				r := tt.rows[i]
				if rev {
					r = tt.rows[len(tt.rows)-1-i]
				}
				if err := errors.Join(o.add(r.k, r.x), c.add(r.k, r.x)); err != nil {
					t.Fatal(err)
				}
			}
			for _, w := range []struct {
				a    accumulator
				want float64
			}{{o, tt.open}, {c, tt.close}} {
				b, err := w.a.encode()
				if err != nil {
					t.Fatal(err)
				}
				got := openCloseArg([][]byte{b})[0]
				if got == nil {
					t.Fatalf("%s (reversed %v): got nothing, want %v", tt.name, rev, w.want)
				}
				if !(*got == w.want || math.IsNaN(*got) && math.IsNaN(w.want)) {
					t.Errorf("%s (reversed %v): got %v, want %v", tt.name, rev, *got, w.want)
				}
				w.a.reset()
				if b, err := w.a.encode(); b != nil || err != nil {
					t.Errorf("%s: after reset encode = %v, %v; want nothing", tt.name, b, err)
				}
			}
		}
	}
}
