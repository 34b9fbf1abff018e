package rewrite

import (
	"strings"
	"testing"
)

// TestOneRowGroups checks which blocks finish the coarsest tier's rows one
// by one: only those whose time bucket is that tier's bucket and whose
// scope columns are all keys or pinned to one value. The differential test
// (internal/engine) checks the answers.
func TestOneRowGroups(t *testing.T) {
	const week = ` FROM ticks WHERE t >= '2024-01-01' AND t < '2024-01-08' `
	cases := []struct {
		sql string
		one bool
	}{
		{`SELECT date_trunc('hour', t), sym, max(price), sum(vol), avg(price), count(*)` + week + `GROUP BY 1, 2`, true},
		{`SELECT date_trunc('day', t) AS d, sym, min(price) FROM ticks GROUP BY d, sym HAVING min(price) > 1 ORDER BY 3 DESC`, true},
		{`SELECT date_trunc('hour', t), max(price)` + week + `AND sym = 7 GROUP BY 1`, true},
		{`SELECT date_bin('1 hour', t, '2000-01-01'), sym, count(*)` + week + `GROUP BY 1, 2`, true},
		{`SELECT date_trunc('month', t), sym, sum(vol)` + week + `GROUP BY 1, 2`, true},
		{`SELECT date_trunc('hour', t), max(price)` + week + `AND sym IN (1, 2) GROUP BY 1`, false},
		{`SELECT date_trunc('hour', t), max(price)` + week + `GROUP BY 1`, false},
		{`SELECT date_trunc('hour', t)::date, sym, max(price)` + week + `GROUP BY 1, 2`, false},
		{`SELECT date_trunc('hour', t)::date, max(price)` + week + `AND sym = 7 GROUP BY 1`, false},
		{`SELECT date_trunc('week', t), sym, max(price)` + week + `GROUP BY 1, 2`, false},
		{`SELECT date_trunc('hour', t), sym, stddev(price)` + week + `GROUP BY 1, 2`, false},
		{`SELECT sym, max(price)` + week + `GROUP BY 1`, false},
		{`SELECT max(price)` + week, false},
	}
	for _, c := range cases {
		out, err := Query(c.sql, testCatalog(), Settings{TimeZone: "UTC"})
		if err != nil {
			t.Errorf("%s: %v", c.sql, err)
			continue
		}
		if got := strings.Contains(out, " AS f1"); got != c.one {
			t.Errorf("%s: one-row groups = %v, want %v\n%s", c.sql, got, c.one, out)
		}
	}
}
