package ugnos

import "github.com/ugnos/ugnos/errs"

// Error kinds returned by DB methods; test with errors.Is. Every error
// also carries a PostgreSQL SQLSTATE: errs.SQLState(err).
var (
	ErrNotFound         = errs.ErrNotFound
	ErrInvalidInput     = errs.ErrInvalidInput
	ErrPermissionDenied = errs.ErrPermissionDenied
	ErrClosed           = errs.ErrClosed
	ErrCorrupt          = errs.ErrCorrupt
	ErrInternal         = errs.ErrInternal
)

// Error is the concrete error type (kind, SQLSTATE, message).
type Error = errs.Error
