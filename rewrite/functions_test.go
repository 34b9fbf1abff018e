package rewrite

import (
	"fmt"
	"strings"
	"testing"

	"spiral/internal/pgerr"
)

// functionsDir holds golden files of spiral API calls: NAME.sql in,
// NAME.golden out: the rewritten statement and its finished columns,
// "ERROR code: message" or "PASS THROUGH: why". Names starting with err_
// must fail, pass_ must pass through.
const functionsDir = "../testdata/functions"

func TestFunctionsGolden(t *testing.T) {
	eachGolden(t, functionsDir, func(t *testing.T, name, sql, golden string) {
		got := describeFunctions(sql)
		switch {
		case strings.HasPrefix(name, "err_") && !strings.HasPrefix(got, "ERROR"):
			t.Fatalf("want an error, got:\n%s", got)
		case strings.HasPrefix(name, "pass_") && !strings.HasPrefix(got, "PASS THROUGH"):
			t.Fatalf("want pass through, got:\n%s", got)
		}
		compareGolden(t, golden, got)
	})
}

// describeFunctions renders what Functions makes of sql.
func describeFunctions(sql string) string {
	out, fin, err := Functions(sql, testCatalog())
	if pe := pgerr.As(err); pe != nil {
		return fmt.Sprintf("ERROR %s: %s\n", pe.Code, pe.Message)
	}
	if err != nil {
		return fmt.Sprintf("PASS THROUGH: %v\n", err)
	}
	var b strings.Builder
	b.WriteString(out + "\n")
	if fin != nil {
		for _, c := range fin.Columns {
			oid, _ := c.Type()
			fmt.Fprintf(&b, "-- finish column %d: %s op %d array %v -> type %d\n", c.Index+1, c.Kind, c.Op, c.Array, oid)
		}
	}
	return b.String()
}
