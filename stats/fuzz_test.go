package stats

import (
	"bytes"
	"testing"
)

// The fuzz targets decode arbitrary bytes. Properties: no panic; a decoded
// value re-encodes, decodes to the same value, and re-encodes to the same
// bytes. Seed corpora live in testdata/fuzz/<target>/.

func FuzzMomentsBinary(f *testing.F) {
	for _, m := range sampleStates() {
		b, _ := m.MarshalBinary()
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var m Moments
		if m.UnmarshalBinary(in) != nil {
			return
		}
		checkMomentsStable(t, m, (*Moments).UnmarshalBinary, Moments.MarshalBinary)
	})
}

func FuzzMomentsText(f *testing.F) {
	for _, m := range sampleStates() {
		f.Add(m.String())
	}
	f.Add(`( 3 , "1e+20",2.0, 0 ,"NaN")`)
	f.Fuzz(func(t *testing.T, in string) {
		var m Moments
		if m.UnmarshalText([]byte(in)) != nil {
			return
		}
		checkMomentsStable(t, m, (*Moments).UnmarshalText, Moments.MarshalText)
	})
}

func FuzzMomentsJSON(f *testing.F) {
	for _, m := range sampleStates() {
		b, _ := m.MarshalJSON()
		f.Add(string(b))
	}
	f.Add(`{"n": 3, "m1": 100000000000000000000, "m2": 2, "m3": 0, "m4": "NaN"}`)
	f.Fuzz(func(t *testing.T, in string) {
		var m Moments
		if m.UnmarshalJSON([]byte(in)) != nil {
			return
		}
		checkMomentsStable(t, m, (*Moments).UnmarshalJSON, Moments.MarshalJSON)
	})
}

func checkMomentsStable(t *testing.T, m Moments, dec func(*Moments, []byte) error, enc func(Moments) ([]byte, error)) {
	t.Helper()
	if err := m.Validate(); err != nil {
		t.Fatalf("decoded an invalid state %v: %v", m, err)
	}
	b1, err := enc(m)
	if err != nil {
		t.Fatalf("re-encode %v: %v", m, err)
	}
	var m2 Moments
	if err := dec(&m2, b1); err != nil || !sameMoments(m, m2) {
		t.Fatalf("%v -> %q -> %v, %v", m, b1, m2, err)
	}
	if b2, _ := enc(m2); !bytes.Equal(b1, b2) {
		t.Fatalf("encoding not stable: %q then %q", b1, b2)
	}
}

func FuzzSketchDecode(f *testing.F) {
	for _, xs := range sketchInputs() {
		s, _ := buildSketches(f, xs[:min(len(xs), 200)])
		b, _ := s.MarshalBinary()
		f.Add(b)
	}
	f.Add(forgeSketch(0.01, 2, [][2]int64{{-30000, 1}, {30000, 3}}, [][2]int64{{0, 1}}))
	f.Fuzz(func(t *testing.T, in []byte) {
		var s Sketch
		if s.UnmarshalBinary(in) != nil {
			return
		}
		b1, err := s.MarshalBinary()
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		var s2 Sketch
		if err := s2.UnmarshalBinary(b1); err != nil {
			t.Fatalf("decode of re-encoding: %v", err)
		}
		if b2, _ := s2.MarshalBinary(); !bytes.Equal(b1, b2) || s2.Count() != s.Count() {
			t.Fatalf("encoding not stable: %x then %x", b1, b2)
		}
		if s.Count() > 0 {
			if _, err := s.Quantiles(testQuantiles); err != nil {
				t.Fatalf("quantiles of a decoded sketch: %v", err)
			}
		}
	})
}

func FuzzTDigestDecode(f *testing.F) {
	for _, xs := range sketchInputs() {
		_, d := buildSketches(f, xs[:min(len(xs), 200)])
		b, _ := d.MarshalBinary()
		f.Add(b)
	}
	f.Add(forgeTDigest(100, 3, [][2]float64{{-1, 2}, {0, 1}, {1e12, 5}}))
	f.Fuzz(func(t *testing.T, in []byte) {
		var d TDigest
		if d.UnmarshalBinary(in) != nil {
			return
		}
		b1, err := d.MarshalBinary()
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		var d2 TDigest
		if err := d2.UnmarshalBinary(b1); err != nil {
			t.Fatalf("decode of re-encoding: %v", err)
		}
		if b2, _ := d2.MarshalBinary(); !bytes.Equal(b1, b2) || !equalBits(centroids(&d), centroids(&d2)) {
			t.Fatalf("encoding not stable: %x then %x", b1, b2)
		}
		if d.Count() > 0 {
			if _, err := d.Quantiles(testQuantiles); err != nil {
				t.Fatalf("quantiles of a decoded digest: %v", err)
			}
		}
	})
}
