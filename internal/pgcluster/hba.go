package pgcluster

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

const (
	// reloadMarker is what the postmaster logs on SIGHUP, just before it
	// rereads postgresql.conf and pg_hba.conf (lc_messages is C).
	reloadMarker  = "received SIGHUP, reloading configuration files"
	reloadTimeout = 30 * time.Second
	reloadPoll    = 10 * time.Millisecond
)

// SetHBA replaces pg_hba.conf with lines and reloads. When a superuser
// connection is possible, the new file is first checked with
// pg_hba_file_rules and restored on a parse error.
func (c *Cluster) SetHBA(lines ...string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped || c.pm == nil {
		return ErrStopped
	}
	path := filepath.Join(c.dataDir, "pg_hba.conf")
	old, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("set hba: %w", err)
	}
	if err := c.owner.writeFile(path, []byte(strings.Join(lines, "\n")+"\n")); err != nil {
		return fmt.Errorf("set hba: %w", err)
	}
	if err := c.checkHBA(); err != nil {
		_ = c.owner.writeFile(path, old)
		return fmt.Errorf("set hba: %w", err)
	}
	return c.reload()
}

// checkHBA reports parse errors in pg_hba.conf on disk. It passes when no
// superuser connection is possible (the current rules may forbid it).
func (c *Cluster) checkHBA() error {
	ctx, cancel := context.WithTimeout(context.Background(), connectTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.DSN("postgres"))
	if err != nil {
		return nil
	}
	defer conn.Close(ctx)
	var problems string
	err = conn.QueryRow(ctx, `SELECT coalesce(string_agg(format('line %s: %s', line_number, error), '; '), '')
		FROM pg_hba_file_rules WHERE error IS NOT NULL`).Scan(&problems)
	if err != nil {
		return fmt.Errorf("check pg_hba.conf: %w", err)
	}
	if problems != "" {
		return fmt.Errorf("pg_hba.conf: %s", problems)
	}
	return nil
}

// Reload makes the server reread its configuration files and returns once
// the postmaster has done so: new connections then see the new rules.
func (c *Cluster) Reload() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped || c.pm == nil {
		return ErrStopped
	}
	return c.reload()
}

func (c *Cluster) reload() error {
	start := fileSize(c.logPath)
	if err := c.pm.signal(syscall.SIGHUP); err != nil {
		return fmt.Errorf("reload: %w", err)
	}
	deadline := time.Now().Add(reloadTimeout)
	for !strings.Contains(readFrom(c.logPath, start), reloadMarker) {
		if time.Now().After(deadline) || c.pm.exited() {
			return fmt.Errorf("reload: no %q in the server log\n%s", reloadMarker, c.LogTail(20))
		}
		select {
		case <-c.pm.done:
		case <-time.After(reloadPoll):
		}
	}
	return nil
}
