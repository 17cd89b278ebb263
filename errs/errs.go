// Package errs defines the typed errors every layer of ugnos returns.
//
// An *Error carries a kind (one of the sentinel errors below, so callers can
// test it with errors.Is), a PostgreSQL SQLSTATE code (so the wire server can
// report it without knowing where the error came from) and a message. The
// package is a leaf: it imports only the standard library. It is not a
// logging or tracing facility.
package errs

import (
	"errors"
	"fmt"
	"runtime/debug"
)

// Sentinel kinds. Test with errors.Is(err, errs.ErrNotFound) and so on.
var (
	// ErrNotFound: an unknown tenant, table, column, rule or file.
	ErrNotFound = errors.New("not found")
	// ErrInvalidInput: the request itself is wrong (empty names, inverted
	// ranges, unknown aggregations, type conflicts, malformed values).
	ErrInvalidInput = errors.New("invalid input")
	// ErrPermissionDenied: the caller may not do this.
	ErrPermissionDenied = errors.New("permission denied")
	// ErrClosed: the database has been closed.
	ErrClosed = errors.New("database closed")
	// ErrCorrupt: on-disk data failed a checksum or could not be decoded.
	ErrCorrupt = errors.New("corrupt data")
	// ErrInternal: a fault inside ugnos or its environment (I/O errors).
	ErrInternal = errors.New("internal error")
)

// SQLSTATE codes used across ugnos (PostgreSQL appendix A).
const (
	CodeUndefinedTable      = "42P01"
	CodeUndefinedColumn     = "42703"
	CodeInvalidCatalogName  = "3D000" // unknown database (tenant)
	CodeUndefinedObject     = "42704"
	CodeInvalidText         = "22P02"
	CodeDatatypeMismatch    = "42804"
	CodeInvalidParameter    = "22023"
	CodeSyntaxError         = "42601"
	CodeFeatureNotSupported = "0A000"
	CodeInsufficientPriv    = "42501"
	CodeInvalidPassword     = "28P01"
	CodeObjectInUse         = "55006"
	CodeAdminShutdown       = "57P01"
	CodeDataCorrupted       = "XX001"
	CodeInternal            = "XX000"
	CodeIOError             = "58030"
	CodeNullNotAllowed      = "23502"
	CodeNameTooLong         = "42622"
	CodeInvalidName         = "42602"
)

// Error is the error type of ugnos. Kind is one of the sentinels above.
type Error struct {
	Kind error  // sentinel, for errors.Is
	Code string // SQLSTATE
	Msg  string
	Pos  int   // 1-based character position in a statement, 0 if none
	Err  error // wrapped cause, may be nil
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Msg + ": " + e.Err.Error()
	}
	return e.Msg
}

// SQLState returns the PostgreSQL error code.
func (e *Error) SQLState() string { return e.Code }

// Is reports whether target is this error's kind.
func (e *Error) Is(target error) bool { return target == e.Kind }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// New returns an *Error of the given kind and SQLSTATE with a formatted message.
func New(kind error, code, format string, args ...any) *Error {
	return &Error{Kind: kind, Code: code, Msg: fmt.Sprintf(format, args...)}
}

// Wrap returns an *Error of the given kind and SQLSTATE that wraps cause.
func Wrap(kind error, code string, cause error, format string, args ...any) *Error {
	return &Error{Kind: kind, Code: code, Msg: fmt.Sprintf(format, args...), Err: cause}
}

// Invalid is shorthand for an ErrInvalidInput with SQLSTATE 22023.
func Invalid(format string, args ...any) *Error {
	return New(ErrInvalidInput, CodeInvalidParameter, format, args...)
}

// Internal is shorthand for an ErrInternal wrapping an I/O or system cause.
func Internal(cause error, format string, args ...any) *Error {
	return Wrap(ErrInternal, CodeIOError, cause, format, args...)
}

// SQLState returns the SQLSTATE carried by err, or XX000 if it carries none.
func SQLState(err error) string {
	var s interface{ SQLState() string }
	if errors.As(err, &s) {
		return s.SQLState()
	}
	return CodeInternal
}

// Recover turns a panic of the calling goroutine into an internal error
// (XX000) in *err, with the panic's value and stack: a bug in one
// statement must fail that statement, not the process. Use it deferred
// directly (defer errs.Recover(&err)) at the boundaries where statements
// run: the exec operators' reader, the parallel workers, DB.Exec.
func Recover(err *error) {
	if v := recover(); v != nil {
		*err = &Error{Kind: ErrInternal, Code: CodeInternal, Msg: "internal error", Err: &PanicError{Value: v, Stack: debug.Stack()}}
	}
}

// PanicError is the cause of an error made by Recover.
type PanicError struct {
	Value any
	Stack []byte
}

func (p *PanicError) Error() string { return fmt.Sprintf("panic: %v", p.Value) }
