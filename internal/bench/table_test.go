package bench

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestMedian(t *testing.T) {
	tests := []struct {
		name string
		tps  []float64
		want float64
	}{
		{"none", nil, 0},
		{"one", []float64{5}, 5},
		{"odd", []float64{9, 1, 5}, 5},
		{"even", []float64{4, 1, 3, 2}, 2.5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var rs []pgbenchResult
			for _, x := range tt.tps {
				rs = append(rs, pgbenchResult{tps: x})
			}
			if got := median(rs, func(r pgbenchResult) float64 { return r.tps }); got != tt.want {
				t.Errorf("median(%v) = %v, want %v", tt.tps, got, tt.want)
			}
		})
	}
}

func TestWriteTable(t *testing.T) {
	s := samples{}
	c := cell{"simple", targetClients}
	for round, tps := range [][numTargets]float64{{300, 100, 90, 95}, {330, 110, 121, 110}, {270, 90, 99, 99}} {
		for target, x := range tps {
			s.add(c, target, pgbenchResult{tps: x, latencyMS: float64(round + 1)})
		}
	}
	if got := s.ratio(c, viaSpiral, viaPgBouncer); got != 0.99 {
		t.Errorf("ratio of medians = %v, want 0.99", got)
	}
	var buf bytes.Buffer
	info := runInfo{duration: time.Second, rounds: 3, scale: 1, cpus: 2}
	if err := writeTable(&buf, info, []cell{c}, s); err != nil {
		t.Fatal(err)
	}
	if got := s.ratio(c, viaSpiral, viaRelay); got != 1 {
		t.Errorf("spiral/go-relay = %v, want 1", got)
	}
	for _, want := range []string{"0.99x", "1.00x", "0.90 1.10 1.10", "simple 0.990x MISSED"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, buf.String())
		}
	}
}
