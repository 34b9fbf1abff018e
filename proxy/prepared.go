package proxy

import (
	"strconv"
	"strings"
	"sync/atomic"
)

// preparedStatements runs the rewritten statements of simple Queries as
// statements prepared on the upstream session, so that PostgreSQL plans a
// rewrite that comes again once per session instead of on every Query. A
// rewritten aggregate takes about a millisecond to plan, several times what
// it takes to run on clean tiers.
//
// The first Query of a text becomes "PREPARE n AS <sql>; EXECUTE n", and the
// proxy drops the PREPARE's CommandComplete; the client sees the answer the
// statement itself gives. Once that completion has passed, the same text
// becomes "EXECUTE n". A statement is kept per text and per the settings
// PostgreSQL read its literals under (analysisParams). A statement without
// parameters always runs
// PostgreSQL's cached generic plan, which PostgreSQL replans itself when a
// table, an index or the search_path changes.
//
// Prepared statements are not transactional (a ROLLBACK keeps them), so only
// DEALLOCATE and DISCARD remove them: any statement of the client that
// mentions either makes the proxy forget them all. The proxy keeps at most
// maxPrepared and deallocates the least recently used one to make room.
//
// Only the client loop touches the map; the upstream loop marks a statement
// ready.
type preparedStatements struct {
	byText map[string]*preparedStatement // by analysisKey
	clock  uint64                        // counts lookups, for least-recently-used eviction
	names  uint64                        // statements ever named in this session
}

type preparedStatement struct {
	name    string
	request uint64      // the request whose PREPARE creates it
	used    uint64      // clock at its last use
	ready   atomic.Bool // its PREPARE completed
}

// maxPrepared bounds the statements the proxy keeps prepared per session.
const maxPrepared = 64

// preparedPrefix starts the names of the proxy's prepared statements.
const preparedPrefix = "__spiral_rw_"

// analysisParams are the reported settings under which PostgreSQL reads
// the literals of a statement when it prepares it, and keeps what it read:
// the same text prepared under another TimeZone holds other timestamps.
// PostgreSQL itself only replans for a new search_path.
var analysisParams = [...]string{"TimeZone", "DateStyle", "IntervalStyle", "standard_conforming_strings", "client_encoding"}

// prepared returns the Query text that runs sql, one SELECT, through the
// session's prepared statements, and how many completions in front of its
// own the proxy drops from the response.
//
// It runs sql as written when PREPARE would take a $n in it for a
// parameter (where the Query fails), and when an earlier request is still
// unanswered: a SET in it may change the settings the statement would be
// prepared under before the proxy hears of it.
func (s *session) prepared(sql string) (string, int) {
	c := &s.prep
	if strings.Contains(sql, "$") || s.state.pending.Load() > 1 {
		return sql, 0
	}
	key := s.state.analysisKey(sql)
	done := s.tags.done.Load()
	if st := c.lookup(key, done); st != nil {
		if st.ready.Load() {
			return "EXECUTE " + st.name, 0
		}
		return sql, 0 // its PREPARE is still on the way
	}
	var b strings.Builder
	drops := 0
	if len(c.byText) >= maxPrepared {
		old := c.victim(done)
		if old == nil {
			return sql, 0 // every statement is still being prepared
		}
		if old.ready.Load() {
			b.WriteString("DEALLOCATE " + old.name + ";\n")
			s.tags.addDrop(drops, "DEALLOCATE", nil)
			drops++
		}
	}
	st := c.add(key, s.tags.sent)
	// The newline ends any comment the statement's last line might hold.
	b.WriteString("PREPARE " + st.name + " AS " + sql + "\n;EXECUTE " + st.name)
	s.tags.addDrop(drops, "PREPARE", func() { st.ready.Store(true) })
	return b.String(), drops + 1
}

// analysisKey is sql under the session's analysisParams: the key of its
// prepared statement.
func (s *SessionState) analysisKey(sql string) string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var b strings.Builder
	for _, name := range analysisParams {
		b.WriteString(s.params[name])
		b.WriteByte(0)
	}
	b.WriteString(sql)
	return b.String()
}

// lookup returns the statement prepared under key, or nil. A statement whose
// request was answered without its PREPARE completing (the PREPARE failed)
// is forgotten, so that the next Query prepares it afresh.
func (c *preparedStatements) lookup(key string, done uint64) *preparedStatement {
	st := c.byText[key]
	if st == nil {
		return nil
	}
	if st.failed(done) {
		delete(c.byText, key)
		return nil
	}
	c.clock++
	st.used = c.clock
	return st
}

// failed reports whether the statement's request was answered and its
// PREPARE never completed.
func (st *preparedStatement) failed(done uint64) bool {
	return st.request <= done && !st.ready.Load()
}

// add names a new statement for key, prepared by request.
func (c *preparedStatements) add(key string, request uint64) *preparedStatement {
	if c.byText == nil {
		c.byText = make(map[string]*preparedStatement)
	}
	c.names++
	c.clock++
	st := &preparedStatement{name: preparedPrefix + strconv.FormatUint(c.names, 10), request: request, used: c.clock}
	c.byText[key] = st
	return st
}

// victim removes and returns the least recently used statement that is
// not still being prepared, or returns nil when there is none.
func (c *preparedStatements) victim(done uint64) *preparedStatement {
	var text string
	var old *preparedStatement
	for t, st := range c.byText {
		if (st.ready.Load() || st.failed(done)) && (old == nil || st.used < old.used) {
			text, old = t, st
		}
	}
	if old != nil {
		delete(c.byText, text)
	}
	return old
}

// forgetOnReset forgets every prepared statement when sql may deallocate
// them: DEALLOCATE [ALL] or DISCARD ALL, in any statement of the client.
// Forgetting too much only costs a new PREPARE.
func (c *preparedStatements) forgetOnReset(sql string) {
	if len(c.byText) > 0 && (containsWordFold(sql, "deallocate") || containsWordFold(sql, "discard")) {
		c.byText = nil
	}
}

// containsWordFold reports whether word, in lower case, occurs in s in any
// ASCII case.
func containsWordFold(s, word string) bool {
	for i := 0; i+len(word) <= len(s); i++ {
		if s[i]|0x20 == word[0] && strings.EqualFold(s[i:i+len(word)], word) {
			return true
		}
	}
	return false
}
