package pgcluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

const (
	maxPortAttempts = 5
	readyPoll       = 25 * time.Millisecond
	connectTimeout  = 5 * time.Second
)

// errPortInUse marks a startup that failed because the port was taken.
var errPortInUse = errors.New("port in use")

// launch starts the server, retrying on a port collision when the port is
// ours to pick.
func (c *Cluster) launch(ctx context.Context) error {
	for attempt := 1; ; attempt++ {
		if c.opts.Port == 0 {
			port, err := freePort()
			if err != nil {
				return err
			}
			c.port = port
		}
		err := c.run(ctx)
		if !errors.Is(err, errPortInUse) || c.opts.Port != 0 || attempt == maxPortAttempts {
			return err
		}
		c.logf("port %d was taken, trying another", c.port)
	}
}

// run writes the settings, starts the postmaster on c.port and waits until
// it accepts connections. On failure the process is stopped.
func (c *Cluster) run(ctx context.Context) error {
	if err := c.writeConf(); err != nil {
		return err
	}
	logStart := fileSize(c.logPath)
	pm, err := startPostmaster(c.bin, c.dataDir, c.logPath, c.owner)
	if err != nil {
		return err
	}
	if err := c.guard.watch(pm.pid()); err != nil {
		c.logf("watchdog: %v", err)
	}
	if err := c.waitReady(ctx, pm); err != nil {
		_ = pm.shutdown(immediateShutdown)
		if bindFailed(readFrom(c.logPath, logStart)) {
			err = fmt.Errorf("%w: %v", errPortInUse, err)
		}
		return fmt.Errorf("start postgres on port %d: %w\n%s", c.port, err, c.LogTail(30))
	}
	c.pm = pm
	c.logf("postgres (pid %d) ready on %s:%d, data %s", pm.pid(), c.Host(), c.port, c.dataDir)
	return nil
}

// waitReady polls until postmaster.pid says ready and a TCP connection is
// answered, the process exits or ctx ends.
func (c *Cluster) waitReady(ctx context.Context, pm *postmaster) error {
	tick := time.NewTicker(readyPoll)
	defer tick.Stop()
	for {
		err := errors.New("postmaster.pid does not say ready")
		if pidFileReady(c.dataDir, pm.pid()) {
			err = ping(ctx, c.DSN("postgres"))
			if answered(err) {
				return nil
			}
		}
		select {
		case <-pm.done:
			return fmt.Errorf("postgres exited during startup: %v", pm.err)
		case <-ctx.Done():
			return fmt.Errorf("postgres not ready: %w (last attempt: %v)", ctx.Err(), err)
		case <-tick.C:
		}
	}
}

func ping(ctx context.Context, dsn string) error {
	cfg, err := pgconn.ParseConfig(dsn)
	if err != nil {
		return err
	}
	cfg.ConnectTimeout = connectTimeout
	conn, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	return conn.Close(ctx)
}

// answered reports whether the server is up: it accepted the connection or
// answered with an error other than "starting up" (57P03). An
// authentication error counts, so a restrictive pg_hba.conf is no problem.
func answered(err error) bool {
	if err == nil {
		return true
	}
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code != "57P03"
}

func bindFailed(log string) bool {
	return strings.Contains(log, "Address already in use") ||
		strings.Contains(log, "could not create any TCP/IP sockets")
}

// freePort asks the kernel for a free port on 127.0.0.1. Another process
// may take it before postgres binds it; launch retries then.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	return port, nil
}
