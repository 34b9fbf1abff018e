package proxy

import (
	"sync"
	"sync/atomic"

	"github.com/jackc/pgx/v5/pgproto3"
)

// retagger rewrites the "DO" command tag of chosen statements, and drops
// the completions of the statements the proxy adds to a Query. Responses
// are located by position: requests are numbered in the order the client
// sends them (each Query, Sync and FunctionCall ends in exactly one
// ReadyForQuery), and within a request each Execute yields exactly one
// completion (CommandComplete, EmptyQueryResponse, PortalSuspended or the
// ErrorResponse after which the rest of the batch is skipped).
type retagger struct {
	// client loop only
	sent  uint64 // requests sent upstream
	execs int    // Executes sent in the request being built

	// upstream loop only
	completions int // completions seen in the request being answered

	done   atomic.Uint64 // requests answered
	active atomic.Bool   // queue is not empty
	mu     sync.Mutex    // guards queue
	queue  []retagEntry  // in request order
}

type retagEntry struct {
	request uint64 // request number, from 1
	exec    int    // completion index within the request
	from    string // the command tag PostgreSQL sends
	tag     string // what the client sees instead; "" drops the completion
	seen    func() // when set, runs on the upstream loop once the completion came
}

// request counts a request the client loop sends upstream.
func (r *retagger) request() {
	r.sent++
	r.execs = 0
}

// execute counts an Execute of the request being built.
func (r *retagger) execute() { r.execs++ }

// add asks for the DO tag of a statement to become tag. For a Query it is
// the first completion of the request just counted; for an Execute (called
// before execute counts it) it is that Execute's completion in the request
// the next Sync closes.
func (r *retagger) add(tag string, extended bool) {
	e := retagEntry{request: r.sent, from: "DO", tag: tag}
	if extended {
		e.request, e.exec = r.sent+1, r.execs
	}
	r.push(e)
}

// addDrop drops the completion with index exec of the Query just counted
// when its tag is from, and then calls seen, if set.
func (r *retagger) addDrop(exec int, from string, seen func()) {
	r.push(retagEntry{request: r.sent, exec: exec, from: from, seen: seen})
}

func (r *retagger) push(e retagEntry) {
	r.mu.Lock()
	r.queue = append(r.queue, e)
	r.mu.Unlock()
	r.active.Store(true)
}

// completion counts one completion message in the current response.
func (r *retagger) completion() { r.completions++ }

// requestDone records a ReadyForQuery and drops entries of answered
// requests (a statement that failed never completed).
func (r *retagger) requestDone() {
	done := r.done.Add(1)
	r.completions = 0
	if !r.active.Load() {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for len(r.queue) > 0 && r.queue[0].request <= done {
		r.queue = r.queue[1:]
	}
	r.active.Store(len(r.queue) > 0)
}

// entryFor returns the entry for the current completion, if any.
func (r *retagger) entryFor() (retagEntry, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	req := r.done.Load() + 1
	for len(r.queue) > 0 && (r.queue[0].request < req || r.queue[0].request == req && r.queue[0].exec < r.completions) {
		r.queue = r.queue[1:]
	}
	defer func() { r.active.Store(len(r.queue) > 0) }()
	if len(r.queue) == 0 || r.queue[0].request != req || r.queue[0].exec != r.completions {
		return retagEntry{}, false
	}
	e := r.queue[0]
	r.queue = r.queue[1:]
	return e, true
}

// completionMessage relays a completion (CommandComplete, EmptyQueryResponse,
// PortalSuspended), retagging or dropping a CommandComplete when asked.
func (s *session) completionMessage(f frame) error {
	defer s.tags.completion()
	if f.typ != 'C' || !s.tags.active.Load() || f.total() > s.upR.Size() {
		return relay(s.clW, s.upR, f)
	}
	msg, err := s.upR.Peek(f.total())
	if err != nil {
		return unexpectedEOF(err)
	}
	e, ok := s.tags.entryFor()
	if !ok || string(msg[headerLen:]) != e.from+"\x00" {
		return relay(s.clW, s.upR, f)
	}
	_, _ = s.upR.Discard(f.total())
	if e.seen != nil {
		e.seen()
	}
	if e.tag == "" {
		return nil
	}
	return writeMsg(s.clW, &pgproto3.CommandComplete{CommandTag: []byte(e.tag)})
}
