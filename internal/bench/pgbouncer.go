package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
)

// pgbouncerPool is PgBouncer's pool size per database and user; it is well
// above the most clients a cell uses, so no client ever waits for a server.
const pgbouncerPool = 20

// pgbouncerConf is a private, TCP-only, session-pooling configuration that
// trusts the postgres user and forwards every database to one server.
const pgbouncerConf = `[databases]
* = host=127.0.0.1 port=%d

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %d
unix_socket_dir =
auth_type = trust
auth_file = %s
pool_mode = session
max_client_conn = 200
default_pool_size = %d
ignore_startup_parameters = extra_float_digits
`

// pgbouncerBinary finds pgbouncer, installing it with apt-get when it is
// missing and we are root.
func pgbouncerBinary(ctx context.Context, log io.Writer) (string, error) {
	if p, ok := lookPgBouncer(); ok {
		return p, nil
	}
	if os.Geteuid() != 0 {
		return "", errors.New("pgbouncer is not installed and installing it needs root: run `sudo apt-get install -y pgbouncer` and retry")
	}
	fmt.Fprintln(log, "bench: pgbouncer not found; installing it with apt-get")
	for _, args := range [][]string{{"update"}, {"install", "-y", "pgbouncer"}} {
		cmd := exec.CommandContext(ctx, "apt-get", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Run(); err != nil {
			return "", fmt.Errorf("apt-get %s: %w", strings.Join(args, " "), err)
		}
	}
	if p, ok := lookPgBouncer(); ok {
		return p, nil
	}
	return "", errors.New("apt-get installed pgbouncer but the binary is neither on PATH nor in /usr/sbin")
}

// lookPgBouncer searches PATH, then /usr/sbin where Debian puts it.
func lookPgBouncer() (string, bool) {
	if p, err := exec.LookPath("pgbouncer"); err == nil {
		return p, true
	}
	const sbin = "/usr/sbin/pgbouncer"
	if fi, err := os.Stat(sbin); err == nil && fi.Mode().Perm()&0o111 != 0 {
		return sbin, true
	}
	return "", false
}

// pgbouncerVersion returns the first line of `pgbouncer --version`.
func pgbouncerVersion(ctx context.Context, bin string, as *account) (string, error) {
	cmd := exec.CommandContext(ctx, bin, "--version")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: as.credential()}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("pgbouncer --version: %w: %s", err, out)
	}
	first, _, _ := strings.Cut(string(bytes.TrimSpace(out)), "\n")
	return first, nil
}

// startPgBouncer writes a private configuration into dir, which it hands to
// the account PgBouncer runs as (it refuses root), starts PgBouncer in
// front of the server on serverPort and waits until a connection through
// it reaches dbname.
func startPgBouncer(ctx context.Context, bin, dir string, as *account, serverPort int, dbname string) (*daemon, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	users := filepath.Join(dir, "userlist.txt")
	conf := filepath.Join(dir, "pgbouncer.ini")
	if err := os.WriteFile(users, []byte("\"postgres\" \"\"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("pgbouncer userlist: %w", err)
	}
	text := fmt.Sprintf(pgbouncerConf, serverPort, port, users, pgbouncerPool)
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		return nil, fmt.Errorf("pgbouncer config: %w", err)
	}
	if err := as.chown(dir, users, conf); err != nil {
		return nil, fmt.Errorf("pgbouncer dir: %w", err)
	}
	d, err := startDaemon(daemonSpec{
		name: "pgbouncer", path: bin, args: []string{conf}, port: port,
		logPath: filepath.Join(dir, "pgbouncer.log"), cred: as.credential(),
	})
	if err != nil {
		return nil, err
	}
	if err := d.waitReady(ctx, dbname); err != nil {
		_ = d.stop(syscall.SIGTERM)
		return nil, err
	}
	return d, nil
}
