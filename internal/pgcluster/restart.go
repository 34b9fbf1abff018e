package pgcluster

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Restart stops the server immediately (no shutdown checkpoint: the next
// start runs crash recovery, as after a crash) and starts it again on the
// same port. Committed transactions survive even with Fast, whose
// synchronous_commit=off would otherwise lose the last few hundred ms.
func (c *Cluster) Restart(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped || c.pm == nil {
		return ErrStopped
	}
	c.flushWAL(ctx)
	err := c.pm.shutdown(immediateShutdown)
	c.pm = nil
	if err != nil {
		return fmt.Errorf("restart: %w", err)
	}
	ctx, cancel := withDefaultTimeout(ctx)
	defer cancel()
	if err := c.run(ctx); err != nil {
		return fmt.Errorf("restart: %w", err)
	}
	return nil
}

// flushSQL commits a transaction synchronously. It must write WAL (here a
// transactional logical message): PostgreSQL commits a transaction that
// wrote none asynchronously whatever synchronous_commit says.
const flushSQL = `BEGIN;
SET LOCAL synchronous_commit = on;
SELECT pg_logical_emit_message(true, 'spiral.pgcluster', 'restart');
COMMIT`

// flushWAL writes out the WAL of asynchronously committed transactions by
// committing one transaction synchronously: WAL is flushed in order. It is
// best effort: the current pg_hba.conf may not let the superuser in.
func (c *Cluster) flushWAL(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.DSN("postgres"))
	if err != nil {
		c.logf("restart: cannot flush WAL first: %v", err)
		return
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, flushSQL)
	if err != nil {
		c.logf("restart: cannot flush WAL first: %v", err)
	}
}
