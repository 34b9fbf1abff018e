package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// pgbenchResult is what one pgbench run reports.
type pgbenchResult struct {
	tps       float64 // without initial connection time
	latencyMS float64 // average
}

var (
	tpsLine     = regexp.MustCompile(`(?m)^tps = ([0-9.]+) \(without initial connection time\)`)
	latencyLine = regexp.MustCompile(`(?m)^latency average = ([0-9.]+) ms`)
)

// pgbenchBinary finds pgbench on PATH, else in the newest
// /usr/lib/postgresql/*/bin.
func pgbenchBinary() (string, error) {
	if p, err := exec.LookPath("pgbench"); err == nil {
		return p, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	for i := len(dirs) - 1; i >= 0; i-- {
		if p := filepath.Join(dirs[i], "pgbench"); isExecutable(p) {
			return p, nil
		}
	}
	return "", errors.New("pgbench not found on PATH or in /usr/lib/postgresql/*/bin (apt-get install postgresql-client)")
}

// pgbenchVersion returns e.g. "pgbench (PostgreSQL) 15.8".
func pgbenchVersion(ctx context.Context, bin string) string {
	out, err := exec.CommandContext(ctx, bin, "--version").Output()
	if err != nil {
		return "pgbench (unknown version)"
	}
	return strings.TrimSpace(string(out))
}

// pgbenchInit creates and fills the pgbench tables at the given scale.
func pgbenchInit(ctx context.Context, bin string, port, scale int, dbname string) error {
	args := append(connArgs(port, dbname), "-i", "-q", "-s", strconv.Itoa(scale))
	if _, err := runPgbenchCmd(ctx, bin, args); err != nil {
		return fmt.Errorf("pgbench -i: %w", err)
	}
	return nil
}

// pgbenchSelect runs the select-only script (`-S`) for d with the given
// clients and query protocol ("simple" or "prepared"). Each client
// connects once, as under session pooling.
func pgbenchSelect(ctx context.Context, bin string, port int, dbname, mode string, clients int, d time.Duration) (pgbenchResult, error) {
	args := append(connArgs(port, dbname), "-S", "-n",
		"-T", strconv.Itoa(int(d.Round(time.Second).Seconds())),
		"-c", strconv.Itoa(clients), "-j", strconv.Itoa(min(clients, 2)), "-M", mode)
	out, err := runPgbenchCmd(ctx, bin, args)
	if err != nil {
		return pgbenchResult{}, err
	}
	return parsePgbench(out)
}

func connArgs(port int, dbname string) []string {
	return []string{"-h", "127.0.0.1", "-p", strconv.Itoa(port), "-U", "postgres", dbname}
}

// runPgbenchCmd runs pgbench without TLS (all three targets alike) and
// returns its standard output.
func runPgbenchCmd(ctx context.Context, bin string, args []string) (string, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "PGSSLMODE=disable", "PGOPTIONS=")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("pgbench %s: %w\n%s%s", strings.Join(args, " "), err, stdout.String(), lastLines(stderr.String(), 10))
	}
	return stdout.String(), nil
}

// parsePgbench reads the TPS and average latency from pgbench's report.
func parsePgbench(out string) (pgbenchResult, error) {
	tps, err := match(tpsLine, out)
	if err != nil {
		return pgbenchResult{}, fmt.Errorf("parse pgbench tps: %w", err)
	}
	lat, err := match(latencyLine, out)
	if err != nil {
		return pgbenchResult{}, fmt.Errorf("parse pgbench latency: %w", err)
	}
	return pgbenchResult{tps: tps, latencyMS: lat}, nil
}

func match(re *regexp.Regexp, out string) (float64, error) {
	m := re.FindStringSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("no line matching %q in:\n%s", re, out)
	}
	return strconv.ParseFloat(m[1], 64)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
