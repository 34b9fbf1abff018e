package zorder

import (
	"encoding/binary"
	"hash/fnv"
)

// Kind is the tag byte that starts a value's encoding.
type Kind byte

// The kinds of scope values, with their tag bytes.
const (
	KindNull   Kind = 0x00
	KindInt    Kind = 0x01
	KindBigInt Kind = 0x02
	KindText   Kind = 0x03
	KindUUID   Kind = 0x04
)

// Value is one scope value of a tenant, built with Int, BigInt, Text, UUID
// or Null.
type Value struct {
	kind Kind
	i    int64
	s    string
	u    [16]byte
}

// Null is SQL NULL.
func Null() Value { return Value{kind: KindNull} }

// Int is an int (int4) or smallint value.
func Int(v int32) Value { return Value{kind: KindInt, i: int64(v)} }

// BigInt is a bigint (int8) value.
func BigInt(v int64) Value { return Value{kind: KindBigInt, i: v} }

// Text is a text or varchar value.
func Text(s string) Value { return Value{kind: KindText, s: s} }

// UUID is a uuid value, in the byte order of its canonical text form.
func UUID(u [16]byte) Value { return Value{kind: KindUUID, u: u} }

// Kind returns the value's kind.
func (v Value) Kind() Kind { return v.kind }

// AppendValue appends the encoding of v described in the package
// documentation.
func AppendValue(b []byte, v Value) []byte {
	b = append(b, byte(v.kind))
	switch v.kind {
	case KindInt:
		b = binary.BigEndian.AppendUint32(b, uint32(int32(v.i)))
	case KindBigInt:
		b = binary.BigEndian.AppendUint64(b, uint64(v.i))
	case KindText:
		b = binary.BigEndian.AppendUint32(b, uint32(len(v.s)))
		b = append(b, v.s...)
	case KindUUID:
		b = append(b, v.u[:]...)
	}
	return b
}

// Encode returns the concatenated encodings of values: the bytes Hash hashes.
func Encode(values ...Value) []byte {
	var b []byte
	for _, v := range values {
		b = AppendValue(b, v)
	}
	return b
}

// Hash is the FNV-1a 64-bit hash of Encode(values...): the tenant hash of a
// scope.
func Hash(values ...Value) uint64 {
	h := fnv.New64a()
	var buf [32]byte
	for _, v := range values {
		_, _ = h.Write(AppendValue(buf[:0], v)) // hash.Hash never fails
	}
	return h.Sum64()
}
