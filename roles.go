package ugnos

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"

	pg "github.com/pganalyze/pg_query_go/v6"
	"github.com/xdg-go/scram"

	"github.com/ugnos/ugnos/errs"
)

// Roles (users) in PostgreSQL syntax: CREATE ROLE / USER, ALTER ROLE,
// DROP ROLE. A role has a name, LOGIN, SUPERUSER and a password kept only
// as a SCRAM-SHA-256 verifier in PostgreSQL's own format
// (SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>), from which
// the password cannot be recovered. Roles are server-wide (like
// PostgreSQL's) and stored in roles.json in the data directory (written
// atomically). Only superusers create, alter or drop roles: superuser
// roles, and the server's own accounts (users configured at start-up,
// trust logins under a name that is no role) and the embedded API.

const rolesFile = "roles.json"

// scramIterations is PostgreSQL's default scram_iterations.
const scramIterations = 4096

// Role is a database role.
type Role struct {
	Name      string `json:"name"`
	Login     bool   `json:"login"`
	Superuser bool   `json:"superuser"`
	// Verifier is the password's SCRAM-SHA-256 verifier; "" none.
	Verifier string `json:"verifier,omitempty"`
	// Grants are the role's privileges per database (grants.go).
	Grants map[string]*TenantGrants `json:"grants,omitempty"`
}

type roleSet struct {
	mu    sync.RWMutex
	dir   string
	roles map[string]Role
}

func loadRoles(dir string) (*roleSet, error) {
	rs := &roleSet{dir: dir, roles: map[string]Role{}}
	list, err := readStateList[Role](dir, rolesFile)
	for _, r := range list {
		rs.roles[r.Name] = r
	}
	return rs, err
}

// saveLocked writes roles.json (mu held).
func (rs *roleSet) saveLocked() error { return writeStateList(rs.dir, rolesFile, rs.roles) }

// readStateList reads a state file of dir holding a JSON list (none, or
// no dir: an empty list).
func readStateList[T any](dir, name string) ([]T, error) {
	if dir == "" {
		return nil, nil
	}
	b, err := os.ReadFile(filepath.Join(dir, name))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var list []T
	if err := json.Unmarshal(b, &list); err != nil {
		return nil, errs.Wrap(errs.ErrCorrupt, errs.CodeDataCorrupted, err, "%s is damaged", name)
	}
	return list, nil
}

// writeStateList replaces a state file of dir (none: nothing) with the
// values of m as a JSON list in the order of their keys.
func writeStateList[T any](dir, name string, m map[string]T) error {
	if dir == "" {
		return nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	list := make([]T, len(keys))
	for i, k := range keys {
		list[i] = m[k]
	}
	b, err := json.MarshalIndent(list, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(dir, name, b)
}

// Role returns a role by name.
func (db *DB) Role(name string) (Role, bool) {
	db.roles.mu.RLock()
	defer db.roles.mu.RUnlock()
	r, ok := db.roles.roles[name]
	return r, ok
}

// Roles lists the roles by name.
func (db *DB) Roles() []Role {
	db.roles.mu.RLock()
	defer db.roles.mu.RUnlock()
	out := make([]Role, 0, len(db.roles.roles))
	for _, r := range db.roles.roles {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// SCRAMVerifier computes PostgreSQL's SCRAM-SHA-256 verifier of a
// password (random salt, 4096 iterations).
func SCRAMVerifier(password string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	c, err := scram.SHA256.NewClient("", password, "")
	if err != nil {
		return "", errs.New(errs.ErrInvalidInput, errs.CodeInvalidParameter, "invalid password: %v", err)
	}
	creds, err := c.GetStoredCredentialsWithError(scram.KeyFactors{Salt: string(salt), Iters: scramIterations})
	if err != nil {
		return "", err
	}
	enc := base64.StdEncoding.EncodeToString
	return fmt.Sprintf("SCRAM-SHA-256$%d:%s$%s:%s", scramIterations, enc(salt), enc(creds.StoredKey), enc(creds.ServerKey)), nil
}

// ParseSCRAMVerifier reads a verifier into the credentials a SCRAM server
// checks a client's proof against.
func ParseSCRAMVerifier(v string) (scram.StoredCredentials, error) {
	var sc scram.StoredCredentials
	bad := errs.New(errs.ErrInvalidInput, errs.CodeInvalidParameter, "not a SCRAM-SHA-256 verifier")
	rest, ok := strings.CutPrefix(v, "SCRAM-SHA-256$")
	if !ok {
		return sc, bad
	}
	iterSalt, keys, ok := strings.Cut(rest, "$")
	if !ok {
		return sc, bad
	}
	iters, salt64, ok := strings.Cut(iterSalt, ":")
	stored64, server64, ok2 := strings.Cut(keys, ":")
	if !ok || !ok2 {
		return sc, bad
	}
	n, err := strconv.Atoi(iters)
	if err != nil || n < 1 || n > 1<<24 {
		return sc, bad
	}
	dec := base64.StdEncoding.DecodeString
	salt, err1 := dec(salt64)
	stored, err2 := dec(stored64)
	server, err3 := dec(server64)
	if err1 != nil || err2 != nil || err3 != nil || len(stored) != 32 || len(server) != 32 || len(salt) == 0 {
		return sc, bad
	}
	sc.Salt, sc.Iters, sc.StoredKey, sc.ServerKey = string(salt), n, stored, server
	return sc, nil
}

// CheckPassword reports whether password matches a verifier (for
// cleartext password authentication), in constant time.
func CheckPassword(verifier, password string) bool {
	sc, err := ParseSCRAMVerifier(verifier)
	if err != nil {
		return false
	}
	c, err := scram.SHA256.NewClient("", password, "")
	if err != nil {
		return false
	}
	got, err := c.GetStoredCredentialsWithError(sc.KeyFactors)
	if err != nil {
		return false
	}
	return subtle.ConstantTimeCompare(got.StoredKey, sc.StoredKey) == 1
}

// mayManageRoles: superuser roles, the embedded API, and session users
// that are not roles (the server's configured users, trust logins: the
// operator's own accounts).
func (db *DB) mayManageRoles(client *Session) error {
	if _, ok := db.ordinaryRole(client); !ok {
		return nil
	}
	return errs.New(errs.ErrPermissionDenied, errs.CodeInsufficientPriv, "permission denied to manage roles (superuser required)")
}

// roleOptions applies CREATE/ALTER ROLE options to r.
func roleOptions(r *Role, opts []*pg.Node) error {
	for _, o := range opts {
		d := o.GetDefElem()
		b := func() bool { return d.GetArg() == nil || d.GetArg().GetBoolean().GetBoolval() }
		switch d.GetDefname() {
		case "canlogin":
			r.Login = b()
		case "superuser":
			r.Superuser = b()
		case "password":
			a := d.GetArg()
			if a == nil || a.GetString_() == nil { // PASSWORD NULL
				r.Verifier = ""
				continue
			}
			p := a.GetString_().GetSval()
			switch {
			case strings.HasPrefix(p, "SCRAM-SHA-256$"): // already a verifier, as PostgreSQL accepts
				if _, err := ParseSCRAMVerifier(p); err != nil {
					return err
				}
				r.Verifier = p
			case strings.HasPrefix(p, "md5") && len(p) == 35:
				return errs.New(errs.ErrInvalidInput, errs.CodeFeatureNotSupported, "MD5-hashed passwords are not supported: passwords are kept as SCRAM-SHA-256 verifiers")
			case p == "":
				r.Verifier = "" // PostgreSQL: an empty password is no password
			default:
				v, err := SCRAMVerifier(p)
				if err != nil {
					return err
				}
				r.Verifier = v
			}
		case "inherit", "createdb", "createrole", "isreplication", "bypassrls", "connectionlimit", "validUntil":
			// accepted and not kept: ugnos has no such distinctions yet
		default:
			return errs.New(errs.ErrInvalidInput, errs.CodeFeatureNotSupported, "role option %s is not supported", strings.ToUpper(d.GetDefname()))
		}
	}
	return nil
}

func (db *DB) createRole(client *Session, st *pg.CreateRoleStmt) (*Result, error) {
	if st.GetStmtType() == pg.RoleStmtType_ROLESTMT_GROUP {
		return nil, errs.New(errs.ErrInvalidInput, errs.CodeFeatureNotSupported, "CREATE GROUP is not supported")
	}
	if err := db.mayManageRoles(client); err != nil {
		return nil, err
	}
	name := st.GetRole()
	if err := checkName("role", name); err != nil {
		return nil, err
	}
	r := Role{Name: name, Login: st.GetStmtType() == pg.RoleStmtType_ROLESTMT_USER}
	if err := roleOptions(&r, st.GetOptions()); err != nil {
		return nil, err
	}
	db.roles.mu.Lock()
	defer db.roles.mu.Unlock()
	if _, ok := db.roles.roles[name]; ok {
		return nil, errs.New(errs.ErrInvalidInput, "42710", "role %q already exists", name)
	}
	db.roles.roles[name] = r
	if err := db.roles.saveLocked(); err != nil {
		delete(db.roles.roles, name)
		return nil, err
	}
	return &Result{Tag: "CREATE ROLE"}, nil
}

func (db *DB) alterRole(client *Session, st *pg.AlterRoleStmt) (*Result, error) {
	if err := db.mayManageRoles(client); err != nil {
		return nil, err
	}
	name := st.GetRole().GetRolename()
	db.roles.mu.Lock()
	defer db.roles.mu.Unlock()
	old, ok := db.roles.roles[name]
	if !ok {
		return nil, errs.New(errs.ErrNotFound, "42704", "role %q does not exist", name)
	}
	r := old
	if err := roleOptions(&r, st.GetOptions()); err != nil {
		return nil, err
	}
	db.roles.roles[name] = r
	if err := db.roles.saveLocked(); err != nil {
		db.roles.roles[name] = old
		return nil, err
	}
	return &Result{Tag: "ALTER ROLE"}, nil
}

func (db *DB) dropRoles(client *Session, st *pg.DropRoleStmt) (*Result, error) {
	if err := db.mayManageRoles(client); err != nil {
		return nil, err
	}
	db.roles.mu.Lock()
	defer db.roles.mu.Unlock()
	var names []string
	for _, n := range st.GetRoles() {
		name := n.GetRoleSpec().GetRolename()
		if _, ok := db.roles.roles[name]; !ok {
			if st.GetMissingOk() {
				continue
			}
			return nil, errs.New(errs.ErrNotFound, "42704", "role %q does not exist", name)
		}
		if client != nil && name == client.User {
			return nil, errs.New(errs.ErrInvalidInput, "55006", "current user cannot be dropped")
		}
		names = append(names, name)
	}
	saved := map[string]Role{}
	for _, name := range names {
		saved[name] = db.roles.roles[name]
		delete(db.roles.roles, name)
	}
	if err := db.roles.saveLocked(); err != nil {
		for name, r := range saved {
			db.roles.roles[name] = r
		}
		return nil, err
	}
	return &Result{Tag: "DROP ROLE"}, nil
}
