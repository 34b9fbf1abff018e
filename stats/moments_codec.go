package stats

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// momentsVersion is the leading byte of the binary form of Moments.
const momentsVersion = 1

var (
	// ErrInvalidMoments reports a Moments state that no sequence of Add and
	// Merge can produce (negative count, negative M2, ...).
	ErrInvalidMoments = errors.New("stats: invalid moments state")
	// ErrVersion reports an encoding whose leading version byte is unknown.
	ErrVersion = errors.New("stats: unsupported encoding version")
	// ErrTruncated reports an encoding that ends early or has trailing bytes.
	ErrTruncated = errors.New("stats: truncated or oversized encoding")
)

// Validate reports whether m is a state that Add and Merge can produce:
// 0 ≤ N ≤ MaxCount; the empty state is all zeros; M2 and M4 are not
// negative; a non-finite M1 comes with NaN central sums.
func (m Moments) Validate() error {
	switch {
	case m.N < 0 || m.N > MaxCount:
		return fmt.Errorf("%w: n = %d out of range", ErrInvalidMoments, m.N)
	case m.N == 0 && (m.M1 != 0 || m.M2 != 0 || m.M3 != 0 || m.M4 != 0):
		return fmt.Errorf("%w: n = 0 with non-zero moments", ErrInvalidMoments)
	case m.M2 < 0 || m.M4 < 0:
		return fmt.Errorf("%w: negative m2 or m4", ErrInvalidMoments)
	case !isFinite(m.M1) && !(math.IsNaN(m.M2) && math.IsNaN(m.M3) && math.IsNaN(m.M4)):
		return fmt.Errorf("%w: non-finite m1 needs NaN m2, m3, m4", ErrInvalidMoments)
	}
	return nil
}

// AppendBinary appends the binary form of m to b: the version byte 1, N as
// a uvarint, then M1, M2, M3, M4 as IEEE 754 float64 bits, little-endian.
func (m Moments) AppendBinary(b []byte) ([]byte, error) {
	if err := m.Validate(); err != nil {
		return b, fmt.Errorf("encode moments: %w", err)
	}
	b = append(b, momentsVersion)
	b = binary.AppendUvarint(b, uint64(m.N))
	for _, f := range [4]float64{m.M1, m.M2, m.M3, m.M4} {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(f))
	}
	return b, nil
}

// MarshalBinary returns the binary form described at AppendBinary.
func (m Moments) MarshalBinary() ([]byte, error) {
	return m.AppendBinary(make([]byte, 0, 1+binary.MaxVarintLen64+32))
}

// UnmarshalBinary decodes the binary form. NaN payloads are canonicalised.
func (m *Moments) UnmarshalBinary(b []byte) error {
	if len(b) == 0 {
		return fmt.Errorf("decode moments: %w", ErrTruncated)
	}
	if b[0] != momentsVersion {
		return fmt.Errorf("decode moments: %w: %d", ErrVersion, b[0])
	}
	n, k := binary.Uvarint(b[1:])
	if k <= 0 || len(b) != 1+k+32 {
		return fmt.Errorf("decode moments: %w", ErrTruncated)
	}
	if n > MaxCount {
		return fmt.Errorf("decode moments: %w: n = %d out of range", ErrInvalidMoments, n)
	}
	var f [4]float64
	for i := range f {
		f[i] = math.Float64frombits(binary.LittleEndian.Uint64(b[1+k+8*i:]))
	}
	return m.set(Moments{N: int64(n), M1: f[0], M2: f[1], M3: f[2], M4: f[3]})
}

// set validates v and stores it canonicalised in m; m is untouched on error.
func (m *Moments) set(v Moments) error {
	v = v.canon()
	if err := v.Validate(); err != nil {
		return fmt.Errorf("decode moments: %w", err)
	}
	*m = v
	return nil
}

// String returns the composite-row text form, see MarshalText.
func (m Moments) String() string {
	return string(m.appendText(nil))
}

// MarshalText returns the text form of the PostgreSQL composite type
// spiral.moments(n bigint, m1 float8, m2 float8, m3 float8, m4 float8) as
// PostgreSQL prints it: "(n,m1,m2,m3,m4)", floats in shortest round-trip form
// (extra_float_digits ≥ 1), NaN and infinities as NaN, Infinity, -Infinity.
func (m Moments) MarshalText() ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("encode moments: %w", err)
	}
	return m.appendText(nil), nil
}

func (m Moments) appendText(b []byte) []byte {
	b = append(b, '(')
	b = strconv.AppendInt(b, m.N, 10)
	for _, f := range [4]float64{m.M1, m.M2, m.M3, m.M4} {
		b = append(b, ',')
		b = AppendFloat8(b, f)
	}
	return append(b, ')')
}

// UnmarshalText parses the composite-row text form "(n,m1,m2,m3,m4)". Fields
// may be double-quoted and padded with spaces, as PostgreSQL's record input
// accepts; floats follow float8 input syntax.
func (m *Moments) UnmarshalText(text []byte) error {
	s := string(text)
	if len(s) < 2 || s[0] != '(' || s[len(s)-1] != ')' {
		return fmt.Errorf("decode moments: %w: want (n,m1,m2,m3,m4)", ErrInvalidMoments)
	}
	fields := strings.Split(s[1:len(s)-1], ",")
	if len(fields) != 5 {
		return fmt.Errorf("decode moments: %w: want 5 fields, got %d", ErrInvalidMoments, len(fields))
	}
	for i, f := range fields {
		fields[i] = unquoteField(f)
	}
	n, err := strconv.ParseInt(fields[0], 10, 64)
	if err != nil {
		return fmt.Errorf("decode moments: %w: n: %q", ErrInvalidMoments, fields[0])
	}
	var f [4]float64
	for i := range f {
		if f[i], err = ParseFloat8(fields[i+1]); err != nil {
			return fmt.Errorf("decode moments: m%d: %w", i+1, err)
		}
	}
	return m.set(Moments{N: n, M1: f[0], M2: f[1], M3: f[2], M4: f[3]})
}

// unquoteField trims the spaces around a record field and one pair of
// double quotes; quoted floats never contain quotes or backslashes.
func unquoteField(f string) string {
	f = strings.TrimSpace(f)
	if len(f) >= 2 && f[0] == '"' && f[len(f)-1] == '"' {
		f = strings.TrimSpace(f[1 : len(f)-1])
	}
	return f
}
