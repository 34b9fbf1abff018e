package engine

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"

	"spiral/changelog"
	"spiral/internal/pgerr"
	"spiral/proxy"
)

// raise returns a statement that makes PostgreSQL itself raise err, so the
// client gets an ordinary ErrorResponse with err's SQLSTATE, message and
// hint, and the transaction state changes exactly as for any failed
// statement.
func raise(err *pgerr.Error) proxy.Rewrite {
	opts := []string{"ERRCODE = " + changelog.Literal(err.Code), "MESSAGE = " + changelog.Literal(err.Message)}
	if err.Hint != "" {
		opts = append(opts, "HINT = "+changelog.Literal(err.Hint))
	}
	if err.Detail != "" {
		opts = append(opts, "DETAIL = "+changelog.Literal(err.Detail))
	}
	return proxy.Rewrite{SQL: doBlock("RAISE EXCEPTION USING " + strings.Join(opts, ", ") + ";")}
}

// doBlock wraps PL/pgSQL statements in a DO block quoted with a dollar tag
// that does not occur in them.
func doBlock(body string) string {
	tag := "$spiral$"
	for strings.Contains(body, tag) {
		var b [4]byte
		_, _ = rand.Read(b[:])
		tag = "$spiral_" + hex.EncodeToString(b[:]) + "$"
	}
	return fmt.Sprintf("DO %s\nBEGIN\n%s\nEND %s", tag, body, tag)
}
