package pgcluster

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// ErrNoBinaries means initdb and postgres were not found.
var ErrNoBinaries = errors.New("pgcluster: PostgreSQL server binaries (initdb, postgres) not found")

// debianBinGlob is where Debian and Ubuntu install the server binaries.
const debianBinGlob = "/usr/lib/postgresql/*/bin"

// findBinDir returns the directory holding initdb and postgres: explicit if
// given, else the one on PATH, else the newest Debian-style install.
func findBinDir(explicit string) (string, error) {
	if explicit != "" {
		if err := checkBinDir(explicit); err != nil {
			return "", fmt.Errorf("%w: %v", ErrNoBinaries, err)
		}
		return explicit, nil
	}
	if p, err := exec.LookPath("postgres"); err == nil && checkBinDir(filepath.Dir(p)) == nil {
		return filepath.Dir(p), nil
	}
	for _, dir := range debianBinDirs() {
		if checkBinDir(dir) == nil {
			return dir, nil
		}
	}
	return "", fmt.Errorf("%w on PATH or in %s", ErrNoBinaries, debianBinGlob)
}

func checkBinDir(dir string) error {
	for _, name := range []string{"initdb", "postgres"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		if fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
			return fmt.Errorf("%s is not executable", filepath.Join(dir, name))
		}
	}
	return nil
}

// debianBinDirs lists /usr/lib/postgresql/VERSION/bin, newest first.
func debianBinDirs() []string {
	dirs, _ := filepath.Glob(debianBinGlob)
	slices.SortFunc(dirs, func(a, b string) int {
		return slices.Compare(versionOf(b), versionOf(a))
	})
	return dirs
}

func versionOf(binDir string) []int {
	var v []int
	for _, part := range strings.Split(filepath.Base(filepath.Dir(binDir)), ".") {
		n, err := strconv.Atoi(part)
		if err != nil {
			n = -1
		}
		v = append(v, n)
	}
	return v
}
