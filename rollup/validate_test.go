package rollup

import (
	"reflect"
	"strings"
	"testing"

	"spiral/internal/pgerr"
)

// validTable returns a table that passes Validate; tests mutate it.
func validTable(t *testing.T) *Table {
	return &Table{
		Schema: "public", Name: "ticks", TimeColumn: "t",
		ScopeColumns: []string{"symbol_id"}, ScopeTypes: []string{"int4"},
		Frames: mustFrames(t, "1m,1h,1d,1mon"),
		Columns: []Column{
			{Name: "price", Type: "float8", Kinds: []Kind{KindOHLCV, KindStats, KindSketch}},
			{Name: "vol", Type: "int4", Kinds: []Kind{KindSum}},
		},
	}
}

func TestValidateNormalises(t *testing.T) {
	tb := validTable(t)
	tb.TimeZone = ""
	tb.Columns = []Column{
		{Name: "a", Type: "double precision", Kinds: []Kind{KindStats, KindSum, KindSum, KindOHLC, KindOHLCV, KindMin}},
		{Name: "b", Type: "DECIMAL(12,2)", Kinds: []Kind{KindOHLC, KindCount}},
		{Name: "c", Type: "integer", Kinds: []Kind{KindMax}},
		{Name: "d", Type: "timestamp with time zone", Kinds: []Kind{KindMax, KindMin}},
		{Name: "e", Type: "jsonb", Kinds: []Kind{KindCount}},
	}
	if err := tb.Validate(); err != nil {
		t.Fatal(err)
	}
	want := []Column{
		{Name: "a", Type: "float8", Kinds: []Kind{KindSum, KindMin, KindOHLCV, KindStats}},
		{Name: "b", Type: "numeric(12,2)", Kinds: []Kind{KindCount, KindOHLC}},
		{Name: "c", Type: "int4", Kinds: []Kind{KindMax}},
		{Name: "d", Type: "timestamptz", Kinds: []Kind{KindMin, KindMax}},
		{Name: "e", Type: "jsonb", Kinds: []Kind{KindCount}},
	}
	if !reflect.DeepEqual(tb.Columns, want) {
		t.Errorf("columns after Validate:\ngot  %+v\nwant %+v", tb.Columns, want)
	}
}

func TestValidateAccepts(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Table)
	}{
		{"as is", func(*Table) {}},
		{"no scope", func(tb *Table) { tb.ScopeColumns, tb.ScopeTypes = nil, nil }},
		{"two scope columns", func(tb *Table) {
			tb.ScopeColumns, tb.ScopeTypes = []string{"Sensor ID", "site"}, []string{"text", "int8"}
		}},
		{"Berlin months over hours", func(tb *Table) { tb.TimeZone, tb.Frames = "Europe/Berlin", mustFrames(t, "1m,1h,1mon,1year") }},
		{"Kolkata months over 30m", func(tb *Table) { tb.TimeZone, tb.Frames = "Asia/Kolkata", mustFrames(t, "1m,30m,1mon") }},
		{"Berlin with fixed frames only", func(tb *Table) { tb.TimeZone, tb.Frames = "Europe/Berlin", mustFrames(t, "1m,1d,1w") }},
		{"Etc zone", func(tb *Table) { tb.TimeZone, tb.Frames = "Etc/GMT+5", mustFrames(t, "1h,1mon") }},
		{"time column tracked", func(tb *Table) {
			tb.Columns = append(tb.Columns, Column{Name: "t", Type: "timestamptz", Kinds: []Kind{KindMin, KindMax}})
		}},
		{"63-byte tier name", func(tb *Table) { tb.Name = strings.Repeat("x", 58) }},
		{"text count", func(tb *Table) { tb.Columns = []Column{{Name: "s", Type: "text", Kinds: []Kind{KindCount}}} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tb := validTable(t)
			tt.mutate(tb)
			if err := tb.Validate(); err != nil {
				t.Errorf("Validate: %v", err)
			}
		})
	}
}

func TestValidateRejects(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Table)
		code   string
		msg    []string // substrings of the message
	}{
		{"no time column", func(tb *Table) { tb.TimeColumn = "" }, pgerr.InvalidParameterValue, []string{"no time column"}},
		{"no name", func(tb *Table) { tb.Name = "" }, pgerr.InvalidParameterValue, []string{"no name"}},
		{"NUL", func(tb *Table) { tb.Columns[0].Name = "a\x00b" }, pgerr.InvalidParameterValue, []string{"NUL"}},
		{"scope twice", func(tb *Table) {
			tb.ScopeColumns, tb.ScopeTypes = []string{"a", "a"}, []string{"int4", "int4"}
		}, pgerr.InvalidParameterValue, []string{`"a" is listed twice`}},
		{"scope is time", func(tb *Table) { tb.ScopeColumns[0] = "t" }, pgerr.InvalidParameterValue, []string{`"t" is the time column`}},
		{"scope types missing", func(tb *Table) { tb.ScopeTypes = nil }, pgerr.InternalError, []string{"scope types"}},
		{"no frames", func(tb *Table) { tb.Frames = nil }, pgerr.InvalidParameterValue, []string{"no frames"}},
		{"bad chain", func(tb *Table) { tb.Frames = []Frame{tb.Frames[1], tb.Frames[0]} },
			pgerr.InvalidParameterValue, []string{`"1h,1m"`, "1m is not coarser than 1h"}},
		{"unknown zone", func(tb *Table) { tb.TimeZone = "Mars/Olympus" }, pgerr.InvalidParameterValue,
			[]string{`"Mars/Olympus"`, "unknown time zone"}},
		{"abbreviation", func(tb *Table) { tb.TimeZone = "CET" }, pgerr.InvalidParameterValue, []string{`"CET"`, "IANA"}},
		{"Local", func(tb *Table) { tb.TimeZone = "Local" }, pgerr.InvalidParameterValue, []string{"IANA"}},
		{"UTC days under Berlin months", func(tb *Table) { tb.TimeZone = "Europe/Berlin" }, pgerr.InvalidParameterValue,
			[]string{`"Europe/Berlin" does not fit frame 1d`, "1970-01", "1969-12-31 23:00:00 UTC"}},
		{"UTC hours under Kolkata months", func(tb *Table) {
			tb.TimeZone, tb.Frames = "Asia/Kolkata", mustFrames(t, "1m,1h,1mon")
		}, pgerr.InvalidParameterValue, []string{`"Asia/Kolkata" does not fit frame 1h`}},
		{"sum on text", func(tb *Table) {
			tb.Columns = []Column{{Name: "label", Type: "text", Kinds: []Kind{KindSum}}}
		}, pgerr.DatatypeMismatch, []string{`column "label"`, "text", "sum"}},
		{"min on text", func(tb *Table) {
			tb.Columns = []Column{{Name: "label", Type: "text", Kinds: []Kind{KindCount, KindMin}}}
		}, pgerr.DatatypeMismatch, []string{`column "label"`, "min"}},
		{"stats on timestamptz", func(tb *Table) {
			tb.Columns = []Column{{Name: "seen", Type: "timestamptz", Kinds: []Kind{KindStats}}}
		}, pgerr.DatatypeMismatch, []string{`column "seen" of type timestamptz cannot keep stats`}},
		{"unknown kind", func(tb *Table) { tb.Columns[0].Kinds = []Kind{"avg"} }, pgerr.InvalidParameterValue,
			[]string{`unknown kind "avg" on column "price"`}},
		{"no kinds", func(tb *Table) { tb.Columns[0].Kinds = nil }, pgerr.InvalidParameterValue, []string{`"price" has no kinds`}},
		{"tracked twice", func(tb *Table) { tb.Columns[1].Name = "price" }, pgerr.InvalidParameterValue, []string{`"price" is tracked twice`}},
		{"derived names collide", func(tb *Table) {
			tb.Columns = []Column{
				{Name: "price", Type: "float8", Kinds: []Kind{KindMin}},
				{Name: "price_min", Type: "float8", Kinds: []Kind{KindSum}},
			}
		}, pgerr.InvalidParameterValue, []string{`"price_min"`, `min of column "price"`, `sum of column "price_min"`}},
		{"sum collides with tenant", func(tb *Table) {
			tb.Columns = []Column{{Name: "symbol_id", Type: "int4", Kinds: []Kind{KindSum}}}
		}, pgerr.InvalidParameterValue, []string{`tenant column "symbol_id"`, `sum of column "symbol_id"`}},
		{"sum collides with row_count", func(tb *Table) {
			tb.Columns = []Column{{Name: "row_count", Type: "int8", Kinds: []Kind{KindSum}}}
		}, pgerr.InvalidParameterValue, []string{`"row_count"`, "the row count"}},
		{"tenant named row_count", func(tb *Table) { tb.ScopeColumns[0] = "row_count" }, pgerr.InvalidParameterValue,
			[]string{`"row_count"`, "the row count", `tenant column "row_count"`}},
		{"tier name too long", func(tb *Table) { tb.Name = strings.Repeat("x", 59) }, pgerr.InvalidParameterValue,
			[]string{`tier table name "` + strings.Repeat("x", 59) + `_1mon" is 64 bytes`, "63"}},
		{"tier column too long", func(tb *Table) { tb.Columns[0].Name = strings.Repeat("p", 56) }, pgerr.InvalidParameterValue,
			[]string{`"` + strings.Repeat("p", 56) + `_ohlcv_o"`, "64 bytes"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tb := validTable(t)
			tt.mutate(tb)
			e := pgerr.As(tb.Validate())
			if e == nil {
				t.Fatal("Validate accepted the table")
			}
			if e.Code != tt.code {
				t.Errorf("code %s, want %s (%s)", e.Code, tt.code, e.Message)
			}
			for _, m := range tt.msg {
				if !strings.Contains(e.Message, m) {
					t.Errorf("message %q does not contain %q", e.Message, m)
				}
			}
		})
	}
}

func TestKindsForHint(t *testing.T) {
	tb := validTable(t)
	tb.Columns = []Column{{Name: "label", Type: "date", Kinds: []Kind{KindSum}}}
	e := pgerr.As(tb.Validate())
	if e == nil || !strings.Contains(e.Hint, "Kinds valid for date: min, max, count") {
		t.Errorf("hint does not list the valid kinds: %+v", e)
	}
}

func TestCanonicalType(t *testing.T) {
	for in, want := range map[string]string{
		"integer": "int4", "INT": "int4", "smallint": "int2", "bigint": "int8", "real": "float4",
		"double precision": "float8", "decimal(10,2)": "numeric(10,2)", "NUMERIC": "numeric",
		"timestamp with time zone": "timestamptz", "timestamp without time zone": "timestamp",
		"float8": "float8", "jsonb": "jsonb", `"MyType"`: `"MyType"`,
	} {
		t.Run(in, func(t *testing.T) {
			if got := CanonicalType(in); got != want {
				t.Errorf("CanonicalType(%q) = %q, want %q", in, got, want)
			}
		})
	}
}
