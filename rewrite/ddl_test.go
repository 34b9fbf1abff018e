package rewrite

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	pg "github.com/pganalyze/pg_query_go/v5"

	"spiral/internal/pgerr"
	"spiral/rollup"
)

var update = flag.Bool("update", false, "rewrite golden files")

// ddlDir holds the CREATE TABLE golden files: NAME.sql in, NAME.golden out.
const ddlDir = "../testdata/ddl"

// eachGolden runs f as a subtest for every NAME.sql in dir, with its text
// and the path of its golden file.
func eachGolden(t *testing.T, dir string, f func(t *testing.T, name, sql, golden string)) {
	inputs, err := filepath.Glob(filepath.Join(dir, "*.sql"))
	if err != nil || len(inputs) == 0 {
		t.Fatalf("no inputs in %s: %v", dir, err)
	}
	for _, in := range inputs {
		name := strings.TrimSuffix(filepath.Base(in), ".sql")
		t.Run(name, func(t *testing.T) {
			sql, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			f(t, name, string(sql), strings.TrimSuffix(in, ".sql")+".golden")
		})
	}
}

func TestDDLGolden(t *testing.T) {
	eachGolden(t, ddlDir, func(t *testing.T, _, sql, golden string) {
		st := Classify(sql)
		checkCreate(t, sql, st)
		compareGolden(t, golden, renderStatement(t, st))
	})
}

// checkCreate asserts the properties every classification must have:
// it is deterministic, and a CreateTracked's BaseSQL parses again, deparses
// to itself and is not itself a spiral statement.
func checkCreate(t *testing.T, sql string, st Statement) {
	t.Helper()
	if again := Classify(sql); !reflect.DeepEqual(st, again) {
		t.Errorf("Classify is not deterministic: %#v then %#v", st, again)
	}
	ct, ok := st.(*CreateTracked)
	if !ok {
		return
	}
	tree, err := pg.Parse(ct.BaseSQL)
	if err != nil || len(tree.Stmts) != 1 || tree.Stmts[0].Stmt.GetCreateStmt() == nil {
		t.Fatalf("BaseSQL %q does not parse as one CREATE TABLE: %v", ct.BaseSQL, err)
	}
	if again := Classify(ct.BaseSQL); again != (PassThrough{}) {
		t.Errorf("Classify(BaseSQL) = %#v, want PassThrough", again)
	}
	orig, err := pg.Parse(sql)
	if err != nil {
		t.Fatal(err)
	}
	if !reproduces(ct.BaseSQL, withoutSpiralOptions(orig)) {
		t.Errorf("BaseSQL %q does not parse to the original statement without its spiral options", ct.BaseSQL)
	}
}

// renderStatement is the golden text for a classification.
func renderStatement(t *testing.T, st Statement) string {
	t.Helper()
	switch v := st.(type) {
	case *CreateTracked:
		js, err := json.MarshalIndent(v.Table, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("-- base (if not exists: %v)\n%s\n-- table\n%s\n", v.IfNotExists, v.BaseSQL, js)
	case *Invalid:
		return fmt.Sprintf("-- error %s\n%s\n-- hint\n%s\n", v.Err.Code, v.Err.Message, v.Err.Hint)
	}
	return fmt.Sprintf("-- %T\n%+v\n", st, st)
}

// compareGolden compares got with the golden file, or rewrites it with
// -update.
func compareGolden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./rewrite -update)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (run go test ./rewrite -update and review the diff)\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

// createTracked classifies sql and fails t unless it is a CreateTracked.
func createTracked(t *testing.T, sql string) *CreateTracked {
	t.Helper()
	st := Classify(sql)
	ct, ok := st.(*CreateTracked)
	if !ok {
		if inv, ok := st.(*Invalid); ok {
			t.Fatalf("Classify: %s: %s (hint: %s)", inv.Err.Code, inv.Err.Message, inv.Err.Hint)
		}
		t.Fatalf("Classify = %#v, want *CreateTracked", st)
	}
	checkCreate(t, sql, st)
	return ct
}

func TestCreateTracked(t *testing.T) {
	ct := createTracked(t, `CREATE TABLE IF NOT EXISTS s."Ticks" (
  "T" timestamptz NOT NULL,
  sym int PRIMARY KEY,
  price double precision -- Spiral: max, min, max
) WITH (spiral.frames = '1m,1h', fillfactor = 70, spiral.tenant = 'SYM')`)
	want := rollup.Table{
		Schema: "s", Name: "Ticks", TimeColumn: "T", TimeZone: "UTC",
		ScopeColumns: []string{"sym"}, ScopeTypes: []string{"int4"},
		Columns: []rollup.Column{{Name: "price", Type: "float8", Kinds: []rollup.Kind{rollup.KindMin, rollup.KindMax}}},
	}
	got := ct.Table
	got.Frames = nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Table = %+v, want %+v", got, want)
	}
	if len(ct.Table.Frames) != 2 || !ct.IfNotExists {
		t.Errorf("Frames = %+v, IfNotExists = %v", ct.Table.Frames, ct.IfNotExists)
	}
	wantSQL := `CREATE TABLE IF NOT EXISTS s."Ticks" ("T" timestamptz NOT NULL, sym int PRIMARY KEY, price double precision) WITH (fillfactor=70)`
	if ct.BaseSQL != wantSQL {
		t.Errorf("BaseSQL = %q, want %q", ct.BaseSQL, wantSQL)
	}
}

func TestCreateErrors(t *testing.T) {
	const cols = "(t timestamptz NOT NULL, s int, v int)"
	for _, tc := range []struct {
		name, sql, code string
		parts           []string
	}{
		{"no frames", "CREATE TABLE x " + cols + " WITH (spiral.tenant = 's')", pgerr.InvalidParameterValue, []string{"spiral.frames is required"}},
		{"unknown option", "CREATE TABLE x " + cols + " WITH (spiral.frames = '1m', spiral.tenants = 's')", pgerr.InvalidParameterValue, []string{"spiral.tenants"}},
		{"unquoted value", "CREATE TABLE x " + cols + " WITH (spiral.frames = '1m', spiral.timezone = UTC)", pgerr.InvalidParameterValue, []string{"spiral.timezone", "quoted string"}},
		{"no value", "CREATE TABLE x " + cols + " WITH (spiral.frames)", pgerr.InvalidParameterValue, []string{"spiral.frames", "quoted string"}},
		{"option twice", "CREATE TABLE x " + cols + " WITH (spiral.frames = '1m', spiral.frames = '1h')", pgerr.InvalidParameterValue, []string{"spiral.frames", "more than once"}},
		{"bad frames", "CREATE TABLE x " + cols + " WITH (spiral.frames = 'often')", pgerr.InvalidParameterValue, []string{"spiral.frames", "often"}},
		{"empty timezone", "CREATE TABLE x " + cols + " WITH (spiral.frames = '1m', spiral.timezone = '')", pgerr.InvalidParameterValue, []string{"spiral.timezone"}},
		{"approximate not boolean", "CREATE TABLE x " + cols + " WITH (spiral.frames = '1m', spiral.approximate_percentiles = 'maybe')", pgerr.InvalidParameterValue, []string{"spiral.approximate_percentiles", "Boolean"}},
		{"approximate without sketches", "CREATE TABLE x " + cols + " WITH (spiral.frames = '1m', spiral.approximate_percentiles = 'on')", pgerr.InvalidParameterValue, []string{"sketch or tdigest"}},
		{"unknown zone", "CREATE TABLE x " + cols + " WITH (spiral.frames = '1m', spiral.timezone = 'Mars/Base')", pgerr.InvalidParameterValue, []string{"Mars/Base"}},
		{"zone misfit", "CREATE TABLE x " + cols + " WITH (spiral.frames = '1d,1mon', spiral.timezone = 'Europe/Berlin')", pgerr.InvalidParameterValue, []string{"Europe/Berlin"}},
		{"kind on text", "CREATE TABLE x (t timestamptz NOT NULL,\n s text -- Spiral: sum\n) WITH (spiral.frames = '1m')", pgerr.DatatypeMismatch, []string{`"s"`, "sum"}},
		{"bad tenant syntax", "CREATE TABLE x " + cols + " WITH (spiral.frames = '1m', spiral.tenant = 's v')", pgerr.InvalidParameterValue, []string{"spiral.tenant"}},
		{"tenant missing", "CREATE TABLE x " + cols + " WITH (spiral.frames = '1m', spiral.tenant = 'S, w')", pgerr.UndefinedColumn, []string{`"w"`, "spiral.tenant"}},
		{"tenant case", "CREATE TABLE x " + cols + ` WITH (spiral.frames = '1m', spiral.tenant = '"S"')`, pgerr.UndefinedColumn, []string{`"S"`}},
		{"tenant twice", "CREATE TABLE x " + cols + " WITH (spiral.frames = '1m', spiral.tenant = 's, S')", pgerr.InvalidParameterValue, []string{`"s"`, "more than once"}},
		{"tenant is time", "CREATE TABLE x " + cols + " WITH (spiral.frames = '1m', spiral.tenant = 't')", pgerr.InvalidParameterValue, []string{"time column"}},
		{"time column missing", "CREATE TABLE x " + cols + " WITH (spiral.frames = '1m', spiral.time_column = 'u')", pgerr.UndefinedColumn, []string{`"u"`, "spiral.time_column"}},
		{"time column type", "CREATE TABLE x " + cols + " WITH (spiral.frames = '1m', spiral.time_column = 's')", pgerr.InvalidParameterValue, []string{`"s"`, "int4", "timestamptz"}},
		{"time column two names", "CREATE TABLE x " + cols + " WITH (spiral.frames = '1m', spiral.time_column = 't, s')", pgerr.InvalidParameterValue, []string{"spiral.time_column"}},
		{"no timestamptz", "CREATE TABLE x (t timestamp NOT NULL) WITH (spiral.frames = '1m')", pgerr.InvalidParameterValue, []string{"timestamptz column"}},
		{"two timestamptz", "CREATE TABLE x (a timestamptz NOT NULL, b timestamptz) WITH (spiral.frames = '1m')", pgerr.InvalidParameterValue, []string{"several", "a, b"}},
		{"nullable time", "CREATE TABLE x (t timestamptz NULL) WITH (spiral.frames = '1m')", pgerr.InvalidParameterValue, []string{`"t"`, "NOT NULL"}},
		{"temp", "CREATE TEMP TABLE x " + cols + " WITH (spiral.frames = '1m')", pgerr.FeatureNotSupported, []string{"temporary"}},
		{"unlogged", "CREATE UNLOGGED TABLE x " + cols + " WITH (spiral.frames = '1m')", pgerr.FeatureNotSupported, []string{"unlogged"}},
		{"database name", "CREATE TABLE d.s.x " + cols + " WITH (spiral.frames = '1m')", pgerr.FeatureNotSupported, []string{"database-qualified"}},
		{"inherits", "CREATE TABLE x " + cols + " INHERITS (y) WITH (spiral.frames = '1m')", pgerr.FeatureNotSupported, []string{"INHERITS"}},
		{"partition by", "CREATE TABLE x " + cols + " PARTITION BY RANGE (t) WITH (spiral.frames = '1m')", pgerr.FeatureNotSupported, []string{"PARTITION BY"}},
		{"partition of", "CREATE TABLE x PARTITION OF y FOR VALUES FROM (1) TO (2) WITH (spiral.frames = '1m')", pgerr.FeatureNotSupported, []string{"PARTITION OF"}},
		{"of type", "CREATE TABLE x OF y WITH (spiral.frames = '1m')", pgerr.FeatureNotSupported, []string{"OF type"}},
		{"table constraint", "CREATE TABLE x (t timestamptz NOT NULL, UNIQUE (t)) WITH (spiral.frames = '1m')", pgerr.FeatureNotSupported, []string{"table constraints"}},
		{"like", "CREATE TABLE x (LIKE y, t timestamptz NOT NULL) WITH (spiral.frames = '1m')", pgerr.FeatureNotSupported, []string{"LIKE"}},
		{"duplicate column", "CREATE TABLE x (t timestamptz NOT NULL, T int) WITH (spiral.frames = '1m')", pgerr.DuplicateObject, []string{`"t"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantErr(t, invalid(t, Classify(tc.sql)), tc.code, tc.parts...)
		})
	}
}

func TestCanonicalType(t *testing.T) {
	for decl, want := range map[string]string{
		"int": "int4", "integer": "int4", "int4": "int4", "serial": "int4",
		"smallint": "int2", "int2": "int2", "bigint": "int8", "int8": "int8", "bigserial": "int8",
		"real": "float4", "float4": "float4", "float(24)": "float4", "float(25)": "float8",
		"double precision": "float8", "float8": "float8", "float": "float8",
		"numeric": "numeric", "numeric(10,2)": "numeric", "decimal": "numeric", "decimal(5)": "numeric",
		"timestamptz": "timestamptz", "timestamp with time zone": "timestamptz", "timestamptz(3)": "timestamptz",
		"timestamp": "timestamp", "timestamp without time zone": "timestamp",
		"text": "text", "varchar": "text", "varchar(10)": "text", "character varying(3)": "text",
		"char(2)": "bpchar", "uuid": "uuid", "boolean": "bool", "bool": "bool", "int[]": "int4[]",
		"public.mytype": "public.mytype", `"MyType"`: "MyType", "jsonb": "jsonb",
	} {
		tree, err := pg.Parse("CREATE TABLE x (c " + decl + ")")
		if err != nil {
			t.Fatalf("%s: %v", decl, err)
		}
		def := tree.Stmts[0].Stmt.GetCreateStmt().TableElts[0].GetColumnDef()
		if got := canonicalType(def.TypeName); got != want {
			t.Errorf("canonicalType(%s) = %q, want %q", decl, got, want)
		}
	}
}

func TestQuoteIdent(t *testing.T) {
	for in, want := range map[string]string{
		"t": "t", "a_1$": "a_1$", "T": `"T"`, "1a": `"1a"`, `a"b`: `"a""b"`, "": `""`, "a b": `"a b"`,
	} {
		if got := quoteIdent(in); got != want {
			t.Errorf("quoteIdent(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestSpliceBase(t *testing.T) {
	for _, tc := range []struct{ sql, want string }{
		{"CREATE TABLE t (a int) WITH (spiral.frames = '1m');", "CREATE TABLE t (a int)"},
		{"CREATE TABLE t (a int)\nWITH /* c */ (spiral.frames = '1m') TABLESPACE x", "CREATE TABLE t (a int)\n TABLESPACE x"},
		{"CREATE TABLE t (a int) WITH (fillfactor=70, spiral.frames = '1m', spiral.tenant = 'a')", "CREATE TABLE t (a int) WITH (fillfactor=70)"},
		{"CREATE TABLE t (a int) WITH (spiral.frames = '1m',\n toast.autovacuum_enabled = /* x */ false)", "CREATE TABLE t (a int) WITH (toast.autovacuum_enabled =   false)"},
		{"-- lead\nCREATE TABLE t (\n a int/*c*/NOT NULL, -- Spiral: sum\n b int -- tail\n) WITH (spiral.frames = '1m') ; ", "CREATE TABLE t (\n a int NOT NULL,\n b int\n)"},
	} {
		tree, err := pg.Parse(tc.sql)
		if err != nil {
			t.Fatal(err)
		}
		tokens, err := scanTokens(tc.sql)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := spliceBase(tc.sql, tokens, tree)
		if !ok || got != tc.want {
			t.Errorf("spliceBase(%q) = %q, %v; want %q", tc.sql, got, ok, tc.want)
		}
		if !reproduces(got, withoutSpiralOptions(tree)) {
			t.Errorf("spliceBase(%q) = %q does not reproduce the statement", tc.sql, got)
		}
	}
}
