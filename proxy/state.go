package proxy

import (
	"context"
	"maps"
	"sync"
	"sync/atomic"
)

// SessionState is what the proxy knows about one client session: its
// startup parameters, the server's ParameterStatus values (TimeZone,
// DateStyle, ...) and the transaction status of the last ReadyForQuery.
// It is safe for concurrent use.
type SessionState struct {
	startup map[string]string // immutable after startup

	mu     sync.RWMutex
	params map[string]string

	txStatus atomic.Uint32 // 'I', 'T' or 'E'; 0 before the first ReadyForQuery
	pending  atomic.Int64  // requests sent upstream still awaiting ReadyForQuery
	answered atomic.Int64  // requests answered with ReadyForQuery so far
	idleCh   chan struct{} // signalled when pending drops to zero

	backendPID uint32                      // the upstream backend's process ID
	barrier    func(context.Context) error // set by the session

	locals sync.Map // a hook's per-session values

	afterN  atomic.Int32 // len(after), read without the lock on every ReadyForQuery
	afterMu sync.Mutex
	after   []afterTx // AfterTransaction's callbacks not yet run
}

// afterTx is a callback due once request n has been answered and no
// transaction is open.
type afterTx struct {
	n int64
	f func()
}

// AfterTransaction runs f once the request the hook is deciding about, and
// the transaction it is part of, have ended: at the first ReadyForQuery
// from that request on that reports no open transaction. Meant for a hook
// deciding about a statement (the request is then the next one counted);
// f runs on the session's upstream reader and must not block. Callbacks
// still due when the session ends are dropped.
func (s *SessionState) AfterTransaction(f func()) {
	n := s.answered.Load() + s.pending.Load() + 1
	s.afterMu.Lock()
	s.after = append(s.after, afterTx{n: n, f: f})
	s.afterN.Store(int32(len(s.after)))
	s.afterMu.Unlock()
}

// runAfter runs the AfterTransaction callbacks that are due.
func (s *SessionState) runAfter() {
	if s.afterN.Load() == 0 || s.TxStatus() != 'I' {
		return
	}
	n := s.answered.Load()
	var due []func()
	s.afterMu.Lock()
	keep := s.after[:0]
	for _, a := range s.after {
		if a.n <= n {
			due = append(due, a.f)
		} else {
			keep = append(keep, a)
		}
	}
	s.after = keep
	s.afterN.Store(int32(len(keep)))
	s.afterMu.Unlock()
	for _, f := range due {
		f()
	}
}

// Local returns the value a hook stored for this session under key, or nil.
func (s *SessionState) Local(key any) any {
	v, _ := s.locals.Load(key)
	return v
}

// SetLocal stores a hook's per-session value; it lives as long as the
// session.
func (s *SessionState) SetLocal(key, value any) { s.locals.Store(key, value) }

func newSessionState(startup map[string]string) *SessionState {
	return &SessionState{startup: startup, params: make(map[string]string), idleCh: make(chan struct{}, 1)}
}

// Startup returns a startup parameter the client sent (user, database, ...).
func (s *SessionState) Startup(name string) string { return s.startup[name] }

// Param returns the latest ParameterStatus value the server reported for
// name, e.g. "TimeZone", or "" when it never reported one.
func (s *SessionState) Param(name string) string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.params[name]
}

// Params returns a copy of all reported parameters.
func (s *SessionState) Params() map[string]string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return maps.Clone(s.params)
}

func (s *SessionState) setParam(name, value string) {
	s.mu.Lock()
	s.params[name] = value
	s.mu.Unlock()
}

// TxStatus returns the transaction status byte of the last ReadyForQuery:
// 'I' idle, 'T' in a transaction, 'E' in a failed transaction.
func (s *SessionState) TxStatus() byte { return byte(s.txStatus.Load()) }

// idle reports whether nothing is in flight and no transaction is open.
func (s *SessionState) idle() bool {
	return s.pending.Load() == 0 && s.TxStatus() == 'I'
}

// BackendPID is the process ID of the upstream backend serving the session
// (what pg_backend_pid() returns there).
func (s *SessionState) BackendPID() uint32 { return s.backendPID }

// Barrier sends everything the client has sent so far upstream and waits
// until every request before the current statement has been answered. A
// hook calls it before work that must see the session's earlier statements
// committed. It may only be called from within Hook.Statement or OnExecute.
func (s *SessionState) Barrier(ctx context.Context) error {
	if s.barrier == nil {
		return nil
	}
	return s.barrier(ctx)
}

// requestDone records one ReadyForQuery and wakes a Barrier at zero.
func (s *SessionState) requestDone() {
	s.answered.Add(1)
	if s.pending.Load() > 0 && s.pending.Add(-1) == 0 {
		select {
		case s.idleCh <- struct{}{}:
		default:
		}
	}
	s.runAfter()
}

// waitIdle blocks until no request is pending.
func (s *SessionState) waitIdle(ctx context.Context) error {
	for s.pending.Load() > 0 {
		select {
		case <-s.idleCh:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}
