package pgcluster

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// postmaster is a running server process, a child of this process.
type postmaster struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited and been reaped
	err  error         // exit status; read only after done is closed
}

// shutdownStep is one signal and how long to wait for the exit after it.
type shutdownStep struct {
	sig  syscall.Signal
	wait time.Duration
}

// The signals are the ones pg_ctl stop sends: SIGINT for -m fast, SIGQUIT
// for -m immediate; SIGKILL is the last resort.
var (
	fastShutdown = []shutdownStep{
		{syscall.SIGINT, time.Minute}, {syscall.SIGQUIT, 15 * time.Second}, {syscall.SIGKILL, 10 * time.Second},
	}
	immediateShutdown = []shutdownStep{
		{syscall.SIGQUIT, 15 * time.Second}, {syscall.SIGKILL, 10 * time.Second},
	}
)

// startPostmaster starts `postgres -D dataDir` as the owner, in its own
// session, appending its output to logPath.
func startPostmaster(bin, dataDir, logPath string, o *owner) (*postmaster, error) {
	logf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	defer logf.Close() // the child has its own copy
	cmd := exec.Command(filepath.Join(bin, "postgres"), "-D", dataDir)
	cmd.Dir = dataDir
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = o.sysProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	p := &postmaster{cmd: cmd, done: make(chan struct{})}
	go p.reap()
	return p, nil
}

func (p *postmaster) reap() {
	p.err = p.cmd.Wait()
	close(p.done)
}

func (p *postmaster) pid() int { return p.cmd.Process.Pid }

func (p *postmaster) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// signal sends sig unless the process has already exited.
func (p *postmaster) signal(sig syscall.Signal) error {
	if p.exited() {
		return fmt.Errorf("postgres exited: %v", p.err)
	}
	if err := p.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("signal postgres: %w", err)
	}
	return nil
}

// shutdown escalates through steps until the process exits.
func (p *postmaster) shutdown(steps []shutdownStep) error {
	for _, s := range steps {
		if p.exited() {
			return nil
		}
		_ = p.cmd.Process.Signal(s.sig)
		select {
		case <-p.done:
			return nil
		case <-time.After(s.wait):
		}
	}
	return fmt.Errorf("postgres (pid %d) did not exit after SIGKILL", p.pid())
}
