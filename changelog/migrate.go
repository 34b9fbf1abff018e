package changelog

import (
	"context"
	_ "embed"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

//go:embed schema.sql
var schemaV1 string

//go:embed schema_v3.sql
var schemaV3 string

//go:embed schema_markers.sql
var schemaMarkers string

//go:embed schema_sketch_args.sql
var schemaSketchArgs string

//go:embed schema_stats.sql
var schemaStats string

//go:embed schema_options.sql
var schemaOptions string

//go:embed schema_tier_index.sql
var schemaTierIndex string

//go:embed schema_sum.sql
var schemaSum string

//go:embed schema_moments_numeric.sql
var schemaMomentsNumeric string

//go:embed schema_status_clean.sql
var schemaStatusClean string

//go:embed schema_scope_collation.sql
var schemaScopeCollation string

//go:embed schema_refresh_failures.sql
var schemaRefreshFailures string

// migrations are applied in order; each runs once, in its own transaction.
// Append new ones; never edit one that has shipped.
var migrations = []string{schemaV1, schemaV3, schemaMarkers, schemaSketchArgs, schemaStats, schemaOptions, schemaTierIndex, schemaSum, schemaMomentsNumeric, schemaStatusClean, schemaScopeCollation, schemaRefreshFailures}

// ErrNotSuperuser is returned by Migrate when the spiral schema is missing or
// out of date and the connection cannot install it.
var ErrNotSuperuser = errors.New("changelog: installing the spiral schema needs a superuser (it creates an event trigger)")

// Migrate installs or upgrades the spiral schema in the database conn is
// connected to. It is idempotent and safe to run from several daemons at
// once: an advisory lock serialises them.
func Migrate(ctx context.Context, conn *pgx.Conn) error {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('spiral.migrate'))`); err != nil {
		return fmt.Errorf("migrate: lock: %w", err)
	}
	applied, err := appliedVersion(ctx, tx)
	if err != nil {
		return err
	}
	if applied >= len(migrations) {
		return nil
	}
	if err := requireSuperuser(ctx, tx); err != nil {
		return err
	}
	for v := applied + 1; v <= len(migrations); v++ {
		if err := apply(ctx, tx, v); err != nil {
			return err
		}
	}
	return tx.Commit(ctx)
}

// appliedVersion returns the newest applied migration, 0 for none.
func appliedVersion(ctx context.Context, tx pgx.Tx) (int, error) {
	var exists bool
	err := tx.QueryRow(ctx, `SELECT to_regclass('spiral.schema_migrations') IS NOT NULL`).Scan(&exists)
	if err != nil || !exists {
		return 0, wrap("read schema version", err)
	}
	var v int
	err = tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM spiral.schema_migrations`).Scan(&v)
	return v, wrap("read schema version", err)
}

func requireSuperuser(ctx context.Context, tx pgx.Tx) error {
	var super bool
	if err := tx.QueryRow(ctx, `SELECT rolsuper FROM pg_roles WHERE rolname = current_user`).Scan(&super); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if !super {
		return ErrNotSuperuser
	}
	return nil
}

func apply(ctx context.Context, tx pgx.Tx, version int) error {
	if _, err := tx.Exec(ctx, migrations[version-1]); err != nil {
		return fmt.Errorf("migrate: version %d: %w", version, err)
	}
	_, err := tx.Exec(ctx, `
		CREATE TABLE IF NOT EXISTS spiral.schema_migrations (
			version int PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now());
		INSERT INTO spiral.schema_migrations (version) VALUES (`+fmt.Sprint(version)+`)`)
	return wrap(fmt.Sprintf("migrate: record version %d", version), err)
}

func wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", what, err)
}
