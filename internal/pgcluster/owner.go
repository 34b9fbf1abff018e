package pgcluster

import (
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
)

// serverAccount is the system user the server runs as when we are root.
const serverAccount = "postgres"

// owner is the OS account the server runs as. A nil *owner is the current
// user: no credential switch and no chown.
type owner struct {
	uid, gid int
}

// serverOwner returns nil unless we run as root, which PostgreSQL refuses.
func serverOwner() (*owner, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup(serverAccount)
	if err != nil {
		return nil, fmt.Errorf("pgcluster: running as root needs the %q system user: %w", serverAccount, err)
	}
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		return nil, fmt.Errorf("pgcluster: uid of %s: %w", serverAccount, err)
	}
	gid, err := strconv.Atoi(u.Gid)
	if err != nil {
		return nil, fmt.Errorf("pgcluster: gid of %s: %w", serverAccount, err)
	}
	return &owner{uid: uid, gid: gid}, nil
}

// sysProcAttr runs a child in its own session, as the owner.
func (o *owner) sysProcAttr() *syscall.SysProcAttr {
	attr := &syscall.SysProcAttr{Setsid: true}
	if o != nil {
		// Groups nil: setgroups(0) drops root's supplementary groups.
		attr.Credential = &syscall.Credential{Uid: uint32(o.uid), Gid: uint32(o.gid)}
	}
	return attr
}

func (o *owner) chown(path string) error {
	if o == nil {
		return nil
	}
	if err := os.Chown(path, o.uid, o.gid); err != nil {
		return fmt.Errorf("chown %s: %w", path, err)
	}
	return nil
}

// mkdirPrivate creates dir (mode 0700, parents 0755) owned by the server
// user. An existing dir keeps its mode.
func (o *owner) mkdirPrivate(dir string) error {
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return fmt.Errorf("mkdir: %w", err)
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !os.IsExist(err) {
		return fmt.Errorf("mkdir: %w", err)
	}
	return o.chown(dir)
}

// writeFile replaces a file's contents and hands it to the server user.
func (o *owner) writeFile(path string, data []byte) error {
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return o.chown(path)
}

// touch creates path if missing and hands it to the server user.
func (o *owner) touch(path string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("create: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("create: %w", err)
	}
	return o.chown(path)
}

// makeTraversable adds o+x to dir and each ancestor the server user
// cannot search, so it can reach its files below dir.
func (o *owner) makeTraversable(dir string, logf func(string, ...any)) error {
	if o == nil {
		return nil
	}
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return fmt.Errorf("stat: %w", err)
		}
		if !o.canSearch(fi) {
			logf("adding o+x to %s so the %s user can reach its files", d, serverAccount)
			if err := os.Chmod(d, fi.Mode().Perm()|0o001); err != nil {
				return fmt.Errorf("chmod: %w", err)
			}
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}

func (o *owner) canSearch(fi fs.FileInfo) bool {
	perm := fi.Mode().Perm()
	st, ok := fi.Sys().(*syscall.Stat_t)
	switch {
	case !ok:
		return perm&0o001 != 0
	case int(st.Uid) == o.uid:
		return perm&0o100 != 0
	case int(st.Gid) == o.gid:
		return perm&0o010 != 0
	default:
		return perm&0o001 != 0
	}
}
