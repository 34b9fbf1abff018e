package stats

import (
	"encoding/binary"
	"fmt"
	"math"
)

// tdigestVersion is the leading byte of the binary form of a TDigest.
const tdigestVersion = 1

// AppendBinary appends the binary form of t (see the package documentation)
// to b: centroid means are exact float64 values.
func (t *TDigest) AppendBinary(b []byte) ([]byte, error) {
	d := t.td()
	b = append(b, tdigestVersion)
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(d.Compression()))
	n := 0
	d.ForEachCentroid(func(float64, uint64) bool { n++; return true })
	b = binary.AppendUvarint(b, uint64(n))
	var prev uint64
	d.ForEachCentroid(func(mean float64, count uint64) bool {
		k := orderedBits(mean)
		b = binary.AppendVarint(b, int64(k-prev))
		b = binary.AppendUvarint(b, count)
		prev = k
		return true
	})
	return b, nil
}

// MarshalBinary returns the binary form of t.
func (t *TDigest) MarshalBinary() ([]byte, error) {
	return t.AppendBinary(nil)
}

// UnmarshalBinary replaces t with the decoded digest. It checks the version,
// the compression, at most 20·compression centroids (go-tdigest compresses
// beyond that), finite non-decreasing means, weights ≥ 1, a total weight ≤
// MaxCount and that no byte is left over. On error t is unchanged.
func (t *TDigest) UnmarshalBinary(b []byte) error {
	nt, err := decodeTDigest(b, nil)
	if err != nil {
		return err
	}
	*t = *nt
	return nil
}

// decodeTDigest decodes b into reuse, reset, when reuse has b's
// compression, and into a new digest otherwise. On error reuse may hold
// part of b.
func decodeTDigest(b []byte, reuse *TDigest) (*TDigest, error) {
	r, c, err := readHeader("t-digest", b, tdigestVersion)
	if err != nil {
		return nil, err
	}
	nt := reuse
	if nt != nil && nt.Compression() == c {
		nt.Reset()
	} else if nt, err = NewTDigestWithCompression(c); err != nil {
		return nil, fmt.Errorf("decode t-digest: %w", err)
	}
	if err := nt.decodeCentroids(r); err != nil {
		return nil, fmt.Errorf("decode t-digest: %w", err)
	}
	return nt, nil
}

// decodeCentroids reads the centroids and adds them in order with merging
// disabled, which reproduces the encoded centroid list exactly.
func (t *TDigest) decodeCentroids(r *reader) error {
	n := r.length(2)
	if n > int(20*t.d.Compression()) {
		return fmt.Errorf("%w: %d centroids", ErrInvalidSketch, n)
	}
	t.rng.noMerge = true
	defer func() { t.rng.noMerge = false }()
	var k, total uint64
	prev := math.Inf(-1)
	for range n {
		k += uint64(r.varint())
		w := r.uvarint()
		mean := fromOrderedBits(k)
		switch {
		case r.err != nil:
			return r.err
		case !isFinite(mean) || mean < prev:
			return fmt.Errorf("%w: centroid mean %v after %v", ErrInvalidSketch, mean, prev)
		case w == 0 || w > MaxCount-total:
			return fmt.Errorf("%w: centroid weight %d", ErrInvalidSketch, w)
		}
		if err := t.d.AddWeighted(mean, w); err != nil {
			return fmt.Errorf("%w: %v", ErrInvalidSketch, err)
		}
		prev, total = mean, total+w
	}
	switch {
	case r.err != nil:
		return r.err
	case len(r.b) != 0:
		return ErrTruncated
	}
	return nil
}

// orderedBits maps a float64 to a uint64 whose unsigned order is the
// float's order (−0 just below +0), so that sorted means have small deltas.
func orderedBits(f float64) uint64 {
	b := math.Float64bits(f)
	if b>>63 == 1 {
		return ^b
	}
	return b | 1<<63
}

func fromOrderedBits(k uint64) float64 {
	if k>>63 == 1 {
		return math.Float64frombits(k &^ (1 << 63))
	}
	return math.Float64frombits(^k)
}
