package proxy

import "context"

// StatementKind says which protocol message carried a statement.
type StatementKind int

const (
	// SimpleQuery is a Query message (one or more statements).
	SimpleQuery StatementKind = iota
	// ExtendedParse is a Parse message of the extended protocol.
	ExtendedParse
)

// Hook decides what runs upstream for each statement text. It is the one
// place where the rewriter plugs into the proxy. PostgreSQL answers every
// statement: a hook changes what is asked, never fabricates an answer.
type Hook interface {
	// Statement returns what to send upstream in place of sql. A Rewrite
	// whose SQL equals sql relays the original message bytes unchanged.
	Statement(ctx context.Context, s *SessionState, kind StatementKind, sql string) Rewrite
}

// Rewrite is a hook's decision about one statement.
type Rewrite struct {
	// SQL is the statement text sent upstream.
	SQL string
	// Tag, when set, replaces the command tag of a "DO" CommandComplete in
	// the response to this statement: a spiral DDL runs upstream as one DO
	// block and the client still sees "CREATE TABLE". For the extended
	// protocol it applies to every Execute of the prepared statement.
	Tag string
	// OnExecute, when set on an ExtendedParse, runs before every Bind of the
	// prepared statement, after all earlier requests have been answered
	// (statement caches execute it again without a new Parse). For a
	// SimpleQuery the hook does such work itself before returning.
	OnExecute func(ctx context.Context) error
}
