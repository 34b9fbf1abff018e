// Package pgerr is the one place where the SQLSTATEs of errors that clients
// see are chosen. Packages that reject user input (spiral DDL, scope
// predicates, refresh requests) return *Error; the proxy turns it into a
// PostgreSQL ErrorResponse.
package pgerr

import (
	"errors"
	"fmt"
)

// SQLSTATE codes spiral raises.
const (
	InvalidParameterValue = "22023" // bad spiral.* option value, bad frame list, bad scope
	SyntaxError           = "42601" // malformed magic comment or option syntax
	UndefinedTable        = "42P01"
	UndefinedObject       = "42704" // an unknown spiral.* session setting
	UndefinedColumn       = "42703"
	DatatypeMismatch      = "42804" // a kind on a column type it cannot aggregate
	DuplicateObject       = "42710" // a table that is already tracked
	FeatureNotSupported   = "0A000"
	ObjectInUse           = "55006"
	QueryCanceled         = "57014" // a cancel request stopped spiral_refresh
	InternalError         = "XX000"
	DataCorrupted         = "XX001" // a sketch state that does not decode
	NumericOutOfRange     = "22003" // a quantile outside [0, 1]
)

// Error is an error with a SQLSTATE, a message and an optional hint, in
// PostgreSQL's style: the message says what is wrong, the hint what to do.
type Error struct {
	Code    string
	Message string
	Detail  string
	Hint    string
}

func (e *Error) Error() string { return e.Message }

// SQLState returns the error's SQLSTATE code.
func (e *Error) SQLState() string { return e.Code }

// New returns an error with code and a formatted message.
func New(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// WithHint sets the hint and returns e.
func (e *Error) WithHint(format string, args ...any) *Error {
	e.Hint = fmt.Sprintf(format, args...)
	return e
}

// WithDetail sets the detail and returns e.
func (e *Error) WithDetail(format string, args ...any) *Error {
	e.Detail = fmt.Sprintf(format, args...)
	return e
}

// As returns the *Error in err's chain, or nil.
func As(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}
