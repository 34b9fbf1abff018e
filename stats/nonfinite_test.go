package stats

import (
	"errors"
	"math"
	"testing"
)

func TestNonFiniteStateDecodesToErrNotFinite(t *testing.T) {
	for _, s := range []interface {
		UnmarshalBinary([]byte) error
		MergeBinary([]byte) error
	}{NewSketch(), NewTDigest()} {
		if err := s.UnmarshalBinary(NonFiniteState()); !errors.Is(err, ErrNotFinite) {
			t.Errorf("%T UnmarshalBinary: %v, want ErrNotFinite", s, err)
		}
		if err := s.MergeBinary(NonFiniteState()); !Unrepresentable(err) {
			t.Errorf("%T MergeBinary: %v, want an unrepresentable error", s, err)
		}
	}
	if Unrepresentable(ErrInvalidSketch) || !Unrepresentable(NewSketch().Add(math.MaxFloat64)) {
		t.Error("Unrepresentable: wrong classification")
	}
}
