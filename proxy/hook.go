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
// place where the rewriter plugs into the proxy.
type Hook interface {
	// Statement returns the SQL to send upstream in place of sql. Returning
	// sql itself relays the original message bytes unchanged.
	Statement(ctx context.Context, s *SessionState, kind StatementKind, sql string) string
}
