package bench

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestWriteLagTable(t *testing.T) {
	results := []lagResult{
		{tick: time.Second, sent: 600_000, elapsed: 60 * time.Second, lags: []float64{0.5, 1, 1.5, 1.9},
			written: 1000, drain: 1500 * time.Millisecond, drained: true},
		{tick: 100 * time.Millisecond, sent: 590_000, elapsed: 60 * time.Second, lags: []float64{1, 30, 59},
			written: 900, remaining: 800, drain: lagDrainCap},
	}
	var buf bytes.Buffer
	if err := writeLagTable(&buf, []string{"header"}, results); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"10000", "1.25", "1.90", "1.5", "p99 < 2 s met", // first run
		"100ms", "9833", "> 60", "p99 < 2 s MISSED", // second run
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

func TestLagOptionsValidate(t *testing.T) {
	if err := DefaultLagOptions().Validate(); err != nil {
		t.Errorf("defaults: %v", err)
	}
	bad := []func(*LagOptions){
		func(o *LagOptions) { o.Rate = 0 },
		func(o *LagOptions) { o.Duration = 0 },
		func(o *LagOptions) { o.Interval = 0 },
		func(o *LagOptions) { o.Ticks = nil },
		func(o *LagOptions) { o.Ticks = []time.Duration{-time.Second} },
	}
	for i, f := range bad {
		o := DefaultLagOptions()
		f(&o)
		if o.Validate() == nil {
			t.Errorf("case %d: %+v: no error", i, o)
		}
	}
}
