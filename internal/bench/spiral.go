package bench

import (
	"context"
	"debug/buildinfo"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
)

// spiralBinary returns the spiral binary to measure and a description of
// its build: explicit when given, else bin/spiral at the module root when
// present, else a fresh `go build ./cmd/spiral` into tmp.
func spiralBinary(ctx context.Context, explicit, tmp string, log io.Writer) (bin, version string, err error) {
	if explicit != "" {
		return explicit, buildVersion(explicit), nil
	}
	root, err := moduleRoot(ctx)
	if err != nil {
		return "", "", err
	}
	if p := filepath.Join(root, "bin", "spiral"); isExecutable(p) {
		return p, buildVersion(p), nil
	}
	out := filepath.Join(tmp, "spiral")
	fmt.Fprintln(log, "bench: go build -o", out, "./cmd/spiral")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./cmd/spiral")
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Run(); err != nil {
		return "", "", fmt.Errorf("build spiral (or pass --spiral-bin): %w", err)
	}
	return out, treeVersion(ctx, root, out), nil
}

// moduleRoot is the directory of the main module's go.mod.
func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("find the spiral module: go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not inside the spiral module: run from the checkout or pass --spiral-bin")
	}
	return filepath.Dir(gomod), nil
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// buildVersion describes a binary by the VCS revision and Go version
// stamped into it.
func buildVersion(bin string) string {
	info, err := buildinfo.ReadFile(bin)
	if err != nil {
		return "unknown build"
	}
	rev, dirty := "unknown revision", ""
	for _, s := range info.Settings {
		switch {
		case s.Key == "vcs.revision":
			rev = s.Value[:min(12, len(s.Value))]
		case s.Key == "vcs.modified" && s.Value == "true":
			dirty = "+dirty"
		}
	}
	return fmt.Sprintf("%s%s, %s", rev, dirty, info.GoVersion)
}

// treeVersion describes a binary just built from the checkout at root,
// asking git when the build carries no VCS stamp (-buildvcs=false).
func treeVersion(ctx context.Context, root, bin string) string {
	v := buildVersion(bin)
	if !strings.HasPrefix(v, "unknown revision") {
		return v
	}
	rev, err := exec.CommandContext(ctx, "git", "-C", root, "rev-parse", "--short=12", "HEAD").Output()
	if err != nil {
		return v
	}
	dirty := ""
	if st, err := exec.CommandContext(ctx, "git", "-C", root, "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(st) > 0 {
		dirty = "+dirty"
	}
	return strings.TrimSpace(string(rev)) + dirty + strings.TrimPrefix(v, "unknown revision")
}

// startSpiral runs `spiral serve` in front of upstream, logging into dir,
// and waits until a connection through it reaches dbname.
func startSpiral(ctx context.Context, bin, dir, upstream, dbname string) (*daemon, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	d, err := startDaemon(daemonSpec{
		name: "spiral", path: bin, port: port, logPath: filepath.Join(dir, "spiral.log"),
		args: []string{"serve", "--upstream", upstream, "--listen", fmt.Sprintf("127.0.0.1:%d", port)},
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
