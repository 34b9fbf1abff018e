package demo

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Database is the database the demo creates and tells users to connect to.
const Database = "spiral_demo"

// Dataset sizes: one tick per symbol every Step seconds over Days days.
const (
	Symbols = 10
	Days    = 10
	Step    = 30
)

// Rows is the number of rows Load inserts.
const Rows = Symbols * Days * 86400 / Step

// schema declares ticks as a tracked table; it must go through the proxy.
const schema = `
CREATE TABLE ticks (
  t         timestamptz NOT NULL,
  symbol_id int NOT NULL,
  price     double precision, -- Spiral: ohlcv, stats, sketch
  vol       int               -- Spiral: sum
) WITH (spiral.frames = '1m,1h,1d', spiral.tenant = 'symbol_id')`

// The prices are a deterministic wave per symbol plus noise, so that
// aggregates have something to show; setseed keeps runs identical.
const fill = `
SELECT setseed(0.42);
INSERT INTO ticks (t, symbol_id, price, vol)
SELECT ts, s,
       round((100 + 10 * s + 5 * sin(extract(epoch FROM ts) / 3600 + s) + random())::numeric, 2)::float8,
       (random() * 1000)::int
FROM generate_series(1, %d) AS s,
     generate_series(date_trunc('day', now()) - interval '%d days', date_trunc('day', now()) - interval '%d seconds',
                     interval '%d seconds') AS ts;
ANALYZE ticks;`

// Load creates the demo table through the spiral proxy at dsn and fills it,
// unless it is already there. It reports whether it loaded anything.
func Load(ctx context.Context, dsn string) (bool, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return false, fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT to_regclass('public.ticks') IS NOT NULL`).Scan(&exists); err != nil {
		return false, fmt.Errorf("look for ticks: %w", err)
	}
	if exists {
		return false, nil
	}
	if _, err := conn.Exec(ctx, schema); err != nil {
		return false, fmt.Errorf("create ticks: %w", err)
	}
	if _, err := conn.Exec(ctx, fmt.Sprintf(fill, Symbols, Days, Step, Step)); err != nil {
		return false, fmt.Errorf("fill ticks: %w", err)
	}
	return true, nil
}

// EnsureDatabase creates the demo database through the admin DSN if needed.
func EnsureDatabase(ctx context.Context, adminDSN string) error {
	conn, err := pgx.Connect(ctx, adminDSN)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(ctx)
	var exists bool
	err = conn.QueryRow(ctx, `SELECT EXISTS (SELECT FROM pg_database WHERE datname = $1)`, Database).Scan(&exists)
	if err != nil || exists {
		return err
	}
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{Database}.Sanitize())
	return err
}
