package proxy

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Server accepts client connections and runs one session per connection.
// Its lifecycle follows net/http: Serve, Shutdown, Close, ErrServerClosed.
type Server struct {
	cfg     Config
	log     *slog.Logger
	metrics *metrics
	targets []target

	mu        sync.Mutex
	shutdown  atomic.Bool
	listeners map[net.Listener]struct{}
	sessions  map[uint32]*session // by the cancel-key process ID the client knows
	wg        sync.WaitGroup      // connections being served
	closeOnce sync.Once
}

// New returns a server for cfg. Metrics are registered on reg (nil: not
// registered anywhere).
func New(cfg Config, log *slog.Logger, reg prometheus.Registerer) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	targets, err := upstreamTargets(cfg.Upstream)
	if err != nil {
		return nil, err
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	return &Server{
		cfg: cfg, log: log, metrics: m, targets: targets,
		listeners: make(map[net.Listener]struct{}),
		sessions:  make(map[uint32]*session),
	}, nil
}

// Serve accepts connections on l until Shutdown or Close, and then returns
// ErrServerClosed. It closes l when it returns.
func (srv *Server) Serve(l net.Listener) error {
	if !srv.trackListener(l) {
		return ErrServerClosed
	}
	defer srv.untrackListener(l)
	stop, watching := make(chan struct{}), make(chan struct{})
	go func() { defer close(watching); srv.watchSlowHooks(stop) }()
	defer func() { close(stop); <-watching }()
	var backoff time.Duration
	for {
		conn, err := l.Accept()
		if err != nil {
			if srv.shuttingDown() {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				srv.log.Warn("accept", "err", err, "retry_in", backoff)
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		srv.startConn(conn)
	}
}

// startConn runs conn in its own goroutine, unless the server is closing.
func (srv *Server) startConn(conn net.Conn) {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if srv.shuttingDown() {
		_ = conn.Close()
		return
	}
	srv.wg.Add(1)
	go srv.serveConn(conn)
}

// serveConn is the goroutine of one client connection. A panic in a session
// is a bug: it is logged with its stack and closes both connections, and the
// server keeps running.
func (srv *Server) serveConn(conn net.Conn) {
	defer srv.wg.Done()
	s := &session{srv: srv, client: conn, log: srv.log.With("client", conn.RemoteAddr().String())}
	defer func() {
		if r := recover(); r != nil {
			srv.metrics.errors.WithLabelValues("panic").Inc()
			srv.log.Error("session panic", "panic", r, "stack", string(debug.Stack()))
		}
		_ = s.client.Close()
		if s.up != nil {
			_ = s.up.Close()
		}
	}()
	err := s.run()
	if err != nil {
		s.log.Debug("session ended", "err", err)
	}
}

// Shutdown stops accepting connections, closes idle sessions at once and
// other sessions as soon as they become idle (no query running, no open
// transaction). When ctx ends first, the rest are closed as by Close.
func (srv *Server) Shutdown(ctx context.Context) error {
	srv.beginShutdown()
	srv.eachSession(func(s *session) {
		if s.state.idle() {
			s.interrupt(errIdleShutdownClient())
		}
	})
	done := make(chan struct{})
	go func() {
		srv.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		srv.Close()
		<-done
		return ctx.Err()
	}
}

// Close stops accepting connections and ends every session now, cancelling
// the queries they run. It waits until all sessions are gone.
func (srv *Server) Close() error {
	srv.beginShutdown()
	srv.eachSession(func(s *session) { s.interrupt(errIdleShutdownClient()) })
	srv.wg.Wait()
	return nil
}

func (srv *Server) beginShutdown() {
	srv.closeOnce.Do(func() {
		srv.mu.Lock()
		srv.shutdown.Store(true)
		for l := range srv.listeners {
			_ = l.Close()
		}
		srv.mu.Unlock()
	})
}

func (srv *Server) shuttingDown() bool { return srv.shutdown.Load() }

func (srv *Server) trackListener(l net.Listener) bool {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if srv.shuttingDown() {
		_ = l.Close()
		return false
	}
	srv.listeners[l] = struct{}{}
	return true
}

func (srv *Server) untrackListener(l net.Listener) {
	srv.mu.Lock()
	delete(srv.listeners, l)
	srv.mu.Unlock()
	_ = l.Close()
}

// watchSlowHooks has the client of each hook call that has run past
// hangupAfter watched for a hang-up, until stop is closed.
func (srv *Server) watchSlowHooks(stop <-chan struct{}) {
	tick := time.NewTicker(hangupAfter / 2)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case now := <-tick.C:
			srv.eachSession(func(s *session) { s.hooks.watchIfSlow(now) })
		}
	}
}

func (srv *Server) eachSession(fn func(*session)) {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	for _, s := range srv.sessions {
		fn(s)
	}
}
