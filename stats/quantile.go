package stats

import (
	"errors"
	"fmt"
	"math"
)

// Errors shared by the sketch wrappers.
var (
	// ErrNotFinite reports a NaN or infinite value given to a sketch.
	ErrNotFinite = errors.New("stats: sketch value is NaN or infinite")
	// ErrOutOfRange reports a finite value too large for a sketch to index.
	ErrOutOfRange = errors.New("stats: value outside the sketch's range")
	// ErrEmpty reports a quantile asked of an empty sketch (SQL NULL).
	ErrEmpty = errors.New("stats: empty sketch")
	// ErrQuantile reports a quantile outside [0, 1] or NaN.
	ErrQuantile = errors.New("stats: quantile must be in [0, 1]")
	// ErrMismatch reports a merge of sketches with different parameters.
	ErrMismatch = errors.New("stats: sketches have different parameters")
	// ErrInvalidSketch reports an encoded sketch that fails validation.
	ErrInvalidSketch = errors.New("stats: invalid sketch encoding")
)

func checkQuantile(q float64) error {
	if !(q >= 0 && q <= 1) {
		return fmt.Errorf("%w: %v", ErrQuantile, q)
	}
	return nil
}

func checkFinite(x float64) error {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return fmt.Errorf("%w: %v", ErrNotFinite, x)
	}
	return nil
}

// quantiles evaluates one quantile function at many points.
func quantiles(qs []float64, quantile func(float64) (float64, error)) ([]float64, error) {
	out := make([]float64, len(qs))
	for i, q := range qs {
		v, err := quantile(q)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

// interpolate is percentile_cont's step between the values at ranks ⌊r⌋ and
// ⌈r⌉ (f = r − ⌊r⌋), written so that it cannot overflow.
func interpolate(lo, hi, f float64) float64 {
	if f == 0 || lo == hi {
		return lo
	}
	return (1-f)*lo + f*hi
}
