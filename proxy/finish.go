package proxy

import (
	"errors"
	"sync"
	"sync/atomic"

	"github.com/jackc/pgx/v5/pgproto3"
)

// finisher applies a hook's Columns to the responses of chosen statements.
// Like the retagger it locates responses by position: requests are numbered
// as the retagger numbers them; within a request the n-th RowDescription or
// NoData answers the n-th Describe of an extended request, and the rows
// before the n-th completion answer the n-th Execute (or, for a Query, its
// one statement).
type finisher struct {
	// client loop only
	describes int // Describes sent in the request being built

	// upstream loop only
	described int  // RowDescription and NoData seen in the request being answered
	failed    bool // a Row failed: drop the rest of the request's responses

	active atomic.Bool   // queue is not empty
	mu     sync.Mutex    // guards queue
	queue  []finishEntry // in request order
}

// finishEntry is one response to finish. describe ≥ 0 selects the
// RowDescription answering that Describe; otherwise exec selects the rows
// (and, for a Query, the RowDescription) before that completion.
type finishEntry struct {
	request  uint64
	describe int
	exec     int
	query    bool // the one statement of a Query: its RowDescription too
	cols     Columns
	formats  []int16 // the Bind's result format codes; none for a Query
}

// request starts a new request on the client side.
func (f *finisher) request() { f.describes = 0 }

// describe counts a Describe of the request being built.
func (f *finisher) describe() { f.describes++ }

func (f *finisher) add(e finishEntry) {
	f.mu.Lock()
	f.queue = append(f.queue, e)
	f.mu.Unlock()
	f.active.Store(true)
}

// requestDone drops the entries of answered requests, done being the number
// of requests answered so far.
func (f *finisher) requestDone(done uint64) {
	f.described, f.failed = 0, false
	if !f.active.Load() {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	i := 0
	for i < len(f.queue) && f.queue[i].request <= done {
		i++
	}
	f.queue = f.queue[i:]
	f.active.Store(len(f.queue) > 0)
}

// lookup returns the entry for a RowDescription (row = false) or DataRow of
// request req after completions completions, or nil.
func (f *finisher) lookup(req uint64, completions int, row bool) *finishEntry {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.queue {
		e := &f.queue[i]
		switch {
		case e.request > req:
			return nil
		case e.request < req:
			continue
		case e.describe >= 0 && !row && e.describe == f.described,
			e.describe < 0 && e.exec == completions && (row || e.query):
			return e
		}
	}
	return nil
}

// format returns the result format of column i under Bind format codes.
func (e *finishEntry) format(i int) int16 {
	switch len(e.formats) {
	case 0:
		return 0
	case 1:
		return e.formats[0]
	}
	if i < len(e.formats) {
		return e.formats[i]
	}
	return 0
}

// rowMessage relays a RowDescription, NoData or DataRow, finishing its
// columns when the statement asked for it.
func (s *session) rowMessage(f frame) error {
	fin := &s.fin
	if f.typ != 'D' {
		defer func() { fin.described++ }()
	}
	if f.typ == 'n' || !fin.active.Load() {
		return relay(s.clW, s.upR, f)
	}
	e := fin.lookup(s.tags.done.Load()+1, s.tags.completions, f.typ == 'D')
	if e == nil {
		return relay(s.clW, s.upR, f)
	}
	body, err := readBody(s.upR, f)
	if err != nil {
		return err
	}
	if f.typ == 'T' {
		return s.finishDescription(e, body)
	}
	return s.finishRow(e, body)
}

func (s *session) finishDescription(e *finishEntry, body []byte) error {
	var m pgproto3.RowDescription
	if err := m.Decode(body); err != nil {
		return newClientError(codeProtocolViolation, "malformed RowDescription from upstream: %v", err)
	}
	e.cols.Describe(m.Fields)
	return writeMsg(s.clW, &m)
}

func (s *session) finishRow(e *finishEntry, body []byte) error {
	var m pgproto3.DataRow
	if err := m.Decode(body); err != nil {
		return newClientError(codeProtocolViolation, "malformed DataRow from upstream: %v", err)
	}
	if err := e.cols.Row(m.Values, e.format); err != nil {
		s.fin.failed = true
		return writeMsg(s.clW, rowError(err))
	}
	return writeMsg(s.clW, &m)
}

// dropAfterFailure discards a response of a request in which a Row failed:
// the client has its ErrorResponse, and PostgreSQL skips the rest of a
// failed request too. ReadyForQuery, ParameterStatus, notices and
// notifications still pass.
func (s *session) dropAfterFailure(f frame) (bool, error) {
	switch f.typ {
	case 'Z', 'S', 'N', 'A':
		return false, nil
	case 'C', 'I', 's':
		s.tags.completion()
	}
	_, err := s.upR.Discard(f.total())
	return true, unexpectedEOF(err)
}

// rowError is the ErrorResponse for a failed Row.
func rowError(err error) *pgproto3.ErrorResponse {
	code := codeInternalError
	var st interface{ SQLState() string }
	if errors.As(err, &st) {
		code = st.SQLState()
	}
	return &pgproto3.ErrorResponse{Severity: "ERROR", SeverityUnlocalized: "ERROR", Code: code, Message: err.Error()}
}
