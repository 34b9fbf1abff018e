package proxy

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/binary"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
)

// cancelKey is the BackendKeyData the proxy gives a client. The upstream's
// own key never leaves the proxy.
type cancelKey struct {
	pid    uint32
	secret [4]byte
}

// register mints the session's cancel key and makes the session reachable
// by cancel requests and by Shutdown. It fails once shutdown has begun.
func (srv *Server) register(s *session) error {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if srv.shuttingDown() {
		return newClientError(codeCannotConnectNow, "spiral is shutting down")
	}
	for {
		var b [8]byte
		_, _ = rand.Read(b[:])
		pid := binary.BigEndian.Uint32(b[:4]) & 0x7fffffff
		if _, taken := srv.sessions[pid]; pid == 0 || taken {
			continue
		}
		s.key = cancelKey{pid: pid}
		copy(s.key.secret[:], b[4:])
		srv.sessions[pid] = s
		break
	}
	srv.metrics.sessionsActive.Inc()
	srv.metrics.sessionsTotal.Inc()
	return nil
}

func (srv *Server) unregister(s *session) {
	srv.mu.Lock()
	delete(srv.sessions, s.key.pid)
	srv.mu.Unlock()
	srv.metrics.sessionsActive.Dec()
}

// forwardCancel maps a client's cancel request to the upstream backend of
// the session it names and forwards it, and stops any work the hook is
// doing in spiral for that session (a refresh). Unknown keys are ignored
// silently, as PostgreSQL does.
func (srv *Server) forwardCancel(req *pgproto3.CancelRequest) {
	srv.mu.Lock()
	s := srv.sessions[req.ProcessID]
	srv.mu.Unlock()
	if s == nil || s.upKey == nil || subtle.ConstantTimeCompare(req.SecretKey, s.key.secret[:]) != 1 {
		srv.metrics.cancels.WithLabelValues("unknown").Inc()
		return
	}
	s.hooks.interrupt()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := sendCancel(ctx, s.upTarget, s.upKey); err != nil {
		srv.metrics.cancels.WithLabelValues("failed").Inc()
		srv.log.Warn("forward cancel request", "err", err)
		return
	}
	srv.metrics.cancels.WithLabelValues("forwarded").Inc()
}
