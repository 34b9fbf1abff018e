package stats

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"

	"github.com/DataDog/sketches-go/ddsketch"
	"github.com/DataDog/sketches-go/ddsketch/store"
)

// sketchVersion is the leading byte of the binary form of a Sketch.
const sketchVersion = 1

// AppendBinary appends the binary form of s (see the package documentation)
// to b.
func (s *Sketch) AppendBinary(b []byte) ([]byte, error) {
	sk := s.sk()
	zc := sk.GetZeroCount()
	if zc != math.Trunc(zc) {
		return b, errNonIntegralCount
	}
	b = append(b, sketchVersion)
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(s.alpha))
	b = binary.AppendUvarint(b, uint64(zc))
	b, err := appendBins(b, sk.GetPositiveValueStore())
	if err != nil {
		return b, err
	}
	return appendBins(b, sk.GetNegativeValueStore())
}

// MarshalBinary returns the binary form of s.
func (s *Sketch) MarshalBinary() ([]byte, error) {
	return s.AppendBinary(nil)
}

type bin struct {
	index int
	count float64
}

// appendBins writes a store's non-empty bins in increasing index order.
func appendBins(b []byte, st store.Store) ([]byte, error) {
	n := 0
	st.ForEach(func(int, float64) bool { n++; return false })
	bins := make([]bin, 0, n)
	st.ForEach(func(index int, count float64) bool {
		bins = append(bins, bin{index, count})
		return false
	})
	slices.SortFunc(bins, func(x, y bin) int { return x.index - y.index })
	b = binary.AppendUvarint(b, uint64(len(bins)))
	prev := 0
	for _, x := range bins {
		if x.count != math.Trunc(x.count) || x.count < 1 {
			return b, errNonIntegralCount
		}
		b = binary.AppendVarint(b, int64(x.index-prev))
		b = binary.AppendUvarint(b, uint64(x.count))
		prev = x.index
	}
	return b, nil
}

// UnmarshalBinary replaces s with the decoded sketch. It checks the version,
// the accuracy, every bin index against the mapping's range, strictly
// increasing indexes, counts ≥ 1, the total count ≤ MaxCount and that no
// byte is left over. On error s is unchanged. NonFiniteState is
// ErrNotFinite.
func (s *Sketch) UnmarshalBinary(b []byte) error {
	ns, err := decodeSketch(b, nil)
	if err != nil {
		return err
	}
	*s = *ns
	return nil
}

// decodeSketch decodes b into reuse, cleared, when reuse has b's accuracy,
// and into a new sketch otherwise. On error reuse may hold part of b.
func decodeSketch(b []byte, reuse *Sketch) (*Sketch, error) {
	r, alpha, err := readHeader("sketch", b, sketchVersion)
	if err != nil {
		return nil, err
	}
	ns := reuse
	if ns != nil && ns.RelativeAccuracy() == alpha {
		ns.Reset()
	} else {
		sk, err := newDDSketch(alpha)
		if err != nil {
			return nil, fmt.Errorf("decode sketch: %w", err)
		}
		ns = &Sketch{s: sk, alpha: alpha}
	}
	if err := decodeSketchBody(r, ns.s); err != nil {
		return nil, fmt.Errorf("decode sketch: %w", err)
	}
	return ns, nil
}

func decodeSketchBody(r *reader, sk *ddsketch.DDSketch) error {
	zc := r.uvarint()
	if r.err == nil && zc > MaxCount {
		return fmt.Errorf("%w: zero count %d", ErrInvalidSketch, zc)
	}
	total := zc
	for _, st := range []store.Store{sk.GetPositiveValueStore(), sk.GetNegativeValueStore()} {
		if err := decodeBins(r, sk, st, &total); err != nil {
			return err
		}
	}
	switch {
	case r.err != nil:
		return r.err
	case len(r.b) != 0:
		return ErrTruncated
	}
	return sk.AddWithCount(0, float64(zc))
}

// decodeBins reads one store's bins into st, adding their counts to total.
func decodeBins(r *reader, sk *ddsketch.DDSketch, st store.Store, total *uint64) error {
	lo := int64(sk.Index(sk.MinIndexableValue()))
	hi := int64(sk.Index(sk.MaxIndexableValue()))
	n := r.length(2)
	index := int64(0)
	for i := range n {
		delta, count := r.varint(), r.uvarint()
		if r.err != nil {
			return r.err
		}
		if (i > 0 && delta <= 0) || delta < lo-index || delta > hi-index {
			return fmt.Errorf("%w: bin index out of order or range", ErrInvalidSketch)
		}
		index += delta
		if count == 0 || count > MaxCount-*total {
			return fmt.Errorf("%w: bin count %d", ErrInvalidSketch, count)
		}
		*total += count
		st.AddWithCount(int(index), float64(count))
	}
	return nil
}
