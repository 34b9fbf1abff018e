package stats

import (
	"fmt"
	"math"
	"math/rand/v2"

	tdigest "github.com/caio/go-tdigest/v4"
)

// Compressions a TDigest accepts.
const (
	DefaultCompression = 100
	MinCompression     = 20
	MaxCompression     = 1000
)

// TDigest is a t-digest (go-tdigest). It estimates quantiles with small rank
// error, smallest in the tails. The zero value is an empty digest with the
// default compression of 100. A TDigest is not safe for concurrent use.
type TDigest struct {
	d   *tdigest.TDigest
	rng *digestRNG
	// scratch is where MergeBinary decodes, kept so that merging many
	// states does not allocate a digest (16 KB at compression 100) each.
	scratch *TDigest
}

// digestRNG is the digest's source of randomness: go-tdigest draws from it
// to pick among centroids that could absorb a value. It is seeded the same
// for every digest, so equal inputs give equal digests. With noMerge set it
// answers Float32 with 2, which go-tdigest never accepts, so every added
// centroid stays separate: decoding uses this to rebuild a digest exactly.
type digestRNG struct {
	src     *rand.PCG
	r       *rand.Rand
	noMerge bool
}

const digestSeed1, digestSeed2 = 0x7d16e57, 1

func newDigestRNG() *digestRNG {
	src := rand.NewPCG(digestSeed1, digestSeed2)
	return &digestRNG{src: src, r: rand.New(src)}
}

// reseed restarts the sequence a new digest draws.
func (g *digestRNG) reseed() { g.src.Seed(digestSeed1, digestSeed2) }

func (g *digestRNG) Float32() float32 {
	if g.noMerge {
		return 2
	}
	return g.r.Float32()
}

func (g *digestRNG) Intn(n int) int { return g.r.IntN(n) }

// NewTDigest returns an empty digest with DefaultCompression.
func NewTDigest() *TDigest {
	t, _ := NewTDigestWithCompression(DefaultCompression)
	return t
}

// NewTDigestWithCompression returns an empty digest with the given
// compression in [MinCompression, MaxCompression].
func NewTDigestWithCompression(compression float64) (*TDigest, error) {
	if !(compression >= MinCompression && compression <= MaxCompression) {
		return nil, fmt.Errorf("%w: compression %v not in [%d, %d]",
			ErrInvalidSketch, compression, MinCompression, MaxCompression)
	}
	rng := newDigestRNG()
	d, err := tdigest.New(tdigest.Compression(compression), tdigest.RandomNumberGenerator(rng))
	if err != nil {
		return nil, fmt.Errorf("new t-digest: %w", err)
	}
	return &TDigest{d: d, rng: rng}, nil
}

func (t *TDigest) td() *tdigest.TDigest {
	if t.d == nil {
		*t = *NewTDigest()
	}
	return t.d
}

// Reset empties t, keeping its compression and its memory. Its randomness
// starts over too, so t then builds exactly the digest a new one would.
func (t *TDigest) Reset() {
	t.td().Reset()
	t.rng.reseed()
}

// Compression returns the digest's compression.
func (t *TDigest) Compression() float64 {
	return t.td().Compression()
}

// Add adds one value. NaN and ±Inf are ErrNotFinite.
func (t *TDigest) Add(x float64) error {
	if err := checkFinite(x); err != nil {
		return err
	}
	if t.Count() >= MaxCount {
		return fmt.Errorf("%w: count limit %d reached", ErrOutOfRange, int64(MaxCount))
	}
	if err := t.td().Add(x); err != nil {
		return fmt.Errorf("t-digest add: %w", err)
	}
	return nil
}

// Merge adds the centroids of o to t. The result keeps t's compression.
func (t *TDigest) Merge(o *TDigest) error {
	other := o.td()
	if o == t {
		other = other.Clone()
	}
	if t.Count()+o.Count() > MaxCount {
		return fmt.Errorf("%w: merged count above %d", ErrOutOfRange, int64(MaxCount))
	}
	if err := t.td().Merge(other); err != nil {
		return fmt.Errorf("t-digest merge: %w", err)
	}
	return nil
}

// MergeBinary merges an encoded digest (see UnmarshalBinary) into t.
func (t *TDigest) MergeBinary(b []byte) error {
	o, err := decodeTDigest(b, t.scratch)
	if err != nil {
		return err
	}
	t.scratch = o
	return t.Merge(o)
}

// Count returns the number of values added.
func (t *TDigest) Count() int64 {
	return int64(t.td().Count())
}

// Quantile returns go-tdigest's estimate of percentile_cont(q), which
// interpolates between centroids at rank q·(n−1).
func (t *TDigest) Quantile(q float64) (float64, error) {
	if err := checkQuantile(q); err != nil {
		return math.NaN(), err
	}
	if t.Count() == 0 {
		return math.NaN(), ErrEmpty
	}
	return t.td().Quantile(q), nil
}

// Quantiles returns Quantile(q) for each q.
func (t *TDigest) Quantiles(qs []float64) ([]float64, error) {
	return quantiles(qs, t.Quantile)
}

// CDF returns go-tdigest's estimate of the fraction of values ≤ x. NaN is
// ErrNotFinite; an empty digest is ErrEmpty.
func (t *TDigest) CDF(x float64) (float64, error) {
	if math.IsNaN(x) {
		return math.NaN(), fmt.Errorf("%w: %v", ErrNotFinite, x)
	}
	if t.Count() == 0 {
		return math.NaN(), ErrEmpty
	}
	return t.td().CDF(x), nil
}

// Centroids calls f with each centroid's mean and weight in increasing mean
// order.
func (t *TDigest) Centroids(f func(mean float64, weight uint64)) {
	t.td().ForEachCentroid(func(mean float64, count uint64) bool {
		f(mean, count)
		return true
	})
}
