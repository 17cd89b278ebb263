package ugnos

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/ugnos/ugnos/errs"
	"github.com/ugnos/ugnos/functions"
)

// API tokens authenticate HTTP requests (httpapi: `Authorization: Token
// …` or `Bearer …`, as InfluxDB clients send). A token belongs to one
// database (tenant) and has a scope: read (SELECT on every table of that
// database), write (INSERT and DELETE) or read-write (both). Superusers
// create and revoke them in SQL:
//
//	SELECT ugnos_create_token('grafana', 'acme', 'read');  -- the secret, shown this once
//	SELECT ugnos_revoke_token('grafana');
//
// Only the SHA-256 digest of a secret is kept (tokens.json, beside
// roles.json): a secret is 32 random bytes, so the digest cannot be
// reversed or guessed, and the stored file grants nothing. Tokens are
// server-wide, like roles: snapshots do not carry them.

const tokensFile = "tokens.json"

// tokenPrefix starts every token secret, so that leaked secrets are
// recognisable (secret scanners) and tokens are told from passwords.
const tokenPrefix = "ugnos_"

// Token scopes.
const (
	ScopeRead      = "read"
	ScopeWrite     = "write"
	ScopeReadWrite = "read-write"
)

// Token is an API token, without its secret.
type Token struct {
	Name    string    `json:"name"`
	Tenant  string    `json:"database"`
	Scope   string    `json:"scope"`
	Digest  string    `json:"sha256"` // hex SHA-256 of the secret
	Created time.Time `json:"created"`
}

// privileges are the table privileges the scope grants.
func (t Token) privileges() []string {
	switch t.Scope {
	case ScopeRead:
		return []string{PrivSelect}
	case ScopeWrite:
		return []string{PrivDelete, PrivInsert}
	case ScopeReadWrite:
		return []string{PrivDelete, PrivInsert, PrivSelect}
	}
	return nil
}

type tokenSet struct {
	mu       sync.RWMutex
	dir      string
	byName   map[string]Token
	byDigest map[string]string // digest → name
}

func loadTokens(dir string) (*tokenSet, error) {
	ts := &tokenSet{dir: dir, byName: map[string]Token{}, byDigest: map[string]string{}}
	list, err := readStateList[Token](dir, tokensFile)
	for _, t := range list {
		ts.byName[t.Name] = t
		ts.byDigest[t.Digest] = t.Name
	}
	return ts, err
}

// saveLocked writes tokens.json (mu held).
func (ts *tokenSet) saveLocked() error { return writeStateList(ts.dir, tokensFile, ts.byName) }

func tokenDigest(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

// CreateToken makes an API token for tenant with scope (read, write or
// read-write) and returns its secret, which is not kept.
func (db *DB) CreateToken(name, tenant, scope string) (string, error) {
	if err := checkName("token", name); err != nil {
		return "", err
	}
	scope = strings.ToLower(strings.TrimSpace(scope))
	if scope == "readwrite" || scope == "all" {
		scope = ScopeReadWrite
	}
	t := Token{Name: name, Tenant: tenant, Scope: scope, Created: time.Now().UTC().Truncate(time.Second)}
	if t.privileges() == nil {
		return "", errs.New(errs.ErrInvalidInput, errs.CodeInvalidParameter, "invalid token scope %q: want read, write or read-write", scope)
	}
	if !db.eng.HasTenant(tenant) {
		return "", errs.New(errs.ErrNotFound, errs.CodeInvalidCatalogName, "database %q does not exist", tenant)
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	secret := tokenPrefix + base64.RawURLEncoding.EncodeToString(raw)
	t.Digest = tokenDigest(secret)
	ts := db.tokens
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if _, ok := ts.byName[name]; ok {
		return "", errs.New(errs.ErrInvalidInput, "42710", "token %q already exists", name)
	}
	ts.byName[name], ts.byDigest[t.Digest] = t, name
	if err := ts.saveLocked(); err != nil {
		delete(ts.byName, name)
		delete(ts.byDigest, t.Digest)
		return "", err
	}
	return secret, nil
}

// RevokeToken deletes an API token; requests using it fail from then on.
func (db *DB) RevokeToken(name string) error {
	ts := db.tokens
	ts.mu.Lock()
	defer ts.mu.Unlock()
	t, ok := ts.byName[name]
	if !ok {
		return errs.New(errs.ErrNotFound, "42704", "token %q does not exist", name)
	}
	delete(ts.byName, name)
	delete(ts.byDigest, t.Digest)
	if err := ts.saveLocked(); err != nil {
		ts.byName[name], ts.byDigest[t.Digest] = t, name
		return err
	}
	return nil
}

// Tokens lists the API tokens by name (no secrets: none are kept).
func (db *DB) Tokens() []Token {
	ts := db.tokens
	ts.mu.RLock()
	defer ts.mu.RUnlock()
	out := make([]Token, 0, len(ts.byName))
	for _, t := range ts.byName {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// LookupToken finds the token of a secret. Lookup is by the secret's
// digest, so its time says nothing about the secret.
func (db *DB) LookupToken(secret string) (Token, bool) {
	if !strings.HasPrefix(secret, tokenPrefix) {
		return Token{}, false
	}
	d := tokenDigest(secret)
	ts := db.tokens
	ts.mu.RLock()
	defer ts.mu.RUnlock()
	name, ok := ts.byDigest[d]
	if !ok {
		return Token{}, false
	}
	return ts.byName[name], true
}

// tokenRole is the role a token acts as: its scope's privileges on its
// database's tables, CONNECT there, nothing elsewhere. A token revoked
// since the request began has no privileges.
func (db *DB) tokenRole(name string) Role {
	r := Role{Name: "token " + name, Login: true}
	ts := db.tokens
	ts.mu.RLock()
	t, ok := ts.byName[name]
	ts.mu.RUnlock()
	if ok {
		r.Grants = map[string]*TenantGrants{t.Tenant: {Connect: true, All: t.privileges()}}
	}
	return r
}

// tokenFunctions are ugnos_create_token(name, database, scope) and
// ugnos_revoke_token(name), for superusers.
func (s *pgSession) tokenFunctions() []*functions.Scalar {
	return []*functions.Scalar{
		adminFunc("ugnos_create_token", 3, func(args []any) (string, error) {
			if err := s.db.authorizeSuperuser(s.client, "ugnos_create_token"); err != nil {
				return "", err
			}
			return s.db.CreateToken(args[0].(string), args[1].(string), args[2].(string))
		}),
		adminFunc("ugnos_revoke_token", 1, func(args []any) (string, error) {
			if err := s.db.authorizeSuperuser(s.client, "ugnos_revoke_token"); err != nil {
				return "", err
			}
			name := args[0].(string)
			return name, s.db.RevokeToken(name)
		}),
	}
}

// tokenRecord lays the tokens out as the rows of ugnos.tokens: every
// token for superusers, none for others.
func (t *ugnosTable) tokenRecord() arrow.RecordBatch {
	b := array.NewRecordBuilder(memory.DefaultAllocator, t.Schema())
	defer b.Release()
	if _, ordinary := t.db.ordinaryRole(t.client); ordinary {
		return b.NewRecordBatch()
	}
	for _, tok := range t.db.Tokens() {
		b.Field(0).(*array.StringBuilder).Append(tok.Name)
		b.Field(1).(*array.StringBuilder).Append(tok.Tenant)
		b.Field(2).(*array.StringBuilder).Append(tok.Scope)
		b.Field(3).(*array.TimestampBuilder).Append(arrow.Timestamp(tok.Created.UnixNano()))
	}
	return b.NewRecordBatch()
}
