package httpapi

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strings"

	"github.com/ugnos/ugnos"
)

// Authentication of HTTP requests. A request carries one of:
//
//	Authorization: Token <api token>      (InfluxDB 2 clients)
//	Authorization: Bearer <api token>     (Grafana, Prometheus, curl)
//	Authorization: Basic <user:password>  (browsers: the console)
//	Authorization: Token <user>:<password>  (InfluxDB 1 compatibility)
//	?u=<user>&p=<password>                (InfluxDB 1 /write and /query)
//
// API tokens are made with ugnos_create_token (tokens.go in the ugnos
// package) and act with their scope's privileges in their one database;
// users are the database's roles (checked against their SCRAM verifiers)
// and the server's own accounts (AuthConfig.Users, superusers). The
// request then runs as that session, so GRANTs apply to everything it
// does. /health and /ready never ask for credentials.
//
// With AuthConfig.Required (the server has passwords), a request
// without valid credentials gets 401 (with a Basic challenge, so a
// browser asks for a user and password). Without it the server trusts
// its (loopback) clients, as pgwire's trust method does: a valid API
// token still acts with its scope, a user name picks that role without a
// password check, and anything else runs as the server's own account.

// AuthConfig configures HTTP authentication.
type AuthConfig struct {
	// Required refuses requests without credentials (401).
	Required bool
	// Users are the server's own accounts (name → password): superusers,
	// as pgwire's Config.Users.
	Users map[string]string
}

// anonymousUser is the session user of requests without credentials
// when authentication is not required.
const anonymousUser = "ugnos"

// credentials are what a request presented.
type credentials struct {
	token          string // API token secret
	user, password string
	given          bool
	malformed      bool
}

func requestCredentials(r *http.Request) credentials {
	h := strings.TrimSpace(r.Header.Get("Authorization"))
	if h == "" {
		q := r.URL.Query()
		if q.Has("u") || q.Has("p") { // InfluxDB 1.x query parameters
			return credentials{user: q.Get("u"), password: q.Get("p"), given: true}
		}
		return credentials{}
	}
	scheme, value, _ := strings.Cut(h, " ")
	value = strings.TrimSpace(value)
	switch strings.ToLower(scheme) {
	case "token", "bearer":
		if u, p, ok := strings.Cut(value, ":"); ok && strings.EqualFold(scheme, "token") {
			return credentials{user: u, password: p, given: true}
		}
		return credentials{token: value, given: true}
	case "basic":
		b, err := base64.StdEncoding.DecodeString(value)
		if err != nil {
			return credentials{given: true, malformed: true}
		}
		u, p, ok := strings.Cut(string(b), ":")
		if !ok {
			return credentials{given: true, malformed: true}
		}
		return credentials{user: u, password: p, given: true}
	}
	return credentials{given: true, malformed: true}
}

// authenticate returns the session the request runs as; ok false means
// it was answered (401).
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (*ugnos.Session, bool) {
	c := requestCredentials(r)
	if c.token == "" && c.password != "" {
		// a token as the password, for clients that only do Basic (a
		// password that is no token is checked as one)
		if t, ok := s.db.LookupToken(c.password); ok {
			return tokenSession(t), true
		}
	}
	if !s.cfg.Auth.Required { // trust
		if t, ok := s.db.LookupToken(c.token); ok {
			return tokenSession(t), true
		}
		if c.user != "" && c.token == "" {
			return &ugnos.Session{User: c.user}, true
		}
		return &ugnos.Session{User: anonymousUser}, true
	}
	switch {
	case !c.given:
		s.unauthorized(w, r, "", "authentication required: send an API token (Authorization: Token …) or a user and password (Basic)")
		return nil, false
	case c.malformed:
		s.unauthorized(w, r, "", "malformed Authorization header (want Token, Bearer or Basic)")
		return nil, false
	case c.token != "" || c.user == "":
		t, ok := s.db.LookupToken(c.token)
		if !ok {
			s.unauthorized(w, r, "", "invalid API token")
			return nil, false
		}
		return tokenSession(t), true
	}
	if !s.checkPassword(c.user, c.password) {
		s.unauthorized(w, r, c.user, "password authentication failed for user "+quote(c.user))
		return nil, false
	}
	if role, ok := s.db.Role(c.user); ok && !role.Login {
		s.unauthorized(w, r, c.user, "role "+quote(c.user)+" is not permitted to log in")
		return nil, false
	}
	return &ugnos.Session{User: c.user}, true
}

func tokenSession(t ugnos.Token) *ugnos.Session {
	return &ugnos.Session{User: "token:" + t.Name, Token: t.Name}
}

// checkPassword checks a user's password against a role's SCRAM
// verifier or a server account's. Every path runs one key derivation, so
// the time taken does not tell whether the user exists.
func (s *Server) checkPassword(user, password string) bool {
	verifier := s.accounts[user]
	if role, ok := s.db.Role(user); ok {
		verifier = role.Verifier
	}
	if verifier == "" {
		ugnos.CheckPassword(s.accounts[""], password)
		return false
	}
	return ugnos.CheckPassword(verifier, password)
}

// accountVerifiers computes SCRAM verifiers of the server's accounts,
// and under "" one of a random password that stands in for unknown users.
func accountVerifiers(users map[string]string) map[string]string {
	out := make(map[string]string, len(users)+1)
	for name, pw := range users {
		out[name], _ = ugnos.SCRAMVerifier(pw)
	}
	random := make([]byte, 32)
	_, _ = rand.Read(random)
	out[""], _ = ugnos.SCRAMVerifier(hex.EncodeToString(random))
	return out
}

func quote(s string) string { return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"` }

// unauthorized answers 401 and writes the audit log line (never the
// secret).
func (s *Server) unauthorized(w http.ResponseWriter, r *http.Request, user, msg string) {
	s.log.Warn("audit: http authentication failed", "user", user, "remote", r.RemoteAddr,
		"method", r.Method, "path", r.URL.Path, "reason", msg)
	w.Header().Set("WWW-Authenticate", `Basic realm="ugnos", charset="UTF-8"`)
	httpError(w, http.StatusUnauthorized, "unauthorized", msg)
}

// forbidden answers 403 for an authenticated request without the
// privilege, and writes the audit log line.
func (s *Server) forbidden(w http.ResponseWriter, r *http.Request, sess *ugnos.Session, err error) {
	s.auditDenied(r, sess, err)
	httpError(w, http.StatusForbidden, "forbidden", err.Error())
}

func (s *Server) auditDenied(r *http.Request, sess *ugnos.Session, err error) {
	s.log.Warn("audit: http permission denied", "user", sess.User, "remote", r.RemoteAddr,
		"method", r.Method, "path", r.URL.Path, "sqlstate", "42501", "err", err)
}

// public paths answer without credentials.
func public(path string) bool { return path == "/health" || path == "/ready" }

// withAuth authenticates every request but the public ones and passes it
// on with its session in the context.
func (s *Server) withAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if public(r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		sess, ok := s.authenticate(w, r)
		if !ok {
			return
		}
		ctx := ugnos.WithSession(r.Context(), sess)
		if r.URL.Path == "/metrics" {
			// every tenant's figures: superusers only
			if err := s.db.AuthorizeSuperuser(ctx, "/metrics"); err != nil {
				s.forbidden(w, r, sess, err)
				return
			}
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// session is the request's session (set by withAuth).
func session(r *http.Request) *ugnos.Session {
	if sess := ugnos.SessionFrom(r.Context()); sess != nil {
		return sess
	}
	return &ugnos.Session{User: anonymousUser}
}
