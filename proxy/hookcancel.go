package proxy

import (
	"context"
	"sync"
)

// hookRuns lets a cancel request stop work the hook does in the daemon on
// the session's behalf (spiral_refresh runs in spiral, not upstream, so
// cancelling the upstream backend alone would not stop it), and lets the
// end of the session stop it too.
type hookRuns struct {
	mu     sync.Mutex
	cancel context.CancelFunc // of the hook call under way; nil when none
	ended  bool               // the session is over: new calls start cancelled
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
	h.cancel = cancel
	return ctx, func() {
		h.mu.Lock()
		h.cancel = nil
		h.mu.Unlock()
		cancel()
	}
}

// interrupt cancels the hook call under way, if any.
func (h *hookRuns) interrupt() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.cancel != nil {
		h.cancel()
	}
}

// end cancels the call under way and every later one.
func (h *hookRuns) end() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ended = true
	if h.cancel != nil {
		h.cancel()
	}
}
