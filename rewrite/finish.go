package rewrite

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"math"

	"spiral/internal/pgerr"
	"spiral/rollup"
	"spiral/stats"
)

// This file finishes, in Go, the result columns PostgreSQL cannot compute:
// quantiles, CDFs and merges of DDSketch and t-digest states. A rewritten
// statement sends each such column as the hex text of one packed bytea:
//
//	argument: 0x00 (none) | 0x01 float8 (one q or x) |
//	          0x02 int4 count, then per element 0x00 (NULL) or 0x01 float8
//	items:    'S' int4 length, state bytes | 'V' float8 (a raw value) |
//	          'E' and an argument: the exact answer PostgreSQL computed
//
// all big-endian, as PostgreSQL's float8send and int4send write them. The
// states and raw values are merged into one sketch, which answers the
// argument. A NULL column (no states) finishes as NULL.

// Op is what a finished column computes.
type Op int

// The operations of finished columns.
const (
	OpQuantile Op = iota // float8 (or float8[] for an array argument)
	OpCDF                // float8
	OpMerge              // bytea: the merged state, encoded
)

// Finish lists the result columns of a statement that the proxy finishes.
type Finish struct {
	Columns []FinishColumn
}

// FinishColumn is one finished result column.
type FinishColumn struct {
	Index int         // position in the result
	Kind  rollup.Kind // rollup.KindSketch or rollup.KindTDigest
	Op    Op
	Array bool // the argument is an array: float8[] results
}

// PostgreSQL type OIDs of finished columns.
const (
	oidBytea       = 17
	oidFloat8      = 701
	oidFloat8Array = 1022
)

// Type returns the type OID and size of the column's values.
func (c FinishColumn) Type() (oid uint32, size int16) {
	switch {
	case c.Op == OpMerge:
		return oidBytea, -1
	case c.Array:
		return oidFloat8Array, -1
	}
	return oidFloat8, 8
}

// Value is a finished value: one float8, an array of nullable float8, or
// the bytes of a merged state.
type Value struct {
	Float  float64
	Floats []*float64
	Bytes  []byte
	kind   valueKind
}

type valueKind uint8

const (
	valueFloat valueKind = iota
	valueFloats
	valueBytes
)

// Finish computes the column's value from the hex text PostgreSQL sent.
func (c FinishColumn) Finish(text []byte) (Value, error) {
	raw := make([]byte, hex.DecodedLen(len(text)))
	if _, err := hex.Decode(raw, text); err != nil {
		return Value{}, corrupt(err)
	}
	arg, items, err := splitArgument(raw)
	if err != nil {
		return Value{}, corrupt(err)
	}
	st, exact, err := mergeItems(c.Kind, items)
	if err != nil {
		return Value{}, err
	}
	if exact != nil {
		return c.exactValue(*exact)
	}
	return c.answer(st, arg)
}

// exactValue returns an exact answer PostgreSQL packed.
func (c FinishColumn) exactValue(a argument) (Value, error) {
	switch {
	case c.Op == OpMerge || a.isArr != c.Array:
		return Value{}, corrupt(errors.New("exact answer of the wrong shape"))
	case a.isArr:
		return Value{Floats: a.array, kind: valueFloats}, nil
	}
	return Value{Float: a.scalar}, nil
}

func corrupt(err error) error {
	return pgerr.New(pgerr.DataCorrupted, "spiral: corrupt sketch state: %v", err)
}

// argument is the decoded q (or x) of a finished column.
type argument struct {
	scalar float64
	array  []*float64
	isArr  bool
}

func splitArgument(b []byte) (argument, []byte, error) {
	r := packReader{b: b}
	a, err := r.argument()
	return a, r.rest(), err
}

// argument reads one argument.
func (r *packReader) argument() (argument, error) {
	var a argument
	size := len(r.b)
	switch r.byte() {
	case 0:
	case 1:
		a.scalar = r.float8()
	case 2:
		a.isArr = true
		n := r.int4()
		if n < 0 || n > size/9+1 {
			return a, errors.New("bad argument array length")
		}
		a.array = make([]*float64, n)
		for i := range a.array {
			if r.byte() == 1 {
				x := r.float8()
				a.array[i] = &x
			}
		}
	default:
		return a, errors.New("unknown argument tag")
	}
	return a, r.err
}

// errNonFinite answers a percentile over values, or states of values, that
// include NaN or ±Inf (stats.NonFiniteState): no estimate holds them.
func errNonFinite() error {
	return pgerr.New(pgerr.InvalidParameterValue, "spiral: percentile estimates cannot include NaN or infinite values").
		WithHint("Exact percentile_cont over the raw table handles them (SET spiral.approximate_percentiles = off).")
}

// mergeItems folds the packed states and raw values into one state, or
// returns the exact answer among them.
func mergeItems(k rollup.Kind, items []byte) (stats.State, *argument, error) {
	var st stats.State = stats.NewTDigest()
	if k == rollup.KindSketch {
		st = stats.NewSketch()
	}
	r := packReader{b: items}
	for r.err == nil && len(r.b) > 0 {
		var err error
		switch r.byte() {
		case 'S':
			n := r.int4()
			err = st.MergeBinary(r.bytes(n))
		case 'V':
			err = st.Add(r.float8())
		case 'E':
			a, aerr := r.argument()
			if aerr == nil && r.err == nil {
				return nil, &a, nil
			}
			err = errors.Join(aerr, r.err)
		default:
			err = errors.New("unknown item tag")
		}
		if stats.Unrepresentable(err) {
			return nil, nil, errNonFinite()
		}
		if err != nil {
			return nil, nil, corrupt(err)
		}
	}
	if r.err != nil {
		return nil, nil, corrupt(r.err)
	}
	return st, nil, nil
}

// answer evaluates the column's operation on the merged state.
func (c FinishColumn) answer(st stats.State, a argument) (Value, error) {
	if c.Op == OpMerge {
		b, err := st.MarshalBinary()
		return Value{Bytes: b, kind: valueBytes}, err
	}
	if !a.isArr {
		x, err := c.evaluate(st, a.scalar)
		return Value{Float: x}, err
	}
	out := make([]*float64, len(a.array))
	for i, q := range a.array {
		if q == nil {
			continue
		}
		x, err := c.evaluate(st, *q)
		if err != nil {
			return Value{}, err
		}
		out[i] = &x
	}
	return Value{Floats: out, kind: valueFloats}, nil
}

func (c FinishColumn) evaluate(st stats.State, q float64) (float64, error) {
	var x float64
	var err error
	switch s := st.(type) {
	case *stats.Sketch:
		x, err = s.Quantile(q)
	case *stats.TDigest:
		if c.Op == OpCDF {
			x, err = s.CDF(q)
		} else {
			x, err = s.Quantile(q)
		}
	}
	if errors.Is(err, stats.ErrQuantile) {
		return 0, pgerr.New(pgerr.NumericOutOfRange, "percentile value %v is not between 0 and 1", q)
	}
	if err != nil {
		return 0, corrupt(err)
	}
	return x, nil
}

// AppendText appends v in PostgreSQL's text format: float8 as float8out
// prints it by default, arrays as {a,b,NULL}, bytea as \x hex.
func (v Value) AppendText(b []byte) []byte {
	switch v.kind {
	case valueBytes:
		b = append(b, `\x`...)
		return hex.AppendEncode(b, v.Bytes)
	case valueFloats:
		b = append(b, '{')
		for i, x := range v.Floats {
			if i > 0 {
				b = append(b, ',')
			}
			if x == nil {
				b = append(b, "NULL"...)
			} else {
				b = stats.AppendFloat8(b, *x)
			}
		}
		return append(b, '}')
	}
	return stats.AppendFloat8(b, v.Float)
}

// AppendBinary appends v in PostgreSQL's binary format.
func (v Value) AppendBinary(b []byte) []byte {
	switch v.kind {
	case valueBytes:
		return append(b, v.Bytes...)
	case valueFloats:
		return appendFloat8Array(b, v.Floats)
	}
	return binary.BigEndian.AppendUint64(b, math.Float64bits(v.Float))
}

// appendFloat8Array writes array_send's format for a one-dimensional
// float8[] with lower bound 1.
func appendFloat8Array(b []byte, xs []*float64) []byte {
	ndim, nulls := int32(1), int32(0)
	for _, x := range xs {
		if x == nil {
			nulls = 1
		}
	}
	if len(xs) == 0 {
		ndim = 0
	}
	b = binary.BigEndian.AppendUint32(b, uint32(ndim))
	b = binary.BigEndian.AppendUint32(b, uint32(nulls))
	b = binary.BigEndian.AppendUint32(b, oidFloat8)
	if ndim == 0 {
		return b
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(xs)))
	b = binary.BigEndian.AppendUint32(b, 1)
	for _, x := range xs {
		if x == nil {
			b = binary.BigEndian.AppendUint32(b, math.MaxUint32) // -1: NULL
			continue
		}
		b = binary.BigEndian.AppendUint32(b, 8)
		b = binary.BigEndian.AppendUint64(b, math.Float64bits(*x))
	}
	return b
}

// packReader reads the packed format; the first failure sticks.
type packReader struct {
	b   []byte
	err error
}

func (r *packReader) take(n int) []byte {
	if r.err != nil || n < 0 || n > len(r.b) {
		if r.err == nil {
			r.err = errors.New("truncated")
		}
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *packReader) byte() byte {
	if b := r.take(1); b != nil {
		return b[0]
	}
	return 0xff
}

func (r *packReader) int4() int {
	if b := r.take(4); b != nil {
		return int(int32(binary.BigEndian.Uint32(b)))
	}
	return -1
}

func (r *packReader) float8() float64 {
	if b := r.take(8); b != nil {
		return math.Float64frombits(binary.BigEndian.Uint64(b))
	}
	return math.NaN()
}

func (r *packReader) bytes(n int) []byte { return r.take(n) }

func (r *packReader) rest() []byte {
	if r.err != nil {
		return nil
	}
	return r.b
}
