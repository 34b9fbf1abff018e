package pgcluster

import (
	"io"
	"os"
	"strings"
)

// tailWindow is how much of the end of the log LogTail reads.
const tailWindow = 256 << 10

// LogTail returns the last n lines of the server log.
func (c *Cluster) LogTail(n int) string {
	text := readFrom(c.logPath, fileSize(c.logPath)-tailWindow)
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// fileSize is the size of path, 0 if it cannot be read.
func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// readFrom returns path's contents from offset off ("" on error).
func readFrom(path string, off int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	if _, err := f.Seek(max(off, 0), io.SeekStart); err != nil {
		return ""
	}
	b, _ := io.ReadAll(f)
	return string(b)
}
