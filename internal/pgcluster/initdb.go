package pgcluster

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
)

// ensureCluster runs initdb unless the data dir already holds a cluster,
// and makes postgresql.conf include our settings file.
func (c *Cluster) ensureCluster(ctx context.Context) error {
	exists, err := hasCluster(c.dataDir)
	if err != nil {
		return err
	}
	if exists {
		c.logf("reusing cluster in %s", c.dataDir)
	} else if err := c.initdb(ctx); err != nil {
		return err
	}
	return ensureInclude(c.dataDir)
}

func hasCluster(dataDir string) (bool, error) {
	_, err := os.Stat(filepath.Join(dataDir, "PG_VERSION"))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	default:
		return false, fmt.Errorf("data dir %s: %w", dataDir, err)
	}
}

func (c *Cluster) initdb(ctx context.Context) error {
	c.logf("initdb %s", c.dataDir)
	args := []string{"-D", c.dataDir, "--auth=trust", "-U", Superuser,
		"--encoding=UTF8", "--locale=C"}
	if c.opts.Fast {
		args = append(args, "--no-sync")
	}
	cmd := exec.CommandContext(ctx, filepath.Join(c.bin, "initdb"), args...)
	cmd.Dir = c.dataDir
	cmd.SysProcAttr = c.owner.sysProcAttr()
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("initdb: %w\n%s", err, out)
	}
	return nil
}
