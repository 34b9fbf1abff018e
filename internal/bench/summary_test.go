package bench

import (
	"slices"
	"testing"
)

func TestQuantileOf(t *testing.T) {
	xs := []float64{5, 1, 4, 2, 3}
	tests := []struct {
		name string
		xs   []float64
		q    float64
		want float64
	}{
		{"none", nil, 0.5, 0},
		{"median odd", xs, 0.5, 3},
		{"median even", []float64{4, 1, 3, 2}, 0.5, 2.5},
		{"min", xs, 0, 1},
		{"max", xs, 1, 5},
		{"p99 interpolates", xs, 0.99, 4.96},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := quantileOf(tt.xs, tt.q); got < tt.want-1e-12 || got > tt.want+1e-12 {
				t.Errorf("quantileOf(%v, %v) = %v, want %v", tt.xs, tt.q, got, tt.want)
			}
		})
	}
	if !slices.Equal(xs, []float64{5, 1, 4, 2, 3}) {
		t.Errorf("quantileOf sorted its input: %v", xs)
	}
}

func TestRatiosOf(t *testing.T) {
	got := ratiosOf([]float64{8, 9, 10}, []float64{10, 10})
	if !slices.Equal(got, []float64{0.8, 0.9}) {
		t.Errorf("ratiosOf = %v, want [0.8 0.9]", got)
	}
}
