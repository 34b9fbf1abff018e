package stats

import (
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
)

// eps is the unit roundoff of float64.
const eps = 0x1p-53

// exactMoments computes the moments of xs in 600-bit arithmetic and rounds
// them once: the reference every float64 result is held to.
func exactMoments(xs []float64) Moments {
	const prec = 600
	newF := func() *big.Float { return new(big.Float).SetPrec(prec) }
	sum := newF()
	for _, x := range xs {
		sum.Add(sum, newF().SetFloat64(x))
	}
	if len(xs) == 0 {
		return Moments{}
	}
	mean := newF().Quo(sum, newF().SetInt64(int64(len(xs))))
	m := [3]*big.Float{newF(), newF(), newF()}
	for _, x := range xs {
		d := newF().SetFloat64(x)
		d.Sub(d, mean)
		p := newF().Set(d)
		for k := range m {
			p.Mul(p, d)
			m[k].Add(m[k], p)
		}
	}
	f := func(b *big.Float) float64 { v, _ := b.Float64(); return v }
	return Moments{N: int64(len(xs)), M1: f(mean), M2: f(m[0]), M3: f(m[1]), M4: f(m[2])}
}

// closeTo checks got against the exact moments want. The mean must agree to
// 1e-12 of |mean|+σ; the central sums to 1e-12 plus 16·ε·κ relative, where
// κ = |mean|/σ is the data's condition number: a float64 mean cannot be
// closer than ε·|mean|, and every central sum inherits that error divided by
// σ. m3 is measured against the scale m2^1.5/√n (its size at skewness 1).
func closeTo(got, want Moments) error {
	if got.N != want.N {
		return fmt.Errorf("n = %d, want %d", got.N, want.N)
	}
	if want.N == 0 {
		if got != (Moments{}) {
			return fmt.Errorf("empty state = %+v", got)
		}
		return nil
	}
	n := float64(want.N)
	sigma := math.Sqrt(want.M2 / n)
	if d := math.Abs(got.M1 - want.M1); d > 1e-12*(math.Abs(want.M1)+sigma) {
		return fmt.Errorf("m1 = %v, want %v (diff %.3g)", got.M1, want.M1, d)
	}
	tol := 1e-12
	if sigma > 0 {
		tol += 16 * eps * math.Abs(want.M1) / sigma
	}
	scales := [3]float64{want.M2, math.Pow(want.M2, 1.5) / math.Sqrt(n), want.M4}
	for i, g := range [3]float64{got.M2, got.M3, got.M4} {
		w := [3]float64{want.M2, want.M3, want.M4}[i]
		if d := math.Abs(g - w); d > tol*scales[i] {
			return fmt.Errorf("m%d = %v, want %v (relative error %.3g > %.3g)", i+2, g, w, d/scales[i], tol)
		}
	}
	return nil
}

// dataset generates n values of one distribution.
type dataset struct {
	name string
	gen  func(r *rand.Rand) float64
}

var datasets = []dataset{
	{"normal", func(r *rand.Rand) float64 { return r.NormFloat64() }},
	{"1e9+N(0,1)", func(r *rand.Rand) float64 { return 1e9 + r.NormFloat64() }},
	{"1e9+N(0,1e-3)", func(r *rand.Rand) float64 { return 1e9 + 1e-3*r.NormFloat64() }},
	{"-1e12+N(0,1e3)", func(r *rand.Rand) float64 { return -1e12 + 1e3*r.NormFloat64() }},
	{"epoch-micros", func(r *rand.Rand) float64 { return 1.7e15 + float64(r.IntN(3_600_000_000)) }},
	{"lognormal", func(r *rand.Rand) float64 { return math.Exp(2 * r.NormFloat64()) }},
	{"uniform", func(r *rand.Rand) float64 { return 2000*r.Float64() - 1000 }},
	{"small-ints", func(r *rand.Rand) float64 { return float64(r.IntN(5)) }},
	{"two-clusters", func(r *rand.Rand) float64 { return float64(2*r.IntN(2)-1)*1e6 + r.NormFloat64() }},
}

func sample(r *rand.Rand, d dataset, n int) []float64 {
	xs := make([]float64, n)
	for i := range xs {
		xs[i] = d.gen(r)
	}
	return xs
}

func onePass(xs []float64) Moments {
	var m Moments
	for _, x := range xs {
		m.Add(x)
	}
	return m
}

// seeded runs f for each seed in [1, count] with its own generator and
// names the seed in any failure.
func seeded(t *testing.T, count int, f func(t *testing.T, r *rand.Rand)) {
	t.Helper()
	for seed := uint64(1); seed <= uint64(count); seed++ {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			f(t, rand.New(rand.NewPCG(seed, 0x5eed)))
		})
	}
}

func TestMomentsMergeEqualsOnePass(t *testing.T) {
	seeded(t, 120, func(t *testing.T, r *rand.Rand) {
		d := datasets[r.IntN(len(datasets))]
		xs := sample(r, d, r.IntN(3000))
		cut := 0
		if len(xs) > 0 {
			cut = r.IntN(len(xs) + 1)
		}
		a, b := onePass(xs[:cut]), onePass(xs[cut:])
		merged := a
		merged.Merge(b)
		want := exactMoments(xs)
		for name, got := range map[string]Moments{
			"one pass": onePass(xs), "merge": merged, "MergeAll": MergeAll([]Moments{a, b}),
		} {
			if err := closeTo(got, want); err != nil {
				t.Errorf("%s, %s, n=%d cut=%d: %v", d.name, name, len(xs), cut, err)
			}
		}
	})
}

func TestMomentsMergeAssociativeCommutative(t *testing.T) {
	seeded(t, 60, func(t *testing.T, r *rand.Rand) {
		d := datasets[r.IntN(len(datasets))]
		parts := make([]Moments, 3)
		var all []float64
		for i := range parts {
			xs := sample(r, d, r.IntN(500))
			parts[i] = onePass(xs)
			all = append(all, xs...)
		}
		a, b, c := parts[0], parts[1], parts[2]
		want := exactMoments(all)
		for name, got := range map[string]Moments{
			"(a+b)+c": merged(merged(a, b), c),
			"a+(b+c)": merged(a, merged(b, c)),
			"(c+a)+b": merged(merged(c, a), b),
			"b+(c+a)": merged(b, merged(c, a)),
			"all":     MergeAll([]Moments{c, b, a}),
		} {
			if err := closeTo(got, want); err != nil {
				t.Errorf("%s %s: %v", d.name, name, err)
			}
		}
	})
}

func merged(a, b Moments) Moments {
	a.Merge(b)
	return a
}

// TestMomentsTreeMerge rolls up 60 × 24 × 30 partitions (minutes, hours,
// days of a month) with a different merge at each level, as the worker and
// the rewriter do, and compares the month with one pass over all values.
func TestMomentsTreeMerge(t *testing.T) {
	for i, d := range []dataset{datasets[1], datasets[4], datasets[5], datasets[8]} {
		t.Run(d.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(i+1), 0x72ee))
			var all []float64
			days := make([]Moments, 30)
			for day := range days {
				hours := make([]Moments, 24)
				for h := range hours {
					for range 60 {
						xs := sample(r, d, r.IntN(4)) // some minutes are empty
						all = append(all, xs...)
						hours[h].Merge(onePass(xs))
					}
				}
				days[day] = MergeAll(hours)
			}
			var month Moments
			for _, day := range days {
				month.Merge(day)
			}
			want := exactMoments(all)
			if err := closeTo(month, want); err != nil {
				t.Errorf("tree merge of %d values: %v", len(all), err)
			}
			if err := closeTo(onePass(all), want); err != nil {
				t.Errorf("one pass of %d values: %v", len(all), err)
			}
		})
	}
}

// naiveMoments computes the moments from raw power sums Σx^k: the textbook
// method that the property tests must be able to reject.
func naiveMoments(xs []float64) Moments {
	var s [5]float64
	for _, x := range xs {
		s[1] += x
		s[2] += x * x
		s[3] += x * x * x
		s[4] += x * x * x * x
	}
	n := float64(len(xs))
	m := s[1] / n
	return Moments{
		N: int64(len(xs)), M1: m,
		M2: s[2] - n*m*m,
		M3: s[3] - 3*m*s[2] + 2*n*m*m*m,
		M4: s[4] - 4*m*s[3] + 6*m*m*s[2] - 3*n*m*m*m*m,
	}
}

// TestMomentsCheckRejectsNaivePowerSums shows that closeTo, the check used by
// the property tests, fails a wrong implementation on offset data.
func TestMomentsCheckRejectsNaivePowerSums(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	for _, d := range []dataset{datasets[1], datasets[2], datasets[4]} {
		xs := sample(r, d, 1000)
		if err := closeTo(naiveMoments(xs), exactMoments(xs)); err == nil {
			t.Errorf("%s: naive power sums passed the check", d.name)
		}
		if err := closeTo(onePass(xs), exactMoments(xs)); err != nil {
			t.Errorf("%s: Welford failed the check: %v", d.name, err)
		}
	}
}

func TestMomentsFinishers(t *testing.T) {
	type res struct {
		v  float64
		ok bool
	}
	null := res{}
	nan := res{math.NaN(), true}
	inf := math.Inf(1)
	for _, c := range []struct {
		name                                string
		xs                                  []float64
		avg, varPop, varSamp, sdPop, sdSamp res
		skew, kurt                          res
	}{
		{"empty", nil, null, null, null, null, null, null, null},
		{"one", []float64{3}, res{3, true}, res{0, true}, null, res{0, true}, null, null, null},
		{"1..4", []float64{1, 2, 3, 4}, res{2.5, true}, res{1.25, true}, res{5.0 / 3, true},
			res{math.Sqrt(1.25), true}, res{math.Sqrt(5.0 / 3), true}, res{0, true}, res{-1.36, true}},
		{"skewed", []float64{0, 0, 0, 3}, res{0.75, true}, res{1.6875, true}, res{2.25, true},
			res{math.Sqrt(1.6875), true}, res{1.5, true}, res{2 / math.Sqrt(3), true}, res{-2.0 / 3, true}},
		{"constant", []float64{7, 7, 7}, res{7, true}, res{0, true}, res{0, true}, res{0, true}, res{0, true}, null, null},
		// NaN and infinities as PostgreSQL's float8 aggregates treat them.
		{"one NaN", []float64{math.NaN()}, nan, nan, null, nan, null, nan, nan},
		{"one +Inf", []float64{inf}, res{inf, true}, nan, null, nan, null, nan, nan},
		{"finite and +Inf", []float64{1, inf, 2}, res{inf, true}, nan, nan, nan, nan, nan, nan},
		{"finite and -Inf", []float64{-inf, 5}, res{-inf, true}, nan, nan, nan, nan, nan, nan},
		{"+Inf and -Inf", []float64{inf, 1, -inf}, nan, nan, nan, nan, nan, nan, nan},
		{"finite and NaN", []float64{1, math.NaN(), 2}, nan, nan, nan, nan, nan, nan, nan},
		{"Inf then NaN", []float64{inf, math.NaN()}, nan, nan, nan, nan, nan, nan, nan},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := onePass(c.xs)
			check := func(name string, got float64, ok bool, want res) {
				t.Helper()
				if ok != want.ok || (ok && !approx(got, want.v)) {
					t.Errorf("%s = %v, %v; want %v, %v", name, got, ok, want.v, want.ok)
				}
			}
			v, ok := m.Avg()
			check("avg", v, ok, c.avg)
			v, ok = m.VarPop()
			check("var_pop", v, ok, c.varPop)
			v, ok = m.VarSamp()
			check("var_samp", v, ok, c.varSamp)
			v, ok = m.StddevPop()
			check("stddev_pop", v, ok, c.sdPop)
			v, ok = m.StddevSamp()
			check("stddev_samp", v, ok, c.sdSamp)
			v, ok = m.Skewness()
			check("skewness", v, ok, c.skew)
			v, ok = m.Kurtosis()
			check("kurtosis", v, ok, c.kurt)
		})
	}
}

// approx is equality within 1e-14 relative, with NaN equal to NaN and
// infinities equal to themselves.
func approx(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) || math.IsInf(a, 0) || math.IsInf(b, 0) {
		return sameFloat(a, b)
	}
	return math.Abs(a-b) <= 1e-14*math.Max(1, math.Abs(b))
}

// TestMomentsNonFiniteMergeMatchesOnePass scatters NaN and infinities over
// random partitions: every way of merging must give exactly the one-pass
// state, and m1 must be what PostgreSQL's Σx/N gives.
func TestMomentsNonFiniteMergeMatchesOnePass(t *testing.T) {
	specials := []float64{math.NaN(), math.Inf(1), math.Inf(-1)}
	seeded(t, 200, func(t *testing.T, r *rand.Rand) {
		xs := sample(r, datasets[0], 1+r.IntN(50))
		for range 1 + r.IntN(3) {
			xs[r.IntN(len(xs))] = specials[r.IntN(r.IntN(3)+1)]
		}
		var parts []Moments
		var pairwise Moments
		for lo := 0; lo < len(xs); {
			hi := lo + r.IntN(len(xs)-lo+1)
			p := onePass(xs[lo:hi])
			parts = append(parts, p)
			pairwise.Merge(p)
			lo = hi
		}
		want := onePass(xs)
		var sum float64
		for _, x := range xs {
			sum += x
		}
		if !sameFloat(want.M1, sum/float64(len(xs))) {
			t.Errorf("%v: m1 = %v, PostgreSQL avg = %v", xs, want.M1, sum/float64(len(xs)))
		}
		for name, got := range map[string]Moments{"merge": pairwise, "MergeAll": MergeAll(parts)} {
			if !sameMoments(got, want) {
				t.Errorf("%v: %s = %v, one pass = %v", xs, name, got, want)
			}
		}
	})
}

func TestMomentsMergeEmptyIsIdentity(t *testing.T) {
	a := onePass([]float64{1, 2, 3.5})
	for name, got := range map[string]Moments{
		"a+0":       merged(a, Moments{}),
		"0+a":       merged(Moments{}, a),
		"all(0a00)": MergeAll([]Moments{{}, a, {}, {}}),
	} {
		if !sameMoments(got, a) {
			t.Errorf("%s = %v, want %v", name, got, a)
		}
	}
	if got := MergeAll(nil); got != (Moments{}) {
		t.Errorf("MergeAll(nil) = %v", got)
	}
}

// sameMoments is field-wise bit equality (NaN is canonical in every state).
func sameMoments(a, b Moments) bool {
	bits := math.Float64bits
	return a.N == b.N && bits(a.M1) == bits(b.M1) && bits(a.M2) == bits(b.M2) &&
		bits(a.M3) == bits(b.M3) && bits(a.M4) == bits(b.M4)
}

func BenchmarkMomentsAdd(b *testing.B) {
	var m Moments
	x := 1e9
	for b.Loop() {
		m.Add(x)
		x += 0.5
	}
}

func BenchmarkMomentsMerge(b *testing.B) {
	p := onePass([]float64{1, 2, 3, 4, 5})
	var m Moments
	for b.Loop() {
		m.Merge(p)
	}
}

func BenchmarkMomentsMergeAll60(b *testing.B) {
	parts := make([]Moments, 60)
	for i := range parts {
		parts[i] = onePass([]float64{float64(i), float64(2 * i), 1})
	}
	for b.Loop() {
		MergeAll(parts)
	}
}

// TestMomentsExtremeValuesStayValid feeds values near the float64 limits,
// where the arithmetic overflows, and checks that every state Add, Merge and
// MergeAll produce is valid and encodable, and that finite inputs keep a
// finite mean.
func TestMomentsExtremeValuesStayValid(t *testing.T) {
	pool := []float64{1.7e308, -1.7e308, math.MaxFloat64, -math.MaxFloat64, 1e300, -1e300,
		1e-300, 0, 1, -1, 1e77, -1e154}
	seeded(t, 300, func(t *testing.T, r *rand.Rand) {
		xs := make([]float64, 1+r.IntN(12))
		for i := range xs {
			xs[i] = pool[r.IntN(len(pool))]
		}
		var parts []Moments
		var pairwise Moments
		for lo := 0; lo < len(xs); {
			hi := lo + 1 + r.IntN(len(xs)-lo)
			p := onePass(xs[lo:hi])
			parts = append(parts, p)
			pairwise.Merge(p)
			lo = hi
		}
		for name, m := range map[string]Moments{"one pass": onePass(xs), "merge": pairwise, "MergeAll": MergeAll(parts)} {
			if err := m.Validate(); err != nil {
				t.Fatalf("%v %s: %v: %v", xs, name, m, err)
			}
			if !isFinite(m.M1) {
				t.Errorf("%v %s: finite inputs gave mean %v", xs, name, m.M1)
			}
			if avg, _ := m.Avg(); math.Abs(avg) > math.MaxFloat64 {
				t.Errorf("%v %s: avg %v", xs, name, avg)
			}
		}
	})
}

// TestFromValuesAgreesWithAdd: FromValues is a valid state for any values,
// the count and mean of folding them with Add (the sums too, within
// rounding) when the values are finite, and exactly Add's state when they
// are not.
func TestFromValuesAgreesWithAdd(t *testing.T) {
	pool := []float64{0, 1, -1, 2.5, 1e9 + 0.001, 1e9 - 0.003, 1e300, -1.7e308, math.MaxFloat64,
		1e-300, math.Inf(1), math.Inf(-1), math.NaN()}
	seeded(t, 300, func(t *testing.T, r *rand.Rand) {
		xs := make([]float64, r.IntN(20))
		for i := range xs {
			xs[i] = pool[r.IntN(len(pool))]
			if r.IntN(2) == 0 {
				xs[i] = 1e3 * r.NormFloat64()
			}
		}
		got, want := FromValues(xs), onePass(xs)
		if err := got.Validate(); err != nil {
			t.Fatalf("%v: %v: %v", xs, got, err)
		}
		if !isFinite(want.M1) || !isFinite(want.M2) || !isFinite(want.M4) {
			if !sameMoments(got, want) {
				t.Fatalf("%v: FromValues %v, Add %v", xs, got, want)
			}
			return
		}
		if got.N != want.N || !near(got.M1, want.M1, 1e-9) || !near(got.M2, want.M2, 1e-6) {
			t.Fatalf("%v: FromValues %v, Add %v", xs, got, want)
		}
	})
}

func near(a, b, rel float64) bool {
	return math.Abs(a-b) <= rel*math.Max(math.Max(math.Abs(a), math.Abs(b)), 1e-300)
}

// TestFromValuesOfOffsetData: on data with a large common offset the mean
// is the correctly rounded mean, where Add's running mean drifts by several
// ulps, and the third central sum of two values is 0, where deviations from
// a rounded mean leave noise.
func TestFromValuesOfOffsetData(t *testing.T) {
	xs := make([]float64, 2000)
	for i := range xs {
		xs[i] = 1e9 + float64(i%13)*0.001
	}
	exact := new(big.Float).SetPrec(200)
	for _, x := range xs {
		exact.Add(exact, big.NewFloat(x))
	}
	want, _ := exact.Quo(exact, big.NewFloat(float64(len(xs)))).Float64()
	if got := FromValues(xs); got.M1 != want {
		t.Errorf("mean %v, want %v (Add: %v)", got.M1, want, onePass(xs).M1)
	}
	if got := FromValues([]float64{1e9 + 0.001, 1e9 + 0.01}); got.M3 != 0 {
		t.Errorf("m3 of two values %v, want 0 (Add: %v)", got.M3, onePass([]float64{1e9 + 0.001, 1e9 + 0.01}).M3)
	}
}
