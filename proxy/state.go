package proxy

import (
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
}

func newSessionState(startup map[string]string) *SessionState {
	return &SessionState{startup: startup, params: make(map[string]string)}
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
