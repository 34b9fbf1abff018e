package pgcluster

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// socketParent is where socket directories go: short paths keep the socket
// name under the 107-byte sun_path limit whatever TMPDIR is.
const socketParent = "/tmp"

// prepareDirs creates the data, socket and log locations, owned by the
// server user and reachable by it.
func (c *Cluster) prepareDirs() error {
	if err := c.placeDataDir(); err != nil {
		return err
	}
	if err := c.owner.mkdirPrivate(c.dataDir); err != nil {
		return fmt.Errorf("data dir %s: %w", c.dataDir, err)
	}
	if err := c.owner.makeTraversable(filepath.Dir(c.dataDir), c.logf); err != nil {
		return fmt.Errorf("data dir %s: %w", c.dataDir, err)
	}
	if err := c.owner.touch(c.logPath); err != nil {
		return fmt.Errorf("log file %s: %w", c.logPath, err)
	}
	return c.makeSocketDir()
}

// placeDataDir decides the data directory and log file paths, creating the
// temporary root when no Dir was given.
func (c *Cluster) placeDataDir() error {
	if c.opts.Dir != "" {
		abs, err := filepath.Abs(c.opts.Dir)
		if err != nil {
			return fmt.Errorf("data dir: %w", err)
		}
		c.dataDir, c.logPath = abs, abs+".log"
		return nil
	}
	root, err := os.MkdirTemp("", "spiral-pg-")
	if err != nil {
		return fmt.Errorf("temp dir: %w", err)
	}
	c.tempRoot = root
	c.dataDir = filepath.Join(root, "data")
	c.logPath = filepath.Join(root, "postgres.log")
	return c.owner.chown(root)
}

func (c *Cluster) makeSocketDir() error {
	dir, err := os.MkdirTemp(socketParent, "spgs-")
	if err != nil {
		return fmt.Errorf("socket dir: %w", err)
	}
	c.sockDir = dir
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("socket dir: %w", err)
	}
	if err := c.owner.chown(dir); err != nil {
		return fmt.Errorf("socket dir: %w", err)
	}
	return c.owner.makeTraversable(socketParent, c.logf)
}

// removeOnDeath lists what the watchdog deletes if we die without Stop.
func (c *Cluster) removeOnDeath() []string {
	var dirs []string
	for _, d := range []string{c.sockDir, c.tempRoot} {
		if d != "" {
			dirs = append(dirs, d)
		}
	}
	return dirs
}

// removeDirs deletes the socket dir and the temporary root, never a
// caller-given Dir.
func (c *Cluster) removeDirs() error {
	var errs []error
	for _, d := range c.removeOnDeath() {
		if err := os.RemoveAll(d); err != nil {
			errs = append(errs, fmt.Errorf("remove %s: %w", d, err))
		}
	}
	return errors.Join(errs...)
}
