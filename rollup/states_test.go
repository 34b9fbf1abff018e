package rollup

import (
	"bytes"
	"math"
	"testing"

	"spiral/stats"
)

// An accumulator that saw a value no sketch holds, or a marker state,
// encodes the marker; an untouched one encodes nothing; a normal one a
// state that decodes.
func TestAccumulatorMarksUnrepresentableValues(t *testing.T) {
	for _, k := range []Kind{KindSketch, KindTDigest} {
		for _, bad := range []float64{math.NaN(), math.Inf(1), math.Inf(-1), math.MaxFloat64} {
			a := newAccumulator(k)
			if err := a.add(1); err != nil {
				t.Fatal(err)
			}
			if err := a.add(bad); err != nil {
				t.Fatalf("%s add(%v): %v", k, bad, err)
			}
			b, err := a.encode()
			marked := bytes.Equal(b, stats.NonFiniteState())
			want := k == KindSketch || math.IsNaN(bad) || math.IsInf(bad, 0) // t-digests hold any finite value
			if err != nil || marked != want {
				t.Errorf("%s add(%v): %x, %v; want the marker: %v", k, bad, b, err, want)
			}
		}
		parent := newAccumulator(k)
		if err := parent.merge(stats.NonFiniteState()); err != nil {
			t.Fatal(err)
		}
		if b, _ := parent.encode(); !bytes.Equal(b, stats.NonFiniteState()) {
			t.Errorf("%s: merging the marker encodes %x", k, b)
		}
		if b, err := newAccumulator(k).encode(); b != nil || err != nil {
			t.Errorf("%s: empty accumulator encodes %x, %v", k, b, err)
		}
		if err := parent.merge([]byte{1, 2, 3}); err == nil || stats.Unrepresentable(err) {
			t.Errorf("%s: a corrupt child state: %v, want a decoding error", k, err)
		}
	}
}
