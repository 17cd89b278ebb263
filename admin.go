package ugnos

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/ugnos/ugnos/errs"
	"github.com/ugnos/ugnos/functions"
)

// Administration over SQL: PostgreSQL's CHECKPOINT statement and the
// functions ugnos_snapshot(path), ugnos_checkpoint() and ugnos_compact().
// They act on the whole database (every tenant), whatever database the
// session is connected to. The functions are volatile: the planner never
// folds them, and they run when the statement runs, once per row.

// authorizeAdmin is the one place that decides who may run an
// administrative command (CHECKPOINT, ugnos_snapshot, ugnos_checkpoint,
// ugnos_compact). client is the session (nil for the embedded process).
//
// Ordinary roles get 42501, as PostgreSQL gives for CHECKPOINT and
// pg_backup_start.
func (db *DB) authorizeAdmin(client *Session, what string) error {
	return db.authorizeSuperuser(client, what)
}

// checkpointStmt runs CHECKPOINT.
func (db *DB) checkpointStmt(ctx context.Context) (*Result, error) {
	if err := db.authorizeAdmin(sessionFrom(ctx), "CHECKPOINT"); err != nil {
		return nil, err
	}
	if err := db.Checkpoint(ctx); err != nil {
		return nil, err
	}
	return &Result{Tag: "CHECKPOINT"}, nil
}

// adminFunctions are the statement's administrative functions; ctx is
// the statement's (cancellation and timeout reach the engine through it).
func (s *pgSession) adminFunctions() []*functions.Scalar {
	db := s.db
	return []*functions.Scalar{
		adminFunc("ugnos_snapshot", 1, func(args []any) (string, error) {
			if err := s.db.authorizeAdmin(s.client, "ugnos_snapshot"); err != nil {
				return "", err
			}
			return db.snapshotTo(s.context(), args[0].(string))
		}),
		adminFunc("ugnos_checkpoint", 0, func([]any) (string, error) {
			if err := s.db.authorizeAdmin(s.client, "ugnos_checkpoint"); err != nil {
				return "", err
			}
			if err := db.Checkpoint(s.context()); err != nil {
				return "", err
			}
			m := db.Metrics()
			return fmt.Sprintf("checkpoint done: %d segment files, %d rows on disk", m.Segments, m.DiskRows), nil
		}),
		adminFunc("ugnos_compact", 0, func([]any) (string, error) {
			if err := s.db.authorizeAdmin(s.client, "ugnos_compact"); err != nil {
				return "", err
			}
			if err := db.Compact(s.context()); err != nil {
				return "", err
			}
			m := db.Metrics()
			return fmt.Sprintf("compaction done: %d segment files, %d rows on disk", m.Segments, m.DiskRows), nil
		}),
	}
}

// adminFunc makes a volatile function of nargs text arguments returning
// text. It is strict (a NULL argument gives NULL and does nothing) and
// runs f once per row, as PostgreSQL calls a volatile function.
func adminFunc(name string, nargs int, f func(args []any) (string, error)) *functions.Scalar {
	return &functions.Scalar{Name: name, Volatile: true, Resolve: func(a []functions.Type) (functions.Type, functions.Kernel, error) {
		ok := len(a) == nargs
		for _, t := range a {
			ok = ok && (t == functions.TText || t == functions.TUnknown)
		}
		if !ok {
			ts := make([]string, len(a))
			for i, t := range a {
				ts[i] = t.Name()
			}
			return 0, nil, errs.New(errs.ErrNotFound, "42883", "function %s(%s) does not exist", name, strings.Join(ts, ", "))
		}
		return functions.TText, func(args []functions.Vec, n int) (functions.Vec, error) {
			vals := make([]any, n)
			for i := range vals {
				in := make([]any, len(args))
				null := false
				for k, v := range args {
					if v.IsNull(i) {
						null = true
						break
					}
					in[k] = v.Value(i)
				}
				if null {
					continue
				}
				out, err := f(in)
				if err != nil {
					return functions.Vec{}, err
				}
				vals[i] = out
			}
			return functions.ArrVec(functions.NewOf(functions.TText, vals), functions.TText), nil
		}, nil
	}}
}

// snapshotTo takes a snapshot of the whole database into path, a
// directory on the server's file system given as an absolute path, and
// returns the cleaned path.
func (db *DB) snapshotTo(ctx context.Context, path string) (string, error) {
	if path == "" || !filepath.IsAbs(path) {
		return "", errs.New(errs.ErrInvalidInput, errs.CodeInvalidParameter, "snapshot path %q must be an absolute path on the server", path)
	}
	path = filepath.Clean(path)
	if db.dir != "" {
		if data, err := filepath.Abs(db.dir); err == nil && (path == data || strings.HasPrefix(path, data+string(filepath.Separator))) {
			return "", errs.New(errs.ErrInvalidInput, errs.CodeInvalidParameter, "snapshot path %s is inside the data directory %s", path, data)
		}
	}
	if err := db.snapshot(ctx, path); err != nil {
		return "", err
	}
	return path, nil
}
