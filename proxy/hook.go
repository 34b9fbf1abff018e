package proxy

import (
	"context"

	"github.com/jackc/pgx/v5/pgproto3"
)

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
// statement: a hook changes what is asked, never fabricates an answer; it
// may only finish, in Go, result columns whose inputs PostgreSQL computed
// (Rewrite.Columns).
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
	// Prepare, for a SimpleQuery whose SQL is one SELECT, lets the proxy run
	// SQL as a statement it prepares on the upstream session and reuses
	// whenever the hook returns the same SQL again in the session, so that
	// PostgreSQL plans it once. The client sees the statement's own answer.
	Prepare bool
	// Columns, when set, finishes result columns in the proxy: it rewrites
	// the RowDescription of every Describe and every result of the
	// statement, and each DataRow. Only for a statement with one result: a
	// Parse, or a Query of one statement.
	Columns Columns
}

// Columns turns the result columns PostgreSQL computed for a statement into
// the columns the client asked for, one row at a time. Its methods run on
// the session's upstream goroutine.
type Columns interface {
	// Describe adjusts the fields of a RowDescription in place: type OID,
	// size, modifier, name. The format codes are left as they are.
	Describe(fields []pgproto3.FieldDescription)
	// Row replaces the values of one DataRow in place; format(i) is the
	// format code (0 text, 1 binary) of column i. An error is reported to
	// the client as an ERROR with the SQLSTATE of its SQLState method
	// (XX000 without one), and the rest of the request's responses are
	// dropped up to its ReadyForQuery.
	Row(values [][]byte, format func(i int) int16) error
}
