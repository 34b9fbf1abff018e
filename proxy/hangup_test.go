package proxy_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"spiral/proxy"
)

// blockingHook holds statements marked block-in-hook until the test lets
// them go or their context ends, and reports how each ended: the way
// spiral_refresh holds the client loop while it works in the daemon.
type blockingHook struct {
	release chan struct{}
	ended   chan error // ctx.Err() of each held call: nil when released
}

func (h *blockingHook) Statement(ctx context.Context, _ *proxy.SessionState, _ proxy.StatementKind, sql string) proxy.Rewrite {
	if !strings.Contains(sql, "block-in-hook") {
		return proxy.Rewrite{SQL: sql}
	}
	select {
	case <-h.release:
		h.ended <- nil
	case <-ctx.Done():
		h.ended <- ctx.Err()
	}
	return proxy.Rewrite{SQL: sql}
}

func startBlocking(t *testing.T) (*testProxy, *blockingHook) {
	h := &blockingHook{release: make(chan struct{}), ended: make(chan error, 4)}
	return startProxy(t, func(c *proxy.Config) { c.Hook = h }), h
}

// heldEnd waits for the held call to end and returns how.
func (h *blockingHook) heldEnd(t *testing.T) error {
	t.Helper()
	select {
	case err := <-h.ended:
		return err
	case <-time.After(20 * time.Second):
		t.Fatal("the held hook call did not end in 20 s")
		return nil
	}
}

// TestHangupStopsHookWork: a client that hangs up while the hook works on
// its statement (a refresh, say) has that work cancelled, as a cancel
// request would, not left running with nobody to answer.
// A client may say Terminate first, as pgx does when it gives up.
func TestHangupStopsHookWork(t *testing.T) {
	p, h := startBlocking(t)
	for _, terminate := range []bool{false, true} {
		c := dialRaw(t, p.addr)
		c.login("postgres")
		c.write(message('Q', []byte("SELECT 1 /* block-in-hook */\x00")))
		time.Sleep(300 * time.Millisecond) // past hangupAfter: the client is watched
		if terminate {
			c.write(message('X', nil))
		}
		c.conn.Close()
		if err := h.heldEnd(t); err == nil {
			t.Fatalf("terminate %v: the hook call ran on after its client hung up", terminate)
		}
	}
}

// TestWatchedClientKeepsItsMessages: a client watched during a long hook
// call that sends more meanwhile (pipelined queries) loses none of it, and
// the session goes on normally once the call ends.
func TestWatchedClientKeepsItsMessages(t *testing.T) {
	p, h := startBlocking(t)
	c := dialRaw(t, p.addr)
	c.login("postgres")
	c.write(message('Q', []byte("SELECT 1 AS a /* block-in-hook */\x00")))
	time.Sleep(300 * time.Millisecond)
	c.write(message('Q', []byte("SELECT 2 AS b\x00")))
	time.Sleep(300 * time.Millisecond)
	c.write(message('Q', []byte("SELECT 3 AS c\x00")))
	time.Sleep(100 * time.Millisecond)
	close(h.release)
	if err := h.heldEnd(t); err != nil {
		t.Fatalf("the held call was cancelled: %v", err)
	}
	var got []string
	for len(got) < 3 {
		c.until(func(m pgproto3.BackendMessage) bool {
			if d, ok := m.(*pgproto3.DataRow); ok {
				got = append(got, string(d.Values[0]))
			}
			_, ok := m.(*pgproto3.ReadyForQuery)
			return ok
		})
	}
	if strings.Join(got, ",") != "1,2,3" {
		t.Fatalf("answers %v, want 1,2,3", got)
	}
	c.write(message('Q', []byte("SELECT 4 /* block-in-hook */\x00")))
	c.until(func(m pgproto3.BackendMessage) bool { _, ok := m.(*pgproto3.ReadyForQuery); return ok })
	if err := h.heldEnd(t); err != nil {
		t.Fatalf("a later held call was cancelled: %v", err)
	}
}
