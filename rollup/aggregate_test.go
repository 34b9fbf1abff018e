package rollup

import (
	"flag"
	"os"
	"path/filepath"
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

// goldenSQL renders everything t generates, one statement per section.
func goldenSQL(tb *Table, where string) string {
	var b strings.Builder
	section := func(title, sql string) {
		b.WriteString("-- " + title + "\n" + sql + ";\n\n")
	}
	for _, f := range tb.Frames {
		section("TierDDL "+f.Name, tb.TierDDL(f))
	}
	section("DropTierDDL "+tb.Frames[0].Name, tb.DropTierDDL(tb.Frames[0]))
	section("RawToTierSQL "+tb.Frames[0].Name, tb.RawToTierSQL(tb.Frames[0], where))
	for i := 1; i < len(tb.Frames); i++ {
		from, to := tb.Frames[i-1], tb.Frames[i]
		section("TierToTierSQL "+from.Name+" -> "+to.Name, tb.TierToTierSQL(from, to, where))
	}
	return b.String()
}

func TestGoldenSQL(t *testing.T) {
	for name, tb := range goldenTables(t) {
		t.Run(name, func(t *testing.T) {
			where := QuoteIdent(tb.TimeColumn) + " >= $1 AND " + QuoteIdent(tb.TimeColumn) + " < $2"
			checkGolden(t, name, goldenSQL(tb, where))
		})
	}
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
