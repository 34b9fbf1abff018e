package stats

import "math"

// MaxCount is the largest count a Moments state may hold: counts are used in
// float64 arithmetic, which is exact only up to 2^53.
const MaxCount = 1 << 53

// Moments is a mergeable state of the first four moments of a stream of
// float64 values: the count N, the mean M1 and the central sums
// M2 = Σ(x−M1)², M3 = Σ(x−M1)³, M4 = Σ(x−M1)⁴.
//
// The zero value is the empty state. A state that has seen a NaN or an
// infinity follows PostgreSQL's float8 aggregates: M1 is what Σx/N would be
// (±Inf or NaN) and M2, M3, M4 are NaN. See the package documentation.
type Moments struct {
	N  int64
	M1 float64
	M2 float64
	M3 float64
	M4 float64
}

// Add folds one value into the state (Welford, with Pébay's updates for M3
// and M4).
func (m *Moments) Add(x float64) {
	if !isFinite(x) || !isFinite(m.M1) {
		m.addNonFinite(x)
		return
	}
	n1 := float64(m.N)
	m.N++
	n := float64(m.N)
	delta := x - m.M1
	dn := delta / n
	if math.IsInf(delta, 0) { // x and the mean are near ±MaxFloat64
		dn = x/n - m.M1/n
	}
	dn2 := dn * dn
	term1 := delta * dn * n1
	m.M1 += dn
	m.M4 += term1*dn2*(n*n-3*n+3) + 6*dn2*m.M2 - 4*dn*m.M3
	m.M3 += term1*dn*(n-2) - 3*dn*m.M2
	m.M2 += term1
	if math.IsNaN(m.M2+m.M3+m.M4) || math.IsInf(m.M1, 0) {
		*m = m.settle() // overflow: Inf − Inf, or a mean rounded past MaxFloat64
	}
}

// addNonFinite handles an input or a state that is not finite: M1 takes the
// IEEE sum of the non-finite values seen (what Σx/N would be) and the
// central sums become NaN, as PostgreSQL's float8_accum does for Sxx.
func (m *Moments) addNonFinite(x float64) {
	if m.N == 0 {
		m.M1 = 0
	}
	m.N++
	m.M1 = canonNaN(m.M1 + x)
	m.M2, m.M3, m.M4 = math.NaN(), math.NaN(), math.NaN()
}

// Merge folds the state o into m with the pairwise formulas of Chan, Golub
// and LeVeque (M2) and Pébay (M3, M4). Merging with an empty state is the
// identity.
func (m *Moments) Merge(o Moments) {
	switch {
	case o.N == 0:
		return
	case m.N == 0:
		*m = o
		return
	case !isFinite(m.M1) || !isFinite(o.M1):
		*m = mergeNonFinite(m.N+o.N, m.M1, o.M1)
		return
	}
	*m = mergePair(*m, o)
}

// mergePair applies the pairwise formulas to two non-empty finite states.
func mergePair(a, b Moments) Moments {
	na, nb := float64(a.N), float64(b.N)
	n := na + nb
	d := b.M1 - a.M1
	d2 := d * d
	nab := na * nb
	r := Moments{N: a.N + b.N}
	r.M1 = a.M1 + d*(nb/n)
	if math.IsInf(d, 0) { // the means are near ±MaxFloat64
		r.M1 = a.M1*(na/n) + b.M1*(nb/n)
	}
	r.M2 = a.M2 + b.M2 + d2*nab/n
	r.M3 = a.M3 + b.M3 + d*d2*nab*(na-nb)/(n*n) +
		3*d*(na*b.M2-nb*a.M2)/n
	r.M4 = a.M4 + b.M4 + d2*d2*nab*(na*na-nab+nb*nb)/(n*n*n) +
		6*d2*(na*na*b.M2+nb*nb*a.M2)/(n*n) + 4*d*(na*b.M3-nb*a.M3)/n
	return r.settle()
}

// mergeNonFinite is the merge of parts at least one of which has a
// non-finite mean: the means add as Σx would, the central sums are NaN.
func mergeNonFinite(n int64, means ...float64) Moments {
	var s float64
	for _, v := range means {
		if !isFinite(v) {
			s += v
		}
	}
	return Moments{N: n, M1: canonNaN(s), M2: math.NaN(), M3: math.NaN(), M4: math.NaN()}
}

// MergeAll merges many states at once with the closed form documented in
// the package documentation (the same sums the rewriter emits as SQL):
//
//	N  = Σ nᵢ
//	M1 = p + Σ nᵢ(m1ᵢ − p) / N        (p: a pivot, here the first part's mean)
//	dᵢ = m1ᵢ − M1
//	M2 = Σ (m2ᵢ + nᵢdᵢ²)
//	M3 = Σ (m3ᵢ + 3dᵢm2ᵢ + nᵢdᵢ³)
//	M4 = Σ (m4ᵢ + 4dᵢm3ᵢ + 6dᵢ²m2ᵢ + nᵢdᵢ⁴)
//
// Empty parts are ignored. The result equals folding the parts with Merge,
// up to rounding.
func MergeAll(parts []Moments) Moments {
	var n int64
	var means []float64
	finite := true
	for _, p := range parts {
		if p.N == 0 {
			continue
		}
		n += p.N
		if !isFinite(p.M1) {
			finite = false
			means = append(means, p.M1)
		}
	}
	switch {
	case n == 0:
		return Moments{}
	case !finite:
		return mergeNonFinite(n, means...)
	}
	mean := grandMean(parts, n)
	r := Moments{N: n, M1: mean}
	for _, p := range parts {
		if p.N == 0 {
			continue
		}
		ni := float64(p.N)
		d := p.M1 - mean
		d2 := d * d
		r.M2 += p.M2 + ni*d2
		r.M3 += p.M3 + 3*d*p.M2 + ni*d*d2
		r.M4 += p.M4 + 4*d*p.M3 + 6*d2*p.M2 + ni*d2*d2
	}
	return r.settle()
}

// FromValues is the state of the values xs by the corrected two-pass
// algorithm, the form spiral's SQL computes stats columns with: a pivot
// p = Σx/N, the deviations dᵢ = xᵢ − p with their mean e = Σdᵢ/N, and the
// sums about p shifted to the mean p + e:
//
//	M1 = p + e
//	M2 = Σdᵢ² − N·e²
//	M3 = Σdᵢ³ − 3e·Σdᵢ² + 2N·e³
//	M4 = Σdᵢ⁴ − 4e·Σdᵢ³ + 6e²·Σdᵢ² − 3N·e⁴
//
// M2 and M4 are clamped at 0 against rounding. Keeping p and e apart holds
// the mean to more than float64 precision, which matters for data with a
// large common offset: folding with Add, whose running mean rounds at every
// step, drifts by several ulps, and deviations from a rounded mean put
// rounding noise into M3. Non-finite values give what Add gives; where p or
// the sums overflow, the values are folded with Add instead.
func FromValues(xs []float64) Moments {
	var m Moments
	if len(xs) == 0 {
		return m
	}
	n := float64(len(xs))
	var sum float64
	for _, x := range xs {
		sum += x
	}
	p := sum / n
	var e, q2, q3, q4 float64
	for _, x := range xs {
		d := x - p
		d2 := d * d
		e, q2, q3, q4 = e+d, q2+d2, q3+d*d2, q4+d2*d2
	}
	e /= n
	m = Moments{N: int64(len(xs)), M1: p + e,
		M2: max(q2-n*e*e, 0),
		M3: q3 - 3*e*q2 + 2*n*e*e*e,
		M4: max(q4-4*e*q3+6*e*e*q2-3*n*e*e*e*e, 0)}
	if isFinite(m.M1) && isFinite(m.M2) && isFinite(m.M3) && isFinite(m.M4) {
		return m
	}
	m = Moments{}
	for _, x := range xs {
		m.Add(x)
	}
	return m
}

// grandMean is p + Σ nᵢ(m1ᵢ − p)/N with p the first non-empty part's mean,
// which keeps the sum small when all means share a large offset.
func grandMean(parts []Moments, n int64) float64 {
	var p float64
	for _, q := range parts {
		if q.N != 0 {
			p = q.M1
			break
		}
	}
	var s float64
	for _, q := range parts {
		if q.N != 0 {
			s += float64(q.N) * (q.M1 - p)
		}
	}
	if mean := p + s/float64(n); isFinite(mean) {
		return mean
	}
	var mean float64 // the deviations overflowed: means near ±MaxFloat64
	for _, q := range parts {
		mean += q.M1 * (float64(q.N) / float64(n))
	}
	return mean
}

// settle restores the invariants after arithmetic that overflowed: a
// non-finite mean comes with NaN central sums, and NaN is canonical.
func (m Moments) settle() Moments {
	if !isFinite(m.M1) {
		m.M2, m.M3, m.M4 = math.NaN(), math.NaN(), math.NaN()
	}
	return m.canon()
}

// canon replaces any NaN field by the canonical NaN so that every encoding
// round-trips bit for bit.
func (m Moments) canon() Moments {
	m.M1, m.M2, m.M3, m.M4 = canonNaN(m.M1), canonNaN(m.M2), canonNaN(m.M3), canonNaN(m.M4)
	return m
}

func isFinite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

func canonNaN(x float64) float64 {
	if math.IsNaN(x) {
		return math.NaN()
	}
	return x
}
