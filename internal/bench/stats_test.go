package bench

import (
	"math"
	"testing"
)

func TestPercentileCont(t *testing.T) {
	sorted := []float64{-50, 1, 1000, 1e6}
	for _, c := range []struct{ q, want float64 }{
		{0, -50}, {1, 1e6}, {0.5, 500.5}, {0.25, -50 + 51*0.75}, {0.9, 1000 + (1e6-1000)*0.7},
	} {
		if got := percentileCont(sorted, c.q); math.Abs(got-c.want) > 1e-9*math.Abs(c.want) {
			t.Errorf("percentileCont(%v) = %v, want %v", c.q, got, c.want)
		}
	}
}

func TestRankErr(t *testing.T) {
	sorted := []float64{1, 2, 2, 2, 3} // fractional ranks 0, .25-.75, 1
	for _, c := range []struct{ v, q, want float64 }{
		{2, 0.5, 0}, {2, 0.25, 0}, {2, 0.75, 0}, {2, 0.9, 0.15},
		{1, 0, 0}, {1, 0.1, 0.1}, {3, 1, 0}, {2.5, 0.8, 0},
		{2.5, 0.5, 0.25}, {0, 0.1, 0.1}, {4, 0.5, 0.5},
	} {
		if got := rankErr(sorted, c.v, c.q); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("rankErr(%v, %v) = %v, want %v", c.v, c.q, got, c.want)
		}
	}
}
