package rewrite

import (
	"reflect"
	"testing"

	"spiral/internal/pgerr"
	"spiral/rollup"
)

func TestMagicBody(t *testing.T) {
	for _, tc := range []struct {
		text, body string
		block, ok  bool
	}{
		{text: "-- Spiral: sum", body: " sum", ok: true},
		{text: "--spiral:sum", body: "sum", ok: true},
		{text: "---  SPIRAL  :max", body: "max", ok: true},
		{text: "/* Spiral: sum */", block: true, body: " sum ", ok: true},
		{text: "-- Spiral sum"},
		{text: "-- spiralling: sum"},
		{text: "-- the Spiral: sum"},
		{text: "--"},
		{text: "/**/", block: true},
	} {
		body, ok := magicBody(tc.text, tc.block)
		if body != tc.body || ok != tc.ok {
			t.Errorf("magicBody(%q) = %q, %v; want %q, %v", tc.text, body, ok, tc.body, tc.ok)
		}
	}
}

func TestParseKinds(t *testing.T) {
	got, err := parseKinds(" TDigest,sum , OHLCV,sum,count,max,min,ohlc,stats,sketch", 3)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, rollup.Kinds) {
		t.Errorf("parseKinds = %v, want %v", got, rollup.Kinds)
	}
	for body, part := range map[string]string{
		"":          "empty kind",
		" ":         "empty kind",
		"sum,":      "empty kind",
		"sum,,max":  "empty kind",
		"average":   `"average"`,
		"sum max":   `"sum max"`,
		"sum (vol)": `"sum (vol)"`,
	} {
		_, err := parseKinds(body, 7)
		wantErr(t, err, pgerr.SyntaxError, part, "line 7")
	}
}

func TestMagicCommentColumns(t *testing.T) {
	ct := createTracked(t, "CREATE TABLE t (t timestamptz NOT NULL, -- Spiral: max\n"+
		" a int, -- Spiral: count\n"+
		" \"-- Spiral: max\" int, b text DEFAULT '-- Spiral: min', /* not magic */ c int,\n"+
		" d int -- just a note\n"+
		") WITH (spiral.frames = '1m')")
	want := []rollup.Column{
		{Name: "t", Type: "timestamptz", Kinds: []rollup.Kind{rollup.KindMax}},
		{Name: "a", Type: "int4", Kinds: []rollup.Kind{rollup.KindCount}},
	}
	if ct == nil {
		return
	}
	if !reflect.DeepEqual(ct.Table.Columns, want) {
		t.Errorf("Columns = %+v, want %+v", ct.Table.Columns, want)
	}
}

func TestMagicCommentErrors(t *testing.T) {
	const opts = ") WITH (spiral.frames = '1m')"
	for _, tc := range []struct {
		name, sql string
		parts     []string
	}{
		{"unknown kind", "CREATE TABLE t (t timestamptz NOT NULL,\n v int -- Spiral: avg\n" + opts, []string{"line 2", `"avg"`}},
		{"no column on line", "CREATE TABLE t (t timestamptz NOT NULL,\n -- Spiral: sum\n v int\n" + opts, []string{"line 2", "no column"}},
		{"continuation line", "CREATE TABLE t (t timestamptz NOT NULL,\n v\n int -- Spiral: sum\n" + opts, []string{"line 3"}},
		{"two columns", "CREATE TABLE t (t timestamptz NOT NULL,\n a int, b int -- Spiral: sum\n" + opts, []string{"line 2", "a, b"}},
		{"after the list", "CREATE TABLE t (t timestamptz NOT NULL, v int) WITH (spiral.frames = '1m') -- Spiral: sum", []string{"line 1", "outside the column list"}},
		{"before the statement", "-- Spiral: sum\nCREATE TABLE t (t timestamptz NOT NULL, v int) WITH (spiral.frames = '1m')", []string{"line 1", "outside"}},
		{"in the options", "CREATE TABLE t (t timestamptz NOT NULL, v int)\nWITH (spiral.frames = '1m' -- Spiral: sum\n)", []string{"line 2", "outside"}},
		{"block comment", "CREATE TABLE t (t timestamptz NOT NULL,\n v int /* Spiral: sum */\n" + opts, []string{"line 2", "-- comment"}},
		{"plain table", "CREATE TABLE t (\n t timestamptz NOT NULL,\n v int -- Spiral: sum\n)", []string{"line 3", "no spiral options"}},
		{"plain table block", "CREATE TABLE t (t timestamptz, v int /* spiral: sum */)", []string{"line 1", "no spiral options"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantErr(t, invalid(t, Classify(tc.sql)), pgerr.SyntaxError, tc.parts...)
		})
	}
}

func TestLineAt(t *testing.T) {
	s := "a\nb\r\nc"
	for off, want := range map[int]int{0: 1, 1: 1, 2: 2, 5: 3, 6: 3} {
		if got := lineAt(s, off); got != want {
			t.Errorf("lineAt(%d) = %d, want %d", off, got, want)
		}
	}
}
