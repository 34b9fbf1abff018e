package proxy

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"maps"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
)

// bufSize is the read and write buffer size on each side of a session.
// Messages that fit are relayed with one copy; larger ones are streamed.
const bufSize = 16 << 10

var noDeadline time.Time

// errTerminate ends a session whose client sent Terminate.
var errTerminate = errors.New("proxy: client terminated the session")

// errIdleShutdown ends an idle session while the server shuts down.
var errIdleShutdown = errors.New("proxy: idle session closed for shutdown")

// session is one client connection and its upstream connection.
type session struct {
	srv   *Server
	log   *slog.Logger
	state *SessionState

	client net.Conn
	clR    *bufio.Reader
	clMu   sync.Mutex // guards clW after startup: both loops may write to the client
	clW    *bufio.Writer

	up       net.Conn
	upR      *bufio.Reader
	upW      *bufio.Writer
	upTarget target
	upTLS    bool

	key   cancelKey                // what the client knows us by
	upKey *pgproto3.BackendKeyData // what the upstream knows us by

	tags  retagger           // command tags to rewrite
	watch watches            // prepared statements with work before each execution
	fin   finisher           // result columns the hook finishes
	prep  preparedStatements // rewrites prepared upstream; client loop only
	hooks hookRuns           // the hook's work under way, which a cancel stops

	stop atomic.Pointer[clientError] // set when the server ends the session
}

// run drives a session from the first byte to the end. It returns the
// error that ended it; the caller closes both connections.
func (s *session) run() error {
	_ = s.client.SetDeadline(time.Now().Add(s.srv.cfg.StartupTimeout))
	conn, res, err := clientStartup(s.client, s.srv.cfg.TLS)
	s.client = conn
	if err != nil {
		return s.fail(err)
	}
	if res.cancel != nil {
		s.srv.forwardCancel(res.cancel)
		return nil
	}
	return s.serve(res)
}

// serve runs an ordinary session once the client's startup packet is in.
func (s *session) serve(res *startupResult) error {
	s.state = newSessionState(res.msg.Parameters)
	s.state.barrier = s.barrier
	s.log = s.log.With("user", res.msg.Parameters["user"], "database", res.msg.Parameters["database"])
	in := &clientInput{conn: s.client}
	s.clR = bufio.NewReaderSize(in, bufSize)
	s.clW = bufio.NewWriterSize(s.client, bufSize)
	if res.negotiate != nil {
		if err := writeMsg(s.clW, res.negotiate); err != nil {
			return err
		}
	}
	if err := s.connect(res.msg); err != nil {
		return s.fail(err)
	}
	defer s.up.Close()
	if err := s.srv.register(s); err != nil {
		return s.fail(err)
	}
	defer s.srv.unregister(s)
	if err := s.authenticate(); err != nil {
		return s.fail(err)
	}
	_ = s.client.SetDeadline(noDeadline)
	s.hooks.watchClient(in)
	if err := s.clW.Flush(); err != nil {
		return err
	}
	if s.srv.shuttingDown() {
		return s.fail(errIdleShutdownClient())
	}
	return s.relayLoops()
}

// connect dials upstream and sends the client's startup parameters
// verbatim, plus any configured UpstreamSettings the client did not set.
func (s *session) connect(msg *pgproto3.StartupMessage) error {
	ctx, cancel := context.WithTimeout(context.Background(), s.srv.cfg.ConnectTimeout)
	defer cancel()
	start := time.Now()
	conn, t, err := dialUpstream(ctx, s.srv.targets)
	s.srv.metrics.connectSeconds.Observe(time.Since(start).Seconds())
	if err != nil {
		s.srv.metrics.errors.WithLabelValues("upstream_connect").Inc()
		return newClientError(codeConnectionFailure, "spiral could not connect to the upstream server: %v", err)
	}
	s.up, s.upTarget, s.upTLS = conn, t, t.tls != nil
	s.upR = bufio.NewReaderSize(conn, bufSize)
	s.upW = bufio.NewWriterSize(conn, bufSize)
	msg.ProtocolVersion = pgproto3.ProtocolVersion30
	up := *msg
	if len(s.srv.cfg.UpstreamSettings) > 0 {
		up.Parameters = maps.Clone(msg.Parameters)
		for k, v := range s.srv.cfg.UpstreamSettings {
			if _, set := up.Parameters[k]; !set {
				up.Parameters[k] = v
			}
		}
	}
	if err := writeMsg(s.upW, &up); err != nil {
		return newClientError(codeConnectionFailure, "send startup to upstream: %v", err)
	}
	return s.upW.Flush()
}

// relayLoops runs the two relay directions until one ends, then stops the
// other and reports what ended the session to the client.
func (s *session) relayLoops() error {
	clDone, upDone := make(chan error, 1), make(chan error, 1)
	go func() { clDone <- s.clientLoop() }()
	go func() { upDone <- s.upstreamLoop() }()
	var cause error
	select {
	case cause = <-clDone:
		s.endUpstream(cause)
		<-upDone
	case cause = <-upDone:
		_ = s.client.SetReadDeadline(time.Now())
		s.hooks.end()
		<-clDone
		s.endUpstream(cause)
	}
	if stop := s.stop.Load(); stop != nil {
		cause = stop
	}
	return s.finish(cause)
}

// barrier flushes what the client sent and waits until every request sent
// so far has been answered. It runs on the client loop's goroutine.
func (s *session) barrier(ctx context.Context) error {
	if err := s.upW.Flush(); err != nil {
		return wrapWrite(err)
	}
	return s.state.waitIdle(ctx)
}

// endUpstream cancels whatever the upstream is still running for a client
// that is gone, then says goodbye and closes the upstream connection.
func (s *session) endUpstream(cause error) {
	if !errors.Is(cause, errTerminate) && s.state.pending.Load() > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := sendCancel(ctx, s.upTarget, s.upKey); err != nil {
			s.log.Warn("cancel upstream query", "err", err)
		}
		cancel()
	}
	_ = s.up.SetWriteDeadline(time.Now().Add(time.Second))
	_ = writeMsg(s.up, &pgproto3.Terminate{})
	_ = s.up.Close()
}

// finish tells the client why its session ended, when it is still there to
// hear it.
func (s *session) finish(cause error) error {
	var gone *goneError
	switch {
	case errors.Is(cause, errTerminate):
		return nil
	case errors.Is(cause, errIdleShutdown):
		return s.fail(errIdleShutdownClient())
	case errors.As(cause, &gone):
		return cause
	}
	return s.fail(cause)
}

// fail sends err to the client as a FATAL ErrorResponse when it is one the
// client should see, and returns it.
func (s *session) fail(err error) error {
	var ce *clientError
	if !errors.As(err, &ce) {
		return err
	}
	s.srv.metrics.errors.WithLabelValues(ce.code).Inc()
	s.clMu.Lock()
	defer s.clMu.Unlock()
	_ = s.client.SetWriteDeadline(time.Now().Add(2 * time.Second))
	var w io.Writer = s.client
	if s.clW != nil {
		w = s.clW
	}
	if writeMsg(w, ce.response()) == nil && s.clW != nil {
		_ = s.clW.Flush()
	}
	return err
}

// interrupt ends the session from outside: both loops wake up, the upstream
// query is cancelled, and the client is told ce.
func (s *session) interrupt(ce *clientError) {
	if !s.stop.CompareAndSwap(nil, ce) {
		return
	}
	s.hooks.end()
	now := time.Now()
	_ = s.client.SetReadDeadline(now)
	_ = s.client.SetWriteDeadline(now.Add(time.Second))
	if s.up != nil {
		_ = s.up.SetReadDeadline(now)
	}
}

func errIdleShutdownClient() *clientError {
	return newClientError(codeAdminShutdown, "terminating connection due to administrator command").
		withHint("spiral is shutting down.")
}

// goneError wraps a failure to read from or write to the client: the client
// closed or broke the connection and nothing more can be told to it.
type goneError struct{ err error }

func (e *goneError) Error() string { return "client connection: " + e.err.Error() }
func (e *goneError) Unwrap() error { return e.err }
