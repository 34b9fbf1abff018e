package bench

import (
	"slices"
	"testing"
)

func TestParseCounts(t *testing.T) {
	tests := []struct {
		in      string
		want    []int
		wantErr bool
	}{
		{"1000000", []int{1_000_000}, false},
		{"1M,10M", []int{1_000_000, 10_000_000}, false},
		{"100k, 250k", []int{100_000, 250_000}, false},
		{"", nil, true},
		{"0", nil, true},
		{"-5", nil, true},
		{"1G", nil, true},
		{"1M,", nil, true},
		{"99999999999M", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseCounts(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseCounts(%q) err = %v, want error %v", tt.in, err, tt.wantErr)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("ParseCounts(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestHumanCount(t *testing.T) {
	for n, want := range map[int]string{1_000_000: "1M", 10_000_000: "10M", 100_000: "100k", 1_500: "1500", 1_500_000: "1500k", 7: "7"} {
		if got := humanCount(n); got != want {
			t.Errorf("humanCount(%d) = %q, want %q", n, got, want)
		}
	}
}
