package stats

import (
	"errors"
	"fmt"
	"math"

	"github.com/DataDog/sketches-go/ddsketch"
	"github.com/DataDog/sketches-go/ddsketch/mapping"
	"github.com/DataDog/sketches-go/ddsketch/store"
)

// Relative accuracies a Sketch accepts.
const (
	DefaultRelativeAccuracy = 0.01
	MinRelativeAccuracy     = 0.001
	MaxRelativeAccuracy     = 0.1
)

// Sketch is a DDSketch: a quantile sketch whose every quantile estimate is
// within a relative accuracy α of the true order statistic (see the package
// documentation for the exact bound). The zero value is an empty sketch with
// the default accuracy of 1%. A Sketch is not safe for concurrent use.
type Sketch struct {
	s     *ddsketch.DDSketch
	alpha float64
	// scratch is where MergeBinary decodes, kept so that merging many
	// states does not allocate a sketch each.
	scratch *Sketch
}

// NewSketch returns an empty sketch with DefaultRelativeAccuracy.
func NewSketch() *Sketch {
	s, _ := NewSketchWithAccuracy(DefaultRelativeAccuracy)
	return s
}

// NewSketchWithAccuracy returns an empty sketch with relative accuracy alpha
// in [MinRelativeAccuracy, MaxRelativeAccuracy].
func NewSketchWithAccuracy(alpha float64) (*Sketch, error) {
	s, err := newDDSketch(alpha)
	if err != nil {
		return nil, err
	}
	return &Sketch{s: s, alpha: alpha}, nil
}

func newDDSketch(alpha float64) (*ddsketch.DDSketch, error) {
	if !(alpha >= MinRelativeAccuracy && alpha <= MaxRelativeAccuracy) {
		return nil, fmt.Errorf("%w: relative accuracy %v not in [%v, %v]",
			ErrInvalidSketch, alpha, MinRelativeAccuracy, MaxRelativeAccuracy)
	}
	m, err := mapping.NewLogarithmicMapping(alpha)
	if err != nil {
		return nil, fmt.Errorf("sketch mapping: %w", err)
	}
	return ddsketch.NewDDSketchFromStoreProvider(m, store.BufferedPaginatedStoreConstructor), nil
}

// sk returns the underlying sketch, creating the default one for the zero
// value.
func (s *Sketch) sk() *ddsketch.DDSketch {
	if s.s == nil {
		s.s, _ = newDDSketch(DefaultRelativeAccuracy)
		s.alpha = DefaultRelativeAccuracy
	}
	return s.s
}

// RelativeAccuracy returns α.
func (s *Sketch) RelativeAccuracy() float64 {
	s.sk()
	return s.alpha
}

// Reset empties s, keeping its accuracy and its memory.
func (s *Sketch) Reset() { s.sk().Clear() }

// Add adds one value. NaN and ±Inf are ErrNotFinite; values beyond about
// ±1.7e308 are ErrOutOfRange; values with |x| below about 2.3e-308 count as
// zero.
func (s *Sketch) Add(x float64) error {
	if err := checkFinite(x); err != nil {
		return err
	}
	if err := s.sk().Add(x); err != nil {
		return fmt.Errorf("%w: %v", ErrOutOfRange, x)
	}
	return nil
}

// Merge adds every value of o to s. Both must have the same accuracy.
func (s *Sketch) Merge(o *Sketch) error {
	if o.RelativeAccuracy() != s.RelativeAccuracy() {
		return fmt.Errorf("%w: relative accuracy %v and %v", ErrMismatch, s.alpha, o.alpha)
	}
	other := o.sk()
	if o == s {
		other = other.Copy()
	}
	if err := s.s.MergeWith(other); err != nil {
		return fmt.Errorf("%w: %v", ErrMismatch, err)
	}
	return nil
}

// MergeBinary merges an encoded sketch (see UnmarshalBinary) into s.
func (s *Sketch) MergeBinary(b []byte) error {
	o, err := decodeSketch(b, s.scratch)
	if err != nil {
		return err
	}
	s.scratch = o
	return s.Merge(o)
}

// Count returns the number of values added.
func (s *Sketch) Count() int64 {
	return int64(s.sk().GetCount())
}

// Quantile returns the estimate of percentile_cont(q): the interpolation
// between the estimates of the order statistics at ranks ⌊q(n−1)⌋ and
// ⌈q(n−1)⌉.
func (s *Sketch) Quantile(q float64) (float64, error) {
	if err := checkQuantile(q); err != nil {
		return math.NaN(), err
	}
	n := s.sk().GetCount()
	if n == 0 {
		return math.NaN(), ErrEmpty
	}
	r := q * (n - 1)
	lo := math.Floor(r)
	vlo := s.valueAtRank(lo)
	if lo == r {
		return vlo, nil
	}
	return interpolate(vlo, s.valueAtRank(lo+1), r-lo), nil
}

// Quantiles returns Quantile(q) for each q.
func (s *Sketch) Quantiles(qs []float64) ([]float64, error) {
	return quantiles(qs, s.Quantile)
}

// valueAtRank returns the representative value of the bin holding the
// order statistic of the given 0-based rank.
func (s *Sketch) valueAtRank(rank float64) float64 {
	neg := s.s.GetNegativeValueStore()
	nc := neg.TotalCount()
	if rank < nc {
		return -s.s.Value(neg.KeyAtRank(nc - 1 - rank))
	}
	zc := s.s.GetZeroCount()
	if rank < nc+zc {
		return 0
	}
	return s.s.Value(s.s.GetPositiveValueStore().KeyAtRank(rank - nc - zc))
}

// errNonIntegralCount is a broken invariant: Add only ever adds count 1.
var errNonIntegralCount = errors.New("stats: sketch bin count is not an integer")
