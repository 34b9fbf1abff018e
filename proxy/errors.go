package proxy

import (
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgproto3"
)

// SQLSTATE codes the proxy itself sends to clients. Every ErrorResponse the
// proxy originates takes its code from this list.
const (
	codeProtocolViolation      = "08P01"
	codeConnectionFailure      = "08006"
	codeCannotConnectNow       = "57P03"
	codeAdminShutdown          = "57P01"
	codeFeatureNotSupported    = "0A000"
	codeProgramLimitExceeded   = "54000"
	codeInvalidAuthorization   = "28000"
	codeInternalError          = "XX000"
	codeConnectionDoesNotExist = "08003"
)

// ErrServerClosed is returned by Serve after Shutdown or Close.
var ErrServerClosed = errors.New("proxy: server closed")

// clientError is an error that is reported to the client as an ErrorResponse
// before its connection closes.
type clientError struct {
	code string
	msg  string
	hint string
}

func (e *clientError) Error() string { return e.code + ": " + e.msg }

func newClientError(code, format string, args ...any) *clientError {
	return &clientError{code: code, msg: fmt.Sprintf(format, args...)}
}

func (e *clientError) withHint(hint string) *clientError {
	e.hint = hint
	return e
}

// response renders the error as a FATAL ErrorResponse, the severity
// PostgreSQL uses for errors that end the connection.
func (e *clientError) response() *pgproto3.ErrorResponse {
	return &pgproto3.ErrorResponse{
		Severity:            "FATAL",
		SeverityUnlocalized: "FATAL",
		Code:                e.code,
		Message:             e.msg,
		Hint:                e.hint,
	}
}

// asClientError maps any session-ending error to what the client is told.
func asClientError(err error) *clientError {
	var ce *clientError
	if errors.As(err, &ce) {
		return ce
	}
	return newClientError(codeInternalError, "spiral proxy: %v", err)
}
