package stats

import (
	"math"
	"math/rand/v2"
	"slices"
	"sort"
)

// distribution generates values of one shape for the sketch accuracy tests.
type distribution struct {
	name string
	gen  func(r *rand.Rand) float64
}

var distributions = []distribution{
	{"uniform", func(r *rand.Rand) float64 { return 1000 * r.Float64() }},
	{"normal", func(r *rand.Rand) float64 { return 100 + 15*r.NormFloat64() }},
	{"lognormal", func(r *rand.Rand) float64 { return math.Exp(1 + 1.5*r.NormFloat64()) }},
	{"pareto", func(r *rand.Rand) float64 { return math.Pow(1-r.Float64(), -1/1.5) }},
	{"bimodal", func(r *rand.Rand) float64 {
		if r.IntN(2) == 0 {
			return 10 + r.NormFloat64()
		}
		return 1000 + 50*r.NormFloat64()
	}},
	{"constant", func(*rand.Rand) float64 { return 42.5 }},
	{"mixed-sign", func(r *rand.Rand) float64 { return 20 + 100*r.NormFloat64() }},
	{"epoch-micros", func(r *rand.Rand) float64 { return 1.7e15 + 3.6e9*r.Float64() }},
}

// testQuantiles are the quantiles the issue asks every sketch to answer.
var testQuantiles = []float64{0, 0.01, 0.25, 0.5, 0.9, 0.99, 0.999, 1}

func draw(r *rand.Rand, d distribution, n int) []float64 {
	xs := make([]float64, n)
	for i := range xs {
		xs[i] = d.gen(r)
	}
	return xs
}

// exactQuantile is PostgreSQL's percentile_cont(q) over sorted xs, with the
// two order statistics it interpolates and the fraction between them.
func exactQuantile(sorted []float64, q float64) (v, lo, hi, f float64) {
	r := q * float64(len(sorted)-1)
	i := math.Floor(r)
	f = r - i
	lo = sorted[int(i)]
	hi = lo
	if f > 0 {
		hi = sorted[int(i)+1]
	}
	return lo + (hi-lo)*f, lo, hi, f
}

// rankError is how far q lies outside the fractional ranks of v in sorted:
// the interval [#{x < v}, #{x ≤ v}−1]/(n−1) holds q for an exact answer.
// Estimates within 1e-12 relative of a data point count as that point, so
// that rounding in the interpolation does not count as rank error.
func rankError(sorted []float64, v, q float64) float64 {
	n := float64(len(sorted) - 1)
	if n == 0 {
		return 0
	}
	v = snap(sorted, v)
	below := float64(sort.SearchFloat64s(sorted, v))
	upto := float64(sort.Search(len(sorted), func(i int) bool { return sorted[i] > v }))
	lo, hi := below/n, (upto-1)/n
	if upto == below { // v falls between two data points
		lo, hi = (below-1)/n, below/n
	}
	return max(0, lo-q, q-hi)
}

func sortedCopy(xs []float64) []float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s
}

// snap returns the data point nearest to v if it is within 1e-12 relative.
func snap(sorted []float64, v float64) float64 {
	i := sort.SearchFloat64s(sorted, v)
	for _, j := range []int{i - 1, i} {
		if j >= 0 && j < len(sorted) && math.Abs(sorted[j]-v) <= 1e-12*math.Abs(sorted[j]) {
			return sorted[j]
		}
	}
	return v
}
