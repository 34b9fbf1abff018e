package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

const (
	readyTimeout = 30 * time.Second
	readyPoll    = 25 * time.Millisecond
	stopTimeout  = 10 * time.Second
)

// daemon is a long-running child process the benchmark talks to over TCP
// (PgBouncer or spiral). It runs in its own session, so a Ctrl-C reaches
// only us and we stop it in order, and it is killed if we die first.
type daemon struct {
	name    string
	port    int
	logPath string
	cmd     *exec.Cmd
	done    chan struct{} // closed once the process is reaped
	err     error         // exit status; read only after done
}

// daemonSpec says how to start a daemon.
type daemonSpec struct {
	name    string
	path    string
	args    []string
	port    int
	logPath string              // stdout and stderr are appended here
	cred    *syscall.Credential // nil: run as ourselves
}

func startDaemon(spec daemonSpec) (*daemon, error) {
	logf, err := os.OpenFile(spec.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", spec.name, err)
	}
	defer logf.Close() // the child has its own copy
	cmd := exec.Command(spec.path, spec.args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGKILL, Credential: spec.cred}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", spec.name, err)
	}
	d := &daemon{name: spec.name, port: spec.port, logPath: spec.logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		d.err = cmd.Wait()
		close(d.done)
	}()
	return d, nil
}

// dsn is a URL for the superuser to connect to dbname through the daemon.
func (d *daemon) dsn(dbname string) string { return localDSN(d.port, dbname) }

func localDSN(port int, dbname string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", port, dbname)
}

// waitReady polls a connection through the daemon until one succeeds, the
// daemon exits or the deadline passes.
func (d *daemon) waitReady(ctx context.Context, dbname string) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	tick := time.NewTicker(readyPoll)
	defer tick.Stop()
	for {
		err := ping(ctx, d.dsn(dbname))
		if err == nil {
			return nil
		}
		select {
		case <-d.done:
			return fmt.Errorf("%s exited during startup (%v); its log:\n%s", d.name, d.err, logTail(d.logPath, 20))
		case <-ctx.Done():
			return fmt.Errorf("%s not ready on port %d: %w (last attempt: %v); its log:\n%s",
				d.name, d.port, ctx.Err(), err, logTail(d.logPath, 20))
		case <-tick.C:
		}
	}
}

func ping(ctx context.Context, dsn string) error {
	cfg, err := pgconn.ParseConfig(dsn)
	if err != nil {
		return err
	}
	cfg.ConnectTimeout = 5 * time.Second
	conn, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	return conn.Close(ctx)
}

// stop sends sig, waits, then kills. It is safe to call more than once.
func (d *daemon) stop(sig syscall.Signal) error {
	for _, s := range []syscall.Signal{sig, syscall.SIGKILL} {
		if err := d.cmd.Process.Signal(s); err != nil && !errors.Is(err, os.ErrProcessDone) {
			return fmt.Errorf("stop %s: %w", d.name, err)
		}
		select {
		case <-d.done:
			return nil
		case <-time.After(stopTimeout):
		}
	}
	return fmt.Errorf("stop %s: pid %d did not exit after SIGKILL", d.name, d.cmd.Process.Pid)
}

// freePort asks the kernel for a free port on 127.0.0.1. Another process
// may take it before the daemon binds it; waitReady then reports the log.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	return port, l.Close()
}

// logTail returns the last n lines of the file at path.
func logTail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	return lastLines(string(b), n)
}

// account is the OS user a daemon that refuses root runs as.
type account struct {
	uid, gid int
}

// daemonAccount returns nil when we are not root, else the postgres user.
func daemonAccount() (*account, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root needs the postgres system user to run PgBouncer as: %w", err)
	}
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		return nil, fmt.Errorf("uid of postgres: %w", err)
	}
	gid, err := strconv.Atoi(u.Gid)
	if err != nil {
		return nil, fmt.Errorf("gid of postgres: %w", err)
	}
	return &account{uid: uid, gid: gid}, nil
}

// credential is what exec needs to run as a; nil for nil.
func (a *account) credential() *syscall.Credential {
	if a == nil {
		return nil
	}
	return &syscall.Credential{Uid: uint32(a.uid), Gid: uint32(a.gid)}
}

// chown hands paths to a; a no-op for nil.
func (a *account) chown(paths ...string) error {
	if a == nil {
		return nil
	}
	for _, p := range paths {
		if err := os.Chown(p, a.uid, a.gid); err != nil {
			return err
		}
	}
	return nil
}
