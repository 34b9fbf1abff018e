package stats

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// states are a new Sketch and a new TDigest, named.
func newStates() map[string]func() State {
	return map[string]func() State{
		"sketch":  func() State { return NewSketch() },
		"tdigest": func() State { return NewTDigest() },
	}
}

func randomValues(r *rand.Rand, n int) []float64 {
	xs := make([]float64, n)
	for i := range xs {
		xs[i] = r.NormFloat64()*100 + 50
	}
	return xs
}

func encodeState(t *testing.T, s State) []byte {
	t.Helper()
	b, err := s.MarshalBinary()
	must(t, err)
	return b
}

// A reset state builds exactly what a new one builds from the same values
// and merges: the rollup reuses one state per column across buckets. A
// t-digest's merge draws random numbers, so its draws must start over too.
func TestResetBuildsWhatNewBuilds(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for name, make := range newStates() {
		t.Run(name, func(t *testing.T) {
			reused := make()
			for round := range 4 {
				part := make()
				for _, x := range randomValues(r, 2000) {
					must(t, part.Add(x))
				}
				enc := encodeState(t, part)
				fresh := make()
				reused.Reset()
				for _, s := range []State{fresh, reused} {
					for _, x := range randomValues(rand.New(rand.NewPCG(uint64(round), 0)), 3000) {
						must(t, s.Add(x))
					}
					must(t, s.MergeBinary(enc))
				}
				if !bytes.Equal(encodeState(t, fresh), encodeState(t, reused)) {
					t.Fatalf("round %d: reset state encodes differently from a new one", round)
				}
			}
		})
	}
}

// Merging encoded states one after another, which decodes each into the
// same scratch state, gives what merging freshly decoded states gives.
func TestMergeBinaryReusesScratchExactly(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for name, make := range newStates() {
		t.Run(name, func(t *testing.T) {
			var parts [][]byte
			for i := range 40 {
				p := make()
				for _, x := range randomValues(r, 50+i*37) {
					must(t, p.Add(x))
				}
				parts = append(parts, encodeState(t, p))
			}
			viaBinary, viaFresh := make(), make()
			for _, b := range parts {
				must(t, viaBinary.MergeBinary(b))
				mergeFresh(t, viaFresh, b)
			}
			if viaBinary.Count() != viaFresh.Count() {
				t.Fatalf("count %d, want %d", viaBinary.Count(), viaFresh.Count())
			}
			if !bytes.Equal(encodeState(t, viaBinary), encodeState(t, viaFresh)) {
				t.Fatal("MergeBinary with a reused scratch differs from merging fresh decodes")
			}
		})
	}
}

// mergeFresh decodes b into a state of its own and merges it into into.
func mergeFresh(t *testing.T, into State, b []byte) {
	t.Helper()
	switch s := into.(type) {
	case *Sketch:
		var o Sketch
		must(t, o.UnmarshalBinary(b))
		must(t, s.Merge(&o))
	case *TDigest:
		var o TDigest
		must(t, o.UnmarshalBinary(b))
		must(t, s.Merge(&o))
	}
}

// A failed MergeBinary leaves the receiver as it was, and the next one
// still works.
func TestMergeBinaryAfterFailure(t *testing.T) {
	for name, make := range newStates() {
		t.Run(name, func(t *testing.T) {
			p := make()
			for _, x := range []float64{1, 2, 3} {
				must(t, p.Add(x))
			}
			good := encodeState(t, p)
			s := make()
			must(t, s.MergeBinary(good))
			before := encodeState(t, s)
			if err := s.MergeBinary(good[:len(good)-1]); err == nil {
				t.Fatal("a truncated state merged without error")
			}
			if !bytes.Equal(before, encodeState(t, s)) {
				t.Fatal("a failed MergeBinary changed the receiver")
			}
			must(t, s.MergeBinary(good))
			if s.Count() != 6 {
				t.Fatalf("count %d after two merges of 3 values, want 6", s.Count())
			}
		})
	}
}
