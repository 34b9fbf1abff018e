package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"spiral/internal/pgtest"
)

// TestStatusListsFailedRanges: a range whose refresh overflows makes
// `spiral refresh` fail, and `spiral status` lists it with its scope as
// JSON and its SQLSTATE.
func TestStatusListsFailedRanges(t *testing.T) {
	db, conn := opsTable(t)
	mustExec(t, conn, `INSERT INTO m VALUES ('2024-01-01 00:00:01', 1, 1e308), ('2024-01-01 00:00:02', 1, 1e308), ('2024-01-01 00:00:03', 2, 1)`)
	if code := run([]string{"refresh", "m", "--dsn", db}); code == 0 {
		t.Fatal("spiral refresh of an overflowing range exits 0")
	}
	var out bytes.Buffer
	direct := pgtest.Connect(t, db)
	if err := printFailures(context.Background(), &out, direct); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"1 dirty range(s)", `{"dev":1}`, "22003", "2024-01-01 00:00:00"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("status lacks %q:\n%s", want, out.String())
		}
	}
}
