package main

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// child is the spiral binary (this test binary, see TestMain) running a
// command as a process of its own, with its output collected.
type child struct {
	cmd    *exec.Cmd
	exited chan error // Wait's result, once it exits

	mu     sync.Mutex
	output strings.Builder // stdout and stderr, interleaved
}

// log is what the process has written so far.
func (c *child) log() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.output.String()
}

// startChild runs args with env added and returns once ready accepts a
// line of its output, within limit; it fails the test if the process
// exits or the limit passes first. The process is killed when the test
// ends.
func startChild(t *testing.T, env []string, ready func(line string) bool, limit time.Duration, args ...string) *child {
	t.Helper()
	c := &child{exited: make(chan error, 1)}
	c.cmd = exec.Command(os.Args[0], args...)
	c.cmd.Env = append(append(os.Environ(), "SPIRAL_TEST_AS_MAIN=1"), env...)
	pr, pw := io.Pipe()
	c.cmd.Stdout, c.cmd.Stderr = pw, pw
	isReady := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(pr)
		for waiting := true; sc.Scan(); {
			c.mu.Lock()
			c.output.WriteString(sc.Text() + "\n")
			c.mu.Unlock()
			if waiting && ready(sc.Text()) {
				close(isReady)
				waiting = false
			}
		}
	}()
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { c.exited <- c.cmd.Wait(); pw.Close() }()
	t.Cleanup(func() { _ = c.cmd.Process.Kill() })
	select {
	case <-isReady:
	case err := <-c.exited:
		t.Fatalf("spiral %s exited (%v) before it was ready:\n%s", args[0], err, c.log())
	case <-time.After(limit):
		t.Fatalf("spiral %s not ready after %s:\n%s", args[0], limit, c.log())
	}
	return c
}

// stop sends sig and wants the process to exit 0 within limit.
func (c *child) stop(t *testing.T, sig syscall.Signal, limit time.Duration) {
	t.Helper()
	c.signal(t, sig)
	c.waitExit(t, limit)
}

func (c *child) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := c.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
}

// waitExit wants the process to exit 0 within limit.
func (c *child) waitExit(t *testing.T, limit time.Duration) {
	t.Helper()
	select {
	case err := <-c.exited:
		if err != nil {
			t.Fatalf("exit: %v\n%s", err, c.log())
		}
	case <-time.After(limit):
		t.Fatalf("did not exit within %s:\n%s", limit, c.log())
	}
}
