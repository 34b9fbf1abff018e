package rewrite

import (
	"testing"

	pg "github.com/pganalyze/pg_query_go/v5"

	"spiral/internal/pgerr"
)

// FuzzClassify checks that Classify never panics, that a refused statement
// carries a SQLSTATE, and that a CreateTracked's BaseSQL parses as one
// CREATE TABLE that is not itself a spiral statement.
func FuzzClassify(f *testing.F) {
	for _, s := range []string{
		"CREATE TABLE ticks (\n t timestamptz NOT NULL,\n symbol_id int NOT NULL,\n price double precision, -- Spiral: ohlcv, stats, sketch\n vol int -- Spiral: sum\n) WITH (spiral.frames = '1m,1h,1d,1mon', spiral.tenant = 'symbol_id');",
		`CREATE TABLE s."T" ("At" timestamptz NOT NULL, "Sensor ID" int) WITH (fillfactor = 70, spiral.frames = '1h', spiral.tenant = '"Sensor ID"', spiral.time_column = '"At"')`,
		"ALTER TABLE t SET (spiral.frames = '1m,1h')",
		"SELECT spiral_refresh('public.ticks', 'symbol_id IN (1, 2)') AS r",
		"SELECT 1; SELECT spiral_refresh('t')",
		"SELECT * FROM spiral.status",
		"CREATE TABLE t (t timestamptz NOT NULL,\n v int, -- Spiral: sum, max\n w int /* Spiral: sum */\n) WITH (spiral.frames = '1m', spiral.timezone = 'Europe/Berlin') -- Spiral: sum",
		"CREATE TABLE t (a int -- Spiral: sum\n)",
		"CREATE TEMP TABLE t (LIKE u, PRIMARY KEY (a)) INHERITS (v) WITH (spiral.frames = '1m')",
		"ALTER TABLE ONLY s.t SET (spiral.tenant = 'a, \"B\"'), RESET (spiral.timezone)",
		"SELECT spiral.spiral_refresh('\"S\".t', 'a = 1') \"X\" FROM t WHERE x",
		"CREATE INDEX i ON t (a) WITH (spiral.frames = '1m')",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, sql string) {
		switch st := Classify(sql).(type) {
		case *Invalid:
			if st.Err == nil || st.Err.Code == "" || st.Err.Code == pgerr.InternalError {
				t.Fatalf("Classify(%q) = invalid without a user-facing SQLSTATE: %+v", sql, st.Err)
			}
		case *CreateTracked:
			tree, err := pg.Parse(st.BaseSQL)
			if err != nil || len(tree.Stmts) != 1 || tree.Stmts[0].Stmt.GetCreateStmt() == nil {
				t.Fatalf("Classify(%q): BaseSQL %q does not parse as one CREATE TABLE: %v", sql, st.BaseSQL, err)
			}
			if again := Classify(st.BaseSQL); again != (PassThrough{}) {
				t.Fatalf("Classify(%q): BaseSQL %q is itself %#v", sql, st.BaseSQL, again)
			}
		}
	})
}

// FuzzParseScope checks that ParseScope never panics, that its errors carry
// SQLSTATE 22023 and that it only returns the scope columns, at most once
// each, with at least one value.
func FuzzParseScope(f *testing.F) {
	for _, s := range []string{
		"symbol_id = 3", "symbol_id IN (1, -2) AND region = 'eu'", `"Sensor ID" = 7`,
		"1 = 1; DROP TABLE x", "symbol_id = 1 OR region = 'x'", "w = -2.5e3",
	} {
		f.Add(s)
	}
	cols, types := []string{"symbol_id", "region", "Sensor ID", "w"}, []string{"int4", "text", "int8", "float8"}
	f.Fuzz(func(t *testing.T, pred string) {
		s, err := ParseScope(pred, cols, types)
		if err != nil {
			if e := pgerr.As(err); e == nil || e.Code != pgerr.InvalidParameterValue {
				t.Fatalf("ParseScope(%q): error %v without SQLSTATE 22023", pred, err)
			}
			return
		}
		seen := map[string]bool{}
		for _, c := range s.Conds {
			if !contains(cols, c.Column) || seen[c.Column] || len(c.Values) == 0 {
				t.Fatalf("ParseScope(%q) = %+v", pred, s)
			}
			seen[c.Column] = true
		}
	})
}

// FuzzQuery checks that Query never panics, fails only with a *Skip (any
// other error is a rewriter bug), and that what it returns parses.
func FuzzQuery(f *testing.F) {
	for _, s := range []string{
		"SELECT date_trunc('hour', t) AS h, sym, max(price), sum(vol), avg(price) FROM ticks WHERE t >= '2024-01-01' AND t < '2024-01-08' GROUP BY 1, 2 ORDER BY 1, 2",
		"SELECT date_trunc('day', t, 'Asia/Kolkata'), stddev(price) FROM public.ticks x WHERE x.t BETWEEN $1 AND $2 GROUP BY 1",
		"SELECT floor(extract(epoch from t)/60)*60 AS time, count(*) FROM ticks WHERE sym IN (1,2) GROUP BY 1 HAVING count(*) > 1 LIMIT 5",
		"WITH d AS (SELECT t::date, count(*) FROM ticks GROUP BY 1) SELECT * FROM d",
		"EXPLAIN ANALYZE SELECT sym, var_pop(price) FROM ticks GROUP BY sym",
		"SELECT date_bin('15 minutes', ts, '2000-01-01'), region, host, sum(v) FROM metrics WHERE ts > now() - interval '1 day' GROUP BY 1, 2, 3",
		"SELECT count(*) FROM ticks t JOIN u ON true",
		"SELECT date_trunc('month', t), sum(vol) FROM ticks GROUP BY ROLLUP (1)",
	} {
		f.Add(s, "UTC")
	}
	f.Fuzz(func(t *testing.T, sql, tz string) {
		out, err := Query(sql, testCatalog(), Settings{TimeZone: tz})
		if err != nil {
			if !IsSkip(err) {
				t.Fatalf("Query(%q) failed with a non-skip error: %v", sql, err)
			}
			return
		}
		if _, err := pg.Parse(out); err != nil {
			t.Fatalf("Query(%q) = %q, which does not parse: %v", sql, out, err)
		}
	})
}
