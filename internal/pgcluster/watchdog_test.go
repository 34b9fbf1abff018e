package pgcluster

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// TestWatchdogOutlivesItsReferences: a watchdog nobody refers to any more
// keeps its pipe open, so it does not act while this process lives. Its
// action here is removing a directory.
func TestWatchdogOutlivesItsReferences(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "kept")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := startWatchdog(dir); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		runtime.GC()
		time.Sleep(100 * time.Millisecond)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("the watchdog acted while this process lives: %v", err)
	}
	live.Lock()
	var left []*watchdog
	for w := range live.set {
		left = append(left, w)
	}
	live.Unlock()
	if len(left) != 1 {
		t.Fatalf("%d live watchdogs, want 1", len(left))
	}
	left[0].dismiss()
	live.Lock()
	n := len(live.set)
	live.Unlock()
	if n != 0 {
		t.Errorf("%d live watchdogs after dismiss, want 0", n)
	}
}
