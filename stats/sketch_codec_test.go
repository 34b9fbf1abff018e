package stats

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	tdigest "github.com/caio/go-tdigest/v4"
)

// sketchInputs are value sets every sketch encoding must round-trip.
func sketchInputs() map[string][]float64 {
	r := rand.New(rand.NewPCG(11, 11))
	in := map[string][]float64{
		"empty":       nil,
		"zeros":       {0, 0, math.Copysign(0, -1)},
		"signed zero": {math.Copysign(0, -1), 0, 1, math.Copysign(0, -1)},
		"extremes":    {-1e300, -1e-300, 5e-324, 1e-300, 1e300},
		"near 1e12":   {1e12, 1e12 + 1, 1e12 + 2, 1e12 + 0.5, 1e12 + 3},
	}
	for _, d := range distributions {
		in[d.name] = draw(r, d, 5000)
	}
	return in
}

func buildSketches(t testing.TB, xs []float64) (*Sketch, *TDigest) {
	s, d := NewSketch(), NewTDigest()
	for _, x := range xs {
		if err := s.Add(x); err != nil {
			t.Fatal(err)
		}
		if err := d.Add(x); err != nil {
			t.Fatal(err)
		}
	}
	return s, d
}

func TestSketchCodecRoundTrip(t *testing.T) {
	for name, xs := range sketchInputs() {
		t.Run(name, func(t *testing.T) {
			s, d := buildSketches(t, xs)
			enc, err := s.MarshalBinary()
			must(t, err)
			var s2 Sketch
			must(t, s2.UnmarshalBinary(enc))
			enc2, err := s2.MarshalBinary()
			must(t, err)
			if !bytes.Equal(enc, enc2) || s2.Count() != s.Count() {
				t.Errorf("DDSketch round trip changed the encoding or count")
			}
			sameQuantiles(t, "DDSketch", s, &s2)

			tenc, err := d.MarshalBinary()
			must(t, err)
			var d2 TDigest
			must(t, d2.UnmarshalBinary(tenc))
			if a, b := centroids(d), centroids(&d2); !equalBits(a, b) {
				t.Errorf("t-digest centroids changed:\n%v\n%v", a, b)
			}
			tenc2, _ := d2.MarshalBinary()
			if !bytes.Equal(tenc, tenc2) || d2.Count() != d.Count() || d2.Compression() != d.Compression() {
				t.Errorf("t-digest round trip changed the encoding, count or compression")
			}
			sameQuantiles(t, "t-digest", d, &d2)
		})
	}
}

func sameQuantiles(t *testing.T, what string, a, b quantiler) {
	t.Helper()
	for _, q := range testQuantiles {
		va, ea := a.Quantile(q)
		vb, eb := b.Quantile(q)
		if !errors.Is(eb, ea) || !sameFloat(va, vb) {
			t.Errorf("%s q=%v: %v, %v before; %v, %v after", what, q, va, ea, vb, eb)
		}
	}
}

func centroids(d *TDigest) []float64 {
	var out []float64
	d.Centroids(func(mean float64, w uint64) { out = append(out, mean, float64(w)) })
	return out
}

func equalBits(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float64bits(a[i]) != math.Float64bits(b[i]) {
			return false
		}
	}
	return true
}

// TestTDigestEncodingKeepsLargeMeans is why TDigest has its own encoding:
// go-tdigest's AsBytes stores centroid means as float32 deltas, which moves
// means near 1e12 by thousands; ours keeps every bit.
func TestTDigestEncodingKeepsLargeMeans(t *testing.T) {
	r := rand.New(rand.NewPCG(12, 12))
	_, d := buildSketches(t, draw(r, distribution{"", func(r *rand.Rand) float64 { return 1e12 + 1e6*r.Float64() }}, 10000))
	lib, err := d.td().AsBytes()
	must(t, err)
	viaLib, err := tdigest.FromBytes(bytes.NewReader(lib))
	must(t, err)
	orig := centroids(d)
	var worst float64
	i := 0
	viaLib.ForEachCentroid(func(mean float64, _ uint64) bool {
		worst = max(worst, math.Abs(mean-orig[i]))
		i += 2
		return true
	})
	if worst < 1 {
		t.Errorf("go-tdigest's float32 encoding lost at most %v near 1e12; the reason for our encoding is gone", worst)
	}
	t.Logf("go-tdigest AsBytes moves centroid means near 1e12 by up to %v", worst)
	ours, err := d.MarshalBinary()
	must(t, err)
	var back TDigest
	must(t, back.UnmarshalBinary(ours))
	if !equalBits(centroids(&back), orig) {
		t.Error("our encoding changed a centroid")
	}
}

// forgeSketch encodes a sketch by hand: accuracy, zero count, then the
// positive and negative bins as (absolute index, count) pairs.
func forgeSketch(alpha float64, zero uint64, pos, neg [][2]int64) []byte {
	b := []byte{sketchVersion}
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(alpha))
	b = binary.AppendUvarint(b, zero)
	for _, bins := range [][][2]int64{pos, neg} {
		b = binary.AppendUvarint(b, uint64(len(bins)))
		prev := int64(0)
		for _, x := range bins {
			b = binary.AppendVarint(b, x[0]-prev)
			b = binary.AppendUvarint(b, uint64(x[1]))
			prev = x[0]
		}
	}
	return b
}

func forgeTDigest(compression float64, n uint64, cs [][2]float64) []byte {
	b := []byte{tdigestVersion}
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(compression))
	b = binary.AppendUvarint(b, n)
	var prev uint64
	for _, c := range cs {
		k := orderedBits(c[0])
		b = binary.AppendVarint(b, int64(k-prev))
		b = binary.AppendUvarint(b, uint64(c[1]))
		prev = k
	}
	return b
}

func TestSketchDecodeErrors(t *testing.T) {
	s, _ := buildSketches(t, []float64{-3, 0, 1, 2, 1e10})
	good, _ := s.MarshalBinary()
	const maxIdx = 35000 // above every index at 1%
	for name, in := range map[string][]byte{
		"empty":            nil,
		"version 0":        append([]byte{0}, good[1:]...),
		"version only":     {sketchVersion},
		"truncated":        good[:len(good)-1],
		"trailing":         append(bytes.Clone(good), 0),
		"alpha NaN":        forgeSketch(math.NaN(), 0, nil, nil),
		"alpha 0":          forgeSketch(0, 0, nil, nil),
		"alpha 0.5":        forgeSketch(0.5, 0, nil, nil),
		"index too high":   forgeSketch(0.01, 0, [][2]int64{{40000, 1}}, nil),
		"index too low":    forgeSketch(0.01, 0, nil, [][2]int64{{-40000, 1}}),
		"index huge":       forgeSketch(0.01, 0, [][2]int64{{math.MaxInt64 / 2, 1}}, nil),
		"repeated index":   forgeSketch(0.01, 0, [][2]int64{{5, 1}, {5, 1}}, nil),
		"decreasing index": forgeSketch(0.01, 0, [][2]int64{{5, 1}, {4, 1}}, nil),
		"zero count":       forgeSketch(0.01, 0, [][2]int64{{5, 0}}, nil),
		"count overflow":   forgeSketch(0.01, MaxCount, [][2]int64{{5, 1}}, nil),
		"bin count lies":   append(forgeSketch(0.01, 0, nil, nil)[:10], 0xff, 0xff, 0xff, 0xff, 0x0f),
	} {
		var dec Sketch
		if err := dec.UnmarshalBinary(in); err == nil {
			t.Errorf("%s: decoded %x", name, in)
		}
	}
	var ok Sketch
	must(t, ok.UnmarshalBinary(forgeSketch(0.01, 2, [][2]int64{{-maxIdx + 100, 1}, {maxIdx - 100, 3}}, [][2]int64{{0, 1}})))
	if ok.Count() != 7 {
		t.Errorf("forged valid sketch: count %d, want 7", ok.Count())
	}
}

func TestTDigestDecodeErrors(t *testing.T) {
	_, d := buildSketches(t, []float64{-3, 0, 1, 2, 1e10})
	good, _ := d.MarshalBinary()
	for name, in := range map[string][]byte{
		"empty":             nil,
		"version 2":         append([]byte{2}, good[1:]...),
		"truncated":         good[:len(good)-1],
		"trailing":          append(bytes.Clone(good), 0),
		"compression NaN":   forgeTDigest(math.NaN(), 0, nil),
		"compression 5":     forgeTDigest(5, 0, nil),
		"count lies":        forgeTDigest(100, 1<<40, nil),
		"too many":          forgeTDigest(20, 401, make([][2]float64, 401)),
		"NaN mean":          forgeTDigest(100, 1, [][2]float64{{math.NaN(), 1}}),
		"Inf mean":          forgeTDigest(100, 1, [][2]float64{{math.Inf(1), 1}}),
		"decreasing means":  forgeTDigest(100, 2, [][2]float64{{2, 1}, {1, 1}}),
		"zero weight":       forgeTDigest(100, 1, [][2]float64{{2, 0}}),
		"weights overflow":  forgeTDigest(100, 2, [][2]float64{{1, MaxCount}, {2, 1}}),
		"missing centroids": forgeTDigest(100, 3, [][2]float64{{1, 1}}),
	} {
		var dec TDigest
		if err := dec.UnmarshalBinary(in); err == nil {
			t.Errorf("%s: decoded %x", name, in)
		}
	}
	before := NewTDigest()
	must(t, before.Add(7))
	if err := before.UnmarshalBinary(good[:5]); err == nil || before.Count() != 1 {
		t.Errorf("failed decode changed the digest: count %d, %v", before.Count(), err)
	}
}

// TestSketchDecodeAllocationIsBounded decodes forged inputs that maximise
// the work a decoder could be tricked into and checks that the memory it
// allocates stays small.
func TestSketchDecodeAllocationIsBounded(t *testing.T) {
	const limit = 2 << 20
	fine, err := newDDSketch(MinRelativeAccuracy)
	must(t, err)
	lo, hi := int64(fine.Index(fine.MinIndexableValue())), int64(fine.Index(fine.MaxIndexableValue()))
	// Counts above 1 go to pages, not the store's buffer: the costly case.
	extremes := forgeSketch(MinRelativeAccuracy, 0, [][2]int64{{lo, 5}, {hi, 5}}, [][2]int64{{lo, 5}, {hi, 5}})
	manyCentroids := make([][2]float64, 20000)
	for i := range manyCentroids {
		manyCentroids[i] = [2]float64{float64(i), 1}
	}
	valid := map[string]bool{"sketch extremes": true, "tdigest 20k centroids": true}
	for name, dec := range map[string]func() error{
		"sketch extremes":    func() error { var s Sketch; return s.UnmarshalBinary(extremes) },
		"sketch count lies":  func() error { var s Sketch; return s.UnmarshalBinary(forgeSketch(0.01, 0, nil, nil)[:10]) },
		"tdigest count lies": func() error { var d TDigest; return d.UnmarshalBinary(forgeTDigest(1000, 1<<60, nil)) },
		"tdigest 20k centroids": func() error {
			var d TDigest
			return d.UnmarshalBinary(forgeTDigest(1000, 20000, manyCentroids))
		},
	} {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		err := dec()
		runtime.ReadMemStats(&after)
		if n := after.TotalAlloc - before.TotalAlloc; n > limit {
			t.Errorf("%s (err %v): decoding allocated %d bytes", name, err, n)
		}
		if valid[name] != (err == nil) {
			t.Errorf("%s: decode error %v", name, err)
		}
	}
}

func BenchmarkSketchEncode(b *testing.B) {
	s, _ := buildSketches(b, draw(rand.New(rand.NewPCG(1, 1)), distributions[2], 100_000))
	buf := make([]byte, 0, 4096)
	for b.Loop() {
		buf, _ = s.AppendBinary(buf[:0])
	}
}

func BenchmarkSketchDecode(b *testing.B) {
	s, _ := buildSketches(b, draw(rand.New(rand.NewPCG(1, 1)), distributions[2], 100_000))
	enc, _ := s.MarshalBinary()
	for b.Loop() {
		var d Sketch
		if err := d.UnmarshalBinary(enc); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTDigestEncode(b *testing.B) {
	_, d := buildSketches(b, draw(rand.New(rand.NewPCG(1, 1)), distributions[2], 100_000))
	buf := make([]byte, 0, 4096)
	for b.Loop() {
		buf, _ = d.AppendBinary(buf[:0])
	}
}

func BenchmarkTDigestDecode(b *testing.B) {
	_, d := buildSketches(b, draw(rand.New(rand.NewPCG(1, 1)), distributions[2], 100_000))
	enc, _ := d.MarshalBinary()
	for b.Loop() {
		var t TDigest
		if err := t.UnmarshalBinary(enc); err != nil {
			b.Fatal(err)
		}
	}
}
