package zorder

import (
	"encoding/hex"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

var exampleUUID = [16]byte{0x55, 0x0e, 0x84, 0x00, 0xe2, 0x9b, 0x41, 0xd4, 0xa7, 0x16, 0x44, 0x66, 0x55, 0x44, 0x00, 0x00}

// TestHashGolden freezes the byte layout and the hash: these values are
// stored in tables and must never change.
func TestHashGolden(t *testing.T) {
	for _, c := range []struct {
		name   string
		values []Value
		enc    string
		hash   uint64
	}{
		{"no values", nil, "", 0xcbf29ce484222325},
		{"int 0", []Value{Int(0)}, "0100000000", 0xd80d6caea7dc7eec},
		{"int 1", []Value{Int(1)}, "0100000001", 0xd80d6daea7dc809f},
		{"int -1", []Value{Int(-1)}, "01ffffffff", 0x8feeb81e87a47e48},
		{"bigint 1", []Value{BigInt(1)}, "020000000000000001", 0x0cd92bf54dc61432},
		{"bigint min", []Value{BigInt(math.MinInt64)}, "028000000000000000", 0x8a3cb17ac56b2665},
		{"empty text", []Value{Text("")}, "0300000000", 0xf16b3303a27b53b2},
		{"text AAPL", []Value{Text("AAPL")}, "03000000044141504c", 0xb457dddf4d424108},
		{"ab,c", []Value{Text("ab"), Text("c")}, "03000000026162030000000163", 0x0601b8ba162c61bc},
		{"a,bc", []Value{Text("a"), Text("bc")}, "03000000016103000000026263", 0x21f6eaa90b3768d4},
		{"utf-8 text", []Value{Text("héllo")}, "030000000668c3a96c6c6f", 0x9dd753bc72fd5f6d},
		{"uuid", []Value{UUID(exampleUUID)}, "04550e8400e29b41d4a716446655440000", 0x78d7177e115e7408},
		{"null", []Value{Null()}, "00", 0xaf63bd4c8601b7df},
		{"int,text", []Value{Int(42), Text("eu-west")}, "010000002a030000000765752d77657374", 0x2b6dd3787eef78f8},
		{"bigint,uuid,null", []Value{BigInt(7), UUID(exampleUUID), Null()},
			"02000000000000000704550e8400e29b41d4a71644665544000000", 0xa66a56b633df777d},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := hex.EncodeToString(Encode(c.values...)); got != c.enc {
				t.Errorf("Encode = %s, want %s", got, c.enc)
			}
			if got := Hash(c.values...); got != c.hash {
				t.Errorf("Hash = %#016x, want %#016x", got, c.hash)
			}
		})
	}
}

// fnv1a is FNV-1a 64 written out from its definition, to check Hash against.
func fnv1a(b []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range b {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return h
}

func TestHashIsFNV1aOfEncoding(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	for i := range 500 {
		vs := randomValues(r)
		if got, want := Hash(vs...), fnv1a(Encode(vs...)); got != want {
			t.Fatalf("case %d %v: Hash = %#x, FNV-1a of encoding = %#x", i, vs, got, want)
		}
	}
}

// TestEncodingIsInjective checks that distinct scope tuples never share an
// encoding (so only true 64-bit collisions can share a hash).
func TestEncodingIsInjective(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	seen := map[string]string{}
	for range 20000 {
		vs := randomValues(r)
		key, id := string(Encode(vs...)), fmt.Sprint(describe(vs))
		if prev, ok := seen[key]; ok && prev != id {
			t.Fatalf("%s and %s share encoding %x", prev, id, key)
		}
		seen[key] = id
	}
}

func describe(vs []Value) []string {
	var out []string
	for _, v := range vs {
		out = append(out, fmt.Sprintf("%d:%d:%q:%x", v.kind, v.i, v.s, v.u))
	}
	return out
}

func randomValues(r *rand.Rand) []Value {
	vs := make([]Value, r.IntN(4))
	texts := []string{"", "a", "b", "ab", "ba", "\x00", "a\x00", "\x03"}
	for i := range vs {
		switch r.IntN(5) {
		case 0:
			vs[i] = Null()
		case 1:
			vs[i] = Int(int32(r.IntN(5) - 2))
		case 2:
			vs[i] = BigInt(int64(r.IntN(5) - 2))
		case 3:
			vs[i] = Text(texts[r.IntN(len(texts))])
		default:
			var u [16]byte
			u[r.IntN(16)] = byte(r.IntN(3))
			vs[i] = UUID(u)
		}
	}
	return vs
}

func BenchmarkHash(b *testing.B) {
	for b.Loop() {
		Hash(Int(42), Text("eu-west"))
	}
}
