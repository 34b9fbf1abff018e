package rewrite

import (
	"reflect"
	"strings"
	"testing"

	"spiral/internal/pgerr"
)

// scopeCols are the scope columns the scope tests use, with their types.
var (
	scopeCols  = []string{"symbol_id", "region", "Sensor ID", "w"}
	scopeTypes = []string{"int4", "text", "int8", "float8"}
)

func TestParseScope(t *testing.T) {
	for _, tc := range []struct {
		pred string
		want []ScopeCond
	}{
		{"", nil},
		{"  \n", nil},
		{"symbol_id = 3", []ScopeCond{{"symbol_id", []string{"3"}}}},
		{"SYMBOL_ID = '0042'", []ScopeCond{{"symbol_id", []string{"42"}}}},
		{"symbol_id IN (1, 2, -3, 2)", []ScopeCond{{"symbol_id", []string{"1", "2", "-3"}}}},
		{"symbol_id = - 0", []ScopeCond{{"symbol_id", []string{"0"}}}},
		{"symbol_id = - -3", []ScopeCond{{"symbol_id", []string{"3"}}}},
		{"symbol_id = -(3)", []ScopeCond{{"symbol_id", []string{"-3"}}}},
		{"symbol_id = 0", []ScopeCond{{"symbol_id", []string{"0"}}}},
		{`region = 'eu' AND "Sensor ID" = 9999999999`, []ScopeCond{
			{"region", []string{"eu"}}, {"Sensor ID", []string{"9999999999"}},
		}},
		{`("Sensor ID" = -7 AND (w IN (1.5, -2.5e3)))`, []ScopeCond{
			{"Sensor ID", []string{"-7"}}, {"w", []string{"1.5", "-2.5e3"}},
		}},
		{"region = 'it''s; DROP TABLE x'", []ScopeCond{{"region", []string{"it's; DROP TABLE x"}}}},
		{"region = E'\\n' AND symbol_id = 1;", []ScopeCond{{"symbol_id", []string{"1"}}, {"region", []string{"\n"}}}},
		{"region = $$x$$ -- comment", []ScopeCond{{"region", []string{"x"}}}},
	} {
		got, err := ParseScope(tc.pred, scopeCols, scopeTypes)
		if err != nil {
			t.Errorf("ParseScope(%q): %v", tc.pred, err)
			continue
		}
		if !reflect.DeepEqual(got.Conds, tc.want) {
			t.Errorf("ParseScope(%q) = %+v, want %+v", tc.pred, got.Conds, tc.want)
		}
	}
}

func TestParseScopeErrors(t *testing.T) {
	for _, tc := range []struct {
		pred  string
		parts []string
	}{
		{"1 = 1; DROP TABLE x", []string{"single condition"}},
		{"symbol_id = 1; SELECT 1", []string{"single condition"}},
		{"symbol_id = 1 GROUP BY 1", []string{"without other clauses"}},
		{"symbol_id = 1 ORDER BY 1", []string{"without other clauses"}},
		{"symbol_id = 1 LIMIT 1", []string{"without other clauses"}},
		{"symbol_id = 1 UNION SELECT 2", []string{"without other clauses"}},
		{"symbol_id = 1 FOR UPDATE", []string{"without other clauses"}},
		{"symbol_id = 1)", []string{"syntax error"}},
		{"symbol_id = ", []string{"syntax error"}},
		{"/*", []string{"unterminated"}},
		{"symbol_id = 1\x00", []string{"UTF-8"}},
		{"region = '\xff'", []string{"UTF-8"}},
		{"symbol_id = 1 OR symbol_id = 2", []string{"OR", "character 1"}},
		{"NOT symbol_id = 1", []string{"NOT"}},
		{"symbol_id < 3", []string{"operator <", "character 11"}},
		{"symbol_id <> 3", []string{"operator <>"}},
		{"symbol_id NOT IN (3)", []string{"NOT IN"}},
		{"symbol_id BETWEEN 1 AND 2", []string{"BETWEEN"}},
		{"region LIKE 'a%'", []string{"LIKE"}},
		{"symbol_id IS NULL", []string{"IS NULL"}},
		{"true", []string{"boolean literal"}},
		{"symbol_id", []string{"column reference"}},
		{"f(symbol_id) = 1", []string{"function call f", "scope column name"}},
		{"t.symbol_id = 1", []string{"column reference", "scope column name"}},
		{"3 = symbol_id", []string{"literal", "scope column name"}},
		{"price = 3", []string{"price", "not a scope column"}},
		{`"SYMBOL_ID" = 3`, []string{`"SYMBOL_ID"`, "not a scope column"}},
		{"symbol_id = 1 AND symbol_id = 2", []string{"symbol_id", "more than once"}},
		{"symbol_id = NULL", []string{"NULL"}},
		{"symbol_id IN (1, NULL)", []string{"NULL"}},
		{"symbol_id = true", []string{"boolean literal"}},
		{"symbol_id = B'101'", []string{"bit string"}},
		{"symbol_id = '3'::int", []string{"type cast"}},
		{"symbol_id = region", []string{"column reference"}},
		{"symbol_id = $1", []string{"parameter $1"}},
		{"symbol_id = (SELECT 1)", []string{"subquery"}},
		{"symbol_id = -'3'", []string{"operator -"}},
		{"symbol_id = 1 + 2", []string{"operator +"}},
		{"symbol_id IN (SELECT 1)", []string{"subquery"}},
		{"symbol_id = 'abc'", []string{`"abc"`, "int4", "symbol_id"}},
		{"symbol_id = 1.5", []string{`"1.5"`, "int4"}},
		{"symbol_id = 3000000000", []string{"int4"}},
		{"w = 'x'", []string{`"x"`, "float8"}},
		{"w = '0x10'", []string{"float8"}},
	} {
		t.Run(tc.pred, func(t *testing.T) {
			_, err := ParseScope(tc.pred, scopeCols, scopeTypes)
			wantErr(t, err, pgerr.InvalidParameterValue, tc.parts...)
			if e := pgerr.As(err); e != nil && !strings.Contains(e.Hint, "symbol_id, region, Sensor ID, w") {
				t.Errorf("hint %q does not list the scope columns", e.Hint)
			}
		})
	}
}

func TestParseScopeNoColumns(t *testing.T) {
	_, err := ParseScope("a = 1", nil, nil)
	wantErr(t, err, pgerr.InvalidParameterValue, "no scope columns")
	if _, err := ParseScope("a = 1", []string{"a"}, []string{"int4", "int4"}); pgerr.As(err) == nil {
		t.Errorf("mismatched types: err = %v", err)
	}
	s, err := ParseScope("a = 'x'", []string{"a"}, nil)
	if err != nil || !reflect.DeepEqual(s.Conds, []ScopeCond{{"a", []string{"x"}}}) {
		t.Errorf("untyped: %+v, %v", s, err)
	}
}
