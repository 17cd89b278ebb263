package ugnos

import "context"

// Session describes the client session a statement runs for. The
// PostgreSQL server attaches it to the context of each statement
// (WithSession) so that current_user, pg_backend_pid(), version() and
// current_setting() answer for that connection; without one they answer
// for the embedded process.
type Session struct {
	User string // the session user
	// Token is the name of the API token an HTTP request authenticated
	// with ("" none): the session then has the token's privileges only.
	Token   string
	PID     int64  // the backend process id the client sees
	Version string // the server_version, e.g. "15.0 (ugnos 0.1.0)"
	// Setting returns the current value of a run-time setting (SET/SHOW),
	// ok false when the session does not know it.
	Setting func(name string) (value string, ok bool)
	// DictionaryTags lets results keep tag columns dictionary-encoded
	// (arrow dictionary<int32, utf8>) where the plan passes them through,
	// instead of plain utf8.
	DictionaryTags bool
	// owned: the session runs a continuous aggregate's refresh or a
	// rule's evaluation with its owner's rights (grants.go): a user that
	// is no role (any more) may read nothing, where a session user that is
	// no role is one of the server's own accounts.
	owned bool
}

type sessionKey struct{}

// WithSession returns a context carrying the session.
func WithSession(ctx context.Context, s *Session) context.Context {
	return context.WithValue(ctx, sessionKey{}, s)
}

// SessionFrom returns the session ctx carries (nil: none, the embedded
// API).
func SessionFrom(ctx context.Context) *Session { return sessionFrom(ctx) }

func sessionFrom(ctx context.Context) *Session {
	s, _ := ctx.Value(sessionKey{}).(*Session)
	return s
}
