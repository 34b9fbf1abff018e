package rollup

import (
	"strings"
	"testing"
)

// goldenSQL renders everything t generates, one statement per section.
func goldenSQL(tb *Table, where string) string {
	var b strings.Builder
	section := func(title, sql string) {
		b.WriteString("-- " + title + "\n" + sql + ";\n\n")
	}
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
			checkGolden(t, name+".sql", goldenSQL(tb, where))
		})
	}
}

func TestSQLPath(t *testing.T) {
	tests := []struct {
		kinds []Kind
		want  bool
	}{
		{[]Kind{KindSum, KindMin, KindMax, KindCount, KindOHLCV, KindStats}, true},
		{[]Kind{KindSum, KindSketch}, false},
		{[]Kind{KindTDigest}, false},
	}
	for _, tt := range tests {
		t.Run(joinKinds(tt.kinds), func(t *testing.T) {
			tb := &Table{Name: "x", TimeColumn: "t", Columns: []Column{{Name: "v", Type: "float8", Kinds: tt.kinds}}}
			if got := tb.SQLPath(); got != tt.want {
				t.Errorf("SQLPath() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestAggregatePanicsOffSQLPath(t *testing.T) {
	tb := &Table{Name: "x", TimeColumn: "t", Frames: mustFrames(t, "1m,1h"),
		Columns: []Column{{Name: "v", Type: "float8", Kinds: []Kind{KindSketch}}}}
	for name, call := range map[string]func(){
		"raw":  func() { tb.RawToTierSQL(tb.Frames[0], "") },
		"tier": func() { tb.TierToTierSQL(tb.Frames[0], tb.Frames[1], "") },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic for a table with a sketch column")
				}
			}()
			call()
		})
	}
}

func TestAggregateWhere(t *testing.T) {
	tb := goldenTables(t)["events"]
	f := tb.Frames
	tests := []struct {
		name, sql, want, notWant string
	}{
		{"raw all rows", tb.RawToTierSQL(f[0], ""), "\n    WHERE \"at\" IS NOT NULL\n", "()"},
		{"raw predicate", tb.RawToTierSQL(f[0], "a = $1 OR b"), "WHERE (a = $1 OR b) AND \"at\" IS NOT NULL\n", ""},
		{"tier all rows", tb.TierToTierSQL(f[0], f[1], ""), "FROM \"events_30s\"\n)", "\n    WHERE"},
		{"tier predicate", tb.TierToTierSQL(f[0], f[1], "x"), "FROM \"events_30s\"\n    WHERE x\n)", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(tt.sql, tt.want) {
				t.Errorf("missing %q in\n%s", tt.want, tt.sql)
			}
			if tt.notWant != "" && strings.Contains(tt.sql, tt.notWant) {
				t.Errorf("unexpected %q in\n%s", tt.notWant, tt.sql)
			}
		})
	}
}

// TestAggregateWellFormed checks what can be checked without a parser:
// generation is deterministic, parentheses balance outside literals and
// quoted identifiers, the statement inserts every tier column, and it has
// no join.
func TestAggregateWellFormed(t *testing.T) {
	for name, tb := range goldenTables(t) {
		t.Run(name, func(t *testing.T) {
			sqls := []string{tb.RawToTierSQL(tb.Frames[0], "$1")}
			for i := 1; i < len(tb.Frames); i++ {
				sqls = append(sqls, tb.TierToTierSQL(tb.Frames[i-1], tb.Frames[i], "$1"))
			}
			if goldenSQL(tb, "$1") != goldenSQL(tb, "$1") {
				t.Fatal("generation is not deterministic")
			}
			for i, sql := range sqls {
				if err := checkBalanced(sql); err != "" {
					t.Errorf("statement %d: %s\n%s", i, err, sql)
				}
				for _, c := range tb.TierColumns() {
					if !strings.Contains(sql, QuoteIdent(c.Name)) {
						t.Errorf("statement %d does not mention tier column %s", i, QuoteIdent(c.Name))
					}
				}
				// A join planned from stale statistics becomes a nested
				// loop over every pair of rows (see the file comment).
				if strings.Contains(strings.ToUpper(sql), " JOIN ") {
					t.Errorf("statement %d joins:\n%s", i, sql)
				}
			}
		})
	}
}

// checkBalanced returns what is wrong with the nesting of parentheses in
// sql, skipping string literals and quoted identifiers, or "".
func checkBalanced(sql string) string {
	depth := 0
	var quote byte
	for i := 0; i < len(sql); i++ {
		ch := sql[i]
		switch {
		case quote != 0 && ch == quote:
			quote = 0
		case quote != 0:
		case ch == '\'' || ch == '"':
			quote = ch
		case ch == '(':
			depth++
		case ch == ')':
			depth--
			if depth < 0 {
				return "unbalanced ')' after " + sql[max(0, i-20):i+1]
			}
		}
	}
	switch {
	case quote != 0:
		return "unterminated quote"
	case depth != 0:
		return "unclosed '('"
	}
	return ""
}
