package stats

import (
	"errors"
	"fmt"
)

// nonFiniteVersion is the leading (and only) byte of NonFiniteState.
const nonFiniteVersion = 0xFE

// NonFiniteState returns the binary form of a sketch or t-digest state whose
// inputs included a value it cannot hold (NaN, ±Inf, or for a DDSketch a
// value beyond its range): it carries no estimate. Decoding it with either
// UnmarshalBinary, or MergeBinary, fails with ErrNotFinite, so whatever
// merges it (a coarser tier, a percentile) fails the same way a raw NaN
// would, instead of answering without those values.
func NonFiniteState() []byte { return []byte{nonFiniteVersion} }

// Unrepresentable reports whether err means a value (or a merged state)
// that no sketch can hold: ErrNotFinite or ErrOutOfRange.
func Unrepresentable(err error) bool {
	return errors.Is(err, ErrNotFinite) || errors.Is(err, ErrOutOfRange)
}

// checkNonFinite returns ErrNotFinite for the NonFiniteState marker.
func checkNonFinite(what string, b []byte) error {
	if len(b) == 1 && b[0] == nonFiniteVersion {
		return fmt.Errorf("decode %s: %w: the state's inputs held NaN or infinite values", what, ErrNotFinite)
	}
	return nil
}

// State is what *Sketch and *TDigest have in common: the calls that build
// and encode either kind of state.
type State interface {
	Add(x float64) error
	MergeBinary(b []byte) error
	Count() int64
	MarshalBinary() ([]byte, error)
	Reset()
}

var (
	_ State = (*Sketch)(nil)
	_ State = (*TDigest)(nil)
)
