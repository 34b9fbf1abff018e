package proxy

import (
	"bytes"
	"context"
)

// prepared is what the hook asked for about one prepared statement.
type prepared struct {
	tag       string
	onExecute func(context.Context) error
}

// watches follows prepared statements the hook attached something to,
// through Bind (statement -> portal) to Execute. It is owned by the client
// loop and costs nothing while empty.
type watches struct {
	stmts   map[string]*prepared
	portals map[string]*prepared
}

// parse records what a Parse of name asked for; a plain Parse forgets the
// name, since it now means a different statement.
func (w *watches) parse(name string, rw Rewrite) {
	if rw.Tag == "" && rw.OnExecute == nil {
		delete(w.stmts, name)
		return
	}
	if w.stmts == nil {
		w.stmts, w.portals = map[string]*prepared{}, map[string]*prepared{}
	}
	w.stmts[name] = &prepared{tag: rw.Tag, onExecute: rw.OnExecute}
}

// watchedMessage relays a Bind, Execute or Close, doing what the watched
// statement asks: work before each Bind, a retag for each Execute.
func (s *session) watchedMessage(f frame) error {
	if f.typ == 'E' {
		defer s.tags.execute()
	}
	if len(s.watch.stmts) == 0 || f.total() > s.clR.Size() {
		return relay(s.upW, s.clR, f)
	}
	msg, err := s.clR.Peek(f.total())
	if err != nil {
		return unexpectedEOF(err)
	}
	body := msg[headerLen:]
	switch f.typ {
	case 'B':
		err = s.bind(string(cstring(body)), string(cstring(afterCString(body))))
	case 'E':
		if p := s.watch.portals[string(cstring(body))]; p != nil && p.tag != "" {
			s.tags.add(p.tag, true)
		}
	case 'C':
		s.watch.close(body)
	}
	if err != nil {
		return err
	}
	return relay(s.upW, s.clR, f)
}

// bind notes which statement a portal runs and does the statement's work.
func (s *session) bind(portal, stmt string) error {
	p := s.watch.stmts[stmt]
	if p == nil {
		delete(s.watch.portals, portal)
		return nil
	}
	s.watch.portals[portal] = p
	if p.onExecute == nil {
		return nil
	}
	if err := p.onExecute(context.Background()); err != nil {
		return newClientError(codeInternalError, "spiral: %v", err)
	}
	return nil
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
