package pgcluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"sync"
	"time"
)

// Superuser is the name of the bootstrap superuser created by initdb.
const Superuser = "postgres"

// defaultStartTimeout bounds Start and Restart when ctx has no deadline.
const defaultStartTimeout = 2 * time.Minute

// ErrStopped is returned by methods that need a running server after Stop.
var ErrStopped = errors.New("pgcluster: cluster is stopped")

// Options configures Start.
type Options struct {
	// Dir is the data directory. "" means a new temporary directory that
	// Stop removes. A given Dir is reused if it already holds a cluster
	// (initdb runs only when it does not) and is never removed by Stop.
	Dir string
	// Port is the TCP port on 127.0.0.1; 0 picks a free one (and retries
	// startup on a collision).
	Port int
	// Settings are extra postgresql.conf settings; they override the defaults.
	Settings map[string]string
	// Fast turns off durability (fsync, synchronous_commit,
	// full_page_writes). For tests only.
	Fast bool
	// Log receives progress lines; nil means silent.
	Log io.Writer
	// BinDir holds initdb and postgres; "" searches PATH, then
	// /usr/lib/postgresql/*/bin (newest first).
	BinDir string
}

// Cluster is a running PostgreSQL server started by Start.
type Cluster struct {
	opts     Options
	bin      string
	owner    *owner
	tempRoot string // removed by Stop; "" when opts.Dir was given
	dataDir  string
	sockDir  string
	logPath  string
	port     int

	mu      sync.Mutex
	pm      *postmaster
	guard   *watchdog
	stopped bool
}

// Start initializes (if needed) and starts a cluster and waits until it
// accepts connections. On failure nothing is left running and the error
// includes the tail of the server log.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	c, err := newCluster(opts)
	if err != nil {
		return nil, err
	}
	ctx, cancel := withDefaultTimeout(ctx)
	defer cancel()
	if err := c.start(ctx); err != nil {
		_ = c.Stop()
		return nil, err
	}
	return c, nil
}

func newCluster(opts Options) (*Cluster, error) {
	if _, err := renderConf(opts.Settings); err != nil {
		return nil, err
	}
	bin, err := findBinDir(opts.BinDir)
	if err != nil {
		return nil, err
	}
	o, err := serverOwner()
	if err != nil {
		return nil, err
	}
	return &Cluster{opts: opts, bin: bin, owner: o, port: opts.Port}, nil
}

func (c *Cluster) start(ctx context.Context) error {
	if err := c.prepareDirs(); err != nil {
		return err
	}
	guard, err := startWatchdog(c.removeOnDeath()...)
	if err != nil {
		return err
	}
	c.guard = guard
	if err := c.ensureCluster(ctx); err != nil {
		return err
	}
	if err := clearStalePID(ctx, c.dataDir, c.logf); err != nil {
		return err
	}
	return c.launch(ctx)
}

// Host is the address the server listens on.
func (c *Cluster) Host() string { return "127.0.0.1" }

// Port is the server's TCP port.
func (c *Cluster) Port() int { return c.port }

// SocketDir is the private directory holding the server's Unix socket.
func (c *Cluster) SocketDir() string { return c.sockDir }

// DataDir is the cluster's data directory.
func (c *Cluster) DataDir() string { return c.dataDir }

// LogPath is the server log file.
func (c *Cluster) LogPath() string { return c.logPath }

// User is the superuser name.
func (c *Cluster) User() string { return Superuser }

// DSN is a URL for the superuser to connect to dbname over TCP.
func (c *Cluster) DSN(dbname string) string {
	return fmt.Sprintf("postgres://%s@%s:%d/%s?sslmode=disable",
		Superuser, c.Host(), c.port, url.PathEscape(dbname))
}

// Stop shuts the server down (fast, then immediate, then SIGKILL) and
// removes the socket directory and, if Start created it, the temporary
// directory. It is idempotent.
func (c *Cluster) Stop() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return nil
	}
	c.stopped = true
	var errs []error
	if c.pm != nil {
		errs = append(errs, c.pm.shutdown(fastShutdown))
		c.pm = nil
	}
	if c.guard != nil {
		c.guard.dismiss()
	}
	errs = append(errs, c.removeDirs())
	c.logf("stopped")
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("stop: %w", err)
	}
	return nil
}

func withDefaultTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, defaultStartTimeout)
}

func (c *Cluster) logf(format string, args ...any) {
	if c.opts.Log != nil {
		fmt.Fprintf(c.opts.Log, "pgcluster: "+format+"\n", args...)
	}
}
