package proxy

import (
	"context"
	"errors"
	"net"
	"os"
	"sync"
	"time"
)

// hookRuns lets a cancel request stop work the hook does in the daemon on
// the session's behalf (spiral_refresh runs in spiral, not upstream, so
// cancelling the upstream backend alone would not stop it), and lets the
// end of the session stop it too. While a hook call runs, the client loop
// does not read from the client; a call that runs past hangupAfter has the
// client watched instead (watchIfSlow), and a client that hangs up stops
// it as well.
type hookRuns struct {
	mu      sync.Mutex
	cancel  context.CancelFunc // of the hook call under way; nil when none
	started time.Time          // when that call started
	watch   *hangupWatch       // watching the client during that call; nil when not
	ended   bool               // the session is over: new calls start cancelled

	in *clientInput // what the client loop reads, idle during a hook call
}

// clientInput is the client connection as the client loop's reader reads
// it: first any bytes a hang-up watch read, then the connection. A watch
// cannot read through that bufio.Reader: the message the hook works on
// may still be a slice of its buffer, which a read would move.
type clientInput struct {
	conn net.Conn
	held []byte
}

func (c *clientInput) Read(p []byte) (int, error) {
	if len(c.held) > 0 {
		n := copy(p, c.held)
		c.held = c.held[n:]
		return n, nil
	}
	return c.conn.Read(p)
}

// hangupAfter is how long a hook call runs before the client is watched
// for a hang-up. Parsing and rewriting a statement end well before it. The
// server looks for slow calls every hangupAfter/2 (watchSlowHooks), so
// that the statements' hot path arms no timer: adding one can make the Go
// runtime wake its network poller or an idle P.
const hangupAfter = 50 * time.Millisecond

// watchClient lets hook calls watch the client loop's input.
func (h *hookRuns) watchClient(in *clientInput) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.in = in
}

// start returns the context of one hook call and the func that ends it.
func (h *hookRuns) start() (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ended {
		cancel()
		return ctx, func() {}
	}
	h.cancel, h.started = cancel, time.Now()
	return ctx, func() {
		h.mu.Lock()
		w := h.watch
		h.cancel, h.watch = nil, nil
		h.mu.Unlock()
		if w != nil {
			w.stop()
		}
		cancel()
	}
}

// watchIfSlow starts watching the client when the hook call under way has
// run for hangupAfter at now.
func (h *hookRuns) watchIfSlow(now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.in == nil || h.cancel == nil || h.watch != nil || now.Sub(h.started) < hangupAfter {
		return
	}
	h.watch = &hangupWatch{h: h, done: make(chan struct{})}
	go h.watch.run()
}

// interrupt cancels the hook call under way, if any.
func (h *hookRuns) interrupt() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.cancel != nil {
		h.cancel()
	}
}

// end cancels the call under way and every later one, and stops the client
// loop's reads: a watch ending after this leaves them stopped.
func (h *hookRuns) end() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ended = true
	if h.cancel != nil {
		h.cancel()
	}
	if h.in != nil {
		_ = h.in.conn.SetReadDeadline(time.Now())
	}
}

// maxHeld is how much a watch reads before it stops watching: the client
// is there, and sending.
const maxHeld = 64 << 10

// hangupWatch waits, for one hook call, until the client goes away. What
// it reads meanwhile is held for the client loop (clientInput): pipelined
// messages, or a Terminate before the hang-up.
type hangupWatch struct {
	h    *hookRuns
	done chan struct{} // closed when run has returned
}

// run watches until a hang-up, maxHeld or stop.
func (w *hangupWatch) run() {
	defer close(w.done)
	var b [4096]byte
	for len(w.h.in.held) < maxHeld {
		n, err := w.h.in.conn.Read(b[:])
		w.h.in.held = append(w.h.in.held, b[:n]...)
		if err != nil {
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				w.h.interrupt()
			}
			return
		}
	}
}

// stop ends the watch before the client loop reads again: a deadline in
// the past wakes the read, which keeps what it buffered, and the deadline
// is cleared unless the session ended meanwhile.
func (w *hangupWatch) stop() {
	_ = w.h.in.conn.SetReadDeadline(time.Now())
	<-w.done
	w.h.mu.Lock()
	defer w.h.mu.Unlock()
	if !w.h.ended {
		_ = w.h.in.conn.SetReadDeadline(noDeadline)
	}
}
