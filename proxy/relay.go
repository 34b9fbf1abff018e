package proxy

import (
	"encoding/binary"
	"errors"

	"github.com/jackc/pgx/v5/pgproto3"
)

// clientLoop relays client messages upstream until the client leaves or
// breaks the protocol. It flushes upstream only when no further client
// message is already buffered, so pipelined messages travel together.
func (s *session) clientLoop() error {
	var n int
	for {
		f, err := readFrame(s.clR, s.srv.cfg.MaxMessageSize)
		if err != nil {
			return clientSideError(err)
		}
		if err := s.clientMessage(f); err != nil {
			return clientSideError(err)
		}
		n += f.total()
		if s.clR.Buffered() == 0 {
			if err := s.upW.Flush(); err != nil {
				return clientSideError(wrapWrite(err))
			}
			s.srv.metrics.bytesUp.Add(float64(n))
			n = 0
		}
	}
}

// clientSideError classifies an error of the client loop: a failed write
// went to the upstream, anything else came from the client.
func clientSideError(err error) error {
	var ce *clientError
	var we *writeError
	switch {
	case errors.As(err, &ce), errors.Is(err, errTerminate):
		return err
	case errors.As(err, &we):
		return upstreamLost(we.err)
	}
	return &goneError{err}
}

// upstreamSideError classifies an error of the upstream loop: a failed write
// went to the client, anything else came from the upstream.
func upstreamSideError(err error) error {
	var ce *clientError
	var we *writeError
	switch {
	case errors.As(err, &ce):
		return err
	case errors.As(err, &we):
		return &goneError{we.err}
	}
	return upstreamLost(err)
}

// clientMessage relays one client message, passing statement texts through
// the hook and counting the requests that will end in ReadyForQuery.
func (s *session) clientMessage(f frame) error {
	var err error
	switch f.typ {
	case 'Q', 'P':
		err = s.statement(f)
	case 'S', 'F':
		s.state.pending.Add(1)
		s.tags.request()
		s.fin.request()
		err = relay(s.upW, s.clR, f)
	case 'B', 'C', 'D', 'E':
		err = s.watchedMessage(f)
	case 'X':
		if err := relay(s.upW, s.clR, f); err != nil {
			return err
		}
		_ = s.upW.Flush()
		return errTerminate
	case 'H', 'd', 'c', 'f':
		err = relay(s.upW, s.clR, f)
	default:
		return newClientError(codeProtocolViolation, "invalid frontend message type %d", f.typ)
	}
	return err
}

// statement relays a Query or Parse, asking the hook what to run. With no
// hook the message is relayed without being decoded.
func (s *session) statement(f frame) error {
	if f.typ == 'Q' {
		s.srv.metrics.simple.Inc()
	} else {
		s.srv.metrics.extended.Inc()
	}
	if s.srv.cfg.Hook == nil {
		if f.typ == 'Q' {
			s.queryRequest()
		}
		return relay(s.upW, s.clR, f)
	}
	body, err := readBody(s.clR, f)
	if err != nil {
		return err
	}
	if f.typ == 'Q' {
		return s.hookQuery(f, body)
	}
	return s.hookParse(f, body)
}

func (s *session) hookQuery(f frame, body []byte) error {
	var q pgproto3.Query
	if err := q.Decode(body); err != nil {
		return newClientError(codeProtocolViolation, "invalid Query message: %v", err)
	}
	s.prep.forgetOnReset(q.String)
	ctx, done := s.hooks.start()
	rw := s.srv.cfg.Hook.Statement(ctx, s.state, SimpleQuery, q.String)
	done()
	s.queryRequest() // only now: a Barrier in the hook waits for earlier requests
	if rw.Tag != "" {
		s.tags.add(rw.Tag, false)
	}
	sql, dropped := rw.SQL, 0
	if rw.Prepare && rw.Tag == "" && rw.SQL != q.String {
		sql, dropped = s.prepared(rw.SQL)
	}
	if rw.Columns != nil {
		s.fin.add(finishEntry{request: s.tags.sent, describe: -1, exec: dropped, query: true, cols: rw.Columns})
	}
	if sql == q.String {
		return writeRaw(s.upW, f, body)
	}
	return writeMsg(s.upW, &pgproto3.Query{String: sql})
}

func (s *session) hookParse(f frame, body []byte) error {
	var p pgproto3.Parse
	if err := p.Decode(body); err != nil {
		return newClientError(codeProtocolViolation, "invalid Parse message: %v", err)
	}
	s.prep.forgetOnReset(p.Query)
	ctx, done := s.hooks.start()
	rw := s.srv.cfg.Hook.Statement(ctx, s.state, ExtendedParse, p.Query)
	done()
	s.watch.parse(p.Name, rw)
	if rw.SQL == p.Query {
		return writeRaw(s.upW, f, body)
	}
	p.Query = rw.SQL
	return writeMsg(s.upW, &p)
}

// queryRequest counts a Query as a request awaiting ReadyForQuery.
func (s *session) queryRequest() {
	s.state.pending.Add(1)
	s.tags.request()
	s.fin.request()
}

// writeRaw writes a message from its header and an already read body.
func writeRaw(w interface{ Write([]byte) (int, error) }, f frame, body []byte) error {
	var h [headerLen]byte
	h[0] = f.typ
	binary.BigEndian.PutUint32(h[1:], uint32(f.bodyLen+4))
	if _, err := w.Write(h[:]); err != nil {
		return wrapWrite(err)
	}
	_, err := w.Write(body)
	return wrapWrite(err)
}

// upstreamLoop relays upstream messages to the client, decoding only the
// few it tracks, and flushes when no further upstream message is buffered.
func (s *session) upstreamLoop() error {
	var n int
	for {
		f, err := readFrame(s.upR, 0)
		if err != nil {
			return upstreamSideError(err)
		}
		n += f.total()
		if err := s.upstreamMessage(f, &n); err != nil {
			return upstreamSideError(err)
		}
		if f.typ == 'Z' && s.srv.shuttingDown() && s.state.idle() {
			return errIdleShutdown
		}
	}
}

// upstreamMessage relays one message under the client write lock, flushing
// when it was the last one buffered.
func (s *session) upstreamMessage(f frame, n *int) error {
	s.clMu.Lock()
	defer s.clMu.Unlock()
	if s.fin.failed {
		if dropped, err := s.dropAfterFailure(f); dropped || err != nil {
			return err
		}
	}
	var err error
	switch f.typ {
	case 'S':
		err = s.parameterStatus(f)
	case 'Z':
		err = s.readyForQuery(f)
	case 'C', 'I', 's':
		err = s.completionMessage(f)
	case 'T', 'n', 'D':
		err = s.rowMessage(f)
	default:
		err = relay(s.clW, s.upR, f)
	}
	if err == nil && s.upR.Buffered() == 0 {
		err = wrapWrite(s.clW.Flush())
		s.srv.metrics.bytesDown.Add(float64(*n))
		*n = 0
	}
	return err
}
