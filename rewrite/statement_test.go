package rewrite

import (
	"reflect"
	"strings"
	"testing"

	"spiral/internal/pgerr"
)

// wantErr fails t unless err is a *pgerr.Error with code whose message
// contains every one of parts.
func wantErr(t *testing.T, err error, code string, parts ...string) {
	t.Helper()
	e := pgerr.As(err)
	if e == nil {
		t.Fatalf("error = %v, want a *pgerr.Error with code %s", err, code)
	}
	if e.Code != code {
		t.Errorf("code = %s, want %s (message %q)", e.Code, code, e.Message)
	}
	for _, p := range parts {
		if !strings.Contains(e.Message, p) {
			t.Errorf("message %q does not contain %q", e.Message, p)
		}
	}
	if e.Hint == "" {
		t.Errorf("error %q has no hint", e.Message)
	}
}

// invalid returns the error of an *Invalid statement, failing t otherwise.
func invalid(t *testing.T, st Statement) *pgerr.Error {
	t.Helper()
	inv, ok := st.(*Invalid)
	if !ok {
		t.Fatalf("Classify = %#v, want *Invalid", st)
	}
	return inv.Err
}

func TestClassifyPassThrough(t *testing.T) {
	for _, sql := range []string{
		"SELECT 1",
		"SELECT 'spiral'",
		"SELECT * FROM spiral.metadata",
		"SELECT spiral_lag('ticks')",
		"CREATE TABLE spiral_things (a int)",
		"CREATE TABLE t (a int) -- spiral rocks",
		"CREATE TABLE t (a int) WITH (fillfactor = 70) -- spiral",
		"SELECT spiral_refresh( FROM", // syntax error: PostgreSQL reports it
		`SELECT "SPIRAL_REFRESH"('t')`,
		"SELECT other.spiral_refresh('t')",
		"SELECT 1; SELECT * FROM spiral.status",
		"SELECT 'spiral\x00'",
		"SELECT spiral_refresh('caf\xe9')",
		"",
		"   ",
	} {
		if st := Classify(sql); st != (PassThrough{}) {
			t.Errorf("Classify(%q) = %#v, want PassThrough", sql, st)
		}
	}
}

func TestContainsFold(t *testing.T) {
	for s, want := range map[string]bool{
		"spiral": true, "SPIRAL": true, "xSpIrAlx": true, "spira": false, "": false, "s p i r a l": false,
	} {
		if got := containsFold(s, "spiral"); got != want {
			t.Errorf("containsFold(%q) = %v, want %v", s, got, want)
		}
	}
	// A tracked table's name may have upper-case and other letters.
	for s, want := range map[string]bool{
		`SELECT * FROM "Meter"`: true, `select * from meter`: true, `SELECT * FROM METER`: true, `SELECT * FROM "Zähler"`: false,
	} {
		if got := containsFold(s, "Meter"); got != want {
			t.Errorf("containsFold(%q, Meter) = %v, want %v", s, got, want)
		}
	}
	if !containsFold(`SELECT * FROM "Zähler"`, "zähler") || containsFold(`SELECT * FROM "Zähler"`, "ZÄhler") {
		t.Error("containsFold must fold ASCII letters only")
	}
}

func TestClassifyRefresh(t *testing.T) {
	for _, tc := range []struct {
		sql  string
		want RefreshCall
	}{
		{"SELECT spiral_refresh('ticks')", RefreshCall{Table: "ticks", Name: "ticks", Alias: "spiral_refresh"}},
		{"select SPIRAL_REFRESH('Ticks', 'symbol_id = 3');", RefreshCall{Table: "Ticks", Name: "ticks", Scope: "symbol_id = 3", Alias: "spiral_refresh"}},
		{"SELECT spiral.spiral_refresh('public.ticks') AS done", RefreshCall{Table: "public.ticks", Schema: "public", Name: "ticks", Alias: "done"}},
		{`SELECT Spiral.Spiral_Refresh('"My Schema"."Ticks"') "Result"`, RefreshCall{Table: `"My Schema"."Ticks"`, Schema: "My Schema", Name: "Ticks", Alias: "Result"}},
		{"/* c */ SELECT spiral_refresh('t', '') -- trailing", RefreshCall{Table: "t", Name: "t", Alias: "spiral_refresh"}},
	} {
		st := Classify(tc.sql)
		got, ok := st.(*RefreshCall)
		if !ok {
			t.Errorf("Classify(%q) = %#v, want *RefreshCall", tc.sql, st)
			continue
		}
		if *got != tc.want {
			t.Errorf("Classify(%q) = %+v, want %+v", tc.sql, *got, tc.want)
		}
	}
}

func TestClassifyRefreshErrors(t *testing.T) {
	for _, tc := range []struct {
		sql, code, part string
	}{
		{"SELECT spiral_refresh('t') FROM x", pgerr.FeatureNotSupported, "only item"},
		{"SELECT spiral_refresh('t') WHERE true", pgerr.FeatureNotSupported, "only item"},
		{"SELECT spiral_refresh('t'), 1", pgerr.FeatureNotSupported, "only item"},
		{"SELECT DISTINCT spiral_refresh('t')", pgerr.FeatureNotSupported, "only item"},
		{"SELECT spiral_refresh('t') LIMIT 1", pgerr.FeatureNotSupported, "only item"},
		{"SELECT spiral_refresh('t') UNION SELECT 1", pgerr.FeatureNotSupported, "only item"},
		{"SELECT coalesce(spiral_refresh('t'), 0)", pgerr.FeatureNotSupported, "only item"},
		{"SELECT * FROM spiral_refresh('t')", pgerr.FeatureNotSupported, "only item"},
		{"WITH x AS (SELECT 1) SELECT spiral_refresh('t')", pgerr.FeatureNotSupported, "only item"},
		{"EXPLAIN SELECT spiral_refresh('t')", pgerr.FeatureNotSupported, "not supported in this statement"},
		{"PREPARE p AS SELECT spiral_refresh('t')", pgerr.FeatureNotSupported, "not supported in this statement"},
		{"SELECT spiral_refresh()", pgerr.FeatureNotSupported, "one or two arguments"},
		{"SELECT spiral_refresh('a', 'b', 'c')", pgerr.FeatureNotSupported, "one or two arguments"},
		{"SELECT spiral_refresh(name)", pgerr.FeatureNotSupported, "argument 1 of spiral_refresh must be a string literal"},
		{"SELECT spiral_refresh($1)", pgerr.FeatureNotSupported, "argument 1"},
		{"SELECT spiral_refresh('t', 3)", pgerr.FeatureNotSupported, "argument 2"},
		{"SELECT spiral_refresh('t', NULL)", pgerr.FeatureNotSupported, "argument 2"},
		{"SELECT spiral_refresh('t'::text)", pgerr.FeatureNotSupported, "argument 1"},
		{"SELECT spiral_refresh(VARIADIC ARRAY['t'])", pgerr.FeatureNotSupported, "plain arguments"},
		{"SELECT spiral_refresh(DISTINCT 't')", pgerr.FeatureNotSupported, "plain arguments"},
		{"SELECT spiral_refresh('t') OVER ()", pgerr.FeatureNotSupported, "plain arguments"},
		{"SELECT spiral_refresh('')", pgerr.InvalidParameterValue, "invalid table name"},
		{"SELECT spiral_refresh('a.b.c')", pgerr.InvalidParameterValue, "invalid table name"},
		{`SELECT spiral_refresh('"t')`, pgerr.InvalidParameterValue, "invalid table name"},
		{"SELECT spiral_refresh('t; drop table x')", pgerr.InvalidParameterValue, "invalid table name"},
	} {
		t.Run(tc.sql, func(t *testing.T) {
			wantErr(t, invalid(t, Classify(tc.sql)), tc.code, tc.part)
		})
	}
}

func TestClassifyMultiStatement(t *testing.T) {
	for _, sql := range []string{
		"SELECT 1; SELECT spiral_refresh('t')",
		"SELECT spiral_refresh('t'); SELECT 1",
		"CREATE TABLE t (t timestamptz NOT NULL) WITH (spiral.frames = '1m'); SELECT 1",
		"ALTER TABLE t SET (spiral.frames = '1m'); ALTER TABLE u SET (fillfactor = 70)",
		"SELECT 1;\nCREATE TABLE t (\n  v int -- Spiral: sum\n)",
	} {
		wantErr(t, invalid(t, Classify(sql)), pgerr.FeatureNotSupported, "must be sent alone")
	}
	// A magic comment in another statement does not make a plain CREATE
	// TABLE a spiral statement.
	if st := Classify("SELECT 1 -- Spiral: sum\n; CREATE TABLE t (a int)"); st != (PassThrough{}) {
		t.Errorf("Classify = %#v, want PassThrough", st)
	}
}

func TestClassifyAlter(t *testing.T) {
	st := Classify("ALTER TABLE Public.\"Ticks\" SET (spiral.frames = '1m,1h', Spiral.Tenant = 'a, \"B\"'), SET (spiral.timezone = 'Europe/Berlin')")
	got, ok := st.(*AlterTracked)
	if !ok {
		t.Fatalf("Classify = %#v, want *AlterTracked", st)
	}
	want := &AlterTracked{Schema: "public", Name: "Ticks", Options: map[string]string{
		"frames": "1m,1h", "tenant": `a, "B"`, "timezone": "Europe/Berlin",
	}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Classify = %+v, want %+v", got, want)
	}
}

func TestClassifyAlterErrors(t *testing.T) {
	for _, tc := range []struct {
		sql, code, part string
	}{
		{"ALTER TABLE t SET (spiral.frames = '1m', fillfactor = 70)", pgerr.FeatureNotSupported, "mixed"},
		{"ALTER TABLE t SET (spiral.frames = '1m'), ADD COLUMN x int", pgerr.FeatureNotSupported, "SET (...)"},
		{"ALTER TABLE t RESET (spiral.frames)", pgerr.FeatureNotSupported, "RESET"},
		{"ALTER TABLE IF EXISTS t SET (spiral.frames = '1m')", pgerr.FeatureNotSupported, "IF EXISTS"},
		{"ALTER INDEX i SET (spiral.frames = '1m')", pgerr.FeatureNotSupported, "only be set on tables"},
		{"ALTER TABLE d.s.t SET (spiral.frames = '1m')", pgerr.FeatureNotSupported, "database-qualified"},
		{"ALTER TABLE t SET (spiral.frames = 'bogus')", pgerr.InvalidParameterValue, "spiral.frames"},
		{"ALTER TABLE t SET (spiral.tenant = 'a,,b')", pgerr.InvalidParameterValue, "spiral.tenant"},
		{"ALTER TABLE t SET (spiral.time_column = 'a b')", pgerr.InvalidParameterValue, "spiral.time_column"},
		{"ALTER TABLE t SET (spiral.timezone = ' ')", pgerr.InvalidParameterValue, "spiral.timezone"},
		{"ALTER TABLE t SET (spiral.color = 'red')", pgerr.InvalidParameterValue, "spiral.color"},
		{"ALTER TABLE t SET (spiral.frames = 60)", pgerr.InvalidParameterValue, "quoted string"},
		{"ALTER TABLE t SET (spiral.frames = '1m', spiral.frames = '1h')", pgerr.InvalidParameterValue, "more than once"},
	} {
		t.Run(tc.sql, func(t *testing.T) {
			wantErr(t, invalid(t, Classify(tc.sql)), tc.code, tc.part)
		})
	}
}

func TestClassifyOtherSpiralForms(t *testing.T) {
	for _, sql := range []string{
		"CREATE TABLE x WITH (spiral.frames = '1m') AS SELECT now() AS t",
		"CREATE INDEX i ON t (a) WITH (spiral.frames = '1m')",
		"CREATE MATERIALIZED VIEW v WITH (spiral.frames = '1m') AS SELECT 1",
	} {
		wantErr(t, invalid(t, Classify(sql)), pgerr.FeatureNotSupported, "not supported")
	}
}

func TestParseQualifiedName(t *testing.T) {
	for _, tc := range []struct {
		in, schema, name string
	}{
		{"ticks", "", "ticks"},
		{"Ticks", "", "ticks"},
		{" public . Ticks ", "public", "ticks"},
		{`"Public"."Ticks"`, "Public", "Ticks"},
		{`"a""b"`, "", `a"b`},
		{`"a.b"`, "", "a.b"},
		{"_x$1", "", "_x$1"},
		{"ÄBC", "", "Äbc"},
		{strings.Repeat("a", 70), "", strings.Repeat("a", 63)},
		{strings.Repeat("é", 40), "", strings.Repeat("é", 31)},
	} {
		schema, name, err := ParseQualifiedName(tc.in)
		if err != nil || schema != tc.schema || name != tc.name {
			t.Errorf("ParseQualifiedName(%q) = %q, %q, %v; want %q, %q", tc.in, schema, name, err, tc.schema, tc.name)
		}
	}
	for _, in := range []string{"", " ", "a.", ".a", "a.b.c", `""`, `"a`, "1a", "a b", "a-b", "a;b"} {
		if _, _, err := ParseQualifiedName(in); err == nil {
			t.Errorf("ParseQualifiedName(%q) succeeded, want an error", in)
		}
	}
}

func TestParseIdentList(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"  ", nil},
		{"symbol_id", []string{"symbol_id"}},
		{`Region, "Sensor ID"`, []string{"region", "Sensor ID"}},
		{`"a,b",c`, []string{"a,b", "c"}},
	} {
		got, err := ParseIdentList(tc.in)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseIdentList(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{"a,", ",a", "a,,b", "a b", "a.b", `"`} {
		if _, err := ParseIdentList(in); err == nil {
			t.Errorf("ParseIdentList(%q) succeeded, want an error", in)
		}
	}
}

func TestClassifySessionSettings(t *testing.T) {
	for sql, want := range map[string]Statement{
		"SET spiral.enable_rewrite = off":      &SessionSet{Name: "enable_rewrite", Value: "off"},
		"set SPIRAL.enable_rewrite to true":    &SessionSet{Name: "enable_rewrite", Value: "on"},
		"SET spiral.max_segments = 7":          &SessionSet{Name: "max_segments", Value: "7"},
		"SET LOCAL spiral.show_rewrite = 'on'": &SessionSet{Name: "show_rewrite", Value: "on"},
		"RESET spiral.max_segments":            &SessionSet{Name: "max_segments", Value: "50", Reset: true},
		"SHOW spiral.enable_rewrite":           &SessionShow{Name: "enable_rewrite"},
	} {
		if got := Classify(sql); !reflect.DeepEqual(got, want) {
			t.Errorf("Classify(%q) = %#v, want %#v", sql, got, want)
		}
	}
	for sql, code := range map[string]string{
		"SET spiral.enable_rewrite = maybe": "22023",
		"SET spiral.max_segments = 0":       "22023",
		"SET spiral.nonsense = 1":           "42704",
		"SHOW spiral.nonsense":              "42704",
	} {
		inv, ok := Classify(sql).(*Invalid)
		if !ok || inv.Err.Code != code {
			t.Errorf("Classify(%q) = %#v, want an error %s", sql, Classify(sql), code)
		}
	}
}

func TestChangesRole(t *testing.T) {
	for sql, want := range map[string]bool{
		"SET ROLE reader":                           true,
		"set  local\n role reader":                  true,
		"SELECT 1; SET SESSION AUTHORIZATION bob":   true,
		"SELECT role FROM users":                    false,
		"SELECT date_trunc('hour', t) FROM ticks":   false,
		"COMMENT ON ROLE x IS 'set role elsewhere'": false,
	} {
		if got := ChangesRole(sql); got != want {
			t.Errorf("ChangesRole(%q) = %v, want %v", sql, got, want)
		}
	}
}
