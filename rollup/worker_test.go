package rollup

import (
	"testing"
	"time"
)

// TestUntilNextTick: ticks start a period apart; one that overran its
// period is followed at once.
func TestUntilNextTick(t *testing.T) {
	for _, c := range []struct{ tick, took, want time.Duration }{
		{time.Second, time.Millisecond, 999 * time.Millisecond},
		{time.Second, 0, time.Second},
		{time.Second, time.Second, 0},
		{time.Second, 3 * time.Second, 0},
	} {
		if got := untilNextTick(c.tick, c.took); got != c.want {
			t.Errorf("untilNextTick(%s, %s) = %s, want %s", c.tick, c.took, got, c.want)
		}
	}
}
