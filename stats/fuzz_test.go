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
