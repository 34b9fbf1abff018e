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

// TestTableWaits: a table that failed waits one tick, then twice as long
// after each failure up to a minute, while other tables stay due; a
// success makes it due again at once.
func TestTableWaits(t *testing.T) {
	var tw tableWaits
	tick := time.Second
	if !tw.due(1, time.Now()) {
		t.Fatal("a table that never failed is not due")
	}
	for _, want := range []time.Duration{1, 2, 4, 8, 16, 32, 60, 60} {
		if got := tw.done(1, true, tick); got != want*time.Second {
			t.Fatalf("wait %s, want %s", got, want*time.Second)
		}
	}
	now := time.Now()
	if tw.due(1, now) || !tw.due(1, now.Add(time.Minute+time.Second)) {
		t.Fatal("a failed table is due before its wait ends, or not after")
	}
	if !tw.due(2, now) {
		t.Fatal("another table waits for the failed one")
	}
	tw.done(1, false, tick)
	if !tw.due(1, now) || tw.done(1, true, tick) != tick {
		t.Fatal("a success does not reset the wait")
	}
}
