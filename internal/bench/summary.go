package bench

import "slices"

// medianOf is the median of xs; the mean of the middle two for an even
// count, 0 for none.
func medianOf(xs []float64) float64 {
	return quantileOf(xs, 0.5)
}

// quantileOf is percentile_cont(q) of xs (linear between closest ranks),
// 0 for none. xs is not modified.
func quantileOf(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	sorted := slices.Clone(xs)
	slices.Sort(sorted)
	return percentileCont(sorted, q)
}

// ratiosOf are a[i]/b[i] for the rounds both have.
func ratiosOf(a, b []float64) []float64 {
	out := make([]float64, min(len(a), len(b)))
	for i := range out {
		out[i] = a[i] / b[i]
	}
	return out
}

// verdict says whether ok held, in the tables' words.
func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}
