package rollup

import (
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// updateGolden is the package's -update flag: `go test ./rollup -run Golden
// -update` rewrites testdata/*.golden.
var updateGolden = flag.Bool("update", false, "rewrite testdata golden files")

// goldenTables are representative tables for the generated SQL.
func goldenTables(t *testing.T) map[string]*Table {
	t.Helper()
	tables := map[string]*Table{
		"ticks": {
			Schema: "public", Name: "ticks", TimeColumn: "t",
			ScopeColumns: []string{"symbol_id"}, ScopeTypes: []string{"int4"},
			Frames: mustFrames(t, "1m,1h,1d,1mon"),
			Columns: []Column{
				{Name: "price", Type: "float8", Kinds: []Kind{KindOHLCV, KindStats}},
				{Name: "vol", Type: "int4", Kinds: []Kind{KindSum, KindMax}},
				{Name: "qty", Type: "numeric(12,2)", Kinds: []Kind{KindSum, KindMin, KindOHLC, KindCount}},
			},
		},
		"sensors": {
			Schema: "Plant 1", Name: "Sensor Readings", TimeColumn: "Time", TimeZone: "Europe/Berlin",
			ScopeColumns: []string{"Sensor ID", "site"}, ScopeTypes: []string{"text", "int8"},
			Frames: mustFrames(t, "1m,1h,1mon,1qtr,1year"),
			Columns: []Column{
				{Name: "Temp °C", Type: "float4", Kinds: []Kind{KindMin, KindMax, KindStats}},
				{Name: `odd"name`, Type: "int8", Kinds: []Kind{KindSum, KindCount}},
				{Name: "t2", Type: "int2", Kinds: []Kind{KindStats}},
			},
		},
		"events": {
			Name: "events", TimeColumn: "at",
			Frames: mustFrames(t, "30s,15m"),
			Columns: []Column{
				{Name: "n", Type: "int2", Kinds: []Kind{KindSum, KindOHLC}},
				{Name: "at", Type: "timestamptz", Kinds: []Kind{KindMin, KindMax}},
				{Name: "label", Type: "text", Kinds: []Kind{KindCount}},
			},
		},
	}
	for name, tb := range tables {
		if err := tb.Validate(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	return tables
}

func mustFrames(t *testing.T, s string) []Frame {
	t.Helper()
	f, err := ParseFrames(s)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// checkGolden compares got with testdata/name.golden, or rewrites it.
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *updateGolden {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file (run with -update and review the diff):\n%s", path, got)
	}
}

// goldenDDL renders the tier DDL of every frame and one drop.
func goldenDDL(tb *Table) string {
	var b strings.Builder
	for _, f := range tb.Frames {
		b.WriteString(tb.TierDDL(f) + ";\n\n")
		for _, ix := range tb.TierIndexDDL(f) {
			b.WriteString(ix + ";\n\n")
		}
	}
	b.WriteString(tb.DropTierDDL(tb.Frames[0]) + ";\n")
	return b.String()
}

func TestGoldenDDL(t *testing.T) {
	for name, tb := range goldenTables(t) {
		t.Run(name, func(t *testing.T) {
			checkGolden(t, name+".ddl", goldenDDL(tb))
		})
	}
}

func TestTierColumns(t *testing.T) {
	tb := &Table{
		Name: "ticks", TimeColumn: "t", ScopeColumns: []string{"sym", "venue"}, ScopeTypes: []string{"int4", "text"},
		Frames: mustFrames(t, "1m"),
		Columns: []Column{
			{Name: "px", Type: "float4", Kinds: []Kind{KindSum, KindMin, KindMax, KindCount}},
			{Name: "q", Type: "int8", Kinds: []Kind{KindSum, KindOHLCV, KindStats, KindSketch, KindTDigest}},
			{Name: "n", Type: "int2", Kinds: []Kind{KindSum, KindOHLC}},
		},
	}
	if err := tb.Validate(); err != nil {
		t.Fatal(err)
	}
	want := []TierColumn{
		{Name: "sym", SQLType: "int4", Source: "sym"},
		{Name: "venue", SQLType: "text", Source: "venue"},
		{Name: "t", SQLType: "timestamptz", Source: "t"},
		{Name: "row_count", SQLType: "int8"},
		{Name: "px", SQLType: "float4", Source: "px", Kind: KindSum},
		{Name: "px_min", SQLType: "float4", Source: "px", Kind: KindMin},
		{Name: "px_max", SQLType: "float4", Source: "px", Kind: KindMax},
		{Name: "px_count", SQLType: "int8", Source: "px", Kind: KindCount},
		{Name: "q", SQLType: "numeric", Source: "q", Kind: KindSum},
		{Name: "q_ohlcv_o", SQLType: "int8", Source: "q", Kind: KindOHLCV, Part: "o"},
		{Name: "q_ohlcv_h", SQLType: "int8", Source: "q", Kind: KindOHLCV, Part: "h"},
		{Name: "q_ohlcv_l", SQLType: "int8", Source: "q", Kind: KindOHLCV, Part: "l"},
		{Name: "q_ohlcv_c", SQLType: "int8", Source: "q", Kind: KindOHLCV, Part: "c"},
		{Name: "q_ohlcv_v", SQLType: "int8", Source: "q", Kind: KindOHLCV, Part: "v"},
		{Name: "q_stats", SQLType: "spiral.moments", Source: "q", Kind: KindStats},
		{Name: "q_sketch", SQLType: "bytea", Source: "q", Kind: KindSketch},
		{Name: "q_tdigest", SQLType: "bytea", Source: "q", Kind: KindTDigest},
		{Name: "n", SQLType: "int8", Source: "n", Kind: KindSum},
		{Name: "n_ohlcv_o", SQLType: "int2", Source: "n", Kind: KindOHLC, Part: "o"},
		{Name: "n_ohlcv_h", SQLType: "int2", Source: "n", Kind: KindOHLC, Part: "h"},
		{Name: "n_ohlcv_l", SQLType: "int2", Source: "n", Kind: KindOHLC, Part: "l"},
		{Name: "n_ohlcv_c", SQLType: "int2", Source: "n", Kind: KindOHLC, Part: "c"},
	}
	if got := tb.TierColumns(); !reflect.DeepEqual(got, want) {
		t.Errorf("TierColumns:\ngot  %+v\nwant %+v", got, want)
	}
}

func TestSumType(t *testing.T) {
	for typ, want := range map[string]string{
		"int2": "int8", "int4": "int8", "int8": "numeric", "float4": "float4",
		"float8": "float8", "numeric": "numeric", "numeric(12,2)": "numeric",
	} {
		t.Run(typ, func(t *testing.T) {
			if got := sumType(typ); got != want {
				t.Errorf("sumType(%q) = %q, want %q", typ, got, want)
			}
		})
	}
}

func TestTierNames(t *testing.T) {
	tb := &Table{Schema: "My Schema", Name: `Tick"s`}
	f := Frame{Name: "1mon"}
	if got, want := tb.TierName(f), `Tick"s_1mon`; got != want {
		t.Errorf("TierName = %q, want %q", got, want)
	}
	if got, want := tb.DropTierDDL(f), `DROP TABLE IF EXISTS "My Schema"."Tick""s_1mon"`; got != want {
		t.Errorf("DropTierDDL = %q, want %q", got, want)
	}
}

func TestQuoting(t *testing.T) {
	tests := []struct{ name, got, want string }{
		{"ident plain", QuoteIdent("t"), `"t"`},
		{"ident case and space", QuoteIdent("Sensor ID"), `"Sensor ID"`},
		{"ident quote", QuoteIdent(`a"b`), `"a""b"`},
		{"ident empty", QuoteIdent(""), `""`},
		{"qualified", QualifiedName("public", "ticks_1m"), `"public"."ticks_1m"`},
		{"unqualified", QualifiedName("", "ticks_1m"), `"ticks_1m"`},
		{"literal", QuoteLiteral("Europe/Berlin"), `'Europe/Berlin'`},
		{"literal quote", QuoteLiteral("it's"), `'it''s'`},
		{"literal backslash", QuoteLiteral(`a\'b`), `E'a\\''b'`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %s, want %s", tt.got, tt.want)
			}
		})
	}
}
