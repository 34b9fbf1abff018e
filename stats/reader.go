package stats

import (
	"encoding/binary"
	"fmt"
	"math"
)

// reader decodes the primitives of the sketch encodings from untrusted
// bytes. The first failure sticks in err; later reads return zero values.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail() {
	if r.err == nil {
		r.err = ErrTruncated
	}
	r.b = nil
}

func (r *reader) byte() byte {
	if len(r.b) < 1 {
		r.fail()
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) float64() float64 {
	if len(r.b) < 8 {
		r.fail()
		return 0
	}
	f := math.Float64frombits(binary.LittleEndian.Uint64(r.b))
	r.b = r.b[8:]
	return f
}

func (r *reader) uvarint() uint64 {
	v, k := binary.Uvarint(r.b)
	if k <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[k:]
	return v
}

func (r *reader) varint() int64 {
	v, k := binary.Varint(r.b)
	if k <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[k:]
	return v
}

// length reads a uvarint element count and checks it against the bytes
// left, given that every element takes at least minSize bytes, so that a
// forged count cannot cause a large allocation.
func (r *reader) length(minSize int) int {
	n := r.uvarint()
	if r.err == nil && n > uint64(len(r.b)/minSize) {
		r.fail()
		return 0
	}
	return int(n)
}

// readHeader reads what the binary form of a sketch or t-digest starts
// with, after checking for the NonFiniteState marker: the version byte,
// which must be version, and the state's float64 parameter (accuracy or
// compression). what names the state in errors.
func readHeader(what string, b []byte, version byte) (*reader, float64, error) {
	if err := checkNonFinite(what, b); err != nil {
		return nil, 0, err
	}
	r := &reader{b: b}
	if v := r.byte(); r.err == nil && v != version {
		return nil, 0, fmt.Errorf("decode %s: %w: %d", what, ErrVersion, v)
	}
	x := r.float64()
	if r.err != nil {
		return nil, 0, fmt.Errorf("decode %s: %w", what, r.err)
	}
	return r, x, nil
}
