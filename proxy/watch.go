package proxy

import (
	"bytes"
	"context"

	"github.com/jackc/pgx/v5/pgproto3"
)

// prepared is what the hook asked for about one prepared statement.
type prepared struct {
	tag       string
	onExecute func(context.Context) error
	columns   Columns
}

// portal is a bound watched statement and the result formats of its Bind.
type portal struct {
	*prepared
	formats []int16
}

// watches follows prepared statements the hook attached something to,
// through Bind (statement -> portal) to Execute. It is owned by the client
// loop and costs nothing while empty.
type watches struct {
	stmts   map[string]*prepared
	portals map[string]*portal
}

// parse records what a Parse of name asked for; a plain Parse forgets the
// name, since it now means a different statement.
func (w *watches) parse(name string, rw Rewrite) {
	if rw.Tag == "" && rw.OnExecute == nil && rw.Columns == nil {
		delete(w.stmts, name)
		return
	}
	if w.stmts == nil {
		w.stmts, w.portals = map[string]*prepared{}, map[string]*portal{}
	}
	w.stmts[name] = &prepared{tag: rw.Tag, onExecute: rw.OnExecute, columns: rw.Columns}
}

// watchedMessage relays a Bind, Describe, Execute or Close, doing what the
// watched statement asks: work before each Bind, a retag or finished
// columns for each Execute, finished columns for each Describe.
func (s *session) watchedMessage(f frame) error {
	switch f.typ {
	case 'E':
		defer s.tags.execute()
	case 'D':
		defer s.fin.describe()
	}
	if len(s.watch.stmts) == 0 {
		return relay(s.upW, s.clR, f)
	}
	body, err := readBody(s.clR, f)
	if err != nil {
		return err
	}
	switch f.typ {
	case 'B':
		err = s.bind(body)
	case 'D':
		s.describe(body)
	case 'E':
		s.execute(body)
	case 'C':
		s.watch.close(body)
	}
	if err != nil {
		return err
	}
	return writeRaw(s.upW, f, body)
}

// bind notes which statement a portal runs and does the statement's work.
func (s *session) bind(body []byte) error {
	name, stmt := string(cstring(body)), string(cstring(afterCString(body)))
	p := s.watch.stmts[stmt]
	if p == nil {
		delete(s.watch.portals, name)
		return nil
	}
	b := &portal{prepared: p}
	if p.columns != nil {
		var m pgproto3.Bind
		if err := m.Decode(body); err != nil {
			return newClientError(codeProtocolViolation, "invalid Bind message: %v", err)
		}
		b.formats = m.ResultFormatCodes
	}
	s.watch.portals[name] = b
	if p.onExecute == nil {
		return nil
	}
	ctx, done := s.hooks.start()
	defer done()
	if err := p.onExecute(ctx); err != nil {
		return newClientError(codeInternalError, "spiral: %v", err)
	}
	return nil
}

// describe asks for the finished columns of a watched statement or portal
// in the RowDescription that answers this Describe.
func (s *session) describe(body []byte) {
	if len(body) < 1 {
		return
	}
	name := string(cstring(body[1:]))
	var cols Columns
	switch body[0] {
	case 'S':
		if p := s.watch.stmts[name]; p != nil {
			cols = p.columns
		}
	case 'P':
		if p := s.watch.portals[name]; p != nil {
			cols = p.columns
		}
	}
	if cols != nil {
		s.fin.add(finishEntry{request: s.tags.sent + 1, describe: s.fin.describes, exec: -1, cols: cols})
	}
}

// execute asks for what a watched portal's Execute needs: a retag, and
// finished columns in its rows.
func (s *session) execute(body []byte) {
	p := s.watch.portals[string(cstring(body))]
	if p == nil {
		return
	}
	if p.tag != "" {
		s.tags.add(p.tag, true)
	}
	if p.columns != nil {
		s.fin.add(finishEntry{request: s.tags.sent + 1, describe: -1, exec: s.tags.execs, cols: p.columns, formats: p.formats})
	}
}

// close forgets a closed statement or portal.
func (w *watches) close(body []byte) {
	if len(body) < 1 {
		return
	}
	name := string(cstring(body[1:]))
	switch body[0] {
	case 'S':
		delete(w.stmts, name)
	case 'P':
		delete(w.portals, name)
	}
}

// cstring returns b up to its first NUL.
func cstring(b []byte) []byte {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		return b[:i]
	}
	return b
}

// afterCString returns what follows the first NUL-terminated string of b.
func afterCString(b []byte) []byte {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		return b[i+1:]
	}
	return nil
}
