package zorder

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// TestKeyGolden freezes the key layout.
func TestKeyGolden(t *testing.T) {
	h := Hash(Int(42))
	for _, c := range []struct {
		name string
		t    time.Time
		want int64
	}{
		{"epoch", time.Unix(0, 0), 7097673709093685416},
		{"2024-05-17 12:34:56", time.Date(2024, 5, 17, 12, 34, 56, 0, time.UTC), 7098031119428066732},
		{"1900-01-01", time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC), 4022084960371985576},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := Key(h, c.t); got != c.want {
				t.Errorf("Key = %d, want %d", got, c.want)
			}
		})
	}
	for _, c := range []struct {
		hash uint64
		min  int64
		want int64
	}{
		{0, MinKeyMinute, math.MinInt64},
		{math.MaxUint64, MaxKeyMinute, math.MaxInt64},
		{0, MaxKeyMinute, math.MinInt64 + 0x5555555555555555},
		{math.MaxUint64, MinKeyMinute, 0x2aaaaaaaaaaaaaaa},
	} {
		if got := KeyMicros(c.hash, c.min*60e6); got != c.want {
			t.Errorf("KeyMicros(%#x, minute %d) = %#x, want %#x", c.hash, c.min, got, c.want)
		}
	}
}

// randomTime draws microsecond times across the whole supported range, with
// extra weight near the epoch, before 1970 and at the clamping edges.
func randomTime(r *rand.Rand) int64 {
	const minute = 60e6
	switch r.IntN(5) {
	case 0:
		return MinMicros + int64(r.Uint64N(uint64(MaxMicros)+uint64(-MinMicros)))
	case 1:
		return r.Int64N(4e15) - 2e15 // 1906..2033
	case 2:
		return MinKeyMinute*minute + r.Int64N(4*minute) - 2*minute
	case 3:
		return MaxKeyMinute*minute + r.Int64N(4*minute) - 2*minute
	default:
		return r.Int64N(2*minute) - minute
	}
}

// TestBoundsCoverTenantRange is the property the changelog scan relies on:
// for every tenant and every time in [t0, t1], lo ≤ Key ≤ hi.
func TestBoundsCoverTenantRange(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		r := rand.New(rand.NewPCG(seed, 0xb0))
		for range 5000 {
			h := r.Uint64()
			t0, t1 := randomTime(r), randomTime(r)
			if t0 > t1 {
				t0, t1 = t1, t0
			}
			lo, hi, err := BoundsMicros(h, t0, t1)
			if err != nil {
				t.Fatalf("seed %d: BoundsMicros(%#x, %d, %d): %v", seed, h, t0, t1, err)
			}
			for _, tm := range []int64{t0, t1, t0 + int64(r.Uint64N(uint64(t1-t0)+1))} {
				if k := KeyMicros(h, tm); k < lo || k > hi {
					t.Fatalf("seed %d: hash %#x: key(%d) = %d outside [%d, %d] for [%d, %d]", seed, h, tm, k, lo, hi, t0, t1)
				}
			}
			tlo, thi, err := Bounds(h, ToTime(t0), ToTime(t1))
			if err != nil || tlo != lo || thi != hi {
				t.Fatalf("seed %d: Bounds on times = %d, %d, %v; BoundsMicros = %d, %d", seed, tlo, thi, err, lo, hi)
			}
		}
	}
}

// TestKeyStrictlyIncreasingByMinute: inside the covered range a later minute
// always has a larger key, and Split recovers hash and minute.
func TestKeyStrictlyIncreasingByMinute(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	for range 20000 {
		h := r.Uint64()
		m := MinKeyMinute + r.Int64N(MaxKeyMinute-MinKeyMinute)
		dm := 1 + r.Int64N(MaxKeyMinute-m)
		k1, k2 := KeyMicros(h, m*60e6), KeyMicros(h, (m+dm)*60e6+r.Int64N(60e6))
		if k1 >= k2 {
			t.Fatalf("hash %#x: key(minute %d) = %d ≥ key(minute %d) = %d", h, m, k1, m+dm, k2)
		}
		if hh, mm := Split(k1); hh != uint32(h>>32) || mm != m {
			t.Fatalf("Split(Key(%#x, %d)) = %#x, %d", h, m, hh, mm)
		}
	}
}

// TestKeySignedOrderIsZOrder: comparing keys as signed int64 (as a bigint
// btree does) orders them like the unsigned bit interleaving.
func TestKeySignedOrderIsZOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(10, 10))
	z := func(k int64) uint64 { return uint64(k) ^ 1<<63 }
	for range 20000 {
		a := KeyMicros(r.Uint64(), randomTime(r))
		b := KeyMicros(r.Uint64(), randomTime(r))
		if (a < b) != (z(a) < z(b)) {
			t.Fatalf("keys %d, %d: signed and z-order disagree", a, b)
		}
		ha, ma := Split(a)
		hb, mb := Split(b)
		if ha == hb && ma < mb && a >= b {
			t.Fatalf("same tenant, later minute, smaller key: %d %d", a, b)
		}
	}
}

func TestKeyClampsOutsideRange(t *testing.T) {
	h := Hash(Text("t"))
	first, last := KeyMicros(h, MinKeyMinute*60e6), KeyMicros(h, MaxKeyMinute*60e6)
	for _, c := range []struct {
		name string
		t    time.Time
		want int64
	}{
		{"year -4713", time.Date(-4713, 11, 24, 0, 0, 0, 0, time.UTC), first},
		{"year -3000", time.Date(-3000, 1, 1, 0, 0, 0, 0, time.UTC), first},
		{"year 9999", time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC), last},
		{"year 200000", time.Date(200000, 1, 1, 0, 0, 0, 0, time.UTC), last},
		{"far past time.Time", time.Date(-1e9, 1, 1, 0, 0, 0, 0, time.UTC), first},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := Key(h, c.t); got != c.want {
				t.Errorf("Key = %d, want %d", got, c.want)
			}
		})
	}
	lo, hi, err := Bounds(h, time.Date(-3000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil || lo != first || hi != last {
		t.Errorf("Bounds across the whole range = %d, %d, %v", lo, hi, err)
	}
}

func TestBoundsRejectReversedRange(t *testing.T) {
	now := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, _, err := Bounds(1, now, now.Add(-time.Microsecond)); !errors.Is(err, ErrBounds) {
		t.Errorf("Bounds(later, earlier) = %v, want ErrBounds", err)
	}
	if _, _, err := BoundsMicros(1, 5, 4); !errors.Is(err, ErrBounds) {
		t.Errorf("BoundsMicros(5, 4) = %v, want ErrBounds", err)
	}
	if lo, hi, err := Bounds(1, now, now); err != nil || lo != hi {
		t.Errorf("Bounds(t, t) = %d, %d, %v; want lo == hi", lo, hi, err)
	}
}

func BenchmarkKeyMicros(b *testing.B) {
	us := int64(1.7e15)
	for b.Loop() {
		KeyMicros(0x1234567890abcdef, us)
		us += 1e6
	}
}
