package pgcluster

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const (
	// staleWait is how long a live postmaster on the data dir gets to
	// exit (e.g. while a dead run's watchdog shuts it down).
	staleWait = 5 * time.Second
	stalePoll = 50 * time.Millisecond
)

// clearStalePID removes postmaster.pid left by a server that no longer
// runs (e.g. after SIGKILL). A live postmaster on dataDir is an error.
func clearStalePID(ctx context.Context, dataDir string, logf func(string, ...any)) error {
	path := filepath.Join(dataDir, "postmaster.pid")
	pid, err := readPIDFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err == nil && awaitExit(ctx, pid, dataDir) {
		return fmt.Errorf("pgcluster: data dir %s is in use by a running postmaster (pid %d)", dataDir, pid)
	}
	logf("removing stale %s (pid %d is gone)", path, pid)
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("stale pid file: %w", err)
	}
	return nil
}

// readPIDFile returns the pid on the first line of postmaster.pid.
func readPIDFile(path string) (int, error) {
	lines, err := pidFileLines(path)
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(lines[0])
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("bad pid file %s", path)
	}
	return pid, nil
}

// pidFileReady reports whether postmaster.pid says that postmaster pid has
// finished starting up. Only a postmaster that bound its port gets there,
// so a connection that succeeds afterwards is to this server and not to
// another one on the same port.
func pidFileReady(dataDir string, pid int) bool {
	lines, err := pidFileLines(filepath.Join(dataDir, "postmaster.pid"))
	return err == nil && len(lines) > pidFileStatusLine &&
		lines[0] == strconv.Itoa(pid) && lines[pidFileStatusLine] == "ready"
}

// pidFileStatusLine is the 0-based line of postmaster.pid holding the
// postmaster status (PostgreSQL 10 and later).
const pidFileStatusLine = 7

func pidFileLines(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	lines := strings.Split(string(data), "\n")
	for i := range lines {
		lines[i] = strings.TrimSpace(lines[i])
	}
	return lines, nil
}

// awaitExit polls until pid is no postmaster for dataDir or staleWait
// passes; it reports whether the postmaster still runs.
func awaitExit(ctx context.Context, pid int, dataDir string) bool {
	deadline := time.Now().Add(staleWait)
	for postmasterAlive(pid, dataDir) {
		if time.Now().After(deadline) {
			return true
		}
		select {
		case <-ctx.Done():
			return true
		case <-time.After(stalePoll):
		}
	}
	return false
}

// postmasterAlive reports whether pid is a live process whose working
// directory is dataDir (a postmaster chdirs to its data dir). Like
// PostgreSQL, it treats a process we may not signal as not ours.
func postmasterAlive(pid int, dataDir string) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	cwd, err := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid))
	if errors.Is(err, fs.ErrPermission) {
		return true // cannot tell: assume it is the postmaster
	}
	if err != nil {
		return false // exited meanwhile, or a zombie
	}
	want, err := filepath.EvalSymlinks(dataDir)
	return err != nil || cwd == want
}
