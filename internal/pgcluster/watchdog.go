package pgcluster

import (
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
)

// watchdogScript reads postmaster pids from stdin, one per start. At EOF,
// which comes when our process dies and the pipe's write end closes, it
// stops the last postmaster (SIGQUIT, like pg_ctl stop -m immediate), waits
// up to 60s for it to exit and removes the directories given as arguments.
const watchdogScript = `pid=
while read -r line; do pid=$line; done
if [ -n "$pid" ]; then
  kill -QUIT "$pid" 2>/dev/null
  i=0
  while kill -0 "$pid" 2>/dev/null && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done
fi
[ $# -gt 0 ] && rm -rf -- "$@"
`

// watchdog cleans up after us if we die without calling Stop.
type watchdog struct {
	cmd  *exec.Cmd
	pipe *os.File // write end; only this process holds it
}

// live holds every watchdog from its start to its dismissal. An *os.File
// closes itself when the garbage collector finds it unreachable; without
// this, a Cluster its caller dropped (a Start whose Stop is left to the
// process's exit) would lose its pipe at some GC, and the watchdog would
// stop a server still in use.
var live = struct {
	sync.Mutex
	set map[*watchdog]struct{}
}{set: map[*watchdog]struct{}{}}

func startWatchdog(remove ...string) (*watchdog, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("watchdog: %w", err)
	}
	defer r.Close()
	args := append([]string{"-c", watchdogScript, "spiral-pg-watchdog"}, remove...)
	cmd := exec.Command("/bin/sh", args...)
	cmd.Stdin = r
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true} // outlive a Ctrl-C to our group
	if err := cmd.Start(); err != nil {
		w.Close()
		return nil, fmt.Errorf("watchdog: %w", err)
	}
	wd := &watchdog{cmd: cmd, pipe: w}
	live.Lock()
	live.set[wd] = struct{}{}
	live.Unlock()
	return wd, nil
}

// watch makes pid the postmaster to stop if we die.
func (w *watchdog) watch(pid int) error {
	_, err := fmt.Fprintf(w.pipe, "%d\n", pid)
	return err
}

// dismiss ends the watchdog without letting it act.
func (w *watchdog) dismiss() {
	_ = w.cmd.Process.Kill()
	_ = w.cmd.Wait()
	_ = w.pipe.Close()
	live.Lock()
	delete(live.set, w)
	live.Unlock()
}
