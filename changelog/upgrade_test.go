package changelog_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"spiral/changelog"
)

// created lists the objects each migration from 7 on creates that a
// replay would create again (migrations replace views and functions).
var created = map[int][]string{
	8:  {"AGGREGATE spiral.sum_int8(int8)"},
	9:  {"FUNCTION spiral.moment_numeric(float8, float8, float8, int)"},
	11: {"FUNCTION spiral.align_scope_collations(regclass, boolean)"},
	12: {"TABLE spiral.refresh_failures CASCADE"},
}

// unmigrate forgets migrations from version on and drops what they
// created, so that Migrate replays them.
func unmigrate(t *testing.T, conn *pgx.Conn, version int) {
	t.Helper()
	exec(t, conn, "DELETE FROM spiral.schema_migrations WHERE version >= $1", version)
	for v, objects := range created {
		for _, o := range objects {
			if v >= version {
				exec(t, conn, "DROP "+o)
			}
		}
	}
}

// TestUpgradeIndexesExistingTiers replays migrations 7 and later over a
// database whose tiers were created without the index on time: the
// upgrade adds it to every tier of a table with scope columns.
func TestUpgradeIndexesExistingTiers(t *testing.T) {
	conn := setup(t, ticks(), `CREATE TABLE ticks (t timestamptz NOT NULL, sym int NOT NULL, price float8)`)
	ctx := context.Background()
	unmigrate(t, conn, 7)
	if err := changelog.Migrate(ctx, conn); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	for _, tier := range []string{"ticks_1m", "ticks_1h"} {
		var n int
		err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_indexes WHERE tablename = $1 AND indexdef LIKE '%(t)'`, tier).Scan(&n)
		if err != nil || n != 1 {
			t.Errorf("%s: %d indexes on (t), %v; want 1", tier, n, err)
		}
	}
	if err := changelog.Migrate(ctx, conn); err != nil {
		t.Fatalf("second migrate: %v", err)
	}
}

// TestSumInt8 checks the merge aggregate of migration 8 against sum():
// the same value as a bigint, NULL over no rows or only NULLs, and 22003
// when the total leaves the bigint range.
func TestSumInt8(t *testing.T) {
	conn := setup(t, ticks(), `CREATE TABLE ticks (t timestamptz NOT NULL, sym int NOT NULL, price float8)`)
	ctx := context.Background()
	var got, want *int64
	const rows = `(VALUES (3::int8), (NULL), (-7), (9000000000)) v(x)`
	if err := conn.QueryRow(ctx, `SELECT spiral.sum_int8(x), sum(x)::int8 FROM `+rows).Scan(&got, &want); err != nil {
		t.Fatal(err)
	}
	if got == nil || want == nil || *got != *want {
		t.Errorf("sum_int8 = %v, sum = %v", got, want)
	}
	if err := conn.QueryRow(ctx, `SELECT spiral.sum_int8(x) FROM (VALUES (NULL::int8)) v(x)`).Scan(&got); err != nil || got != nil {
		t.Errorf("sum_int8 over NULLs = %v, %v; want NULL", got, err)
	}
	err := conn.QueryRow(ctx, `SELECT spiral.sum_int8(x) FROM (VALUES (9223372036854775807::int8), (1)) v(x)`).Scan(&got)
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "22003" {
		t.Errorf("overflow: err = %v, want SQLSTATE 22003", err)
	}
}

// TestUpgradeAlignsScopeCollations replays migration 11 over tiers made
// before it, whose scope columns have the default collation: the upgrade
// gives them the base table's.
func TestUpgradeAlignsScopeCollations(t *testing.T) {
	conn := setup(t, ticks(), `CREATE TABLE ticks (t timestamptz NOT NULL, sym text COLLATE "en-x-icu" NOT NULL, price float8)`)
	ctx := context.Background()
	for _, tier := range []string{"ticks_1m", "ticks_1h"} {
		exec(t, conn, `ALTER TABLE `+tier+` ALTER COLUMN sym TYPE text`)
	}
	unmigrate(t, conn, 11)
	if err := changelog.Migrate(ctx, conn); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	for _, tier := range []string{"ticks_1m", "ticks_1h"} {
		var coll string
		err := conn.QueryRow(ctx, `SELECT attcollation::regcollation::text FROM pg_attribute WHERE attrelid = $1::regclass AND attname = 'sym'`, tier).Scan(&coll)
		if err != nil || coll != `"en-x-icu"` {
			t.Errorf("%s.sym: collation %s, %v; want \"en-x-icu\"", tier, coll, err)
		}
	}
}
