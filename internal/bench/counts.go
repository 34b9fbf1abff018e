package bench

import (
	"fmt"
	"strconv"
	"strings"
)

// ParseCounts reads a comma-separated list of positive row counts, each a
// number with an optional k (thousand) or M (million) suffix: "1M,10M",
// "100000", "250k".
func ParseCounts(s string) ([]int, error) {
	var out []int
	for _, part := range strings.Split(s, ",") {
		n, err := parseCount(strings.TrimSpace(part))
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}

func parseCount(orig string) (int, error) {
	s, mult := orig, 1
	switch {
	case strings.HasSuffix(s, "k"):
		mult, s = 1_000, strings.TrimSuffix(s, "k")
	case strings.HasSuffix(s, "M"):
		mult, s = 1_000_000, strings.TrimSuffix(s, "M")
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("bench: row count %q: want a positive number, optionally with k or M", orig)
	}
	if n > (1<<40)/mult {
		return 0, fmt.Errorf("bench: row count %q is too large", orig)
	}
	return n * mult, nil
}

// humanCount writes 1000000 as 1M and 100000 as 100k when exact.
func humanCount(n int) string {
	switch {
	case n >= 1_000_000 && n%1_000_000 == 0:
		return fmt.Sprintf("%dM", n/1_000_000)
	case n >= 1_000 && n%1_000 == 0:
		return fmt.Sprintf("%dk", n/1_000)
	}
	return strconv.Itoa(n)
}
